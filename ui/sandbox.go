package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/message"
)

// SandboxCore is what the Sandbox view needs from the core. The methods
// may touch the disk or the network: the view calls them off the UI
// goroutine (SandboxStatus and DescribeFaults are cheap and called on it).
type SandboxCore interface {
	// SandboxPage returns one page of captured messages whose sender,
	// recipients or subject contain search, newest first.
	SandboxPage(ctx context.Context, search string, offset, limit int) ([]InboxItem, error)
	// SandboxCount counts the captured messages search selects.
	SandboxCount(ctx context.Context, search string) (int, error)
	// SandboxDetail returns one captured message taken apart, with its
	// checks (which may ask DNS, with timeouts).
	SandboxDetail(ctx context.Context, id int64) (*SandboxDetail, error)
	// DeleteSandboxMessage deletes one captured message.
	DeleteSandboxMessage(ctx context.Context, id int64) error
	// ClearSandbox deletes every captured message.
	ClearSandbox(ctx context.Context) error
	// SandboxUpdates signals each change of the inbox or of the server
	// (captures, starts and stops, other processes) until the returned
	// function is called.
	SandboxUpdates() (<-chan struct{}, func())
	// SandboxStatus describes the server now.
	SandboxStatus() SandboxStatus
	// SandboxSettings returns the saved settings, for the form.
	SandboxSettings(ctx context.Context) (SandboxForm, error)
	// ApplySandbox saves the settings and restarts (or stops) the server.
	ApplySandbox(ctx context.Context, f SandboxForm) error
	// DescribeFaults puts a fault specification in words, one line per
	// fault, or says what is wrong with it.
	DescribeFaults(spec string) ([]string, error)
	// FaultExamples lists ready-made faults: spec and label.
	FaultExamples() [][2]string
}

// SandboxStatus is the server's state in words.
type SandboxStatus struct {
	Running bool
	// Addr is host:port while it runs.
	Addr string
	// Summary is one line: TLS, AUTH, size limit and faults.
	Summary string
}

// SandboxForm is the settings form's content.
type SandboxForm struct {
	Listen string
	// TLS is "none", "starttls" or "implicit".
	TLS string
	// AuthUser, when set, requires AUTH with AuthPass.
	AuthUser, AuthPass string
	// MaxSize is a size ("25MB", "500KB", "1048576"); "" is the default.
	MaxSize string
	// Faults is a fault specification ("rcpt:550:20,delay:2s").
	Faults string
	// Stopped stops the server.
	Stopped bool
}

// SandboxCheck is one check of a captured message.
type SandboxCheck struct {
	// Name is the check ("dkim", "spf", "dmarc", "headers", "size",
	// "parts", "sent").
	Name string
	// Status is "pass", "warn", "fail", "info" or "skipped".
	Status string
	Text   string
}

// SandboxPart is an attachment or inline part of a captured message.
type SandboxPart struct {
	Name, Type string
	Inline     bool
	Data       []byte
}

// SandboxDetail is one captured message as the view shows it.
type SandboxDetail struct {
	ID int64
	// Envelope says who sent it to whom, how (TLS, AUTH) and when.
	Envelope string
	// Headers are the header fields, decoded, in order.
	Headers [][2]string
	// Text is the plain-text body; HTML the HTML body already rendered as
	// safe text (nothing loaded, nothing run).
	Text, HTML       string
	HasText, HasHTML bool
	// HTMLDoc is the HTML body converted for showing formatted, with the
	// message's own images (message.HTMLDocument); nil shows HTML as text.
	HTMLDoc *message.Doc
	Parts   []SandboxPart
	// Raw is the source as received.
	Raw []byte
	// Transcript is the session, one line per event.
	Transcript []string
	Checks     []SandboxCheck
	// Recheck says the checks may change in a moment: the message arrived
	// just now and the copy its sender keeps (Herald's history) is not
	// there yet. The view asks again shortly.
	Recheck bool
}

// sandboxPage is how many inbox rows are read from the store at a time.
const sandboxPage = 100

