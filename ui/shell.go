package ui

import (
	"context"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Preference keys the shell keeps (never secrets).
const (
	prefWidth  = "shell.width"
	prefHeight = "shell.height"
	prefView   = "shell.view"
	prefTheme  = "shell.theme" // "", "light" or "dark"
)

// ShellOptions adjust a Shell.
type ShellOptions struct {
	// Dispatch runs f on the UI goroutine. Default: fyne.Do. Tests inject a
	// queue they drain.
	Dispatch Dispatcher
	// Busy reports work in flight that quitting would cut off (messages
	// being sent by the core); Quit asks first while it, or any Busy view,
	// returns true.
	Busy func() bool
	// Preferences keeps window size, last view, theme and split positions.
	// Default: the app's preferences.
	Preferences fyne.Preferences
	// Title is the window title. Default: "Herald".
	Title string
}

// Shell is Herald's main window: a sidebar of the registered views with
// their badges, the shown view, a status bar, a menu bar and the keyboard
// shortcuts.
//
// Register each view with one line, in sidebar order, then call Open (or
// OpenStart) and Show:
//
//	s := ui.NewShell(a, ui.ShellOptions{})
//	s.Register(ui.NewAccounts(core, do))
//	s.Register(wizard)
//	s.Register(ui.NewCompose(core, do))
//	s.Start(ctx)
//	err := s.OpenStart(opts.View) // "" : the last view, or the first
//	s.Window().ShowAndRun()
type Shell struct {
	app    fyne.App
	win    fyne.Window
	do     Dispatcher
	prefs  fyne.Preferences
	busyFn func() bool

	views   []View
	started map[string]bool
	current int

	sidebar *widget.List
	content *fyne.Container
	status  *widget.Label
	split   *container.Split
	// statusItems holds the views' status bar widgets (StatusContributor).
	statusItems *fyne.Container

	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once
	// quitting is set once the user confirmed quitting while busy.
	quitting bool
	// ended is set when the app starts to quit (see Ended).
	ended atomic.Bool
	// Quit ends the app; tests replace it to observe it.
	Quit func()
	// OnThemeMode, when set, is told each theme chosen (the menu's or
	// SetThemeMode's), so that the app can keep it in its settings.
	OnThemeMode func(mode string)
	textScale   float32
}

// NewShell builds the main window of a. Register views before showing it.
func NewShell(a fyne.App, opts ShellOptions) *Shell {
	s := &Shell{app: a, do: opts.Dispatch, prefs: opts.Preferences, busyFn: opts.Busy, started: map[string]bool{}, current: -1}
	if s.do == nil {
		s.do = fyne.Do
	}
	if s.prefs == nil {
		s.prefs = a.Preferences()
	}
	title := opts.Title
	if title == "" {
		title = "Herald"
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.Quit = a.Quit
	s.win = a.NewWindow(title)
	s.applyTheme(s.prefs.String(prefTheme))

	s.sidebar = widget.NewList(
		func() int { return len(s.views) },
		func() fyne.CanvasObject {
			title := widget.NewLabel("")
			title.Truncation = fyne.TextTruncateEllipsis
			badge := widget.NewLabel("")
			badge.Importance = widget.HighImportance
			badge.TextStyle = fyne.TextStyle{Bold: true}
			return container.NewBorder(nil, nil, widget.NewIcon(nil), badge, title)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.views) {
				return
			}
			v := s.views[id]
			c := o.(*fyne.Container)
			c.Objects[0].(*widget.Label).SetText(v.Title())
			c.Objects[1].(*widget.Icon).SetResource(v.Icon())
			badge := ""
			if b, ok := v.(Badged); ok {
				badge = b.Badge()
			}
			c.Objects[2].(*widget.Label).SetText(badge)
		},
	)
	s.sidebar.OnSelected = func(id widget.ListItemID) {
		if id != s.current && id < len(s.views) {
			s.show(id)
		}
	}
	s.content = container.NewStack()
	s.status = widget.NewLabel("F1: keyboard shortcuts · Ctrl+1…9: the views · Ctrl+N: new message")
	s.status.Truncation = fyne.TextTruncateEllipsis

	side := container.NewBorder(nil, nil, nil, widget.NewSeparator(), s.sidebar)
	split := container.NewHSplit(side, container.NewBorder(nil, nil, nil, nil, s.content))
	split.Offset = s.prefs.FloatWithFallback("shell.split", 0.16)
	s.split = split
	s.statusItems = container.NewHBox()
	bar := container.NewBorder(widget.NewSeparator(), nil, nil, s.statusItems, s.status)
	s.win.SetContent(container.NewBorder(nil, bar, nil, nil, split))

	w, h := s.prefs.FloatWithFallback(prefWidth, 1200), s.prefs.FloatWithFallback(prefHeight, 760)
	s.win.Resize(fyne.NewSize(float32(max(w, 600)), float32(max(h, 400))))
	s.win.SetCloseIntercept(s.RequestQuit)
	s.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { s.drop(uris) })
	s.win.Canvas().SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyF1 {
			s.ShowHelp()
		}
	})
	return s
}

