package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
)

// HistoryCore is what the History view needs from the core. Every method
// may touch the disk or the network: the view calls them off the UI
// goroutine.
type HistoryCore interface {
	// HistoryList returns one page of records, newest first.
	HistoryList(ctx context.Context, q history.Query) (history.Page, error)
	// HistoryCount counts the records q selects.
	HistoryCount(ctx context.Context, q history.Query) (int, error)
	// HistoryRecord returns one record with its recipients and transcript.
	HistoryRecord(ctx context.Context, id int64) (*history.Record, error)
	// HistoryAttempts returns every recorded attempt of the outbox item
	// (with transcripts), oldest first; a direct send has one.
	HistoryAttempts(ctx context.Context, r *history.Record) ([]*history.Record, error)
	// HistoryParts takes the recorded message apart (headers, text, HTML as
	// safe text and as a document, attachments), each part bounded in size.
	HistoryParts(ctx context.Context, id int64) (MessageParts, error)
	// HistorySource returns up to n bytes of the raw message from offset,
	// and the message's whole size.
	HistorySource(ctx context.Context, id int64, offset, n int) (string, int, error)
	// HistoryExport writes the message as sent (.eml) to w.
	HistoryExport(ctx context.Context, id int64, w io.Writer) error
	// HistoryDraft turns the message back into a draft, for Compose.
	HistoryDraft(ctx context.Context, id int64) (message.Draft, error)
	// Redirect sends the recorded message unchanged (with Resent- fields)
	// to new recipients, through the named profile ("" : the sandbox).
	Redirect(ctx context.Context, id int64, profile string, to []string) Outcome
	// ProfileNames lists the profiles by id (the sandbox included).
	ProfileNames(ctx context.Context) (map[string]string, error)
	// Daily returns per-day counts since the given time, for the chart.
	Daily(ctx context.Context, since time.Time, profile string) ([]history.Day, error)
	// WatchHistory subscribes to new records (feed.History).
	WatchHistory() *feed.Sub
}

// MessageParts is a recorded message taken apart for showing.
type MessageParts struct {
	Headers  [][2]string
	Text     string
	HTMLText string
	// HTML is the HTML part converted for showing formatted, with the
	// message's own images (message.HTMLDocument); nil for none.
	HTML        *message.Doc
	Attachments []string
}

// historyPage is how many records one store query reads.
const historyPage = 100

// sourceChunk is how much of a message's source is shown at once; "Show
// more" adds as much again.
const sourceChunk = 128 << 10

// History is the sent-mail history view: a searchable, paged list of
// records, the chosen record's envelope, outcome, message, source and
// transcripts, and a per-profile chart of the last 30 days.
type History struct {
	core HistoryCore
	do   Dispatcher
	host Host

	Search              *widget.Entry
	State, Profile      *widget.Select
	Since, Until        *widget.Entry
	CountLabel          *widget.Label
	List                *widget.List
	Records             []history.Record
	next                string
	loading             bool
	gen                 int // bumps on every new query; late pages are dropped
	Summary             *widget.Label
	Recipients          *lineList
	Message             *lineList
	HTML                *HTMLView
	Source              *lineList
	SourceMore          *widget.Button
	SourceInfo          *widget.Label
	Transcript          *lineList
	Tabs                *container.AppTabs
	ExportBtn, Resend   *widget.Button
	RedirectBtn         *widget.Button
	Chart               *Chart
	ChartProfile        *widget.Select
	selected            *history.Record
	sourceShown, srcLen int
	sourceTail          string // an incomplete last line kept for the next chunk
	profiles            map[string]string
	content             fyne.CanvasObject
	split               *container.Split
	ctx                 context.Context
	cancel              context.CancelFunc
	sub                 *feed.Sub
	mu                  sync.Mutex
	stopped             bool

	// splits keeps the chart's and the summary's splits' positions.
	splits splitMemory
}

