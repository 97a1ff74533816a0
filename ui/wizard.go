package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui/widgets"
)

// The wizard's stages, in order.
const (
	StageAddress = iota
	StageServer
	StageTest
	StageDomain
	StageSave
)

var stageNames = []string{"Address", "Server", "Test", "Domain", "Save"}

// coalesceEvery is how often at most the wizard redraws for callbacks that
// arrive from the core's goroutines.
const coalesceEvery = 100 * time.Millisecond

// WizardView is the connection-test and setup wizard: email address →
// discovery → step-by-step probe → deliverability of the sender's domain →
// save as a profile. It implements View. Its widgets are exported so that
// tests can drive them.
type WizardView struct {
	// Stage is the stage shown (StageAddress…StageSave).
	Stage int

	Email        *widget.Entry
	Password     *widgets.SecretEntry
	EmailError   *widget.Label
	ManualButton *widget.Button
	// GoogleButton, MicrosoftButton and OtherSignInButton sign in with
	// OAuth2 (shown when the core implements WizardSignIn); SignInStatus
	// says how it went.
	GoogleButton, MicrosoftButton, OtherSignInButton *widget.Button
	SignInStatus                                     *widget.Label
	oauthForm                                        *oauthForm
	signIn                                           *SignInDialog // the last sign-in's

	Sources        *widgets.Checklist
	Candidates     *widget.List
	DiscoverStatus *widget.Label
	Host, Port     *widget.Entry
	manualBox      *widget.Accordion
	TLS            *widget.Select
	User           *widget.Entry
	UseManual      *widget.Button

	TargetLabel   *widget.Label
	Steps         *widgets.Checklist
	ProbeStatus   *widget.Label
	Changes       *widget.Label
	RetestButton  *widget.Button
	SendTestCheck *widget.Check

	Findings    *widgets.Checklist
	DomainLabel *widget.Label

	SaveName, FromName *widget.Entry
	SaveSummary        *widget.Label
	SaveStatus         *widget.Label
	SaveButton         *widget.Button

	BackButton, CancelButton, NextButton *widget.Button
	Progress                             *widget.ProgressBarInfinite

	// OnSaved, when set, is called on the UI goroutine after a profile was
	// saved (the shell may show it in Accounts).
	OnSaved func(*account.Profile)
	// OnTested, when set, is called on the UI goroutine after each probe
	// that was not cancelled, with the target and its report (the shell may
	// record it as the profile's last test).
	OnTested func(ProbeTarget, *WizardReport)
	// OpenURL opens a link in the browser; default the Fyne app's OpenURL.
	OpenURL func(*url.URL) error

	core WizardCore
	do   Dispatcher
	win  func() fyne.Window

	content fyne.CanvasObject
	pages   []fyne.CanvasObject
	stepper []*widget.Label

	discovery *WizardDiscovery
	selected  int
	target    ProbeTarget
	tested    *account.Profile // the stored profile under test, nil for a new one
	report    *WizardReport
	last      map[string]*WizardReport // the previous completed report per target

	// the running operation
	baseCtx    context.Context
	opCancel   context.CancelFunc
	gen        int
	running    bool
	mu         sync.Mutex
	pending    []func()
	pendingKey map[string]int
	scheduled  bool
	interval   time.Duration

	// host keeps the split positions (nil in tests without a shell).
	host   Host
	splits splitMemory
}

// NewWizardView builds the wizard over core. do runs functions on the UI
// goroutine (fyne.Do in the app); win returns the window for dialogs.
func NewWizardView(core WizardCore, do Dispatcher, win func() fyne.Window) *WizardView {
	v := &WizardView{core: core, do: do, win: win, last: map[string]*WizardReport{}, selected: -1, interval: coalesceEvery, baseCtx: context.Background()}
	v.content = v.build()
	v.show(StageAddress)
	return v
}

// Name implements View.
func (v *WizardView) Name() string { return "wizard" }

// Title implements View.
func (v *WizardView) Title() string { return "Connection test" }

// Icon implements View.
func (v *WizardView) Icon() fyne.Resource { return theme.SearchIcon() }

// Content implements View.
func (v *WizardView) Content() fyne.CanvasObject { return v.content }

// Start implements View: operations started later end with ctx.
func (v *WizardView) Start(ctx context.Context) { v.baseCtx = ctx }

// Stop implements View: it cancels the running operation.
func (v *WizardView) Stop() {
	v.splits.save(v.host)
	v.Cancel()
}

// SetHost implements Hosted: the wizard's split positions are kept in the
// host's preferences.
func (v *WizardView) SetHost(h Host) {
	v.host = h
	v.splits.restore(h)
}

// NewAccount starts over from the email step.
func (v *WizardView) NewAccount() {
	v.Cancel()
	v.tested, v.discovery, v.selected, v.report = nil, nil, -1, nil
	v.target = ProbeTarget{}
	v.Email.SetText("")
	v.Password.SetText("")
	v.EmailError.SetText("")
	v.Sources.Clear()
	v.Candidates.Refresh()
	v.DiscoverStatus.SetText("")
	v.SaveStatus.SetText("")
	v.show(StageAddress)
	if w := v.window(); w != nil {
		w.Canvas().Focus(v.Email)
	}
}

// TestProfile starts the connection test of the stored profile p at once;
// saving then updates p.
func (v *WizardView) TestProfile(p *account.Profile) {
	v.Cancel()
	cp := *p
	v.tested = &cp
	v.target = ProbeTarget{Profile: cp}
	v.Email.SetText(cp.FromAddress)
	v.Password.SetText("")
	v.startProbe()
}