// Window returns the main window.
func (s *Shell) Window() fyne.Window { return s.win }

// Preferences returns the preferences the shell keeps its state in.
func (s *Shell) Preferences() fyne.Preferences { return s.prefs }

// SetStatus shows text in the status bar.
func (s *Shell) SetStatus(text string) {
	if i := strings.IndexAny(text, "\r\n"); i >= 0 {
		text = text[:i] + " …"
	}
	s.status.SetText(text)
}

// Status returns the status bar's text.
func (s *Shell) Status() string { return s.status.Text }

// Register adds v to the sidebar, the View menu and the Ctrl+1…9 shortcuts
// (in the order registered). A view with a name already registered replaces
// nothing: it is a programming error and panics.
func (s *Shell) Register(v View) {
	for _, o := range s.views {
		if o.Name() == v.Name() {
			panic("ui: view " + v.Name() + " registered twice")
		}
	}
	if h, ok := v.(Hosted); ok {
		h.SetHost(s)
	}
	s.views = append(s.views, v)
	if sc, ok := v.(StatusContributor); ok {
		s.statusItems.Add(sc.StatusItem())
	}
	if b, ok := v.(Badged); ok {
		b.SetBadgeChanged(func() { s.sidebar.Refresh() })
	}
	s.sidebar.Refresh()
	s.buildMenus()
}

// Views returns the registered views in sidebar order.
func (s *Shell) Views() []View { return slices.Clone(s.views) }

// Current returns the name of the shown view ("" before the first Open).
func (s *Shell) Current() string {
	if s.current < 0 {
		return ""
	}
	return s.views[s.current].Name()
}

// Start remembers ctx for the views' Start calls. Badged and Eager views
// start now (after their Content is built), so their sidebar badges are
// live and the Live log records from the start; the others start when
// first shown. The views stop when ctx ends or Stop is
// called.
func (s *Shell) Start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, v := range s.views {
		_, badged := v.(Badged)
		_, eager := v.(Eager)
		if (badged || eager) && !s.started[v.Name()] {
			s.started[v.Name()] = true
			v.Content()
			v.Start(s.ctx)
		}
	}
}

// Open implements Navigator: it shows the view called name and hands it arg.
func (s *Shell) Open(name string, arg any) error {
	i := s.index(name)
	if i < 0 {
		return s.unknownView(name)
	}
	s.show(i)
	if arg != nil {
		o, ok := s.views[i].(Opener)
		if !ok {
			return fmt.Errorf("the %s view takes no argument (got %T)", name, arg)
		}
		return o.OpenWith(arg)
	}
	return nil
}

// OpenStart opens the first view: name when given (an error names the
// views when it is not registered), else the view shown last time, else the
// first registered view.
func (s *Shell) OpenStart(name string, arg any) error {
	if name != "" {
		return s.Open(name, arg)
	}
	if last := s.prefs.String(prefView); s.index(last) >= 0 {
		return s.Open(last, arg)
	}
	if len(s.views) == 0 {
		return fmt.Errorf("no views registered")
	}
	return s.Open(s.views[0].Name(), arg)
}

// CheckViewName returns nil when name is a view that exists in views, and
// otherwise an error listing them (for `herald --view NAME`, checked before
// the window opens).
func CheckViewName(name string, views []View) error {
	have := make([]string, len(views))
	for i, v := range views {
		have[i] = v.Name()
	}
	return CheckViewNameIn(name, have)
}

// CheckViewNameIn is CheckViewName over the names of the views built,
// for a caller that checks before any view (or the Fyne app) exists.
func CheckViewNameIn(name string, have []string) error {
	if slices.Contains(have, name) {
		return nil
	}
	return unknownViewErr(name, have)
}

func (s *Shell) unknownView(name string) error {
	have := make([]string, len(s.views))
	for i, v := range s.views {
		have[i] = v.Name()
	}
	return unknownViewErr(name, have)
}

func unknownViewErr(name string, have []string) error {
	if slices.Contains(ViewNames, name) {
		return fmt.Errorf("the %q view is not built yet; the views are: %s", name, strings.Join(have, ", "))
	}
	return fmt.Errorf("no view is called %q; the views are: %s", name, strings.Join(have, ", "))
}

