package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/feed"
)

// SettingsValues are Herald's settings as the Settings view edits them.
type SettingsValues struct {
	// Theme is "" (follow the system), "light" or "dark".
	Theme string
	// TextSize is the text size in percent.
	TextSize int
	// Retry is the global retry policy's settings (zero: the default).
	Retry RetryValues
	// RunWhileOpen sends queued messages while the window is open.
	RunWhileOpen bool
	// LogSize is how many lines the live log keeps.
	LogSize int
	// Notifications turns desktop notifications on.
	Notifications bool
	// ColourEmoji loads the bundled colour emoji font (from the next start).
	ColourEmoji bool
	// CloseToTray hides the window to the tray when it is closed while
	// messages wait, instead of quitting.
	CloseToTray bool
	// History is how much history to keep.
	History HistoryValues
}

// RetryValues are the global retry settings; a zero field keeps the
// built-in default.
type RetryValues struct {
	Initial, Max, GiveUpAfter, WarnAfter time.Duration
}

// HistoryValues are the history retention settings.
type HistoryValues struct {
	// KeepDays and KeepMessages bound the history (0: keep all).
	KeepDays, KeepMessages int
	// FailuresOnly keeps the transcripts of failed sessions only.
	FailuresOnly bool
}

// SettingsInfo is what the Settings view shows but does not edit.
type SettingsInfo struct {
	// DataDir is Herald's data directory.
	DataDir string
	// Keychain names where the secrets live; KeychainOK says whether it
	// answers, KeychainDetail what is wrong when it does not.
	Keychain       string
	KeychainOK     bool
	KeychainDetail string
	// RetryDefaults are the built-in retry defaults, for the placeholders.
	RetryDefaults RetryValues
	// NoTray is true where the desktop shows no tray icon: closing the
	// window then always quits, whatever CloseToTray says.
	NoTray bool
}

// SettingsCore is what the Settings view needs from the core. The methods
// may touch the disk (and the keychain): the view calls them off the UI
// goroutine. Every setter validates, stores and tells the feed (Topic
// Settings); an error says what is wrong with the value.
type SettingsCore interface {
	LoadSettings(ctx context.Context) (SettingsValues, error)
	// Info probes the keychain: it may take a moment.
	Info(ctx context.Context) SettingsInfo
	SetTheme(ctx context.Context, mode string) error
	SetTextSize(ctx context.Context, percent int) error
	// SetRetry stores the global retry settings and restarts the outbox
	// runner with them.
	SetRetry(ctx context.Context, r RetryValues) error
	// SetRunWhileOpen stores the setting and starts or stops the runner.
	SetRunWhileOpen(ctx context.Context, on bool) error
	SetLogSize(ctx context.Context, lines int) error
	SetNotifications(ctx context.Context, on bool) error
	// SetColourEmoji stores the setting; it applies from the next start.
	SetColourEmoji(ctx context.Context, on bool) error
	// SetCloseToTray stores whether closing the window while messages wait
	// hides it to the tray.
	SetCloseToTray(ctx context.Context, on bool) error
	SetHistory(ctx context.Context, h HistoryValues) error
	// OpenDataDir shows the data directory in the file manager.
	OpenDataDir(ctx context.Context) error
	// WatchSettings subscribes to setting changes (feed.Settings).
	WatchSettings() *feed.Sub
}

// Appearance is what the shell offers to change the window's look live;
// the Settings view finds it on its Host.
type Appearance interface {
	SetThemeMode(mode string)
	SetTextScale(scale float32)
}

// TextSizes are the text sizes offered, in percent.
var TextSizes = []int{80, 90, 100, 115, 130, 150, 175, 200}

// LogSizes are the live log sizes offered, in lines.
var LogSizes = []int{1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000}

var themeChoices = []string{"System", "Light", "Dark"}