// Cancel stops the running operation; the view shows it as cancelled.
func (v *WizardView) Cancel() {
	if v.opCancel != nil {
		v.opCancel()
	}
}

// Target is the settings the wizard tests and would save.
func (v *WizardView) Target() ProbeTarget { return v.target }

// Report is the last probe's report, nil before the first.
func (v *WizardView) Report() *WizardReport { return v.report }

func (v *WizardView) window() fyne.Window {
	if v.win == nil {
		return nil
	}
	return v.win()
}

// --- operations and coalescing ---

// begin starts an operation: it cancels the one before and returns its
// context and generation; results of older generations are dropped.
func (v *WizardView) begin() (context.Context, int) {
	v.Cancel()
	ctx, cancel := context.WithCancel(v.baseCtx)
	v.gen++
	v.opCancel, v.running = cancel, true
	v.Progress.Show()
	v.Progress.Start()
	v.CancelButton.Enable()
	return ctx, v.gen
}

// end marks operation gen as finished (on the UI goroutine).
func (v *WizardView) end(gen int) {
	if gen != v.gen {
		return
	}
	v.running = false
	v.opCancel()
	v.Progress.Stop()
	v.Progress.Hide()
	v.CancelButton.Disable()
	v.updateNav()
}

// post queues f, from any goroutine, to run on the UI goroutine if gen is
// still current; queued functions run together at most every interval.
func (v *WizardView) post(gen int, f func()) { v.postKeyed(gen, "", f) }

// postKeyed is post where a later f with the same non-empty key replaces
// one still queued: a burst of updates of one row is one update.
func (v *WizardView) postKeyed(gen int, key string, f func()) {
	g := func() {
		if gen == v.gen {
			f()
		}
	}
	v.mu.Lock()
	if i, ok := v.pendingKey[key]; ok && key != "" {
		v.pending[i] = g
	} else {
		if key != "" {
			if v.pendingKey == nil {
				v.pendingKey = map[string]int{}
			}
			v.pendingKey[key] = len(v.pending)
		}
		v.pending = append(v.pending, g)
	}
	if v.scheduled {
		v.mu.Unlock()
		return
	}
	v.scheduled = true
	v.mu.Unlock()
	if v.interval <= 0 {
		v.do(v.flush)
		return
	}
	time.AfterFunc(v.interval, func() { v.do(v.flush) })
}

func (v *WizardView) flush() {
	v.mu.Lock()
	fs := v.pending
	v.pending, v.pendingKey, v.scheduled = nil, nil, false
	v.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// --- layout ---

func (v *WizardView) build() fyne.CanvasObject {
	// stepper
	var steps []fyne.CanvasObject
	for i, n := range stageNames {
		l := widget.NewLabel(fmt.Sprintf("%d %s", i+1, n))
		v.stepper = append(v.stepper, l)
		if i > 0 {
			steps = append(steps, widget.NewLabel("›"))
		}
		steps = append(steps, l)
	}
	top := container.NewVBox(container.NewHBox(steps...), widget.NewSeparator())

	v.pages = []fyne.CanvasObject{v.buildAddress(), v.buildServer(), v.buildTest(), v.buildDomain(), v.buildSave()}

	v.BackButton = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), v.back)
	v.CancelButton = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), v.Cancel)
	v.CancelButton.Disable()
	v.NextButton = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), v.next)
	v.NextButton.Importance = widget.HighImportance
	v.NextButton.IconPlacement = widget.ButtonIconTrailingText
	v.Progress = widget.NewProgressBarInfinite()
	v.Progress.Stop()
	v.Progress.Hide()
	bottom := container.NewVBox(v.Progress, container.NewBorder(nil, nil, v.BackButton, container.NewHBox(v.CancelButton, v.NextButton)))
	return container.NewBorder(top, bottom, nil, nil, container.NewStack(v.pages...))
}

