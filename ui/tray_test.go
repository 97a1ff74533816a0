package ui

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/feed"
)

// trayApp is the test app with a system tray (desktop.App), recording what
// the tray sets.
type trayApp struct {
	fyne.App
	mu   sync.Mutex
	menu *fyne.Menu
	icon fyne.Resource
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu)    { a.mu.Lock(); a.menu = m; a.mu.Unlock() }
func (a *trayApp) SetSystemTrayIcon(r fyne.Resource) { a.mu.Lock(); a.icon = r; a.mu.Unlock() }
func (a *trayApp) SetSystemTrayWindow(w fyne.Window) {}

// fakeTrayCore is an outbox in memory.
type fakeTrayCore struct {
	mu              sync.Mutex
	waiting, failed int
	paused          []bool
	closeToTray     bool
	feed            *feed.Feed
}

func (f *fakeTrayCore) OutboxCounts(context.Context) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting, f.failed, nil
}
func (f *fakeTrayCore) PauseSending(p bool) {
	f.mu.Lock()
	f.paused = append(f.paused, p)
	f.mu.Unlock()
}
func (f *fakeTrayCore) CloseToTray(context.Context) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closeToTray
}
func (f *fakeTrayCore) WatchOutbox() *feed.Sub { return f.feed.Subscribe(64, feed.Queue, feed.Runner) }

func (f *fakeTrayCore) set(waiting, failed int) {
	f.mu.Lock()
	f.waiting, f.failed = waiting, failed
	f.mu.Unlock()
	f.feed.Publish(feed.Event{Topic: feed.Queue})
}

type trayNotes struct {
	mu  sync.Mutex
	got []string
}

func (n *trayNotes) Notify(title, body string) {
	n.mu.Lock()
	n.got = append(n.got, title+": "+body)
	n.mu.Unlock()
}
func (n *trayNotes) all() string { n.mu.Lock(); defer n.mu.Unlock(); return strings.Join(n.got, "\n") }

type trayRig struct {
	*rig
	app   *trayApp
	core  *fakeTrayCore
	notes *trayNotes
	tray  *Tray
	busy  bool
}

func newTrayRig(t *testing.T) *trayRig {
	r := &trayRig{rig: &rig{t: t, core: newFakeCore(), q: make(chan func(), 4096)}}
	r.app = &trayApp{App: test.NewTempApp(t)}
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(r.app, ShellOptions{Dispatch: do, Busy: func() bool { return r.busy }})
	r.shell.Quit = func() { r.quits++ }
	r.compose = NewCompose(r.rig.core, do)
	r.shell.Register(r.compose)
	r.core = &fakeTrayCore{feed: feed.New()}
	r.notes = &trayNotes{}
	r.tray = NewTray(r.shell, r.core, r.notes, fyne.NewStaticResource("icon.png", testIconPNG(t)), r.app)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); r.tray.Stop(); r.shell.Stop() })
	r.tray.Start(ctx)
	r.settle()
	return r
}

func testIconPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (r *trayRig) item(prefix string) *fyne.MenuItem {
	for _, it := range r.tray.Menu().Items {
		if strings.HasPrefix(it.Label, prefix) {
			return it
		}
	}
	r.t.Fatalf("no tray item %q in %v", prefix, r.labels())
	return nil
}

func (r *trayRig) labels() []string {
	var out []string
	for _, it := range r.tray.Menu().Items {
		out = append(out, it.Label)
	}
	return out
}

func TestTrayShowsTheOutboxCountAndNotifies(t *testing.T) {
	r := newTrayRig(t)
	if got := strings.Join(r.labels(), "|"); got != "Show Herald|Outbox: nothing waiting|Pause sending||Quit" {
		t.Fatalf("tray menu %q", got)
	}
	if r.app.menu != r.tray.Menu() {
		t.Fatal("the tray menu is not set on the app")
	}
	plain := r.app.icon

	r.core.set(3, 0)
	r.pump("the count", func() bool { return r.item("Outbox").Label == "Outbox: 3 messages waiting" })
	if r.app.icon == plain || !strings.Contains(r.app.icon.Name(), "3") {
		t.Fatalf("the tray icon does not show the count: %v", r.app.icon.Name())
	}
	if _, _, err := image.Decode(bytes.NewReader(r.app.icon.Content())); err != nil {
		t.Fatalf("the count icon is not an image: %v", err)
	}
	if n := r.notes.all(); n != "" {
		t.Fatalf("notified %q while messages merely wait", n)
	}

	// One fails for good, the rest are sent: the tray says the outbox is
	// empty (the failure itself is notified by the Outbox view, once).
	r.core.set(0, 1)
	r.pump("the empty outbox", func() bool { return r.item("Outbox").Label == "Outbox: nothing waiting" })
	n := r.notes.all()
	if strings.Contains(n, "failed") || !strings.Contains(n, "the outbox is empty") {
		t.Fatalf("notifications: %q", n)
	}
	if r.app.icon.Name() != plain.Name() {
		t.Fatalf("icon %q with nothing waiting", r.app.icon.Name())
	}
}

