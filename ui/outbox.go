package ui

import (
	"context"
	"fmt"
	"image/color"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
)

// OutboxQuery selects the outbox items the table shows.
type OutboxQuery struct {
	// States keeps items in these states; empty: all.
	States []queue.State
	// Profile keeps one profile's items (its id); "": all.
	Profile string
	// Batch keeps one bulk batch's items; "": all.
	Batch string
	// Search keeps items whose subject, sender or a recipient contains it.
	Search string
}

// OutboxAttempt is one delivery attempt of an item, from the history.
type OutboxAttempt struct {
	// When the attempt started.
	When time.Time
	// Summary says how it ended ("sent: 250 2.0.0 OK", "deferred: 451 …").
	Summary string
	// Lines is the session's transcript, one line each, redacted.
	Lines []string
}

// OutboxNotice is a desktop notification the outbox wants shown.
type OutboxNotice struct {
	Title, Body string
}

// Notifier shows desktop notifications (fyne's App.SendNotification in the
// app, a recorder in tests).
type Notifier interface {
	Notify(title, body string)
}

// RunnerStatus says what the outbox runner of this process does.
type RunnerStatus struct {
	// Running is true while the runner runs (the window started it).
	Running bool
	// Paused is true while it starts no new session.
	Paused bool
}

// OutboxCore is what the Outbox view needs from the core. The methods may
// touch the disk: the view calls them off the UI goroutine.
type OutboxCore interface {
	// Page returns up to limit items of q from offset, newest first, with
	// their recipients.
	Page(ctx context.Context, q OutboxQuery, offset, limit int) ([]queue.Item, error)
	// Counts returns how many items of q are in each state (q.States
	// aside).
	Counts(ctx context.Context, q OutboxQuery) (map[queue.State]int, error)
	// ProfileNames maps profile ids to names (the sandbox included).
	ProfileNames(ctx context.Context) map[string]string
	// Batches lists the bulk batch ids, newest first.
	Batches(ctx context.Context) ([]string, error)
	// Item returns one item with its recipients.
	Item(ctx context.Context, id int64) (*queue.Item, error)
	// Change applies op ("retry", "cancel", "hold", "release") to the
	// items (ids, or every item of all when all is not nil) and returns
	// how many changed and, in words, why the others did not.
	Change(ctx context.Context, op string, ids []int64, all *OutboxQuery) (int, []string, error)
	// Draft reads item id's message back into a draft (edit and requeue).
	Draft(ctx context.Context, id int64) (message.Draft, error)
	// Attempts returns the recorded attempts of item id, oldest first.
	Attempts(ctx context.Context, id int64) ([]OutboxAttempt, error)
	// Runner reports the runner's state; PauseRunner pauses or resumes it.
	Runner() RunnerStatus
	PauseRunner(pause bool)
	// Events subscribes to the outbox's changes (feed.Queue, feed.Runner,
	// those of other processes included).
	Events() *feed.Sub
	// WatchNotices calls notify for each permanent failure and drained
	// bulk batch until stop is called.
	WatchNotices(ctx context.Context, notify func(OutboxNotice)) (stop func())
}

// OutboxOptions adjust the Outbox view.
type OutboxOptions struct {
	// Notifier shows desktop notifications; nil shows none.
	Notifier Notifier
	// PageSize is how many items one store query reads (default 100).
	PageSize int
	// Interval is the shortest time between two refreshes while events
	// arrive (default 150 ms).
	Interval time.Duration
	// Now is the clock for relative times (default time.Now).
	Now func() time.Time
}

// stateChoices are the state filter's entries: groups, then each state.
var stateChoices = []struct {
	label  string
	states []queue.State
}{
	{"All states", nil},
	{"Waiting (queued, scheduled, sending, deferred)", []queue.State{queue.Queued, queue.Scheduled, queue.Sending, queue.Deferred}},
	{"Needs you (failed, unknown, held)", []queue.State{queue.Failed, queue.Unknown, queue.Held}},
	{"Queued", []queue.State{queue.Queued}},
	{"Scheduled", []queue.State{queue.Scheduled}},
	{"Sending", []queue.State{queue.Sending}},
	{"Deferred", []queue.State{queue.Deferred}},
	{"Held", []queue.State{queue.Held}},
	{"Unknown", []queue.State{queue.Unknown}},
	{"Failed", []queue.State{queue.Failed}},
	{"Sent", []queue.State{queue.Sent}},
	{"Cancelled", []queue.State{queue.Cancelled}},
}