// Sandbox is the sandbox view: the capture server's state and settings, its
// inbox (searchable, virtualised, live) and each message taken apart with
// its checks. Its widgets are exported for tests.
type Sandbox struct {
	core SandboxCore
	do   Dispatcher
	host Host

	StatusLabel *widget.Label
	StartStop   *widget.Button
	Settings    *widget.Button
	Clear       *widget.Button
	Delete      *widget.Button
	Search      *widget.Entry
	List        *widget.List
	CountLabel  *widget.Label
	Envelope    *widget.Label
	Tabs        *container.AppTabs
	ChecksBox   *fyne.Container
	Headers     *widget.List
	TextLines   *LineView
	HTMLLines   *LineView
	// HTMLView shows the HTML formatted; HTMLMode switches it and HTMLLines
	// (the HTML as text).
	HTMLView *HTMLView
	HTMLMode *widget.RadioGroup
	PartsBox *fyne.Container
	Source   *LineView
	Session  *LineView

	// Detail is the message shown (nil for none).
	Detail *SandboxDetail

	content fyne.CanvasObject
	split   *container.Split

	mu       sync.Mutex // guards pages, count, loading, gen
	pages    map[int][]InboxItem
	loading  map[int]bool
	count    int
	gen      int
	search   string
	selected int64
	// loadedOnce is set after the first load: later growth is new
	// captures.
	loadedOnce bool

	ctx     context.Context
	cancel  context.CancelFunc
	stopSub func()
	stopped bool
	// lastSettings is the settings form last opened (tests).
	lastSettings *SandboxSettingsForm
	// interval coalesces updates; tests set 0.
	interval time.Duration
}

// NewSandbox returns the Sandbox view over core.
func NewSandbox(core SandboxCore, do Dispatcher) *Sandbox {
	if do == nil {
		do = fyne.Do
	}
	s := &Sandbox{core: core, do: do, pages: map[int][]InboxItem{}, loading: map[int]bool{}, interval: 100 * time.Millisecond}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Name implements View.
func (s *Sandbox) Name() string { return "sandbox" }

// Title implements View.
func (s *Sandbox) Title() string { return "Sandbox" }

// Icon implements View.
func (s *Sandbox) Icon() fyne.Resource { return theme.StorageIcon() }

// SetHost implements Hosted.
func (s *Sandbox) SetHost(h Host) { s.host = h }

// Actions implements Actioner: the sandbox's buttons.
func (s *Sandbox) Actions() []Action {
	return []Action{
		{Menu: "File", Label: "Start or stop the sandbox", Do: func() { press(s.StartStop) }},
		{Menu: "File", Label: "Sandbox settings…", Do: func() { press(s.Settings) }},
		{Menu: "Message", Label: "Delete the sandbox message", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierShortcutDefault}, Do: func() { press(s.Delete) }, WhenShown: true},
		{Menu: "Message", Label: "Clear the sandbox inbox…", Do: func() { press(s.Clear) }, WhenShown: true},
	}
}

// FocusSearch implements Searchable.
func (s *Sandbox) FocusSearch() {
	if s.host != nil && s.Search != nil {
		s.host.Window().Canvas().Focus(s.Search)
	}
}

