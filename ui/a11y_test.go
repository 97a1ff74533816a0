package ui

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// focusables returns the visible, enabled controls under o that take
// keyboard focus, in tree order.
func focusables(o fyne.CanvasObject) []fyne.Focusable {
	var out []fyne.Focusable
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if f, ok := o.(fyne.Focusable); ok {
			if d, ok := o.(fyne.Disableable); !ok || !d.Disabled() {
				out = append(out, f)
			}
			return // a focusable control's parts are not reached separately
		}
		switch c := o.(type) {
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

func describe(f fyne.Focusable) string {
	switch w := f.(type) {
	case *widget.Button:
		return fmt.Sprintf("button %q", w.Text)
	case *widget.Entry:
		return fmt.Sprintf("entry %q", w.PlaceHolder)
	}
	return fmt.Sprintf("%T", f)
}

// assertTabReachesAll tabs through the canvas and fails for every visible
// control Tab does not reach.
func assertTabReachesAll(t *testing.T, where string, c fyne.Canvas, root fyne.CanvasObject) {
	t.Helper()
	want := focusables(root)
	if len(want) == 0 {
		t.Fatalf("%s: no focusable controls found", where)
	}
	t.Logf("%s: %d controls", where, len(want))
	seen := map[fyne.Focusable]bool{}
	for range 3*len(want) + 5 {
		test.FocusNext(c)
		if f := c.Focused(); f != nil {
			seen[f] = true
		}
	}
	for _, f := range want {
		if !seen[f] {
			t.Errorf("%s: Tab never reaches %s", where, describe(f))
		}
	}
}

func TestKeyboardReachesEveryControl(t *testing.T) {
	r := startAccounts(t, workProfile())
	c := r.shell.Window().Canvas()
	if err := r.shell.Open("accounts", nil); err != nil {
		t.Fatal(err)
	}
	r.accounts.List.Select(0)
	r.settle()
	assertTabReachesAll(t, "Accounts", c, c.Content())

	if err := r.shell.Open("compose", nil); err != nil {
		t.Fatal(err)
	}
	r.settle()
	assertTabReachesAll(t, "Compose", c, c.Content())

	v, q, w := newTestWizard(t, &fakeWizardCore{})
	q.drain()
	assertTabReachesAll(t, "Connection test", w.Canvas(), v.Content())
}

// TestAccountStateHasAnIcon: an account's state is shown by an icon beside
// its words, not by the words' colour alone.
func TestAccountStateHasAnIcon(t *testing.T) {
	if RowStateIcon(AccountStatus{Secret: SecretMissing}) == nil {
		t.Error("no icon for a missing password")
	}
	if RowStateIcon(AccountStatus{Secret: SecretStored, LastTest: "failed"}) == nil {
		t.Error("no icon for a failed test")
	}
	if RowStateIcon(AccountStatus{Secret: SecretStored, LastTest: "passed", LastTestOK: true}) == nil {
		t.Error("no icon for a passed test")
	}
	if RowStateIcon(AccountStatus{Secret: SecretStored}) != nil {
		t.Error("an icon before any test")
	}
	r := startAccounts(t, workProfile()) // password missing
	var icons []*widget.Icon
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch c := o.(type) {
		case *widget.Icon:
			if c.Resource != nil && c.Visible() {
				icons = append(icons, c)
			}
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
	walk(r.accounts.List)
	if len(icons) != 1 {
		t.Fatalf("%d state icons in the list of one account with a missing password", len(icons))
	}
}

// TestComposeStatusHasAnIcon: Sent and Failed show an icon beside the
// words, not colour alone.
func TestComposeStatusHasAnIcon(t *testing.T) {
	r := newRig(t)
	r.shell.Start(t.Context())
	_ = r.shell.Open("compose", nil)
	r.settle()
	if r.compose.statusIcon.Resource != nil {
		t.Fatal("an icon before any send")
	}
	test.Type(r.compose.To, "ann@example.com")
	test.Type(r.compose.Subject, "Hi")
	test.Tap(r.compose.SendButton)
	r.pump("the send", func() bool { return len(r.core.sends()) == 1 && !r.compose.Busy() })
	r.settle()
	if r.compose.statusIcon.Resource == nil {
		t.Fatalf("no icon beside %q", r.compose.Status.Text)
	}
}
