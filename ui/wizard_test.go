package ui

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui/widgets"
)

// syncQueue is the tests' dispatcher: functions queue up until the test
// drains them on its own goroutine, the UI goroutine of the test driver.
type syncQueue struct {
	mu sync.Mutex
	fs []func()
}

func (q *syncQueue) do(f func()) {
	q.mu.Lock()
	q.fs = append(q.fs, f)
	q.mu.Unlock()
}

func (q *syncQueue) drain() {
	for {
		q.mu.Lock()
		fs := q.fs
		q.fs = nil
		q.mu.Unlock()
		if len(fs) == 0 {
			return
		}
		for _, f := range fs {
			f()
		}
	}
}

// waitFor drains the queue until cond holds, failing after 3 s.
func waitFor(t *testing.T, q *syncQueue, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		q.drain()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeWizardCore implements WizardCore with functions the test sets.
type fakeWizardCore struct {
	mu        sync.Mutex
	discover  func(ctx context.Context, email string, on func(WizardSource)) (*WizardDiscovery, error)
	probe     func(ctx context.Context, t ProbeTarget, on func(WizardStep)) *WizardReport
	deliv     func(ctx context.Context, t ProbeTarget, rep *WizardReport, on func(WizardFinding)) []WizardFinding
	probed    []ProbeTarget
	fixes     []hint.Fix
	saved     []ProbeTarget
	delivered []ProbeTarget
}

func (f *fakeWizardCore) Discover(ctx context.Context, email string, on func(WizardSource)) (*WizardDiscovery, error) {
	return f.discover(ctx, email, on)
}

func (f *fakeWizardCore) Probe(ctx context.Context, t ProbeTarget, on func(WizardStep)) *WizardReport {
	f.mu.Lock()
	f.probed = append(f.probed, t)
	f.mu.Unlock()
	return f.probe(ctx, t, on)
}

func (f *fakeWizardCore) Deliverability(ctx context.Context, t ProbeTarget, rep *WizardReport, on func(WizardFinding)) []WizardFinding {
	f.mu.Lock()
	f.delivered = append(f.delivered, t)
	f.mu.Unlock()
	if f.deliv == nil {
		return nil
	}
	return f.deliv(ctx, t, rep, on)
}

func (f *fakeWizardCore) ApplyFix(t ProbeTarget, fix hint.Fix) (ProbeTarget, error) {
	f.mu.Lock()
	f.fixes = append(f.fixes, fix)
	f.mu.Unlock()
	switch fix.Setting {
	case hint.TLS:
		t.Profile.TLS = transport.TLSMode(fix.Value)
		if t.Profile.TLS == transport.TLSImplicit {
			t.Profile.Port = 465
		}
	case hint.PinCertificate:
		t.Profile.PinnedSHA256 = fix.Value
	case hint.Password:
		t.Password = fix.Value
	}
	return t, nil
}

func (f *fakeWizardCore) SaveProfile(ctx context.Context, t ProbeTarget) (*account.Profile, error) {
	f.mu.Lock()
	f.saved = append(f.saved, t)
	f.mu.Unlock()
	p := t.Profile
	p.ID = "p1"
	return &p, nil
}

func (f *fakeWizardCore) probeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.probed)
}

func newTestWizard(t *testing.T, core WizardCore) (*WizardView, *syncQueue, fyne.Window) {
	t.Helper()
	test.NewTempApp(t)
	q := &syncQueue{}
	var w fyne.Window
	v := NewWizardView(core, q.do, func() fyne.Window { return w })
	v.interval = 0 // no timer: every post is one dispatch the test drains
	w = test.NewTempWindow(t, v.Content())
	w.Resize(fyne.NewSize(900, 600))
	v.Start(context.Background())
	t.Cleanup(func() { v.Stop(); q.drain() })
	return v, q, w
}

func passStep(name string) WizardStep {
	return WizardStep{Name: name, Status: diagnose.StatusPass, Finding: name + " ok", Duration: 12 * time.Millisecond, Lines: []string{"+0ms S  220 " + name}}
}

