package app

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/godbus/dbus/v5"

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
	test.Type(w.Body.Entry, "Hello Alice,\n.\nA line with only a dot above.")
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

func TestCheckDisplay(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		goos   string
		getenv func(string) string
		none   bool
	}{
		{"linux", env(), true},
		{"freebsd", env("DISPLAY", ""), true},
		{"linux", env("DISPLAY", ":0"), false},
		{"linux", env("WAYLAND_DISPLAY", "wayland-0"), false},
		{"darwin", env(), false},
		{"windows", env(), false},
	}
	for _, c := range cases {
		err := CheckDisplay(c.goos, c.getenv)
		if (err != nil) != c.none {
			t.Errorf("%s: %v", c.goos, err)
		}
		if err != nil && err.(interface{ ExitCode() int }).ExitCode() != 2 {
			t.Errorf("exit code %d", err.(interface{ ExitCode() int }).ExitCode())
		}
	}
}

func TestDesktopSettings(t *testing.T) {
	c := openTestCore(t, newMemSecrets())
	g := NewGUICore(c)
	ctx := context.Background()
	if err := c.Store.SetSetting(ctx, SettingCloseToTray, "true"); err != nil {
		t.Fatal(err)
	}
	if !g.CloseToTray(ctx) {
		t.Fatal("close-to-tray on is not read")
	}
	if err := c.Store.SetSetting(ctx, SettingCloseToTray, "false"); err != nil {
		t.Fatal(err)
	}
	if g.CloseToTray(ctx) {
		t.Fatal("close-to-tray off is not read")
	}
	if w, f, err := g.OutboxCounts(ctx); err != nil || w != 0 || f != 0 {
		t.Fatalf("empty outbox: %d waiting, %d failed, %v", w, f, err)
	}
	a := test.NewTempApp(t)
	_ = c.SetNotifications(ctx, false)
	Notifier{App: a, GC: g}.Notify("t", "b") // off: nothing sent, nothing fails
}

// deskApp is the test app with a system tray.
type deskApp struct{ fyne.App }

func (deskApp) SetSystemTrayMenu(*fyne.Menu)    {}
func (deskApp) SetSystemTrayIcon(fyne.Resource) {}
func (deskApp) SetSystemTrayWindow(fyne.Window) {}

func TestSystemTrayNeedsASessionBusOnLinux(t *testing.T) {
	a := deskApp{test.NewTempApp(t)}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if systemTray(a, "windows", env(nil)) == nil || systemTray(a, "darwin", env(nil)) == nil {
		t.Fatal("no tray on Windows or macOS")
	}
	if systemTray(a, "linux", env(nil)) != nil {
		t.Fatal("a tray on Linux without a session bus")
	}
	if systemTray(a, "linux", env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/herald-test-bus"})) != nil {
		t.Fatal("a tray on Linux with an unreachable session bus")
	}
	if systemTray(test.NewTempApp(t), "windows", env(nil)) != nil {
		t.Fatal("a tray from an app without one")
	}

	// With a session bus (CI runs the tests in one): a tray only while a
	// StatusNotifierWatcher is there to show it.
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		t.Skip("no D-Bus session bus (CI's tests run in one)")
	}
	busEnv := env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": addr})
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Skipf("session bus: %v", err)
	}
	defer conn.Close()
	// (The main package's tray test may own the name for a moment.)
	var owned bool
	_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&owned)
	if !owned && systemTray(a, "linux", busEnv) != nil {
		t.Fatal("a tray on Linux with no StatusNotifierWatcher on the bus")
	}
	reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Skipf("cannot act as the watcher: %v %v", reply, err)
	}
	defer conn.ReleaseName("org.kde.StatusNotifierWatcher")
	if systemTray(a, "linux", busEnv) == nil {
		t.Fatal("no tray on Linux with a StatusNotifierWatcher on the bus")
	}
}
