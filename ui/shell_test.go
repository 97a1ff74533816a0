package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/message"
)

func ctrlKey(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

func TestShellUnknownViewNamesTheViews(t *testing.T) {
	r := newRig(t)
	err := r.shell.Open("nope", nil)
	if err == nil || !strings.Contains(err.Error(), `no view is called "nope"`) || !strings.Contains(err.Error(), "accounts, compose") {
		t.Fatalf("Open(nope) = %v", err)
	}
	err = r.shell.Open("outbox", nil)
	if err == nil || !strings.Contains(err.Error(), "not built yet") || !strings.Contains(err.Error(), "accounts, compose") {
		t.Fatalf("Open(outbox) = %v", err)
	}
	if err := CheckViewName("settingz", r.shell.Views()); err == nil {
		t.Fatal("CheckViewName accepted an unknown name")
	}
	if len(ViewNames) != 10 {
		t.Fatalf("ViewNames has %d names", len(ViewNames))
	}
}

func TestShellShortcutsSwitchViews(t *testing.T) {
	r := newRig(t)
	if err := r.shell.OpenStart("", nil); err != nil {
		t.Fatal(err)
	}
	if r.shell.Current() != "accounts" {
		t.Fatalf("first view %q", r.shell.Current())
	}
	r.shortcut(ctrlKey(fyne.Key2))
	if r.shell.Current() != "compose" {
		t.Fatalf("Ctrl+2 shows %q", r.shell.Current())
	}
	r.shortcut(ctrlKey(fyne.Key1))
	if r.shell.Current() != "accounts" {
		t.Fatalf("Ctrl+1 shows %q", r.shell.Current())
	}
	// the last view is remembered
	r.shortcut(ctrlKey(fyne.Key2))
	if got := r.shell.Preferences().String(prefView); got != "compose" {
		t.Fatalf("last view stored as %q", got)
	}
	// Ctrl+N opens a new message with the cursor in To.
	r.shortcut(ctrlKey(fyne.Key1))
	r.compose.Content()
	r.compose.Subject.SetText("old")
	r.shortcut(ctrlKey(fyne.KeyN))
	if r.shell.Current() != "compose" || r.compose.Subject.Text != "" {
		t.Fatalf("Ctrl+N: view %q, subject %q", r.shell.Current(), r.compose.Subject.Text)
	}
	if r.shell.Window().Canvas().Focused() != r.compose.To {
		t.Fatal("Ctrl+N does not focus To")
	}
	// the menu shows every view with its shortcut
	var view *fyne.Menu
	for _, m := range r.shell.Window().MainMenu().Items {
		if m.Label == "View" {
			view = m
		}
	}
	if view == nil || view.Items[0].Label != "Accounts" || view.Items[0].Shortcut == nil {
		t.Fatalf("View menu: %+v", view)
	}
}

func TestShellQuitAsksWhileSending(t *testing.T) {
	r := newRig(t)
	_ = r.shell.Open("compose", nil)
	r.shortcut(ctrlKey(fyne.KeyQ))
	if r.quits != 1 {
		t.Fatalf("Ctrl+Q while idle: %d quits", r.quits)
	}

	r = newRig(t)
	r.core.sendGate = make(chan struct{})
	r.shell.Start(t.Context())
	_ = r.shell.Open("compose", nil)
	r.settle()
	test.Type(r.compose.To, "ann@example.com")
	r.shortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	if !r.compose.Busy() {
		t.Fatal("Ctrl+Enter did not start a send")
	}
	r.shortcut(ctrlKey(fyne.KeyQ))
	if r.quits != 0 {
		t.Fatal("Ctrl+Q quit without asking while a message was sending")
	}
	if len(r.shell.Window().Canvas().Overlays().List()) == 0 {
		t.Fatal("no confirmation shown")
	}
	close(r.core.sendGate)
	r.pump("the send to finish", func() bool { return !r.compose.Busy() })
}

func TestComposePickerAndSendViaProfile(t *testing.T) {
	r := newRig(t,
		account.Profile{Name: "work", FromAddress: "me@work.example", Server: account.Server{Host: "smtp.work.example"}},
		account.Profile{Name: "home", FromAddress: "me@home.example", FromName: "Me", Server: account.Server{Host: "smtp.home.example"}},
	)
	r.core.def = "home"
	r.shell.Start(t.Context())
	_ = r.shell.Open("compose", nil)
	r.pump("the profiles", func() bool { return len(r.compose.Via.Options) == 3 })
	if got := r.compose.Via.Options; got[0] != "home" || got[1] != SandboxChoice {
		t.Fatalf("picker options %q: want the default first, then the sandbox", got)
	}
	if r.compose.Via.Selected != "home" || !strings.Contains(r.compose.From.Text, "me@home.example") {
		t.Fatalf("picker starts on %q with From %q", r.compose.Via.Selected, r.compose.From.Text)
	}
	r.compose.Via.SetSelected("work")
	if r.compose.From.Text != "me@work.example" {
		t.Fatalf("From did not follow the profile: %q", r.compose.From.Text)
	}
	test.Type(r.compose.To, "ann@example.com, bob@example.com")
	test.Type(r.compose.Subject, "Hi")
	r.shortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !r.compose.Busy() })
	s := r.core.sends()[0]
	if s.profile != "work" || len(s.draft.To) != 2 || s.draft.Subject != "Hi" {
		t.Fatalf("sent %+v", s)
	}
	if !strings.HasPrefix(r.compose.Status.Text, "Sent via work") {
		t.Fatalf("status %q", r.compose.Status.Text)
	}
	// Ctrl+Enter in another view does not send.
	_ = r.shell.Open("accounts", nil)
	r.shortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	r.settle()
	if n := len(r.core.sends()); n != 1 {
		t.Fatalf("Ctrl+Enter from Accounts sent: %d sends", n)
	}
}

