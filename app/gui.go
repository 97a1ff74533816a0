package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/assets"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/ui"
)

// AppID is Herald's reverse-DNS application ID (also in FyneApp.toml).
const AppID = "io.github.herald_smtp.herald"

// GUIOptions say how the window starts.
type GUIOptions struct {
	// View is the view to open (`herald --view NAME`, one of ui.ViewNames);
	// empty: the view shown last time.
	View string
	// Profile is the profile the view opens on (`--view wizard --profile P`
	// starts the connection test of P).
	Profile string
	// Mailto is an RFC 6068 mailto: URI; Compose opens filled in with it.
	Mailto string
}

// RunGUI opens the engine over dataDir, shows the main window and returns
// when it closes or ctx ends.
func RunGUI(ctx context.Context, dataDir string) error {
	return RunGUIWith(ctx, dataDir, GUIOptions{})
}

// StartArgs turns the options into the view to open and its argument. It
// checks what it can before the window opens: a bad mailto: link.
func (o GUIOptions) StartArgs() (view string, arg any, err error) {
	view = o.View
	if o.Mailto != "" {
		d, err := message.ParseMailto(o.Mailto)
		if err != nil {
			return "", nil, err
		}
		if view != "" && view != "compose" {
			return "", nil, fmt.Errorf("a mailto: link opens the compose view, not %q", view)
		}
		return "compose", d, nil
	}
	if o.Profile != "" {
		if view == "" {
			view = "wizard"
		}
		arg = ui.ProfileRef{Name: o.Profile}
	}
	return view, arg, nil
}

// StartError is a bad way to start the window (an unknown view, a bad
// mailto: link): the command line's usage error (exit 2).
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// UsageError marks the error as bad usage for the command line.
func (e *StartError) UsageError() bool { return true }

// RunGUIWith is RunGUI with start options. An unknown or not-yet-built view
// name is an error listing the views, returned before the window shows.
func RunGUIWith(ctx context.Context, dataDir string, opts GUIOptions) error {
	view, arg, err := opts.StartArgs()
	if err != nil {
		return &StartError{err}
	}
	if view != "" {
		// Checked before anything opens: a typo in a launcher says so at once.
		if err := ui.CheckViewNameIn(view, ViewNames()); err != nil {
			return &StartError{err}
		}
	}
	// Checked before the core (and its sandbox) or Fyne start: without a
	// display GLFW would panic.
	if err := CheckDisplay(runtime.GOOS, os.Getenv); err != nil {
		return err
	}
	// Nor with a DISPLAY that names no running X server (a stale one).
	if err := CheckDisplayReachable(ctx, runtime.GOOS, os.Getenv, nil); err != nil {
		return err
	}
	// The app exists before any view is built (views measure text).
	a := fyneapp.NewWithID(AppID)
	c, err := core.Open(ctx, dataDir, core.Options{Sandbox: &sandbox.Config{TLS: sandbox.TLSNone}, SandboxFromSettings: true, WatchStore: true})
	if err != nil {
		return err
	}
	defer c.Close()

	a.SetIcon(assets.Icon)
	if !c.ColourEmoji(ctx) {
		useSystemEmoji()
	}
	gc := NewGUICore(c)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s, err := buildShell(a, gc, os.Getenv("DISPLAY"))
	if err != nil {
		return err
	}
	applyAppearance(wctx, s, c)
	s.Start(wctx)
	// The window sends what is due while it is open (unless the settings
	// say otherwise), with the settings' retry policy; started once the
	// views watch, so the Live log and the Outbox see the first sessions.
	if err := c.ApplyWindowRunner(wctx); err != nil {
		s.Stop()
		return err
	}
	tray := ui.NewTray(s, gc, Notifier{App: a, GC: gc}, assets.Icon, systemTray(a, runtime.GOOS, os.Getenv))
	tray.Start(wctx)
	defer tray.Stop()
	if err := s.OpenStart(view, arg); err != nil {
		return err
	}
	if view == "" {
		firstRun(wctx, s, gc)
	}
	s.Window().SetMaster()
	s.Window().Show()
	go releaseStartupMemory(wctx, startupSettle)
	go governMemory(wctx, memoryEvery)

	var watchdog sync.Once
	startWatchdog := func() { watchdog.Do(func() { quitWatchdog(quitLimit, os.Stderr, os.Exit) }) }
	go func() {
		select {
		case <-ctx.Done():
		case <-wctx.Done():
			return
		}
		startWatchdog()
		fyne.Do(s.QuitNow)
	}()
	if err := runUntilQuit(a, s); err != nil {
		return err
	}
	// The window is gone: what is left (stopping the views, the outbox,
	// the sandbox, closing the store) must not keep the process alive.
	startWatchdog()
	s.Stop()
	return nil
}

// quitLimit is how long quitting may take once asked for (a signal, or the
// window closed) before the process ends itself.
const quitLimit = 8 * time.Second

// quitWatchdog ends the process with exit(0) if it is still running limit
// after quitting began, writing every goroutine's stack to w first: a quit
// the person asked for must happen, and what it waited on is worth a bug
// report. Nothing is lost by it: every store write is committed when made,
// and the outbox takes back its claims at the next start.
func quitWatchdog(limit time.Duration, w io.Writer, exit func(int)) *time.Timer {
	return time.AfterFunc(limit, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		fmt.Fprintf(w, "herald: still closing %s after quitting began; stopping now. Where it waited:\n%s\n", limit, buf[:n])
		exit(0)
	})
}

