package app

import (
	"context"
	"runtime"

	"fyne.io/fyne/v2"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/ui"
)

// Settings (in the store) of the desktop integration; the Settings view
// shows them.
const (
	// SettingCloseToTray is "true" or "false": closing the window while
	// messages wait hides it to the tray. Unset: on for Windows and macOS,
	// off elsewhere (not every Linux desktop shows tray icons, and a hidden
	// window without one could only be ended from a terminal).
	SettingCloseToTray = "window.close-to-tray"
	// SettingNotifications is "false" to turn desktop notifications off.
	SettingNotifications = "notifications.enabled"
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
	return g.boolSetting(ctx, SettingCloseToTray, runtime.GOOS == "windows" || runtime.GOOS == "darwin")
}

// WatchOutbox implements ui.TrayCore.
func (g *GUICore) WatchOutbox() *feed.Sub {
	return g.c.Feed.Subscribe(256, feed.Queue, feed.Runner)
}

func (g *GUICore) boolSetting(ctx context.Context, name string, def bool) bool {
	v, err := g.c.Store.Setting(ctx, name)
	if err != nil {
		return def
	}
	switch v {
	case "true", "on", "1":
		return true
	case "false", "off", "0":
		return false
	}
	return def
}

// Notifier sends desktop notifications through the Fyne app, unless the
// notifications setting is off.
type Notifier struct {
	App fyne.App
	GC  *GUICore
}

// Notify implements ui.Notifier.
func (n Notifier) Notify(title, body string) {
	if n.App == nil || (n.GC != nil && !n.GC.boolSetting(context.Background(), SettingNotifications, true)) {
		return
	}
	n.App.SendNotification(fyne.NewNotification(title, body))
}
