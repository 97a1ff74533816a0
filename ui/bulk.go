package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
)

// BulkRequest is the bulk form: what to merge and how to queue it.
type BulkRequest struct {
	// Profile is the sending profile's name.
	Profile string
	// CSV is the recipients file's path.
	CSV string
	// Subject, Text and HTML are templates with {{.column}} fields.
	Subject, Text, HTML string
	// Rate is "N/s", "N/min" or "N/h" ("": no rate).
	Rate string
	// Start is when the first message is due ("": now).
	Start string
	// UnsubscribeURL and UnsubscribeMailto are templates for the
	// List-Unsubscribe header ("": none).
	UnsubscribeURL, UnsubscribeMailto string
}

// BulkPreview is one merged message, for the preview.
type BulkPreview struct {
	Row                     int
	To, Subject, Text, HTML string
	SendAt                  time.Time
	// Headers are the message's extra headers ("List-Unsubscribe: <…>").
	Headers []string
}

// BulkPlan is a checked mail merge, ready to queue.
type BulkPlan struct {
	// Columns are the CSV's header row; Rows its data rows (cells as read).
	Columns []string
	Rows    [][]string
	// Problems holds each invalid row's problems (by row, from 1);
	// Duplicates each row skipped as a repeated address.
	Problems, Duplicates map[int]string
	// Valid counts the messages that would be queued.
	Valid int
	// Previews are the first few merged messages.
	Previews []BulkPreview
	// First and Last are when the first and last messages are due (zero:
	// at once).
	First, Last time.Time
	// Handle is the core's plan, handed back to QueueBulk.
	Handle any
}

// BulkCore is what the Bulk view needs from the core. PlanBulk reads the
// CSV and QueueBulk writes the outbox: the view calls them off the UI
// goroutine.
type BulkCore interface {
	// Profiles lists the profiles that can send.
	Profiles(ctx context.Context) ([]account.Profile, error)
	// PlanBulk checks every row and merges the messages, queueing nothing,
	// calling progress (when set) with the rows read so far now and then.
	// An error concerns the whole run (a template that does not parse, a
	// CSV without an email column, a bad rate).
	PlanBulk(ctx context.Context, r BulkRequest, progress func(rows int)) (*BulkPlan, error)
	// QueueBulk queues the plan's valid messages as one batch (all or
	// none), calling progress as it goes, and returns the batch's id.
	QueueBulk(ctx context.Context, p *BulkPlan, progress func(done, total int)) (string, error)
	// CancelBatch cancels every message of the batch not sent yet.
	CancelBatch(ctx context.Context, batch string) (int, error)
}

// bulkPreviews is how many merged messages the preview offers.
const bulkPreviews = 5

// maxPreviewText bounds the text shown of one preview body.
const maxPreviewText = 16 << 10

// Bulk is the bulk send view: a guided mail merge. Its widgets are
// exported for tests.
type Bulk struct {
	core BulkCore
	do   Dispatcher
	host Host

	Profile                                  *widget.Select
	CSV                                      *fieldEntry
	ChooseCSV                                *widget.Button
	Subject, Text, HTML                      *fieldEntry
	Rate, StartAt, UnsubURL, UnsubMailto     *fieldEntry
	SkipInvalid, OnlyBad                     *widget.Check
	PreviewButton, QueueButton               *widget.Button
	CancelButton, OutboxButton               *widget.Button
	Progress                                 *widget.ProgressBar
	Checking                                 *widget.ProgressBarInfinite
	Status                                   *widget.Label
	Summary                                  *widget.Label
	Table                                    *widget.Table
	Tabs                                     *container.AppTabs
	PreviewPick                              *widget.Select
	PreviewTo, PreviewSubject, PreviewWhen   *widget.Label
	PreviewHeaders, PreviewText, PreviewHTML *widget.Label
	Plan                                     *BulkPlan
	Batch                                    string
	shown                                    []int // rows of Plan shown in the table (indexes into Plan.Rows)
	planning, queueing                       bool
	content                                  fyne.CanvasObject
	ctx                                      context.Context
	cancel                                   context.CancelFunc
	mu                                       sync.Mutex
	stopped, settingForm                     bool

	// splits keeps the form/preview split's position.
	splits splitMemory
}

