package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeSandbox implements SandboxCore in memory.
type fakeSandbox struct {
	mu       sync.Mutex
	items    []InboxItem // newest first
	details  map[int64]*SandboxDetail
	running  bool
	form     SandboxForm
	applied  []SandboxForm
	pageReqs int
	updates  chan struct{}
	// detailFn, when set, answers SandboxDetail (under mu).
	detailFn func(id int64) *SandboxDetail
}

func newFakeSandbox(n int) *fakeSandbox {
	f := &fakeSandbox{details: map[int64]*SandboxDetail{}, running: true, updates: make(chan struct{}, 8)}
	for i := n; i >= 1; i-- {
		f.items = append(f.items, InboxItem{ID: int64(i), Received: time.Now(), From: "a@example.com", To: []string{"b@example.net"}, Subject: fmt.Sprintf("message %d", i)})
	}
	return f
}

func (f *fakeSandbox) match(q string) []InboxItem {
	var out []InboxItem
	for _, it := range f.items {
		if q == "" || strings.Contains(strings.ToLower(it.Subject+it.From), strings.ToLower(q)) {
			out = append(out, it)
		}
	}
	return out
}

func (f *fakeSandbox) SandboxPage(_ context.Context, q string, off, lim int) ([]InboxItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageReqs++
	m := f.match(q)
	if off >= len(m) {
		return nil, nil
	}
	return append([]InboxItem(nil), m[off:min(len(m), off+lim)]...), nil
}

func (f *fakeSandbox) SandboxCount(_ context.Context, q string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.match(q)), nil
}

func (f *fakeSandbox) SandboxDetail(_ context.Context, id int64) (*SandboxDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.detailFn != nil {
		return f.detailFn(id), nil
	}
	if d, ok := f.details[id]; ok {
		return d, nil
	}
	return &SandboxDetail{ID: id, Envelope: fmt.Sprintf("Message %d", id), Headers: [][2]string{{"Subject", fmt.Sprintf("message %d", id)}},
		Text: "hello", HasText: true, HTML: "Hi there [link: https://x.test/]", HasHTML: true, Raw: []byte("Subject: x\r\n\r\nhello\r\n"),
		Transcript: []string{"S: 220 ready", "C: EHLO x"},
		Parts:      []SandboxPart{{Name: "r.pdf", Type: "application/pdf", Data: []byte("%PDF")}},
		Checks: []SandboxCheck{{Name: "dkim", Status: "pass", Text: "DKIM signature of example.com verified"},
			{Name: "headers", Status: "fail", Text: "no Date header"}, {Name: "spf", Status: "skipped", Text: "offline"}}}, nil
}

func (f *fakeSandbox) DeleteSandboxMessage(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, it := range f.items {
		if it.ID == id {
			f.items = append(f.items[:i], f.items[i+1:]...)
			return nil
		}
	}
	return errors.New("not found")
}

func (f *fakeSandbox) ClearSandbox(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = nil
	return nil
}

func (f *fakeSandbox) SandboxUpdates() (<-chan struct{}, func()) { return f.updates, func() {} }

func (f *fakeSandbox) SandboxStatus() SandboxStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		return SandboxStatus{Summary: "Start it."}
	}
	return SandboxStatus{Running: true, Addr: "127.0.0.1:2525", Summary: "no TLS · no AUTH (none offered)"}
}

func (f *fakeSandbox) SandboxSettings(context.Context) (SandboxForm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.form, nil
}

func (f *fakeSandbox) ApplySandbox(_ context.Context, s SandboxForm) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Contains(s.Faults, "999") {
		return errors.New("code 999 is not a 4xx or 5xx reply code")
	}
	f.applied = append(f.applied, s)
	f.form, f.running = s, !s.Stopped
	return nil
}

func (f *fakeSandbox) DescribeFaults(spec string) ([]string, error) {
	if strings.Contains(spec, "999") {
		return nil, errors.New("code 999 is not a 4xx or 5xx reply code")
	}
	if spec == "" {
		return nil, nil
	}
	return []string{spec + ": refuses each recipient"}, nil
}

func (f *fakeSandbox) FaultExamples() [][2]string {
	return [][2]string{{"rcpt:550", "Every recipient unknown"}, {"delay:2s", "Slow server"}}
}

// sandboxRig is a shell with the Sandbox view over a fake.
type sandboxRig struct {
	*rig
	fake *fakeSandbox
	view *Sandbox
}

