package app

import (
	"bytes"
	"testing"

	"fyne.io/fyne/v2/theme"
)

// TestUseSystemEmojiReplacesTheBundledFont checks that the bundled colour
// emoji font can still be swapped for the text font (a Fyne upgrade that
// changes how the resource is held would make this fail, and the window
// would quietly carry the 15 MB again).
func TestUseSystemEmojiReplacesTheBundledFont(t *testing.T) {
	e := theme.DefaultEmojiFont()
	if e == nil {
		t.Skip("this Fyne build has no bundled emoji font")
	}
	before := len(e.Content())
	if !useSystemEmoji() {
		t.Fatal("the bundled emoji font could not be replaced")
	}
	after := theme.DefaultEmojiFont().Content()
	if !bytes.Equal(after, theme.DefaultTextFont().Content()) {
		t.Fatal("the emoji font is not the text font")
	}
	if before < 1<<20 || len(after) > 1<<20 {
		t.Fatalf("font sizes: before %d bytes, after %d", before, len(after))
	}
}
