package app

import (
	"context"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/ui"
)

// LiveLogAdapter implements ui.LiveLogCore over the core's feed.
type LiveLogAdapter struct {
	c *core.Core
}

var _ ui.LiveLogCore = (*LiveLogAdapter)(nil)

// LiveLog returns the Live log view's adapter (nil without a core).
func (g *GUICore) LiveLog() ui.LiveLogCore {
	if g == nil {
		return nil
	}
	return &LiveLogAdapter{c: g.c}
}

// Lines implements ui.LiveLogCore: every session line the core publishes
// (sends, the outbox runner, connection tests, the console). The buffer holds a burst of
// a bulk run between two batches of the view.
func (a *LiveLogAdapter) Lines() *feed.Sub { return a.c.Feed.Subscribe(1<<13, feed.Transcript) }

// ProfileNames implements ui.LiveLogCore.
func (a *LiveLogAdapter) ProfileNames(ctx context.Context) map[string]string {
	return a.c.ProfileNames(ctx)
}

// LogCapacity is how many lines the Live log keeps: the Settings' log size
// (0 before the core is open: the view's own default).
func (g *GUICore) LogCapacity() int {
	if g == nil || g.c == nil {
		return 0
	}
	return g.c.LogSize()
}