// StateWord is a state in a person's words; StateIcon its icon: status is
// never shown by colour alone.
func StateWord(s queue.State) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// StateIcon returns the icon shown with a state.
func StateIcon(s queue.State) fyne.Resource {
	switch s {
	case queue.Sent:
		return theme.ConfirmIcon()
	case queue.Failed:
		return theme.ErrorIcon()
	case queue.Unknown:
		return theme.QuestionIcon()
	case queue.Held:
		return theme.MediaPauseIcon()
	case queue.Deferred:
		return theme.HistoryIcon()
	case queue.Scheduled:
		return theme.CalendarIcon()
	case queue.Sending:
		return theme.MailSendIcon()
	case queue.Cancelled:
		return theme.CancelIcon()
	}
	return theme.MailComposeIcon() // queued
}

// Outbox is the Outbox view: the runner's state with a pause switch, the
// counts by state, filters and search, a virtualised table of the items
// read a page at a time, the actions on the selected items and the failure
// report of the one selected. Its widgets are exported for tests.
type Outbox struct {
	core OutboxCore
	do   Dispatcher
	host Host
	opts OutboxOptions

	// Table lists the items (a header row, then one row per item).
	Table *widget.Table
	// StateFilter, ProfileFilter and BatchFilter narrow the table; Search
	// searches it.
	StateFilter, ProfileFilter, BatchFilter *widget.Select
	Search                                  *widget.Entry
	// CountsLabel says how many items are in each state.
	CountsLabel *widget.Label
	// PauseButton switches the runner; its state is in the status bar
	// (StatusItem).
	PauseButton *widget.Button
	// Action buttons, for the selected items.
	RetryButton, CancelButton, HoldButton, ReleaseButton, EditButton, TranscriptButton *widget.Button
	// SelectAll selects every item the filters keep.
	SelectAll *widget.Button
	// Detail shows the selected item's recipients and failure report; Fixes
	// holds the buttons of its hint's remedies.
	Detail *widget.Label
	Fixes  *fyne.Container
	// Status says what the last action did.
	Status *widget.Label

	statusBar              *fyne.Container
	statusLabel            *widget.Label
	statusButton           *widget.Button
	query                  OutboxQuery
	total                  int
	counts, all            map[queue.State]int
	pages                  map[int][]queue.Item
	loading                map[int]int // page -> generation being loaded
	used                   []int       // pages recently drawn, newest last
	gen                    int
	selected               map[int64]bool
	allSelected            bool
	anchorRow              int
	detailID               int64
	names                  map[string]string
	batches                []string
	badge                  string
	badgeChanged           func()
	runner                 RunnerStatus
	content                fyne.CanvasObject
	ctx                    context.Context
	cancel                 context.CancelFunc
	sub                    *feed.Sub
	stopNotices            func()
	mu                     sync.Mutex
	stopped, dirty, queued bool
	// Refreshes counts the table refreshes (tests, benchmarks).
	Refreshes int
	// LastAttempts is what the last attempts dialog listed (tests).
	LastAttempts []string

	// splits keeps the list/detail split's position.
	splits splitMemory
}

// The table's columns.
var outboxColumns = []struct {
	title string
	width float32
}{
	{"State", 120}, {"Profile", 120}, {"Recipients", 220}, {"Subject", 240}, {"Tries", 50}, {"Next try", 110}, {"Last reply", 320},
}

