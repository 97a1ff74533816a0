package ui

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui/widgets"
)

func composeRig(t *testing.T, ps ...account.Profile) *rig {
	t.Helper()
	r := newRig(t, ps...)
	r.shell.Start(t.Context())
	_ = r.shell.Open("compose", nil)
	r.settle()
	return r
}

// checked waits for the debounced check of the form to show.
func (r *rig) checked(what string, cond func() bool) {
	r.t.Helper()
	r.pump(what, cond)
}

func TestComposeValidatesAsYouTypeInWords(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	test.Type(c.To, "ann@example.com, bob@")
	r.checked("the problem under the form", func() bool { return c.Problems.Visible() })
	if got := c.Problems.Text; !strings.Contains(got, `To: "bob@" is not an address: it has no domain after the @`) || strings.Contains(got, "to[1]") {
		t.Fatalf("problem %q", got)
	}
	if c.Count.Text != "2 recipients" {
		t.Fatalf("count %q", c.Count.Text)
	}
	test.Type(c.To, "example.com")
	r.checked("the problem to go", func() bool { return !c.Problems.Visible() })
	test.Type(c.Cc, "x y@z")
	r.checked("the Cc problem", func() bool { return strings.HasPrefix(c.Problems.Text, "Cc: ") })
	// An empty form is not scolded while typing the subject.
	c.Cc.SetText("")
	c.To.SetText("")
	test.Type(c.Subject, "Hello")
	r.checked("the check of an empty list", func() bool { return c.Count.Text == "No recipients yet" })
	if c.Problems.Visible() {
		t.Fatalf("an empty recipient list is a problem while typing: %q", c.Problems.Text)
	}
}

func TestComposeManyProblemsShowTheFirstFew(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	var to []string
	for i := 0; i < 1000; i++ {
		to = append(to, "bad"+string(rune('a'+i%26))+"@")
	}
	c.To.SetText(strings.Join(to, ", "))
	r.checked("the problems", func() bool { return c.Problems.Visible() })
	if lines := strings.Count(c.Problems.Text, "\n") + 1; lines != maxShownProblems+1 || !strings.Contains(c.Problems.Text, "and 997 more problems") {
		t.Fatalf("problems label:\n%s", c.Problems.Text)
	}
	if c.To.Text != "" || len(c.aside[c.To].addrs) != 1000 || !c.aside[c.To].row.Visible() {
		t.Fatalf("a 1,000-address list stays in the entry (%d bytes), %d aside", len(c.To.Text), len(c.aside[c.To].addrs))
	}
	// What is typed is added to the list.
	c.aside[c.To].set(c.aside[c.To].addrs[:999])
	test.Type(c.To, "ann@example.com")
	r.checked("the count", func() bool { return c.Count.Text == "1000 recipients" })
	if got := c.Draft().To; len(got) != 1000 || got[999] != "ann@example.com" {
		t.Fatalf("draft To has %d, last %q", len(got), got[len(got)-1])
	}
	if w := r.shell.Window().Content().MinSize().Width; w > 1280 {
		t.Fatalf("1,000 bad recipients widen the window to %v", w)
	}
}

func TestComposeQueueAndSendAt(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	test.Type(c.To, "ann@example.com")
	test.Type(c.Subject, "Later")
	c.Priority.SetSelected("High")
	test.Tap(c.QueueButton)
	r.pump("the queue", func() bool { return len(r.core.queuedItems()) == 1 && !c.Busy() })
	q := r.core.queuedItems()[0]
	if !q.at.IsZero() || q.draft.Subject != "Later" || !hasHeader(q.draft.Headers, "X-Priority", "1 (Highest)") {
		t.Fatalf("queued %+v", q)
	}
	if !strings.HasPrefix(c.Status.Text, "Queued as message 1") {
		t.Fatalf("status %q", c.Status.Text)
	}

	// Send at: the picker validates the date and time and queues for then.
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local)
	p := newSendAtPicker(func() time.Time { return now }, "")
	w := test.NewWindow(pickerForm(p))
	defer w.Close()
	p.Time.SetText("25:00")
	if _, err := p.Parse(); err == nil || !strings.Contains(p.Result.Text, "not a time of day") {
		t.Fatalf("25:00 accepted: %q", p.Result.Text)
	}
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	p.Date.SetDate(&day)
	p.Time.SetText("09:00")
	if _, err := p.Parse(); err == nil || !strings.Contains(p.Result.Text, "in the past") {
		t.Fatalf("yesterday accepted: %q", p.Result.Text)
	}
	day = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p.Date.SetDate(&day)
	at, err := p.Parse()
	if err != nil || p.Value() != "2026-12-01 09:00" || at.Hour() != 9 || at.Day() != 1 {
		t.Fatalf("Parse = %v, %v (%q)", at, err, p.Value())
	}
	if !strings.HasPrefix(p.Result.Text, "Sends Tue 1 Dec 2026 at 09:00 (in 5 days)") {
		t.Fatalf("result %q", p.Result.Text)
	}
	c.run(actQueue, "", at)
	r.pump("the scheduled queue", func() bool { return len(r.core.queuedItems()) == 2 && !c.Busy() })
	if got := r.core.queuedItems()[1].at; !got.Equal(at) {
		t.Fatalf("queued for %v, want %v", got, at)
	}
}