// NewBulk returns the Bulk view over core.
func NewBulk(core BulkCore, do Dispatcher) *Bulk {
	if do == nil {
		do = fyne.Do
	}
	b := &Bulk{core: core, do: do}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Name implements View.
func (b *Bulk) Name() string { return "bulk" }

// Title implements View.
func (b *Bulk) Title() string { return "Bulk send" }

// Icon implements View.
func (b *Bulk) Icon() fyne.Resource { return theme.MailForwardIcon() }

// Actions implements Actioner: the bulk send's buttons.
func (b *Bulk) Actions() []Action {
	return []Action{
		{Menu: "Message", Label: "Check and preview the bulk send", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyK, Modifier: fyne.KeyModifierShortcutDefault}, Do: func() { press(b.PreviewButton) }, WhenShown: true},
		{Menu: "Message", Label: "Queue the bulk send…", Do: func() { press(b.QueueButton) }, WhenShown: true},
	}
}

// SetHost implements Hosted.
func (b *Bulk) SetHost(h Host) { b.host = h }

// Busy implements Busy: true while a batch is being queued.
func (b *Bulk) Busy() bool { return b.queueing }

// Content implements View.
func (b *Bulk) Content() fyne.CanvasObject {
	if b.content != nil {
		return b.content
	}
	stale := func(string) { b.formChanged() }
	entry := func(place string) *fieldEntry {
		e := newField(b.host, place)
		e.OnChanged = stale
		return e
	}
	// Tab leaves the templates (it never inserts a tab); F1 shows the help.
	multi := func(place string, rows int) *fieldEntry {
		e := newFieldEntry(true)
		e.SetPlaceHolder(place)
		e.SetMinRowsVisible(rows)
		e.OnChanged = stale
		if b.host != nil {
			e.onHelp = b.host.ShowHelp
		}
		return e
	}
	b.Profile = widget.NewSelect(nil, stale)
	b.Profile.PlaceHolder = "(choose the sending profile)"
	b.CSV = entry("a CSV with an email column")
	b.ChooseCSV = widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), b.chooseCSV)
	b.Subject = entry("Hello {{.name}}")
	b.Text = multi("Dear {{.name}},\n\nthe text of the message; {{.column}} fields from the CSV.", 6)
	b.HTML = multi("optional: <p>Dear {{.name}}</p>\n(fields are escaped)", 3)
	b.Rate = entry("no limit; or 120/min, 2/s, 1000/h")
	b.StartAt = entry("now; or 2026-12-01 09:00, +30m")
	b.UnsubURL = entry("optional: https://…/unsub?e={{.email}}")
	b.UnsubMailto = entry("optional: unsubscribe@example.com")
	b.SkipInvalid = widget.NewCheck("Queue the valid rows, skip the invalid ones", func(bool) { b.updateButtons() })

	b.PreviewButton = widget.NewButtonWithIcon("Check and preview", theme.VisibilityIcon(), b.Preview)
	b.PreviewButton.Importance = widget.HighImportance
	b.QueueButton = widget.NewButtonWithIcon("Queue", theme.MailSendIcon(), b.Queue)
	b.CancelButton = widget.NewButtonWithIcon("Cancel this batch", theme.CancelIcon(), b.confirmCancel)
	b.CancelButton.Hide()
	b.OutboxButton = widget.NewButtonWithIcon("Show in the Outbox", theme.ListIcon(), b.openOutbox)
	b.OutboxButton.Hide()
	b.Progress = widget.NewProgressBar()
	b.Progress.Hide()
	b.Checking = widget.NewProgressBarInfinite()
	b.Checking.Stop()
	b.Checking.Hide()
	b.Status = widget.NewLabel("Choose a profile and a recipients CSV, write the templates, then Check and preview.")
	b.Status.Wrapping = fyne.TextWrapWord

	form := widget.NewForm(
		widget.NewFormItem("Profile", b.Profile),
		widget.NewFormItem("Recipients", container.NewBorder(nil, nil, nil, b.ChooseCSV, b.CSV)),
		widget.NewFormItem("Subject", b.Subject),
		widget.NewFormItem("Text", b.Text),
		widget.NewFormItem("HTML", b.HTML),
		widget.NewFormItem("Rate", b.Rate),
		widget.NewFormItem("Start", b.StartAt),
		widget.NewFormItem("Unsubscribe URL", b.UnsubURL),
		widget.NewFormItem("Unsubscribe address", b.UnsubMailto),
	)
	actions := container.NewVBox(b.SkipInvalid,
		container.NewHBox(b.PreviewButton, b.QueueButton),
		b.Progress, b.Checking, b.Status, container.NewHBox(b.OutboxButton, b.CancelButton))
	// The actions stay in sight while the form scrolls (a small window).
	left := container.NewBorder(nil, container.NewPadded(actions), nil, nil, container.NewVScroll(form))

	b.Summary = widget.NewLabel("No recipients read yet.")
	b.Summary.Truncation = fyne.TextTruncateEllipsis
	b.OnlyBad = widget.NewCheck("Only rows with problems", func(bool) { b.filterRows() })
	b.Table = widget.NewTableWithHeaders(b.tableSize, b.newCell, b.updateCell)
	b.Table.CreateHeader = func() fyne.CanvasObject {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	b.Table.UpdateHeader = b.updateHeader
	b.Table.ShowHeaderColumn = false
	recipients := borderInOrder(b.OnlyBad, nil, nil, nil, b.Table)

	b.PreviewPick = widget.NewSelect(nil, func(string) { b.showPreview() })
	b.PreviewPick.PlaceHolder = "(no preview yet)"
	label := func(mono bool) *widget.Label {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: mono})
		l.Wrapping = fyne.TextWrapWord
		return l
	}
	b.PreviewTo, b.PreviewSubject, b.PreviewWhen = label(false), label(false), label(false)
	b.PreviewSubject.TextStyle = fyne.TextStyle{Bold: true}
	b.PreviewHeaders, b.PreviewText, b.PreviewHTML = label(true), label(false), label(true)
	head := widget.NewForm(
		widget.NewFormItem("Message", b.PreviewPick),
		widget.NewFormItem("To", b.PreviewTo),
		widget.NewFormItem("Subject", b.PreviewSubject),
		widget.NewFormItem("Due", b.PreviewWhen),
	)
	bodies := container.NewAppTabs(
		container.NewTabItem("Text", container.NewVScroll(b.PreviewText)),
		container.NewTabItem("HTML source", container.NewVScroll(b.PreviewHTML)),
		container.NewTabItem("Headers", container.NewVScroll(b.PreviewHeaders)),
	)
	preview := borderInOrder(head, nil, nil, nil, bodies)

	b.Tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Preview", theme.VisibilityIcon(), preview),
		container.NewTabItemWithIcon("Recipients", theme.AccountIcon(), recipients),
	)
	summary := container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), nil, b.Summary)
	split := container.NewHSplit(left, container.NewBorder(summary, nil, nil, nil, b.Tabs))
	split.Offset = 0.45
	b.splits.keep(b.host, "bulk.split", split)
	b.content = split
	b.updateButtons()
	return b.content
}