// NewHistory returns the History view over core.
func NewHistory(core HistoryCore, do Dispatcher) *History {
	if do == nil {
		do = fyne.Do
	}
	h := &History{core: core, do: do, profiles: map[string]string{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// Name implements View.
func (h *History) Name() string { return "history" }

// Title implements View.
func (h *History) Title() string { return "History" }

// Icon implements View.
func (h *History) Icon() fyne.Resource { return theme.HistoryIcon() }

// SetHost implements Hosted.
func (h *History) SetHost(host Host) { h.host = host }

// Actions implements Actioner: the buttons of the message shown.
func (h *History) Actions() []Action {
	return []Action{
		{Menu: "Message", Label: "Export the message as .eml…", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault}, Do: func() { press(h.ExportBtn) }, WhenShown: true},
		{Menu: "Message", Label: "Resend the message…", Do: func() { press(h.Resend) }, WhenShown: true},
		{Menu: "Message", Label: "Redirect the message…", Do: func() { press(h.RedirectBtn) }, WhenShown: true},
	}
}

// FocusSearch implements Searchable (Ctrl+F).
func (h *History) FocusSearch() {
	h.Content()
	if h.host != nil {
		h.host.Window().Canvas().Focus(h.Search)
	}
}

var historyOutcomes = []string{"Any outcome", "Sent", "Partly sent", "Deferred", "Failed", "Unknown"}

const anyProfile = "Any profile"

// Content implements View.
func (h *History) Content() fyne.CanvasObject {
	if h.content != nil {
		return h.content
	}
	h.Search = widget.NewEntry()
	h.Search.SetPlaceHolder("Search (Ctrl+F): to, from, subject, Message-ID")
	h.Search.OnChanged = func(string) { h.reloadSoon() }
	h.State = widget.NewSelect(historyOutcomes, func(string) { h.reload() })
	h.State.SetSelected(historyOutcomes[0])
	h.Profile = widget.NewSelect([]string{anyProfile}, func(string) { h.reload() })
	h.Profile.SetSelected(anyProfile)
	h.Since = widget.NewEntry()
	h.Since.SetPlaceHolder("since YYYY-MM-DD")
	h.Since.OnChanged = func(string) { h.reloadSoon() }
	h.Until = widget.NewEntry()
	h.Until.SetPlaceHolder("until YYYY-MM-DD")
	h.Until.OnChanged = func(string) { h.reloadSoon() }
	h.CountLabel = widget.NewLabel("")
	h.CountLabel.Truncation = fyne.TextTruncateEllipsis

	h.List = widget.NewList(
		func() int { return len(h.Records) },
		func() fyne.CanvasObject {
			state := widget.NewLabel("")
			state.TextStyle = fyne.TextStyle{Bold: true}
			line := widget.NewLabel("")
			line.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, container.NewHBox(widget.NewIcon(nil), state), nil, line)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(h.Records) {
				return
			}
			if id >= len(h.Records)-20 {
				h.loadMore()
			}
			r := h.Records[id]
			c := o.(*fyne.Container)
			line := c.Objects[0].(*widget.Label)
			left := c.Objects[1].(*fyne.Container)
			icon, word := stateLook(r.State)
			left.Objects[0].(*widget.Icon).SetResource(icon)
			left.Objects[1].(*widget.Label).SetText(word)
			line.SetText(h.recordLine(r))
		},
	)
	h.List.OnSelected = func(id widget.ListItemID) {
		if id < len(h.Records) {
			h.open(h.Records[id].ID)
		}
	}

	h.Summary = widget.NewLabel("Choose a message to see what happened to it.")
	h.Summary.Wrapping = fyne.TextWrapWord
	h.Recipients = newLineList()
	h.Message = newLineList()
	h.HTML = NewHTMLView(h.do)
	h.HTML.Window = func() fyne.Window {
		if h.host == nil {
			return nil
		}
		return h.host.Window()
	}
	h.HTML.SetNote("Choose a message to see its HTML part.")
	h.Source = newLineList()
	h.SourceInfo = widget.NewLabel("")
	h.SourceInfo.Truncation = fyne.TextTruncateEllipsis
	h.SourceMore = widget.NewButton("Show more", h.moreSource)
	h.SourceMore.Disable()
	h.Transcript = newLineList()
	h.ExportBtn = widget.NewButtonWithIcon("Export .eml…", theme.DocumentSaveIcon(), h.export)
	h.Resend = widget.NewButtonWithIcon("Resend…", theme.MailForwardIcon(), h.resend)
	h.RedirectBtn = widget.NewButtonWithIcon("Redirect…", theme.MailReplyIcon(), h.redirect)
	h.setActions(false)

	// The summary scrolls: its wrapped text must not raise the window's
	// minimum height in a small window.
	summary := container.NewVSplit(container.NewVScroll(h.Summary), container.NewBorder(bold("Recipients"), nil, nil, nil, h.Recipients.List))
	summary.Offset = 0.55
	h.splits.keep(h.host, "history.split.summary", summary)
	h.Tabs = container.NewAppTabs(
		container.NewTabItem("Outcome", summary),
		container.NewTabItem("Message", h.Message.List),
		container.NewTabItem("HTML", container.NewBorder(historyHTMLNote(), nil, nil, nil, h.HTML.Content())),
		container.NewTabItem("Source", container.NewBorder(nil, container.NewBorder(nil, nil, nil, h.SourceMore, h.SourceInfo), nil, nil, h.Source.List)),
		container.NewTabItem("Transcripts", h.Transcript.List),
	)
	actions := container.NewHBox(h.ExportBtn, h.Resend, h.RedirectBtn)
	detail := borderInOrder(actions, nil, nil, nil, h.Tabs)

	h.Chart = NewChart()
	h.ChartProfile = widget.NewSelect([]string{anyProfile}, func(string) { h.loadChart() })
	h.ChartProfile.SetSelected(anyProfile)
	chartTitle := widget.NewLabelWithStyle("Sending over the last 30 days", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	chartBox := container.NewBorder(container.NewBorder(nil, nil, chartTitle, h.ChartProfile), nil, nil, nil, h.Chart)

	filters := container.NewBorder(nil, nil, nil, container.NewHBox(h.State, h.Profile), h.Search)
	dates := container.NewBorder(nil, nil, nil, nil, container.NewGridWithColumns(3, h.Since, h.Until, h.CountLabel))
	left := borderInOrder(container.NewVBox(filters, dates), nil, nil, nil, h.List)
	h.split = container.NewHSplit(left, detail)
	h.split.Offset = 0.5
	if h.host != nil {
		h.split.Offset = h.host.Preferences().FloatWithFallback("history.split", 0.5)
	}
	vs := container.NewVSplit(h.split, chartBox)
	vs.Offset = 0.72
	h.splits.keep(h.host, "history.split.chart", vs)
	h.content = vs
	return h.content
}

func (h *History) setActions(on bool) {
	for _, b := range []*widget.Button{h.ExportBtn, h.Resend, h.RedirectBtn} {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

// stateLook is a state's icon and word: never colour alone.
func stateLook(s history.State) (fyne.Resource, string) {
	switch s {
	case history.Sent:
		return theme.ConfirmIcon(), "Sent"
	case history.Partial:
		return theme.WarningIcon(), "Partly sent"
	case history.Deferred:
		return theme.HistoryIcon(), "Deferred"
	case history.Failed:
		return theme.ErrorIcon(), "Failed"
	}
	return theme.QuestionIcon(), "Unknown"
}

func (h *History) profileName(r history.Record) string {
	if r.ProfileName != "" {
		return r.ProfileName
	}
	if n := h.profiles[r.Profile]; n != "" {
		return n
	}
	if r.Profile == "" {
		return "sandbox"
	}
	return r.Profile
}

func (h *History) recordLine(r history.Record) string {
	subj := r.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	to := strings.Join(r.To, ", ")
	if len(to) > 80 {
		to = to[:80] + "…"
	}
	return fmt.Sprintf("%s  %s  →  %s  · %s", r.Finished.Local().Format("2006-01-02 15:04"), subj, to, h.profileName(r))
}

// query is the search the filters describe; a date that does not parse is
// reported in the count label and ignored.
func (h *History) query() (history.Query, string) {
	q := history.Query{Search: strings.TrimSpace(h.Search.Text), Limit: historyPage}
	switch h.State.Selected {
	case "Sent":
		q.States = []history.State{history.Sent}
	case "Partly sent":
		q.States = []history.State{history.Partial}
	case "Deferred":
		q.States = []history.State{history.Deferred}
	case "Failed":
		q.States = []history.State{history.Failed}
	case "Unknown":
		q.States = []history.State{history.Unknown}
	}
	if h.Profile.Selected != anyProfile {
		for id, n := range h.profiles {
			if n == h.Profile.Selected {
				q.Profile = id
			}
		}
	}
	var bad string
	parse := func(e *widget.Entry, dayAfter bool) time.Time {
		s := strings.TrimSpace(e.Text)
		if s == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", s, time.Local)
		if err != nil {
			bad = fmt.Sprintf("%q is not a date (YYYY-MM-DD)", s)
			return time.Time{}
		}
		if dayAfter {
			t = t.AddDate(0, 0, 1)
		}
		return t
	}
	q.Since, q.Until = parse(h.Since, false), parse(h.Until, true)
	return q, bad
}

var reloadDelay = 250 * time.Millisecond

// reloadSoon reloads after typing pauses.
func (h *History) reloadSoon() {
	h.gen++
	g := h.gen
	go func() {
		time.Sleep(reloadDelay)
		h.do(func() {
			if g == h.gen {
				h.reload()
			}
		})
	}()
}

// reload runs the search again from the first page.
func (h *History) reload() {
	if h.List == nil {
		return
	}
	h.gen++
	g := h.gen
	q, bad := h.query()
	h.loading = true
	ctx := h.ctx
	go func() {
		page, err := h.core.HistoryList(ctx, q)
		n, cerr := h.core.HistoryCount(ctx, q)
		h.do(func() {
			if g != h.gen {
				return
			}
			h.loading = false
			if err == nil {
				err = cerr
			}
			if err != nil {
				h.CountLabel.SetText("Could not read the history: " + err.Error())
				return
			}
			h.Records, h.next = page.Records, page.Next
			h.List.UnselectAll()
			h.List.Refresh()
			text := fmt.Sprintf("%d message(s)", n)
			if bad != "" {
				text = bad
			}
			h.CountLabel.SetText(text)
		})
	}()
}

// loadMore reads the next page when the list nears its end.
func (h *History) loadMore() {
	if h.loading || h.next == "" {
		return
	}
	h.loading = true
	g := h.gen
	q, _ := h.query()
	q.Cursor = h.next
	ctx := h.ctx
	go func() {
		page, err := h.core.HistoryList(ctx, q)
		h.do(func() {
			if g != h.gen {
				return
			}
			h.loading = false
			if err != nil {
				h.CountLabel.SetText("Could not read the history: " + err.Error())
				return
			}
			h.Records, h.next = append(h.Records, page.Records...), page.Next
			h.List.Refresh()
		})
	}()
}

// open shows record id: its outcome first, the rest loaded with it; the
// source shows its first part.
func (h *History) open(id int64) {
	ctx := h.ctx
	h.Summary.SetText("Loading…")
	go func() {
		r, err := h.core.HistoryRecord(ctx, id)
		var attempts []*history.Record
		var parts MessageParts
		var src string
		var size int
		if err == nil {
			attempts, _ = h.core.HistoryAttempts(ctx, r)
			parts, _ = h.core.HistoryParts(ctx, id)
			src, size, _ = h.core.HistorySource(ctx, id, 0, sourceChunk)
		}
		h.do(func() {
			if err != nil {
				h.Summary.SetText("Could not load message " + fmt.Sprint(id) + ": " + err.Error())
				return
			}
			h.show(r, attempts, parts, src, size)
		})
	}()
}

// show fills the detail panes (on the UI goroutine; every pane is a list
// of lines, so even a large message costs only the lines on screen).
func (h *History) show(r *history.Record, attempts []*history.Record, parts MessageParts, src string, size int) {
	h.selected = r
	h.setActions(true)
	_, word := stateLook(r.State)
	var b strings.Builder
	fmt.Fprintf(&b, "%s via %s, %s (%s)\n", word, h.profileName(*r), r.Finished.Local().Format("2006-01-02 15:04:05"), r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "Envelope: MAIL FROM <%s>, %d recipient(s)\n", r.From, len(r.To))
	if r.Server != "" {
		fmt.Fprintf(&b, "Server: %s", r.Server)
		if r.TLS != "" {
			fmt.Fprintf(&b, " · TLS %s", r.TLS)
		}
		b.WriteString("\n")
	}
	if r.QueueItem != 0 {
		fmt.Fprintf(&b, "Outbox message %d, attempt %d\n", r.QueueItem, r.Attempt)
	}
	if r.QueuedAs != "" {
		fmt.Fprintf(&b, "Server's reply: %s\n", r.QueuedAs)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "What went wrong: %s\n", r.Error)
	}
	fmt.Fprintf(&b, "Message-ID %s · %s", r.MessageID, sizeWords(r.Size))
	h.Summary.SetText(truncateText(b.String(), 2000))

	var rl []string
	for _, rc := range r.Recipients {
		verdict := "Refused"
		switch {
		case rc.Accepted:
			verdict = "Accepted"
		case rc.Code == 0:
			verdict = "Not tried"
		case rc.Code < 500:
			verdict = "Deferred"
		}
		line := verdict + ": " + rc.Addr
		if rc.Code != 0 {
			line += fmt.Sprintf(" (%d %s %s)", rc.Code, rc.Enhanced, rc.Message)
		}
		rl = append(rl, line)
	}
	h.Recipients.Set(rl)

	var ml []string
	for _, hd := range parts.Headers {
		ml = append(ml, hd[0]+": "+hd[1])
	}
	if len(parts.Attachments) > 0 {
		ml = append(ml, "", "Attachments:")
		for _, a := range parts.Attachments {
			ml = append(ml, "  "+a)
		}
	}
	if parts.Text != "" {
		ml = append(ml, "", "— Text —")
		ml = append(ml, splitLines(parts.Text)...)
	}
	if parts.HTMLText != "" {
		ml = append(ml, "", "— HTML as text (the HTML tab shows it formatted; nothing is loaded, no script runs) —")
		ml = append(ml, splitLines(parts.HTMLText)...)
	}
	h.Message.Set(ml)
	switch {
	case parts.HTML != nil:
		h.HTML.SetDoc(parts.HTML)
	case parts.HTMLText != "":
		h.HTML.SetNote("(the HTML is shown as text in the Message tab)")
	default:
		h.HTML.SetNote("(this message has no HTML part)")
	}

	h.srcLen, h.sourceShown, h.sourceTail = size, 0, ""
	h.Source.Set(nil)
	h.appendSource(src)

	var tl []string
	if len(attempts) == 0 {
		attempts = []*history.Record{r}
	}
	for _, a := range attempts {
		_, w := stateLook(a.State)
		tl = append(tl, fmt.Sprintf("— Attempt %d, %s, %s —", a.Attempt, w, a.Finished.Local().Format("2006-01-02 15:04:05")))
		lines := a.OwnTranscript()
		if a.Transcript == nil {
			tl = append(tl, "(transcript not kept)")
		}
		for _, e := range lines {
			tl = append(tl, e.String())
		}
	}
	h.Transcript.Set(tl)
}

// historyHTMLNote says what the HTML tab never does.
func historyHTMLNote() *widget.Label {
	l := widget.NewLabel("Nothing is loaded from the internet and no script runs; images come from the message only.")
	l.Wrapping = fyne.TextWrapWord
	return l
}

// appendSource adds a chunk of source (its last partial line waits for the
// next chunk).
func (h *History) appendSource(chunk string) {
	h.sourceShown += len(chunk)
	text := h.sourceTail + strings.ReplaceAll(chunk, "\r\n", "\n")
	h.sourceTail = ""
	if h.sourceShown < h.srcLen {
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			text, h.sourceTail = text[:i], text[i+1:]
		}
	}
	h.Source.Append(splitLines(text))
	if h.sourceShown < h.srcLen {
		h.SourceInfo.SetText(fmt.Sprintf("Showing %s of %s", sizeWords(int64(h.sourceShown)), sizeWords(int64(h.srcLen))))
		h.SourceMore.Enable()
	} else {
		h.SourceInfo.SetText(fmt.Sprintf("The whole message (%s)", sizeWords(int64(h.srcLen))))
		h.SourceMore.Disable()
	}
}

// moreSource loads the next part of the source.
func (h *History) moreSource() {
	r := h.selected
	if r == nil || h.sourceShown >= h.srcLen {
		return
	}
	h.SourceMore.Disable()
	from, ctx := h.sourceShown, h.ctx
	go func() {
		src, _, err := h.core.HistorySource(ctx, r.ID, from, sourceChunk)
		h.do(func() {
			if h.selected != r || h.sourceShown != from {
				return
			}
			if err != nil {
				h.SourceInfo.SetText("Could not read more: " + err.Error())
				return
			}
			h.appendSource(src)
		})
	}()
}

func (h *History) export() {
	r := h.selected
	if r == nil || h.host == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		ctx := h.ctx
		go func() {
			err := h.core.HistoryExport(ctx, r.ID, w)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			h.do(func() {
				if err != nil {
					h.host.SetStatus("Export failed: " + err.Error())
					return
				}
				h.host.SetStatus("Saved message " + fmt.Sprint(r.ID) + " to " + w.URI().Path())
			})
		}()
	}, h.host.Window())
	d.SetFileName(fmt.Sprintf("message-%d.eml", r.ID))
	d.Show()
}