// Content implements View.
func (s *Sandbox) Content() fyne.CanvasObject {
	if s.content != nil {
		return s.content
	}
	s.StatusLabel = widget.NewLabel("")
	s.StatusLabel.Truncation = fyne.TextTruncateEllipsis
	s.StartStop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), s.toggle)
	s.Settings = widget.NewButtonWithIcon("Settings…", theme.SettingsIcon(), s.ShowSettings)
	s.Settings.Importance = widget.HighImportance
	s.Clear = widget.NewButtonWithIcon("Clear inbox…", theme.DeleteIcon(), s.AskClear)
	top := container.NewBorder(nil, widget.NewSeparator(), nil, container.NewHBox(s.StartStop, s.Settings, s.Clear), s.StatusLabel)

	s.Search = widget.NewEntry()
	s.Search.SetPlaceHolder("Search sender, recipients, subject (Ctrl+F)")
	s.Search.OnChanged = func(q string) { s.setSearch(q) }
	s.CountLabel = widget.NewLabel("")
	s.CountLabel.Truncation = fyne.TextTruncateEllipsis
	s.List = widget.NewList(s.rowCount, func() fyne.CanvasObject {
		l := widget.NewLabel("")
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}, s.updateRow)
	s.List.OnSelected = func(id widget.ListItemID) {
		if it, ok := s.item(id); ok && it.ID != s.selected {
			s.open(it.ID)
		}
	}
	left := borderInOrder(s.Search, s.CountLabel, nil, nil, s.List)

	s.Envelope = widget.NewLabel("Select a captured message to see its checks, headers, text, HTML, attachments, source and session.")
	s.Envelope.Wrapping = fyne.TextWrapWord
	s.Delete = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), s.DeleteShown)
	s.Delete.Disable()

	s.ChecksBox = container.NewVBox()
	s.Headers = widget.NewList(func() int {
		if s.Detail == nil {
			return 0
		}
		return len(s.Detail.Headers)
	}, func() fyne.CanvasObject {
		n := widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
		v := widget.NewLabel("")
		v.Truncation = fyne.TextTruncateEllipsis
		return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(170, n.MinSize().Height), n), nil, v)
	}, func(id widget.ListItemID, o fyne.CanvasObject) {
		if s.Detail == nil || id >= len(s.Detail.Headers) {
			return
		}
		c := o.(*fyne.Container)
		h := s.Detail.Headers[id]
		c.Objects[0].(*widget.Label).SetText(oneLine(h[1], 2000))
		c.Objects[1].(*fyne.Container).Objects[0].(*widget.Label).SetText(h[0] + ":")
	})
	s.TextLines = NewLineView()
	s.HTMLLines = NewLineView()
	s.HTMLView = NewHTMLView(s.do)
	s.HTMLView.Window = func() fyne.Window {
		if s.host == nil {
			return nil
		}
		return s.host.Window()
	}
	s.PartsBox = container.NewVBox()
	s.Source = NewLineView()
	s.Session = NewLineView()
	htmlNote := widget.NewLabel("Nothing is loaded from the internet and no script runs; images come from the message only.")
	htmlNote.Wrapping = fyne.TextWrapWord
	s.HTMLMode = widget.NewRadioGroup([]string{htmlFormatted, htmlAsText}, func(string) { s.showHTMLMode() })
	s.HTMLMode.Horizontal = true
	s.HTMLMode.Required = true
	s.HTMLMode.SetSelected(htmlFormatted)
	s.showHTMLMode()
	s.Tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Checks", theme.ConfirmIcon(), container.NewVScroll(s.ChecksBox)),
		container.NewTabItem("Headers", s.Headers),
		container.NewTabItem("Text", s.TextLines.List),
		container.NewTabItem("HTML", container.NewBorder(container.NewBorder(nil, nil, s.HTMLMode, nil, htmlNote), nil, nil, nil,
			container.NewStack(s.HTMLView.Content(), s.HTMLLines.List))),
		container.NewTabItemWithIcon("Attachments", theme.FileIcon(), container.NewVScroll(s.PartsBox)),
		container.NewTabItem("Source", s.Source.List),
		container.NewTabItem("Session", s.Session.List),
	)
	right := borderInOrder(container.NewBorder(nil, nil, nil, s.Delete, s.Envelope), nil, nil, nil, s.Tabs)

	s.split = container.NewHSplit(left, right)
	s.split.Offset = 0.36
	if s.host != nil {
		s.split.Offset = s.host.Preferences().FloatWithFallback("sandbox.split", 0.36)
	}
	s.content = borderInOrder(top, nil, nil, nil, s.split)
	s.showStatus()
	return s.content
}

// The HTML tab's two ways of showing the HTML.
const (
	htmlFormatted = "Formatted"
	htmlAsText    = "As text"
)

// showHTMLMode shows the HTML formatted or as text, as HTMLMode says.
func (s *Sandbox) showHTMLMode() {
	if s.HTMLView == nil || s.HTMLLines == nil {
		return
	}
	text := s.HTMLMode.Selected == htmlAsText
	content := s.HTMLView.Content()
	if text {
		content.Hide()
		s.HTMLLines.List.Show()
	} else {
		s.HTMLLines.List.Hide()
		content.Show()
	}
}

// Start implements View: it loads the inbox and follows its changes.
func (s *Sandbox) Start(ctx context.Context) {
	if s.stopped {
		return
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	ch, stop := s.core.SandboxUpdates()
	s.stopSub = stop
	s.reload()
	go coalesce(s.ctx, ch, s.interval, func() {
		s.do(s.showStatus)
		s.reload()
	})
}

// Stop implements View.
func (s *Sandbox) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.host != nil && s.split != nil {
		s.host.Preferences().SetFloat("sandbox.split", s.split.Offset)
	}
	s.cancel()
	if s.stopSub != nil {
		s.stopSub()
	}
}

