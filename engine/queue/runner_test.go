package queue

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// fakeClock is a settable clock; After fires after a short real wait so
// that loops make progress without sleeping for the fake duration.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	return time.After(min(d, 20*time.Millisecond))
}

func openQueue(t *testing.T, clock Clock) (*Queue, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, clock), dir
}

func msgTo(t *testing.T, profile string, to ...string) Message {
	t.Helper()
	r, err := message.Render(message.Draft{From: "a@herald.test", To: to, Subject: "queued " + strings.Join(to, ","), Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	return FromRendered(profile, r, time.Time{})
}

func resolverFor(s *smtptest.Server) Resolver {
	return func(ctx context.Context, profile string) (Target, error) {
		if profile != "p1" {
			return Target{}, fmt.Errorf("no profile %q", profile)
		}
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, Auth: transport.AuthNone, Timeout: 5 * time.Second}, Sessions: 2, PerSession: 10}, nil
	}
}

func runUntilEmpty(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the runner did not finish")
	}
}

func TestRunnerSendsManyPerSession(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	var ms []Message
	for i := 0; i < 25; i++ {
		ms = append(ms, msgTo(t, "p1", fmt.Sprintf("r%d@herald.test", i)))
	}
	ids, err := q.EnqueueBatch(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s)})
	events, cancel := r.Subscribe(1000, false)
	defer cancel()
	runUntilEmpty(t, r)
	if n := len(s.Messages()); n != 25 {
		t.Fatalf("server got %d messages, want 25", n)
	}
	counts, _ := q.Counts(ctx)
	if counts[Sent] != 25 {
		t.Fatalf("counts %v", counts)
	}
	it, _ := q.Get(ctx, ids[3])
	if it.Recipients[0].State != store.RcptAccepted || it.Attempts != 1 {
		t.Fatalf("item %+v", it)
	}
	sessions, states := 0, 0
	for len(events) > 0 {
		e := <-events
		switch e.Kind {
		case EventSession:
			if strings.Contains(e.Text, "open") {
				sessions++
			}
		case EventState:
			states++
		}
	}
	// 25 messages at 10 per session need 3 sessions, not 25.
	if sessions < 3 || sessions > 4 || states != 25 {
		t.Fatalf("%d sessions, %d state events", sessions, states)
	}
}

func TestPerRecipientOutcomesAndRetryNeverResends(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"gone@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@herald.test": {Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	}})
	clock := newFakeClock()
	q, _ := openQueue(t, clock)
	ctx := context.Background()
	id, err := q.Enqueue(ctx, msgTo(t, "p1", "ok@herald.test", "gone@herald.test", "busy@herald.test"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s)})
	runUntilEmpty(t, r)
	it, _ := q.Get(ctx, id)
	if State(it.State) != Deferred || !it.Next.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("state %s next %s", it.State, it.Next)
	}
	got := map[string]string{}
	for _, rc := range it.Recipients {
		got[rc.Addr] = rc.State
	}
	if got["ok@herald.test"] != store.RcptAccepted || got["gone@herald.test"] != store.RcptRejected || got["busy@herald.test"] != store.RcptPending {
		t.Fatalf("recipients %v", got)
	}
	if rep := Report(it); !strings.Contains(rep, "gone@herald.test rejected for good") || !strings.Contains(rep, "busy@herald.test deferred") {
		t.Fatalf("report:\n%s", rep)
	}
	// Not due yet: nothing happens.
	runUntilEmpty(t, r)
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages before the retry time", n)
	}
	// The mailbox frees up; at the retry time only the deferred recipient
	// gets the message.
	s.SetRefuseRcpt("busy@herald.test", nil)
	clock.Advance(time.Minute)
	runUntilEmpty(t, r)
	msgs := s.Messages()
	if len(msgs) != 2 || strings.Join(msgs[1].To, ",") != "busy@herald.test" {
		t.Fatalf("retry delivered to %+v", msgs)
	}
	it, _ = q.Get(ctx, id)
	if State(it.State) != Sent || it.Attempts != 2 {
		t.Fatalf("after retry: %s after %d attempts", it.State, it.Attempts)
	}
}