// resend opens Compose on a copy of the message.
func (h *History) resend() {
	r := h.selected
	if r == nil {
		return
	}
	ctx := h.ctx
	go func() {
		d, err := h.core.HistoryDraft(ctx, r.ID)
		h.do(func() {
			if err != nil {
				h.Summary.SetText("Could not resend: " + err.Error())
				return
			}
			if h.host != nil {
				if err := h.host.Open("compose", d); err != nil {
					h.host.SetStatus(err.Error())
				}
			}
		})
	}()
}

// redirect asks for new recipients and sends the message to them.
func (h *History) redirect() {
	r := h.selected
	if r == nil || h.host == nil {
		return
	}
	to := widget.NewEntry()
	to.SetPlaceHolder("someone@example.com, another@example.com")
	via := widget.NewSelect(nil, nil)
	names := []string{SandboxChoice}
	for _, n := range h.profiles {
		if n != "sandbox" {
			names = append(names, n)
		}
	}
	via.Options = names
	via.SetSelected(SandboxChoice)
	if n := h.profileName(*r); contains(names, n) {
		via.SetSelected(n)
	}
	dialog.ShowForm("Redirect message "+fmt.Sprint(r.ID), "Send", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("New recipients", to), widget.NewFormItem("Via", via)},
		func(ok bool) {
			if ok {
				h.RedirectTo(r.ID, via.Selected, splitList(to.Text))
			}
		}, h.host.Window())
}