func pickerForm(p *sendAtPicker) fyne.CanvasObject {
	return widget.NewForm(widget.NewFormItem("Date", p.Date), widget.NewFormItem("Time", p.Time), widget.NewFormItem("", p.Result))
}

func TestComposeSendsWithDSNAndHeaders(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	test.Type(c.To, "ann@example.com")
	c.Notify.SetSelected([]string{"Failure", "Delay"})
	c.Return.SetSelected("Headers only")
	c.Headers.SetText("X-Campaign: spring\nbroken line")
	r.checked("the header problem", func() bool { return strings.Contains(c.Problems.Text, "Extra headers: line 2 has no colon") })
	test.Tap(c.SendButton)
	r.pump("the refusal", func() bool { return !c.Busy() })
	if len(r.core.sends()) != 0 || !strings.HasPrefix(c.Status.Text, "Not sent: Extra headers") {
		t.Fatalf("sent with a broken header line: %q", c.Status.Text)
	}
	c.Headers.SetText("X-Campaign: spring")
	r.shortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !c.Busy() })
	s := r.core.sends()[0]
	if s.dsn == nil || strings.Join(s.dsn.Notify, ",") != "FAILURE,DELAY" || s.dsn.Return != "hdrs" || !hasHeader(s.draft.Headers, "X-Campaign", "spring") {
		t.Fatalf("sent %+v dsn %+v", s.draft.Headers, s.dsn)
	}
	if c.Log.Len() == 0 {
		t.Fatal("the live log is empty after a send")
	}
	// Never with another choice is refused in words.
	c.Notify.SetSelected([]string{"Never", "Failure"})
	test.Tap(c.SendButton)
	r.pump("the refusal", func() bool { return !c.Busy() && strings.Contains(c.Status.Text, "Delivery notifications") })
	if c.Log.Len() == 0 {
		t.Fatal("a refused send emptied the log of the last one")
	}
}

func hasHeader(hs []message.Header, name, value string) bool {
	for _, h := range hs {
		if h.Name == name && h.Value == value {
			return true
		}
	}
	return false
}

