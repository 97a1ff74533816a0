package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/ui"
)

// settingsOver builds the real shell over c and opens its Settings view.
func settingsOver(t *testing.T, c *core.Core) (*ui.Settings, *ui.Shell, chan func()) {
	t.Helper()
	a := test.NewTempApp(t)
	q := make(chan func(), 1024)
	s := BuildShell(a, NewGUICore(c), func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	s.Start(context.Background())
	if err := s.Open("settings", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Views() {
		if v, ok := v.(*ui.Settings); ok {
			return v, s, q
		}
	}
	t.Fatal("no settings view")
	return nil, nil, nil
}

func TestSettingsViewOverTheCore(t *testing.T) {
	ctx := context.Background()
	c := openTestCore(t, newMemSecrets())
	if err := c.ApplyWindowRunner(ctx); err != nil || !c.RunnerRunning() {
		t.Fatalf("runner: %v", err)
	}
	v, s, q := settingsOver(t, c)
	pump(t, q, "the settings to load", func() bool { return v.DataDir.Text == c.DataDir && v.Theme.Selected != "" })
	if !strings.Contains(v.KeychainState.Text, "Working") {
		t.Fatalf("keychain state %q", v.KeychainState.Text)
	}

	// Turning the outbox off stops the runner the window started.
	test.Tap(v.RunWhileOpen)
	pump(t, q, "the runner to stop", func() bool { return !c.RunWhileOpen(ctx) && !c.RunnerRunning() })
	test.Tap(v.RunWhileOpen)
	pump(t, q, "the runner to start", func() bool { return c.RunWhileOpen(ctx) && c.RunnerRunning() })

	// A retry policy saved from the window is the core's global policy.
	v.RetryInitial.SetText("3m")
	v.RetryGiveUp.SetText("1d")
	test.Tap(v.SaveRetry)
	pump(t, q, "the policy to be saved", func() bool { return strings.HasPrefix(v.RetryStatus.Text, "Saved") })
	if p := c.GlobalRetryPolicy(ctx); p.Initial != 3*time.Minute || p.GiveUpAfter != 24*time.Hour {
		t.Fatalf("policy %+v", p)
	}
	if !c.RunnerRunning() {
		t.Fatal("the runner did not come back after the restart")
	}

	// History retention goes to the keys the history reads.
	v.KeepDays.SetText("45")
	v.Transcripts.SetSelected("Failed sessions only")
	test.Tap(v.SaveHistory)
	pump(t, q, "the retention to be saved", func() bool { return c.HistorySettings(ctx).KeepDays == 45 })
	if got, _ := c.Store.Setting(ctx, "history.transcripts"); got != "failures" {
		t.Fatalf("history.transcripts = %q", got)
	}

	// The text size is stored and shown; the theme chosen from the menu is
	// stored too.
	applyAppearance(ctx, s, c)
	v.TextSize.SetSelected("130%")
	pump(t, q, "the text size to be saved", func() bool { return c.TextSize(ctx) == 130 })
	if s.TextScale() != 1.3 {
		t.Fatalf("text scale %v", s.TextScale())
	}
	s.SetThemeMode("dark")
	if c.Theme(ctx) != "dark" {
		t.Fatalf("menu theme not stored: %q", c.Theme(ctx))
	}
	pump(t, q, "the view to show the theme", func() bool { return v.Theme.Selected == "Dark" })
}

func TestSettingsAdapterOpensTheDataDir(t *testing.T) {
	c := openTestCore(t, newMemSecrets())
	a := NewSettingsAdapter(c)
	var got string
	a.Open = func(_ context.Context, p string) error { got = p; return nil }
	if err := a.OpenDataDir(context.Background()); err != nil || got != c.DataDir {
		t.Fatalf("opened %q (%v), want %q", got, err, c.DataDir)
	}
}

func TestSettingsAdapterCloseToTray(t *testing.T) {
	ctx := context.Background()
	c := openTestCore(t, newMemSecrets())
	a := NewSettingsAdapter(c)
	gc := NewGUICore(c)
	if v, err := a.LoadSettings(ctx); err != nil || !v.CloseToTray || !gc.CloseToTray(ctx) {
		t.Fatalf("default: %+v, %v; the tray reads %v", v, err, gc.CloseToTray(ctx))
	}
	if err := a.SetCloseToTray(ctx, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.LoadSettings(ctx); v.CloseToTray || gc.CloseToTray(ctx) {
		t.Fatalf("after turning it off: view %v, tray %v", v.CloseToTray, gc.CloseToTray(ctx))
	}
	if got, _ := c.Store.Setting(ctx, SettingCloseToTray); got != "false" {
		t.Fatalf("stored %q", got)
	}
	if a.Info(ctx).NoTray {
		t.Fatal("no tray said without a tray test")
	}
	a.Tray = func() bool { return false }
	if !a.Info(ctx).NoTray {
		t.Fatal("a desktop without a tray is not reported")
	}
}

func TestSettingsViewCloseToTrayWithoutATray(t *testing.T) {
	// The test app has no tray (it is no desktop.App): the window's own
	// test says so and the check is disabled with a note.
	c := openTestCore(t, newMemSecrets())
	v, _, q := settingsOver(t, c)
	pump(t, q, "the tray note", func() bool { return v.TrayNote.Visible() })
	if !v.CloseToTray.Disabled() || !v.CloseToTray.Checked {
		t.Fatalf("disabled %v, checked %v", v.CloseToTray.Disabled(), v.CloseToTray.Checked)
	}
}