func TestBackoffGiveUpAndWarning(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Refuse: map[string]*smtp.SMTPError{
		"mail": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}}})
	clock := newFakeClock()
	q, _ := openQueue(t, clock)
	ctx := context.Background()
	id, _ := q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s), Retry: RetryPolicy{Initial: time.Minute, Factor: 2, Max: 10 * time.Minute, GiveUpAfter: time.Hour, WarnAfter: 20 * time.Minute}})
	events, cancel := r.Subscribe(100, false)
	defer cancel()
	var delays []time.Duration
	for i := 0; i < 20; i++ {
		runUntilEmpty(t, r)
		it, _ := q.Get(ctx, id)
		if State(it.State) == Failed {
			if !strings.Contains(it.LastError, "gave up") || it.LastCode != 451 {
				t.Fatalf("failed with %q (%d)", it.LastError, it.LastCode)
			}
			break
		}
		if State(it.State) != Deferred {
			t.Fatalf("state %s", it.State)
		}
		d := it.Next.Sub(clock.Now())
		delays = append(delays, d)
		clock.Advance(d)
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if fmt.Sprint(delays[:len(want)]) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v...", delays, want)
	}
	it, _ := q.Get(ctx, id)
	if State(it.State) != Failed || !it.Warned {
		t.Fatalf("final %s warned=%v", it.State, it.Warned)
	}
	warned := false
	for len(events) > 0 {
		if e := <-events; e.Kind == EventWarning && strings.Contains(e.Text, "delayed") {
			warned = true
		}
	}
	if !warned {
		t.Fatal("no delay warning")
	}
	// Retry now brings a failed message back.
	s.SetRefuse("mail", nil)
	if err := q.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, r)
	if it, _ := q.Get(ctx, id); State(it.State) != Sent {
		t.Fatalf("after retry now: %s", it.State)
	}
}

func TestSessionFailuresHoldOrDefer(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, User: "ann", Pass: "right-pass"})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	ids, _ := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "b@herald.test"), msgTo(t, "p1", "c@herald.test"), msgTo(t, "ghost", "d@herald.test")})
	password := "wrong-pass"
	resolve := func(ctx context.Context, profile string) (Target, error) {
		if profile != "p1" {
			return Target{}, errors.New("profile ghost does not exist")
		}
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSImplicit, RootCAs: ca.Pool,
			Auth: transport.AuthPlain, Username: "ann", Password: password, Timeout: 5 * time.Second}}, nil
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolve})
	runUntilEmpty(t, r)
	for _, id := range ids {
		it, _ := q.Get(ctx, id)
		if State(it.State) != Held || it.Hint == "" || it.Attempts > 1 {
			t.Fatalf("item %d: %s %q hint %q", id, it.State, it.LastError, it.Hint)
		}
		if strings.Contains(it.LastError+it.Hint, password) {
			t.Fatal("the password is in the failure report")
		}
	}
	it, _ := q.Get(ctx, ids[0])
	if it.LastCode != 535 || !strings.Contains(it.Hint, "release") {
		t.Fatalf("auth failure recorded as %d %q", it.LastCode, it.Hint)
	}
	// Fixed: release and send.
	password = "right-pass"
	for _, id := range ids[:2] {
		if err := q.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	runUntilEmpty(t, r)
	if n := len(s.Messages()); n != 2 {
		t.Fatalf("%d messages after release", n)
	}
	// Nothing listening: temporary, deferred with backoff.
	l := smtptest.StartScript(t, func(c *smtptest.Conn) {})
	q2, _ := openQueue(t, nil)
	id, _ := q2.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	r2 := NewRunner(q2, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: l.Port, TLS: transport.TLSNone, Timeout: 2 * time.Second}}, nil
	}})
	runUntilEmpty(t, r2)
	if it, _ := q2.Get(ctx, id); State(it.State) != Deferred || it.LastStage != "banner" {
		t.Fatalf("dropped connection: %s at %s", it.State, it.LastStage)
	}
}

func TestRateLimitSlowsDownWithoutFailing(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Refuse: map[string]*smtp.SMTPError{
		"mail": {Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many messages, slow down"}}})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	ids, _ := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "b@herald.test"), msgTo(t, "p1", "c@herald.test")})
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s)})
	runUntilEmpty(t, r)
	for _, id := range ids {
		it, _ := q.Get(ctx, id)
		if State(it.State) == Failed || it.Attempts != 0 {
			t.Fatalf("a rate-limited message was failed or charged an attempt: %s, %d attempts", it.State, it.Attempts)
		}
	}
}

func TestLargeBodyIsStreamed(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	m := msgTo(t, "p1", "b@herald.test")
	big := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 4000) // 256 KB
	m.Body = append(append([]byte("Subject: big\r\n\r\n"), big...), "end\r\n"...)
	if _, err := q.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolverFor(s)}))
	got := s.Messages()
	if len(got) != 1 || !bytes.Equal(got[0].Data, m.Body) {
		t.Fatalf("large body not delivered intact (%d messages)", len(got))
	}
}

