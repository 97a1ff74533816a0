package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/herald-smtp/herald/engine/feed"
)

// fakeSettings keeps the settings in memory and publishes on its feed like
// the core.
type fakeSettings struct {
	mu       sync.Mutex
	v        SettingsValues
	feed     *feed.Feed
	opened   int
	keychain bool
	noTray   bool
	retryErr error
}

func newFakeSettings() *fakeSettings {
	return &fakeSettings{feed: feed.New(), keychain: true,
		v: SettingsValues{TextSize: 100, RunWhileOpen: true, LogSize: 5000, Notifications: true, CloseToTray: true}}
}

func (f *fakeSettings) set(name string, change func(v *SettingsValues)) error {
	f.mu.Lock()
	change(&f.v)
	f.mu.Unlock()
	f.feed.Publish(feed.Event{Topic: feed.Settings, Text: name})
	return nil
}

func (f *fakeSettings) get() SettingsValues {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v
}

func (f *fakeSettings) LoadSettings(context.Context) (SettingsValues, error) { return f.get(), nil }
func (f *fakeSettings) Info(context.Context) SettingsInfo {
	in := SettingsInfo{DataDir: "/home/ann/.config/herald", Keychain: "the Secret Service over D-Bus", KeychainOK: f.keychain,
		RetryDefaults: RetryValues{Initial: time.Minute, Max: time.Hour, GiveUpAfter: 48 * time.Hour, WarnAfter: 4 * time.Hour}}
	if !f.keychain {
		in.KeychainDetail = "no D-Bus session bus: start a desktop session"
	}
	f.mu.Lock()
	in.NoTray = f.noTray
	f.mu.Unlock()
	return in
}
func (f *fakeSettings) SetTheme(_ context.Context, m string) error {
	return f.set("ui.theme", func(v *SettingsValues) { v.Theme = m })
}
func (f *fakeSettings) SetTextSize(_ context.Context, n int) error {
	return f.set("ui.text-size", func(v *SettingsValues) { v.TextSize = n })
}
func (f *fakeSettings) SetRetry(_ context.Context, r RetryValues) error {
	if r.Max > 0 && r.Max < r.Initial {
		return errors.New("retry.max: must not be less than retry.initial")
	}
	return f.set("outbox.retry", func(v *SettingsValues) { v.Retry = r })
}
func (f *fakeSettings) SetRunWhileOpen(_ context.Context, on bool) error {
	return f.set("outbox.run-while-open", func(v *SettingsValues) { v.RunWhileOpen = on })
}
func (f *fakeSettings) SetLogSize(_ context.Context, n int) error {
	return f.set("log.size", func(v *SettingsValues) { v.LogSize = n })
}
func (f *fakeSettings) SetColourEmoji(_ context.Context, on bool) error {
	return f.set("colour-emoji", func(v *SettingsValues) { v.ColourEmoji = on })
}

func (f *fakeSettings) SetCloseToTray(_ context.Context, on bool) error {
	return f.set("window.close-to-tray", func(v *SettingsValues) { v.CloseToTray = on })
}

func (f *fakeSettings) SetNotifications(_ context.Context, on bool) error {
	return f.set("notifications", func(v *SettingsValues) { v.Notifications = on })
}
func (f *fakeSettings) SetHistory(_ context.Context, h HistoryValues) error {
	return f.set("history.keep-days", func(v *SettingsValues) { v.History = h })
}
func (f *fakeSettings) OpenDataDir(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened++
	return nil
}
func (f *fakeSettings) WatchSettings() *feed.Sub { return f.feed.Subscribe(16, feed.Settings) }

type settingsRig struct {
	*rig
	fake *fakeSettings
	view *Settings
}

