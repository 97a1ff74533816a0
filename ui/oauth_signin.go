package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// OAuthSignIner signs profiles in with OAuth2; the app's adapters implement
// it over the core. Its methods block (the browser, the provider): the
// dialog calls them off the UI goroutine.
type OAuthSignIner interface {
	// OAuthSignIn signs the profile in, with the device code when device
	// is set, else in the system browser. show is called (from any
	// goroutine) with what the user must see: the URL the browser opens,
	// or the device code and where to enter it. It returns who signed in
	// ("" when the provider does not say).
	OAuthSignIn(ctx context.Context, name string, device bool, show func(SignInPrompt)) (string, error)
}

// SignInPrompt is what the user needs to complete a sign-in.
type SignInPrompt struct {
	// URL is the page to open (the browser flow's, or the device flow's
	// verification page).
	URL string
	// Code is the device code to enter at URL ("" for the browser flow).
	Code string
	// Expires is when the device code stops working.
	Expires time.Time
}

// SignInDialog is a running sign-in: the URL or device code with a copy
// button, a progress bar, and Cancel. Its widgets are exported for tests.
type SignInDialog struct {
	Message *widget.Label
	URL     *widget.Label
	Code    *widget.Label
	CopyBtn *widget.Button
	Cancel  *widget.Button
	Dialog  dialog.Dialog

	copyText string
	cancel   context.CancelFunc
}

// ShowSignIn starts the sign-in of profile name in a dialog over w, and
// calls done on the UI goroutine (through do) when it ends: who signed in,
// or the error (context.Canceled when the user cancelled).
func ShowSignIn(w fyne.Window, do Dispatcher, s OAuthSignIner, name string, device bool, done func(who string, err error)) *SignInDialog {
	d := &SignInDialog{}
	d.Message = widget.NewLabel("Opening the sign-in page in your browser…")
	if device {
		d.Message.SetText("Asking the provider for a sign-in code…")
	}
	d.Message.Wrapping = fyne.TextWrapWord
	d.URL = widget.NewLabel("")
	d.URL.Wrapping = fyne.TextWrapBreak
	d.URL.Selectable = true
	d.Code = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true, Monospace: true})
	d.Code.Hide()
	d.CopyBtn = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		if d.copyText != "" {
			fyne.CurrentApp().Clipboard().SetContent(d.copyText)
		}
	})
	d.CopyBtn.Disable()
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.Cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), cancel)
	progress := widget.NewProgressBarInfinite()
	body := container.NewVBox(d.Message, d.Code, d.URL, container.NewHBox(d.CopyBtn), progress, container.NewHBox(d.Cancel))
	d.Dialog = dialog.NewCustomWithoutButtons("Sign in: "+name, body, w)
	d.Dialog.Resize(fyne.NewSize(520, 300))
	d.Dialog.Show()
	show := func(p SignInPrompt) {
		do(func() {
			d.URL.SetText(p.URL)
			d.copyText = p.URL
			if p.Code != "" {
				d.Message.SetText("On any device, open the address below and enter this code:")
				d.Code.SetText(p.Code)
				d.Code.Show()
				d.copyText = p.Code
				d.CopyBtn.SetText("Copy the code")
			} else {
				d.Message.SetText("Sign in in your browser. If it did not open, open this address on this computer:")
				d.CopyBtn.SetText("Copy the address")
			}
			d.CopyBtn.Enable()
		})
	}
	go func() {
		who, err := s.OAuthSignIn(ctx, name, device, show)
		cancel()
		do(func() {
			progress.Stop()
			d.Dialog.Hide()
			if done != nil {
				done(who, err)
			}
		})
	}()
	return d
}

// signInResult words the end of a sign-in for a status line.
func signInResult(name, who string, err error) string {
	switch {
	case err == nil && who != "":
		return "Signed in to " + name + " as " + who
	case err == nil:
		return "Signed in to " + name
	case errors.Is(err, context.Canceled):
		return "Sign-in cancelled"
	}
	return "Sign-in failed: " + err.Error()
}