// Start implements View: it loads the profiles.
func (b *Bulk) Start(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.loadProfiles()
}

func (b *Bulk) loadProfiles() {
	ctx := b.ctx
	go func() {
		ps, err := b.core.Profiles(ctx)
		b.do(func() {
			if err != nil {
				b.setStatus("Could not read the profiles: "+err.Error(), true)
				return
			}
			var names []string
			for _, p := range ps {
				names = append(names, p.Name)
			}
			b.Profile.Options = names
			b.Profile.Refresh()
			if len(names) == 0 {
				b.setStatus("Bulk sends go through a profile: add one in the Accounts view first.", true)
			} else if b.Profile.Selected == "" && len(names) == 1 {
				b.Profile.SetSelected(names[0])
			}
		})
	}()
}

// Stop implements View.
func (b *Bulk) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.stopped = true
		b.splits.save(b.host)
		b.cancel()
	}
}

// OpenWith implements Opener: a ProfileRef chooses the sending profile.
func (b *Bulk) OpenWith(arg any) error {
	ref, ok := arg.(ProfileRef)
	if !ok {
		return fmt.Errorf("bulk send opens on a profile, not %T", arg)
	}
	b.Content()
	if !contains(b.Profile.Options, ref.Name) {
		b.Profile.Options = append(b.Profile.Options, ref.Name)
	}
	b.Profile.SetSelected(ref.Name)
	return nil
}

