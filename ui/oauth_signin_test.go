package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
)

// signerCore is the fake core that can also sign in: it shows a prompt and
// waits for the test (or the dialog's Cancel).
type signerCore struct {
	*fakeCore
	prompt  SignInPrompt
	release chan error
	device  bool
}

func (s *signerCore) OAuthSignIn(ctx context.Context, name string, device bool, show func(SignInPrompt)) (string, error) {
	s.device = device
	show(s.prompt)
	select {
	case err := <-s.release:
		if err != nil {
			return "", err
		}
		return "ann@example.com", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func oauthProfile() account.Profile {
	p := account.Profile{Name: "ms", FromAddress: "ann@example.com", Server: account.Server{Host: "smtp.office365.com", Port: 587},
		Auth: account.AuthOAuth2, Username: "ann@example.com", OAuth: &account.OAuth{Provider: "microsoft", ClientID: "app"}}
	p.Normalize()
	return p
}

func startSigner(t *testing.T, prompt SignInPrompt) (*rig, *signerCore) {
	t.Helper()
	r := &rig{t: t, core: newFakeCore(oauthProfile()), q: make(chan func(), 4096)}
	sc := &signerCore{fakeCore: r.core, prompt: prompt, release: make(chan error, 1)}
	a := test.NewTempApp(t)
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.accounts = NewAccounts(sc, do)
	r.shell.Register(r.accounts)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	t.Cleanup(r.shell.Stop)
	r.shell.Start(t.Context())
	if err := r.shell.Open("accounts", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the list", func() bool { return len(r.accounts.Rows()) == 1 && r.accounts.List != nil })
	r.settle()
	r.accounts.List.Select(0)
	return r, sc
}

func TestSignInFromTheEditorWithADeviceCode(t *testing.T) {
	r, sc := startSigner(t, SignInPrompt{URL: "https://microsoft.com/devicelogin", Code: "WDJB-MJHT", Expires: time.Now().Add(time.Minute)})
	e := r.accounts.Editor
	if !e.SignInBtn.Visible() || !e.SignInCodeBtn.Visible() {
		t.Fatal("the sign-in buttons are hidden for an OAuth2 profile")
	}
	test.Tap(e.SignInCodeBtn)
	// The dialog shows the code and the URL, and copies the code.
	r.pump("the prompt", func() bool { return findLabel(r.shell.Window(), "WDJB-MJHT") })
	if !findLabel(r.shell.Window(), "https://microsoft.com/devicelogin") {
		t.Fatal("no URL shown")
	}
	sc.release <- nil
	r.pump("the end", func() bool { return !findLabel(r.shell.Window(), "WDJB-MJHT") })
	r.settle()
	if !sc.device {
		t.Fatal("the code button did not ask for the device flow")
	}
}

func TestSignInDialogCancelAndCopy(t *testing.T) {
	a := test.NewTempApp(t)
	w := a.NewWindow("x")
	w.Resize(fyne.NewSize(800, 600))
	q := make(chan func(), 100)
	do := func(f func()) { q <- f }
	sc := &signerCore{prompt: SignInPrompt{URL: "https://idp.example/authorize?x=1"}, release: make(chan error, 1)}
	var gotErr error
	ended := false
	d := ShowSignIn(w, do, sc, "work", false, func(who string, err error) { gotErr, ended = err, true })
	deadline := time.After(5 * time.Second)
	for d.URL.Text == "" {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatal("no URL")
		}
	}
	test.Tap(d.CopyBtn)
	if got := a.Clipboard().Content(); got != "https://idp.example/authorize?x=1" {
		t.Fatalf("clipboard %q", got)
	}
	test.Tap(d.Cancel)
	for !ended {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatal("cancel did not end the sign-in")
		}
	}
	if !errors.Is(gotErr, context.Canceled) || signInResult("work", "", gotErr) != "Sign-in cancelled" {
		t.Fatalf("%v", gotErr)
	}
}

func TestOAuthBadges(t *testing.T) {
	v := &Accounts{now: time.Now}
	p := oauthProfile()
	if got := v.RowBadges(p, AccountStatus{Secret: SecretNotNeeded, OAuth: OAuthSignInNeeded}); !strings.Contains(got, "OAuth sign-in needed") || strings.Contains(got, "No password needed") {
		t.Fatal(got)
	}
	if got := v.RowBadges(p, AccountStatus{Secret: SecretNotNeeded, OAuth: OAuthSignedIn}); !strings.Contains(got, "OAuth signed in") {
		t.Fatal(got)
	}
	v.rows = []accountRow{{p: p, st: AccountStatus{Secret: SecretNotNeeded, OAuth: OAuthSignInNeeded}}}
	if v.Badge() != "!1" {
		t.Fatalf("badge %q: a profile that must sign in cannot send", v.Badge())
	}
}

// findLabel reports whether a label with text shows in w or its overlays.
func findLabel(w fyne.Window, text string) bool {
	objs := []fyne.CanvasObject{w.Canvas().Content()}
	for _, o := range w.Canvas().Overlays().List() {
		objs = append(objs, o)
	}
	for len(objs) > 0 {
		o := objs[0]
		objs = objs[1:]
		if l, ok := o.(interface{ Visible() bool }); ok && !l.Visible() {
			continue
		}
		if l, ok := o.(*widget.Label); ok && l.Text == text {
			return true
		}
		switch c := o.(type) {
		case *fyne.Container:
			objs = append(objs, c.Objects...)
		case fyne.Widget:
			objs = append(objs, test.WidgetRenderer(c).Objects()...)
		}
	}
	return false
}