// NewOutbox returns the Outbox view over core.
func NewOutbox(core OutboxCore, do Dispatcher, o OutboxOptions) *Outbox {
	if do == nil {
		do = fyne.Do
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Interval <= 0 {
		o.Interval = 150 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v := &Outbox{core: core, do: do, opts: o, pages: map[int][]queue.Item{}, loading: map[int]int{},
		selected: map[int64]bool{}, names: map[string]string{}, anchorRow: -1, counts: map[queue.State]int{}, all: map[queue.State]int{}}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v
}

// Name implements View.
func (v *Outbox) Name() string { return "outbox" }

// Title implements View.
func (v *Outbox) Title() string { return "Outbox" }

// Icon implements View.
func (v *Outbox) Icon() fyne.Resource { return theme.MailSendIcon() }

// SetHost implements Hosted.
func (v *Outbox) SetHost(h Host) { v.host = h }

// Badge implements Badged: the messages waiting, and "!n" failures.
func (v *Outbox) Badge() string { return v.badge }

// SetBadgeChanged implements Badged.
func (v *Outbox) SetBadgeChanged(f func()) { v.badgeChanged = f }

// FocusSearch implements Searchable.
func (v *Outbox) FocusSearch() {
	if v.host != nil && v.Search != nil {
		v.host.Window().Canvas().Focus(v.Search)
	}
}

// Busy implements Busy: messages are being sent.
func (v *Outbox) Busy() bool { return v.all[queue.Sending] > 0 }

// Actions implements Actioner.
func (v *Outbox) Actions() []Action {
	return []Action{
		{Menu: "Message", Label: "Retry the selected messages now", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { press(v.RetryButton) }, WhenShown: true},
		{Menu: "Message", Label: "Cancel the selected messages", Do: func() { press(v.CancelButton) }, WhenShown: true},
		{Menu: "Message", Label: "Hold the selected messages", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyH, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { press(v.HoldButton) }, WhenShown: true},
		{Menu: "Message", Label: "Release the selected messages", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyU, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { press(v.ReleaseButton) }, WhenShown: true},
		{Menu: "Message", Label: "Edit a copy of the selected message…", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { press(v.EditButton) }, WhenShown: true},
		{Menu: "Message", Label: "Attempts and transcript of the selected message…", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyA, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { press(v.TranscriptButton) }, WhenShown: true},
		{Menu: "Message", Label: "Pause or resume sending the outbox", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyP, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: v.TogglePause},
	}
}

// StatusItem implements StatusContributor: the runner's state and its
// pause switch, in the status bar.
func (v *Outbox) StatusItem() fyne.CanvasObject {
	if v.statusBar == nil {
		v.statusLabel = widget.NewLabel("Outbox: …")
		v.statusButton = widget.NewButton("Pause", v.TogglePause)
		v.statusButton.Importance = widget.LowImportance
		v.statusBar = container.NewHBox(widget.NewIcon(theme.MailSendIcon()), v.statusLabel, v.statusButton)
	}
	return v.statusBar
}

// Content implements View.
func (v *Outbox) Content() fyne.CanvasObject {
	if v.content != nil {
		return v.content
	}
	v.StatusItem()
	var labels []string
	for _, c := range stateChoices {
		labels = append(labels, c.label)
	}
	v.StateFilter = widget.NewSelect(labels, func(string) { v.filtersChanged() })
	v.StateFilter.Selected = labels[0]
	v.ProfileFilter = widget.NewSelect([]string{"All profiles"}, func(string) { v.filtersChanged() })
	v.ProfileFilter.Selected = "All profiles"
	v.BatchFilter = widget.NewSelect([]string{"All batches"}, func(string) { v.filtersChanged() })
	v.BatchFilter.Selected = "All batches"
	v.Search = widget.NewEntry()
	v.Search.SetPlaceHolder("Search subject, sender, recipients (Ctrl+F)")
	v.Search.OnChanged = func(string) { v.filtersChanged() }

	v.CountsLabel = widget.NewLabel("")
	v.CountsLabel.Truncation = fyne.TextTruncateEllipsis
	v.PauseButton = widget.NewButtonWithIcon("Pause sending", theme.MediaPauseIcon(), v.TogglePause)

	v.Table = widget.NewTableWithHeaders(
		func() (int, int) { return v.total, len(outboxColumns) },
		newOutboxCell,
		v.updateCell,
	)
	v.Table.ShowHeaderColumn = false
	v.Table.CreateHeader = func() fyne.CanvasObject {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	v.Table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Row < 0 && id.Col >= 0 && id.Col < len(outboxColumns) {
			o.(*widget.Label).SetText(outboxColumns[id.Col].title)
		}
	}
	for i, c := range outboxColumns {
		v.Table.SetColumnWidth(i, c.width)
	}
	v.Table.OnSelected = v.cellSelected

	v.RetryButton = widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), func() { v.change("retry") })
	v.CancelButton = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { v.change("cancel") })
	v.HoldButton = widget.NewButtonWithIcon("Hold", theme.MediaPauseIcon(), func() { v.change("hold") })
	v.ReleaseButton = widget.NewButtonWithIcon("Release", theme.MediaPlayIcon(), func() { v.change("release") })
	v.EditButton = widget.NewButtonWithIcon("Edit a copy…", theme.DocumentCreateIcon(), v.editAndRequeue)
	v.TranscriptButton = widget.NewButtonWithIcon("Attempts…", theme.ListIcon(), v.showAttempts)
	v.SelectAll = widget.NewButton("Select all", v.selectAll)
	v.Status = widget.NewLabel("")
	v.Status.Truncation = fyne.TextTruncateEllipsis
	v.Detail = widget.NewLabel("Select a message for its recipients and, if it failed, what the server said and what to try.")
	v.Detail.Wrapping = fyne.TextWrapWord
	v.Fixes = container.NewHBox()

	filters := container.NewGridWithColumns(3, v.StateFilter, v.ProfileFilter, v.BatchFilter)
	// The runner's state is in the status bar (StatusItem); here, its
	// switch beside the search.
	top := container.NewVBox(container.NewBorder(nil, nil, nil, v.PauseButton, v.Search), filters, v.CountsLabel)
	actions := container.NewHBox(v.SelectAll, v.RetryButton, v.CancelButton, v.HoldButton, v.ReleaseButton, v.EditButton, v.TranscriptButton)
	detail := container.NewBorder(nil, v.Fixes, nil, nil, container.NewVScroll(v.Detail))
	split := container.NewVSplit(v.Table, detail)
	split.Offset = 0.72
	v.splits.keep(v.host, "outbox.split", split)
	v.content = borderInOrder(top, container.NewVBox(container.NewHScroll(actions), v.Status), nil, nil, split)
	v.updateButtons()
	v.showRunner(v.core.Runner())
	return v.content
}

