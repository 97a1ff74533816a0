package ui

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/transcript"
)

// LiveLogCore is what the Live log view needs from the core: the session
// lines of the whole process, and the profiles' names.
type LiveLogCore interface {
	// Lines subscribes to every SMTP session's lines (feed.Transcript):
	// sends, the outbox, connection tests.
	Lines() *feed.Sub
	// ProfileNames maps profile ids to names; it may touch the store, so
	// the view calls it off the UI goroutine.
	ProfileNames(ctx context.Context) map[string]string
}

// LiveLogOptions adjust the Live log view.
type LiveLogOptions struct {
	// Capacity is how many lines the log keeps (the oldest go first).
	// Default: the preference "livelog.capacity", else DefaultLogCapacity.
	Capacity int
	// Interval is the longest time between two redraws while lines arrive
	// (default 200 ms): lines are appended in batches, never one by one.
	Interval time.Duration
}

// DefaultLogCapacity is how many lines the Live log keeps by default.
const DefaultLogCapacity = 50_000

// LogCapacities are the sizes the Live log offers.
var LogCapacities = []int{10_000, 50_000, 100_000, 200_000}

// prefLogCapacity keeps the chosen size.
const prefLogCapacity = "livelog.capacity"

// logLine is one line of the log, compact: 100,000 of them fit in a few
// tens of MB.
type logLine struct {
	at      time.Time
	session string
	profile string
	dir     transcript.Dir
	tls     bool
	text    string
}

// lineRing is a bounded ring of lines addressed by sequence number: the
// oldest kept is first, the next added gets next. It grows as lines come,
// up to limit.
type lineRing struct {
	buf         []logLine
	limit       int
	first, next uint64
}

func (r *lineRing) add(l logLine) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, l)
	} else {
		r.buf[r.next%uint64(r.limit)] = l
		r.first++
	}
	r.next++
}

func (r *lineRing) at(seq uint64) *logLine { return &r.buf[seq%uint64(r.limit)] }

func (r *lineRing) len() int { return int(r.next - r.first) }

// resize keeps the newest min(len, n) lines in a ring of limit n. The
// lines are numbered again from 0: callers rebuild what holds numbers.
func (r *lineRing) resize(n int) {
	old := *r
	keep := min(old.len(), n)
	*r = lineRing{buf: make([]logLine, 0, keep), limit: n}
	for s := old.next - uint64(keep); s < old.next; s++ {
		r.add(*old.at(s))
	}
}

// LiveLog is the Live log view: every SMTP session of the process as it
// happens, in a virtualised list over a bounded ring of lines. Its widgets
// are exported for tests.
type LiveLog struct {
	core LiveLogCore
	do   Dispatcher
	host Host
	opts LiveLogOptions

	// List shows the lines (filtered).
	List *widget.List
	// Profile and Session filter the lines ("All" for none).
	Profile, Session *widget.Select
	// Search keeps the lines containing its text.
	Search *widget.Entry
	// Follow scrolls to each new batch of lines (autoscroll).
	Follow *widget.Check
	// Size chooses how many lines are kept.
	Size *widget.Select
	// Count says how many lines are shown and kept.
	Count *widget.Label
	// CopyButton, SaveButton and ClearButton act on the lines.
	CopyButton, SaveButton, ClearButton *widget.Button

	ring  lineRing
	shown []uint64 // the matching seqs when a filter is on; nil: all lines
	// anchor and end are the selected range of seqs (anchor == noSel: none).
	anchor, end uint64

	names    map[string]string // profile id -> name
	byName   map[string]string // name -> id
	sessions []string          // newest last, bounded
	profiles map[string]bool   // the profile ids of the lines seen
	sessProf map[string]string // session -> its profile id
	labels   map[string]string // session -> its label in the filter

	mu      sync.Mutex
	pending []logLine
	kicked  bool

	content  fyne.CanvasObject
	ctx      context.Context
	cancel   context.CancelFunc
	sub      *feed.Sub
	stopped  bool
	rendered bool
	// A search in progress: the lines up to scanPos are done.
	scanning bool
	scanPos  uint64
	scanF    logFilter
	scanGen  int
	// Redraws counts the batches drawn (for tests and benchmarks).
	Redraws int
}

const noSel = ^uint64(0)

