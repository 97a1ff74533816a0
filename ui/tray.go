package ui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strconv"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/herald-smtp/herald/engine/feed"
)

// TrayCore is what the tray icon needs from the core.
type TrayCore interface {
	// OutboxCounts returns the messages waiting to be sent (queued,
	// scheduled, sending or deferred) and those that failed for good.
	OutboxCounts(ctx context.Context) (waiting, failed int, err error)
	// PauseSending pauses (true) or resumes (false) the outbox runner.
	PauseSending(pause bool)
	// CloseToTray reports whether closing the window while messages wait
	// hides it to the tray instead of quitting (a setting).
	CloseToTray(ctx context.Context) bool
	// WatchOutbox subscribes to outbox and runner changes (feed.Queue,
	// feed.Runner).
	WatchOutbox() *feed.Sub
}

// Tray is Herald's system tray icon, where the platform has one: the icon
// with the outbox count, and a menu with Show Herald, the count (it opens
// the Outbox), Pause sending and Quit. It also takes over the window's
// close button: with messages waiting and the close-to-tray setting on,
// closing hides the window and sending goes on. It notifies when messages
// fail for good and when the outbox has drained.
type Tray struct {
	shell  *Shell
	core   TrayCore
	notify Notifier
	desk   desktop.App // nil: no tray on this platform (the menu still exists, for tests)
	icon   fyne.Resource

	mu      sync.Mutex
	waiting int
	failed  int
	loaded  bool
	paused  bool
	// hidden is set while the window is closed to the tray: Herald quits
	// once the outbox is empty.
	hidden bool
	cancel context.CancelFunc
	sub    *feed.Sub

	menu      *fyne.Menu
	showItem  *fyne.MenuItem
	countItem *fyne.MenuItem
	pauseItem *fyne.MenuItem
	quitItem  *fyne.MenuItem
}

// NewTray makes the tray of the shell's window over core. icon is the app's
// icon (the count is drawn on it); n may be nil (no notifications); desk is
// the app's tray, nil where there is none (the menu is still built, and the
// close button then always quits).
func NewTray(s *Shell, core TrayCore, n Notifier, icon fyne.Resource, desk desktop.App) *Tray {
	t := &Tray{shell: s, core: core, notify: n, icon: icon, desk: desk, cancel: func() {}}
	t.showItem = fyne.NewMenuItem("Show Herald", t.showWindow)
	t.countItem = fyne.NewMenuItem("Outbox: nothing waiting", func() {
		t.showWindow()
		_ = s.Open("outbox", nil)
	})
	t.pauseItem = fyne.NewMenuItem("Pause sending", t.togglePause)
	t.quitItem = fyne.NewMenuItem("Quit", t.quit)
	t.quitItem.IsQuit = true
	t.menu = fyne.NewMenu("Herald", t.showItem, t.countItem, t.pauseItem, fyne.NewMenuItemSeparator(), t.quitItem)
	s.win.SetCloseIntercept(t.RequestClose)
	return t
}

// Menu returns the tray menu.
func (t *Tray) Menu() *fyne.Menu { return t.menu }

// Waiting returns the outbox count the tray shows.
func (t *Tray) Waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waiting
}

// Start shows the tray icon (where there is a tray) and follows the outbox,
// redrawing at most every 100 ms. Call it on the UI goroutine.
func (t *Tray) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	if t.desk != nil {
		t.desk.SetSystemTrayMenu(t.menu)
		t.desk.SetSystemTrayIcon(t.icon)
	}
	t.sub = t.core.WatchOutbox()
	t.Refresh(ctx)
	go func(c <-chan feed.Event) {
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-c:
				if !ok {
					return
				}
				t.runnerEvent(e)
			}
			timer := time.NewTimer(100 * time.Millisecond)
		drain:
			for {
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case e, ok := <-c:
					if !ok {
						break drain
					}
					t.runnerEvent(e)
				case <-timer.C:
					break drain
				}
			}
			t.Refresh(ctx)
		}
	}(t.sub.C())
}

// Stop ends what Start began.
func (t *Tray) Stop() {
	t.cancel()
	if t.sub != nil {
		t.sub.Close()
	}
}

// runnerEvent follows pauses made elsewhere (the Outbox view).
func (t *Tray) runnerEvent(e feed.Event) {
	if e.Topic != feed.Runner {
		return
	}
	paused := e.Text == "paused"
	t.mu.Lock()
	changed := t.paused != paused
	t.paused = paused
	t.mu.Unlock()
	if changed {
		t.shell.do(t.redraw)
	}
}

