package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// labelsUnder returns the visible labels under o.
func labelsUnder(o fyne.CanvasObject) []*widget.Label {
	var out []*widget.Label
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch c := o.(type) {
		case *widget.Label:
			out = append(out, c)
		case *fyne.Container:
			for _, ch := range c.Objects {
				walk(ch)
			}
		case fyne.Widget:
			for _, ch := range test.WidgetRenderer(c).Objects() {
				walk(ch)
			}
		}
	}
	walk(o)
	return out
}

// TestAccountsRowShowsTLSAndAuthInFull: in a 1200 px window the row's
// server line, with the TLS mode and auth method, fits without being cut.
func TestAccountsRowShowsTLSAndAuthInFull(t *testing.T) {
	p := workProfile()
	p.Server.Host = "smtp.office365.example.com"
	p.Server.TLS = "starttls"
	r := startAccounts(t, p)
	r.shell.Window().Resize(fyne.NewSize(1200, 760))
	r.settle()
	var line *widget.Label
	for _, l := range labelsUnder(r.accounts.List) {
		if strings.Contains(l.Text, "TLS") {
			line = l
		}
	}
	if line == nil {
		t.Fatal("no row line names the TLS mode")
	}
	if !strings.Contains(line.Text, "TLS starttls") || !strings.Contains(line.Text, "auth plain") || !strings.Contains(line.Text, "smtp.office365.example.com:587") {
		t.Fatalf("row line %q lacks the server, TLS mode or auth method", line.Text)
	}
	th := line.Theme()
	size := th.Size(line.SizeName)
	if line.SizeName == "" {
		size = th.Size(theme.SizeNameText)
	}
	need := fyne.MeasureText(line.Text, size, line.TextStyle).Width + 2*th.Size(theme.SizeNameInnerPadding)
	if have := line.Size().Width; need > have {
		t.Fatalf("row line %q needs %.0f px, has %.0f: it is cut", line.Text, need, have)
	}
}