func TestTwoRunnersNeverSendTwice(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q1, dir := openQueue(t, nil)
	st2, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	q2 := New(st2, nil)
	ctx := context.Background()
	var ms []Message
	for i := 0; i < 60; i++ {
		ms = append(ms, msgTo(t, "p1", fmt.Sprintf("r%d@herald.test", i)))
	}
	if _, err := q1.EnqueueBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, q := range []*Queue{q1, q2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s)})
			r.Run(ctx, true)
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range s.Messages() {
		seen[strings.Join(m.To, ",")]++
	}
	if len(seen) != 60 {
		t.Fatalf("%d distinct messages delivered, want 60", len(seen))
	}
	for to, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", to, n)
		}
	}
}

func openQueueB(b *testing.B) (*Queue, string) {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return New(st, nil), dir
}

func TestPerMinuteLimitSpacesMessages(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	var ms []Message
	for i := 0; i < 5; i++ {
		ms = append(ms, msgTo(t, "p1", fmt.Sprintf("r%d@herald.test", i)))
	}
	q.EnqueueBatch(ctx, ms)
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, Timeout: 5 * time.Second}, Sessions: 3, PerMinute: 600}, nil
	}})
	start := time.Now()
	runUntilEmpty(t, r)
	// 600 a minute is one per 100 ms, shared by the profile's sessions: five
	// messages cannot all go out in less than 400 ms (a lower bound only, so
	// a busy machine cannot make this fail).
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("5 messages at 600/min took %s", el)
	}
	if n := len(s.Messages()); n != 5 {
		t.Fatalf("%d messages", n)
	}
}

func TestFallbackServerWhenUnreachable(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		main := transport.Config{Host: "127.0.0.1", Port: 1, TLS: transport.TLSNone, Timeout: 5 * time.Second}
		fb := main
		fb.Port = s.Port
		return Target{Config: main, Fallbacks: []transport.Config{fb}}, nil
	}})
	runUntilEmpty(t, r)
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("the fallback got %d messages", n)
	}
}

func TestHandedBackClaimsKeepTheirHistory(t *testing.T) {
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	id, _ := q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	now := time.Now()
	claim := func() {
		t.Helper()
		items, err := q.st.ClaimQueueItems(ctx, store.QueueClaim{Owner: "o", Now: time.Now(), LeaseUntil: time.Now().Add(time.Minute), Limit: 10})
		if err != nil || len(items) != 1 {
			t.Fatalf("claim: %v %d", err, len(items))
		}
	}
	claim()
	if _, err := q.st.CompleteQueueItems(ctx, "o", now, []store.QueueCompletion{{ID: id, State: string(Deferred), Next: now, Attempted: true, Stage: "mail", Code: 451, Error: "try later"}}); err != nil {
		t.Fatal(err)
	}
	claim()
	if err := q.st.ReleaseQueueClaims(ctx, "o", []int64{id}, string(Queued), time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	it, _ := q.Get(ctx, id)
	if State(it.State) != Queued || it.Attempts != 1 || it.LastCode != 451 || it.LastError != "try later" || it.Owner != "" {
		t.Fatalf("after hand-back: %+v", it)
	}
	if err := q.st.ReleaseQueueClaims(ctx, "o", []int64{id}, string(Sent), time.Time{}, time.Now()); err == nil {
		t.Fatal("released into sent")
	}
}

func TestStoredFailureNeverHoldsTheSecret(t *testing.T) {
	const pw = "Echoed-Secret-4411"
	// A server that echoes what it was sent in its refusal.
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet("AUTH PLAIN")
		l, err := c.Expect("AUTH PLAIN")
		if err != nil {
			return
		}
		c.Line("535 5.7.8 credentials " + strings.TrimPrefix(l, "AUTH PLAIN ") + " rejected")
		c.Read()
	})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	id, _ := q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
		return Target{Config: transport.Config{Host: "127.0.0.1", Port: sc.Port, TLS: transport.TLSNone, Auth: transport.AuthPlain,
			Username: "ann", Password: pw, AllowInsecureAuth: true, Timeout: 5 * time.Second}}, nil
	}})
	runUntilEmpty(t, r)
	it, _ := q.Get(ctx, id)
	if it.LastCode != 535 {
		t.Fatalf("item %+v", it)
	}
	payload := base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + pw))
	if strings.Contains(it.LastError+it.Hint, payload) || strings.Contains(it.LastError, pw) {
		t.Fatalf("the stored failure holds the secret: %q", it.LastError)
	}
}

