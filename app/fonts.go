package app

import (
	"context"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// useSystemEmoji stops Fyne from loading its bundled colour emoji font, so
// that emoji are drawn with the system's fonts like any other character the
// theme's font lacks. Fyne parses that 4 MB font once per text style (its
// SVG table copied each time: 15 MB of the idle window's heap for regular,
// bold and monospace text, and 4 MB more of the program's file paged in);
// it must run before any text is measured.
//
// Fyne has no option for this besides the no_emoji build tag (which `go
// run .` and `go build` cannot carry), so the bundled resource is pointed at
// the theme's own text font instead: a valid font with no emoji, a tenth of
// the size, that adds nothing to the fallback chain (what it lacks, the
// system's fonts supply as before). Not the tiny symbol font: it has arrows
// but no space, and go-text shapes the spaces after an arrow with the face
// of the arrow. It reports whether the resource could be replaced.
func useSystemEmoji() bool {
	r, ok := theme.DefaultEmojiFont().(*fyne.StaticResource)
	if !ok || r == nil {
		return false
	}
	text := theme.DefaultTextFont()
	if text == nil {
		return false
	}
	r.StaticName, r.StaticContent = text.Name(), text.Content()
	return true
}

// startupSettle is how long after the window shows releaseStartupMemory
// waits: the first frames, the views' first pages and the fonts are done.
const startupSettle = 3 * time.Second

// releaseStartupMemory returns the memory the window's start used and no
// longer needs (font parsing, the first layouts: ~10 MB) to the system
// once, after settle, instead of leaving it to the runtime's slow
// background scavenger. It returns early when ctx ends.
func releaseStartupMemory(ctx context.Context, settle time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(settle):
	}
	debug.FreeOSMemory()
}
