package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/console"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/ui/widgets"
)

// fakeConsole opens scripted sessions: each line is recorded as sent and
// answered 250, the helpers behave like engine/console's.
type fakeConsole struct {
	mu       sync.Mutex
	targets  []ConsoleTarget
	sessions []*fakeSession
	openErr  error
}

type fakeSession struct {
	mu       sync.Mutex
	rec      *transcript.Recorder
	password func(string) (string, error)
	lines    []string
	inMsg    bool
	closed   bool
	gotPW    string
}

func (f *fakeConsole) Profiles(context.Context) ([]account.Profile, error) {
	return []account.Profile{{Name: "work", Server: account.Server{Host: "smtp.work.test", Port: 465, TLS: "implicit"}, Username: "ann"}}, nil
}

func (f *fakeConsole) OpenConsole(_ context.Context, t ConsoleTarget, rec *transcript.Recorder, pw func(string) (string, error)) (ConsoleSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, t)
	if f.openErr != nil {
		rec.Info(false, "connect failed")
		return nil, f.openErr
	}
	rec.Server(false, "220 fake ESMTP")
	s := &fakeSession{rec: rec, password: pw}
	f.sessions = append(f.sessions, s)
	return s, nil
}

func (f *fakeConsole) ConsoleError(err error, rec *transcript.Recorder) string {
	return rec.Redact(err.Error()) + ". Check the server name."
}

func (f *fakeConsole) session(i int) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[i]
}

func (s *fakeSession) Do(_ context.Context, line string) (console.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res console.Result
	s.lines = append(s.lines, line)
	reply := func(code int, text string) {
		s.rec.Server(false, fmt.Sprintf("%d %s", code, text))
		res.Replies = append(res.Replies, console.Reply{Code: code, Lines: []string{fmt.Sprintf("%d %s", code, text)}})
	}
	if s.inMsg {
		if line == "." {
			s.inMsg = false
			s.rec.Client(false, ".")
			reply(250, "queued")
		}
		return res, nil
	}
	word, rest, _ := strings.Cut(line, " ")
	switch strings.ToLower(word) {
	case "auth":
		s.mu.Unlock()
		pw, err := s.password("Password for " + rest + ": ")
		s.mu.Lock()
		if err != nil {
			s.rec.Info(false, "refused: "+err.Error())
			return res, err
		}
		s.gotPW = pw
		s.rec.AddSecret(pw)
		s.rec.Client(false, "AUTH PLAIN [redacted]")
		reply(235, "ok "+pw) // a server echoing the secret: it must be redacted
	case "data":
		s.rec.Client(false, "DATA")
		reply(354, "go ahead")
		s.inMsg = true
	case "quit":
		s.rec.Client(false, "QUIT")
		reply(221, "bye")
		s.closed = true
		res.Closed = true
	default:
		s.rec.Client(false, line)
		reply(250, "ok")
	}
	res.Message = s.inMsg
	return res, nil
}

