package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/ui"
)

// pump runs queued UI updates on the test goroutine until cond holds, the way
// fyne.Do would run them on the UI goroutine.
func pump(t *testing.T, q chan func(), what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestComposeSendShowsTranscriptAndInbox(t *testing.T) {
	core := openTestCore(t, newMemSecrets())
	w, q := composeOver(t, core)

	pump(t, q, "the empty inbox to load", func() bool { return w.InboxList != nil })
	if !strings.Contains(w.Status.Text, core.Sandbox().Addr()) {
		t.Fatalf("status %q does not name the sandbox address %s", w.Status.Text, core.Sandbox().Addr())
	}

	w.To.SetText("")
	test.Type(w.To, "alice@example.com, bob@example.com")
	test.Type(w.Subject, "Grüße from the GUI test")
	test.Type(w.Body, "Hello Alice,\n.\nA line with only a dot above.")
	test.Tap(w.SendButton)
	if !w.SendButton.Disabled() {
		t.Fatal("Send stays enabled while a send runs")
	}

	pump(t, q, "the send to finish", func() bool { return !w.SendButton.Disabled() })
	if !strings.HasPrefix(w.Status.Text, "Sent") {
		t.Fatalf("status = %q, hint = %q", w.Status.Text, w.Hint.Text)
	}
	pump(t, q, "the transcript to show the final reply", func() bool {
		return logContains(w.Log.Line, w.Log.Len(), "QUIT")
	})
	for _, want := range []string{"S  220 ", "C  EHLO", "C  MAIL FROM:<herald@localhost>", "C  RCPT TO:<bob@example.com>", "C  DATA", "S  250"} {
		if !logContains(w.Log.Line, w.Log.Len(), want) {
			t.Errorf("live log lacks %q", want)
		}
	}

	pump(t, q, "the inbox entry", func() bool { return len(w.Inbox) == 1 })
	if got := w.Inbox[0].Subject; got != "Grüße from the GUI test" {
		t.Fatalf("inbox subject = %q", got)
	}
	w.InboxList.Select(0)
	pump(t, q, "the raw source", func() bool { return strings.Contains(w.Source.Text(), "Message-ID:") })
	src := w.Source.Text()
	for _, want := range []string{"To: <alice@example.com>, <bob@example.com>", "A line with only a dot above."} {
		if !strings.Contains(src, want) {
			t.Errorf("raw source lacks %q:\n%s", want, src)
		}
	}
}

func TestInvalidDraftShowsErrorInWindow(t *testing.T) {
	core := openTestCore(t, newMemSecrets())
	w, q := composeOver(t, core)

	test.Type(w.To, "not-an-address")
	test.Tap(w.SendButton)
	pump(t, q, "the send to finish", func() bool { return !w.SendButton.Disabled() })
	if !strings.Contains(w.Status.Text, "To") || strings.Contains(w.Status.Text, "to[0]") {
		t.Fatalf("status %q does not name the bad field in words (To)", w.Status.Text)
	}
	if len(w.Inbox) != 0 {
		t.Fatalf("an invalid draft reached the sandbox")
	}
}

// composeOver builds the real shell over core (a fake keychain) and opens
// its Compose view.
func composeOver(t *testing.T, c *core.Core) (*ui.Compose, chan func()) {
	t.Helper()
	a := test.NewTempApp(t)
	q := make(chan func(), 1024)
	s := BuildShell(a, NewGUICore(c), func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	if err := s.Open("compose", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Views() {
		if c, ok := v.(*ui.Compose); ok {
			return c, q
		}
	}
	t.Fatal("no compose view")
	return nil, nil
}

// memSecrets is an in-memory account.Secrets for tests, safe for the
// runner's goroutines.
type memSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func newMemSecrets() *memSecrets { return &memSecrets{m: map[string]string{}} }

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

// openTestCore opens a core over a temporary data directory with the
// sandbox on a free port and secrets in memory.
func openTestCore(t *testing.T, sec account.Secrets) *core.Core {
	t.Helper()
	c, err := core.Open(context.Background(), t.TempDir(), core.Options{Secrets: sec, WatchStore: true,
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func logContains(line func(int) string, n int, want string) bool {
	for i := 0; i < n; i++ {
		if strings.Contains(line(i), want) {
			return true
		}
	}
	return false
}