func newOutboxCell() fyne.CanvasObject {
	bg := canvas.NewRectangle(color.Transparent)
	icon := widget.NewIcon(nil)
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return container.NewStack(bg, container.NewBorder(nil, nil, icon, nil, l))
}

// Start implements View: it loads the table and follows the outbox.
func (v *Outbox) Start(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped || v.sub != nil {
		return
	}
	v.ctx, v.cancel = context.WithCancel(ctx)
	v.sub = v.core.Events()
	go v.watch(v.ctx, v.sub.C())
	v.stopNotices = v.core.WatchNotices(v.ctx, func(n OutboxNotice) {
		v.do(func() {
			if v.opts.Notifier != nil {
				v.opts.Notifier.Notify(n.Title, n.Body)
			}
			v.Status.SetText(n.Title + ": " + n.Body)
		})
	})
	v.loadChoices()
	v.Refresh()
	go v.tick(v.ctx)
}

// tick redraws the table every 15 s, so that "next try" times stay true.
func (v *Outbox) tick(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.do(func() { v.Table.Refresh() })
		}
	}
}

// Stop implements View.
func (v *Outbox) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	v.stopped = true
	v.splits.save(v.host)
	v.cancel()
	if v.sub != nil {
		v.sub.Close()
	}
	if v.stopNotices != nil {
		go v.stopNotices()
	}
}

// watch coalesces the outbox's events: one refresh per Interval at most.
func (v *Outbox) watch(ctx context.Context, ch <-chan feed.Event) {
	for {
		var e feed.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case e, ok = <-ch:
			if !ok {
				return
			}
		}
		runner := e.Topic == feed.Runner
		choices := e.External || strings.HasPrefix(e.Text, "batch queued")
		// Gather the burst.
		timer := time.NewTimer(v.opts.Interval)
	gather:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case e, ok := <-ch:
				if !ok {
					break gather
				}
				runner = runner || e.Topic == feed.Runner
				choices = choices || e.External || strings.HasPrefix(e.Text, "batch queued")
			case <-timer.C:
				break gather
			}
		}
		if runner {
			st := v.core.Runner()
			v.do(func() { v.showRunner(st) })
		}
		if choices {
			v.loadChoices()
		}
		v.requestRefresh()
	}
}

// requestRefresh schedules one Refresh, however many ask before it runs.
func (v *Outbox) requestRefresh() {
	v.mu.Lock()
	if v.queued {
		v.mu.Unlock()
		return
	}
	v.queued = true
	v.mu.Unlock()
	v.do(func() {
		v.mu.Lock()
		v.queued = false
		v.mu.Unlock()
		v.Refresh()
	})
}

// loadChoices reads the profile names and batches for the filters.
func (v *Outbox) loadChoices() {
	ctx := v.ctx
	go func() {
		names := v.core.ProfileNames(ctx)
		batches, err := v.core.Batches(ctx)
		v.do(func() {
			if err != nil {
				v.Status.SetText("Could not read the batches: " + err.Error())
			}
			v.names = names
			v.batches = batches
			opts := []string{"All profiles"}
			for _, n := range slices.Sorted(maps.Values(names)) {
				opts = append(opts, n)
			}
			v.ProfileFilter.Options = opts
			v.ProfileFilter.Refresh()
			v.BatchFilter.Options = append([]string{"All batches"}, batches...)
			v.BatchFilter.Refresh()
			v.Table.Refresh()
		})
	}()
}

// Query returns what the filters select.
func (v *Outbox) Query() OutboxQuery {
	q := OutboxQuery{Search: strings.TrimSpace(v.Search.Text)}
	for _, c := range stateChoices {
		if c.label == v.StateFilter.Selected {
			q.States = c.states
		}
	}
	if p := v.ProfileFilter.Selected; p != "" && p != "All profiles" {
		for id, n := range v.names {
			if n == p {
				q.Profile = id
			}
		}
	}
	if b := v.BatchFilter.Selected; b != "" && b != "All batches" {
		q.Batch = b
	}
	return q
}

func (v *Outbox) filtersChanged() {
	if v.Table == nil || v.Search == nil || v.BatchFilter == nil || v.ProfileFilter == nil {
		return
	}
	v.selected = map[int64]bool{}
	v.allSelected = false
	v.anchorRow = -1
	v.pages = map[int][]queue.Item{}
	v.used = nil
	v.Table.ScrollToTop()
	v.Refresh()
}