func TestTrayPauseSending(t *testing.T) {
	r := newTrayRig(t)
	r.item("Pause sending").Action()
	if r.item("Resume sending") == nil || len(r.core.paused) != 1 || !r.core.paused[0] {
		t.Fatalf("pause: %v %v", r.labels(), r.core.paused)
	}
	if !strings.Contains(r.shell.Status(), "paused") {
		t.Fatalf("status %q", r.shell.Status())
	}
	r.item("Resume sending").Action()
	if len(r.core.paused) != 2 || r.core.paused[1] {
		t.Fatalf("resume: %v", r.core.paused)
	}
	// A pause made elsewhere (the Outbox view) shows in the tray.
	r.core.feed.Publish(feed.Event{Topic: feed.Runner, Text: "paused"})
	r.pump("the pause from elsewhere", func() bool {
		for _, l := range r.labels() {
			if l == "Resume sending" {
				return true
			}
		}
		return false
	})
}

func TestTrayCloseAndQuit(t *testing.T) {
	r := newTrayRig(t)
	// Nothing waiting: the close button quits.
	r.tray.RequestClose()
	if r.quits != 1 {
		t.Fatalf("close with an empty outbox: %d quits", r.quits)
	}
	// Messages waiting, setting off: it quits too.
	r.core.set(2, 0)
	r.pump("the count", func() bool { return r.tray.Waiting() == 2 })
	r.tray.RequestClose()
	if r.quits != 2 {
		t.Fatalf("close-to-tray off: %d quits", r.quits)
	}
	// Setting on: the window hides, sending goes on, and it says so.
	r.core.closeToTray = true
	r.tray.RequestClose()
	if r.quits != 2 || !strings.Contains(r.notes.all(), "Herald keeps sending") {
		t.Fatalf("close-to-tray on: %d quits, notes %q", r.quits, r.notes.all())
	}
	// Shown again from the tray, it stays open when the outbox drains.
	r.item("Show Herald").Action()
	r.core.set(0, 0)
	r.pump("the drained outbox", func() bool { return r.tray.Waiting() == 0 })
	r.settle()
	if r.quits != 2 {
		t.Fatal("quit when the outbox drained although the window was shown again")
	}
	// Closed to the tray, Herald quits by itself once the outbox drains.
	r.core.set(1, 0)
	r.pump("the count", func() bool { return r.tray.Waiting() == 1 })
	r.tray.RequestClose()
	r.core.set(0, 0)
	r.pump("the quit after the last message", func() bool { return r.quits == 3 })

	// Quit from the tray while a message is being sent asks first.
	r.core.set(1, 0)
	r.pump("the count", func() bool { return r.tray.Waiting() == 1 })
	r.busy = true
	r.item("Quit").Action()
	if r.quits != 3 {
		t.Fatal("the tray's Quit did not ask while sending")
	}
	d, ok := r.shell.Window().Canvas().Overlays().Top().(fyne.CanvasObject)
	if !ok || d == nil {
		t.Fatal("no confirmation shown")
	}
	// The window's close button (the intercept the tray installed) asks too.
	r.core.closeToTray = false
	r.tray.RequestClose()
	if r.quits != 3 {
		t.Fatal("closing while sending did not ask")
	}
}

func TestCountIcon(t *testing.T) {
	src := fyne.NewStaticResource("icon.png", testIconPNG(t))
	if CountIcon(src, 0) != src {
		t.Fatal("a zero count changes the icon")
	}
	for _, n := range []int{1, 42, 1234} {
		r := CountIcon(src, n)
		img, _, err := image.Decode(bytes.NewReader(r.Content()))
		if err != nil {
			t.Fatal(err)
		}
		// the badge is drawn in the bottom right corner
		if _, _, _, a := img.At(62, 62).RGBA(); a == 0 {
			t.Fatalf("count %d: no badge", n)
		}
	}
	if !strings.Contains(CountIcon(src, 1234).Name(), "99+") {
		t.Fatal("large counts are not capped")
	}
}