// maxSessions bounds the session filter's choices.
const maxSessions = 200

// allChoice is the filters' "no filter" entry.
const allChoice = "All"

// NewLiveLog returns the Live log view over core.
func NewLiveLog(core LiveLogCore, do Dispatcher, o LiveLogOptions) *LiveLog {
	if do == nil {
		do = fyne.Do
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	l := &LiveLog{core: core, do: do, opts: o, anchor: noSel, end: noSel,
		names: map[string]string{}, byName: map[string]string{}, profiles: map[string]bool{}, sessProf: map[string]string{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Name implements View.
func (l *LiveLog) Name() string { return "log" }

// Title implements View.
func (l *LiveLog) Title() string { return "Live log" }

// Icon implements View.
func (l *LiveLog) Icon() fyne.Resource { return theme.ListIcon() }

// SetHost implements Hosted.
func (l *LiveLog) SetHost(h Host) { l.host = h }

// StartsEarly implements Eager: the log records every session of the
// process, shown or not.
func (l *LiveLog) StartsEarly() {}

// FocusSearch implements Searchable.
func (l *LiveLog) FocusSearch() {
	if l.host != nil && l.Search != nil {
		l.host.Window().Canvas().Focus(l.Search)
	}
}

// Actions implements Actioner.
func (l *LiveLog) Actions() []Action {
	return []Action{
		{Menu: "Edit", Label: "Copy the selected log lines", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyC, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: l.CopySelection, WhenShown: true},
		{Menu: "File", Label: "Save the live log…", Do: l.save},
	}
}

func (l *LiveLog) capacity() int {
	if l.opts.Capacity > 0 {
		return l.opts.Capacity
	}
	if l.host != nil {
		if n := l.host.Preferences().IntWithFallback(prefLogCapacity, 0); n > 0 {
			return n
		}
	}
	return DefaultLogCapacity
}

// Content implements View.
func (l *LiveLog) Content() fyne.CanvasObject {
	if l.content != nil {
		return l.content
	}
	l.ring.limit = l.capacity()
	l.List = widget.NewList(l.rows, func() fyne.CanvasObject {
		l.rendered = true // the list has its scroller now
		return newLogRow()
	}, l.updateRow)
	l.List.OnSelected = l.selected

	l.Profile = widget.NewSelect([]string{allChoice}, func(string) { l.refilter() })
	l.Profile.SetSelected(allChoice)
	l.Session = widget.NewSelect([]string{allChoice}, func(string) { l.refilter() })
	l.Session.SetSelected(allChoice)
	l.Search = widget.NewEntry()
	l.Search.SetPlaceHolder("Search the lines (Ctrl+F)")
	l.Search.OnChanged = func(string) { l.refilter() }
	l.Follow = widget.NewCheck("Follow new lines", func(on bool) {
		if on {
			l.scrollToBottom()
		}
	})
	l.Follow.Checked = true
	var sizes []string
	for _, n := range LogCapacities {
		sizes = append(sizes, sizeChoice(n))
	}
	l.Size = widget.NewSelect(sizes, func(s string) {
		for _, n := range LogCapacities {
			if sizeChoice(n) == s && n != l.ring.limit {
				l.SetCapacity(n)
			}
		}
	})
	if !slices.Contains(sizes, sizeChoice(l.capacity())) {
		l.Size.Options = append(l.Size.Options, sizeChoice(l.capacity()))
	}
	l.Size.Selected = sizeChoice(l.capacity())
	l.Count = widget.NewLabel("No session yet: sends, the outbox, connection tests and the console show here as they happen.")
	l.Count.Truncation = fyne.TextTruncateEllipsis
	l.CopyButton = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), l.CopySelection)
	l.SaveButton = widget.NewButtonWithIcon("Save…", theme.DocumentSaveIcon(), l.save)
	l.ClearButton = widget.NewButtonWithIcon("Clear", theme.DeleteIcon(), l.Clear)

	legend := widget.NewLabel("C→ Herald to the server   S← the server   I· Herald's note   * inside TLS   (click a line, Shift+click another: a range)")
	legend.Truncation = fyne.TextTruncateEllipsis
	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(l.Follow, widget.NewLabel("Keep"), l.Size), l.Search),
		container.NewGridWithColumns(2, container.NewBorder(nil, nil, widget.NewLabel("Profile"), nil, l.Profile),
			container.NewBorder(nil, nil, widget.NewLabel("Session"), nil, l.Session)),
		legend,
	)
	bottom := container.NewBorder(nil, nil, nil, container.NewHBox(l.CopyButton, l.SaveButton, l.ClearButton), l.Count)
	l.content = borderInOrder(top, bottom, nil, nil, l.List)
	return l.content
}