func newSettingsRig(t *testing.T) *settingsRig {
	r := &settingsRig{rig: newRig(t), fake: newFakeSettings()}
	do := func(f func()) { r.q <- f }
	r.view = NewSettings(r.fake, do)
	r.shell.Register(r.view)
	r.shell.Start(context.Background())
	if err := r.shell.Open("settings", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the settings to load", func() bool { return r.view.Theme.Selected != "" && r.view.DataDir.Text != "" })
	return r
}

func TestSettingsShowsValuesAndInfo(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	if v.Theme.Selected != "System" || v.TextSize.Selected != "100%" || v.LogSize.Selected != "5000 lines" || !v.RunWhileOpen.Checked || !v.Notifications.Checked {
		t.Fatalf("defaults shown wrong: theme %q size %q log %q", v.Theme.Selected, v.TextSize.Selected, v.LogSize.Selected)
	}
	if v.DataDir.Text != "/home/ann/.config/herald" || !strings.Contains(v.KeychainState.Text, "Working") {
		t.Fatalf("data dir %q, keychain %q", v.DataDir.Text, v.KeychainState.Text)
	}
	if v.RetryInitial.PlaceHolder != "default 1m" || v.RetryGiveUp.PlaceHolder != "default 2d" {
		t.Fatalf("placeholders %q %q", v.RetryInitial.PlaceHolder, v.RetryGiveUp.PlaceHolder)
	}
	test.Tap(v.OpenFolder)
	r.settle()
	if r.fake.opened != 1 {
		t.Fatal("Open folder did not ask the core")
	}
}

func TestSettingsKeychainUnreachableSaysSoInWords(t *testing.T) {
	r := &settingsRig{rig: newRig(t), fake: newFakeSettings()}
	r.fake.keychain = false
	r.view = NewSettings(r.fake, func(f func()) { r.q <- f })
	r.shell.Register(r.view)
	r.shell.Open("settings", nil)
	r.pump("the keychain state", func() bool { return r.view.KeychainHint.Visible() })
	if !strings.Contains(r.view.KeychainState.Text, "Not reachable") || !strings.Contains(r.view.KeychainHint.Text, "D-Bus") {
		t.Fatalf("state %q, hint %q", r.view.KeychainState.Text, r.view.KeychainHint.Text)
	}
}

func TestSettingsThemeAndTextSizeApplyLiveAndAreStored(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	base := theme.DefaultTheme().Size(theme.SizeNameText)
	v.TextSize.SetSelected("150%")
	r.pump("the text size to be stored", func() bool { return r.fake.get().TextSize == 150 })
	if got := fyne.CurrentApp().Settings().Theme().Size(theme.SizeNameText); got != base*1.5 {
		t.Fatalf("text size now %v, want %v", got, base*1.5)
	}
	if got := fyne.CurrentApp().Settings().Theme().Size(theme.SizeNamePadding); got != theme.DefaultTheme().Size(theme.SizeNamePadding) {
		t.Fatalf("padding scaled too: %v", got)
	}
	v.Theme.SetSelected("Dark")
	r.pump("the theme to be stored", func() bool { return r.fake.get().Theme == "dark" })
	th := fyne.CurrentApp().Settings().Theme()
	if th.Color(theme.ColorNameBackground, theme.VariantLight) != theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark) {
		t.Fatal("the dark theme is not applied")
	}
	if th.Size(theme.SizeNameText) != base*1.5 {
		t.Fatal("choosing a theme lost the text size")
	}
	if r.shell.ThemeMode() != "dark" {
		t.Fatalf("shell theme mode %q", r.shell.ThemeMode())
	}
	// The View menu's choice shows in the view once the core tells it.
	r.shell.OnThemeMode = func(m string) { r.fake.SetTheme(context.Background(), m) }
	r.shell.SetThemeMode("light")
	r.pump("the view to follow the menu", func() bool { return v.Theme.Selected == "Light" })
}

func TestSettingsTogglesAndLogSizeSave(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	test.Tap(v.RunWhileOpen)
	test.Tap(v.Notifications)
	test.Tap(v.ColourEmoji)
	v.LogSize.SetSelected("20000 lines")
	r.pump("the settings to be stored", func() bool {
		s := r.fake.get()
		return !s.RunWhileOpen && !s.Notifications && s.ColourEmoji && s.LogSize == 20000
	})
	r.pump("the status", func() bool { return v.Status.Text != "" })
}

func TestSettingsCloseToTraySaves(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	if !v.CloseToTray.Checked || v.CloseToTray.Disabled() || v.TrayNote.Visible() {
		t.Fatalf("close to tray: checked %v, disabled %v, note %q", v.CloseToTray.Checked, v.CloseToTray.Disabled(), v.TrayNote.Text)
	}
	test.Tap(v.CloseToTray)
	r.pump("the setting to be stored off", func() bool { return !r.fake.get().CloseToTray })
	r.pump("the status", func() bool { return strings.Contains(v.Status.Text, "quits") })
	test.Tap(v.CloseToTray)
	r.pump("the setting to be stored on", func() bool { return r.fake.get().CloseToTray })
	// Changed elsewhere: the check follows.
	r.fake.SetCloseToTray(context.Background(), false)
	r.pump("the check to follow", func() bool { return !v.CloseToTray.Checked })
}

func TestSettingsCloseToTrayWithoutATraySaysSo(t *testing.T) {
	r := &settingsRig{rig: newRig(t), fake: newFakeSettings()}
	r.fake.noTray = true
	r.view = NewSettings(r.fake, func(f func()) { r.q <- f })
	r.shell.Register(r.view)
	r.shell.Open("settings", nil)
	r.pump("the tray note", func() bool { return r.view.TrayNote.Visible() })
	if !r.view.CloseToTray.Disabled() || !strings.Contains(r.view.TrayNote.Text, "no tray icon") {
		t.Fatalf("disabled %v, note %q", r.view.CloseToTray.Disabled(), r.view.TrayNote.Text)
	}
}

