package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

// maxEditText is the largest text Compose edits in an Entry. Measured with
// Fyne 2.7: a 32 KB text takes ~60 ms to set and ~25 ms per keystroke; at
// 128 KB ~0.9 s and ~0.5 s, and 1 MB froze the window for 16-60 s. Larger
// text is kept aside and shown read-only, a page of lines at a time.
const maxEditText = 32 << 10

// TextArea is a multi-line text that stays fast at any size: up to
// maxEditText it is an editable entry; beyond it the text is kept as a
// string and shown in a virtualised list of its lines, read-only.
type TextArea struct {
	Entry  *bodyEntry
	List   *widget.List
	Banner *widget.Label
	what   string // "message text", "HTML part"
	big    string
	lines  []string
	stack  *fyne.Container
	bigBox *fyne.Container
	// onChanged is called (on the UI goroutine) when the text changes.
	onChanged func()
}

func newTextArea(host Host, what, placeholder string) *TextArea {
	t := &TextArea{what: what}
	t.Entry = newBodyEntry()
	t.Entry.SetPlaceHolder(placeholder)
	if host != nil {
		t.Entry.onHelp = host.ShowHelp
	}
	t.Entry.onBigPaste = t.SetText
	t.Entry.OnChanged = func(string) {
		if t.onChanged != nil {
			t.onChanged()
		}
	}
	t.List = widget.NewList(
		func() int { return len(t.lines) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(t.lines) {
				o.(*widget.Label).SetText(t.lines[id])
			}
		},
	)
	t.Banner = widget.NewLabel("")
	t.Banner.Truncation = fyne.TextTruncateEllipsis
	t.Banner.Importance = widget.WarningImportance
	edit := widget.NewButton("Clear", func() { t.SetText("") })
	t.bigBox = container.NewBorder(container.NewBorder(nil, nil, nil, edit, t.Banner), nil, nil, nil, t.List)
	t.bigBox.Hide()
	t.stack = container.NewStack(t.Entry, t.bigBox)
	return t
}

// Content is the widget to place in the form.
func (t *TextArea) Content() fyne.CanvasObject { return t.stack }

// Big reports whether the text is too large to edit and is shown read-only.
func (t *TextArea) Big() bool { return t.bigBox.Visible() }

// Text returns the whole text.
func (t *TextArea) Text() string {
	if t.Big() {
		return t.big
	}
	return t.Entry.Text
}

// SetText replaces the text; a large one is shown read-only.
func (t *TextArea) SetText(s string) {
	if len(s) <= maxEditText {
		// Leaving a large text for one the Entry already holds (Clear: "")
		// changes the text without the Entry seeing a change.
		quiet := t.big != "" && t.Entry.Text == s
		t.big, t.lines = "", nil
		t.bigBox.Hide()
		t.Entry.Show()
		t.Entry.SetText(s) // calls onChanged
		if quiet && t.onChanged != nil {
			t.onChanged()
		}
		return
	}
	t.big = s
	t.lines = strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	t.Banner.SetText(fmt.Sprintf("The %s is %s (%d lines): too long to edit here, it is sent as it is. Clear it to write another.",
		t.what, humanSize(int64(len(s))), len(t.lines)))
	if t.Entry.Text != "" {
		t.Entry.Text = "" // without OnChanged: the text lives in big now
		t.Entry.Refresh()
	}
	t.Entry.Hide()
	t.bigBox.Show()
	t.List.Refresh()
	t.List.ScrollToTop()
	if t.onChanged != nil {
		t.onChanged()
	}
}

// bodyEntry is the message text: Tab moves on (fieldEntry), and a paste
// that would make the text too large to edit hands the whole text over
// instead of inserting it.
type bodyEntry struct {
	fieldEntry
	onBigPaste func(string)
}

func newBodyEntry() *bodyEntry {
	e := &bodyEntry{}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey moves the focus on Tab: a tab is never typed into the text,
// even when a driver hands the key over.
func (e *bodyEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyTab {
		if c := fyne.CurrentApp().Driver().CanvasForObject(e); c != nil {
			c.FocusNext()
		}
		return
	}
	e.fieldEntry.TypedKey(k)
}

// TypedShortcut diverts a large paste (see TextArea).
func (e *bodyEntry) TypedShortcut(sc fyne.Shortcut) {
	if p, ok := sc.(*fyne.ShortcutPaste); ok && p.Clipboard != nil && e.onBigPaste != nil {
		clip := p.Clipboard.Content()
		if len(e.Text)+len(clip) > maxEditText {
			at := cursorOffset(e.Text, e.CursorRow, e.CursorColumn)
			e.onBigPaste(e.Text[:at] + clip + e.Text[at:])
			return
		}
	}
	e.fieldEntry.TypedShortcut(sc)
}

// cursorOffset turns a row and a column (in runes) into a byte offset.
func cursorOffset(s string, row, col int) int {
	off := 0
	for r := 0; r < row; r++ {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return len(s)
		}
		off += i + 1
	}
	for c := 0; c < col && off < len(s) && s[off] != '\n'; c++ {
		_, n := utf8.DecodeRuneInString(s[off:])
		off += n
	}
	return off
}