func wrapped(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func truncated(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

func (v *WizardView) buildAddress() fyne.CanvasObject {
	v.Email = widget.NewEntry()
	v.Email.SetPlaceHolder("you@example.com")
	v.Email.OnSubmitted = func(string) { v.next() }
	v.Password = widgets.NewSecretEntry()
	v.Password.SetPlaceHolder("optional: to test signing in")
	v.Password.OnSubmitted = func(string) { v.next() }
	v.EmailError = wrapped("")
	v.EmailError.Importance = widget.DangerImportance
	v.ManualButton = widget.NewButton("Enter the server by hand", func() {
		if v.checkEmail() {
			v.show(StageServer)
		}
	})
	v.ManualButton.Importance = widget.LowImportance
	form := widget.NewForm(widget.NewFormItem("Email address", v.Email), widget.NewFormItem("Password", v.Password))
	intro := wrapped("Herald finds your provider's outgoing (SMTP) server from your address, tests it step by step and says what to change when something fails. The password is sent only to the server, over TLS, and is stored only if you save the profile.")
	return container.NewVBox(widget.NewLabelWithStyle("Your email address", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), intro, form, v.EmailError, container.NewHBox(v.ManualButton), v.buildSignIn())
}

func (v *WizardView) buildServer() fyne.CanvasObject {
	v.Sources = widgets.NewChecklist()
	v.DiscoverStatus = wrapped("")
	v.Candidates = widget.NewList(
		func() int {
			if v.discovery == nil {
				return 0
			}
			return len(v.discovery.Candidates)
		},
		func() fyne.CanvasObject {
			a := truncated("")
			a.TextStyle = fyne.TextStyle{Bold: true}
			return container.NewVBox(a, truncated(""))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			c := v.discovery.Candidates[id]
			box := o.(*fyne.Container)
			state := "did not answer"
			if c.Reachable {
				state = "answered"
			}
			src := c.Source
			if c.Detail != "" {
				src += " (" + c.Detail + ")"
			}
			prov := ""
			if c.Provider != "" {
				prov = " · " + c.Provider
			}
			box.Objects[0].(*widget.Label).SetText(fmt.Sprintf("#%d  %s:%d  %s · %s%s", c.Rank, c.Host, c.Port, tlsWord(c.TLS), state, prov))
			sum := c.Summary
			if !c.Reachable {
				if plain, det := plainFinding(c.Summary); det != "" {
					sum = plain
				}
			}
			box.Objects[1].(*widget.Label).SetText("from " + src + ": " + sum)
		},
	)
	v.Candidates.OnSelected = func(id widget.ListItemID) {
		v.selected = id
		v.fillManual(v.discovery.Candidates[id])
		v.updateNav()
	}
	v.Host = widget.NewEntry()
	v.Host.SetPlaceHolder("smtp.example.com")
	v.Port = widget.NewEntry()
	v.Port.SetPlaceHolder("465")
	v.TLS = widget.NewSelect([]string{string(transport.TLSImplicit), string(transport.TLSStartTLS), string(transport.TLSNone)}, nil)
	v.TLS.SetSelected(string(transport.TLSImplicit))
	v.User = widget.NewEntry()
	v.User.SetPlaceHolder("default: your address")
	v.UseManual = widget.NewButton("Test this server", func() {
		if t, ok := v.manualTarget(); ok {
			v.target = t
			v.startProbe()
		}
	})
	manual := widget.NewForm(
		widget.NewFormItem("Server", v.Host), widget.NewFormItem("Port", v.Port),
		widget.NewFormItem("TLS", v.TLS), widget.NewFormItem("User name", v.User))
	v.Host.OnChanged = func(string) { v.updateNav() }
	v.manualBox = widget.NewAccordion(widget.NewAccordionItem("Enter or change the server by hand", container.NewVBox(manual, container.NewHBox(v.UseManual))))
	sources := container.NewBorder(widget.NewLabelWithStyle("Sources asked", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, nil, nil, container.NewVScroll(v.Sources))
	cands := container.NewBorder(container.NewVBox(widget.NewLabelWithStyle("Servers found (best first): pick one", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v.DiscoverStatus), nil, nil, nil, v.Candidates)
	split := container.NewVSplit(sources, cands)
	split.Offset = 0.45
	v.splits.keep(v.host, "wizard.split.discovery", split)
	return container.NewBorder(nil, v.manualBox, nil, nil, split)
}

func (v *WizardView) buildTest() fyne.CanvasObject {
	v.TargetLabel = truncated("")
	v.TargetLabel.TextStyle = fyne.TextStyle{Bold: true}
	v.ProbeStatus = wrapped("")
	v.Changes = wrapped("")
	v.Changes.Hide()
	v.Steps = widgets.NewChecklist()
	v.RetestButton = widget.NewButtonWithIcon("Test again", theme.ViewRefreshIcon(), func() { v.startProbe() })
	v.SendTestCheck = widget.NewCheck("Also send a test message to myself", func(b bool) { v.target.SendTest = b })
	head := container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(v.SendTestCheck, v.RetestButton), v.TargetLabel), v.ProbeStatus, v.Changes)
	return borderInOrder(head, nil, nil, nil, container.NewVScroll(v.Steps))
}

func (v *WizardView) buildDomain() fyne.CanvasObject {
	v.DomainLabel = wrapped("")
	v.Findings = widgets.NewChecklist()
	head := container.NewVBox(widget.NewLabelWithStyle("Will your mail arrive? The sender domain's DNS", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v.DomainLabel)
	return container.NewBorder(head, nil, nil, nil, container.NewVScroll(v.Findings))
}

func (v *WizardView) buildSave() fyne.CanvasObject {
	v.SaveName = widget.NewEntry()
	v.FromName = widget.NewEntry()
	v.FromName.SetPlaceHolder("optional: the name people see")
	v.SaveSummary = wrapped("")
	v.SaveStatus = wrapped("")
	v.SaveButton = widget.NewButtonWithIcon("Save profile", theme.DocumentSaveIcon(), v.save)
	v.SaveButton.Importance = widget.HighImportance
	form := widget.NewForm(widget.NewFormItem("Profile name", v.SaveName), widget.NewFormItem("Your name", v.FromName))
	return container.NewVBox(widget.NewLabelWithStyle("Save as a profile", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v.SaveSummary, form, container.NewHBox(v.SaveButton), v.SaveStatus)
}

// show switches to stage s.
func (v *WizardView) show(s int) {
	v.Stage = s
	for i, p := range v.pages {
		if i == s {
			p.Show()
		} else {
			p.Hide()
		}
	}
	for i, l := range v.stepper {
		l.TextStyle = fyne.TextStyle{Bold: i == s}
		l.Importance = widget.MediumImportance
		if i == s {
			l.Importance = widget.HighImportance
		}
		l.Refresh()
	}
	if s == StageSave {
		v.fillSave()
	}
	v.updateNav()
}

// updateNav sets the Back and Next buttons for the stage.
func (v *WizardView) updateNav() {
	next, ok := "", true
	switch v.Stage {
	case StageAddress:
		next = "Find my server"
	case StageServer:
		next = "Test this server"
		ok = v.selected >= 0 || v.Host.Text != ""
	case StageTest:
		next = "Check the domain"
		ok = v.report != nil
	case StageDomain:
		next = "Save…"
	case StageSave:
		next = ""
	}
	if v.running {
		ok = false
	}
	v.NextButton.SetText(next)
	if next == "" {
		v.NextButton.Hide()
	} else {
		v.NextButton.Show()
	}
	if ok {
		v.NextButton.Enable()
	} else {
		v.NextButton.Disable()
	}
	if v.Stage == StageAddress {
		v.BackButton.Disable()
	} else {
		v.BackButton.Enable()
	}
	if v.RetestButton != nil {
		if v.running || v.target.Profile.Host == "" {
			v.RetestButton.Disable()
		} else {
			v.RetestButton.Enable()
		}
	}
}

func (v *WizardView) back() {
	v.Cancel()
	switch {
	case v.Stage == StageTest && v.tested != nil && v.discovery == nil:
		v.show(StageAddress)
	case v.Stage > StageAddress:
		v.show(v.Stage - 1)
	}
}

func (v *WizardView) next() {
	if v.running {
		return
	}
	switch v.Stage {
	case StageAddress:
		if v.checkEmail() {
			v.startDiscovery()
		}
	case StageServer:
		if v.selected >= 0 && v.discovery != nil {
			v.target = v.candidateTarget(v.discovery.Candidates[v.selected])
		} else if t, ok := v.manualTarget(); ok {
			v.target = t
		} else {
			return
		}
		v.startProbe()
	case StageTest:
		v.startDeliverability()
	case StageDomain:
		v.show(StageSave)
	}
}

// --- stage 1: the address ---

func (v *WizardView) checkEmail() bool {
	e := strings.TrimSpace(v.Email.Text)
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || !strings.Contains(e[at+1:], ".") || strings.ContainsAny(e, " <>,;") {
		v.EmailError.SetText("Enter your full email address, like you@example.com.")
		return false
	}
	v.EmailError.SetText("")
	return true
}

func (v *WizardView) email() string { return strings.TrimSpace(v.Email.Text) }

// --- stage 2: discovery ---

var sourceTitles = map[string]string{
	"preset": "Built-in presets", "autoconfig": "Domain's autoconfig", "ispdb": "Thunderbird ISPDB",
	"srv": "SRV records", "mx": "MX host's provider", "guess": "Guessed servers",
}

func (v *WizardView) startDiscovery() {
	email := v.email()
	v.discovery, v.selected = nil, -1
	v.Sources.Clear()
	v.Candidates.UnselectAll()
	v.Candidates.Refresh()
	v.DiscoverStatus.SetText("Asking presets, autoconfig, the ISPDB, SRV and MX records, and trying ports 465, 587, 25 and 2525…")
	v.show(StageServer)
	ctx, gen := v.begin()
	v.updateNav()
	n := 0
	var nmu sync.Mutex
	go func() {
		d, err := v.core.Discover(ctx, email, func(s WizardSource) {
			nmu.Lock()
			key := fmt.Sprintf("%s#%d", s.Source, n)
			n++
			nmu.Unlock()
			v.post(gen, func() { v.Sources.Set(sourceItem(key, s)) })
		})
		v.post(gen, func() {
			defer v.end(gen)
			switch {
			case ctx.Err() != nil:
				v.DiscoverStatus.SetText("Cancelled. Go back to try again, or enter the server by hand below.")
				v.manualBox.Open(0)
			case err != nil:
				v.DiscoverStatus.SetText("Discovery failed: " + err.Error())
			default:
				v.showDiscovery(d)
			}
		})
	}()
}

func sourceItem(key string, s WizardSource) widgets.Item {
	it := widgets.Item{Key: key, Title: sourceTitles[s.Source], Time: ms(s.Duration), Summary: s.Query}
	if it.Title == "" {
		it.Title = s.Source
	}
	switch {
	case s.Error != "":
		it.State = widgets.StateWarn
		sum, _ := plainFinding(s.Error)
		it.Summary = sum + " (" + s.Query + ")"
		it.Detail = s.Query + ": " + s.Error
	case s.Found > 0:
		it.State = widgets.StatePass
		it.Summary = fmt.Sprintf("%s: %d found", s.Query, s.Found)
	default:
		it.State = widgets.StateEmpty
		it.Summary = s.Query
	}
	return it
}

func (v *WizardView) showDiscovery(d *WizardDiscovery) {
	v.discovery = d
	if d == nil {
		return
	}
	for _, s := range d.Sources { // sources the callback did not deliver
		found := false
		for _, k := range v.Sources.Keys() {
			if it, _ := v.Sources.Item(k); it.Summary != "" && strings.HasPrefix(k, s.Source+"#") && strings.HasPrefix(it.Summary, s.Query) {
				found = true
				break
			}
		}
		if !found {
			v.Sources.Set(sourceItem(fmt.Sprintf("%s#%d", s.Source, len(v.Sources.Keys())), s))
		}
	}
	v.Candidates.Refresh()
	switch {
	case len(d.Candidates) == 0:
		v.DiscoverStatus.SetText(v.noServerText(d) + " Enter the server by hand below (your provider's help pages name it).")
		v.manualBox.Open(0)
	case d.Best < 0:
		v.DiscoverStatus.SetText(v.noServerText(d) + " You can still test one of these to see why, or enter the server by hand.")
		v.Candidates.Select(0)
	default:
		v.DiscoverStatus.SetText(fmt.Sprintf("%d servers found in %s; the best is selected.", len(d.Candidates), d.Duration.Round(time.Millisecond)))
		v.Candidates.Select(d.Best)
	}
}

// noServerText says why no server answered: offline when every source
// failed on the network.
func (v *WizardView) noServerText(d *WizardDiscovery) string {
	offline, kind := len(d.Sources) > 0, ""
	for _, s := range d.Sources {
		k := netProblem(s.Error)
		if s.Error == "" || (k != netNoDNS && k != netOffline && k != netTimeout) {
			offline = false
			break
		}
		if kind == "" || k != netTimeout {
			kind = k
		}
	}
	if offline {
		return plainWords(kind)
	}
	return "No server answered."
}

func (v *WizardView) fillManual(c WizardCandidate) {
	v.Host.SetText(c.Host)
	v.Port.SetText(strconv.Itoa(c.Port))
	v.TLS.SetSelected(string(c.TLS))
	v.User.SetText(c.Username)
}

// candidateTarget is the target for a discovered candidate.
func (v *WizardView) candidateTarget(c WizardCandidate) ProbeTarget {
	t := v.baseTarget()
	t.Profile.Host, t.Profile.Port, t.Profile.TLS = c.Host, c.Port, c.TLS
	if c.Auth != "" {
		t.Profile.Auth = c.Auth
	}
	t.Profile.Username = firstNonEmpty(c.Username, v.email())
	t.Provider, t.SetupURL = c.Provider, c.SetupURL
	return t
}

// baseTarget keeps the stored profile's other settings (or a new one's
// defaults) and the address and password typed.
func (v *WizardView) baseTarget() ProbeTarget {
	t := ProbeTarget{Password: v.Password.Text, SendTest: v.target.SendTest}
	if v.tested != nil {
		t.Profile = *v.tested
	} else {
		t.Profile.Auth = transport.AuthAuto
	}
	if e := v.email(); e != "" {
		t.Profile.FromAddress = e
	}
	return t
}

func (v *WizardView) manualTarget() (ProbeTarget, bool) {
	host := strings.TrimSpace(v.Host.Text)
	port, err := strconv.Atoi(strings.TrimSpace(v.Port.Text))
	if host == "" || err != nil || port < 1 || port > 65535 {
		v.DiscoverStatus.SetText("Enter the server's name and a port from 1 to 65535 (465 for implicit TLS, 587 for STARTTLS).")
		return ProbeTarget{}, false
	}
	t := v.baseTarget()
	t.Profile.Host, t.Profile.Port, t.Profile.TLS = host, port, transport.TLSMode(v.TLS.Selected)
	t.Profile.Username = firstNonEmpty(strings.TrimSpace(v.User.Text), v.email())
	if v.selected >= 0 && v.discovery != nil {
		c := v.discovery.Candidates[v.selected]
		t.Provider, t.SetupURL = c.Provider, c.SetupURL
	}
	return t, true
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// --- stage 3: the probe ---

var stepTitles = map[string]string{
	"dns": "DNS lookup", "connect": "Connect", "banner": "Greeting", "ehlo": "EHLO and capabilities",
	"tls": "TLS and certificate", "auth": "Sign in (AUTH)", "envelope": "Envelope dry run",
	"send": "Test message", "open-relay": "Open relay check",
}

func stepTitle(n string) string {
	if t, ok := stepTitles[n]; ok {
		return t
	}
	return n
}

func stateOf(s diagnose.Status) widgets.State {
	switch s {
	case diagnose.StatusPass:
		return widgets.StatePass
	case diagnose.StatusWarn:
		return widgets.StateWarn
	case diagnose.StatusFail:
		return widgets.StateFail
	case diagnose.StatusSkipped:
		return widgets.StateSkipped
	case diagnose.StatusInfo:
		return widgets.StateInfo
	}
	return widgets.State(s)
}

func ms(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

func tlsWord(m transport.TLSMode) string {
	switch m {
	case transport.TLSImplicit:
		return "implicit TLS"
	case transport.TLSStartTLS:
		return "STARTTLS"
	case transport.TLSNone:
		return "no TLS"
	}
	return string(m)
}

func (v *WizardView) startProbe() {
	t := v.target
	v.report = nil
	v.Steps.Clear()
	v.Changes.Hide()
	names := []string{"dns", "connect", "banner", "ehlo", "tls", "auth", "envelope"}
	if t.SendTest {
		names = append(names, "send")
	}
	for i, n := range names {
		st := widgets.StatePending
		if i == 0 {
			st = widgets.StateRunning
		}
		v.Steps.Set(widgets.Item{Key: n, Title: stepTitle(n), State: st})
	}
	who := t.Profile.Name
	if who != "" {
		who = "profile " + who + ": "
	}
	v.TargetLabel.SetText("Testing " + who + t.Server())
	v.ProbeStatus.SetText("Testing…")
	v.SendTestCheck.SetChecked(t.SendTest)
	v.show(StageTest)
	ctx, gen := v.begin()
	v.updateNav()
	go func() {
		rep := v.core.Probe(ctx, t, func(s WizardStep) {
			v.postKeyed(gen, "step:"+s.Name, func() { v.applyStep(s) })
		})
		cancelled := ctx.Err() != nil
		v.post(gen, func() {
			defer v.end(gen)
			v.finishProbe(t, rep, cancelled)
		})
	}()
}

// applyStep shows a finished step and marks the next one as running.
func (v *WizardView) applyStep(s WizardStep) {
	v.Steps.Set(v.stepItem(s))
	if s.Status == diagnose.StatusFail {
		v.Steps.SetExpanded(s.Name, true)
		return
	}
	keys := v.Steps.Keys()
	for i, k := range keys {
		if k == s.Name {
			for _, n := range keys[i+1:] {
				if it, _ := v.Steps.Item(n); it.State == widgets.StatePending {
					it.State = widgets.StateRunning
					v.Steps.Set(it)
					return
				}
			}
		}
	}
}

func (v *WizardView) stepItem(s WizardStep) widgets.Item {
	it := widgets.Item{Key: s.Name, Title: stepTitle(s.Name), State: stateOf(s.Status), Time: ms(s.Duration), Summary: s.Finding, Lines: s.Lines}
	if it.Time == "" && s.Status != diagnose.StatusSkipped {
		it.Time = "<1 ms"
	}
	var detail []string
	if s.Status == diagnose.StatusFail || s.Status == diagnose.StatusWarn || s.Status == diagnose.StatusSkipped {
		if sum, det := plainFinding(s.Finding); det != "" {
			it.Summary = sum
			detail = append(detail, sum, "In detail: "+det)
		}
	}
	if len(detail) == 0 && len(s.Finding) > 80 {
		detail = append(detail, s.Finding)
	}
	if len(s.Capabilities) > 0 && !strings.Contains(s.Finding, "capabilities:") {
		detail = append(detail, "Capabilities: "+strings.Join(s.Capabilities, ", "))
	}
	if c := s.Cert; c != nil {
		detail = append(detail, certText(c))
		left := c.DaysLeft(time.Now())
		if left >= 0 {
			it.Summary = fmt.Sprintf("%s — certificate valid %d more days", it.Summary, left)
		}
	}
	it.Detail = strings.Join(detail, "\n")
	if !s.Hint.Empty() && s.Status != diagnose.StatusPass {
		it.Extra = v.hintBox(s.Hint)
	}
	return it
}

func certText(c *CertInfo) string {
	trust := "not verified by a trusted authority"
	switch {
	case c.Pinned:
		trust = "trusted only because its fingerprint is pinned"
	case c.Verified:
		trust = "verified by a trusted authority"
	}
	return fmt.Sprintf("Certificate for %s (names: %s), issued by %s, valid %s to %s (%d days left), %s.\nSHA-256 fingerprint: %s",
		c.Subject, strings.Join(c.Names, ", "), c.Issuer, c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"),
		c.DaysLeft(time.Now()), trust, fingerprint(c.SHA256))
}

// fingerprint writes a hex SHA-256 in colon-separated pairs, as
// certificate viewers show it.
func fingerprint(hex string) string {
	var b strings.Builder
	for i := 0; i+1 < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex[i : i+2]))
	}
	return b.String()
}

// hintBox shows a hint's text and a button per fix (and its link).
func (v *WizardView) hintBox(h hint.Hint) fyne.CanvasObject {
	box := container.NewVBox()
	if h.Text != "" {
		l := wrapped(h.Text)
		box.Add(l)
	}
	var buttons []fyne.CanvasObject
	for i, f := range h.Fixes {
		b := widget.NewButton(fixLabel(f), func() { v.applyFix(f) })
		if i == 0 {
			b.Importance = widget.HighImportance
		}
		buttons = append(buttons, b)
	}
	if h.Link != "" {
		link := h.Link
		buttons = append(buttons, widget.NewButtonWithIcon("Open the provider's page", theme.ComputerIcon(), func() { v.openLink(link) }))
	}
	if len(buttons) > 0 {
		box.Add(container.NewGridWrap(fyne.NewSize(260, 36), buttons...))
	}
	return box
}

func fixLabel(f hint.Fix) string {
	if f.Label != "" {
		return f.Label
	}
	return string(f.Setting)
}

func (v *WizardView) openLink(s string) {
	u, err := url.Parse(s)
	if err != nil {
		return
	}
	open := v.OpenURL
	if open == nil {
		if a := fyne.CurrentApp(); a != nil {
			open = a.OpenURL
		}
	}
	if open != nil {
		if err := open(u); err != nil {
			v.ProbeStatus.SetText("Could not open " + s + ": " + err.Error())
		}
	}
}

// applyFix carries out a fix button: actions the wizard does itself, or a
// setting the core changes in the target, then the probe runs again.
func (v *WizardView) applyFix(f hint.Fix) {
	switch f.Setting {
	case hint.Discover:
		if v.checkEmail() {
			v.startDiscovery()
		} else {
			v.show(StageAddress)
		}
		return
	case hint.Retry:
		v.startProbe()
		return
	case hint.CheckDomain:
		v.startDeliverability()
		return
	case hint.Password:
		v.askPassword(f)
		return
	case hint.PinCertificate:
		v.confirmPin(f)
		return
	case hint.OAuthSignIn:
		v.signInAgain()
		return
	}
	v.fixAndRetest(f)
}

func (v *WizardView) fixAndRetest(f hint.Fix) {
	t, err := v.core.ApplyFix(v.target, f)
	if err != nil {
		v.ProbeStatus.SetText("Could not apply “" + fixLabel(f) + "”: " + err.Error())
		return
	}
	v.target = t
	v.startProbe()
}

func (v *WizardView) askPassword(f hint.Fix) {
	w := v.window()
	pw := widgets.NewSecretEntry()
	done := func(ok bool) {
		if ok && pw.Text != "" {
			f.Value = pw.Text
			v.Password.SetText(pw.Text)
			v.fixAndRetest(f)
		}
	}
	if w == nil {
		return
	}
	items := []*widget.FormItem{widget.NewFormItem("Password", pw)}
	d := dialog.NewForm(fixLabel(f), "Test with it", "Cancel", items, done, w)
	d.Resize(fyne.NewSize(420, 160))
	d.Show()
	w.Canvas().Focus(pw)
}

func (v *WizardView) confirmPin(f hint.Fix) {
	fp := firstNonEmpty(f.Value, v.target.Profile.PinnedSHA256)
	if v.report != nil {
		fp = firstNonEmpty(f.Value, v.report.CertificateSHA256)
	}
	f.Value = fp
	w := v.window()
	if w == nil || fp == "" {
		return
	}
	msg := wrapped("Trust this one certificate for this profile only if it is your own server and you have checked its fingerprint on the server itself (openssl x509 -noout -fingerprint -sha256 -in CERT). The connection is then never shown as fully secure, and the pin breaks when the certificate changes.")
	fpl := widget.NewLabelWithStyle(fingerprint(fp), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	fpl.Wrapping = fyne.TextWrapBreak
	d := dialog.NewCustomConfirm("Trust this certificate?", "Trust it", "Cancel", container.NewVBox(msg, widget.NewLabel("SHA-256 fingerprint:"), fpl), func(ok bool) {
		if ok {
			v.fixAndRetest(f)
		}
	}, w)
	d.Resize(fyne.NewSize(560, 300))
	d.Show()
}

// finishProbe completes the checklist: steps not reached show as cancelled
// or not run, and what changed since the last run of the same target.
func (v *WizardView) finishProbe(t ProbeTarget, rep *WizardReport, cancelled bool) {
	if rep == nil {
		rep = &WizardReport{Target: t.Server()}
	}
	rep.Cancelled = rep.Cancelled || cancelled
	got := map[string]bool{}
	for _, s := range rep.Steps {
		got[s.Name] = true
		if it, ok := v.Steps.Item(s.Name); !ok || it.State == widgets.StatePending || it.State == widgets.StateRunning {
			v.applyStep(s) // a core without live steps delivers them here
		}
	}
	failed := ""
	for _, s := range rep.Steps {
		if s.Status == diagnose.StatusFail && failed == "" {
			failed = s.Name
		}
	}
	for _, k := range v.Steps.Keys() {
		it, _ := v.Steps.Item(k)
		if got[k] || (it.State != widgets.StatePending && it.State != widgets.StateRunning) {
			continue
		}
		if rep.Cancelled {
			it.State, it.Summary = widgets.StateCancelled, "cancelled before this step finished"
		} else {
			it.State, it.Summary = widgets.StateNotRun, "not reached"
		}
		v.Steps.Set(it)
	}
	v.report = rep
	switch {
	case rep.Cancelled:
		v.ProbeStatus.SetText("Cancelled. Test again when you are ready.")
		return
	case failed != "":
		v.ProbeStatus.SetText("Failed at " + stepTitle(failed) + ". The hint under it says what to change; a button applies the fix and tests again.")
	case rep.OK:
		v.ProbeStatus.SetText("All steps passed: this server accepts mail from you. Next, check that your domain's mail will be trusted.")
	default:
		v.ProbeStatus.SetText("Finished.")
	}
	key := t.Key()
	if prev := v.last[key]; prev != nil {
		v.showChanges(prev, rep)
	}
	v.last[key] = rep
	if v.OnTested != nil {
		v.OnTested(t, rep)
	}
}

// showChanges notes on each step how it changed since prev, and sums it up.
func (v *WizardView) showChanges(prev, cur *WizardReport) {
	was := map[string]diagnose.Status{}
	for _, s := range prev.Steps {
		was[s.Name] = s.Status
	}
	var changes []string
	for _, s := range cur.Steps {
		p, ok := was[s.Name]
		if !ok || p == s.Status {
			continue
		}
		changes = append(changes, fmt.Sprintf("%s: %s → %s", stepTitle(s.Name), stateOf(p).Word(), stateOf(s.Status).Word()))
		if it, ok := v.Steps.Item(s.Name); ok {
			it.Note = "was " + stateOf(p).Word()
			v.Steps.Set(it)
		}
	}
	when := ""
	if !prev.Finished.IsZero() {
		when = " (" + prev.Finished.Format("15:04:05") + ")"
	}
	if len(changes) == 0 {
		v.Changes.SetText("Same result as the last run" + when + ".")
	} else {
		v.Changes.SetText("Since the last run" + when + ": " + strings.Join(changes, "; ") + ".")
	}
	v.Changes.Show()
}

// --- stage 4: deliverability ---

var checkTitles = map[string]string{
	"mx": "MX (receiving servers)", "spf": "SPF", "dkim": "DKIM", "dmarc": "DMARC", "rdns": "Reverse DNS",
	"dnsbl": "Blocklists", "mta-sts": "MTA-STS", "tls-rpt": "TLS reporting", "domain": "Domain",
}

func (v *WizardView) startDeliverability() {
	t, rep := v.target, v.report
	domain := ""
	if i := strings.LastIndexByte(t.Profile.FromAddress, '@'); i >= 0 {
		domain = t.Profile.FromAddress[i+1:]
	}
	v.Findings.Clear()
	v.DomainLabel.SetText("Checking " + firstNonEmpty(domain, "the sender's domain") + "…")
	v.show(StageDomain)
	ctx, gen := v.begin()
	v.updateNav()
	n := 0
	go func() {
		fs := v.core.Deliverability(ctx, t, rep, func(f WizardFinding) {
			v.post(gen, func() { v.Findings.Set(v.findingItem(fmt.Sprintf("%s#%d", f.Check, n), f)); n++ })
		})
		cancelled := ctx.Err() != nil
		v.post(gen, func() {
			defer v.end(gen)
			if n == 0 { // a core without live findings delivers them here
				for i, f := range fs {
					v.Findings.Set(v.findingItem(fmt.Sprintf("%s#%d", f.Check, i), f))
				}
			}
			v.DomainLabel.SetText(domainSummary(domain, fs, cancelled))
		})
	}()
}

func (v *WizardView) findingItem(key string, f WizardFinding) widgets.Item {
	it := widgets.Item{Key: key, Title: firstNonEmpty(checkTitles[f.Check], f.Check), State: stateOf(f.Status), Summary: f.Finding, Lines: f.Records}
	if f.Status != diagnose.StatusPass {
		if sum, det := plainFinding(f.Finding); det != "" {
			it.Summary = sum
		}
	}
	if len(f.Finding) > 80 || it.Summary != f.Finding {
		it.Detail = f.Finding
	}
	if !f.Hint.Empty() {
		it.Extra = v.hintBox(f.Hint)
	}
	return it
}

func domainSummary(domain string, fs []WizardFinding, cancelled bool) string {
	if cancelled {
		return "Cancelled. The checks that finished are shown."
	}
	var pass, warn, fail int
	allNet, kind := len(fs) > 0, ""
	for _, f := range fs {
		switch f.Status {
		case diagnose.StatusPass:
			pass++
		case diagnose.StatusWarn:
			warn++
		case diagnose.StatusFail:
			fail++
		}
		k := netProblem(f.Finding)
		if k != netNoDNS && k != netOffline && k != netTimeout {
			allNet = false
		} else if kind == "" {
			kind = k
		}
	}
	if allNet {
		return plainWords(kind)
	}
	return fmt.Sprintf("%s: %d passed, %d warnings, %d failed. Open a row for its explanation.", firstNonEmpty(domain, "The sender's domain"), pass, warn, fail)
}

// --- stage 5: save ---

func (v *WizardView) fillSave() {
	t := v.target
	name := t.Profile.Name
	if name == "" {
		name = t.Profile.FromAddress
	}
	if v.SaveName.Text == "" || v.tested != nil {
		v.SaveName.SetText(name)
	}
	if v.FromName.Text == "" {
		v.FromName.SetText(t.Profile.FromName)
	}
	verb := "Save a new profile"
	if v.tested != nil {
		verb = "Update profile " + v.tested.Name
		v.SaveButton.SetText("Update profile")
	} else {
		v.SaveButton.SetText("Save profile")
	}
	pw := "no password"
	switch {
	case t.Profile.Auth == account.AuthOAuth2:
		pw = "signs in as " + t.Profile.Username + " with OAuth2 (the sign-in kept in the system keychain)"
	case t.Profile.Auth == transport.AuthNone || (t.Password == "" && t.Profile.Username == ""):
		pw = "no sign-in"
	case t.Password != "":
		pw = "signs in as " + t.Profile.Username + " with the password you typed (stored in the system keychain)"
	case v.tested != nil:
		pw = "signs in as " + t.Profile.Username + " with the stored password"
	}
	s := fmt.Sprintf("%s: sender %s, server %s:%d with %s, %s.", verb, t.Profile.FromAddress, t.Profile.Host, t.Profile.Port, tlsWord(t.Profile.TLS), pw)
	if t.Profile.PinnedSHA256 != "" {
		s += " Pinned certificate " + fingerprint(t.Profile.PinnedSHA256) + "."
	}
	v.SaveSummary.SetText(s)
}

func (v *WizardView) save() {
	t := v.target
	t.Profile.Name = strings.TrimSpace(v.SaveName.Text)
	t.Profile.FromName = strings.TrimSpace(v.FromName.Text)
	if t.Profile.Name == "" {
		v.SaveStatus.SetText("Give the profile a name.")
		return
	}
	if t.Password == "" && v.tested == nil && t.Profile.Username != "" {
		// Nothing to sign in with: save without a user name, so sending does
		// not ask the keychain for a password that is not there.
		t.Profile.Username = ""
	}
	v.SaveStatus.SetText("Saving…")
	ctx, gen := v.begin()
	go func() {
		p, err := v.core.SaveProfile(ctx, t)
		v.post(gen, func() {
			defer v.end(gen)
			if err != nil {
				v.SaveStatus.SetText("Not saved: " + err.Error())
				var fe *account.FieldError
				if errors.As(err, &fe) && fe.Field == "name" {
					v.SaveStatus.SetText("Not saved: the profile name " + fe.Msg + ".")
				}
				return
			}
			v.target.Profile = *p
			v.tested = p
			v.SaveStatus.SetText("Saved profile " + p.Name + ". Compose can send with it now.")
			if v.OnSaved != nil {
				v.OnSaved(p)
			}
		})
	}()
}

var _ View = (*WizardView)(nil)
