package app

import (
	"context"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/herald-smtp/herald/assets"
	"github.com/herald-smtp/herald/ui"
)

// AppID is Herald's reverse-DNS application ID (also in FyneApp.toml).
const AppID = "io.github.herald_smtp.herald"

// RunGUI opens the engine over dataDir, shows the main window and returns
// when it closes or ctx ends.
func RunGUI(ctx context.Context, dataDir string) error {
	core, err := Open(ctx, dataDir)
	if err != nil {
		return err
	}
	defer core.Close()

	a := fyneapp.NewWithID(AppID)
	a.SetIcon(assets.Icon)
	w := ui.NewMainWindow(a, NewBackend(core), ui.Options{})
	w.Window.SetMaster()
	w.Window.Show()

	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	a.Run()
	w.Stop()
	return nil
}