func sizeChoice(n int) string { return fmt.Sprintf("%s lines", thousands(n)) }

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Start implements View: it follows the feed's session lines.
func (l *LiveLog) Start(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.sub != nil {
		return
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.sub = l.core.Lines()
	go l.read(l.ctx, l.sub.C())
	go l.loadNames(l.ctx)
}

// Stop implements View.
func (l *LiveLog) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.stopped = true
	l.cancel()
	if l.sub != nil {
		l.sub.Close()
	}
}

func (l *LiveLog) loadNames(ctx context.Context) {
	names := l.core.ProfileNames(ctx)
	l.do(func() {
		if l.List == nil {
			return
		}
		for id, n := range names {
			l.names[id] = n
			l.byName[n] = id
		}
		l.updateChoices(nil)
		l.refreshList()
	})
}

// read collects lines from the feed and hands them to the UI goroutine in
// batches, at most one redraw per Interval.
func (l *LiveLog) read(ctx context.Context, ch <-chan feed.Event) {
	tick := time.NewTicker(l.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Line == nil {
				continue
			}
			l.mu.Lock()
			l.pending = append(l.pending, logLine{at: e.Time, session: e.Session, profile: e.Profile, dir: e.Line.Dir, tls: e.Line.TLS, text: e.Line.Text})
			l.mu.Unlock()
		case <-tick.C:
			l.mu.Lock()
			send := len(l.pending) > 0 && !l.kicked
			if send {
				l.kicked = true
			}
			l.mu.Unlock()
			if send {
				l.do(l.Flush)
			}
		}
	}
}

// Flush draws the lines received since the last batch; it runs on the UI
// goroutine (the view schedules it; tests and benchmarks call it).
func (l *LiveLog) Flush() {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.kicked = false
	l.mu.Unlock()
	l.AppendBatch(batch)
}

// AppendBatch adds lines to the log and redraws once; on the UI goroutine.
func (l *LiveLog) AppendBatch(batch []logLine) {
	if len(batch) == 0 {
		return
	}
	var newSessions []logLine
	var f logFilter
	if l.shown != nil && !l.scanning {
		f = l.currentFilter()
	}
	for i := range batch {
		ln := &batch[i]
		if (len(l.sessions) == 0 || l.sessions[len(l.sessions)-1] != ln.session) && !slices.Contains(l.sessions, ln.session) {
			newSessions = append(newSessions, *ln)
			l.sessions = append(l.sessions, ln.session)
			l.sessProf[ln.session] = ln.profile
		}
		if ln.profile != "" && !l.profiles[ln.profile] {
			l.profiles[ln.profile] = true
			newSessions = append(newSessions, *ln)
		}
		l.ring.add(*ln)
		if l.shown != nil && !l.scanning && l.matchWith(f, ln) {
			l.shown = append(l.shown, l.ring.next-1)
		}
	}
	if len(l.sessions) > maxSessions {
		for _, old := range l.sessions[:len(l.sessions)-maxSessions] {
			delete(l.sessProf, old)
		}
		l.sessions = slices.Clone(l.sessions[len(l.sessions)-maxSessions:])
	}
	l.trimShown()
	if len(newSessions) > 0 {
		l.updateChoices(newSessions)
	}
	l.Redraws++
	l.refreshList()
	if l.Follow.Checked {
		l.scrollToBottom()
	}
	l.showCount()
}

// refreshList redraws the list once it has been drawn. Before that there is
// nothing to redraw (the list reads the lines when it is first shown), and
// drawing it while hidden would load the monospace font (several MB) for a
// view that may never be opened.
func (l *LiveLog) refreshList() {
	if l.rendered {
		l.List.Refresh()
	}
}