// AcceptsDrop implements DropTarget: a CSV file.
func (b *Bulk) AcceptsDrop(uris []fyne.URI) bool {
	return len(uris) == 1 && strings.EqualFold(uris[0].Extension(), ".csv")
}

// Dropped implements DropTarget: the CSV becomes the recipients.
func (b *Bulk) Dropped(uris []fyne.URI) {
	b.Content()
	b.CSV.SetText(uris[0].Path())
}

// Request returns the form as a request.
func (b *Bulk) Request() BulkRequest {
	return BulkRequest{
		Profile: b.Profile.Selected, CSV: strings.TrimSpace(b.CSV.Text), Subject: b.Subject.Text, Text: b.Text.Text, HTML: b.HTML.Text,
		Rate: strings.TrimSpace(b.Rate.Text), Start: strings.TrimSpace(b.StartAt.Text),
		UnsubscribeURL: strings.TrimSpace(b.UnsubURL.Text), UnsubscribeMailto: strings.TrimSpace(b.UnsubMailto.Text),
	}
}

// formChanged drops a plan the form no longer matches.
func (b *Bulk) formChanged() {
	if b.settingForm || b.Plan == nil || b.queueing {
		return
	}
	b.Plan = nil
	b.setStatus("The form changed: Check and preview again before queueing.", false)
	b.updateButtons()
}

// Preview checks every row and merges the first messages (nothing is
// queued).
func (b *Bulk) Preview() {
	if b.planning || b.queueing {
		return
	}
	r := b.Request()
	switch {
	case r.Profile == "":
		b.setStatus("Choose the sending profile.", true)
		return
	case r.CSV == "":
		b.setStatus("Choose the recipients CSV.", true)
		return
	case strings.TrimSpace(r.Text) == "" && strings.TrimSpace(r.HTML) == "":
		b.setStatus("Write the text (or the HTML) of the message.", true)
		return
	}
	b.planning = true
	b.updateButtons()
	name := filepath.Base(r.CSV)
	b.setStatus("Checking "+name+"…", false)
	b.Checking.Show()
	b.Checking.Start()
	ctx := b.ctx
	go func() {
		p, err := b.core.PlanBulk(ctx, r, func(rows int) {
			b.do(func() {
				if b.planning {
					b.setStatus(fmt.Sprintf("Checking %s: %d rows read…", name, rows), false)
				}
			})
		})
		b.do(func() {
			b.planning = false
			b.Checking.Stop()
			b.Checking.Hide()
			if err != nil {
				b.Plan = nil
				b.setStatus("Cannot merge: "+err.Error(), true)
				b.updateButtons()
				return
			}
			b.setPlan(p)
		})
	}()
}