func TestComposeDraftSaveOpenDiscard(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	test.Type(c.To, "ann@example.com")
	test.Type(c.Subject, "Draft one")
	test.Type(c.Body.Entry, "Body text")
	c.Priority.SetSelected("Low")
	if !c.Dirty() {
		t.Fatal("typing does not make the form dirty")
	}
	r.shortcut(ctrlKey(fyne.KeyS))
	r.pump("the save", func() bool { return r.core.draftCount() == 1 && !c.Dirty() })
	r.pump("the drafts list", func() bool { return len(c.DraftItems) == 1 })
	if c.Tabs.Items[4].Text != "Drafts (1)" {
		t.Fatalf("tab %q", c.Tabs.Items[4].Text)
	}
	// Discard with a saved draft asks, then deletes it.
	c.Discard()
	if len(r.shell.Window().Canvas().Overlays().List()) == 0 {
		t.Fatal("Discard of a saved draft did not ask")
	}
	r.shell.Window().Canvas().Overlays().Top().Hide()
	// Open the draft again: the form is filled.
	c.NewMessage()
	if c.Subject.Text != "" {
		t.Fatalf("new message keeps %q", c.Subject.Text)
	}
	c.OpenDraft(c.DraftItems[0].ID)
	r.pump("the draft", func() bool { return c.Subject.Text == "Draft one" })
	if c.To.Text != "ann@example.com" || c.Body.Text() != "Body text" || c.Priority.Selected != "Low" || c.Dirty() {
		t.Fatalf("opened: to %q body %q prio %q dirty %v", c.To.Text, c.Body.Text(), c.Priority.Selected, c.Dirty())
	}
	// Sending a draft removes it.
	test.Tap(c.SendButton)
	r.pump("the send and the draft removal", func() bool { return len(r.core.sends()) == 1 && r.core.draftCount() == 0 && !c.Busy() })

	// Discard with unsaved text asks; confirmed, the form is empty.
	test.Type(c.Subject, " more")
	n := len(r.shell.Window().Canvas().Overlays().List())
	c.Discard()
	if len(r.shell.Window().Canvas().Overlays().List()) != n+1 {
		t.Fatal("Discard of unsaved text did not ask")
	}
	tapButton(t, r.shell.Window().Canvas().Overlays().Top(), "Yes")
	if c.Subject.Text != "" || c.Dirty() {
		t.Fatalf("after discard: subject %q", c.Subject.Text)
	}
	// An empty form is discarded without asking.
	n = len(r.shell.Window().Canvas().Overlays().List())
	c.Discard()
	if len(r.shell.Window().Canvas().Overlays().List()) != n {
		t.Fatal("Discard of an empty form asked")
	}
}

func TestComposeAttachmentsOverSizeAreRefused(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	r.core.limit = 50_000
	c.viaChanged(c.Via.Selected)
	r.settle()
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, make([]byte, 60_000), 0o600); err != nil {
		t.Fatal(err)
	}
	test.Type(c.To, "ann@example.com")
	c.Attach(path)
	if !strings.Contains(c.AttachLabel.Text, "big.bin") || !strings.Contains(c.AttachLabel.Text, "60.0 KB") {
		t.Fatalf("attachment label %q", c.AttachLabel.Text)
	}
	r.checked("the size warning", func() bool { return strings.Contains(c.SizeLabel.Text, "accepts at most 50.0 KB") })
	test.Tap(c.SendButton)
	r.pump("the refusal", func() bool { return !c.Busy() && strings.HasPrefix(c.Status.Text, "Not sent") })
	if len(r.core.sends()) != 0 || !strings.Contains(c.Status.Text, "SIZE limit") || !strings.Contains(c.Hint.Text, "Remove an attachment") {
		t.Fatalf("status %q hint %q", c.Status.Text, c.Hint.Text)
	}
	c.removeAttachment(0)
	test.Tap(c.SendButton)
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !c.Busy() })
}

func TestComposeAsksThePasswordEachTime(t *testing.T) {
	r := composeRig(t, account.Profile{Name: "ask", FromAddress: "me@ask.example", Server: account.Server{Host: "smtp.ask.example"},
		Auth: transport.AuthPlain, Username: "me", Secret: account.SecretAsk})
	c := r.compose
	r.pump("the profiles", func() bool { return contains(c.Via.Options, "ask") })
	c.Via.SetSelected("ask")
	test.Type(c.To, "ann@example.com")
	test.Tap(c.SendButton)
	top := r.shell.Window().Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no password prompt")
	}
	pw := findPassword(top)
	if pw == nil {
		t.Fatal("the prompt has no masked entry")
	}
	if !pw.CanReveal() {
		t.Fatal("the prompt's entry has no show-while-held eye")
	}
	test.Type(pw, "s3cret")
	tapButton(t, top, "Send")
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !c.Busy() })
	if s := r.core.sends()[0]; s.password != "s3cret" || s.profile != "ask" {
		t.Fatalf("sent with %+v", s)
	}
	if pw.Text != "" {
		t.Fatal("the prompt keeps the password")
	}
	// Queueing for such a profile is refused in words.
	test.Tap(c.QueueButton)
	if len(r.core.queuedItems()) != 0 || !strings.Contains(c.Status.Text, "asks for its password each time") {
		t.Fatalf("queued for an ask-each-time profile: %q", c.Status.Text)
	}
}