// Refresh reads the outbox counts, notifies what changed and redraws the
// tray (through the dispatcher). It may run on any goroutine.
func (t *Tray) Refresh(ctx context.Context) {
	waiting, failed, err := t.core.OutboxCounts(ctx)
	if err != nil {
		return
	}
	t.mu.Lock()
	before, beforeFailed, loaded := t.waiting, t.failed, t.loaded
	t.waiting, t.failed, t.loaded = waiting, failed, true
	t.mu.Unlock()
	// Permanent failures are notified by the Outbox view (each with its
	// message); the tray says when everything waiting has been handled.
	_ = beforeFailed
	if loaded && t.notify != nil {
		if before > 0 && waiting == 0 {
			t.notify.Notify("Herald: the outbox is empty", "Every waiting message has been handled. The Outbox and the History show each outcome.")
		}
	}
	t.shell.do(t.redraw)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// redraw updates the menu and the icon; on the UI goroutine.
func (t *Tray) redraw() {
	t.mu.Lock()
	waiting, paused, hidden := t.waiting, t.paused, t.hidden
	t.mu.Unlock()
	if hidden && waiting == 0 {
		t.shell.QuitNow() // closed while sending: done now
		return
	}
	switch {
	case waiting == 0:
		t.countItem.Label = "Outbox: nothing waiting"
	default:
		t.countItem.Label = "Outbox: " + plural(waiting, "message") + " waiting"
	}
	if paused {
		t.pauseItem.Label = "Resume sending"
		t.countItem.Label += " (paused)"
	} else {
		t.pauseItem.Label = "Pause sending"
	}
	t.menu.Refresh()
	if t.desk != nil {
		t.desk.SetSystemTrayMenu(t.menu)
		t.desk.SetSystemTrayIcon(CountIcon(t.icon, waiting))
	}
}

func (t *Tray) showWindow() {
	t.mu.Lock()
	t.hidden = false
	t.mu.Unlock()
	t.shell.win.Show()
	t.shell.win.RequestFocus()
}

func (t *Tray) togglePause() {
	t.mu.Lock()
	t.paused = !t.paused
	paused := t.paused
	t.mu.Unlock()
	t.core.PauseSending(paused)
	if paused {
		t.shell.SetStatus("Sending paused: the outbox keeps its messages until you resume (tray icon, Resume sending).")
	} else {
		t.shell.SetStatus("Sending resumed.")
	}
	t.redraw()
}

// quit is the tray's Quit: it shows the window first, where the shell asks
// while messages are sending.
func (t *Tray) quit() {
	t.showWindow()
	t.shell.RequestQuit()
}

// RequestClose is the window's close button: with messages waiting, a tray
// and the close-to-tray setting on, it hides the window (sending goes on);
// otherwise it quits the way Quit does (asking while messages are sending).
// A window closed to the tray quits by itself once the outbox is empty.
func (t *Tray) RequestClose() {
	if t.desk != nil && t.Waiting() > 0 && t.core.CloseToTray(context.Background()) {
		t.shell.savePrefs()
		t.mu.Lock()
		t.hidden = true
		t.mu.Unlock()
		t.shell.win.Hide()
		if t.notify != nil {
			t.notify.Notify("Herald keeps sending", fmt.Sprintf("%s waiting. Herald stays in the tray until the outbox is empty; choose Quit there to stop.", plural(t.Waiting(), "message")))
		}
		return
	}
	t.shell.RequestQuit()
}

// CountIcon returns icon with count drawn on it in a badge (icon itself for
// 0, or when it cannot be decoded). Counts over 99 show as "99+".
func CountIcon(icon fyne.Resource, count int) fyne.Resource {
	if count <= 0 || icon == nil {
		return icon
	}
	src, _, err := image.Decode(bytes.NewReader(icon.Content()))
	if err != nil {
		return icon
	}
	const size = 64
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(img, img.Bounds(), src, src.Bounds(), draw.Src, nil)

	text := strconv.Itoa(count)
	if count > 99 {
		text = "99+"
	}
	// The text is drawn at 7x13 and scaled up twice; the badge is a red
	// rounded box in the bottom right corner with a white border.
	face := basicfont.Face7x13
	tw := font.MeasureString(face, text).Ceil()
	small := image.NewRGBA(image.Rect(0, 0, tw+4, 15))
	bg := color.RGBA{0xc6, 0x28, 0x28, 0xff}
	draw.Draw(small, small.Bounds(), &image.Uniform{bg}, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: small, Src: image.White, Face: face, Dot: fixed.P(2, 12)}
	d.DrawString(text)
	bw, bh := small.Bounds().Dx()*2, small.Bounds().Dy()*2
	if bw > size {
		bw = size
	}
	badge := image.Rect(size-bw, size-bh, size, size)
	draw.Draw(img, badge.Inset(-2).Intersect(img.Bounds()), &image.Uniform{color.White}, image.Point{}, draw.Src)
	xdraw.NearestNeighbor.Scale(img, badge, small, small.Bounds(), draw.Src, nil)

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return icon
	}
	return fyne.NewStaticResource(fmt.Sprintf("herald-tray-%s.png", text), buf.Bytes())
}