func TestComposeOpensOnMailto(t *testing.T) {
	r := newRig(t)
	d, err := message.ParseMailto("mailto:ann@example.com?cc=cy@example.com&subject=Hello%20there&body=Line%201%0ALine%202")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.shell.OpenStart("compose", d); err != nil {
		t.Fatal(err)
	}
	c := r.compose
	if c.To.Text != "ann@example.com" || c.Cc.Text != "cy@example.com" || c.Subject.Text != "Hello there" || c.Body.Text() != "Line 1\nLine 2" {
		t.Fatalf("form: to %q cc %q subject %q body %q", c.To.Text, c.Cc.Text, c.Subject.Text, c.Body.Text())
	}
	if err := r.shell.Open("compose", 42); err == nil {
		t.Fatal("compose accepted an int")
	}
}

func TestTabNeverTypesIntoTheBody(t *testing.T) {
	r := newRig(t)
	_ = r.shell.Open("compose", nil)
	if r.compose.Body.Entry.AcceptsTab() {
		t.Fatal("the body accepts Tab: it would insert a tab instead of moving on")
	}
	test.Type(r.compose.Body.Entry, "a\tb")
	if strings.Contains(r.compose.Body.Text(), "\t") {
		t.Fatalf("a tab reached the body: %q", r.compose.Body.Text())
	}
}

func TestThemeOverrideIsRemembered(t *testing.T) {
	r := newRig(t)
	r.shell.SetThemeMode("dark")
	if r.shell.Preferences().String(prefTheme) != "dark" {
		t.Fatal("theme not stored")
	}
	if _, ok := fyne.CurrentApp().Settings().Theme().(variantTheme); !ok {
		t.Fatal("dark override not applied")
	}
}

func TestCtrlFFocusesTheSearch(t *testing.T) {
	r := newRig(t)
	_ = r.shell.Open("accounts", nil)
	r.shortcut(ctrlKey(fyne.KeyF))
	if r.shell.Window().Canvas().Focused() != r.accounts.Search {
		t.Fatal("Ctrl+F does not focus the accounts search")
	}
}

func TestHelpListsTheShortcuts(t *testing.T) {
	r := newRig(t)
	var keys []string
	for _, sc := range r.shell.Shortcuts() {
		keys = append(keys, sc[0])
	}
	got := strings.Join(keys, " ")
	for _, want := range []string{"Ctrl+1", "Ctrl+2", "Ctrl+N", "Ctrl+Enter", "Ctrl+F", "Ctrl+Q", "F1", "Ctrl+O", "Ctrl+Shift+T"} {
		if !strings.Contains(got, want) {
			t.Errorf("help lacks %s: %s", want, got)
		}
	}
	r.shell.ShowHelp()
	if len(r.shell.Window().Canvas().Overlays().List()) == 0 {
		t.Fatal("no help dialog")
	}
}

func TestComposeOpensOnAProfile(t *testing.T) {
	r := newRig(t, account.Profile{Name: "work", FromAddress: "me@work.example", Server: account.Server{Host: "smtp.work.example"}})
	r.shell.Start(t.Context())
	if err := r.shell.OpenStart("compose", ProfileRef{Name: "work"}); err != nil {
		t.Fatal(err)
	}
	r.pump("the picker", func() bool { return r.compose.Via.Selected == "work" })
	if r.compose.From.Text != "me@work.example" {
		t.Fatalf("From %q", r.compose.From.Text)
	}
}

func TestF1InATextFieldShowsHelp(t *testing.T) {
	r := newRig(t)
	_ = r.shell.Open("compose", nil)
	r.shell.Window().Canvas().Focus(r.compose.Body.Entry)
	r.compose.Body.Entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF1})
	if len(r.shell.Window().Canvas().Overlays().List()) == 0 {
		t.Fatal("F1 in the message text shows no help")
	}
}