func (s *Shell) index(name string) int {
	for i, v := range s.views {
		if v.Name() == name {
			return i
		}
	}
	return -1
}

func (s *Shell) show(i int) {
	v := s.views[i]
	content := v.Content()
	if !s.started[v.Name()] {
		s.started[v.Name()] = true
		v.Start(s.ctx)
	}
	s.current = i
	s.content.Objects = []fyne.CanvasObject{content}
	s.content.Refresh()
	s.sidebar.Select(i)
	s.win.SetTitle("Herald — " + v.Title())
	s.prefs.SetString(prefView, v.Name())
}

// shortcut builds Ctrl+key.
func ctrl(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

// item makes a menu item and registers its shortcut on the canvas too, so it
// works where the menu bar does not see keys (tests, no focus).
func (s *Shell) item(label string, sc fyne.Shortcut, do func()) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, do)
	if sc != nil {
		it.Shortcut = sc
		s.win.Canvas().AddShortcut(sc, func(fyne.Shortcut) { do() })
	}
	return it
}

// press runs b's handler as a click would, for a menu action that stands
// for a button: not when the button is not built yet, hidden or disabled.
func press(b *widget.Button) {
	if b != nil && b.Visible() && !b.Disabled() && b.OnTapped != nil {
		b.OnTapped()
	}
}

var digitKeys = []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5, fyne.Key6, fyne.Key7, fyne.Key8, fyne.Key9}

// buildMenus (re)builds the menu bar from the registered views and their
// actions.
func (s *Shell) buildMenus() {
	c := s.win.Canvas()
	// AddShortcut replaces a shortcut of the same name, so rebuilding is safe.
	menus := map[string][]*fyne.MenuItem{}
	order := []string{"File", "Edit", "View", "Account", "Message", "Help"}

	// View: every view, Ctrl+1…9.
	for i, v := range s.views {
		var sc fyne.Shortcut
		if i < len(digitKeys) {
			sc = ctrl(digitKeys[i])
		}
		name := v.Name()
		menus["View"] = append(menus["View"], s.item(v.Title(), sc, func() { s.Open(name, nil) }))
	}
	menus["View"] = append(menus["View"], fyne.NewMenuItemSeparator(),
		s.themeItem("Theme: follow the system", ""), s.themeItem("Theme: light", "light"), s.themeItem("Theme: dark", "dark"))

	if s.index("compose") >= 0 {
		menus["Message"] = append(menus["Message"], s.item("New message", ctrl(fyne.KeyN), s.newMessage))
	}
	// The first view to fill a menu has its items at the top of it; a
	// later view with more than two items there gets a submenu of its
	// title (Message → Outbox ▸), so that no menu grows past the window.
	firstView := map[string]string{} // menu -> the first view in it
	for _, v := range s.views {
		a, ok := v.(Actioner)
		if !ok {
			continue
		}
		name := v.Name()
		byMenu := map[string][]*fyne.MenuItem{}
		var menuOrder []string
		for _, act := range a.Actions() {
			act := act
			run := func() {
				shown := s.Current() == name
				if !shown {
					_ = s.Open(name, nil)
					if act.WhenShown {
						return
					}
				}
				act.Do()
			}
			// A shortcut is the window's, not the view's: the menu bar runs
			// the first item with it, so each action needs its own.
			it := s.item(act.Label, act.Shortcut, run)
			if _, ok := byMenu[act.Menu]; !ok {
				menuOrder = append(menuOrder, act.Menu)
			}
			byMenu[act.Menu] = append(byMenu[act.Menu], it)
		}
		for _, m := range menuOrder {
			items := byMenu[m]
			first, ok := firstView[m]
			if !ok {
				firstView[m], first = name, name
			}
			if len(menus[m]) > 0 {
				menus[m] = append(menus[m], fyne.NewMenuItemSeparator())
			}
			if first != name && len(items) > 2 {
				sub := fyne.NewMenuItem(v.Title(), nil)
				sub.ChildMenu = fyne.NewMenu(v.Title(), items...)
				items = []*fyne.MenuItem{sub}
			}
			menus[m] = append(menus[m], items...)
		}
	}
	menus["Edit"] = append(menus["Edit"], s.item("Find", ctrl(fyne.KeyF), s.focusSearch))
	menus["Help"] = append(menus["Help"], fyne.NewMenuItem("Keyboard shortcuts and about (F1)", s.ShowHelp))
	// The last File item is Quit: Fyne uses it instead of adding its own.
	quit := s.item("Quit", ctrl(fyne.KeyQ), s.RequestQuit)
	quit.IsQuit = true
	if len(menus["File"]) > 0 {
		menus["File"] = append(menus["File"], fyne.NewMenuItemSeparator())
	}
	menus["File"] = append(menus["File"], quit)

	var top []*fyne.Menu
	for _, m := range order {
		if len(menus[m]) > 0 {
			top = append(top, fyne.NewMenu(m, menus[m]...))
		}
	}
	s.win.SetMainMenu(fyne.NewMainMenu(top...))
	// Ctrl+Enter on the keypad too, where Compose offers Send on Return.
	for _, v := range s.views {
		if a, ok := v.(Actioner); ok {
			for _, act := range a.Actions() {
				if cs, ok := act.Shortcut.(*desktop.CustomShortcut); ok && cs.KeyName == fyne.KeyReturn {
					act, name := act, v.Name()
					c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyEnter, Modifier: cs.Modifier}, func(fyne.Shortcut) {
						if s.Current() == name {
							act.Do()
						}
					})
				}
			}
		}
	}
}