// Refresh reloads the counts and the pages in view from the store (in the
// background); the table redraws once they are in.
func (v *Outbox) Refresh() {
	if v.Table == nil {
		return
	}
	v.gen++
	gen, q := v.gen, v.Query()
	pages := slices.Clone(v.used)
	if len(pages) == 0 {
		pages = []int{0}
	}
	ctx := v.ctx
	go func() {
		counts, err := v.core.Counts(ctx, q)
		all := counts
		if err == nil && (q.Profile != "" || q.Batch != "" || q.Search != "") {
			all, err = v.core.Counts(ctx, OutboxQuery{})
		}
		loaded := map[int][]queue.Item{}
		for _, p := range pages {
			if err != nil {
				break
			}
			loaded[p], err = v.core.Page(ctx, q, p*v.opts.PageSize, v.opts.PageSize)
		}
		v.do(func() {
			if gen != v.gen {
				return // a newer refresh is on its way
			}
			if err != nil {
				v.Status.SetText("Could not read the outbox: " + err.Error())
				return
			}
			v.counts, v.all = counts, all
			v.pages = loaded
			v.total = 0
			for st, n := range counts {
				if len(q.States) == 0 || slices.Contains(q.States, st) {
					v.total += n
				}
			}
			v.Refreshes++
			v.Table.Refresh()
			v.showCounts()
			v.updateBadge()
			v.updateButtons()
			if v.detailID != 0 {
				v.loadDetail(v.detailID)
			}
		})
	}()
}

// showCounts words the counts by state.
func (v *Outbox) showCounts() {
	var parts []string
	for _, st := range queue.AllStates {
		if n := v.counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", thousands(n), strings.ToLower(StateWord(st))))
		}
	}
	if len(parts) == 0 {
		v.CountsLabel.SetText("The outbox is empty: messages queued here or with herald send --queue show up at once.")
		return
	}
	v.CountsLabel.SetText(strings.Join(parts, " · ") + fmt.Sprintf("  —  %s shown", thousands(v.total)))
}

// updateBadge sets the sidebar badge: waiting messages, and "!n" for those
// that need the user (failed, unknown).
func (v *Outbox) updateBadge() {
	waiting := v.all[queue.Queued] + v.all[queue.Scheduled] + v.all[queue.Sending] + v.all[queue.Deferred]
	bad := v.all[queue.Failed] + v.all[queue.Unknown]
	var parts []string
	if waiting > 0 {
		parts = append(parts, fmt.Sprint(waiting))
	}
	if bad > 0 {
		parts = append(parts, fmt.Sprintf("!%d", bad))
	}
	b := strings.Join(parts, " ")
	if b != v.badge {
		v.badge = b
		if v.badgeChanged != nil {
			v.badgeChanged()
		}
	}
}

// item returns row's item, loading its page when it is not in memory.
func (v *Outbox) item(row int) (*queue.Item, bool) {
	p := row / v.opts.PageSize
	page, ok := v.pages[p]
	v.touch(p)
	if !ok {
		v.loadPage(p)
		return nil, false
	}
	i := row % v.opts.PageSize
	if i >= len(page) {
		return nil, false
	}
	return &page[i], true
}

// touch remembers p as drawn; at most 8 pages stay in memory.
func (v *Outbox) touch(p int) {
	if n := len(v.used); n > 0 && v.used[n-1] == p {
		return
	}
	v.used = slices.DeleteFunc(v.used, func(x int) bool { return x == p })
	v.used = append(v.used, p)
	if len(v.used) > 8 {
		delete(v.pages, v.used[0])
		v.used = v.used[1:]
	}
}

func (v *Outbox) loadPage(p int) {
	if g, ok := v.loading[p]; ok && g == v.gen {
		return
	}
	v.loading[p] = v.gen
	gen, q, ctx := v.gen, v.Query(), v.ctx
	go func() {
		items, err := v.core.Page(ctx, q, p*v.opts.PageSize, v.opts.PageSize)
		v.do(func() {
			delete(v.loading, p)
			if gen != v.gen || err != nil {
				return
			}
			v.pages[p] = items
			v.Table.Refresh()
		})
	}()
}

// relative words t relative to now: "in 3 min", "2 h ago", "now".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	word := func(d time.Duration) string {
		switch {
		case d < time.Minute:
			return fmt.Sprintf("%d s", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%d min", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d h", int(d.Hours()))
		}
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	switch {
	case d > -5*time.Second && d < 5*time.Second:
		return "now"
	case d > 0:
		return "in " + word(d)
	}
	return word(-d) + " ago"
}

// Cell returns the text of a cell (tests): "" while its page loads.
func (v *Outbox) Cell(row, col int) string {
	it, ok := v.item(row)
	if !ok {
		return ""
	}
	return v.cellText(it, col)
}

