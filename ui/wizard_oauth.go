package ui

import (
	"context"
	"errors"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/ui/widgets"
)

// oauthForm is the sign-in setup dialog's fields (kept for tests).
type oauthForm struct {
	ClientID, Tenant *widget.Entry
	ClientSecret     *widgets.SecretEntry
	Code             *widget.Check
}

// buildSignIn is the first step's "Sign in with …" row, hidden when the
// core cannot sign in.
func (v *WizardView) buildSignIn() fyne.CanvasObject {
	v.GoogleButton = widget.NewButtonWithIcon("Sign in with Google", theme.AccountIcon(), func() { v.askOAuth("google") })
	v.MicrosoftButton = widget.NewButtonWithIcon("Sign in with Microsoft", theme.AccountIcon(), func() { v.askOAuth("microsoft") })
	v.OtherSignInButton = widget.NewButton("Sign in (other provider)", v.otherSignIn)
	v.SignInStatus = wrapped("")
	box := container.NewVBox(widget.NewSeparator(),
		wrapped("Gmail, Google Workspace, Microsoft 365 and Outlook.com accounts can sign in with OAuth2 instead of a password (Microsoft is turning passwords off for SMTP):"),
		container.NewHBox(v.GoogleButton, v.MicrosoftButton, v.OtherSignInButton), v.SignInStatus)
	if _, ok := v.core.(WizardSignIn); !ok {
		box.Hide()
	}
	return box
}

// askOAuth asks what a sign-in with provider (google or microsoft) needs,
// then makes the profile and signs it in.
func (v *WizardView) askOAuth(provider string) {
	s, ok := v.core.(WizardSignIn)
	w := v.window()
	if !ok || w == nil || v.running || !v.checkEmail() {
		return
	}
	email := v.email()
	required := func(what string) func(string) error {
		return func(s string) error {
			switch s = strings.TrimSpace(s); {
			case s == "":
				return errors.New("enter the " + what)
			case strings.ContainsAny(s, " \t"):
				return errors.New("the " + what + " has no spaces")
			}
			return nil
		}
	}
	f := &oauthForm{ClientID: widget.NewEntry()}
	f.ClientID.Validator = required("client ID")
	name, section := "Google", "Registering Herald with Google"
	items := []*widget.FormItem{widget.NewFormItem("Client ID", f.ClientID)}
	if provider == "google" {
		f.ClientID.SetPlaceHolder("…apps.googleusercontent.com")
		f.ClientSecret = widgets.NewSecretEntry()
		f.ClientSecret.Validator = required("client secret")
		items = append(items, widget.NewFormItem("Client secret", f.ClientSecret))
	} else {
		name, section = "Microsoft", "Registering Herald with Microsoft"
		f.ClientID.SetPlaceHolder("the application (client) ID")
		f.Tenant = widget.NewEntry()
		f.Tenant.SetText("common")
		f.Code = widget.NewCheck("Sign in with a code (on this or another device)", nil)
		items = append(items, widget.NewFormItem("Tenant", f.Tenant), widget.NewFormItem("", f.Code))
	}
	items[0].HintText = "of the app you registered with " + name
	stored := ""
	if f.ClientSecret != nil {
		stored = " (the client secret in the system keychain)"
	}
	note := wrapped("Register Herald as an app with " + name + " first: the README's section “" + section +
		"” says how. Herald then stores a profile named after " + email + stored + " and opens the sign-in; cancelling removes it again.")
	items = append([]*widget.FormItem{widget.NewFormItem("", note)}, items...)
	d := dialog.NewForm("Sign in with "+name, "Sign in", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		setup := OAuthSetup{Provider: provider, ClientID: strings.TrimSpace(f.ClientID.Text)}
		device := false
		if f.ClientSecret != nil {
			setup.ClientSecret = strings.TrimSpace(f.ClientSecret.Text)
		}
		if f.Tenant != nil {
			setup.Tenant = strings.TrimSpace(f.Tenant.Text)
			device = f.Code.Checked
		}
		v.startOAuth(s, email, setup, device)
	}, w)
	d.Resize(fyne.NewSize(580, 400))
	v.oauthForm = f
	d.Show()
	w.Canvas().Focus(f.ClientID)
}

// otherSignIn says where other providers are signed in.
func (v *WizardView) otherSignIn() {
	w := v.window()
	if w == nil {
		return
	}
	msg := wrapped("For another OAuth2 provider, add the account in Accounts: choose the auth method oauth2 and the provider custom, enter its authorization, token and device URLs and scopes (the README's OAuth2 section), save it, then press Sign in there. Then test it here.")
	d := dialog.NewCustom("Sign in with another provider", "Close", msg, w)
	d.Resize(fyne.NewSize(520, 220))
	d.Show()
}

// startOAuth makes the profile for email and signs it in; the wizard's
// Cancel ends the making, the sign-in dialog's Cancel the sign-in.
func (v *WizardView) startOAuth(s WizardSignIn, email string, setup OAuthSetup, device bool) {
	v.SignInStatus.SetText("Making a profile for " + email + "…")
	ctx, gen := v.begin()
	v.updateNav()
	go func() {
		p, err := s.PrepareOAuth(ctx, email, setup)
		// v.do, not v.post: a made profile must be removed even when a
		// newer operation replaced this one.
		v.do(func() {
			cancelled := gen != v.gen || ctx.Err() != nil
			v.end(gen)
			switch {
			case cancelled:
				v.discard(s, p)
				v.SignInStatus.SetText("Sign-in cancelled")
			case err != nil:
				v.SignInStatus.SetText("Could not make the profile: " + err.Error())
			default:
				v.runSignIn(s, p, device, true, v.SignInStatus)
			}
		})
	}()
}

// runSignIn signs p in through the sign-in dialog and tests it at once on
// success. made says the wizard made p for this sign-in, so that it is
// removed again when the sign-in does not finish (no token was stored).
func (v *WizardView) runSignIn(s WizardSignIn, p *account.Profile, device, made bool, status *widget.Label) {
	w := v.window()
	if w == nil {
		return
	}
	status.SetText("Signing in to " + p.Name + "…")
	v.signIn = ShowSignIn(w, v.do, s, p.Name, device, func(who string, err error) {
		status.SetText(signInResult(p.Name, who, err))
		switch {
		case err != nil && made:
			v.discard(s, p)
		case err != nil:
		case made:
			v.TestProfile(p)
			v.ProbeStatus.SetText(signInResult(p.Name, who, nil) + ". Testing…")
		default:
			v.startProbe()
			v.ProbeStatus.SetText(signInResult(p.Name, who, nil) + ". Testing again…")
		}
	})
}

// signInAgain is the "Sign in again" fix: the tested profile signs in, and
// the probe runs again.
func (v *WizardView) signInAgain() {
	s, ok := v.core.(WizardSignIn)
	p := v.target.Profile
	switch {
	case !ok:
		v.ProbeStatus.SetText("Sign in again in Accounts (the account's Sign in button), then test again.")
	case p.ID == "":
		v.ProbeStatus.SetText("Save the profile first, then sign in.")
	default:
		v.runSignIn(s, &p, false, false, v.ProbeStatus)
	}
}

// discard removes p, made for a sign-in that did not finish.
func (v *WizardView) discard(s WizardSignIn, p *account.Profile) {
	if p == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.DiscardProfile(ctx, p); err != nil {
			v.do(func() {
				v.SignInStatus.SetText("The profile " + p.Name + " made for the sign-in could not be removed (" + err.Error() + "): delete it in Accounts.")
			})
		}
	}()
}