var allSteps = []string{"dns", "connect", "banner", "ehlo", "tls", "auth", "envelope"}

func state(v *WizardView, key string) widgets.State {
	it, _ := v.Steps.Item(key)
	return it.State
}

// findButton returns the button labelled text under o, or nil.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	switch x := o.(type) {
	case *widget.Button:
		if x.Text == text {
			return x
		}
	case *fyne.Container:
		for _, c := range x.Objects {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	}
	return nil
}

func profile() *account.Profile {
	return &account.Profile{ID: "id1", Name: "work", FromAddress: "me@example.com",
		Server: account.Server{Host: "smtp.example.com", Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthAuto, Username: "me@example.com"}
}

func TestWizardChecklistFillsInStepByStep(t *testing.T) {
	next := make(chan bool)
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		rep := &WizardReport{Target: pt.Server(), OK: true}
		for _, n := range allSteps {
			<-next
			s := passStep(n)
			on(s)
			rep.Steps = append(rep.Steps, s)
		}
		<-next
		return rep
	}}
	v, q, _ := newTestWizard(t, core)
	v.TestProfile(profile())
	q.drain()
	if v.Stage != StageTest || state(v, "dns") != widgets.StateRunning || state(v, "connect") != widgets.StatePending {
		t.Fatalf("before any step: stage %d, dns %s, connect %s", v.Stage, state(v, "dns"), state(v, "connect"))
	}
	if !strings.Contains(v.TargetLabel.Text, "smtp.example.com:587") {
		t.Errorf("target label %q", v.TargetLabel.Text)
	}
	for i, n := range allSteps {
		next <- true
		waitFor(t, q, n+" passed", func() bool { return state(v, n) == widgets.StatePass })
		if i+1 < len(allSteps) {
			if s := state(v, allSteps[i+1]); s != widgets.StateRunning {
				t.Fatalf("after %s, %s is %s, want running", n, allSteps[i+1], s)
			}
		}
		if it, _ := v.Steps.Item(n); it.Time != "12 ms" || len(it.Lines) != 1 {
			t.Errorf("step %s: time %q, lines %v", n, it.Time, it.Lines)
		}
	}
	if !v.NextButton.Disabled() {
		t.Error("Next enabled while the probe runs")
	}
	next <- true
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	if !strings.Contains(v.ProbeStatus.Text, "All steps passed") || v.NextButton.Disabled() || !v.CancelButton.Disabled() {
		t.Errorf("after the probe: status %q, next disabled %v, cancel disabled %v", v.ProbeStatus.Text, v.NextButton.Disabled(), v.CancelButton.Disabled())
	}
	// The step expands to its transcript.
	test.Tap(v.Steps.ExpandButton("dns"))
	if !v.Steps.Expanded("dns") {
		t.Error("dns row did not expand")
	}
}

func TestWizardCancelMidProbe(t *testing.T) {
	returned := make(chan struct{})
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		defer close(returned)
		s := passStep("dns")
		on(s)
		<-ctx.Done() // a connect that hangs until cancelled
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}}
	}}
	v, q, _ := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "dns", func() bool { return state(v, "dns") == widgets.StatePass })
	if v.CancelButton.Disabled() {
		t.Fatal("Cancel is disabled while the probe runs")
	}
	test.Tap(v.CancelButton)
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("the probe did not return after Cancel")
	}
	waitFor(t, q, "cancelled", func() bool { return v.Report() != nil })
	if !strings.Contains(v.ProbeStatus.Text, "Cancelled") || !v.Report().Cancelled {
		t.Errorf("status %q, report cancelled %v", v.ProbeStatus.Text, v.Report().Cancelled)
	}
	if s := state(v, "connect"); s != widgets.StateCancelled {
		t.Errorf("connect is %s, want cancelled", s)
	}
	if s := state(v, "dns"); s != widgets.StatePass {
		t.Errorf("dns is %s, want pass", s)
	}
	if v.RetestButton.Disabled() || !v.CancelButton.Disabled() {
		t.Error("after cancelling, Test again should be enabled and Cancel disabled")
	}
}