func TestRunnerSurvivesServerRestart(t *testing.T) {
	s1 := smtptest.Start(t, smtptest.Options{})
	addr := s1.Addr
	q, _ := openQueue(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ms []Message
	for i := 0; i < 40; i++ {
		ms = append(ms, msgTo(t, "p1", fmt.Sprintf("r%d@herald.test", i)))
	}
	q.EnqueueBatch(ctx, ms[:20])
	r := NewRunner(q, RunnerOptions{Poll: 20 * time.Millisecond, Retry: RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		Resolve: func(ctx context.Context, p string) (Target, error) {
			return Target{Config: transport.Config{Host: "127.0.0.1", Port: s1.Port, TLS: transport.TLSNone, Timeout: 2 * time.Second}, PerSession: 5}, nil
		}})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, false) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	sent := func() int { c, _ := q.Counts(context.Background()); return c[Sent] }
	waitFor("the first 20", func() bool { return sent() == 20 })
	// The server goes down; messages queued meanwhile wait and retry.
	s1.Close()
	q.EnqueueBatch(ctx, ms[20:])
	r.Kick()
	waitFor("a failed attempt", func() bool {
		c, _ := q.Counts(context.Background())
		return c[Deferred] > 0
	})
	// It comes back on the same address: everything goes out.
	s2 := smtptest.Start(t, smtptest.Options{Addr: addr})
	waitFor("all 40", func() bool { return sent() == 40 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(s1.Messages()) + len(s2.Messages()); n != 40 {
		t.Fatalf("%d messages delivered in all, want 40", n)
	}
}

func TestPauseAndResume(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRunner(q, RunnerOptions{Poll: 10 * time.Millisecond, Resolve: resolverFor(s)})
	r.Pause()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, false) }()
	q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
	r.Kick()
	// Paused: several polls go by and nothing is claimed or sent.
	time.Sleep(100 * time.Millisecond)
	if c, _ := q.Counts(ctx); c[Queued] != 1 || len(s.Messages()) != 0 {
		t.Fatalf("a paused runner sent: %v, %d messages", c, len(s.Messages()))
	}
	r.Resume()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, _ := q.Counts(ctx); c[Sent] == 1 {
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("nothing was sent after Resume")
}

// TestUntilEmptyWaitsForWhatIsDueSoon: "empty" means nothing is due within
// DueWithin; a message due a moment later is sent, one due later is left.
func TestUntilEmptyWaitsForWhatIsDueSoon(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	soon := msgTo(t, "p1", "soon@herald.test")
	soon.SendAt = time.Now().Add(300 * time.Millisecond)
	later := msgTo(t, "p1", "later@herald.test")
	later.SendAt = time.Now().Add(time.Hour)
	ids, err := q.EnqueueBatch(ctx, []Message{soon, later})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolverFor(s), DueWithin: 5 * time.Second, Poll: 50 * time.Millisecond}))
	for i, want := range []State{Sent, Scheduled} {
		it, err := q.Get(ctx, ids[i])
		if err != nil || State(it.State) != want {
			t.Fatalf("item %d: %+v %v, want %s", i, it, err, want)
		}
	}
}

// A sent item keeps the server's reply to its final dot as its last reply
// (the outbox's "last reply" column), and its report stays free of a
// failure's "The server said".
func TestSentItemKeepsTheFinalReply(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"gone@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	}})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	ids, err := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "a@herald.test"), msgTo(t, "p1", "b@herald.test"), msgTo(t, "p1", "c@herald.test", "gone@herald.test")})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolverFor(s)}))
	for i, id := range ids {
		it, err := q.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if State(it.State) != Sent || it.LastCode != 250 || it.LastEnhanced != "2.0.0" || !strings.Contains(strings.ToLower(it.LastError), "queued") {
			t.Fatalf("item %d: state %s, last reply %d %q %q", i, it.State, it.LastCode, it.LastEnhanced, it.LastError)
		}
		rep := Report(it)
		if strings.Contains(rep, "The server said") {
			t.Fatalf("item %d: a sent item reported as a failure:\n%s", i, rep)
		}
		if i == 2 && (!strings.Contains(rep, "gone@herald.test rejected for good") || !strings.Contains(it.LastError, "some recipients were rejected")) {
			t.Fatalf("item %d: last reply %q, report:\n%s", i, it.LastError, rep)
		}
	}
}