// Settings is the Settings view. Its widgets are exported for tests.
type Settings struct {
	core SettingsCore
	do   Dispatcher
	host Host

	Theme                                 *widget.RadioGroup
	TextSize                              *widget.Select
	RunWhileOpen, Notifications           *widget.Check
	ColourEmoji                           *widget.Check
	CloseToTray                           *widget.Check
	TrayNote                              *widget.Label
	RetryInitial, RetryMax, RetryGiveUp   *fieldEntry
	RetryWarn                             *fieldEntry
	SaveRetry                             *widget.Button
	RetryStatus                           *widget.Label
	LogSize                               *widget.Select
	KeepDays, KeepMessages                *fieldEntry
	Transcripts                           *widget.RadioGroup
	SaveHistory                           *widget.Button
	HistoryStatus                         *widget.Label
	DataDir                               *widget.Label
	OpenFolder                            *widget.Button
	Keychain, KeychainState, KeychainHint *widget.Label
	KeychainIcon                          *widget.Icon
	Status                                *widget.Label
	values                                SettingsValues
	loading                               bool
	content                               fyne.CanvasObject
	ctx                                   context.Context
	cancel                                context.CancelFunc
	sub                                   *feed.Sub
	mu                                    sync.Mutex
	stopped                               bool
}

// NewSettings returns the Settings view over core.
func NewSettings(core SettingsCore, do Dispatcher) *Settings {
	if do == nil {
		do = fyne.Do
	}
	s := &Settings{core: core, do: do}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Name implements View.
func (s *Settings) Name() string { return "settings" }

// Title implements View.
func (s *Settings) Title() string { return "Settings" }

// Icon implements View.
func (s *Settings) Icon() fyne.Resource { return theme.SettingsIcon() }

// SetHost implements Hosted.
func (s *Settings) SetHost(h Host) { s.host = h }

func settingsSection(title string, rows ...fyne.CanvasObject) fyne.CanvasObject {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return container.NewVBox(append([]fyne.CanvasObject{widget.NewSeparator(), head}, rows...)...)
}

// Content implements View.
func (s *Settings) Content() fyne.CanvasObject {
	if s.content != nil {
		return s.content
	}
	s.Theme = widget.NewRadioGroup(themeChoices, func(choice string) { s.themeChanged(choice) })
	s.Theme.Horizontal = true
	s.Theme.Required = true
	var sizes []string
	for _, n := range TextSizes {
		sizes = append(sizes, fmt.Sprintf("%d%%", n))
	}
	s.TextSize = widget.NewSelect(sizes, func(v string) { s.textSizeChanged(v) })
	s.ColourEmoji = widget.NewCheck("Colour emoji from Herald's own font", func(on bool) {
		if s.loading || on == s.values.ColourEmoji {
			return
		}
		s.values.ColourEmoji = on
		s.save(func(ctx context.Context) error { return s.core.SetColourEmoji(ctx, on) }, s.Status,
			settingsOnOff(on, "Colour emoji from the next start.", "Emoji from the system's fonts from the next start."))
	})
	appearance := settingsSection("Appearance",
		widget.NewForm(widget.NewFormItem("Theme", s.Theme), widget.NewFormItem("Text size", s.TextSize)),
		s.ColourEmoji,
		wrapped("Off, emoji in subjects and messages are drawn with the system's fonts (in colour where it has a colour emoji font). On, Herald loads its bundled colour emoji font: about 20 MB more memory. Applies from the next start."))

	s.RunWhileOpen = widget.NewCheck("Send queued messages while the window is open", func(on bool) {
		if s.loading || on == s.values.RunWhileOpen {
			return
		}
		s.values.RunWhileOpen = on
		s.save(func(ctx context.Context) error { return s.core.SetRunWhileOpen(ctx, on) }, s.Status, settingsOnOff(on, "The outbox sends while the window is open.", "The outbox waits: queued messages are sent by “herald queue run” or when this is turned back on."))
	})
	s.RetryInitial, s.RetryMax, s.RetryGiveUp, s.RetryWarn = newField(s.host, ""), newField(s.host, ""), newField(s.host, ""), newField(s.host, "")
	s.SaveRetry = widget.NewButtonWithIcon("Save retry policy", theme.DocumentSaveIcon(), s.saveRetry)
	s.RetryStatus = wrapped("")
	s.RetryStatus.Hide()
	retryForm := widget.NewForm(
		widget.NewFormItem("First retry after", s.RetryInitial),
		widget.NewFormItem("Longest delay", s.RetryMax),
		widget.NewFormItem("Give up after", s.RetryGiveUp),
		widget.NewFormItem("Warn after", s.RetryWarn),
	)
	outbox := settingsSection("Outbox",
		s.RunWhileOpen,
		wrapped("Retry policy for every profile that sets none of its own: the delay doubles after each failed try up to the longest delay. Durations like 90s, 5m, 2h, 2d; empty: the default shown."),
		retryForm, container.NewBorder(nil, nil, nil, s.SaveRetry, s.RetryStatus))

	var logSizes []string
	for _, n := range LogSizes {
		logSizes = append(logSizes, strconv.Itoa(n)+" lines")
	}
	s.LogSize = widget.NewSelect(logSizes, func(v string) { s.logSizeChanged(v) })
	s.KeepDays, s.KeepMessages = newField(s.host, "0: keep all"), newField(s.host, "0: keep all")
	s.Transcripts = widget.NewRadioGroup([]string{"Every session", "Failed sessions only"}, nil)
	s.Transcripts.Required = true
	s.SaveHistory = widget.NewButtonWithIcon("Save retention", theme.DocumentSaveIcon(), s.saveHistory)
	s.HistoryStatus = wrapped("")
	s.HistoryStatus.Hide()
	logs := settingsSection("Log and history",
		widget.NewForm(
			widget.NewFormItem("Live log keeps", s.LogSize),
			widget.NewFormItem("Keep history (days)", s.KeepDays),
			widget.NewFormItem("Keep history (messages)", s.KeepMessages),
			widget.NewFormItem("Keep transcripts of", s.Transcripts),
		),
		container.NewBorder(nil, nil, nil, s.SaveHistory, s.HistoryStatus))

	s.Notifications = widget.NewCheck("Show desktop notifications", func(on bool) {
		if s.loading || on == s.values.Notifications {
			return
		}
		s.values.Notifications = on
		s.save(func(ctx context.Context) error { return s.core.SetNotifications(ctx, on) }, s.Status, settingsOnOff(on, "Notifications on.", "Notifications off."))
	})
	notify := settingsSection("Notifications", s.Notifications, wrapped("When a message fails for good and when a batch has been sent."))

	s.CloseToTray = widget.NewCheck("Close to the tray while messages are waiting", func(on bool) {
		if s.loading || on == s.values.CloseToTray {
			return
		}
		s.values.CloseToTray = on
		s.save(func(ctx context.Context) error { return s.core.SetCloseToTray(ctx, on) }, s.Status,
			settingsOnOff(on, "Closing the window while messages wait keeps Herald sending in the tray.", "Closing the window quits Herald."))
	})
	s.TrayNote = wrapped("")
	s.TrayNote.Importance = widget.WarningImportance
	s.TrayNote.Hide()
	window := settingsSection("Window", s.CloseToTray,
		wrapped("With messages still to send, closing the window hides it to the tray icon: sending goes on, and Herald quits once the outbox is empty. Off, closing quits (asking first while a message is being sent)."),
		s.TrayNote)

	s.DataDir = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	s.DataDir.Truncation = fyne.TextTruncateEllipsis
	s.OpenFolder = widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), s.openFolder)
	s.Keychain = wrapped("")
	s.KeychainIcon = widget.NewIcon(theme.QuestionIcon())
	s.KeychainState = widget.NewLabel("Checking…")
	s.KeychainHint = wrapped("")
	s.KeychainHint.Hide()
	data := settingsSection("Data and secrets",
		widget.NewForm(
			widget.NewFormItem("Data folder", container.NewBorder(nil, nil, nil, s.OpenFolder, s.DataDir)),
			widget.NewFormItem("Secrets", container.NewVBox(s.Keychain, container.NewHBox(s.KeychainIcon, s.KeychainState), s.KeychainHint)),
		),
		wrapped("Profiles, the outbox, the history and these settings live in the data folder (one SQLite file). Passwords, tokens and DKIM keys never do: they are kept in the keychain above."))

	s.Status = widget.NewLabel("")
	s.Status.Truncation = fyne.TextTruncateEllipsis
	s.Status.Hide()
	// Two columns side by side in a wide window, one under the other in a
	// small one.
	cols := &settingsColumns{gap: theme.Padding() * 4}
	body := container.New(cols, container.NewVBox(appearance, outbox, window), container.NewVBox(logs, notify, data))
	cols.objects = body.Objects
	scroll := container.NewVScroll(container.NewPadded(body))
	s.content = container.NewBorder(nil, s.Status, nil, nil, container.New(columnSwitch{cols: cols, at: 980}, scroll))
	return s.content
}

func settingsOnOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// Start implements View: it loads the settings and the keychain's state,
// and follows changes made elsewhere (the View menu's theme).
func (s *Settings) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.sub = s.core.WatchSettings()
	s.reload()
	ctx = s.ctx
	go func() {
		info := s.core.Info(ctx)
		s.do(func() { s.showInfo(info) })
	}()
	go coalesce(ctx, s.sub.C(), 100*time.Millisecond, s.reload)
}

// Stop implements View.
func (s *Settings) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	if s.sub != nil {
		s.sub.Close()
	}
}

func (s *Settings) reload() {
	ctx := s.ctx
	go func() {
		v, err := s.core.LoadSettings(ctx)
		s.do(func() {
			if err != nil {
				s.setStatus(s.Status, "Could not read the settings: "+err.Error(), true)
				return
			}
			s.show(v)
		})
	}()
}

// show puts v into the widgets without saving anything back.
func (s *Settings) show(v SettingsValues) {
	s.loading = true
	defer func() { s.loading = false }()
	s.values = v
	s.Theme.SetSelected(themeChoices[settingsThemeIndex(v.Theme)])
	s.TextSize.SetSelected(fmt.Sprintf("%d%%", v.TextSize))
	s.RunWhileOpen.SetChecked(v.RunWhileOpen)
	s.Notifications.SetChecked(v.Notifications)
	s.ColourEmoji.SetChecked(v.ColourEmoji)
	s.CloseToTray.SetChecked(v.CloseToTray)
	s.LogSize.SetSelected(strconv.Itoa(v.LogSize) + " lines")
	s.RetryInitial.SetText(shortDuration(v.Retry.Initial))
	s.RetryMax.SetText(shortDuration(v.Retry.Max))
	s.RetryGiveUp.SetText(shortDuration(v.Retry.GiveUpAfter))
	s.RetryWarn.SetText(shortDuration(v.Retry.WarnAfter))
	s.KeepDays.SetText(countText(v.History.KeepDays))
	s.KeepMessages.SetText(countText(v.History.KeepMessages))
	s.Transcripts.SetSelected(s.Transcripts.Options[map[bool]int{false: 0, true: 1}[v.History.FailuresOnly]])
}

