package ui

import (
	"context"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transport"
)

// signInWizard is a fake wizard core that can also make OAuth2 profiles
// and sign them in; the sign-in ends with what the test sends on result
// (nil: signed in), or with the dialog's Cancel.
type signInWizard struct {
	*fakeWizardCore
	mu        sync.Mutex
	setups    []OAuthSetup
	signIns   []string
	devices   []bool
	discarded []string
	signedIn  bool
	result    chan error
}

func newSignInWizard() *signInWizard {
	s := &signInWizard{fakeWizardCore: &fakeWizardCore{}, result: make(chan error, 1)}
	s.probe = func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		st := passStep("auth")
		if !s.isSignedIn() {
			st = WizardStep{Name: "auth", Status: diagnose.StatusFail, Finding: "no valid sign-in",
				Hint: hint.Hint{Text: "Sign in again.", Fixes: []hint.Fix{{Setting: hint.OAuthSignIn, Label: "Sign in again"}}}}
		}
		on(st)
		return &WizardReport{Target: pt.Server(), Steps: []WizardStep{st}, OK: st.Status == diagnose.StatusPass}
	}
	return s
}

func (s *signInWizard) isSignedIn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedIn
}

func (s *signInWizard) PrepareOAuth(ctx context.Context, email string, o OAuthSetup) (*account.Profile, error) {
	s.mu.Lock()
	s.setups = append(s.setups, o)
	s.mu.Unlock()
	return &account.Profile{ID: "oauth1", Name: email, FromAddress: email, Username: email, Auth: account.AuthOAuth2,
		Server: account.Server{Host: "smtp.gmail.com", Port: 465, TLS: transport.TLSImplicit},
		OAuth:  &account.OAuth{Provider: o.Provider, ClientID: o.ClientID}}, nil
}

func (s *signInWizard) DiscardProfile(ctx context.Context, p *account.Profile) error {
	s.mu.Lock()
	s.discarded = append(s.discarded, p.Name)
	s.mu.Unlock()
	return nil
}

