package app

import (
	"bytes"
	"testing"

	"fyne.io/fyne/v2/theme"
	"github.com/go-text/typesetting/font"
)

// TestUseSystemEmojiReplacesTheBundledFont checks that the bundled colour
// emoji font can still be swapped for the blank font (a Fyne upgrade that
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
	if !bytes.Equal(after, blankFont()) {
		t.Fatal("the emoji font is not the blank font")
	}
	if before < 1<<20 && before != len(blankFont()) { // replaced already: a second run (-count)
		t.Fatalf("the bundled font had %d bytes", before)
	}
}

// TestBlankFontParsesAndMapsNothing loads the blank font with the loader
// Fyne uses: it must parse (Fyne would log an error and drop the face
// otherwise) and have no character, not even a space, so that every
// character falls through to the next font.
func TestBlankFontParsesAndMapsNothing(t *testing.T) {
	f, err := font.ParseTTF(bytes.NewReader(blankFont()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []rune{' ', 'a', '→', '😀', 0xFFFF - 1} {
		if _, ok := f.NominalGlyph(r); ok {
			t.Errorf("the blank font has %q", r)
		}
	}
}
