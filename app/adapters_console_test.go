package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

func consoleOver(t *testing.T, c *core.Core) (*ui.Console, chan func()) {
	t.Helper()
	a := test.NewTempApp(t)
	q := make(chan func(), 4096)
	s := BuildShell(a, NewGUICore(c), func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	s.Start(context.Background())
	if err := s.Open("console", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Views() {
		if v, ok := v.(*ui.Console); ok {
			return v, q
		}
	}
	t.Fatal("no console view")
	return nil, nil
}

// A whole session typed into the window reaches the real sandbox (which
// requires AUTH); the password typed in the (here: answered) dialog is
// never shown.
func TestConsoleSessionThroughTheSandbox(t *testing.T) {
	ctx := context.Background()
	c, err := core.Open(ctx, t.TempDir(), core.Options{Secrets: newMemSecrets(),
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone, AuthUser: "u", AuthPass: "pw-Console-42"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v, q := consoleOver(t, c)
	asked := 0
	v.AskPassword = func(prompt string, answer func(string, bool)) {
		asked++
		answer("pw-Console-42", true)
	}
	pump(t, q, "the profiles", func() bool { return len(v.Profile.Options) == 1 })
	v.Host.SetText(c.Sandbox().Addr())
	v.TLS.SetSelected(v.TLS.Options[2]) // none
	v.User.SetText("u")
	v.AllowInsecure.SetChecked(true)
	test.Tap(v.ConnectButton)
	pump(t, q, "the session", func() bool { return !v.Command.Disabled() || strings.HasPrefix(v.Status.Text, "Not connected") })
	if v.Command.Disabled() {
		t.Fatal(v.Status.Text)
	}
	for _, l := range []string{"ehlo", "auth plain", "MAIL FROM:<ann@herald.test>", "RCPT TO:<bob@herald.test>", "data",
		"Subject: typed in the console", "", "Hello from the window.", ".", "quit"} {
		v.Command.SetText(l)
		v.Submit()
	}
	pump(t, q, "the session to end", func() bool { return v.ConnectButton.Text == "Connect" })
	text := v.SessionText()
	for _, want := range []string{"235", "C  AUTH PLAIN [redacted]", "S  354", "[message: ", "S  221"} {
		if !strings.Contains(text, want) {
			t.Errorf("session lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "pw-Console-42") || asked != 1 {
		t.Fatalf("asked %d times; session:\n%s", asked, text)
	}
	msgs, err := c.Store.ListSandboxMessages(ctx, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Subject != "typed in the console" {
		t.Fatalf("sandbox holds %+v (%v)", msgs, err)
	}
}

// With a profile, the session takes the profile's server and its stored
// password, without asking.
func TestConsoleProfileUsesTheKeychainPassword(t *testing.T) {
	ctx := context.Background()
	c, err := core.Open(ctx, t.TempDir(), core.Options{Secrets: newMemSecrets(),
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone, AuthUser: "u", AuthPass: "pw-Stored-7"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cfg := c.SandboxConfig()
	p := &account.Profile{Name: "sb", Server: account.Server{Host: cfg.Host, Port: cfg.Port, TLS: transport.TLSNone}, Auth: transport.AuthPlain,
		Username: "u", FromAddress: "ann@herald.test", AllowInsecureAuth: true}
	if err := c.AddProfile(ctx, p, map[account.SecretKind]string{account.SecretPassword: "pw-Stored-7"}); err != nil {
		t.Fatal(err)
	}
	v, q := consoleOver(t, c)
	v.AskPassword = func(string, func(string, bool)) { t.Error("asked for a stored password") }
	pump(t, q, "the profiles", func() bool { return len(v.Profile.Options) == 2 })
	v.Profile.SetSelected("sb")
	test.Tap(v.ConnectButton)
	pump(t, q, "the session", func() bool { return !v.Command.Disabled() || strings.HasPrefix(v.Status.Text, "Not connected") })
	for _, l := range []string{"ehlo", "auth plain", "quit"} {
		v.Command.SetText(l)
		v.Submit()
	}
	pump(t, q, "the session to end", func() bool { return v.ConnectButton.Text == "Connect" })
	if text := v.SessionText(); !strings.Contains(text, "S  235") || strings.Contains(text, "pw-Stored-7") {
		t.Fatalf("session:\n%s", text)
	}
}

func TestConsoleConnectFailureIsWorded(t *testing.T) {
	c := openTestCore(t, newMemSecrets())
	a := NewConsoleAdapter(c)
	_, err := a.OpenConsole(context.Background(), ui.ConsoleTarget{Host: "127.0.0.1", Port: 1, TLS: "none"}, nil, nil)
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if msg := a.ConsoleError(err, nil); !strings.Contains(msg, "127.0.0.1:1") {
		t.Fatalf("message %q", msg)
	}
}

// A console session's lines reach the feed (the live log) as they happen,
// under one "console-" session id and the profile's id, and the password
// typed into the auth helper never does, in any of its forms.
func TestConsoleSessionReachesTheLiveLog(t *testing.T) {
	ctx := context.Background()
	const pw = "pw-Typed-Console-9"
	c, err := core.Open(ctx, t.TempDir(), core.Options{Secrets: newMemSecrets(),
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone, AuthUser: "u", AuthPass: pw}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cfg := c.SandboxConfig()
	// A profile without a stored password: the helper asks for it.
	p := &account.Profile{Name: "sb", Server: account.Server{Host: cfg.Host, Port: cfg.Port, TLS: transport.TLSNone}, Auth: transport.AuthPlain,
		Username: "u", FromAddress: "ann@herald.test", AllowInsecureAuth: true, Secret: account.SecretAsk}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	live := (&GUICore{c: c}).LiveLog().Lines()
	defer live.Close()
	a := NewConsoleAdapter(c)
	for _, tc := range []struct {
		target ui.ConsoleTarget
		auth   string
	}{
		{ui.ConsoleTarget{Host: cfg.Host, Port: cfg.Port, TLS: "none", User: "u", AllowInsecureAuth: true}, "plain"},
		{ui.ConsoleTarget{Host: cfg.Host, Port: cfg.Port, TLS: "none", User: "u", AllowInsecureAuth: true}, "login"},
		{ui.ConsoleTarget{Host: cfg.Host, Port: cfg.Port, TLS: "none", User: "u", AllowInsecureAuth: true}, "cram-md5"},
		{ui.ConsoleTarget{Profile: p.Name, Host: cfg.Host, Port: cfg.Port, User: "u", AllowInsecureAuth: true}, "plain"},
	} {
		target := tc.target
		rec := transcript.New()
		asked := 0
		s, err := a.OpenConsole(ctx, target, rec, func(string) (string, error) { asked++; return pw, nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"ehlo", "auth " + tc.auth, "quit"} {
			if _, err := s.Do(ctx, l); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
		rec.Finish()
		if asked != 1 {
			t.Fatalf("asked %d times for the password", asked)
		}
		var lines []string
		session := ""
		deadline := time.After(5 * time.Second)
		for len(lines) < len(rec.Events()) {
			select {
			case e := <-live.C():
				if session == "" {
					session = e.Session
				}
				if e.Session != session || e.Line == nil {
					t.Fatalf("event %+v in session %q", e, session)
				}
				if want := map[string]string{"": "", p.Name: p.ID}[target.Profile]; e.Profile != want {
					t.Fatalf("line %q under profile %q, want %q", e.Line.Text, e.Profile, want)
				}
				lines = append(lines, e.Line.String())
			case <-deadline:
				t.Fatalf("the live log got %d of %d lines: %q", len(lines), len(rec.Events()), lines)
			}
		}
		text := strings.Join(lines, "\n")
		if !strings.HasPrefix(session, "console-") || !strings.Contains(text, "AUTH "+strings.ToUpper(tc.auth)) || !strings.Contains(text, "235") {
			t.Fatalf("session %q:\n%s", session, text)
		}
		forms := append(transcript.SecretForms(pw), transcript.PayloadForms([]byte("\x00u\x00"+pw))...)
		if tc.auth == "plain" && !strings.Contains(text, "AUTH PLAIN [redacted]") {
			t.Fatalf("PLAIN's payload is not redacted:\n%s", text)
		}
		for _, f := range forms {
			if len(f) >= transcript.MinAnywhere && strings.Contains(text, f) {
				t.Fatalf("the live log holds %q:\n%s", f, text)
			}
		}
	}
}