func newSandboxRig(t *testing.T, n int) *sandboxRig {
	r := &rig{t: t, core: newFakeCore(), q: make(chan func(), 4096)}
	a := test.NewTempApp(t)
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.shell.Quit = func() {}
	fs := newFakeSandbox(n)
	v := NewSandbox(fs, do)
	v.interval = 0
	r.shell.Register(v)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	t.Cleanup(r.shell.Stop)
	r.shell.Start(context.Background())
	if err := r.shell.Open("sandbox", nil); err != nil {
		t.Fatal(err)
	}
	sr := &sandboxRig{rig: r, fake: fs, view: v}
	r.pump("the inbox", func() bool { return v.rowCount() == n })
	return sr
}

func rowText(v *Sandbox, i int) string {
	o := v.List.CreateItem()
	v.updateRow(i, o)
	return o.(*widget.Label).Text
}

func TestSandboxInboxPagesSearchesAndUpdatesLive(t *testing.T) {
	r := newSandboxRig(t, 250)
	v := r.view
	if !strings.Contains(v.CountLabel.Text, "250 messages captured") {
		t.Fatalf("count %q", v.CountLabel.Text)
	}
	if got := rowText(v, 0); !strings.Contains(got, "message 250") {
		t.Fatalf("first row %q: not newest first", got)
	}
	// Row 240 is on the third page: it loads when shown, not before.
	r.fake.mu.Lock()
	before := r.fake.pageReqs
	r.fake.mu.Unlock()
	if got := rowText(v, 240); got != "…" {
		t.Fatalf("row of an unloaded page %q", got)
	}
	r.pump("page 3", func() bool { return rowText(v, 240) != "…" })
	if got := rowText(v, 240); !strings.Contains(got, "message 10") {
		t.Fatalf("row 240 %q", got)
	}
	r.fake.mu.Lock()
	if r.fake.pageReqs != before+1 {
		t.Errorf("%d page reads for one page", r.fake.pageReqs-before)
	}
	r.fake.mu.Unlock()

	test.Type(v.Search, "message 12")
	r.pump("the search", func() bool { return strings.Contains(v.CountLabel.Text, "match") && v.rowCount() == 11 })

	test.Type(v.Search, "")
	v.Search.SetText("")
	r.pump("all again", func() bool { return v.rowCount() == 250 })
	// A capture elsewhere shows at the top.
	r.fake.mu.Lock()
	r.fake.items = append([]InboxItem{{ID: 251, Received: time.Now(), From: "new@example.com", Subject: "just captured"}}, r.fake.items...)
	r.fake.mu.Unlock()
	r.fake.updates <- struct{}{}
	r.pump("the live update", func() bool { return v.rowCount() == 251 && strings.Contains(rowText(v, 0), "just captured") })
}

func TestSandboxMessageShowsChecksPartsAndDeletes(t *testing.T) {
	r := newSandboxRig(t, 3)
	v := r.view
	v.List.Select(0)
	r.pump("the message", func() bool { return v.Detail != nil })
	if len(v.ChecksBox.Objects) != 3 {
		t.Fatalf("%d check rows", len(v.ChecksBox.Objects))
	}
	var words []string
	for _, o := range v.ChecksBox.Objects {
		head := o.(*fyne.Container).Objects[0].(*fyne.Container).Objects[0].(*widget.Label).Text
		words = append(words, head)
	}
	if strings.Join(words, "|") != "DKIM · Pass|Headers · Fail|SPF · Not checked" {
		t.Fatalf("check words %q", words)
	}
	if v.HTMLLines.Len() != 1 || !strings.Contains(v.HTMLLines.Row(0), "[link: https://x.test/]") || v.Session.Len() != 2 || v.Source.Len() != 3 {
		t.Fatalf("html %d, session %d, source %d rows", v.HTMLLines.Len(), v.Session.Len(), v.Source.Len())
	}
	if len(v.PartsBox.Objects) != 1 {
		t.Fatalf("parts %d", len(v.PartsBox.Objects))
	}
	test.Tap(v.Delete)
	r.pump("the delete", func() bool { return v.Detail == nil && v.rowCount() == 2 })
	if !strings.Contains(v.Envelope.Text, "deleted") {
		t.Fatalf("after delete: %q", v.Envelope.Text)
	}
}

func TestSandboxClearAsksFirst(t *testing.T) {
	r := newSandboxRig(t, 5)
	v := r.view
	test.Tap(v.Clear)
	r.settle()
	if v.rowCount() != 5 {
		t.Fatal("cleared without asking")
	}
	// The confirmation dialog is on the window's overlay: confirm it.
	ov := r.shell.Window().Canvas().Overlays().Top()
	if ov == nil {
		t.Fatal("no confirmation shown")
	}
	yes := findButtonDeep(ov, "Yes")
	if yes == nil {
		t.Fatal("no Yes button")
	}
	test.Tap(yes)
	r.pump("the clear", func() bool { return v.rowCount() == 0 })
	if !strings.Contains(v.CountLabel.Text, "Nothing captured yet") {
		t.Fatalf("count %q", v.CountLabel.Text)
	}
}