func (s *Settings) showInfo(in SettingsInfo) {
	s.DataDir.SetText(in.DataDir)
	s.Keychain.SetText(in.Keychain)
	if in.KeychainOK {
		s.KeychainIcon.SetResource(theme.ConfirmIcon())
		s.KeychainState.SetText("Working: passwords are stored there")
		s.KeychainState.Importance = widget.SuccessImportance
		s.KeychainHint.Hide()
	} else {
		s.KeychainIcon.SetResource(theme.WarningIcon())
		s.KeychainState.SetText("Not reachable: profiles ask for their password each time")
		s.KeychainState.Importance = widget.WarningImportance
		s.KeychainHint.SetText(in.KeychainDetail)
		s.KeychainHint.Show()
	}
	s.KeychainState.Refresh()
	if in.NoTray {
		s.CloseToTray.Disable()
		s.TrayNote.SetText("This desktop shows no tray icon, so closing the window always quits.")
		s.TrayNote.Show()
	} else {
		s.CloseToTray.Enable()
		s.TrayNote.Hide()
	}
	d := in.RetryDefaults
	s.RetryInitial.SetPlaceHolder("default " + shortDuration(d.Initial))
	s.RetryMax.SetPlaceHolder("default " + shortDuration(d.Max))
	s.RetryGiveUp.SetPlaceHolder("default " + shortDuration(d.GiveUpAfter))
	s.RetryWarn.SetPlaceHolder("default " + shortDuration(d.WarnAfter))
}