// humanSize writes a byte count for a person: "812 bytes", "4.2 KB", "1.0 MB".
func humanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1000/1000)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1000/1000/1000)
}

// attachment is one file in the form, with its size when known.
type attachment struct {
	Path string
	Size int64
	Err  string
}

func statAttachment(path string) attachment {
	a := attachment{Path: path}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		a.Err = "cannot be read: " + errors.Unwrap(err).Error()
		if errors.Is(err, os.ErrNotExist) {
			a.Err = "no such file"
		}
	case st.IsDir():
		a.Err = "is a folder"
	default:
		a.Size = st.Size()
	}
	return a
}

func (a attachment) line() string {
	if a.Err != "" {
		return filepath.Base(a.Path) + " — " + a.Err
	}
	return fmt.Sprintf("%s — %s", filepath.Base(a.Path), humanSize(a.Size))
}

// formState is a copy of the form taken on the UI goroutine, to check or
// send off it.
type formState struct {
	profile                   string
	draft                     message.Draft
	headerErrs                []string
	dsnNotify, dsnRet, dsnEnv string
	priority                  string
	sendAt                    string
	// strict reports "required" problems too (an action was asked for);
	// while typing they are left out.
	strict bool
}

// checkResult is what a check of the form found.
type checkResult struct {
	recipients int
	problems   []string
	// bad names the fields with a problem by label: "To", "Cc", "From"...
	bad  map[string]bool
	size int64 // estimated size of the message; 0 when it cannot be told
	dsn  *transport.DSN
}

// maxShownProblems bounds the problems listed under the form.
const maxShownProblems = 3

// checkForm validates s (off the UI goroutine: a long recipient list takes
// milliseconds, and EstimateSize reads the attachments' sizes).
func checkForm(s formState) checkResult {
	r := checkResult{bad: map[string]bool{}}
	d := s.draft
	r.recipients = len(d.To) + len(d.Cc) + len(d.Bcc)
	add := func(label, text string) {
		r.bad[label] = true
		r.problems = append(r.problems, text)
	}
	for _, h := range s.headerErrs {
		add("Headers", h)
	}
	if err := d.Validate(); err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			var fe *message.FieldError
			if !errors.As(e, &fe) {
				add("", e.Error())
				continue
			}
			if !s.strict && (fe.Msg == "required" || strings.HasPrefix(fe.Msg, "at least one recipient")) {
				continue
			}
			label := fe.Label()
			if strings.HasPrefix(label, "Header ") {
				label = "Headers"
			}
			add(label, message.Explain(fe))
		}
	}
	dsn, err := transport.ParseDSN(s.dsnNotify, s.dsnRet, s.dsnEnv)
	if err != nil {
		add("DSN", "Delivery notifications: "+strings.TrimPrefix(err.Error(), "DSN "))
	} else if len(dsn.Notify) > 0 || dsn.Return != "" || dsn.EnvID != "" {
		r.dsn = dsn
	}
	if len(r.problems) == 0 {
		if n, err := message.EstimateSize(d); err == nil {
			r.size = n
		}
	}
	return r
}

// parseHeaders reads "Name: value" lines; blank lines are skipped.
func parseHeaders(text string) ([]message.Header, []string) {
	var hs []message.Header
	var errs []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			errs = append(errs, fmt.Sprintf("Extra headers: line %d has no colon; write one header a line, as Name: value", i+1))
			continue
		}
		hs = append(hs, message.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return hs, errs
}

// maxPreview bounds the HTML preview's text.
const maxPreview = 16 << 10

// sendAtPicker is the "Send at" dialog: a date (typed or from the
// calendar), a time, quick choices, and the time it means in words.
type sendAtPicker struct {
	Date   *widget.DateEntry
	Time   *widget.Entry
	Result *widget.Label
	now    func() time.Time
}

func newSendAtPicker(now func() time.Time, initial string) *sendAtPicker {
	p := &sendAtPicker{now: now}
	p.Date = widget.NewDateEntry()
	p.Time = widget.NewEntry()
	p.Time.SetPlaceHolder("09:00")
	p.Result = widget.NewLabel("")
	p.Result.Wrapping = fyne.TextWrapWord
	p.Date.OnChanged = func(*time.Time) { p.update() }
	p.Time.OnChanged = func(string) { p.update() }
	n := now()
	start := n.Add(time.Hour).Truncate(time.Hour)
	if t, err := queue.ParseSendAt(initial, n); initial != "" && err == nil {
		start = t
	}
	p.set(start)
	return p
}

func (p *sendAtPicker) set(t time.Time) {
	t = t.In(p.now().Location())
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	p.Date.SetDate(&day)
	p.Time.SetText(t.Format("15:04"))
	p.update()
}

// Value is the chosen time as ParseSendAt reads it ("2026-12-01 09:00").
func (p *sendAtPicker) Value() string {
	if p.Date.Date == nil {
		return ""
	}
	return p.Date.Date.Format("2006-01-02") + " " + strings.TrimSpace(p.Time.Text)
}