func (s *Sandbox) showStatus() {
	st := s.core.SandboxStatus()
	if st.Running {
		s.StatusLabel.SetText("Running on " + st.Addr + " · " + st.Summary)
		s.StartStop.SetText("Stop")
		s.StartStop.SetIcon(theme.MediaStopIcon())
	} else {
		s.StatusLabel.SetText("Stopped: nothing is captured. " + st.Summary)
		s.StartStop.SetText("Start")
		s.StartStop.SetIcon(theme.MediaPlayIcon())
	}
}

// reload recounts and forgets the loaded pages (after a capture, a search,
// a delete); rows are read again as they show.
func (s *Sandbox) reload() {
	s.mu.Lock()
	s.gen++
	gen, q := s.gen, s.search
	s.mu.Unlock()
	ctx := s.ctx
	go func() {
		n, err := s.core.SandboxCount(ctx, q)
		var first []InboxItem
		if err == nil {
			first, err = s.core.SandboxPage(ctx, q, 0, sandboxPage)
		}
		s.do(func() {
			s.mu.Lock()
			if gen != s.gen {
				s.mu.Unlock()
				return
			}
			if err != nil {
				s.mu.Unlock()
				s.CountLabel.SetText("Could not read the inbox: " + err.Error())
				return
			}
			grew := n > s.count && s.loadedOnce && q == ""
			s.loadedOnce = true
			s.count = n
			s.pages = map[int][]InboxItem{0: first}
			s.loading = map[int]bool{}
			s.mu.Unlock()
			s.CountLabel.SetText(countWords(n, q))
			// The rows moved: the selection follows the message shown, not
			// its old row.
			s.List.UnselectAll()
			for i, it := range first {
				if it.ID == s.selected {
					s.List.Select(i)
					break
				}
			}
			s.List.Refresh()
			// A new capture opens by itself while none is shown.
			if grew && s.Detail == nil && s.selected == 0 && len(first) > 0 {
				s.List.Select(0)
			}
		})
	}()
}

func countWords(n int, q string) string {
	switch {
	case q != "" && n == 1:
		return "1 message matches"
	case q != "":
		return fmt.Sprintf("%d messages match", n)
	case n == 0:
		return "Nothing captured yet: send to the address above"
	case n == 1:
		return "1 message captured"
	}
	return fmt.Sprintf("%d messages captured, newest first", n)
}

func (s *Sandbox) setSearch(q string) {
	s.mu.Lock()
	s.search = strings.TrimSpace(q)
	s.mu.Unlock()
	s.reload()
}

func (s *Sandbox) rowCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// item returns row id when its page is loaded, and asks for the page when
// it is not.
func (s *Sandbox) item(id int) (InboxItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pg := id / sandboxPage
	if items, ok := s.pages[pg]; ok {
		if i := id % sandboxPage; i < len(items) {
			return items[i], true
		}
		return InboxItem{}, false
	}
	if !s.loading[pg] {
		s.loading[pg] = true
		gen, q, ctx := s.gen, s.search, s.ctx
		go func() {
			items, err := s.core.SandboxPage(ctx, q, pg*sandboxPage, sandboxPage)
			s.do(func() {
				s.mu.Lock()
				if gen != s.gen || err != nil {
					delete(s.loading, pg)
					s.mu.Unlock()
					return
				}
				s.pages[pg] = items
				s.mu.Unlock()
				s.List.Refresh()
			})
		}()
	}
	return InboxItem{}, false
}

func (s *Sandbox) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	l := o.(*widget.Label)
	it, ok := s.item(id)
	if !ok {
		l.SetText("…")
		return
	}
	l.SetText(inboxRow(it))
}

func inboxRow(it InboxItem) string {
	subj := it.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	when := it.Received.Local().Format("Jan 2 15:04:05")
	if time.Since(it.Received) < 20*time.Hour {
		when = it.Received.Local().Format("15:04:05")
	}
	to := strings.Join(it.To, ", ")
	return oneLine(fmt.Sprintf("%s  %s  ·  %s → %s", when, subj, it.From, to), 300)
}

