package app

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/godbus/dbus/v5"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/ui"
)

// Settings (in the store) of the desktop integration; the Settings view
// shows them.
const (
	// SettingCloseToTray is "true" or "false": closing the window while
	// messages wait hides it to the tray (only where a tray is shown).
	// Unset: on. The core reads and writes it (core.CloseToTray).
	SettingCloseToTray = core.SettingCloseToTray
)

var _ ui.TrayCore = (*GUICore)(nil)

// OutboxCounts implements ui.TrayCore.
func (g *GUICore) OutboxCounts(ctx context.Context) (waiting, failed int, err error) {
	n, err := g.c.Queue.Counts(ctx)
	if err != nil {
		return 0, 0, err
	}
	return n[queue.Queued] + n[queue.Scheduled] + n[queue.Sending] + n[queue.Deferred], n[queue.Failed], nil
}

// PauseSending implements ui.TrayCore.
func (g *GUICore) PauseSending(pause bool) { g.c.PauseRunner(pause) }

// CloseToTray implements ui.TrayCore.
func (g *GUICore) CloseToTray(ctx context.Context) bool {
	return g.c.CloseToTray(ctx)
}

// WatchOutbox implements ui.TrayCore.
func (g *GUICore) WatchOutbox() *feed.Sub {
	return g.c.Feed.Subscribe(256, feed.Queue, feed.Runner)
}

// Notifier sends desktop notifications through the Fyne app, unless the
// notifications setting is off.
type Notifier struct {
	App fyne.App
	GC  *GUICore
}

// Notify implements ui.Notifier.
func (n Notifier) Notify(title, body string) {
	if n.App == nil || (n.GC != nil && n.GC.c != nil && !n.GC.c.Notifications(context.Background())) {
		return
	}
	n.App.SendNotification(fyne.NewNotification(title, body))
}

// systemTray returns a's system tray, or nil where it cannot work. On Linux
// and the BSDs the tray is a D-Bus service (StatusNotifierItem) shown by the
// desktop's StatusNotifierWatcher: without a session bus Fyne's tray panics
// when the app quits, and without a watcher nothing shows it (a window
// closed to it could not be brought back), so Herald then goes without one.
// The bus is only dialled where its address is known: never autolaunched.
func systemTray(a fyne.App, goos string, getenv func(string) string) desktop.App {
	d, ok := a.(desktop.App)
	if !ok {
		return nil
	}
	switch goos {
	case "windows", "darwin":
		return d
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return nil
	}
	if !trayHostPresent(getenv) {
		return nil
	}
	return d
}

// trayHostPresent reports whether the D-Bus session bus at the address in
// the environment (or at $XDG_RUNTIME_DIR/bus) answers and has a
// StatusNotifierWatcher, the desktop's tray.
func trayHostPresent(getenv func(string) string) bool {
	addr := getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		rt := getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			return false
		}
		bus := filepath.Join(rt, "bus")
		if _, err := os.Stat(bus); err != nil {
			return false
		}
		addr = "unix:path=" + bus
	}
	conn, err := dbus.Dial(addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if conn.Auth(nil) != nil || conn.Hello() != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