// RedirectTo sends record id to the addresses through the profile named
// via (SandboxChoice or "" : the sandbox) and reports the outcome.
func (h *History) RedirectTo(id int64, via string, to []string) {
	if via == SandboxChoice {
		via = ""
	}
	if len(to) == 0 {
		h.Summary.SetText("Not redirected: give at least one recipient.")
		return
	}
	ctx := h.ctx
	go func() {
		out := h.core.Redirect(ctx, id, via, to)
		h.do(func() {
			if h.host != nil {
				h.host.SetStatus(out.Summary)
			}
			h.CountLabel.SetText(out.Summary)
		})
	}()
}

func (h *History) loadChart() {
	if h.Chart == nil {
		return
	}
	profile := ""
	if h.ChartProfile.Selected != anyProfile {
		for id, n := range h.profiles {
			if n == h.ChartProfile.Selected {
				profile = id
			}
		}
	}
	ctx := h.ctx
	now := time.Now()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local).AddDate(0, 0, -29)
	go func() {
		days, err := h.core.Daily(ctx, since, profile)
		h.do(func() {
			if err != nil {
				h.Chart.SetError("Could not read the statistics: " + err.Error())
				return
			}
			h.Chart.SetDays(since, 30, days)
		})
	}()
}

func (h *History) loadProfiles() {
	ctx := h.ctx
	go func() {
		names, err := h.core.ProfileNames(ctx)
		if err != nil {
			return
		}
		h.do(func() {
			h.profiles = names
			opts := []string{anyProfile}
			for _, n := range names {
				opts = append(opts, n)
			}
			sortStrings(opts[1:])
			h.Profile.Options = opts
			h.Profile.Refresh()
			h.ChartProfile.Options = opts
			h.ChartProfile.Refresh()
			h.List.Refresh()
		})
	}()
}