// oneLine cuts s to one line of at most n bytes.
func oneLine(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// open loads and shows message id.
func (s *Sandbox) open(id int64) {
	s.selected = id
	s.Envelope.SetText(fmt.Sprintf("Message %d: checking…", id))
	s.load(id, 0)
}

// recheckAfter and recheckTries bound how often a fresh capture's checks
// are asked again while its sender's copy is not in the history yet.
const (
	recheckAfter = 700 * time.Millisecond
	recheckTries = 3
)

// load reads message id's detail off the UI goroutine and shows it; tries
// counts the re-checks already done.
func (s *Sandbox) load(id int64, tries int) {
	ctx := s.ctx
	go func() {
		d, err := s.core.SandboxDetail(ctx, id)
		s.do(func() {
			if s.selected != id {
				return
			}
			if err != nil {
				s.Envelope.SetText(fmt.Sprintf("Could not load message %d: %v", id, err))
				return
			}
			if tries == 0 {
				s.show(d)
			} else {
				s.showChecks(d.Checks)
			}
			if d.Recheck && tries < recheckTries {
				time.AfterFunc(recheckAfter, func() {
					if ctx.Err() == nil {
						s.do(func() {
							if s.selected == id {
								s.load(id, tries+1)
							}
						})
					}
				})
			}
		})
	}()
}

// OpenMessage shows captured message id (tests, and a future "open in
// Sandbox" from other views).
func (s *Sandbox) OpenMessage(id int64) { s.Content(); s.open(id) }

func (s *Sandbox) show(d *SandboxDetail) {
	s.Detail = d
	s.Envelope.SetText(d.Envelope)
	if s.host != nil {
		// The title names the message and its DKIM result (also what a
		// test driving the real window can read).
		s.host.Window().SetTitle("Herald — Sandbox — " + TitleOf(d))
	}
	s.Delete.Enable()

	s.showChecks(d.Checks)
	s.Headers.Refresh()
	if d.HasText {
		s.TextLines.SetText(d.Text)
	} else {
		s.TextLines.SetText("(this message has no plain-text part)")
	}
	switch {
	case !d.HasHTML:
		s.HTMLLines.SetText("(this message has no HTML part)")
		s.HTMLView.SetNote("(this message has no HTML part)")
	case d.HTMLDoc == nil:
		s.HTMLLines.SetText(d.HTML)
		s.HTMLView.SetNote("(the HTML is shown as text only)")
	default:
		s.HTMLLines.SetText(d.HTML)
		s.HTMLView.SetDoc(d.HTMLDoc)
	}
	s.PartsBox.Objects = nil
	for _, p := range d.Parts {
		p := p
		name := p.Name
		if name == "" {
			name = "(unnamed " + p.Type + ")"
		}
		kind := "attachment"
		if p.Inline {
			kind = "inline"
		}
		l := widget.NewLabel(fmt.Sprintf("%s — %s, %s, %s", name, p.Type, sandboxSize(len(p.Data)), kind))
		l.Truncation = fyne.TextTruncateEllipsis
		save := widget.NewButtonWithIcon("Save…", theme.DocumentSaveIcon(), func() { s.savePart(p) })
		s.PartsBox.Add(container.NewBorder(nil, nil, nil, save, l))
	}
	if len(d.Parts) == 0 {
		s.PartsBox.Add(widget.NewLabel("No attachments."))
	}
	s.PartsBox.Refresh()
	s.Source.SetText(string(d.Raw))
	s.Session.SetLines(d.Transcript)
}

// showChecks lists the checks of the message shown.
func (s *Sandbox) showChecks(checks []SandboxCheck) {
	s.ChecksBox.Objects = nil
	for _, c := range checks {
		s.ChecksBox.Add(checkRow(c))
	}
	s.ChecksBox.Refresh()
}

// TitleOf names a captured message and its DKIM result in a few words:
// "message 3 · DKIM pass".
func TitleOf(d *SandboxDetail) string {
	dk := "no checks"
	for _, c := range d.Checks {
		if c.Name == "dkim" {
			_, w := checkIcon(c.Status)
			dk = "DKIM " + strings.ToLower(w)
			if strings.HasPrefix(c.Text, "no DKIM signature") {
				dk = "DKIM: no signature"
			}
			break
		}
	}
	return fmt.Sprintf("message %d · %s", d.ID, dk)
}

// checkIcon and checkWord give each status an icon and a word: never
// colour alone.
func checkIcon(status string) (fyne.Resource, string) {
	switch status {
	case "pass":
		return theme.NewSuccessThemedResource(theme.ConfirmIcon()), "Pass"
	case "warn":
		return theme.NewWarningThemedResource(theme.WarningIcon()), "Warning"
	case "fail":
		return theme.NewErrorThemedResource(theme.ErrorIcon()), "Fail"
	case "skipped":
		return theme.QuestionIcon(), "Not checked"
	}
	return theme.InfoIcon(), "Info"
}

var sandboxCheckTitles = map[string]string{"dkim": "DKIM", "spf": "SPF", "dmarc": "DMARC", "headers": "Headers", "size": "Size", "parts": "Parts", "sent": "As sent"}

func checkRow(c SandboxCheck) fyne.CanvasObject {
	icon, word := checkIcon(c.Status)
	title := sandboxCheckTitles[c.Name]
	if title == "" {
		title = c.Name
	}
	head := widget.NewLabelWithStyle(title+" · "+word, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	text := widget.NewLabel(oneLine(c.Text, 2000))
	text.Wrapping = fyne.TextWrapWord
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(icon)), nil, container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*2), head, text))
}

func sandboxSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func (s *Sandbox) savePart(p SandboxPart) {
	if s.host == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, s.host.Window())
			return
		}
		if w == nil {
			return
		}
		_, err = w.Write(p.Data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			dialog.ShowError(fmt.Errorf("could not save %s: %w", p.Name, err), s.host.Window())
			return
		}
		s.host.SetStatus("Saved " + w.URI().Path())
	}, s.host.Window())
	d.SetFileName(p.Name)
	d.Show()
}

// DeleteShown deletes the message shown.
func (s *Sandbox) DeleteShown() {
	if s.Detail == nil {
		return
	}
	id, ctx := s.Detail.ID, s.ctx
	s.Delete.Disable()
	go func() {
		err := s.core.DeleteSandboxMessage(ctx, id)
		s.do(func() {
			if err != nil {
				s.Envelope.SetText("Could not delete it: " + err.Error())
				s.Delete.Enable()
				return
			}
			s.clearDetail(fmt.Sprintf("Message %d deleted.", id))
		})
		s.reload()
	}()
}

func (s *Sandbox) clearDetail(note string) {
	s.Detail, s.selected = nil, 0
	s.Envelope.SetText(note)
	s.Delete.Disable()
	s.ChecksBox.Objects = nil
	s.ChecksBox.Refresh()
	s.Headers.Refresh()
	for _, l := range []*LineView{s.TextLines, s.HTMLLines, s.Source, s.Session} {
		l.SetLines(nil)
	}
	s.PartsBox.Objects = nil
	s.PartsBox.Refresh()
	s.HTMLView.SetDoc(nil)
	s.List.UnselectAll()
}

// AskClear asks, then deletes every captured message.
func (s *Sandbox) AskClear() {
	if s.host == nil {
		s.ClearNow()
		return
	}
	dialog.ShowConfirm("Clear the sandbox inbox?", fmt.Sprintf("All %d captured messages are deleted. This cannot be undone.", s.rowCount()), func(ok bool) {
		if ok {
			s.ClearNow()
		}
	}, s.host.Window())
}

// ClearNow deletes every captured message without asking.
func (s *Sandbox) ClearNow() {
	ctx := s.ctx
	go func() {
		err := s.core.ClearSandbox(ctx)
		s.do(func() {
			if err != nil {
				s.CountLabel.SetText("Could not clear the inbox: " + err.Error())
				return
			}
			s.clearDetail("The inbox was cleared.")
		})
		s.reload()
	}()
}

func (s *Sandbox) toggle() {
	running := s.core.SandboxStatus().Running
	ctx := s.ctx
	s.StartStop.Disable()
	go func() {
		f, err := s.core.SandboxSettings(ctx)
		if err == nil {
			f.Stopped = running
			err = s.core.ApplySandbox(ctx, f)
		}
		s.do(func() {
			s.StartStop.Enable()
			s.showStatus()
			if err != nil {
				s.StatusLabel.SetText("Could not start the sandbox: " + err.Error())
				if s.host != nil {
					dialog.ShowError(fmt.Errorf("%w\n\nChange the settings (another listen address?) and start it again.", err), s.host.Window())
				}
			}
		})
	}()
}