func (b *Bulk) setPlan(p *BulkPlan) {
	b.Plan, b.Batch = p, ""
	b.CancelButton.Hide()
	b.OutboxButton.Hide()
	b.Progress.Hide()
	invalid := len(p.Problems)
	b.Summary.SetText(fmt.Sprintf("%s: %d rows, %d valid, %d invalid, %d duplicates skipped", filepath.Base(b.CSV.Text), len(p.Rows), p.Valid, invalid, len(p.Duplicates)))
	b.filterRows()
	var picks []string
	for i, pv := range p.Previews {
		picks = append(picks, fmt.Sprintf("%d of %d: row %d, %s", i+1, p.Valid, pv.Row, pv.To))
	}
	b.PreviewPick.Options = picks
	b.PreviewPick.ClearSelected()
	if len(picks) > 0 {
		b.PreviewPick.SetSelected(picks[0])
		b.Tabs.SelectIndex(0)
	} else {
		b.showPreview()
		b.Tabs.SelectIndex(1)
	}
	switch {
	case p.Valid == 0:
		b.setStatus("No valid rows: see the Recipients tab for what is wrong with each.", true)
	case invalid > 0 && !b.SkipInvalid.Checked:
		b.setStatus(fmt.Sprintf("%d of %d rows are invalid (marked in the Recipients tab): fix them, or tick the box above to queue the %d valid ones.", invalid, len(p.Rows), p.Valid), true)
		b.Tabs.SelectIndex(1)
	default:
		b.setStatus(fmt.Sprintf("Ready to queue %d messages%s.", p.Valid, b.scheduleText()), false)
	}
	b.updateButtons()
}

func (b *Bulk) scheduleText() string {
	p := b.Plan
	if p == nil || p.Last.IsZero() {
		return ", all due at once"
	}
	return fmt.Sprintf(", due from %s to %s", p.First.Local().Format("2006-01-02 15:04:05"), p.Last.Local().Format("2006-01-02 15:04:05"))
}

func (b *Bulk) updateButtons() {
	if b.QueueButton == nil {
		return
	}
	p := b.Plan
	can := p != nil && p.Valid > 0 && (len(p.Problems) == 0 || b.SkipInvalid.Checked) && !b.planning && !b.queueing && b.Batch == ""
	if can {
		b.QueueButton.SetText(fmt.Sprintf("Queue %d messages", p.Valid))
		b.QueueButton.Enable()
		b.QueueButton.Importance = widget.HighImportance
		b.PreviewButton.Importance = widget.MediumImportance
	} else {
		b.QueueButton.SetText("Queue")
		b.QueueButton.Disable()
		b.QueueButton.Importance = widget.MediumImportance
		b.PreviewButton.Importance = widget.HighImportance
	}
	if b.planning || b.queueing {
		b.PreviewButton.Disable()
	} else {
		b.PreviewButton.Enable()
	}
	b.QueueButton.Refresh()
	b.PreviewButton.Refresh()
	if p != nil && len(p.Problems) > 0 && !b.queueing && b.Batch == "" && p.Valid > 0 {
		if b.SkipInvalid.Checked {
			b.setStatus(fmt.Sprintf("Ready to queue the %d valid messages%s; %s skipped.", p.Valid, b.scheduleText(), bulkPlural(len(p.Problems), "invalid row is", "invalid rows are")), false)
		}
	}
}