// Start implements View: it loads the first page, the chart and the
// profiles, and follows new records (coalesced: one reload per burst).
func (h *History) Start(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.Content()
	h.ctx, h.cancel = context.WithCancel(ctx)
	h.loadProfiles()
	h.reload()
	h.loadChart()
	h.sub = h.core.WatchHistory()
	go coalesce(h.ctx, h.sub.C(), 100*time.Millisecond, func() {
		h.do(func() {
			// New records go on top; the list is read again only while
			// its top is in view, so reading is never pushed away.
			h.refreshTop()
			h.loadChart()
		})
	})
}

// refreshTop reloads the first page when the user is not deep in the list.
func (h *History) refreshTop() {
	if len(h.Records) <= historyPage {
		sel := h.selected
		h.reload()
		h.selected = sel
	} else {
		q, _ := h.query()
		ctx, g := h.ctx, h.gen
		go func() {
			n, err := h.core.HistoryCount(ctx, q)
			h.do(func() {
				if err == nil && g == h.gen {
					h.CountLabel.SetText(fmt.Sprintf("%d message(s) (new ones on top: clear the search to see them)", n))
				}
			})
		}()
	}
}

// Stop implements View.
func (h *History) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.stopped = true
	if h.host != nil && h.split != nil {
		h.host.Preferences().SetFloat("history.split", h.split.Offset)
	}
	h.splits.save(h.host)
	h.cancel()
	if h.sub != nil {
		h.sub.Close()
	}
}