// buildShell is BuildShell for the real window. Its first window opens the
// display: when Xlib refuses it after all (the server answered but wants an
// authorisation Herald lacks, or went away since CheckDisplayReachable),
// GLFW panics; that panic is returned as a *DisplayUnreachableError.
func buildShell(a fyne.App, gc *GUICore, display string) (s *ui.Shell, err error) {
	defer func() {
		if r := recover(); r != nil {
			// GLFW could not start (it logged why: "X11: Failed to open
			// display"); its first call then panics "NotInitialized".
			if e, ok := r.(error); ok && (strings.HasPrefix(e.Error(), "NotInitialized") || strings.Contains(e.Error(), "Failed to open display")) {
				s, err = nil, &DisplayUnreachableError{Display: display, Err: e}
				return
			}
			panic(r)
		}
	}()
	return BuildShell(a, gc, fyne.Do), nil
}

// runUntilQuit runs the app's event loop. Fyne 2.7 can panic in its own
// loop while it closes a window the app asked to quit (a pointer move
// handled after the window has let go of its GLFW window: a nil
// dereference in processMouseMoved). By then the state is saved and the
// views are stopped, so that panic ends the run quietly; a panic before
// quitting is a bug and goes on up (to the command line's panic report).
func runUntilQuit(a fyne.App, s *ui.Shell) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if !s.Ended() {
				panic(r)
			}
			err = nil
		}
	}()
	a.Run()
	return nil
}

// viewSpec is one view of the window: its name, and how to make it.
type viewSpec struct {
	name string
	make func(gc *GUICore, do ui.Dispatcher, win func() fyne.Window) ui.View
}

// views lists the window's views in sidebar order (which is also the
// Ctrl+1…9 order). A new view is one file in ui/ and one line here.
func views() []viewSpec {
	return []viewSpec{
		{"accounts", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return ui.NewAccounts(gc, do) }},
		{"wizard", func(gc *GUICore, do ui.Dispatcher, win func() fyne.Window) ui.View { return newWizard(gc, do, win) }},
		{"compose", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return ui.NewCompose(gc, do) }},
		{"outbox", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View {
			return ui.NewOutbox(gc.Outbox(), do, ui.OutboxOptions{Notifier: gc.Notifier()})
		}},
		{"history", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View {
			return ui.NewHistory(NewHistoryAdapter(gc), do)
		}},
		{"log", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View {
			return ui.NewLiveLog(gc.LiveLog(), do, ui.LiveLogOptions{Capacity: gc.LogCapacity()})
		}},
		{"sandbox", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return newSandboxView(gc, do) }},
		{"bulk", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return newBulk(gc, do) }},
		{"console", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return newConsole(gc, do) }},
		{"settings", func(gc *GUICore, do ui.Dispatcher, _ func() fyne.Window) ui.View { return newSettings(gc, do) }},
	}
}

// ViewNames lists the names of the views this build has, in sidebar order,
// without making any (no Fyne app is needed).
func ViewNames() []string {
	var out []string
	for _, v := range views() {
		out = append(out, v.name)
	}
	return out
}

// Views makes the window's views over gc, in sidebar order. win gives the
// window (for dialogs) once the shell has made it.
func Views(gc *GUICore, do ui.Dispatcher, win func() fyne.Window) []ui.View {
	var out []ui.View
	for _, v := range views() {
		out = append(out, v.make(gc, do, win))
	}
	return out
}

// BuildShell makes the main window with the views over gc.
func BuildShell(a fyne.App, gc *GUICore, do ui.Dispatcher) *ui.Shell {
	s := ui.NewShell(a, ui.ShellOptions{Dispatch: do, Busy: gc.Busy})
	if gc != nil && gc.notifier == nil {
		gc.notifier = Notifier{App: a, GC: gc}
	}
	for _, v := range Views(gc, do, s.Window) {
		s.Register(v)
	}
	return s
}

// wizard is the connection test view, opened on a stored profile by name
// (Accounts' Test button, `--view wizard --profile P`) or blank.
type wizard struct {
	*ui.WizardView
	gc *GUICore
}

func newWizard(gc *GUICore, do ui.Dispatcher, win func() fyne.Window) *wizard {
	if gc == nil {
		// Only named (the --view check, before any Fyne app exists): the
		// wizard builds its widgets when made, which needs the app.
		return &wizard{WizardView: &ui.WizardView{}}
	}
	return &wizard{WizardView: ui.NewWizardView(NewWizardAdapter(gc.c), do, win), gc: gc}
}

// OpenWith implements ui.Opener: a ui.ProfileRef tests that profile at once;
// nil starts a new account from the email step.
func (w *wizard) OpenWith(arg any) error {
	ref, ok := arg.(ui.ProfileRef)
	if !ok || ref.Name == "" {
		w.NewAccount()
		return nil
	}
	p, err := w.gc.c.Book.Get(context.Background(), ref.Name)
	if err != nil {
		return err
	}
	w.TestProfile(p)
	return nil
}

// firstRun opens the Accounts view, which offers the connection test, when
// there are no profiles yet.
func firstRun(ctx context.Context, s *ui.Shell, gc *GUICore) {
	ps, err := gc.List(ctx)
	if err == nil && len(ps) == 0 {
		_ = s.Open("accounts", nil)
	}
}