func TestWizardFailingStepShowsHintAndFix(t *testing.T) {
	fix := hint.Fix{Setting: hint.TLS, Value: "implicit", Label: "Use implicit TLS on port 465"}
	core := &fakeWizardCore{}
	core.probe = func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		rep := &WizardReport{Target: pt.Server()}
		for _, n := range []string{"dns", "connect"} {
			rep.Steps = append(rep.Steps, passStep(n))
			on(passStep(n))
		}
		if pt.Profile.Port == 465 {
			for _, n := range allSteps[2:] {
				rep.Steps = append(rep.Steps, passStep(n))
				on(passStep(n))
			}
			rep.OK = true
			return rep
		}
		s := WizardStep{Name: "banner", Status: diagnose.StatusFail, Finding: "no greeting: the server expects TLS first",
			Hint: hint.Hint{Text: "This port speaks TLS from the first byte.", Fixes: []hint.Fix{fix}, Link: "https://example.com/help"}}
		on(s)
		rep.Steps = append(rep.Steps, s)
		return rep
	}
	v, q, _ := newTestWizard(t, core)
	var opened string
	v.OpenURL = func(u *url.URL) error { opened = u.String(); return nil }
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	if !v.Steps.Expanded("banner") {
		t.Error("the failed step is not expanded")
	}
	if s := state(v, "ehlo"); s != widgets.StateNotRun {
		t.Errorf("ehlo after a failed banner is %s, want not-run", s)
	}
	it, _ := v.Steps.Item("banner")
	if it.Extra == nil {
		t.Fatal("no hint under the failed step")
	}
	if b := findButton(it.Extra, "Open the provider's page"); b == nil {
		t.Error("no link button")
	} else {
		test.Tap(b)
		if opened != "https://example.com/help" {
			t.Errorf("opened %q", opened)
		}
	}
	b := findButton(it.Extra, fix.Label)
	if b == nil {
		t.Fatal("no fix button")
	}
	if !strings.Contains(v.ProbeStatus.Text, "Failed at Greeting") {
		t.Errorf("status %q", v.ProbeStatus.Text)
	}
	test.Tap(b)
	waitFor(t, q, "the second probe", func() bool { return core.probeCount() == 2 && v.Report() != nil })
	if len(core.fixes) != 1 || !reflect.DeepEqual(core.fixes[0], fix) {
		t.Errorf("fixes applied: %v", core.fixes)
	}
	if got := core.probed[1].Profile; got.Port != 465 || got.TLS != transport.TLSImplicit {
		t.Errorf("second probe ran against %s:%d %s", got.Host, got.Port, got.TLS)
	}
	if !v.Report().OK || !strings.Contains(v.Changes.Text, "Greeting: Failed") {
		t.Errorf("after the fix: ok %v, changes %q", v.Report().OK, v.Changes.Text)
	}
}

