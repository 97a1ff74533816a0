package core

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/transport"
)

// memSecrets is an in-memory account.Secrets for tests that are not about
// the keychain (platform/keychain is tested against a real Secret Service).
type memSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memSecrets) Set(id string, k account.SecretKind, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id+"/"+string(k)] = v
	return nil
}

func (s *memSecrets) Get(id string, k account.SecretKind) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id+"/"+string(k)]
	if !ok {
		return "", account.ErrNoSecret
	}
	return v, nil
}

func (s *memSecrets) Delete(id string, k account.SecretKind) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id+"/"+string(k))
	return nil
}

func openTest(t *testing.T, dir string, withSandbox, watch bool) *Core {
	t.Helper()
	o := Options{Secrets: &memSecrets{m: map[string]string{}}, WatchStore: watch}
	if withSandbox {
		o.Sandbox = &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone}
	}
	c, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor reads sub until match accepts an event, or fails after 10 s.
func waitFor(t *testing.T, sub *feed.Sub, what string, match func(feed.Event) bool) feed.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				t.Fatalf("feed closed waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSendDraftToSandboxPublishesLinesAndCapture(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	sub := c.Feed.Subscribe(4096)
	defer sub.Close()
	res, err := c.SendDraft(context.Background(), nil, message.Draft{From: "ann@example.com", To: []string{"bob@example.com"}, Subject: "core", Text: "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Server != c.Sandbox().Addr() {
		t.Fatalf("send: ok=%v server=%s err=%v", res.OK, res.Server, res.Err)
	}
	line := waitFor(t, sub, "a transcript line", func(e feed.Event) bool { return e.Topic == feed.Transcript && e.Session == res.Session })
	if line.Line == nil || line.Profile != SandboxProfile {
		t.Fatalf("transcript event = %+v", line)
	}
	capture := waitFor(t, sub, "the sandbox capture", func(e feed.Event) bool { return e.Topic == feed.Sandbox && e.ID > 0 })
	m, err := c.Store.SandboxMessage(context.Background(), capture.ID)
	if err != nil || m.Subject != "core" {
		t.Fatalf("captured %+v, %v", m, err)
	}
	s := Describe(res.Result, res.MessageID, res.Transcript)
	if !s.OK || s.Line == "" {
		t.Fatalf("summary = %+v", s)
	}
}

func TestQueueDraftIsSentByTheBackgroundRunner(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	sub := c.Feed.Subscribe(4096, feed.Queue, feed.Runner)
	defer sub.Close()
	if err := c.StartRunner(RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		t.Fatal(err)
	}
	if err := c.StartRunner(RunOptions{}); !errors.Is(err, ErrRunnerRunning) {
		t.Fatalf("second StartRunner: %v", err)
	}
	id, _, err := c.QueueDraft(context.Background(), nil, message.Draft{From: "ann@example.com", To: []string{"bob@example.com"}, Subject: "queued", Text: "hi"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "queued", func(e feed.Event) bool { return e.ID == id && e.Text == "queued" })
	waitFor(t, sub, "sent", func(e feed.Event) bool { return e.ID == id && e.Text == string(queue.Sent) })
	c.StopRunner()
	if c.RunnerRunning() {
		t.Fatal("runner still running after StopRunner")
	}
	it, err := c.Queue.Get(context.Background(), id)
	if err != nil || it.State != string(queue.Sent) {
		t.Fatalf("item = %+v, %v", it, err)
	}
}

func TestChangeUsesDefaultStatesAndPublishes(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	ids, err := c.Enqueue(ctx, queue.Message{Profile: SandboxProfile, From: "a@example.com", To: []string{"b@example.com"}, Body: []byte("Subject: x\r\n\r\nx\r\n")},
		queue.Message{Profile: SandboxProfile, From: "a@example.com", To: []string{"b@example.com"}, Body: []byte("Subject: y\r\n\r\ny\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	sub := c.Feed.Subscribe(64, feed.Queue)
	defer sub.Close()
	n, errs, err := c.Change(ctx, OpHold, Selection{All: true})
	if err != nil || n != 2 || len(errs) != 0 {
		t.Fatalf("hold all: %d %v %v", n, errs, err)
	}
	n, errs, _ = c.Change(ctx, OpHold, Selection{IDs: ids[:1]})
	if n != 0 || len(errs) != 1 || !errors.Is(errs[0], queue.ErrState) {
		t.Fatalf("holding a held item: %d %v", n, errs)
	}
	waitFor(t, sub, "hold event", func(e feed.Event) bool { return e.ID == ids[1] && e.Text == "hold" })
}

func TestTargetAndSecrets(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	sub := c.Feed.Subscribe(16, feed.Profiles)
	defer sub.Close()
	p := &account.Profile{Name: "work", Server: account.Server{Host: "smtp.example.com", Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthPlain,
		Username: "ann@example.com", FromAddress: "ann@example.com", Fallbacks: []account.Server{{Host: "smtp2.example.com", Port: 465, TLS: transport.TLSImplicit}},
		Retry: &account.RetrySettings{Initial: account.Duration(5 * time.Second)}}
	if err := c.AddProfile(ctx, p, map[account.SecretKind]string{account.SecretPassword: "pw"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "profile added", func(e feed.Event) bool { return e.Profile == p.ID && e.Text == "added" })
	tg, err := c.Resolver(queue.DefaultRetryPolicy())(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Config.Password != "pw" || len(tg.Fallbacks) != 1 || tg.Fallbacks[0].Port != 465 || tg.Fallbacks[0].Password != "pw" {
		t.Fatalf("target = %+v", tg)
	}
	if tg.Retry == nil || tg.Retry.Initial != 5*time.Second || tg.Retry.Max != queue.DefaultRetryPolicy().Max {
		t.Fatalf("retry = %+v, want the profile's initial over the global policy", tg.Retry)
	}
	p.Secret = account.SecretAsk
	if err := c.UpdateProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Target(p, queue.DefaultRetryPolicy()); !errors.Is(err, ErrPasswordAsked) {
		t.Fatalf("ask-each-time profile: %v", err)
	}
	if tg, err := c.Resolver(queue.DefaultRetryPolicy())(ctx, SandboxProfile); err != nil || tg.Config.Host != "127.0.0.1" {
		t.Fatalf("sandbox target = %+v, %v", tg, err)
	}
}

func TestWatchStoreSeesAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	watcher := openTest(t, dir, false, true)
	sub := watcher.Feed.Subscribe(64, feed.Queue)
	defer sub.Close()
	other := openTest(t, dir, false, false) // another Core: its own connections, like another process
	if _, err := other.Enqueue(context.Background(), queue.Message{Profile: SandboxProfile, From: "a@example.com", To: []string{"b@example.com"}, Body: []byte("Subject: x\r\n\r\nx\r\n")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "an external queue change", func(e feed.Event) bool { return e.External })
}

func TestProbePublishesEachStep(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	sub := c.Feed.Subscribe(256, feed.Probe)
	defer sub.Close()
	var steps []string
	rep := c.Probe(context.Background(), diagnose.ProbeOptions{Config: c.SandboxConfig(), From: "ann@example.com"}, func(s diagnose.Step) { steps = append(steps, s.Name) })
	if len(steps) == 0 || len(steps) != len(rep.Steps) {
		t.Fatalf("onStep saw %v, the report has %d steps", steps, len(rep.Steps))
	}
	for _, name := range steps {
		e := waitFor(t, sub, "probe step "+name, func(feed.Event) bool { return true })
		if e.Text != name || e.Session == "" {
			t.Fatalf("feed event %+v, want step %q", e, name)
		}
	}
}