// Parse returns the chosen time, or what is wrong with it in words.
func (p *sendAtPicker) Parse() (time.Time, error) {
	if p.Date.Date == nil || p.Date.Text == "" {
		return time.Time{}, errors.New("choose a date (type it, or pick it from the calendar)")
	}
	if p.Date.Validator != nil && p.Date.Validator(p.Date.Text) != nil {
		return time.Time{}, fmt.Errorf("%q is not a date: type it as the field shows, or pick it from the calendar", p.Date.Text)
	}
	if _, err := time.Parse("15:04", strings.TrimSpace(p.Time.Text)); err != nil {
		return time.Time{}, fmt.Errorf("the time %q is not a time of day such as 09:00 or 17:30", p.Time.Text)
	}
	t, err := queue.ParseSendAt(p.Value(), p.now())
	if err != nil {
		if strings.Contains(err.Error(), "in the past") {
			return time.Time{}, errors.New(p.Value() + " is in the past")
		}
		return time.Time{}, err
	}
	return t, nil
}

func (p *sendAtPicker) update() {
	t, err := p.Parse()
	if err != nil {
		p.Result.Importance = widget.DangerImportance
		p.Result.SetText(err.Error())
		return
	}
	p.Result.Importance = widget.MediumImportance
	p.Result.SetText("Sends " + t.Format("Mon 2 Jan 2006 at 15:04") + " (" + untilWords(t.Sub(p.now())) + ")")
}

func untilWords(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d.Minutes()+0.5))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %.1f hours", d.Hours())
	}
	return fmt.Sprintf("in %d days", int(d.Hours()/24+0.5))
}

// show opens the picker; ok receives the chosen time.
func (p *sendAtPicker) show(win fyne.Window, ok func(time.Time, string)) dialog.Dialog {
	quick := func(label string, d func(time.Time) time.Time) *widget.Button {
		return widget.NewButton(label, func() { p.set(d(p.now())) })
	}
	body := container.NewVBox(
		widget.NewForm(widget.NewFormItem("Date", p.Date), widget.NewFormItem("Time", p.Time)),
		container.NewHBox(
			quick("In 30 min", func(n time.Time) time.Time { return n.Add(30 * time.Minute) }),
			quick("In 1 hour", func(n time.Time) time.Time { return n.Add(time.Hour) }),
			quick("Tomorrow 09:00", func(n time.Time) time.Time {
				return time.Date(n.Year(), n.Month(), n.Day()+1, 9, 0, 0, 0, n.Location())
			}),
		),
		p.Result,
	)
	var d *dialog.ConfirmDialog
	d = dialog.NewCustomConfirm("Send at", "Queue for then", "Cancel", body, func(yes bool) {
		if !yes {
			return
		}
		t, err := p.Parse()
		if err != nil {
			dialog.ShowError(err, win)
			return
		}
		ok(t, p.Value())
	}, win)
	d.Resize(fyne.NewSize(460, 0))
	d.Show()
	return d
}

// maxEditRecipients is the longest recipient list edited as one line of
// text. Fyne measures an entry's whole line on every key: with 1,000
// addresses (~26 KB) that was 84 ms a key on average. A longer list is kept
// aside as a list of addresses; what is typed in the field is added to it.
const maxEditRecipients = 4 << 10

// asideList is a long recipient list kept out of its entry.
type asideList struct {
	label string
	addrs []string
	info  *widget.Label
	row   *fyne.Container
}

func newAsideList(label string, show, clear func()) *asideList {
	a := &asideList{label: label, info: widget.NewLabel("")}
	a.info.Truncation = fyne.TextTruncateEllipsis
	a.row = container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewButton("Show…", show), widget.NewButton("Clear", clear)), a.info)
	a.row.Hide()
	return a
}

func (a *asideList) set(addrs []string) {
	a.addrs = addrs
	if len(addrs) == 0 {
		a.row.Hide()
		return
	}
	n := 0
	for _, s := range addrs {
		n += len(s) + 2
	}
	a.info.SetText(fmt.Sprintf("%s: %d addresses kept as a list (%s); what you type in the field is added to them.", a.label, len(addrs), humanSize(int64(n))))
	a.row.Show()
}

// showList opens a virtualised list of the addresses, each with a button
// to remove it; changed is called after each removal.
func (a *asideList) showList(win fyne.Window, changed func()) {
	var list *widget.List
	list = widget.NewList(
		func() int { return len(a.addrs) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("", theme.DeleteIcon(), nil), l)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(a.addrs) {
				return
			}
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(a.addrs[id])
			box.Objects[1].(*widget.Button).OnTapped = func() {
				if id < len(a.addrs) {
					a.set(append(a.addrs[:id:id], a.addrs[id+1:]...))
					list.Refresh()
					changed()
				}
			}
		},
	)
	d := dialog.NewCustom(a.label+" — the list", "Close", list, win)
	d.Resize(fyne.NewSize(560, 480))
	d.Show()
}