func TestWizardOfflineSaysSoPlainly(t *testing.T) {
	const resolverErr = "could not look up smtp.example.com: lookup smtp.example.com on 127.0.0.53:53: server misbehaving"
	core := &fakeWizardCore{
		discover: func(ctx context.Context, email string, on func(WizardSource)) (*WizardDiscovery, error) {
			d := &WizardDiscovery{Email: email, Domain: "example.com", Best: -1}
			for _, src := range []string{"autoconfig", "srv", "mx"} {
				s := WizardSource{Source: src, Query: src + " example.com", Error: "dial udp 127.0.0.53:53: connect: network is unreachable"}
				on(s)
				d.Sources = append(d.Sources, s)
			}
			return d, nil
		},
		probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
			s := WizardStep{Name: "dns", Status: diagnose.StatusFail, Finding: resolverErr}
			on(s)
			return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}}
		},
		deliv: func(ctx context.Context, pt ProbeTarget, rep *WizardReport, on func(WizardFinding)) []WizardFinding {
			f := WizardFinding{Check: "spf", Status: diagnose.StatusSkipped, Finding: "could not look up TXT example.com: lookup example.com: i/o timeout"}
			on(f)
			return []WizardFinding{f}
		},
	}
	v, q, _ := newTestWizard(t, core)
	test.Type(v.Email, "me@example.com")
	test.Tap(v.NextButton)
	waitFor(t, q, "discovery", func() bool { return !v.running && v.Stage == StageServer })
	if !strings.Contains(v.DiscoverStatus.Text, "No network") {
		t.Errorf("discovery status %q", v.DiscoverStatus.Text)
	}
	for _, k := range v.Sources.Keys() {
		if it, _ := v.Sources.Item(k); !strings.Contains(it.Summary, "No network") || strings.Contains(it.Summary, "dial udp") {
			t.Errorf("source %s: %q", k, it.Summary)
		}
	}
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	it, _ := v.Steps.Item("dns")
	if !strings.HasPrefix(it.Summary, "No DNS") || !strings.Contains(it.Detail, "server misbehaving") {
		t.Errorf("dns step: summary %q, detail %q", it.Summary, it.Detail)
	}
	test.Tap(v.NextButton)
	waitFor(t, q, "deliverability", func() bool { return !v.running && v.Stage == StageDomain })
	if !strings.HasPrefix(v.DomainLabel.Text, "No DNS") {
		t.Errorf("domain label %q", v.DomainLabel.Text)
	}
}

func TestWizardDiscoverTestAndSave(t *testing.T) {
	core := &fakeWizardCore{
		discover: func(ctx context.Context, email string, on func(WizardSource)) (*WizardDiscovery, error) {
			on(WizardSource{Source: "preset", Query: "example.com", Found: 1})
			on(WizardSource{Source: "guess", Query: "4 ports", Found: 0})
			return &WizardDiscovery{Email: email, Domain: "example.com", Best: 1, Candidates: []WizardCandidate{
				{Host: "mail.example.com", Port: 25, TLS: transport.TLSStartTLS, Source: "mx", Rank: 2},
				{Host: "smtp.example.com", Port: 465, TLS: transport.TLSImplicit, Username: "me@example.com", Source: "preset", Provider: "Example", SetupURL: "https://example.com/app-passwords", Rank: 1, Reachable: true, Summary: "answered in 40 ms"},
			}}, nil
		},
		probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
			rep := &WizardReport{Target: pt.Server(), OK: true}
			for _, n := range allSteps {
				on(passStep(n))
				rep.Steps = append(rep.Steps, passStep(n))
			}
			return rep
		},
		deliv: func(ctx context.Context, pt ProbeTarget, rep *WizardReport, on func(WizardFinding)) []WizardFinding {
			fs := []WizardFinding{
				{Check: "spf", Status: diagnose.StatusPass, Finding: "v=spf1 include:example.com -all allows the server"},
				{Check: "dmarc", Status: diagnose.StatusWarn, Finding: "p=none", Hint: hint.Hint{Text: "Receivers take no action on failing mail."}},
			}
			for _, f := range fs {
				on(f)
			}
			return fs
		},
	}
	v, q, _ := newTestWizard(t, core)
	test.Tap(v.NextButton)
	if v.EmailError.Text == "" || v.Stage != StageAddress {
		t.Fatalf("an empty address went on (error %q)", v.EmailError.Text)
	}
	test.Type(v.Email, "me@example.com")
	test.Type(v.Password, "s3cret")
	test.Tap(v.NextButton)
	waitFor(t, q, "discovery", func() bool { return !v.running && v.Stage == StageServer })
	if n := len(v.Sources.Keys()); n != 2 {
		t.Errorf("%d sources shown, want 2", n)
	}
	if v.selected != 1 || v.Host.Text != "smtp.example.com" || v.Port.Text != "465" {
		t.Errorf("selected %d, manual form %s:%s", v.selected, v.Host.Text, v.Port.Text)
	}
	test.Tap(v.NextButton)
	waitFor(t, q, "the probe", func() bool { return v.Report() != nil && !v.running })
	pt := core.probed[0]
	if pt.Profile.Host != "smtp.example.com" || pt.Profile.Port != 465 || pt.Password != "s3cret" || pt.Profile.Username != "me@example.com" || pt.Profile.FromAddress != "me@example.com" {
		t.Errorf("probed %+v", pt)
	}
	test.Tap(v.NextButton)
	waitFor(t, q, "deliverability", func() bool { return !v.running && v.Stage == StageDomain })
	if n := len(v.Findings.Keys()); n != 2 || !strings.Contains(v.DomainLabel.Text, "1 passed, 1 warnings") {
		t.Errorf("%d findings, label %q", n, v.DomainLabel.Text)
	}
	if it, _ := v.Findings.Item("dmarc#1"); it.Extra == nil {
		t.Error("the DMARC warning has no explanation")
	}
	test.Tap(v.NextButton)
	if v.Stage != StageSave || v.SaveName.Text != "me@example.com" {
		t.Fatalf("stage %d, name %q", v.Stage, v.SaveName.Text)
	}
	v.SaveName.SetText("")
	test.Type(v.SaveName, "Personal")
	test.Tap(v.SaveButton)
	waitFor(t, q, "saved", func() bool { return strings.HasPrefix(v.SaveStatus.Text, "Saved") })
	s := core.saved[0]
	if s.Profile.Name != "Personal" || s.Profile.Host != "smtp.example.com" || s.Profile.Port != 465 || s.Profile.TLS != transport.TLSImplicit ||
		s.Profile.Username != "me@example.com" || s.Password != "s3cret" || s.Profile.FromAddress != "me@example.com" || s.SetupURL == "" {
		t.Errorf("saved %+v", s)
	}
}

