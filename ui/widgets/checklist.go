// Package widgets holds Fyne widgets shared by Herald's views.
package widgets

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// MaxDetailLines bounds the detail lines a checklist row shows, so that a
// long transcript cannot grow the widget tree without limit; the row says how
// many more there were.
const MaxDetailLines = 60

// State is how a checklist item stands; each has an icon and a word, so that
// status is never shown by colour alone.
type State string

// The states of a checklist item.
const (
	StatePending   State = "pending"
	StateRunning   State = "running"
	StatePass      State = "pass"
	StateWarn      State = "warn"
	StateFail      State = "fail"
	StateSkipped   State = "skipped"
	StateInfo      State = "info"
	StateCancelled State = "cancelled"
	StateNotRun    State = "not-run"
	// StateEmpty is a source or check that answered with nothing.
	StateEmpty State = "empty"
)

// Word is the state as a word a person reads ("Passed", "Failed").
func (s State) Word() string {
	switch s {
	case StatePending:
		return "Waiting"
	case StateRunning:
		return "Running…"
	case StatePass:
		return "Passed"
	case StateWarn:
		return "Warning"
	case StateFail:
		return "Failed"
	case StateSkipped:
		return "Skipped"
	case StateInfo:
		return "Info"
	case StateCancelled:
		return "Cancelled"
	case StateNotRun:
		return "Not run"
	case StateEmpty:
		return "Nothing found"
	}
	return string(s)
}

// Icon is the state's icon.
func (s State) Icon() fyne.Resource {
	switch s {
	case StateRunning:
		return theme.ViewRefreshIcon()
	case StatePass:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case StateWarn:
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case StateFail:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	case StateSkipped, StateNotRun:
		return theme.NewDisabledResource(theme.MediaSkipNextIcon())
	case StateInfo:
		return theme.InfoIcon()
	case StateCancelled:
		return theme.CancelIcon()
	}
	return theme.NewDisabledResource(theme.RadioButtonIcon())
}

// Item is one row of a Checklist.
type Item struct {
	// Key identifies the row for updates ("dns", "spf#0").
	Key   string
	Title string
	State State
	// Time is shown beside the title ("12 ms"); "" shows nothing.
	Time string
	// Summary is one line under the title, truncated to the width.
	Summary string
	// Note is a short remark beside the state, e.g. what changed since the
	// last run ("was Failed").
	Note string
	// Detail is shown when the row is expanded: the full finding, wrapped.
	Detail string
	// Lines are shown when the row is expanded, monospaced and truncated
	// (the transcript); at most MaxDetailLines.
	Lines []string
	// Extra is shown below the lines when expanded (a hint with fix buttons).
	Extra fyne.CanvasObject
}

// Checklist is a vertical list of items that fill in as work proceeds; each
// row expands to its details. Call its methods on the UI goroutine.
type Checklist struct {
	widget.BaseWidget
	box   *fyne.Container
	rows  map[string]*row
	order []string
}

// NewChecklist returns an empty checklist.
func NewChecklist() *Checklist {
	c := &Checklist{box: container.NewVBox(), rows: map[string]*row{}}
	c.ExtendBaseWidget(c)
	return c
}

// CreateRenderer implements fyne.Widget.
func (c *Checklist) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(c.box)
}

// Clear removes every row.
func (c *Checklist) Clear() {
	c.rows = map[string]*row{}
	c.order = nil
	c.box.Objects = nil
	c.box.Refresh()
}

// Keys returns the rows' keys in order.
func (c *Checklist) Keys() []string { return append([]string(nil), c.order...) }

// Item returns the row with key as last set, and whether there is one.
func (c *Checklist) Item(key string) (Item, bool) {
	r, ok := c.rows[key]
	if !ok {
		return Item{}, false
	}
	return r.item, true
}

// Expanded reports whether the row with key shows its details.
func (c *Checklist) Expanded(key string) bool {
	r, ok := c.rows[key]
	return ok && r.details.Visible()
}