func (s *signInWizard) OAuthSignIn(ctx context.Context, name string, device bool, show func(SignInPrompt)) (string, error) {
	s.mu.Lock()
	s.signIns = append(s.signIns, name)
	s.devices = append(s.devices, device)
	s.mu.Unlock()
	if device {
		show(SignInPrompt{URL: "https://microsoft.com/devicelogin", Code: "WDJB-MJHT"})
	} else {
		show(SignInPrompt{URL: "https://accounts.example/authorize"})
	}
	select {
	case err := <-s.result:
		if err == nil {
			s.mu.Lock()
			s.signedIn = true
			s.mu.Unlock()
		}
		return "ann@example.com", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *signInWizard) count(what *[]string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(*what)
}

// TestWizardSignInWithGoogle: the button asks for the client ID and
// secret, the profile is made, the sign-in runs and the profile is tested
// at once.
func TestWizardSignInWithGoogle(t *testing.T) {
	core := newSignInWizard()
	v, q, w := newTestWizard(t, core)
	if !v.GoogleButton.Visible() || !v.MicrosoftButton.Visible() {
		t.Fatal("no sign-in buttons for a core that signs in")
	}
	test.Tap(v.GoogleButton)
	if v.oauthForm != nil {
		t.Fatal("the sign-in asked for its settings before the address was entered")
	}
	test.Type(v.Email, "ann@gmail.com")
	test.Tap(v.GoogleButton)
	if v.oauthForm == nil || !strings.Contains(overlayText(w), "Registering Herald with Google") {
		t.Fatalf("no setup dialog pointing to the README: %q", overlayText(w))
	}
	f := v.oauthForm
	if f.Tenant != nil || f.ClientSecret == nil {
		t.Fatal("Google asks for a client secret and no tenant")
	}
	ok := overlayButton(w, "Sign in")
	if !ok.Disabled() {
		t.Fatal("Sign in is enabled without a client ID")
	}
	test.Type(f.ClientID, "123.apps.googleusercontent.com")
	test.Type(f.ClientSecret, "GOCSPX-s3cret")
	test.Tap(ok)
	waitFor(t, q, "the sign-in", func() bool {
		return core.count(&core.signIns) == 1 && findLabel(w, "https://accounts.example/authorize")
	})
	if core.probeCount() != 0 {
		t.Fatal("tested before the sign-in ended")
	}
	core.result <- nil
	waitFor(t, q, "the test of the new profile", func() bool { return core.probeCount() == 1 && v.Report() != nil && !v.running })
	want := OAuthSetup{Provider: "google", ClientID: "123.apps.googleusercontent.com", ClientSecret: "GOCSPX-s3cret"}
	if core.setups[0] != want || core.signIns[0] != "ann@gmail.com" || core.devices[0] {
		t.Errorf("setup %+v, signed in %v (device %v)", core.setups, core.signIns, core.devices)
	}
	if p := core.probed[0].Profile; p.ID != "oauth1" || p.Auth != account.AuthOAuth2 || !v.Report().OK || v.Stage != StageTest {
		t.Errorf("tested %+v, report %+v, stage %d", p, v.Report(), v.Stage)
	}
	if core.count(&core.discarded) != 0 {
		t.Error("the signed-in profile was removed")
	}
	v.show(StageSave)
	if !strings.Contains(v.SaveSummary.Text, "Update profile ann@gmail.com") || !strings.Contains(v.SaveSummary.Text, "OAuth2") {
		t.Errorf("save summary %q", v.SaveSummary.Text)
	}
}

// TestWizardSignInCancelRemovesTheProfile: Microsoft's sign-in with a
// code shows it; Cancel removes the profile made for it and tests nothing.
func TestWizardSignInCancelRemovesTheProfile(t *testing.T) {
	core := newSignInWizard()
	v, q, w := newTestWizard(t, core)
	// The test theme has no bold monospace font for the code.
	fyne.CurrentApp().Settings().SetTheme(theme.DefaultTheme())
	test.Type(v.Email, "bob@contoso.com")
	test.Tap(v.MicrosoftButton)
	f := v.oauthForm
	if f == nil || f.Tenant == nil || f.Tenant.Text != "common" || f.ClientSecret != nil {
		t.Fatalf("Microsoft's dialog: %+v", f)
	}
	test.Type(f.ClientID, "11111111-2222")
	test.Tap(f.Code)
	test.Tap(overlayButton(w, "Sign in"))
	waitFor(t, q, "the code", func() bool { return v.signIn != nil && v.signIn.Code.Text == "WDJB-MJHT" && v.signIn.Code.Visible() })
	test.Tap(v.signIn.Cancel)
	waitFor(t, q, "the profile removed", func() bool { return core.count(&core.discarded) == 1 })
	if core.discarded[0] != "bob@contoso.com" || !core.devices[0] || core.setups[0].Tenant != "common" {
		t.Errorf("discarded %v, device %v, setup %+v", core.discarded, core.devices, core.setups)
	}
	if core.probeCount() != 0 || v.SignInStatus.Text != "Sign-in cancelled" {
		t.Errorf("probes %d, status %q", core.probeCount(), v.SignInStatus.Text)
	}
}

// TestWizardSignInAgainFix: the probe's "Sign in again" runs the sign-in
// of the tested profile (not the core's ApplyFix) and tests it again.
func TestWizardSignInAgainFix(t *testing.T) {
	core := newSignInWizard()
	v, q, w := newTestWizard(t, core)
	p := &account.Profile{ID: "ms1", Name: "work", FromAddress: "ann@contoso.com", Username: "ann@contoso.com", Auth: account.AuthOAuth2,
		Server: account.Server{Host: "smtp.office365.com", Port: 587, TLS: transport.TLSStartTLS}, OAuth: &account.OAuth{Provider: "microsoft", ClientID: "app"}}
	v.TestProfile(p)
	waitFor(t, q, "the report", func() bool { return v.Report() != nil && !v.running })
	it, _ := v.Steps.Item("auth")
	b := findButton(it.Extra, "Sign in again")
	if b == nil {
		t.Fatal("no Sign in again button")
	}
	test.Tap(b)
	waitFor(t, q, "the sign-in", func() bool {
		return core.count(&core.signIns) == 1 && findLabel(w, "https://accounts.example/authorize")
	})
	core.result <- nil
	waitFor(t, q, "the second probe", func() bool { return core.probeCount() == 2 && v.Report() != nil && !v.running })
	if core.signIns[0] != "work" || !v.Report().OK || len(core.fixes) != 0 || core.count(&core.discarded) != 0 {
		t.Errorf("signed in %v, ok %v, fixes %v, discarded %v", core.signIns, v.Report().OK, core.fixes, core.discarded)
	}
}

// TestWizardNoSignInButtonsWithoutACoreThatSignsIn keeps the first step as
// it was for a core that cannot sign in.
func TestWizardNoSignInButtonsWithoutACoreThatSignsIn(t *testing.T) {
	v, _, w := newTestWizard(t, &fakeWizardCore{})
	if shown(w.Canvas().Content(), v.GoogleButton) {
		t.Fatal("the Google button is shown for a core that cannot sign in")
	}
	v2, _, w2 := newTestWizard(t, newSignInWizard())
	if !shown(w2.Canvas().Content(), v2.GoogleButton) {
		t.Fatal("the Google button is hidden for a core that signs in")
	}
}

// shown reports whether target is under o with every object on the way
// visible.
func shown(o, target fyne.CanvasObject) bool {
	if !o.Visible() {
		return false
	}
	if o == target {
		return true
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			if shown(c, target) {
				return true
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			if shown(c, target) {
				return true
			}
		}
	}
	return false
}