func TestWizardRetestShowsWhatChanged(t *testing.T) {
	run := 0
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		run++
		rep := &WizardReport{Target: pt.Server(), Finished: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		for _, n := range allSteps {
			s := passStep(n)
			if n == "auth" && run == 1 {
				s = WizardStep{Name: "auth", Status: diagnose.StatusFail, Finding: "535 5.7.8 authentication failed"}
			}
			on(s)
			rep.Steps = append(rep.Steps, s)
			if s.Status == diagnose.StatusFail {
				return rep
			}
		}
		rep.OK = true
		return rep
	}}
	v, q, _ := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "run 1", func() bool { return v.Report() != nil && !v.running })
	if v.Changes.Visible() {
		t.Error("a first run shows changes")
	}
	test.Tap(v.RetestButton)
	waitFor(t, q, "run 2", func() bool { return v.Report() != nil && !v.running })
	if !v.Changes.Visible() || !strings.Contains(v.Changes.Text, "Sign in (AUTH): Failed → Passed") {
		t.Errorf("changes %q", v.Changes.Text)
	}
	if it, _ := v.Steps.Item("auth"); it.Note != "was Failed" {
		t.Errorf("auth note %q", it.Note)
	}
	if it, _ := v.Steps.Item("dns"); it.Note != "" {
		t.Errorf("unchanged dns has note %q", it.Note)
	}
}

func TestWizardLongTextDoesNotWidenTheWindow(t *testing.T) {
	long := strings.Repeat("250-VERYLONGCAPABILITY ", 400)
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		s := WizardStep{Name: "ehlo", Status: diagnose.StatusWarn, Finding: long, Lines: []string{long, long},
			Hint: hint.Hint{Text: long, Fixes: []hint.Fix{{Setting: hint.Retry, Label: "Try again"}}}}
		on(s)
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}}
	}}
	v, q, w := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	v.Steps.SetExpanded("ehlo", true)
	if mw := v.Content().MinSize().Width; mw > 900 {
		t.Errorf("content min width %v after a long finding", mw)
	}
	_ = w
}