func findButtonDeep(o fyne.CanvasObject, text string) *widget.Button {
	if b, ok := o.(*widget.Button); ok && b.Text == text {
		return b
	}
	var kids []fyne.CanvasObject
	switch w := o.(type) {
	case *fyne.Container:
		kids = w.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(w).Objects()
	}
	for _, k := range kids {
		if b := findButtonDeep(k, text); b != nil {
			return b
		}
	}
	return nil
}

func TestSandboxSettingsFormAndStartStop(t *testing.T) {
	r := newSandboxRig(t, 0)
	v := r.view
	if !strings.HasPrefix(v.StatusLabel.Text, "Running on 127.0.0.1:2525") || v.StartStop.Text != "Stop" {
		t.Fatalf("status %q / %q", v.StatusLabel.Text, v.StartStop.Text)
	}
	test.Tap(v.StartStop)
	r.pump("stopped", func() bool { return v.StartStop.Text == "Start" })
	if !strings.HasPrefix(v.StatusLabel.Text, "Stopped") {
		t.Fatalf("status %q", v.StatusLabel.Text)
	}
	test.Tap(v.StartStop)
	r.pump("started", func() bool { return v.StartStop.Text == "Stop" })

	test.Tap(v.Settings)
	r.pump("the form", func() bool { return v.SettingsForm() != nil })
	f := v.SettingsForm()
	if !f.AuthUser.Disabled() {
		t.Fatal("user field enabled without required AUTH")
	}
	f.Examples.SetSelected(f.Examples.Options[0])
	if f.Faults.Text != "rcpt:550" || !strings.Contains(f.Effect.Text, "refuses each recipient") {
		t.Fatalf("faults %q effect %q", f.Faults.Text, f.Effect.Text)
	}
	f.Faults.SetText("rcpt:999")
	if !strings.Contains(f.Effect.Text, "not a 4xx") {
		t.Fatalf("effect of a bad spec %q", f.Effect.Text)
	}
	apply := findButtonDeep(r.shell.Window().Canvas().Overlays().Top(), "Apply and restart")
	test.Tap(apply)
	r.pump("the refusal", func() bool { return f.Error.Visible() })
	f.Faults.SetText("rcpt:550")
	f.RequireAuth.SetChecked(true)
	f.AuthUser.SetText("u")
	f.AuthPass.SetText("pw")
	f.TLS.SetSelected("starttls")
	test.Tap(apply)
	r.pump("applied", func() bool {
		r.fake.mu.Lock()
		defer r.fake.mu.Unlock()
		return len(r.fake.applied) == 3
	})
	got := r.fake.applied[2]
	if got.Faults != "rcpt:550" || got.AuthUser != "u" || got.AuthPass != "pw" || got.TLS != "starttls" || got.Stopped {
		t.Fatalf("applied %+v", got)
	}
}

func TestLineViewBreaksLongLinesAndKeepsLargeTextOutOfWidgets(t *testing.T) {
	v := NewLineView()
	v.SetText("a\r\n" + strings.Repeat("x", lineCols*2+5) + "\nü\x00")
	if v.Len() != 5 || v.Row(0) != "a" || len(v.Row(1)) != lineCols || v.Row(3) != "xxxxx" || v.Row(4) != "ü␀" {
		t.Fatalf("%d rows: %q %q %q", v.Len(), v.Row(0), v.Row(3), v.Row(4))
	}
	big := strings.Repeat("line of a large message\r\n", 200000) // ~5 MB
	start := time.Now()
	v.SetText(big)
	if v.Len() != 200000 || time.Since(start) > 5*time.Second {
		t.Fatalf("%d rows in %s", v.Len(), time.Since(start))
	}
}

func TestSandboxOpensANewCaptureAndNamesItInTheTitle(t *testing.T) {
	r := newSandboxRig(t, 1)
	v := r.view
	r.fake.mu.Lock()
	r.fake.items = append([]InboxItem{{ID: 2, Received: time.Now(), From: "new@example.com", Subject: "new"}}, r.fake.items...)
	r.fake.mu.Unlock()
	r.fake.updates <- struct{}{}
	r.pump("the new capture opened", func() bool { return v.Detail != nil && v.Detail.ID == 2 })
	if got := r.shell.Window().Title(); got != "Herald — Sandbox — message 2 · DKIM pass" {
		t.Fatalf("title %q", got)
	}
}