// ExpandButton returns the button that opens and closes the row with key,
// nil when there is no such row.
func (c *Checklist) ExpandButton(key string) *widget.Button {
	if r, ok := c.rows[key]; ok {
		return r.toggle
	}
	return nil
}

// SetExpanded shows or hides the details of the row with key.
func (c *Checklist) SetExpanded(key string, open bool) {
	if r, ok := c.rows[key]; ok {
		r.setOpen(open)
	}
}

// Set adds the item, or updates the row with its key in place.
func (c *Checklist) Set(it Item) {
	r, ok := c.rows[it.Key]
	if !ok {
		r = newRow()
		c.rows[it.Key] = r
		c.order = append(c.order, it.Key)
		c.box.Add(r.obj)
	}
	r.set(it)
}

type row struct {
	item    Item
	obj     fyne.CanvasObject
	icon    *widget.Icon
	state   *widget.Label
	title   *widget.Label
	time    *widget.Label
	note    *widget.Label
	summary *widget.Label
	toggle  *widget.Button
	details *fyne.Container
	detail  *widget.Label
	lines   *widget.Label
	extra   *fyne.Container
}

func newRow() *row {
	r := &row{
		icon:    widget.NewIcon(theme.RadioButtonIcon()),
		state:   widget.NewLabel(""),
		title:   widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		time:    widget.NewLabel(""),
		note:    widget.NewLabel(""),
		summary: widget.NewLabel(""),
		detail:  widget.NewLabel(""),
		lines:   widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true}),
		extra:   container.NewVBox(),
	}
	r.summary.Truncation = fyne.TextTruncateEllipsis
	r.note.Importance = widget.WarningImportance
	r.detail.Wrapping = fyne.TextWrapWord
	r.lines.Wrapping = fyne.TextWrapBreak
	r.details = container.NewVBox(r.detail, r.lines, r.extra)
	r.details.Hide()
	r.toggle = widget.NewButtonWithIcon("", theme.MenuExpandIcon(), func() { r.setOpen(!r.details.Visible()) })
	r.toggle.Importance = widget.LowImportance
	h := r.state.MinSize().Height
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.time.Alignment = fyne.TextAlignTrailing
	left := container.NewHBox(r.toggle, r.icon,
		container.NewGridWrap(fyne.NewSize(100, h), r.state),
		container.NewGridWrap(fyne.NewSize(190, h), r.title),
		container.NewGridWrap(fyne.NewSize(70, h), r.time))
	head := container.NewBorder(nil, nil, left, r.note, r.summary)
	r.obj = container.NewVBox(head, r.details, widget.NewSeparator())
	return r
}

func (r *row) setOpen(open bool) {
	if open {
		r.details.Show()
		r.toggle.SetIcon(theme.MenuDropDownIcon())
	} else {
		r.details.Hide()
		r.toggle.SetIcon(theme.MenuExpandIcon())
	}
}

func (r *row) set(it Item) {
	r.item = it
	r.icon.SetResource(it.State.Icon())
	r.state.SetText(it.State.Word())
	r.title.SetText(it.Title)
	r.time.SetText(it.Time)
	r.note.SetText(it.Note)
	r.summary.SetText(it.Summary)
	r.detail.SetText(it.Detail)
	if it.Detail == "" {
		r.detail.Hide()
	} else {
		r.detail.Show()
	}
	lines := it.Lines
	if len(lines) > MaxDetailLines {
		lines = append(lines[:MaxDetailLines:MaxDetailLines], fmt.Sprintf("… %d more lines", len(it.Lines)-MaxDetailLines))
	}
	r.lines.SetText(strings.Join(lines, "\n"))
	if len(lines) == 0 {
		r.lines.Hide()
	} else {
		r.lines.Show()
	}
	r.extra.Objects = nil
	if it.Extra != nil {
		r.extra.Objects = []fyne.CanvasObject{it.Extra}
	}
	r.extra.Refresh()
	hasDetails := it.Detail != "" || len(it.Lines) > 0 || it.Extra != nil
	if hasDetails {
		r.toggle.Enable()
	} else {
		r.toggle.Disable()
	}
}