func TestChecklistBoundsDetailLines(t *testing.T) {
	test.NewTempApp(t)
	c := widgets.NewChecklist()
	lines := make([]string, 500)
	for i := range lines {
		lines[i] = "line"
	}
	c.Set(widgets.Item{Key: "a", Title: "A", State: widgets.StatePass, Lines: lines})
	c.SetExpanded("a", true)
	longest := 0
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			longest = max(longest, strings.Count(x.Text, "\n")+1)
		case *fyne.Container:
			for _, ch := range x.Objects {
				walk(ch)
			}
		}
	}
	walk(container.NewStack(test.WidgetRenderer(c).Objects()...))
	if longest != widgets.MaxDetailLines+1 {
		t.Errorf("the transcript shows %d lines of 500, want %d and a note", longest, widgets.MaxDetailLines)
	}
}

func TestNetProblemWords(t *testing.T) {
	for in, want := range map[string]string{
		"lookup smtp.x on 127.0.0.53:53: server misbehaving":       netNoDNS,
		"dial tcp 1.2.3.4:587: connect: network is unreachable":    netOffline,
		"dial tcp 1.2.3.4:587: connect: connection refused":        netRefused,
		"dial tcp 1.2.3.4:25: i/o timeout":                         netTimeout,
		"the name smtp.x has no address (no A or AAAA record)":     netNotFound,
		"535 5.7.8 authentication failed":                          netOK,
		"lookup example.com on 10.0.0.1:53: dial udp: i/o timeout": netNoDNS,
	} {
		if got := netProblem(in); got != want {
			t.Errorf("netProblem(%q) = %q, want %q", in, got, want)
		}
	}
}

// walk calls f on o and everything under it, through containers and
// widgets' renderers.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, f)
		}
	}
}

func overlayButton(w fyne.Window, text string) *widget.Button {
	var found *widget.Button
	if top := w.Canvas().Overlays().Top(); top != nil {
		walk(top, func(o fyne.CanvasObject) {
			if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
				found = b
			}
		})
	}
	return found
}

func overlayText(w fyne.Window) string {
	var sb strings.Builder
	if top := w.Canvas().Overlays().Top(); top != nil {
		walk(top, func(o fyne.CanvasObject) {
			if l, ok := o.(*widget.Label); ok {
				sb.WriteString(l.Text + "\n")
			}
		})
	}
	return sb.String()
}

func TestWizardPinCertificateAfterShowingItsFingerprint(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	core := &fakeWizardCore{}
	core.probe = func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		if pt.Profile.PinnedSHA256 == fp {
			s := passStep("tls")
			on(s)
			return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}, OK: true}
		}
		s := WizardStep{Name: "tls", Status: diagnose.StatusFail, Finding: "the certificate is self-signed",
			Hint: hint.Hint{Text: "Pin it if it is your own server.", Fixes: []hint.Fix{{Setting: hint.PinCertificate, Value: fp, Label: "Trust this certificate…"}}}}
		on(s)
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}, CertificateSHA256: fp}
	}
	v, q, w := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	it, _ := v.Steps.Item("tls")
	test.Tap(findButton(it.Extra, "Trust this certificate…"))
	if core.probeCount() != 1 {
		t.Fatal("the probe ran again before the user confirmed")
	}
	if txt := overlayText(w); !strings.Contains(txt, "AB:AB:AB") {
		t.Fatalf("the dialog does not show the fingerprint: %q", txt)
	}
	b := overlayButton(w, "Trust it")
	if b == nil {
		t.Fatal("no Trust it button")
	}
	test.Tap(b)
	waitFor(t, q, "the second probe", func() bool { return core.probeCount() == 2 && v.Report() != nil && !v.running })
	if core.fixes[0].Setting != hint.PinCertificate || core.probed[1].Profile.PinnedSHA256 != fp || !v.Report().OK {
		t.Errorf("fixes %v, pinned %q, ok %v", core.fixes, core.probed[1].Profile.PinnedSHA256, v.Report().OK)
	}
}

