package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
)

func TestQueueCommands(t *testing.T) {
	b := newBoxCLI(t, "Ann <ann@herald.test>")
	sb, run := b.sb, b.run
	for _, s := range []string{"one", "two"} {
		if r := run("send", "--profile", "box", "--queue", "--to", "b@herald.test", "--subject", s, "--body", "x"); r.code != ExitOK || !strings.Contains(r.stdout, "queued message") {
			t.Fatalf("send --queue: %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	if r := run("send", "--profile", "box", "--send-at", "+1h", "--to", "b@herald.test", "--subject", "later", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send --send-at: %d %s", r.code, r.stderr)
	}
	if r := run("send", "--queue", "--server", "smtp.example.com", "--to", "b@herald.test", "--body", "x"); r.code != ExitUsage {
		t.Fatalf("--queue with --server: %d", r.code)
	}
	if r := run("send", "--send-at", "someday", "--to", "b@herald.test", "--body", "x"); r.code != ExitUsage {
		t.Fatalf("bad --send-at: %d", r.code)
	}
	var items []queue.Item
	r := run("queue", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 3 || items[2].State != "scheduled" || items[0].State != "queued" {
		t.Fatalf("list: %v %s", err, r.stdout)
	}
	if r = run("queue", "run", "--until-empty"); r.code != ExitOK || !strings.Contains(r.stdout, "2 sent") {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(sb.messages(t)); n != 2 {
		t.Fatalf("sandbox got %d", n)
	}
	later := itoa(items[2].ID)
	if r = run("queue", "hold", later); r.code != ExitOK {
		t.Fatalf("hold: %d %s", r.code, r.stderr)
	}
	if r = run("queue", "list", "--state", "held"); !strings.Contains(r.stdout, "later") || !strings.Contains(r.stdout, "1 held") {
		t.Fatalf("held list: %s", r.stdout)
	}
	if r = run("queue", "release", "--all"); r.code != ExitOK || !strings.Contains(r.stdout, "release: 1") {
		t.Fatalf("release: %d %s", r.code, r.stdout)
	}
	if r = run("queue", "show", later); !strings.Contains(r.stdout, "scheduled") || !strings.Contains(r.stdout, "Next try") {
		t.Fatalf("show: %s", r.stdout)
	}
	if r = run("queue", "cancel", later); r.code != ExitOK {
		t.Fatalf("cancel: %d %s", r.code, r.stderr)
	}
	if r = run("queue", "cancel", later); r.code != ExitUsage || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("second cancel: %d %s", r.code, r.stderr)
	}
	if r = run("queue", "show", itoa(items[0].ID)); !strings.Contains(r.stdout, "sent") || !strings.Contains(r.stdout, "accepted  b@herald.test") {
		t.Fatalf("show sent: %s", r.stdout)
	}
	if r = run("queue", "purge"); !strings.Contains(r.stdout, "purged 3") {
		t.Fatalf("purge: %s %s", r.stdout, r.stderr)
	}
	if r = run("queue", "list"); !strings.Contains(r.stdout, "empty") {
		t.Fatalf("after purge: %s", r.stdout)
	}
}

func TestRetrySettingsPerProfileAndGlobal(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{Faults: mustFaults(t, "mail:451")})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(args ...string) runResult {
		t.Helper()
		return runCLIWith(t, "", sec, append([]string{"--data-dir", dir}, args...)...)
	}
	base := []string{"profile", "add", "--server", sb.addr, "--tls", "none", "--auth", "none", "--from", "a@herald.test"}
	if r := run(append(base, "--name", "slow", "--retry-initial", "7m", "--give-up-after", "24h")...); r.code != ExitOK {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	if r := run(append(base, "--name", "default")...); r.code != ExitOK {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	if r := run(append(base, "--name", "bad", "--retry-initial", "10m", "--retry-max", "1m")...); r.code != ExitUsage || !strings.Contains(r.stderr, "retry.max") {
		t.Fatalf("invalid retry settings: %d %s", r.code, r.stderr)
	}
	if r := run("profile", "show", "slow"); !strings.Contains(r.stdout, "first after 7m0s") {
		t.Fatalf("show: %s", r.stdout)
	}
	for _, p := range []string{"slow", "default"} {
		if r := run("send", "--profile", p, "--queue", "--to", "b@herald.test", "--subject", p, "--body", "x"); r.code != ExitOK {
			t.Fatalf("queue: %d %s", r.code, r.stderr)
		}
	}
	if r := run("queue", "run", "--until-empty", "--retry-initial", "3m"); r.code != ExitOK {
		t.Fatalf("run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var items []queue.Item
	json.Unmarshal([]byte(run("queue", "list", "--json").stdout), &items)
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		want := map[string]float64{"slow": 7, "default": 3}[it.Subject]
		got := it.Next.Sub(it.Updated).Minutes()
		if it.State != "deferred" || got < want-0.1 || got > want+0.1 {
			t.Fatalf("%s: %s, next try after %.2f min, want %.0f", it.Subject, it.State, got, want)
		}
	}
}

func mustFaults(t *testing.T, spec string) []sandbox.Fault {
	t.Helper()
	f, err := sandbox.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestQueueRunInterruptIsACleanStop(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	if r := runCLIWith(t, "", sec, "--data-dir", dir, "profile", "add", "--name", "box", "--server", sb.addr, "--tls", "none", "--auth", "none", "--from", "ann@herald.test"); r.code != ExitOK {
		t.Fatalf("profile add: %d %s", r.code, r.stderr)
	}
	if r := runCLIWith(t, "", sec, "--data-dir", dir, "send", "--profile", "box", "--queue", "--to", "b@herald.test", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send --queue: %d %s", r.code, r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"--data-dir", dir, "queue", "run"}, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Secrets: sec})
	}()
	// Wait until the outbox has recorded the message as sent (another
	// connection to the same store, as another process would look).
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := st.CountQueueItems(context.Background()); n["sent"] == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // Ctrl-C
	code := <-done
	if code != ExitOK {
		t.Fatalf("interrupted queue run: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "interrupted: 1 message(s) sent") || strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}

func TestRelativeTime(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local)
	for d, want := range map[time.Duration]string{
		10 * time.Second: "now", 3 * time.Minute: "in 3 min", -5 * time.Minute: "5 min ago",
		2*time.Hour + 5*time.Minute: "in 2 h 5 min", 3 * 24 * time.Hour: "Nov 29 10:00",
	} {
		if got := relativeTime(now.Add(d), now); got != want {
			t.Errorf("relativeTime(+%v) = %q, want %q", d, got, want)
		}
	}
	if got := relativeTime(time.Date(2030, 1, 1, 9, 0, 0, 0, time.Local), now); got != "2030-01-01 09:00" {
		t.Errorf("a date in 2030 = %q, want the full date", got)
	}
}

// TestProfileTestIsRecorded: `herald profile test` keeps the result as the
// profile's latest test, which `profile show` (and the window) shows.
func TestProfileTestIsRecorded(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	if r := runCLIWith(t, "", sec, "--data-dir", dir, "profile", "add", "--name", "box", "--server", sb.addr, "--tls", "none", "--auth", "none", "--from", "ann@herald.test"); r.code != ExitOK {
		t.Fatalf("profile add: %d %s", r.code, r.stderr)
	}
	if r := runCLIWith(t, "", sec, "--data-dir", dir, "profile", "show", "box"); !strings.Contains(r.stdout, "Last test: never") {
		t.Fatalf("before a test: %s", r.stdout)
	}
	runCLIWith(t, "", sec, "--data-dir", dir, "profile", "test", "box")
	r := runCLIWith(t, "", sec, "--data-dir", dir, "profile", "show", "box", "--json")
	var shown struct {
		LastTest *struct {
			Summary string `json:"summary"`
		} `json:"last_test"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.LastTest == nil || shown.LastTest.Summary == "" {
		t.Fatalf("after a test: %v %s", err, r.stdout)
	}
}
