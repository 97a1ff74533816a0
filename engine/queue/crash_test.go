package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

const (
	crashDirEnv  = "HERALD_QUEUE_CRASH_DIR"
	crashPortEnv = "HERALD_QUEUE_CRASH_PORT"
)

// TestCrashChild is the child process of TestKillAnyMomentLosesNothing: it
// enqueues messages as fast as it can, printing each id once Enqueue has
// returned, while a runner sends them. It is killed with SIGKILL.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestKillAnyMomentLosesNothing")
	}
	port, _ := strconv.Atoi(os.Getenv(crashPortEnv))
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	q := New(st, nil)
	ctx := context.Background()
	r := NewRunner(q, RunnerOptions{Poll: 5 * time.Millisecond, Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: port, TLS: transport.TLSNone, Timeout: 5 * time.Second}, Sessions: 2, PerSession: 5}, nil
	}})
	go r.Run(ctx, false)
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		subject := fmt.Sprintf("crash-%d-%d", os.Getpid(), i)
		m := msgTo(t, "p1", "b@herald.test")
		m.Subject = subject
		m.Body = []byte("Subject: " + subject + "\r\n\r\nbody\r\n")
		id, err := q.Enqueue(ctx, m)
		if err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(3)
		}
		fmt.Fprintf(out, "queued %d %s\n", id, subject)
		out.Flush()
		r.Kick()
	}
}

// TestKillAnyMomentLosesNothing kills a process that enqueues and sends
// with SIGKILL at random moments, many times, then checks that every
// message it reported as queued is still there and ends up sent.
func TestKillAnyMomentLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	s := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	queued := map[int64]string{}
	rounds := 12
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPortEnv+"="+strconv.Itoa(s.Port))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it run for a random while once it has queued something.
		first := <-lines
		if !strings.HasPrefix(first, "queued ") {
			t.Fatalf("child: %s", first)
		}
		time.Sleep(time.Duration(rand.IntN(150)+10) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
		for _, l := range append([]string{first}, drain(lines)...) {
			var id int64
			var subject string
			if _, err := fmt.Sscanf(l, "queued %d %s", &id, &subject); err == nil {
				queued[id] = subject
			} else if strings.HasPrefix(l, "error") {
				t.Fatalf("child: %s", l)
			}
		}
	}
	if len(queued) < rounds {
		t.Fatalf("only %d messages queued in %d rounds", len(queued), rounds)
	}
	// A new process: what the killed ones left in sending comes back, and
	// everything is sent.
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := New(st, nil)
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: s.Port, TLS: transport.TLSNone, Timeout: 5 * time.Second}}, nil
	}})
	runUntilEmpty(t, r)
	ctx := context.Background()
	delivered := map[string]bool{}
	for _, m := range s.Messages() {
		delivered[strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(m.Data), "\r\n", 2)[0], "Subject:"))] = true
	}
	for id, subject := range queued {
		it, err := q.Get(ctx, id)
		if err != nil {
			t.Fatalf("message %d (%s), reported queued, is lost: %v", id, subject, err)
		}
		if it.Subject != subject {
			t.Fatalf("message %d is %q, want %q", id, it.Subject, subject)
		}
		if State(it.State) != Sent && State(it.State) != Unknown {
			t.Fatalf("message %d ended %s: %s", id, it.State, it.LastError)
		}
		if State(it.State) == Sent && !delivered[subject] {
			t.Fatalf("message %d is marked sent but the server never got %s", id, subject)
		}
	}
	t.Logf("%d rounds, %d messages queued, all kept and sent", rounds, len(queued))
}

func drain(ch chan string) []string {
	var out []string
	for l := range ch {
		out = append(out, l)
	}
	return out
}

const crashSendEnv = "HERALD_QUEUE_CRASH_SEND"

// crashSessions is how many sessions the sending child runs.
const crashSessions = 2

// TestSendCrashChild is the child process of
// TestKillWhileSendingResendsOnlyInFlight: it only sends what is queued,
// and is killed with SIGKILL while it does.
func TestSendCrashChild(t *testing.T) {
	dir := os.Getenv(crashSendEnv)
	if dir == "" {
		t.Skip("child process of TestKillWhileSendingResendsOnlyInFlight")
	}
	port, _ := strconv.Atoi(os.Getenv(crashPortEnv))
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	r := NewRunner(New(st, nil), RunnerOptions{Poll: 5 * time.Millisecond, Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: port, TLS: transport.TLSNone, Timeout: 5 * time.Second},
			Sessions: crashSessions, PerSession: 200}, nil
	}})
	if err := r.Run(context.Background(), true); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// TestKillWhileSendingResendsOnlyInFlight kills a sending runner with