// Queue queues the checked plan as one batch.
func (b *Bulk) Queue() {
	p := b.Plan
	if p == nil || b.QueueButton.Disabled() {
		return
	}
	b.queueing = true
	b.updateButtons()
	b.Progress.SetValue(0)
	b.Progress.Show()
	b.setStatus(fmt.Sprintf("Queueing %d messages (all of them or none)…", p.Valid), false)
	ctx := b.ctx
	go func() {
		var last time.Time
		batch, err := b.core.QueueBulk(ctx, p, func(done, total int) {
			// At most ten redraws a second.
			if now := time.Now(); done < total && now.Sub(last) < 100*time.Millisecond {
				return
			} else {
				last = now
			}
			b.do(func() {
				if total > 0 {
					b.Progress.SetValue(float64(done) / float64(total))
				}
			})
		})
		b.do(func() {
			b.queueing = false
			if err != nil {
				b.Progress.Hide()
				b.setStatus("Nothing was queued: "+err.Error(), true)
				b.updateButtons()
				return
			}
			b.Batch = batch
			b.Progress.SetValue(1)
			b.setStatus(fmt.Sprintf("Queued %d messages as batch %s%s. The outbox sends them; follow them in the Outbox.", p.Valid, batch, b.scheduleText()), false)
			if b.host != nil {
				b.host.SetStatus(fmt.Sprintf("Queued %d messages as batch %s", p.Valid, batch))
			}
			b.CancelButton.Show()
			b.OutboxButton.Show()
			b.updateButtons()
		})
	}()
}

func (b *Bulk) confirmCancel() {
	if b.Batch == "" {
		return
	}
	if b.host == nil {
		b.CancelBatch()
		return
	}
	dialog.ShowConfirm("Cancel the batch?", fmt.Sprintf("Cancel every message of batch %s not sent yet? Messages already sent stay sent.", b.Batch),
		func(ok bool) {
			if ok {
				b.CancelBatch()
			}
		}, b.host.Window())
}

// CancelBatch cancels the queued batch's messages not sent yet.
func (b *Bulk) CancelBatch() {
	batch := b.Batch
	if batch == "" {
		return
	}
	b.CancelButton.Disable()
	ctx := b.ctx
	go func() {
		n, err := b.core.CancelBatch(ctx, batch)
		b.do(func() {
			b.CancelButton.Enable()
			if err != nil {
				b.setStatus("Could not cancel the batch: "+err.Error(), true)
				return
			}
			b.CancelButton.Hide()
			b.setStatus(fmt.Sprintf("Cancelled %d messages of batch %s (those already sent stay sent).", n, batch), false)
		})
	}()
}

func (b *Bulk) openOutbox() {
	if b.host == nil {
		return
	}
	if err := b.host.Open("outbox", nil); err != nil {
		b.setStatus("The Outbox view is not available: "+err.Error(), true)
	}
}

func (b *Bulk) chooseCSV() {
	if b.host == nil {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			b.setStatus("Cannot open the file: "+err.Error(), true)
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		b.CSV.SetText(path)
	}, b.host.Window())
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv", ".CSV", ".txt"}))
	d.Show()
}

func (b *Bulk) setStatus(s string, bad bool) {
	b.Status.Importance = widget.MediumImportance
	if bad {
		b.Status.Importance = widget.DangerImportance
	}
	b.Status.SetText(s)
}

// ---- the recipients table

// Table columns: row number, status, the problem, the CSV's columns.
func (b *Bulk) tableSize() (int, int) {
	if b.Plan == nil {
		return 0, 0
	}
	return len(b.shown), len(b.Plan.Columns) + 3
}

func (b *Bulk) filterRows() {
	p := b.Plan
	b.shown = b.shown[:0]
	if p != nil {
		for i := range p.Rows {
			row := i + 1
			if b.OnlyBad.Checked && p.Problems[row] == "" && p.Duplicates[row] == "" {
				continue
			}
			b.shown = append(b.shown, i)
		}
		b.Table.SetColumnWidth(0, 56)
		b.Table.SetColumnWidth(1, 104)
		problem := float32(90)
		if len(p.Problems)+len(p.Duplicates) > 0 {
			problem = 300
		}
		b.Table.SetColumnWidth(2, problem)
		for c := range p.Columns {
			b.Table.SetColumnWidth(c+3, 150)
		}
	}
	b.Table.Refresh()
	b.Table.ScrollToTop()
}

func (b *Bulk) newCell() fyne.CanvasObject {
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return container.NewBorder(nil, nil, widget.NewIcon(nil), nil, l)
}

