package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/ui/widgets"
)

// SandboxSettingsForm is the sandbox's settings form; its widgets are
// exported for tests.
type SandboxSettingsForm struct {
	Listen, AuthUser, MaxSize, Faults *widget.Entry
	AuthPass                          *widgets.SecretEntry
	TLS                               *widget.Select
	RequireAuth                       *widget.Check
	Examples                          *widget.Select
	// Effect says, per fault, what it does to a client (or what is wrong
	// with the specification).
	Effect *widget.Label
	Error  *widget.Label
	Form   *widget.Form
}

var sandboxTLSChoices = []string{"none", "starttls", "implicit"}

// NewSandboxSettingsForm builds the form filled with f; describe puts a
// fault specification in words.
func NewSandboxSettingsForm(f SandboxForm, examples [][2]string, describe func(string) ([]string, error)) *SandboxSettingsForm {
	w := &SandboxSettingsForm{}
	w.Listen = widget.NewEntry()
	w.Listen.SetPlaceHolder("127.0.0.1:2525 (empty: that, or the next free port)")
	w.Listen.SetText(f.Listen)
	w.TLS = widget.NewSelect(sandboxTLSChoices, nil)
	tls := f.TLS
	if tls == "" {
		tls = "none"
	}
	w.TLS.SetSelected(tls)
	w.AuthUser = widget.NewEntry()
	w.AuthUser.SetPlaceHolder("user name")
	w.AuthUser.SetText(f.AuthUser)
	w.AuthPass = widgets.NewSecretEntry()
	w.AuthPass.SetPlaceHolder("password (kept in the keychain)")
	w.AuthPass.SetText(f.AuthPass)
	w.RequireAuth = widget.NewCheck("Require AUTH (PLAIN, LOGIN, CRAM-MD5) with:", func(on bool) {
		if on {
			w.AuthUser.Enable()
			w.AuthPass.Enable()
		} else {
			w.AuthUser.Disable()
			w.AuthPass.Disable()
		}
	})
	w.RequireAuth.SetChecked(f.AuthUser != "")
	w.RequireAuth.OnChanged(w.RequireAuth.Checked)
	w.MaxSize = widget.NewEntry()
	w.MaxSize.SetPlaceHolder("25MB (e.g. 500KB, 10MB, 1048576)")
	w.MaxSize.SetText(f.MaxSize)
	w.Faults = widget.NewEntry()
	w.Faults.SetPlaceHolder("none (e.g. rcpt:550:20,delay:2s)")
	w.Effect = widget.NewLabel("")
	w.Effect.Wrapping = fyne.TextWrapWord
	w.Error = widget.NewLabel("")
	w.Error.Wrapping = fyne.TextWrapWord
	w.Error.Importance = widget.DangerImportance
	w.Error.Hide()
	w.Faults.OnChanged = func(spec string) {
		lines, err := describe(spec)
		switch {
		case err != nil:
			w.Effect.SetText("⚠ " + err.Error())
		case len(lines) == 0:
			w.Effect.SetText("No faults: every command is answered as a healthy server would.")
		default:
			for i := range lines {
				lines[i] = "• " + lines[i]
			}
			w.Effect.SetText("The sandbox then:\n" + strings.Join(lines, "\n"))
		}
	}
	w.Faults.SetText(f.Faults)
	w.Faults.OnChanged(f.Faults)
	var labels []string
	for _, e := range examples {
		labels = append(labels, e[1]+"  ("+e[0]+")")
	}
	w.Examples = widget.NewSelect(labels, nil)
	w.Examples.PlaceHolder = "Add a common fault…"
	w.Examples.OnChanged = func(label string) {
		for _, e := range examples {
			if e[1]+"  ("+e[0]+")" == label {
				spec := strings.TrimSpace(w.Faults.Text)
				if spec != "" {
					spec += ","
				}
				w.Faults.SetText(spec + e[0])
			}
		}
		if label != "" {
			w.Examples.ClearSelected()
		}
	}
	clearFaults := widget.NewButton("No faults", func() { w.Faults.SetText("") })
	w.Form = widget.NewForm(
		widget.NewFormItem("Listen on", w.Listen),
		widget.NewFormItem("TLS", w.TLS),
		widget.NewFormItem("", w.RequireAuth),
		widget.NewFormItem("User", w.AuthUser),
		widget.NewFormItem("Password", w.AuthPass),
		widget.NewFormItem("Size limit", w.MaxSize),
		widget.NewFormItem("Faults", w.Faults),
		widget.NewFormItem("", container.NewBorder(nil, nil, nil, clearFaults, w.Examples)),
		widget.NewFormItem("Effect", w.Effect),
	)
	w.Form.Items[1].HintText = "starttls and implicit use a self-signed certificate kept in the data folder"
	w.Form.Items[2].HintText = "Without it the sandbox offers no AUTH and refuses a login, as a server without authentication does"
	return w
}

// Value returns the form's settings.
func (w *SandboxSettingsForm) Value() SandboxForm {
	f := SandboxForm{Listen: strings.TrimSpace(w.Listen.Text), TLS: w.TLS.Selected, MaxSize: strings.TrimSpace(w.MaxSize.Text), Faults: strings.TrimSpace(w.Faults.Text)}
	if w.RequireAuth.Checked {
		f.AuthUser, f.AuthPass = strings.TrimSpace(w.AuthUser.Text), w.AuthPass.Text
	}
	return f
}

// ShowSettings opens the settings form; Apply restarts the sandbox with
// them, and an error keeps the form open with the error above the fields.
func (s *Sandbox) ShowSettings() {
	if s.host == nil {
		return
	}
	ctx := s.ctx
	go func() {
		f, err := s.core.SandboxSettings(ctx)
		s.do(func() {
			if err != nil {
				dialog.ShowError(err, s.host.Window())
				return
			}
			s.settingsDialog(f)
		})
	}()
}

func (s *Sandbox) settingsDialog(f SandboxForm) {
	w := NewSandboxSettingsForm(f, s.core.FaultExamples(), s.core.DescribeFaults)
	var d *dialog.CustomDialog
	apply := widget.NewButton("Apply and restart", nil)
	apply.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	apply.OnTapped = func() {
		v := w.Value()
		apply.Disable()
		ctx := s.ctx
		go func() {
			err := s.core.ApplySandbox(ctx, v)
			s.do(func() {
				apply.Enable()
				s.showStatus()
				if err != nil {
					w.Error.SetText("Not applied: " + err.Error())
					w.Error.Show()
					return
				}
				d.Hide()
				s.host.SetStatus("Sandbox restarted: " + s.core.SandboxStatus().Summary)
			})
		}()
	}
	body := container.NewBorder(w.Error, nil, nil, nil, container.NewVScroll(w.Form))
	d = dialog.NewCustomWithoutButtons("Sandbox settings", body, s.host.Window())
	d.SetButtons([]fyne.CanvasObject{cancel, apply})
	sz := s.host.Window().Canvas().Size()
	d.Resize(fyne.NewSize(min(720, sz.Width-40), min(560, sz.Height-40)))
	d.Show()
	s.lastSettings = w
}

// SettingsForm returns the settings form last opened, or nil.
func (s *Sandbox) SettingsForm() *SandboxSettingsForm { return s.lastSettings }