func TestSettingsRetryPolicyValidatesAndSaves(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	test.Type(v.RetryInitial, "soon")
	test.Tap(v.SaveRetry)
	if !strings.Contains(v.RetryStatus.Text, "First retry after") || r.fake.get().Retry != (RetryValues{}) {
		t.Fatalf("a bad duration: status %q, stored %+v", v.RetryStatus.Text, r.fake.get().Retry)
	}
	v.RetryInitial.SetText("2h")
	v.RetryMax.SetText("30m")
	test.Tap(v.SaveRetry)
	r.pump("the core's refusal", func() bool { return strings.HasPrefix(v.RetryStatus.Text, "Not saved") })
	if !strings.Contains(v.RetryStatus.Text, "retry.max") {
		t.Fatalf("status %q", v.RetryStatus.Text)
	}
	v.RetryInitial.SetText("5m")
	v.RetryMax.SetText("")
	v.RetryGiveUp.SetText("3d")
	test.Tap(v.SaveRetry)
	r.pump("the policy to be stored", func() bool { return r.fake.get().Retry.Initial == 5*time.Minute })
	if got := r.fake.get().Retry; got != (RetryValues{Initial: 5 * time.Minute, GiveUpAfter: 72 * time.Hour}) {
		t.Fatalf("stored %+v", got)
	}
	r.pump("the confirmation", func() bool { return strings.HasPrefix(v.RetryStatus.Text, "Saved") })
	r.pump("the button back", func() bool { return !v.SaveRetry.Disabled() })
}

func TestSettingsHistoryRetention(t *testing.T) {
	r := newSettingsRig(t)
	v := r.view
	test.Type(v.KeepDays, "-3")
	test.Tap(v.SaveHistory)
	if !strings.Contains(v.HistoryStatus.Text, "whole number") {
		t.Fatalf("status %q", v.HistoryStatus.Text)
	}
	v.KeepDays.SetText("90")
	v.KeepMessages.SetText("")
	v.Transcripts.SetSelected("Failed sessions only")
	test.Tap(v.SaveHistory)
	r.pump("the retention to be stored", func() bool { return r.fake.get().History.KeepDays == 90 })
	if got := r.fake.get().History; got != (HistoryValues{KeepDays: 90, FailuresOnly: true}) {
		t.Fatalf("stored %+v", got)
	}
}

func TestParseRetryDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90s": 90 * time.Second, "5m": 5 * time.Minute, "2d": 48 * time.Hour, " 1h30m ": 90 * time.Minute} {
		if got, err := ParseRetryDuration(in); err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"soon", "-5m", "xd", "-1d"} {
		if _, err := ParseRetryDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for d, want := range map[time.Duration]string{0: "", 48 * time.Hour: "2d", 3 * time.Hour: "3h", 90 * time.Second: "1m30s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("%v: %q", d, got)
		}
	}
}

// Showing the loaded values saves nothing back (a saved run-while-open
// would restart the outbox runner at every visit).
func TestSettingsLoadingSavesNothing(t *testing.T) {
	r := &settingsRig{rig: newRig(t), fake: newFakeSettings()}
	r.fake.v.Notifications = false
	sub := r.fake.feed.Subscribe(16)
	defer sub.Close()
	r.view = NewSettings(r.fake, func(f func()) { r.q <- f })
	r.shell.Register(r.view)
	r.shell.Open("settings", nil)
	r.pump("the settings", func() bool { return r.view.Theme.Selected != "" })
	r.settle()
	if n := len(sub.C()); n != 0 || r.view.Status.Text != "" {
		t.Fatalf("loading saved %d settings; status %q", n, r.view.Status.Text)
	}
	if !r.view.RunWhileOpen.Checked || r.view.Notifications.Checked {
		t.Fatal("the stored values are not shown")
	}
}

// Two columns only where they fit; they never make the window wider.
func TestSettingsColumnsSwitch(t *testing.T) {
	a, b := canvas.NewRectangle(nil), canvas.NewRectangle(nil)
	a.SetMinSize(fyne.NewSize(400, 300))
	b.SetMinSize(fyne.NewSize(500, 200))
	cols := &settingsColumns{gap: 10}
	body := container.New(cols, a, b)
	cols.objects = body.Objects
	sw := container.New(columnSwitch{cols: cols, at: 600}, body)
	sw.Resize(fyne.NewSize(800, 600))
	if cols.wide || b.Position().Y < 300 {
		t.Fatalf("800 wide: side by side (b at %v)", b.Position())
	}
	if got := cols.MinSize(body.Objects); got.Width != 500 || got.Height != 510 {
		t.Fatalf("stacked min size %v", got)
	}
	sw.Resize(fyne.NewSize(1200, 600))
	if !cols.wide || b.Position().Y != 0 || b.Position().X < 400 {
		t.Fatalf("1200 wide: stacked (b at %v)", b.Position())
	}
	if got := cols.MinSize(body.Objects); got.Width != 500 || got.Height != 300 {
		t.Fatalf("side-by-side min size %v", got)
	}
}
