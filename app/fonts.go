package app

import (
	"context"
	"encoding/binary"
	"runtime/debug"
	"sort"
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
// a blank font instead (blankFont: valid, with no character at all), which
// drops out of Fyne's fallback chain: every character goes on to the
// system's fonts as it would with no emoji font. Not a real small font: the
// theme's text font would be parsed again per style (3 MB), and the symbol
// font has arrows but no space (go-text shapes the spaces after an arrow
// with the arrow's face: boxes). It reports whether the resource could be
// replaced.
func useSystemEmoji() bool {
	r, ok := theme.DefaultEmojiFont().(*fyne.StaticResource)
	if !ok || r == nil {
		return false
	}
	r.StaticName, r.StaticContent = "blank.ttf", blankFont()
	return true
}

// blankFont builds the smallest TrueType font Fyne's font loader (go-text)
// accepts: one empty glyph (.notdef) and a character map that maps nothing;
// the tables head, hhea, hmtx, maxp, cmap and post. 280 bytes.
func blankFont() []byte {
	be := binary.BigEndian
	u16 := func(b []byte, v ...uint16) []byte {
		for _, x := range v {
			b = be.AppendUint16(b, x)
		}
		return b
	}
	u32 := func(b []byte, v ...uint32) []byte {
		for _, x := range v {
			b = be.AppendUint32(b, x)
		}
		return b
	}
	tables := map[string][]byte{
		// One Windows Unicode BMP subtable, format 4, with only the final
		// 0xFFFF segment every format 4 table ends with: nothing mapped.
		"cmap": u16(u32(u16(nil, 0, 1, 3, 1), 12), 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0),
		// Version, revision, checksum adjustment, magic; flags, 1000 units
		// per em, two zero dates; no bounding box, style, 8 ppem, direction
		// hint 2, short loca, glyph format 0.
		"head": u16(append(u16(u32(nil, 0x00010000, 0x00010000, 0, 0x5F0F3CF5), 0, 1000), make([]byte, 16)...), 0, 0, 0, 0, 0, 8, 2, 0, 0),
		// Ascender 800, descender -200, advance 500, caret upright, one
		// horizontal metric.
		"hhea": u16(u32(nil, 0x00010000), 800, 0xFF38, 0, 500, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1),
		"hmtx": u16(nil, 500, 0),
		"maxp": u16(u32(nil, 0x00005000), 1),
		// Version 3: no glyph names; underline at -100, 50 thick.
		"post": u32(u16(u32(nil, 0x00030000, 0), 0xFF9C, 50), 0, 0, 0, 0, 0),
	}
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := uint16(len(tags))
	out := u16(u32(nil, 0x00010000), n, 64, 2, n*16-64)
	off := uint32(12 + 16*len(tags))
	var body []byte
	for _, t := range tags {
		d := tables[t]
		padded := append(append([]byte(nil), d...), make([]byte, (4-len(d)%4)%4)...)
		var sum uint32
		for i := 0; i < len(padded); i += 4 {
			sum += be.Uint32(padded[i:])
		}
		out = u32(append(out, t...), sum, off+uint32(len(body)), uint32(len(d)))
		body = append(body, padded...)
	}
	return append(out, body...)
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