func (s *fakeSession) InMessage() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.inMsg }
func (s *fakeSession) Closed() bool    { s.mu.Lock(); defer s.mu.Unlock(); return s.closed }
func (s *fakeSession) Close() error    { s.mu.Lock(); defer s.mu.Unlock(); s.closed = true; return nil }
func (s *fakeSession) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func newConsoleRig(t *testing.T) (*rig, *fakeConsole, *Console) {
	r := newRig(t)
	f := &fakeConsole{}
	v := NewConsole(f, func(fn func()) { r.q <- fn })
	r.shell.Register(v)
	r.shell.Start(context.Background())
	if err := r.shell.Open("console", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the profiles", func() bool { return len(v.Profile.Options) == 2 })
	return r, f, v
}

func (c *Console) shown() string {
	var b strings.Builder
	for i := 0; i < c.lines.Len(); i++ {
		b.WriteString(c.lines.Line(i) + "\n")
	}
	return b.String()
}

func TestConsoleProfileFillsTheFormAndConnects(t *testing.T) {
	r, f, v := newConsoleRig(t)
	if !v.Command.Disabled() {
		t.Fatal("the command line is enabled before connecting")
	}
	v.Profile.SetSelected("work")
	if v.Host.Text != "smtp.work.test" || v.Port.Text != "465" || !strings.HasPrefix(v.TLS.Selected, "Implicit") || v.User.Text != "ann" {
		t.Fatalf("form from profile: %q %q %q %q", v.Host.Text, v.Port.Text, v.TLS.Selected, v.User.Text)
	}
	test.Tap(v.ConnectButton)
	r.pump("the session", func() bool { return !v.Command.Disabled() })
	if got := f.targets[0]; got != (ConsoleTarget{Profile: "work", Host: "smtp.work.test", Port: 465, TLS: "implicit", User: "ann"}) {
		t.Fatalf("target %+v", got)
	}
	r.pump("the banner", func() bool { return strings.Contains(v.shown(), "220 fake ESMTP") })
	if v.ConnectButton.Text != "Disconnect" || !v.Host.Disabled() {
		t.Fatal("the form is not locked while connected")
	}
}

func TestConsoleByHandValidatesAndShowsConnectErrors(t *testing.T) {
	r, f, v := newConsoleRig(t)
	r.settle()
	if r.shell.Window().Canvas().Focused() != v.Host {
		t.Fatal("the server field does not have the keyboard when the console is first shown")
	}
	test.Tap(v.ConnectButton)
	if !strings.Contains(v.Status.Text, "host name") {
		t.Fatalf("status %q", v.Status.Text)
	}
	test.Type(v.Host, "mail.test:2525")
	f.openErr = errors.New("connect to mail.test:2525: connection refused")
	v.Host.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter connects
	r.pump("the failure", func() bool { return strings.HasPrefix(v.Status.Text, "Not connected") })
	if f.targets[0].Host != "mail.test" || v.Host.Text != "mail.test" || v.Port.Text != "2525" || f.targets[0].Port != 2525 || f.targets[0].TLS != "starttls" {
		t.Fatalf("target %+v", f.targets[0])
	}
	if !strings.Contains(v.Status.Text, "refused. Check the server name") || v.ConnectButton.Disabled() {
		t.Fatalf("status %q", v.Status.Text)
	}
}

func connected(t *testing.T) (*rig, *fakeConsole, *Console) {
	r, f, v := newConsoleRig(t)
	test.Type(v.Host, "mail.test")
	test.Tap(v.ConnectButton)
	r.pump("the session", func() bool { return !v.Command.Disabled() })
	return r, f, v
}

func TestConsoleCommandsHistoryAndData(t *testing.T) {
	r, f, v := connected(t)
	s := f.session(0)
	for _, l := range []string{"EHLO me.test", "MAIL FROM:<a@b.test>"} {
		test.Type(v.Command, l)
		v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	}
	r.pump("the replies", func() bool { return strings.Count(v.shown(), "250 ok") == 2 })
	if v.Command.Text != "" {
		t.Fatalf("the command line keeps %q", v.Command.Text)
	}
	// Up and Down walk the history; Down past the newest brings back the draft.
	test.Type(v.Command, "RCPT")
	v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	if v.Command.Text != "MAIL FROM:<a@b.test>" {
		t.Fatalf("Up: %q", v.Command.Text)
	}
	v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	if v.Command.Text != "EHLO me.test" {
		t.Fatalf("Up Up Up: %q", v.Command.Text)
	}
	v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	v.Command.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	if v.Command.Text != "RCPT" {
		t.Fatalf("Down to the draft: %q", v.Command.Text)
	}
	v.Command.SetText("")

	// The data helper: the prompt changes, lines go into the message, "." ends it.
	test.Tap(helperButton(t, v, "data"))
	r.pump("the data prompt", func() bool { return v.Prompt.Text == "data>" })
	if !v.Busy() {
		t.Fatal("a message being typed does not make the window ask before quitting")
	}
	for _, l := range []string{"Subject: hi", "", "hello", "."} {
		v.Command.SetText(l)
		v.Submit()
	}
	r.pump("the end of the message", func() bool { return strings.Contains(v.shown(), "250 queued") })
	if v.Prompt.Text != "smtp>" {
		t.Fatalf("prompt %q after the message", v.Prompt.Text)
	}
	if got := s.sent(); strings.Join(got, "|") != "EHLO me.test|MAIL FROM:<a@b.test>|data|Subject: hi||hello|." {
		t.Fatalf("sent %q", got)
	}

	// quit ends the session and unlocks the form.
	test.Tap(helperButton(t, v, "quit"))
	r.pump("the end", func() bool { return v.ConnectButton.Text == "Connect" })
	if !v.Command.Disabled() || v.Host.Disabled() || !strings.HasPrefix(v.Status.Text, "Session ended") {
		t.Fatalf("after quit: status %q", v.Status.Text)
	}
}

func helperButton(t *testing.T, v *Console, label string) *widget.Button {
	for _, b := range v.Helpers {
		if b.Text == label {
			return b
		}
	}
	t.Fatalf("no helper %q", label)
	return nil
}

func TestConsoleAuthAsksInAMaskedDialogAndNeverShowsTheSecret(t *testing.T) {
	r, f, v := connected(t)
	v.Command.SetText("auth plain ann")
	v.Submit()
	// The password dialog comes up on the window with a masked entry.
	var pw *widgets.SecretEntry
	r.pump("the password dialog", func() bool {
		pw = findPasswordEntry(r.shell.Window().Canvas())
		return pw != nil
	})
	if !pw.Password {
		t.Fatal("the entry is not masked")
	}
	test.Type(pw, "s3cret-Pa55")
	// No way to show it: no eye, and Alt+F8 does nothing.
	if pw.CanReveal() || pw.Eye() != nil {
		t.Fatal("the console's secret entry can show the secret")
	}
	pw.KeyDown(&fyne.KeyEvent{Name: desktop.KeyAltLeft})
	pw.KeyDown(&fyne.KeyEvent{Name: widgets.RevealKey})
	if !pw.Password || pw.Revealed() {
		t.Fatal("Alt+F8 shows the console's secret")
	}
	pw.KeyUp(&fyne.KeyEvent{Name: widgets.RevealKey})
	pw.KeyUp(&fyne.KeyEvent{Name: desktop.KeyAltLeft})
	pressDialogButton(t, r.shell.Window().Canvas(), "Send")
	r.pump("the reply", func() bool { return strings.Contains(v.shown(), "235") })
	if f.session(0).gotPW != "s3cret-Pa55" {
		t.Fatalf("the session got %q", f.session(0).gotPW)
	}
	for what, text := range map[string]string{"the session list": v.shown(), "the copied session": v.SessionText(), "the history": strings.Join(v.Command.History(), "\n")} {
		if strings.Contains(text, "s3cret-Pa55") {
			t.Fatalf("%s shows the secret:\n%s", what, text)
		}
	}
	test.Tap(v.CopyButton)
	if got := fyne.CurrentApp().Clipboard().Content(); !strings.Contains(got, "AUTH PLAIN [redacted]") || strings.Contains(got, "s3cret") {
		t.Fatalf("clipboard:\n%s", got)
	}

	// Cancelling the dialog sends nothing.
	v.Command.SetText("auth login ann")
	v.Submit()
	r.pump("the dialog again", func() bool { return findPasswordEntry(r.shell.Window().Canvas()) != nil })
	pressDialogButton(t, r.shell.Window().Canvas(), "Cancel")
	r.pump("the refusal", func() bool { return strings.Contains(v.shown(), "refused: cancelled") })
}

// findPasswordEntry returns the masked entry of the top overlay, if any.
func findPasswordEntry(c fyne.Canvas) *widgets.SecretEntry {
	top := c.Overlays().Top()
	if top == nil {
		return nil
	}
	var found *widgets.SecretEntry
	walk(top, func(o fyne.CanvasObject) {
		if e, ok := o.(*widgets.SecretEntry); ok && e.Password && found == nil {
			found = e
		}
	})
	return found
}

func pressDialogButton(t *testing.T, c fyne.Canvas, label string) {
	t.Helper()
	var btn *widget.Button
	walk(c.Overlays().Top(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			btn = b
		}
	})
	if btn == nil {
		t.Fatalf("no %q button in the dialog", label)
	}
	test.Tap(btn)
}

func TestLineRingKeepsTheNewest(t *testing.T) {
	r := newConsoleRing(3)
	for i := 1; i <= 5; i++ {
		r.Add(fmt.Sprint(i))
	}
	if r.Len() != 3 || r.Line(0) != "3" || r.Line(2) != "5" {
		t.Fatalf("ring: %d lines, %q..%q", r.Len(), r.Line(0), r.Line(2))
	}
}

func TestConsoleDisconnectInsideAMessageDropsTheConnection(t *testing.T) {
	r, f, v := connected(t)
	test.Tap(helperButton(t, v, "data"))
	r.pump("the data prompt", func() bool { return v.Prompt.Text == "data>" })
	v.Command.SetText("half a message")
	v.Submit()
	test.Tap(v.ConnectButton) // Disconnect
	r.pump("the end", func() bool { return v.ConnectButton.Text == "Connect" })
	if !f.session(0).Closed() || v.Busy() {
		t.Fatal("the session is still open or busy")
	}
	for _, l := range f.session(0).sent() {
		if strings.EqualFold(l, "quit") {
			t.Fatal("QUIT was sent inside the message")
		}
	}
}
