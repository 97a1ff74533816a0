package app

import (
	"context"
	"os"
	"runtime"
	"sync"
	"time"

	"fyne.io/fyne/v2"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/platform/open"
	"github.com/herald-smtp/herald/ui"
)

// SettingsAdapter implements ui.SettingsCore over the core's settings.
type SettingsAdapter struct {
	c *core.Core
	// Open shows a folder; tests replace it (default: platform/open.Path).
	Open func(ctx context.Context, path string) error
	// Tray reports whether the desktop shows Herald's tray icon (nil:
	// assumed so); the view disables the close-to-tray choice without one.
	Tray func() bool
}

var _ ui.SettingsCore = (*SettingsAdapter)(nil)

// NewSettingsAdapter returns the Settings view's adapter over c.
func NewSettingsAdapter(c *core.Core) *SettingsAdapter {
	return &SettingsAdapter{c: c, Open: open.Path}
}

func retryValues(r account.RetrySettings) ui.RetryValues {
	return ui.RetryValues{Initial: time.Duration(r.Initial), Max: time.Duration(r.Max), GiveUpAfter: time.Duration(r.GiveUpAfter), WarnAfter: time.Duration(r.WarnAfter)}
}

// LoadSettings implements ui.SettingsCore.
func (a *SettingsAdapter) LoadSettings(ctx context.Context) (ui.SettingsValues, error) {
	s, err := a.c.LoadSettings(ctx)
	if err != nil {
		return ui.SettingsValues{}, err
	}
	return ui.SettingsValues{
		Theme: s.Theme, TextSize: s.TextSize, Retry: retryValues(s.Retry), RunWhileOpen: s.RunWhileOpen,
		LogSize: s.LogSize, Notifications: s.Notifications, ColourEmoji: s.ColourEmoji, CloseToTray: s.CloseToTray,
		History: ui.HistoryValues{KeepDays: s.History.KeepDays, KeepMessages: s.History.KeepMessages, FailuresOnly: s.History.Transcripts == core.TranscriptsFailures},
	}, nil
}

// Info implements ui.SettingsCore: the data directory, the keychain's
// state (a probe) and the built-in retry defaults.
func (a *SettingsAdapter) Info(context.Context) ui.SettingsInfo {
	k := a.c.Keychain()
	d := queue.DefaultRetryPolicy()
	return ui.SettingsInfo{DataDir: a.c.DataDir, Keychain: k.Name, KeychainOK: k.OK, KeychainDetail: k.Detail,
		RetryDefaults: ui.RetryValues{Initial: d.Initial, Max: d.Max, GiveUpAfter: d.GiveUpAfter, WarnAfter: d.WarnAfter},
		NoTray:        a.Tray != nil && !a.Tray()}
}

// SetTheme implements ui.SettingsCore.
func (a *SettingsAdapter) SetTheme(ctx context.Context, mode string) error {
	return a.c.SetTheme(ctx, mode)
}

// SetTextSize implements ui.SettingsCore.
func (a *SettingsAdapter) SetTextSize(ctx context.Context, n int) error {
	return a.c.SetTextSize(ctx, n)
}

// SetRetry implements ui.SettingsCore: the policy is stored, then the
// window's runner restarts with it.
func (a *SettingsAdapter) SetRetry(ctx context.Context, r ui.RetryValues) error {
	rs := account.RetrySettings{Initial: account.Duration(r.Initial), Max: account.Duration(r.Max), GiveUpAfter: account.Duration(r.GiveUpAfter), WarnAfter: account.Duration(r.WarnAfter)}
	if err := a.c.SetRetrySettings(ctx, rs); err != nil {
		return err
	}
	return a.c.ApplyWindowRunner(ctx)
}

// SetRunWhileOpen implements ui.SettingsCore: the runner starts or stops.
func (a *SettingsAdapter) SetRunWhileOpen(ctx context.Context, on bool) error {
	if err := a.c.SetRunWhileOpen(ctx, on); err != nil {
		return err
	}
	return a.c.ApplyWindowRunner(ctx)
}

// SetLogSize implements ui.SettingsCore.
func (a *SettingsAdapter) SetLogSize(ctx context.Context, n int) error { return a.c.SetLogSize(ctx, n) }

// SetColourEmoji implements ui.SettingsCore.
func (a *SettingsAdapter) SetColourEmoji(ctx context.Context, on bool) error {
	return a.c.SetColourEmoji(ctx, on)
}

// SetCloseToTray implements ui.SettingsCore.
func (a *SettingsAdapter) SetCloseToTray(ctx context.Context, on bool) error {
	return a.c.SetCloseToTray(ctx, on)
}

// SetNotifications implements ui.SettingsCore.
func (a *SettingsAdapter) SetNotifications(ctx context.Context, on bool) error {
	return a.c.SetNotifications(ctx, on)
}

// SetHistory implements ui.SettingsCore (stored only: the history applies it).
func (a *SettingsAdapter) SetHistory(ctx context.Context, h ui.HistoryValues) error {
	r := core.HistorySettings{KeepDays: h.KeepDays, KeepMessages: h.KeepMessages, Transcripts: core.TranscriptsAll}
	if h.FailuresOnly {
		r.Transcripts = core.TranscriptsFailures
	}
	return a.c.SetHistorySettings(ctx, r)
}

// OpenDataDir implements ui.SettingsCore.
func (a *SettingsAdapter) OpenDataDir(ctx context.Context) error { return a.Open(ctx, a.c.DataDir) }

// WatchSettings implements ui.SettingsCore.
func (a *SettingsAdapter) WatchSettings() *feed.Sub { return a.c.Feed.Subscribe(16, feed.Settings) }

// newSettings is the Settings view over gc (nil: for listing the views).
func newSettings(gc *GUICore, do ui.Dispatcher) *ui.Settings {
	var a ui.SettingsCore
	if gc != nil {
		sa := NewSettingsAdapter(gc.c)
		// The same test the window makes before showing its tray (asked
		// once, off the UI goroutine, by Info).
		sa.Tray = sync.OnceValue(func() bool {
			app := fyne.CurrentApp()
			return app != nil && systemTray(app, runtime.GOOS, os.Getenv) != nil
		})
		a = sa
	}
	return ui.NewSettings(a, do)
}

// applyAppearance shows the window with the stored theme and text size, and
// keeps the View menu's theme choice in the settings.
func applyAppearance(ctx context.Context, s *ui.Shell, c *core.Core) {
	s.SetTextScale(float32(c.TextSize(ctx)) / 100)
	s.SetThemeMode(c.Theme(ctx))
	s.OnThemeMode = func(mode string) {
		if mode != c.Theme(ctx) {
			_ = c.SetTheme(ctx, mode)
		}
	}
}