func TestComposeTabMovesFocusAndNeverTypesATab(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	cv := r.shell.Window().Canvas()
	cv.Focus(c.Subject)
	cv.FocusNext()
	if cv.Focused() == c.Subject {
		t.Fatal("Tab did not leave the subject")
	}
	cv.Focus(c.Body.Entry)
	test.Type(c.Body.Entry, "one\ttwo")
	c.Body.Entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyTab})
	if strings.Contains(c.Body.Text(), "\t") {
		t.Fatalf("a tab reached the body: %q", c.Body.Text())
	}
}

func TestComposeLargeBodyStaysOutOfTheEntry(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	big := strings.Repeat("A line of a long message body, seventy characters or so, and more.\n", 16000)
	c.Body.SetText(big)
	if !c.Body.Big() || c.Body.Entry.Text != "" || c.Body.Text() != big {
		t.Fatalf("big body: big=%v entry %d bytes", c.Body.Big(), len(c.Body.Entry.Text))
	}
	if !strings.Contains(c.Body.Banner.Text, "too long to edit here") {
		t.Fatalf("banner %q", c.Body.Banner.Text)
	}
	// A paste that makes the text too large is handed over whole.
	c.Body.SetText("Dear Ann,\n")
	clip := test.NewClipboard()
	clip.SetContent(big)
	c.Body.Entry.TypedShortcut(&fyne.ShortcutPaste{Clipboard: clip})
	if !c.Body.Big() || !strings.HasPrefix(c.Body.Text(), "Dear Ann,\n") && !strings.HasSuffix(c.Body.Text(), "Dear Ann,\n") {
		t.Fatalf("large paste: big=%v", c.Body.Big())
	}
	test.Type(c.To, "ann@example.com")
	test.Tap(c.SendButton)
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !c.Busy() })
	if got := len(r.core.sends()[0].draft.Text); got != len(big)+len("Dear Ann,\n") {
		t.Fatalf("sent a body of %d bytes", got)
	}
}

// TestHTMLPreviewIsSafe checks the Compose view's HTML preview (the
// conversion itself is tested in engine/message): formatted, no script,
// no remote image, a data: image of the message shown, bounded.
func TestHTMLPreviewIsSafe(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	img := base64.StdEncoding.EncodeToString(testPNG(t, 40, 20))
	c.HTML.SetText(strings.Replace(htmlSample, `cid:logo@herald`, "data:image/png;base64,"+img, 1))
	r.pump("the preview", func() bool { return c.Preview.Doc() != nil && len(factsOf(c.Preview).images) == 1 })
	checkSample(t, factsOf(c.Preview))
	// A cid: image has no part to come from in Compose: it is named, not
	// fetched.
	c.HTML.SetText(`<h2>Hi</h2><img src="cid:logo@herald" alt="logo">`)
	r.pump("the cid preview", func() bool { return strings.Contains(factsOf(c.Preview).text, "[image: logo]") })
	c.HTML.SetText(strings.Repeat("<p>many words here</p>", 5000))
	r.pump("the long preview", func() bool { return c.Preview.Doc() != nil && c.Preview.Doc().Cut })
	if d := c.Preview.Doc(); d.TextLen > maxPreview+100 {
		t.Errorf("a preview of %d bytes", d.TextLen)
	}
	if !strings.Contains(c.Preview.Info.Text, "goes on past") {
		t.Errorf("info %q", c.Preview.Info.Text)
	}
	c.HTML.SetText("")
	r.pump("the empty preview", func() bool { return c.Preview.Doc() == nil })
}

func findPassword(o fyne.CanvasObject) *widgets.SecretEntry {
	var found *widgets.SecretEntry
	walk(o, func(o fyne.CanvasObject) {
		if e, ok := o.(*widgets.SecretEntry); ok && e.Password {
			found = e
		}
	})
	return found
}

func tapButton(t *testing.T, o fyne.CanvasObject, label string) {
	t.Helper()
	var b *widget.Button
	walk(o, func(o fyne.CanvasObject) {
		if x, ok := o.(*widget.Button); ok && x.Text == label {
			b = x
		}
	})
	if b == nil {
		t.Fatalf("no %q button", label)
	}
	test.Tap(b)
}