// scrollToBottom shows the newest line, once the list has been drawn.
func (l *LiveLog) scrollToBottom() {
	if l.rendered {
		l.List.ScrollToBottom()
	}
}

// trimShown drops the filtered seqs the ring has forgotten.
func (l *LiveLog) trimShown() {
	if l.shown == nil {
		return
	}
	i, _ := slices.BinarySearch(l.shown, l.ring.first)
	if i == 0 {
		return
	}
	if i > len(l.shown)/2 {
		l.shown = append(make([]uint64, 0, len(l.shown)-i+1024), l.shown[i:]...)
	} else {
		l.shown = l.shown[i:]
	}
}

// updateChoices refreshes the profile and session filters' options.
func (l *LiveLog) updateChoices(added []logLine) {
	unknown := false
	for _, ln := range added {
		if ln.profile != "" && l.names[ln.profile] == "" {
			unknown = true
		}
	}
	if unknown && l.ctx.Err() == nil {
		go l.loadNames(l.ctx)
	}
	profiles := []string{}
	for id := range l.profiles {
		if n := l.profileName(id); !slices.Contains(profiles, n) {
			profiles = append(profiles, n)
		}
	}
	slices.Sort(profiles)
	l.Profile.Options = append([]string{allChoice}, profiles...)
	l.Profile.Refresh()
	opts := []string{allChoice}
	l.labels = make(map[string]string, len(l.sessions))
	for _, ss := range l.sessions {
		l.labels[ss] = l.sessionLabel(ss)
		opts = append(opts, l.labels[ss])
	}
	l.Session.Options = opts
	l.Session.Refresh()
}

// sessionLabel names a session for the filter: the profile's name in
// place of its id.
func (l *LiveLog) sessionLabel(session string) string {
	return l.who(&logLine{session: session, profile: l.sessProf[session]})
}

// profileName is the name of profile id, or the id until the names load.
func (l *LiveLog) profileName(id string) string {
	if n := l.names[id]; n != "" {
		return n
	}
	return id
}

// filterOn reports whether a filter is set.
func (l *LiveLog) filterOn() bool {
	return (l.Profile != nil && l.Profile.Selected != "" && l.Profile.Selected != allChoice) ||
		(l.Session != nil && l.Session.Selected != "" && l.Session.Selected != allChoice) ||
		(l.Search != nil && strings.TrimSpace(l.Search.Text) != "")
}

// filter is the filters' state, read once per refilter or batch.
type logFilter struct {
	profile, session string
	search           []byte // lower-case ASCII, or nil
	searchU          string // the search when it is not ASCII
}

func (l *LiveLog) currentFilter() logFilter {
	var f logFilter
	if p := l.Profile.Selected; p != allChoice {
		f.profile = p
	}
	if s := l.Session.Selected; s != allChoice {
		f.session = s
	}
	if q := strings.TrimSpace(l.Search.Text); q != "" {
		ascii := true
		for i := 0; i < len(q); i++ {
			ascii = ascii && q[i] < utf8.RuneSelf
		}
		if ascii {
			f.search = []byte(strings.ToLower(q))
		} else {
			f.searchU = q
		}
	}
	return f
}

func (l *LiveLog) matchWith(f logFilter, ln *logLine) bool {
	if f.profile != "" && l.profileName(ln.profile) != f.profile {
		return false
	}
	if f.session != "" && l.labels[ln.session] != f.session {
		return false
	}
	switch {
	case f.search != nil:
		return containsLowerASCII(ln.text, f.search)
	case f.searchU != "":
		return containsFold(ln.text, f.searchU)
	}
	return true
}