func TestSandboxSelectionFollowsTheMessageWhenRowsMove(t *testing.T) {
	r := newSandboxRig(t, 2)
	v := r.view
	v.List.Select(0)
	r.pump("message 2", func() bool { return v.Detail != nil && v.Detail.ID == 2 })
	r.fake.mu.Lock()
	r.fake.items = append([]InboxItem{{ID: 3, Received: time.Now(), From: "new@example.com", Subject: "newer"}}, r.fake.items...)
	r.fake.mu.Unlock()
	r.fake.updates <- struct{}{}
	r.pump("the reload", func() bool { return v.rowCount() == 3 })
	r.settle()
	if v.Detail.ID != 2 {
		t.Fatalf("the shown message changed to %d", v.Detail.ID)
	}
	// Row 0 is now the new message: tapping it opens it.
	v.List.Select(0)
	r.pump("message 3", func() bool { return v.Detail.ID == 3 })
}

// TestSandboxShowsHTMLFormatted: the HTML tab shows a captured message's
// HTML formatted, with its own image and without its script or remote
// image, and as text on demand.
func TestSandboxShowsHTMLFormatted(t *testing.T) {
	r := newSandboxRig(t, 3)
	v := r.view
	doc := sampleDoc(t)
	r.fake.mu.Lock()
	r.fake.details[3] = &SandboxDetail{ID: 3, Envelope: "Message 3", HasHTML: true, HTMLDoc: doc, HTML: doc.Text(), Raw: rawHTMLMessage(t)}
	r.fake.mu.Unlock()
	v.List.Select(0)
	r.pump("the message", func() bool { return v.Detail != nil })
	r.pump("the image", func() bool { return len(factsOf(v.HTMLView).images) == 1 })
	checkSample(t, factsOf(v.HTMLView))
	if !v.HTMLView.Content().Visible() || v.HTMLLines.List.Visible() {
		t.Fatal("the HTML is not shown formatted first")
	}
	v.HTMLMode.SetSelected(htmlAsText)
	if v.HTMLView.Content().Visible() || !v.HTMLLines.List.Visible() {
		t.Fatal("As text does not show the text")
	}
	var text []string
	for i := 0; i < v.HTMLLines.Len(); i++ {
		text = append(text, v.HTMLLines.Row(i))
	}
	if all := strings.Join(text, "\n"); !strings.Contains(all, "• first") || strings.Contains(all, "zzq") {
		t.Errorf("as text:\n%s", all)
	}
	v.HTMLMode.SetSelected(htmlFormatted)
	// Another message without HTML says so.
	v.List.Select(1)
	r.pump("message 2", func() bool { return v.Detail != nil && v.Detail.ID == 2 })
	if f := factsOf(v.HTMLView); len(f.images) != 0 || strings.Contains(f.text, "Welcome") {
		t.Errorf("the last message's HTML stays: %q", f.text)
	}
}

// TestSandboxRechecksAFreshCapture: a capture whose sender's copy is not in
// the history yet (Recheck) is checked again shortly, and the new checks
// replace the old ones; once they are final, no more is asked.
func TestSandboxRechecksAFreshCapture(t *testing.T) {
	r := newSandboxRig(t, 1)
	v := r.view
	id := r.fake.items[0].ID
	calls := 0
	r.fake.mu.Lock()
	r.fake.detailFn = func(id int64) *SandboxDetail {
		calls++
		d := &SandboxDetail{ID: id, Envelope: "Message", Raw: []byte("Message-ID: <a@b>\r\n\r\nx\r\n"),
			Checks: []SandboxCheck{{Name: "sent", Status: "info", Text: "no copy in Herald's history with this Message-ID"}}, Recheck: true}
		if calls > 1 {
			d.Checks[0] = SandboxCheck{Name: "sent", Status: "pass", Text: "as sent: nothing changed on the way"}
			d.Recheck = false
		}
		return d
	}
	r.fake.mu.Unlock()
	v.OpenMessage(id)
	text := func() string {
		if len(v.ChecksBox.Objects) != 1 {
			return ""
		}
		c := v.ChecksBox.Objects[0].(*fyne.Container).Objects[0].(*fyne.Container)
		return c.Objects[1].(*widget.Label).Text
	}
	r.pump("the first checks", func() bool { return strings.HasPrefix(text(), "no copy") })
	r.pump("the second look", func() bool { return strings.HasPrefix(text(), "as sent") })
	time.Sleep(2 * recheckAfter)
	for len(r.q) > 0 {
		(<-r.q)()
	}
	r.fake.mu.Lock()
	n := calls
	r.fake.mu.Unlock()
	if n != 2 {
		t.Fatalf("the detail was read %d times, want 2", n)
	}
}