func (s *Shell) newMessage() {
	_ = s.Open("compose", nil)
	if n, ok := s.views[s.current].(interface{ NewMessage() }); ok {
		n.NewMessage()
	}
}

func (s *Shell) focusSearch() {
	if s.current < 0 {
		return
	}
	if f, ok := s.views[s.current].(Searchable); ok {
		f.FocusSearch()
	}
}

func (s *Shell) themeItem(label, mode string) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, nil)
	it.Checked = s.prefs.String(prefTheme) == mode
	it.Action = func() {
		s.SetThemeMode(mode)
	}
	return it
}

// SetThemeMode sets the theme: "" follows the system, "light" or "dark"
// override it. The choice is kept in the preferences and handed to
// OnThemeMode.
func (s *Shell) SetThemeMode(mode string) {
	s.prefs.SetString(prefTheme, mode)
	s.applyTheme(mode)
	s.buildMenus()
	if s.OnThemeMode != nil {
		s.OnThemeMode(mode)
	}
}

// ThemeMode returns the theme set: "", "light" or "dark".
func (s *Shell) ThemeMode() string { return s.prefs.String(prefTheme) }

// SetTextScale scales every text of the window (1 is the theme's size; 0.8
// to 2 are sensible), at once.
func (s *Shell) SetTextScale(scale float32) {
	if scale <= 0 {
		scale = 1
	}
	s.textScale = scale
	s.applyTheme(s.prefs.String(prefTheme))
}

// TextScale returns the text scale set (1 by default).
func (s *Shell) TextScale() float32 {
	if s.textScale <= 0 {
		return 1
	}
	return s.textScale
}

func (s *Shell) applyTheme(mode string) {
	t := variantTheme{Theme: theme.DefaultTheme(), scale: s.TextScale()}
	switch mode {
	case "light":
		t.v = theme.VariantLight
	case "dark":
		t.v = theme.VariantDark
	default:
		if t.scale == 1 {
			s.app.Settings().SetTheme(theme.DefaultTheme())
			return
		}
		t.follow = true
	}
	s.app.Settings().SetTheme(t)
}

// variantTheme is a theme with its light/dark variant fixed (unless follow)
// and its text scaled.
type variantTheme struct {
	fyne.Theme
	v      fyne.ThemeVariant
	follow bool
	scale  float32
}

func (t variantTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.follow {
		return t.Theme.Color(n, v)
	}
	return t.Theme.Color(n, t.v)
}

// Size scales the text sizes (and the icons that stand in text).
func (t variantTheme) Size(n fyne.ThemeSizeName) float32 {
	sz := t.Theme.Size(n)
	if t.scale <= 0 || t.scale == 1 {
		return sz
	}
	switch n {
	case theme.SizeNameText, theme.SizeNameHeadingText, theme.SizeNameSubHeadingText, theme.SizeNameCaptionText, theme.SizeNameInlineIcon:
		return sz * t.scale
	}
	return sz
}