func TestWizardStoreNewPassword(t *testing.T) {
	core := &fakeWizardCore{}
	core.probe = func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		s := WizardStep{Name: "auth", Status: diagnose.StatusFail, Finding: "535 authentication failed",
			Hint: hint.Hint{Fixes: []hint.Fix{{Setting: hint.Password, Label: "Enter a new password"}}}}
		if pt.Password == "n3w" {
			s = passStep("auth")
		}
		on(s)
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{s}, OK: s.Status == diagnose.StatusPass}
	}
	v, q, w := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	it, _ := v.Steps.Item("auth")
	test.Tap(findButton(it.Extra, "Enter a new password"))
	var pw *widgets.SecretEntry
	walk(w.Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widgets.SecretEntry); ok && e.Password {
			pw = e
		}
	})
	if pw == nil {
		t.Fatal("no password field in the dialog")
	}
	test.Type(pw, "n3w")
	test.Tap(overlayButton(w, "Test with it"))
	waitFor(t, q, "the second probe", func() bool { return core.probeCount() == 2 && v.Report() != nil && !v.running })
	if core.fixes[0].Value != "n3w" || !v.Report().OK {
		t.Errorf("fix %v, ok %v", core.fixes, v.Report().OK)
	}
	test.Tap(v.NextButton) // domain
	waitFor(t, q, "deliverability", func() bool { return !v.running })
	test.Tap(v.NextButton) // save
	test.Tap(v.SaveButton)
	waitFor(t, q, "saved", func() bool { return len(core.saved) == 1 })
	if s := core.saved[0]; s.Password != "n3w" || s.Profile.ID != "id1" {
		t.Errorf("saved password %q, id %q: want the tested profile updated with the new password", s.Password, s.Profile.ID)
	}
}

func TestWizardCoalescesBursts(t *testing.T) {
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		for range 2000 {
			on(passStep("dns"))
		}
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{passStep("dns")}}
	}}
	v, q, _ := newTestWizard(t, core)
	v.interval = 30 * time.Millisecond
	var mu sync.Mutex
	dispatches := 0
	v.do = func(f func()) {
		mu.Lock()
		dispatches++
		mu.Unlock()
		q.do(f)
	}
	v.TestProfile(profile())
	waitFor(t, q, "the report", func() bool { return v.Report() != nil })
	mu.Lock()
	defer mu.Unlock()
	if dispatches > 20 {
		t.Errorf("2,000 steps took %d dispatches to the UI goroutine", dispatches)
	}
	if state(v, "dns") != widgets.StatePass {
		t.Errorf("dns is %s", state(v, "dns"))
	}
}

func TestWizardCancelDiscovery(t *testing.T) {
	returned := make(chan struct{})
	core := &fakeWizardCore{discover: func(ctx context.Context, email string, on func(WizardSource)) (*WizardDiscovery, error) {
		defer close(returned)
		on(WizardSource{Source: "preset", Query: "example.com"})
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	v, q, _ := newTestWizard(t, core)
	test.Type(v.Email, "me@example.com")
	v.Email.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter goes on
	waitFor(t, q, "the first source", func() bool { return len(v.Sources.Keys()) == 1 })
	if v.Stage != StageServer || v.NextButton.Disabled() == false {
		t.Errorf("stage %d, next disabled %v while discovering", v.Stage, v.NextButton.Disabled())
	}
	test.Tap(v.CancelButton)
	<-returned
	waitFor(t, q, "cancelled", func() bool { return !v.running })
	if !strings.HasPrefix(v.DiscoverStatus.Text, "Cancelled") {
		t.Errorf("status %q", v.DiscoverStatus.Text)
	}
	// The server can still be entered by hand.
	test.Type(v.Host, "smtp.example.com")
	test.Type(v.Port, "587")
	v.TLS.SetSelected("starttls")
	if v.NextButton.Disabled() {
		t.Fatal("Next stays disabled with a server entered by hand")
	}
	core.probe = func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		return &WizardReport{Target: pt.Server(), OK: true}
	}
	test.Tap(v.NextButton)
	waitFor(t, q, "the probe", func() bool { return v.Report() != nil })
	if p := core.probed[0].Profile; p.Host != "smtp.example.com" || p.Port != 587 || p.TLS != transport.TLSStartTLS || p.FromAddress != "me@example.com" {
		t.Errorf("probed %+v", p.Server)
	}
}
