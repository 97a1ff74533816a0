package ui

import (
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// lineCols is where LineView breaks a long line into rows.
const lineCols = 160

// LineView shows a text of any size as a virtualised list of rows (lines,
// long ones broken every lineCols characters): only the rows on screen
// become widgets, so a message of many megabytes costs an index of line
// offsets, never a text widget holding it whole.
type LineView struct {
	List *widget.List
	text string
	rows []int // start offsets of the rows; row i ends where row i+1 starts (less its line break)
	ends []int
}

// NewLineView returns an empty line view in a monospace font.
func NewLineView() *LineView {
	v := &LineView{}
	v.List = widget.NewList(
		func() int { return len(v.rows) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(v.Row(id))
		},
	)
	return v
}

// SetText shows text (CR LF and LF both end a line).
func (v *LineView) SetText(text string) {
	v.text = text
	v.rows, v.ends = v.rows[:0], v.ends[:0]
	start := 0
	for start <= len(text) {
		end := strings.IndexByte(text[start:], '\n')
		next := 0
		if end < 0 {
			end = len(text)
			next = len(text) + 1
		} else {
			end += start
			next = end + 1
		}
		lineEnd := end
		if lineEnd > start && text[lineEnd-1] == '\r' {
			lineEnd--
		}
		// Break long lines at rune boundaries.
		for s := start; ; {
			e, n := s, 0
			for e < lineEnd && n < lineCols {
				_, size := utf8.DecodeRuneInString(text[e:])
				e += size
				n++
			}
			v.rows, v.ends = append(v.rows, s), append(v.ends, e)
			if e >= lineEnd {
				break
			}
			s = e
		}
		if next >= len(text) { // a final line break ends the text: no empty row after it
			break
		}
		start = next
	}
	if text == "" {
		v.rows, v.ends = nil, nil
	}
	v.List.Refresh()
	v.List.ScrollToTop()
}

// SetLines shows lines, one row each (long ones broken).
func (v *LineView) SetLines(lines []string) { v.SetText(strings.Join(lines, "\n")) }

// Len returns the number of rows.
func (v *LineView) Len() int { return len(v.rows) }

// Row returns row i's text, tabs and control characters made visible.
func (v *LineView) Row(i int) string {
	if i < 0 || i >= len(v.rows) {
		return ""
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return '␀' + r%0x20
		}
		return r
	}, v.text[v.rows[i]:v.ends[i]])
}