// Shortcuts lists the window's keyboard shortcuts, for the help dialog and
// the README.
func (s *Shell) Shortcuts() [][2]string {
	out := [][2]string{}
	for i, v := range s.views {
		if i < len(digitKeys) {
			out = append(out, [2]string{fmt.Sprintf("Ctrl+%d", i+1), v.Title()})
		}
	}
	for _, v := range s.views {
		if a, ok := v.(Actioner); ok {
			for _, act := range a.Actions() {
				if cs, ok := act.Shortcut.(*desktop.CustomShortcut); ok && cs.KeyName != fyne.KeyReturn {
					out = append(out, [2]string{shortcutText(cs), act.Label + " (" + v.Title() + ")"})
				}
			}
		}
	}
	out = append(out,
		[2]string{"Ctrl+N", "New message (Compose)"},
		[2]string{"Ctrl+Enter", "Send (in Compose)"},
		[2]string{"Ctrl+F", "Search the list of the view"},
		[2]string{"Tab / Shift+Tab", "Next / previous field"},
		[2]string{"Alt+F8 (held)", "Show a password while held (in a password field)"},
		[2]string{"Ctrl+Q", "Quit (asks while messages are sending)"},
		[2]string{"F1", "This help"},
	)
	return out
}

func shortcutText(cs *desktop.CustomShortcut) string {
	var parts []string
	if cs.Modifier&(fyne.KeyModifierControl|fyne.KeyModifierSuper) != 0 {
		parts = append(parts, "Ctrl")
	}
	if cs.Modifier&fyne.KeyModifierAlt != 0 {
		parts = append(parts, "Alt")
	}
	if cs.Modifier&fyne.KeyModifierShift != 0 {
		parts = append(parts, "Shift")
	}
	return strings.Join(append(parts, string(cs.KeyName)), "+")
}

// ShowHelp shows the keyboard shortcuts and what Herald is.
func (s *Shell) ShowHelp() {
	grid := container.New(layout.NewFormLayout())
	for _, sc := range s.Shortcuts() {
		grid.Add(widget.NewLabelWithStyle(sc[0], fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
		grid.Add(widget.NewLabel(sc[1]))
	}
	about := widget.NewLabel("Herald sends and tests mail over SMTP: set up an account, test it step by step, send and see every line of the session.\n" +
		"Start on a view with: herald --view NAME (" + strings.Join(ViewNames, ", ") + ").\n" +
		"Open a mailto: link with: herald mailto:someone@example.com?subject=Hi")
	about.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Herald — keyboard shortcuts", "Close", container.NewVBox(grid, widget.NewSeparator(), about), s.win)
	d.Resize(fyne.NewSize(560, 0))
	d.Show()
}

// busy reports whether quitting would cut off work in flight.
func (s *Shell) busy() bool {
	if s.busyFn != nil && s.busyFn() {
		return true
	}
	for _, v := range s.views {
		if b, ok := v.(Busy); ok && b.Busy() {
			return true
		}
	}
	return false
}

// RequestQuit quits, asking first while messages are sending (Ctrl+Q, the
// Quit menu item and the window's close button).
func (s *Shell) RequestQuit() {
	if s.quitting || !s.busy() {
		s.quit()
		return
	}
	dialog.ShowConfirm("Quit while sending?",
		"Messages are being sent right now. Quitting stops the send; a message cut off may or may not have arrived.\nQuit anyway?",
		func(ok bool) {
			if ok {
				s.quitting = true
				s.quit()
			}
		}, s.win)
}

// Ended reports whether the app has started to quit: the window's state is
// saved and the views are stopped, so what goes wrong in Fyne after that
// (while it closes the window) loses nothing.
func (s *Shell) Ended() bool { return s.ended.Load() }

// QuitNow saves the window's state and quits without asking (the process
// was told to stop).
func (s *Shell) QuitNow() { s.quit() }

func (s *Shell) quit() {
	s.ended.Store(true)
	s.savePrefs()
	s.Stop()
	s.Quit()
}

func (s *Shell) savePrefs() {
	sz := s.win.Canvas().Size()
	if sz.Width > 0 && sz.Height > 0 {
		s.prefs.SetFloat(prefWidth, float64(sz.Width))
		s.prefs.SetFloat(prefHeight, float64(sz.Height))
	}
	s.prefs.SetFloat("shell.split", s.split.Offset)
}

// Stop stops every started view. It is safe to call more than once.
func (s *Shell) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		for _, v := range s.views {
			if s.started[v.Name()] {
				v.Stop()
			}
		}
	})
}

func (s *Shell) drop(uris []fyne.URI) {
	try := func(i int) bool {
		if t, ok := s.views[i].(DropTarget); ok && t.AcceptsDrop(uris) {
			if i != s.current {
				s.show(i)
			}
			t.Dropped(uris)
			return true
		}
		return false
	}
	if s.current >= 0 && try(s.current) {
		return
	}
	for i := range s.views {
		if i != s.current && try(i) {
			return
		}
	}
	s.SetStatus("Herald does not know what to do with the dropped file(s): drop profile files (autoconfig XML, prefs.js, Herald JSON) to import them.")
}