// SIGKILL at random moments, many times, and counts what reached a real
// server against what the store recorded: the messages delivered but not
// recorded as sent when a process dies (which the next run sends again)
// must never exceed the in-flight bound, two pipelined groups per session;
// and every message must arrive.
func TestKillWhileSendingResendsOnlyInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	s := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := New(st, nil)
	ctx := context.Background()
	const total = 3000
	ms := make([]Message, total)
	for i := range ms {
		subject := fmt.Sprintf("dup-%d", i)
		ms[i] = Message{Profile: "p1", From: "a@herald.test", To: []string{"b@herald.test"}, MessageID: "<" + subject + "@herald.test>",
			Subject: subject, Body: []byte("Subject: " + subject + "\r\n\r\nbody\r\n")}
	}
	if _, err := q.EnqueueBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		c, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c[Sent]
	}
	// arrivals waits until the server has taken what the dead child's
	// sockets still held, and returns how many messages it accepted.
	arrivals := func() int {
		n := len(s.Messages())
		for {
			time.Sleep(20 * time.Millisecond)
			m := len(s.Messages())
			if m == n {
				return n
			}
			n = m
		}
	}
	bound := crashSessions * 2 * pipelineGroup
	kills, worst, sum := 0, 0, 0
	for round := 0; round < 40 && sent() < total; round++ {
		before, sentBefore := arrivals(), sent()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSendCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashSendEnv+"="+dir, crashPortEnv+"="+strconv.Itoa(s.Port))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it at a random moment once messages are flowing.
		deadline := time.Now().Add(10 * time.Second)
		for len(s.Messages()) == before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		err := cmd.Wait()
		if strings.Contains(out.String(), "error") {
			t.Fatalf("child: %s", out.String())
		}
		if err == nil {
			break // it finished before the kill
		}
		kills++
		got, recorded := arrivals()-before, sent()-sentBefore
		dup := got - recorded
		t.Logf("kill %d: %d arrived, %d recorded as sent, %d to go out again", kills, got, recorded, dup)
		if dup > bound {
			t.Errorf("kill %d: %d messages delivered but not recorded, more than the in-flight bound of %d (%d sessions x 2 groups of %d)",
				kills, dup, bound, crashSessions, pipelineGroup)
		}
		worst, sum = max(worst, dup), sum+dup
	}
	if kills < 5 {
		t.Fatalf("only %d kills while sending", kills)
	}
	// A last run sends the rest.
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: s.Port, TLS: transport.TLSNone, Timeout: 5 * time.Second}}, nil
	}})
	runUntilEmpty(t, r)
	got := map[string]int{}
	msgs := s.Messages()
	for _, m := range msgs {
		got[strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(m.Data), "\r\n", 2)[0], "Subject:"))]++
	}
	for _, m := range ms {
		if got[m.Subject] == 0 {
			t.Fatalf("%s never arrived", m.Subject)
		}
	}
	if c := sent(); c != total {
		t.Fatalf("%d of %d recorded as sent", c, total)
	}
	if dups := len(msgs) - total; dups != sum {
		t.Errorf("%d duplicates arrived, but the kills left %d delivered and unrecorded", dups, sum)
	}
	t.Logf("%d kills: %d duplicates in all, %.1f per kill, at most %d (bound %d)", kills, sum, float64(sum)/float64(kills), worst, bound)
}

// TestRunnerStopsWhenTheWALIsDeleted deletes the store's -wal file while a
// runner sends: the runner must stop with a clear error rather than go on
// recording outcomes in a file nobody will read, and what it sent must be
// recorded, apart from what was in flight.
func TestRunnerStopsWhenTheWALIsDeleted(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, dir := openQueue(t, nil)
	ctx := context.Background()
	ms := make([]Message, 3000)
	for i := range ms {
		ms[i] = Message{Profile: "p1", From: "a@herald.test", To: []string{"b@herald.test"}, MessageID: fmt.Sprintf("<w%d@herald.test>", i),
			Subject: "wal", Body: []byte("Subject: wal\r\n\r\nbody\r\n")}
	}
	if _, err := q.EnqueueBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, Timeout: 5 * time.Second}, Sessions: 2, PerSession: 200}, nil
	}})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, true) }()
	for len(s.Messages()) < 100 {
		time.Sleep(time.Millisecond)
	}
	if err := os.Remove(store.PathIn(dir) + "-wal"); err != nil {
		t.Fatal(err)
	}
	var runErr error
	select {
	case runErr = <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("the runner did not stop")
	}
	if !errors.Is(runErr, store.ErrReplaced) || !strings.Contains(runErr.Error(), "stopped sending to avoid duplicates") {
		t.Fatalf("Run: %v, want ErrReplaced and the runner stopped", runErr)
	}
	arrived := len(s.Messages())
	if arrived == len(ms) {
		t.Fatal("the runner sent everything despite the lost -wal file")
	}
	// What a kill now would leave: the database file alone.
	killed := filepath.Join(t.TempDir(), store.FileName)
	b, err := os.ReadFile(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(killed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(killed)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	c, err := New(st2, nil).Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, bound := arrived-c[Sent], 2*2*pipelineGroup; again > bound {
		t.Fatalf("%d messages arrived but only %d are recorded as sent: %d would go out again, more than the in-flight bound %d", arrived, c[Sent], again, bound)
	}
	t.Logf("stopped after %d of %d messages, %d recorded as sent: %v", arrived, len(ms), c[Sent], runErr)
}