func settingsThemeIndex(mode string) int {
	switch mode {
	case "light":
		return 1
	case "dark":
		return 2
	}
	return 0
}

func (s *Settings) appearance() Appearance {
	if a, ok := s.host.(Appearance); ok {
		return a
	}
	return nil
}

func (s *Settings) themeChanged(choice string) {
	if s.loading || choice == "" {
		return
	}
	mode := [...]string{"", "light", "dark"}[max(0, settingsIndex(themeChoices, choice))]
	if mode == s.values.Theme {
		return
	}
	s.values.Theme = mode
	if a := s.appearance(); a != nil {
		a.SetThemeMode(mode)
	}
	s.save(func(ctx context.Context) error { return s.core.SetTheme(ctx, mode) }, s.Status, "Theme: "+map[string]string{"": "the system's", "light": "light", "dark": "dark"}[mode]+".")
}

func (s *Settings) textSizeChanged(v string) {
	if s.loading {
		return
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil || n == s.values.TextSize {
		return
	}
	s.values.TextSize = n
	if a := s.appearance(); a != nil {
		a.SetTextScale(float32(n) / 100)
	}
	s.save(func(ctx context.Context) error { return s.core.SetTextSize(ctx, n) }, s.Status, "Text size: "+v+".")
}

func (s *Settings) logSizeChanged(v string) {
	if s.loading {
		return
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, " lines"))
	if err != nil || n == s.values.LogSize {
		return
	}
	s.values.LogSize = n
	s.save(func(ctx context.Context) error { return s.core.SetLogSize(ctx, n) }, s.Status, "The live log keeps the last "+v+".")
}

func settingsIndex(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func (s *Settings) saveRetry() {
	var r RetryValues
	var errs []string
	for _, f := range []struct {
		name string
		e    *fieldEntry
		d    *time.Duration
	}{{"First retry after", s.RetryInitial, &r.Initial}, {"Longest delay", s.RetryMax, &r.Max}, {"Give up after", s.RetryGiveUp, &r.GiveUpAfter}, {"Warn after", s.RetryWarn, &r.WarnAfter}} {
		d, err := ParseRetryDuration(f.e.Text)
		if err != nil {
			errs = append(errs, f.name+": "+err.Error())
			continue
		}
		*f.d = d
	}
	if len(errs) > 0 {
		s.setStatus(s.RetryStatus, strings.Join(errs, "\n"), true)
		return
	}
	s.SaveRetry.Disable()
	s.save(func(ctx context.Context) error {
		defer s.do(s.SaveRetry.Enable)
		return s.core.SetRetry(ctx, r)
	}, s.RetryStatus, "Saved: the outbox uses this policy now.")
}

func (s *Settings) saveHistory() {
	var h HistoryValues
	var errs []string
	for _, f := range []struct {
		name string
		e    *fieldEntry
		n    *int
	}{{"Days", s.KeepDays, &h.KeepDays}, {"Messages", s.KeepMessages, &h.KeepMessages}} {
		t := strings.TrimSpace(f.e.Text)
		if t == "" {
			continue
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("%s: %q is not a whole number (0 keeps all)", f.name, t))
			continue
		}
		*f.n = n
	}
	if len(errs) > 0 {
		s.setStatus(s.HistoryStatus, strings.Join(errs, "\n"), true)
		return
	}
	h.FailuresOnly = s.Transcripts.Selected == s.Transcripts.Options[1]
	s.save(func(ctx context.Context) error { return s.core.SetHistory(ctx, h) }, s.HistoryStatus, "Saved.")
}

