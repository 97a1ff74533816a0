package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/transcript"
)

// maxLogLines bounds the live log so a long session cannot grow the UI's
// memory without limit; the oldest lines are dropped first.
const maxLogLines = 5000

// LogView is the live protocol log: a recycled list over a bounded ring of
// transcript events.
type LogView struct {
	List   *widget.List
	events []transcript.Event
	start  int // index of the oldest event in the ring when full
}

// NewLogView returns an empty log view.
func NewLogView() *LogView {
	v := &LogView{}
	v.List = widget.NewList(
		func() int { return len(v.events) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(v.Line(id))
		},
	)
	return v
}

// Append adds one event; call it on the UI goroutine.
func (v *LogView) Append(e transcript.Event) {
	if len(v.events) < maxLogLines {
		v.events = append(v.events, e)
	} else {
		v.events[v.start] = e
		v.start = (v.start + 1) % maxLogLines
	}
	v.List.Refresh()
	v.List.ScrollToBottom()
}

// AppendAll adds a batch of events with one redraw; call it on the UI
// goroutine. A burst of lines is one refresh, not one per line.
func (v *LogView) AppendAll(es []transcript.Event) {
	for _, e := range es {
		if len(v.events) < maxLogLines {
			v.events = append(v.events, e)
		} else {
			v.events[v.start] = e
			v.start = (v.start + 1) % maxLogLines
		}
	}
	v.List.Refresh()
	v.List.ScrollToBottom()
}

// Clear removes every line; call it on the UI goroutine.
func (v *LogView) Clear() {
	v.events = v.events[:0]
	v.start = 0
	v.List.Refresh()
}

// Len is the number of lines shown.
func (v *LogView) Len() int { return len(v.events) }

// Line renders line i (0 is the oldest shown) as text.
func (v *LogView) Line(i int) string {
	if i < 0 || i >= len(v.events) {
		return ""
	}
	return v.events[(v.start+i)%len(v.events)].String()
}