// containsLowerASCII reports whether s contains sub (lower-case ASCII),
// ignoring ASCII case, without allocating.
func containsLowerASCII(s string, sub []byte) bool {
	n := len(sub)
	first := sub[0]
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != first {
			continue
		}
		j := 1
		for ; j < n; j++ {
			d := s[i+j]
			if 'A' <= d && d <= 'Z' {
				d += 'a' - 'A'
			}
			if d != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains sub, ignoring case (any script),
// without allocating.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i+len(sub) <= len(s); {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return false
}

// refilter rebuilds the shown lines after a filter changed.
func (l *LiveLog) refilter() {
	if l.List == nil || l.Search == nil || l.Session == nil || l.Profile == nil {
		return
	}
	l.scanGen++
	l.anchor, l.end = noSel, noSel
	l.List.UnselectAll()
	if !l.filterOn() {
		l.shown, l.scanning = nil, false
		l.filtered()
		return
	}
	l.shown = make([]uint64, 0, 1024)
	l.scanning, l.scanPos, l.scanF = true, l.ring.first, l.currentFilter()
	l.scanStep(l.scanGen)
}

// scanChunk is how many lines one step of a search reads on the UI
// goroutine (a few ms); a longer log is searched over several steps,
// the window drawing in between.
const scanChunk = 25_000

// scanStep searches the next chunk of lines; it dispatches the next step
// until it reaches the newest line (lines arriving meanwhile included).
func (l *LiveLog) scanStep(gen int) {
	if gen != l.scanGen || !l.scanning {
		return
	}
	if l.scanPos < l.ring.first {
		l.scanPos = l.ring.first
	}
	end := min(l.ring.next, l.scanPos+scanChunk)
	for s := l.scanPos; s < end; s++ {
		if l.matchWith(l.scanF, l.ring.at(s)) {
			l.shown = append(l.shown, s)
		}
	}
	l.scanPos = end
	l.trimShown()
	if l.scanPos < l.ring.next {
		l.Count.SetText(fmt.Sprintf("Searching… %s lines match so far", thousands(len(l.shown))))
		l.do(func() { l.scanStep(gen) })
		return
	}
	l.scanning = false
	l.filtered()
}

// filtered redraws once the shown lines are known.
func (l *LiveLog) filtered() {
	l.refreshList()
	if l.Follow.Checked {
		l.scrollToBottom()
	}
	l.showCount()
}

// Searching reports whether a search is still going through the log.
func (l *LiveLog) Searching() bool { return l.scanning }

func (l *LiveLog) showCount() {
	kept := l.ring.len()
	switch {
	case l.shown != nil:
		l.Count.SetText(fmt.Sprintf("%s of %s lines match (the log keeps the last %s)", thousands(len(l.shown)), thousands(kept), thousands(l.ring.limit)))
	default:
		l.Count.SetText(fmt.Sprintf("%s lines (the log keeps the last %s)", thousands(kept), thousands(l.ring.limit)))
	}
}

// Len is the number of lines shown (after the filters).
func (l *LiveLog) Len() int { return l.rows() }

// Kept is the number of lines the log holds.
func (l *LiveLog) Kept() int { return l.ring.len() }

func (l *LiveLog) rows() int {
	if l.shown != nil {
		return len(l.shown)
	}
	return l.ring.len()
}

// seq returns the sequence number of row i.
func (l *LiveLog) seq(i int) (uint64, bool) {
	if i < 0 || i >= l.rows() {
		return 0, false
	}
	if l.shown != nil {
		return l.shown[i], true
	}
	return l.ring.first + uint64(i), true
}

// marker is the direction's text marker, so colour is not the only sign.
func marker(d transcript.Dir, tls bool) string {
	m := map[transcript.Dir]string{transcript.Client: "C→", transcript.Server: "S←", transcript.Info: "I·"}[d]
	if m == "" {
		m = string(d) + " "
	}
	if tls {
		return m + "*"
	}
	return m + " "
}

// format renders a line as text (copy, save, tests).
func (l *LiveLog) format(ln *logLine) string {
	return ln.at.Local().Format("15:04:05.000") + "  " + l.who(ln) + "  " + marker(ln.dir, ln.tls) + " " + ln.text
}

// Line returns row i as text ("" when out of range).
func (l *LiveLog) Line(i int) string {
	s, ok := l.seq(i)
	if !ok {
		return ""
	}
	return l.format(l.ring.at(s))
}

// logRow is one row: selection background, time, session, marker and
// text, drawn as plain text objects (dense, and cheap to update: a log
// shows many rows). The text runs past the right edge, where the list
// clips it.
type logRow struct {
	widget.BaseWidget
	bg                    *canvas.Rectangle
	when, who, mark, text *canvas.Text
}

// Column positions of a log row, in text widths of "0".
const (
	logWhoCol  = 13 // after "15:04:05.000 "
	logWhoLen  = 22 // characters of the session shown
	logMarkCol = logWhoCol + logWhoLen + 1
	logTextCol = logMarkCol + 4
)

func newLogRow() fyne.CanvasObject {
	r := &logRow{bg: canvas.NewRectangle(color.Transparent)}
	mk := func() *canvas.Text {
		t := canvas.NewText("", theme.Color(theme.ColorNameForeground))
		t.TextStyle = fyne.TextStyle{Monospace: true}
		t.TextSize = theme.TextSize()
		return t
	}
	r.when, r.who, r.mark, r.text = mk(), mk(), mk(), mk()
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer implements fyne.Widget.
func (r *logRow) CreateRenderer() fyne.WidgetRenderer {
	return &logRowRenderer{r: r, objects: []fyne.CanvasObject{r.bg, r.when, r.who, r.mark, r.text}}
}

type logRowRenderer struct {
	r       *logRow
	objects []fyne.CanvasObject
}

func (rr *logRowRenderer) charWidth() float32 {
	return fyne.MeasureText("0", rr.r.text.TextSize, fyne.TextStyle{Monospace: true}).Width
}

func (rr *logRowRenderer) Layout(size fyne.Size) {
	w := rr.charWidth()
	pad := theme.Padding()
	rr.r.bg.Resize(size)
	h := rr.r.text.MinSize().Height
	y := (size.Height - h) / 2
	for _, c := range []struct {
		t   *canvas.Text
		col float32
	}{{rr.r.when, 0}, {rr.r.who, logWhoCol}, {rr.r.mark, logMarkCol}, {rr.r.text, logTextCol}} {
		c.t.Move(fyne.NewPos(pad+c.col*w, y))
		c.t.Resize(fyne.NewSize(c.t.MinSize().Width, h))
	}
}

func (rr *logRowRenderer) MinSize() fyne.Size {
	return fyne.NewSize(rr.charWidth()*(logTextCol+20), rr.r.text.MinSize().Height+theme.Padding())
}

func (rr *logRowRenderer) Refresh() {
	for _, o := range rr.objects {
		o.Refresh()
	}
	rr.Layout(rr.r.Size())
}

func (rr *logRowRenderer) Objects() []fyne.CanvasObject { return rr.objects }
func (rr *logRowRenderer) Destroy()                     {}

// dirColor colours a direction: client lines in the primary colour, server
// lines in the success colour, Herald's notes in the warning colour.
func dirColor(d transcript.Dir) color.Color {
	switch d {
	case transcript.Client:
		return theme.Color(theme.ColorNamePrimary)
	case transcript.Server:
		return theme.Color(theme.ColorNameSuccess)
	}
	return theme.Color(theme.ColorNameWarning)
}

// maxRowText bounds the text drawn for one line (the rest is past the edge
// anyway, and the whole line is copied and saved).
const maxRowText = 400

// who names a line's session, the profile's name in place of its id.
func (l *LiveLog) who(ln *logLine) string {
	who := ln.session
	if ln.profile != "" {
		if n := l.names[ln.profile]; n != "" && n != ln.profile {
			if strings.Contains(who, ln.profile) {
				who = strings.Replace(who, ln.profile, n, 1)
			} else {
				who += " (" + n + ")"
			}
		}
	}
	return who
}

func (l *LiveLog) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	r := o.(*logRow)
	s, ok := l.seq(id)
	if !ok {
		return
	}
	ln := l.ring.at(s)
	fg := theme.Color(theme.ColorNameForeground)
	r.when.Text, r.when.Color = ln.at.Local().Format("15:04:05.000"), fg
	who := l.who(ln)
	if utf8.RuneCountInString(who) > logWhoLen {
		who = string([]rune(who)[:logWhoLen-1]) + "…"
	}
	r.who.Text, r.who.Color = who, theme.Color(theme.ColorNamePlaceHolder)
	c := dirColor(ln.dir)
	text := ln.text
	if len(text) > maxRowText {
		text = text[:maxRowText] + "…"
	}
	r.mark.Text, r.mark.Color = marker(ln.dir, ln.tls), c
	r.text.Text, r.text.Color = text, c
	size := theme.TextSize()
	for _, t := range []*canvas.Text{r.when, r.who, r.mark, r.text} {
		t.TextSize = size
	}
	if l.inSelection(s) {
		r.bg.FillColor = theme.Color(theme.ColorNameSelection)
	} else {
		r.bg.FillColor = color.Transparent
	}
	r.Refresh()
}

func (l *LiveLog) inSelection(s uint64) bool {
	if l.anchor == noSel {
		return false
	}
	lo, hi := min(l.anchor, l.end), max(l.anchor, l.end)
	return s >= lo && s <= hi
}

// selected handles a click: a line; with Shift held, the range from the
// previous click.
func (l *LiveLog) selected(id widget.ListItemID) {
	s, ok := l.seq(id)
	if !ok {
		return
	}
	shift := false
	if d, ok := fyne.CurrentApp().Driver().(desktop.Driver); ok {
		shift = d.CurrentKeyModifiers()&fyne.KeyModifierShift != 0
	}
	l.SelectLines(s, shift)
	l.List.UnselectAll()
}

// SelectRows selects rows from..to (shown rows, inclusive) for Copy.
func (l *LiveLog) SelectRows(from, to int) {
	a, ok1 := l.seq(from)
	b, ok2 := l.seq(to)
	if !ok1 || !ok2 {
		return
	}
	l.anchor, l.end = a, b
	l.refreshList()
}

// SelectLines selects the line with sequence s, or extends the selection to
// it.
func (l *LiveLog) SelectLines(s uint64, extend bool) {
	if extend && l.anchor != noSel {
		l.end = s
	} else {
		l.anchor, l.end = s, s
	}
	// Following would scroll the selection away.
	if l.Follow.Checked {
		l.Follow.SetChecked(false)
	}
	l.refreshList()
}

// Selection returns the selected lines (shown and still kept) as text, one
// per line.
func (l *LiveLog) Selection() string {
	if l.anchor == noSel {
		return ""
	}
	var b strings.Builder
	for i := range l.rows() {
		s, _ := l.seq(i)
		if l.inSelection(s) {
			b.WriteString(l.format(l.ring.at(s)))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// CopySelection puts the selected lines on the clipboard.
func (l *LiveLog) CopySelection() {
	text := l.Selection()
	if text == "" {
		l.Count.SetText("Select lines first: click one, Shift+click another for a range.")
		return
	}
	fyne.CurrentApp().Clipboard().SetContent(text)
	l.Count.SetText(fmt.Sprintf("Copied %d line(s).", strings.Count(text, "\n")))
}

// WriteTo writes the shown lines (after the filters) as text.
func (l *LiveLog) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for i := range l.rows() {
		m, err := io.WriteString(w, l.Line(i)+"\n")
		n += int64(m)
		if err != nil {
			return n, fmt.Errorf("write the log: %w", err)
		}
	}
	return n, nil
}

// save writes the shown lines to a file the user picks.
func (l *LiveLog) save() {
	if l.host == nil {
		return
	}
	// The text is taken now, on the UI goroutine; the file is written in
	// the background.
	var b strings.Builder
	_, _ = l.WriteTo(&b)
	text := b.String()
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, l.host.Window())
			return
		}
		if w == nil {
			return
		}
		go func() {
			_, err := io.WriteString(w, text)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			l.do(func() {
				if err != nil {
					dialog.ShowError(fmt.Errorf("save the log: %w", err), l.host.Window())
					return
				}
				l.Count.SetText("Saved to " + w.URI().Path())
			})
		}()
	}, l.host.Window())
	d.SetFileName("herald-log-" + time.Now().Format("20060102-150405") + ".txt")
	d.Show()
}

// Clear forgets every line.
func (l *LiveLog) Clear() {
	l.ring = lineRing{limit: l.ring.limit}
	l.sessions = nil
	l.profiles = map[string]bool{}
	l.sessProf = map[string]string{}
	l.anchor, l.end = noSel, noSel
	l.updateChoices(nil)
	l.refilter()
}

// SetCapacity changes how many lines are kept (the newest stay) and
// remembers it.
func (l *LiveLog) SetCapacity(n int) {
	if n <= 0 {
		return
	}
	l.ring.resize(n)
	l.opts.Capacity = n
	if l.host != nil {
		l.host.Preferences().SetInt(prefLogCapacity, n)
	}
	l.Size.Selected = sizeChoice(n)
	l.Size.Refresh()
	l.refilter()
}