// save runs set off the UI goroutine and shows its outcome in label.
func (s *Settings) save(set func(context.Context) error, label *widget.Label, done string) {
	ctx := s.ctx
	go func() {
		err := set(ctx)
		s.do(func() {
			if err != nil {
				s.setStatus(label, "Not saved: "+err.Error(), true)
				return
			}
			s.setStatus(label, done, false)
		})
	}()
}

func (s *Settings) setStatus(l *widget.Label, text string, bad bool) {
	l.Importance = widget.MediumImportance
	if bad {
		l.Importance = widget.DangerImportance
	}
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func (s *Settings) openFolder() {
	ctx := s.ctx
	go func() {
		err := s.core.OpenDataDir(ctx)
		s.do(func() {
			if err != nil {
				s.setStatus(s.Status, "Could not open the folder: "+err.Error(), true)
			}
		})
	}()
}

// ParseRetryDuration reads a duration as people write it: Go's syntax (90s,
// 5m, 1h30m) or whole days (2d); "" is zero (the default).
func ParseRetryDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("write a duration like 90s, 5m, 2h or 2d")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// fmtDuration writes d the short way ParseRetryDuration reads ("" for zero).
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func countText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// settingsColumns lays out two objects side by side (wide) or one under
// the other.
type settingsColumns struct {
	wide    bool
	gap     float32
	objects []fyne.CanvasObject
}

// MinSize implements fyne.Layout. Its width is that of one column, so that
// two columns never make the window wider: columnSwitch only asks for them
// where they fit.
func (c *settingsColumns) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var sz fyne.Size
	for i, o := range objects {
		m := o.MinSize()
		sz.Width = max(sz.Width, m.Width)
		if c.wide {
			sz.Height = max(sz.Height, m.Height)
		} else {
			sz.Height += m.Height
			if i > 0 {
				sz.Height += c.gap
			}
		}
	}
	return sz
}

// sideBySide is the width two columns need.
func (c *settingsColumns) sideBySide() float32 {
	w := c.gap * float32(len(c.objects)-1)
	for _, o := range c.objects {
		w += o.MinSize().Width
	}
	return w + 4*theme.Padding()
}

// Layout implements fyne.Layout.
func (c *settingsColumns) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	if c.wide {
		w := (size.Width - c.gap*float32(len(objects)-1)) / float32(len(objects))
		for i, o := range objects {
			o.Move(fyne.NewPos(float32(i)*(w+c.gap), 0))
			o.Resize(fyne.NewSize(w, o.MinSize().Height))
		}
		return
	}
	y := float32(0)
	for _, o := range objects {
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + c.gap
	}
}

// columnSwitch fills its object and, before it is laid out, tells cols
// whether the width allows two columns (at least at, and their own).
type columnSwitch struct {
	cols *settingsColumns
	at   float32
}

// MinSize implements fyne.Layout.
func (c columnSwitch) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var sz fyne.Size
	for _, o := range objects {
		sz = sz.Max(o.MinSize())
	}
	return sz
}

// Layout implements fyne.Layout.
func (c columnSwitch) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	c.cols.wide = size.Width >= max(c.at, c.cols.sideBySide())
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
