package app

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/assets"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
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

// RunGUIWith is RunGUI with start options. An unknown or not-yet-built view
// name is an error listing the views, returned before the window shows.
func RunGUIWith(ctx context.Context, dataDir string, opts GUIOptions) error {
	view, arg, err := opts.StartArgs()
	if err != nil {
		return err
	}
	if view != "" {
		// Checked before anything opens: a typo in a launcher says so at once.
		if err := ui.CheckViewName(view, Views(nil, nil, nil)); err != nil {
			return err
		}
	}
	c, err := core.Open(ctx, dataDir, core.Options{Sandbox: &sandbox.Config{TLS: sandbox.TLSNone}, SandboxFromSettings: true, WatchStore: true})
	if err != nil {
		return err
	}
	defer c.Close()
	// The window sends what is due while it is open.
	if err := c.StartRunner(core.RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		return err
	}

	a := fyneapp.NewWithID(AppID)
	a.SetIcon(assets.Icon)
	gc := NewGUICore(c)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s := BuildShell(a, gc, fyne.Do)
	s.Start(wctx)
	if err := s.OpenStart(view, arg); err != nil {
		return err
	}
	if view == "" {
		firstRun(wctx, s, gc)
	}
	s.Window().SetMaster()
	s.Window().Show()

	go func() {
		<-ctx.Done()
		fyne.Do(s.QuitNow)
	}()
	a.Run()
	s.Stop()
	return nil
}

// Views returns the window's views, one line each, in sidebar order (which
// is also the Ctrl+1…9 order). A new view is one file in ui/ and one line
// here. win gives the window (for dialogs) once the shell has made it.
func Views(gc *GUICore, do ui.Dispatcher, win func() fyne.Window) []ui.View {
	return []ui.View{
		ui.NewAccounts(gc, do),
		newWizard(gc, do, win),
		ui.NewCompose(gc, do),
		newSandboxView(gc, do),
	}
}

// BuildShell makes the main window with the views over gc.
func BuildShell(a fyne.App, gc *GUICore, do ui.Dispatcher) *ui.Shell {
	s := ui.NewShell(a, ui.ShellOptions{Dispatch: do, Busy: gc.Busy})
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
