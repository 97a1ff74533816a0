// Command herald sends and tests mail over SMTP. With no verb it opens the
// window; with a verb (send, sandbox, ...) it runs headless.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/herald-smtp/herald/app"
	"github.com/herald-smtp/herald/app/cli"
	"github.com/herald-smtp/herald/platform/locale"
)

func main() {
	locale.Restore()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv(func(ctx context.Context, dataDir string, s cli.GUIStart) error {
		return app.RunGUIWith(ctx, dataDir, app.GUIOptions{View: s.View, Profile: s.Profile, Mailto: s.Mailto})
	}))
	stop()
	os.Exit(code)
}