func (v *Outbox) cellText(it *queue.Item, col int) string {
	switch col {
	case 0:
		return StateWord(queue.State(it.State))
	case 1:
		if n := v.names[it.Profile]; n != "" {
			return n
		}
		return it.Profile
	case 2:
		var to []string
		for _, r := range it.Recipients {
			to = append(to, r.Addr)
		}
		if len(to) > 3 {
			return strings.Join(to[:3], ", ") + fmt.Sprintf(" and %d more", len(to)-3)
		}
		return strings.Join(to, ", ")
	case 3:
		if it.Subject == "" {
			return "(no subject)"
		}
		return it.Subject
	case 4:
		return fmt.Sprint(it.Attempts)
	case 5:
		switch queue.State(it.State) {
		case queue.Queued, queue.Scheduled, queue.Deferred:
			return relative(it.Next, v.opts.Now())
		}
		return ""
	case 6:
		return lastReply(it)
	}
	return ""
}

func lastReply(it *queue.Item) string {
	if it.LastCode == 0 && it.LastError == "" {
		return ""
	}
	s := strings.TrimSpace(it.LastError)
	if it.LastCode != 0 && !strings.HasPrefix(s, fmt.Sprint(it.LastCode)) {
		parts := []string{fmt.Sprint(it.LastCode)}
		if it.LastEnhanced != "" && !strings.HasPrefix(s, it.LastEnhanced) {
			parts = append(parts, it.LastEnhanced)
		}
		s = strings.Join(append(parts, s), " ")
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

func (v *Outbox) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	stack := o.(*fyne.Container)
	bg := stack.Objects[0].(*canvas.Rectangle)
	row := stack.Objects[1].(*fyne.Container)
	l := row.Objects[0].(*widget.Label)
	icon := row.Objects[1].(*widget.Icon)
	it, ok := v.item(id.Row)
	if !ok {
		l.SetText("…")
		icon.Hide()
		bg.FillColor = color.Transparent
		bg.Refresh()
		return
	}
	l.SetText(v.cellText(it, id.Col))
	if id.Col == 0 {
		icon.SetResource(StateIcon(queue.State(it.State)))
		icon.Show()
		switch queue.State(it.State) {
		case queue.Failed:
			l.Importance = widget.DangerImportance
		case queue.Unknown, queue.Held, queue.Deferred:
			l.Importance = widget.WarningImportance
		case queue.Sent:
			l.Importance = widget.SuccessImportance
		default:
			l.Importance = widget.MediumImportance
		}
		l.Refresh()
	} else {
		icon.Hide()
	}
	if v.allSelected || v.selected[it.ID] {
		bg.FillColor = theme.Color(theme.ColorNameSelection)
	} else {
		bg.FillColor = color.Transparent
	}
	bg.Refresh()
}

// cellSelected handles a click on a row: it selects it alone, adds it
// (Ctrl) or the range from the last click (Shift).
func (v *Outbox) cellSelected(id widget.TableCellID) {
	var mods fyne.KeyModifier
	if d, ok := fyne.CurrentApp().Driver().(desktop.Driver); ok {
		mods = d.CurrentKeyModifiers()
	}
	v.Table.UnselectAll()
	v.SelectRow(id.Row, mods)
}

// SelectRow selects row as a click with the modifiers would.
func (v *Outbox) SelectRow(row int, mods fyne.KeyModifier) {
	it, ok := v.item(row)
	if !ok {
		return
	}
	v.allSelected = false
	switch {
	case mods&fyne.KeyModifierShift != 0 && v.anchorRow >= 0:
		lo, hi := min(v.anchorRow, row), max(v.anchorRow, row)
		for r := lo; r <= hi; r++ {
			if x, ok := v.item(r); ok {
				v.selected[x.ID] = true
			}
		}
	case mods&(fyne.KeyModifierControl|fyne.KeyModifierSuper) != 0:
		if v.selected[it.ID] {
			delete(v.selected, it.ID)
		} else {
			v.selected[it.ID] = true
		}
		v.anchorRow = row
	default:
		v.selected = map[int64]bool{it.ID: true}
		v.anchorRow = row
	}
	v.Table.Refresh()
	v.updateButtons()
	if len(v.selected) == 1 {
		for id := range v.selected {
			v.loadDetail(id)
		}
	}
}

// Selected returns the selected item ids, sorted ("all shown" aside).
func (v *Outbox) Selected() []int64 {
	return slices.Sorted(maps.Keys(v.selected))
}

func (v *Outbox) selectAll() {
	v.allSelected = true
	v.selected = map[int64]bool{}
	v.Table.Refresh()
	v.updateButtons()
	v.Status.SetText(fmt.Sprintf("All %s messages shown are selected: the actions apply to each that is in a state they fit.", thousands(v.total)))
}

func (v *Outbox) updateButtons() {
	n := len(v.selected)
	any := n > 0 || (v.allSelected && v.total > 0)
	for _, b := range []*widget.Button{v.RetryButton, v.CancelButton, v.HoldButton, v.ReleaseButton} {
		if any {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	if n == 1 && !v.allSelected {
		v.EditButton.Enable()
		v.TranscriptButton.Enable()
	} else {
		v.EditButton.Disable()
		v.TranscriptButton.Disable()
	}
}

// change applies op to the selection.
func (v *Outbox) change(op string) {
	ids := v.Selected()
	var all *OutboxQuery
	if v.allSelected {
		q := v.Query()
		all, ids = &q, nil
	}
	if len(ids) == 0 && all == nil {
		v.Status.SetText("Select messages first: click one, Ctrl+click to add, Shift+click for a range.")
		return
	}
	count := len(ids)
	if all != nil {
		count = v.total
	}
	v.Status.SetText(fmt.Sprintf("%s: working on %s message(s)…", StateWord(queue.State(op)), thousands(count)))
	ctx := v.ctx
	go func() {
		n, problems, err := v.core.Change(ctx, op, ids, all)
		v.do(func() {
			if err != nil {
				v.Status.SetText("Could not " + op + ": " + err.Error())
				return
			}
			msg := fmt.Sprintf("%s: %d message(s) changed", StateWord(queue.State(op)), n)
			if len(problems) > 0 {
				msg += fmt.Sprintf("; %d not: %s", len(problems), problems[0])
			}
			v.Status.SetText(msg)
			v.Refresh()
		})
	}()
}

// TogglePause pauses the runner, or resumes it.
func (v *Outbox) TogglePause() {
	st := v.core.Runner()
	if !st.Running {
		v.showRunner(st)
		return
	}
	go func() {
		v.core.PauseRunner(!st.Paused)
		st := v.core.Runner()
		v.do(func() { v.showRunner(st) })
	}()
}

// showRunner shows the runner's state in the view and the status bar.
func (v *Outbox) showRunner(st RunnerStatus) {
	v.runner = st
	text, button, icon := "", "Pause", theme.MediaPauseIcon()
	switch {
	case !st.Running:
		text = "Outbox: not sending (the runner is stopped)"
	case st.Paused:
		text, button, icon = "Outbox: paused — nothing new is sent", "Resume", theme.MediaPlayIcon()
	default:
		text = "Outbox: sending what is due while the window is open"
	}
	if v.statusLabel != nil {
		v.statusLabel.SetText(text)
		v.statusButton.SetText(button)
		v.statusButton.Disable()
		if st.Running {
			v.statusButton.Enable()
		}
	}
	if v.PauseButton != nil {
		v.PauseButton.SetText(button + " sending")
		v.PauseButton.SetIcon(icon)
		if st.Running {
			v.PauseButton.Enable()
		} else {
			v.PauseButton.Disable()
		}
	}
}

// RunnerText is the runner's state as the status bar shows it.
func (v *Outbox) RunnerText() string { return v.statusLabel.Text }

// loadDetail shows item id's recipients, failure report and fixes.
func (v *Outbox) loadDetail(id int64) {
	v.detailID = id
	ctx := v.ctx
	go func() {
		it, err := v.core.Item(ctx, id)
		v.do(func() {
			if v.detailID != id {
				return
			}
			if err != nil {
				v.Detail.SetText(fmt.Sprintf("Message %d: %v", id, err))
				v.Fixes.RemoveAll()
				return
			}
			v.showDetail(it)
		})
	}()
}

// maxDetail bounds the detail text: a label never holds a huge report.
const maxDetail = 8 << 10

func (v *Outbox) showDetail(it *queue.Item) {
	var b strings.Builder
	fmt.Fprintf(&b, "Message %d — %s — %s, %d attempt(s)\n", it.ID, it.Subject, StateWord(queue.State(it.State)), it.Attempts)
	if it.Batch != "" {
		fmt.Fprintf(&b, "Batch %s\n", it.Batch)
	}
	if d := it.DSN.String(); d != "" {
		fmt.Fprintf(&b, "Delivery notifications: %s\n", d)
	}
	for i, r := range it.Recipients {
		if i == 20 {
			fmt.Fprintf(&b, "… and %d more recipients\n", len(it.Recipients)-20)
			break
		}
		fmt.Fprintf(&b, "  %s: %s", r.Addr, r.State)
		if r.Code != 0 {
			fmt.Fprintf(&b, " (%d %s %s)", r.Code, r.Enhanced, r.Message)
		}
		b.WriteByte('\n')
	}
	if rep := queue.Report(it); rep != "" {
		b.WriteString("\n" + rep)
	}
	text := b.String()
	if len(text) > maxDetail {
		text = text[:maxDetail] + " …"
	}
	v.Detail.SetText(strings.TrimRight(text, "\n"))
	v.Fixes.RemoveAll()
	for _, f := range v.fixButtons(it, hint.Decode(it.Hint)) {
		v.Fixes.Add(f)
	}
}

// FixLabels returns the labels of the fix buttons shown (tests).
func (v *Outbox) FixLabels() []string {
	var out []string
	for _, o := range v.Fixes.Objects {
		if b, ok := o.(*widget.Button); ok {
			out = append(out, b.Text)
		}
	}
	return out
}

// TapFix taps the fix button labelled label (tests); false if none.
func (v *Outbox) TapFix(label string) bool {
	for _, o := range v.Fixes.Objects {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			b.OnTapped()
			return true
		}
	}
	return false
}

// fixButtons turns a hint's remedies into buttons where the window can
// apply them: release the held messages, retry, or open the account.
func (v *Outbox) fixButtons(it *queue.Item, h hint.Hint) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	profile := v.names[it.Profile]
	seen := map[string]bool{}
	add := func(label string, do func()) {
		if !seen[label] {
			seen[label] = true
			out = append(out, widget.NewButton(label, do))
		}
	}
	for _, f := range h.Fixes {
		switch f.Setting {
		case hint.ReleaseHeld:
			add("Release the held messages of "+profile, func() { v.releaseProfile(it.Profile) })
		case hint.Retry:
			add("Retry now", func() { v.changeOne("retry", it.ID) })
		case hint.Discover, hint.CheckDomain:
			if profile != "" && v.host != nil {
				add("Test the account "+profile, func() { _ = v.host.Open("wizard", ProfileRef{Name: profile}) })
			}
		case hint.StartSandbox:
		default:
			if profile != "" && v.host != nil && it.Profile != "sandbox" {
				add("Edit the account "+profile, func() { _ = v.host.Open("accounts", ProfileRef{Name: profile}) })
			}
		}
	}
	if queue.State(it.State) == queue.Held && !seen["Release the held messages of "+profile] {
		add("Release this message", func() { v.changeOne("release", it.ID) })
	}
	return out
}

func (v *Outbox) changeOne(op string, id int64) {
	v.selected = map[int64]bool{id: true}
	v.allSelected = false
	v.change(op)
}

// releaseProfile releases every held message of profile id.
func (v *Outbox) releaseProfile(id string) {
	q := OutboxQuery{States: []queue.State{queue.Held}, Profile: id}
	ctx := v.ctx
	go func() {
		n, _, err := v.core.Change(ctx, "release", nil, &q)
		v.do(func() {
			if err != nil {
				v.Status.SetText("Could not release: " + err.Error())
				return
			}
			v.Status.SetText(fmt.Sprintf("Released %d held message(s) of %s.", n, v.names[id]))
			v.Refresh()
		})
	}()
}

// editAndRequeue opens Compose on a copy of the selected message.
func (v *Outbox) editAndRequeue() {
	ids := v.Selected()
	if len(ids) != 1 {
		return
	}
	ctx := v.ctx
	go func() {
		d, err := v.core.Draft(ctx, ids[0])
		cd := ComposeDraft{Message: d}
		if err == nil {
			// The copy keeps the message's delivery notification options.
			if it, ierr := v.core.Item(ctx, ids[0]); ierr == nil {
				cd.DSNNotify, cd.DSNReturn, cd.DSNEnvID = it.DSN.Notify, it.DSN.Return, it.DSN.EnvID
			}
		}
		v.do(func() {
			if err != nil {
				v.Status.SetText(fmt.Sprintf("Could not read message %d back: %v", ids[0], err))
				return
			}
			if v.host == nil {
				return
			}
			if err := v.host.Open("compose", cd); err != nil {
				v.Status.SetText(err.Error())
				return
			}
			v.host.SetStatus(fmt.Sprintf("A copy of outbox message %d is in Compose; the original stays in the outbox (cancel it there if the copy replaces it).", ids[0]))
		})
	}()
}

// showAttempts shows the transcript of each attempt of the selected
// message, from the history.
func (v *Outbox) showAttempts() {
	ids := v.Selected()
	if len(ids) != 1 {
		return
	}
	id, ctx := ids[0], v.ctx
	go func() {
		atts, err := v.core.Attempts(ctx, id)
		v.do(func() { v.showAttemptsDialog(id, atts, err) })
	}()
}

func (v *Outbox) showAttemptsDialog(id int64, atts []OutboxAttempt, err error) {
	var lines []string
	switch {
	case err != nil:
		lines = []string{"Could not read the history: " + err.Error()}
	case len(atts) == 0:
		lines = []string{fmt.Sprintf("The history has no session for message %d.", id),
			"Either it has not been tried yet, or its attempts were not recorded",
			"(the outbox runner does not keep its sessions in the history yet)."}
	}
	for i, a := range atts {
		lines = append(lines, fmt.Sprintf("— Attempt %d, %s: %s", i+1, a.When.Local().Format("2006-01-02 15:04:05"), a.Summary))
		lines = append(lines, a.Lines...)
	}
	v.LastAttempts = lines
	if v.host == nil {
		return
	}
	list := widget.NewList(func() int { return len(lines) }, func() fyne.CanvasObject {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}, func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(lines[i]) })
	d := dialog.NewCustom(fmt.Sprintf("Attempts of message %d", id), "Close", list, v.host.Window())
	d.Resize(fyne.NewSize(900, 560))
	d.Show()
}