// CellText returns what the table shows at (row, col) of its shown rows:
// the row number, its status in words, its problem, then its cells.
func (b *Bulk) CellText(row, col int) string {
	p := b.Plan
	if p == nil || row >= len(b.shown) {
		return ""
	}
	i := b.shown[row]
	n := i + 1
	switch col {
	case 0:
		return strconv.Itoa(n)
	case 1:
		switch {
		case p.Problems[n] != "":
			return "Invalid"
		case p.Duplicates[n] != "":
			return "Skipped"
		}
		return "OK"
	case 2:
		if s := p.Problems[n]; s != "" {
			return s
		}
		return p.Duplicates[n]
	}
	if cells := p.Rows[i]; col-3 < len(cells) {
		return cells[col-3]
	}
	return ""
}

func (b *Bulk) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	c := o.(*fyne.Container)
	l := c.Objects[0].(*widget.Label)
	icon := c.Objects[1].(*widget.Icon)
	text := b.CellText(id.Row, id.Col)
	l.Importance = widget.MediumImportance
	icon.SetResource(nil)
	icon.Hide()
	if id.Col == 1 {
		icon.Show()
		switch text {
		case "Invalid":
			l.Importance = widget.DangerImportance
			icon.SetResource(theme.ErrorIcon())
		case "Skipped":
			l.Importance = widget.WarningImportance
			icon.SetResource(theme.WarningIcon())
		default:
			l.Importance = widget.SuccessImportance
			icon.SetResource(theme.ConfirmIcon())
		}
	}
	if id.Col == 2 && text != "" {
		l.Importance = widget.DangerImportance
		if b.CellText(id.Row, 1) == "Skipped" {
			l.Importance = widget.WarningImportance
		}
	}
	l.SetText(text)
}

func (b *Bulk) updateHeader(id widget.TableCellID, o fyne.CanvasObject) {
	l := o.(*widget.Label)
	if b.Plan == nil || id.Row >= 0 {
		l.SetText("")
		return
	}
	switch c := id.Col; {
	case c == 0:
		l.SetText("Row")
	case c == 1:
		l.SetText("Status")
	case c == 2:
		l.SetText("Problem")
	case c-3 < len(b.Plan.Columns):
		l.SetText(b.Plan.Columns[c-3])
	}
}

// ---- the preview

func (b *Bulk) showPreview() {
	p := b.Plan
	i := settingsIndex(b.PreviewPick.Options, b.PreviewPick.Selected)
	if p == nil || i < 0 || i >= len(p.Previews) {
		for _, l := range []*widget.Label{b.PreviewTo, b.PreviewSubject, b.PreviewWhen, b.PreviewHeaders, b.PreviewText, b.PreviewHTML} {
			l.SetText("")
		}
		return
	}
	pv := p.Previews[i]
	b.PreviewTo.SetText(pv.To)
	b.PreviewSubject.SetText(pv.Subject)
	when := "at once, when queued"
	if !pv.SendAt.IsZero() {
		when = pv.SendAt.Local().Format("Mon 2006-01-02 15:04:05")
	}
	b.PreviewWhen.SetText(when)
	b.PreviewText.SetText(bulkClip(pv.Text, "(no text part)"))
	b.PreviewHTML.SetText(bulkClip(pv.HTML, "(no HTML part)"))
	b.PreviewHeaders.SetText(bulkClip(strings.Join(pv.Headers, "\n"), "(no extra headers)"))
}

// bulkClip bounds a preview text (a label holding a huge text freezes the
// window).
func bulkClip(s, empty string) string {
	if strings.TrimSpace(s) == "" {
		return empty
	}
	if len(s) > maxPreviewText {
		return s[:maxPreviewText] + fmt.Sprintf("\n… (%d more bytes not shown)", len(s)-maxPreviewText)
	}
	return s
}

// bulkPlural picks the singular or plural phrase for n, with n in front.
func bulkPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