// lineList is a virtualised list of text lines: only the lines on screen
// are laid out, so a long message or transcript costs what is visible.
type lineList struct {
	List  *widget.List
	Lines []string
}

func newLineList() *lineList {
	l := &lineList{}
	l.List = widget.NewList(
		func() int { return len(l.Lines) },
		func() fyne.CanvasObject {
			t := widget.NewLabel("")
			t.TextStyle = fyne.TextStyle{Monospace: true}
			t.Truncation = fyne.TextTruncateEllipsis
			return t
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(l.Lines) {
				o.(*widget.Label).SetText(l.Lines[id])
			}
		},
	)
	return l
}

// Set replaces the lines.
func (l *lineList) Set(lines []string) {
	l.Lines = lines
	l.List.ScrollToTop()
	l.List.Refresh()
}

// Append adds lines at the end.
func (l *lineList) Append(lines []string) {
	l.Lines = append(l.Lines, lines...)
	l.List.Refresh()
}

// maxLine bounds one shown line: a label's text is laid out whole.
const maxLine = 400

func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len(l) > maxLine {
			lines[i] = l[:maxLine] + fmt.Sprintf(" … (%d more characters)", len(l)-maxLine)
		}
	}
	return lines
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func sizeWords(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func sortStrings(s []string) {
	slices.SortFunc(s, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}
