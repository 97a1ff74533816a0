package widgets

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

const secret = "hunter2-s3cret"

// shown reports whether the secret is drawn in clear anywhere in o.
func shown(o fyne.CanvasObject) bool {
	for _, c := range test.LaidOutObjects(o) {
		if t, ok := c.(*canvas.Text); ok && strings.Contains(t.Text, secret) {
			return true
		}
	}
	return false
}

// masked reports whether the entry draws the secret as bullets.
func masked(o fyne.CanvasObject) bool {
	for _, c := range test.LaidOutObjects(o) {
		if t, ok := c.(*canvas.Text); ok && t.Text == strings.Repeat("•", len([]rune(secret))) {
			return true
		}
	}
	return false
}

func secretWindow(t *testing.T, e *SecretEntry) (fyne.Window, *widget.Entry) {
	t.Helper()
	test.NewTempApp(t)
	other := widget.NewEntry()
	w := test.NewTempWindow(t, container.NewVBox(e, other))
	w.Resize(fyne.NewSize(400, 200))
	test.Type(e, secret)
	if e.Text != secret {
		t.Fatalf("typed %q", e.Text)
	}
	return w, other
}

func TestSecretEntryShowsOnlyWhileTheEyeIsHeld(t *testing.T) {
	e := NewSecretEntry()
	w, _ := secretWindow(t, e)
	if shown(e) || !masked(e) {
		t.Fatal("the secret is not masked at first")
	}
	eye := e.Eye().(*secretEye)

	eye.MouseDown(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary})
	if !e.Revealed() || !shown(e) {
		t.Fatal("pressing the eye does not show the secret")
	}
	if w.Canvas().Focused() != fyne.Focusable(e) {
		t.Fatal("pressing the eye took the focus from the entry")
	}
	eye.MouseUp(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary})
	if e.Revealed() || shown(e) || !masked(e) {
		t.Fatal("releasing the eye does not mask the secret")
	}

	// Pressed, then the pointer leaves the eye: masked at once.
	eyePos := fyne.CurrentApp().Driver().AbsolutePositionForObject(eye).Add(fyne.NewPos(eye.Size().Width/2, eye.Size().Height/2))
	test.MoveMouse(w.Canvas(), eyePos)
	eye.MouseDown(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary})
	if !shown(e) {
		t.Fatal("pressing the eye again does not show the secret")
	}
	test.MoveMouse(w.Canvas(), fyne.NewPos(5, 5))
	if e.Revealed() || shown(e) {
		t.Fatal("leaving the eye while held does not mask the secret")
	}

	// A tap is a press and a release: nothing stays shown (Fyne's toggle did).
	eye.MouseDown(&desktop.MouseEvent{})
	eye.MouseUp(&desktop.MouseEvent{})
	if e.Revealed() {
		t.Fatal("a click left the secret shown")
	}

	// Disabled: the eye does nothing.
	e.Disable()
	eye.MouseDown(&desktop.MouseEvent{})
	if e.Revealed() {
		t.Fatal("a disabled entry shows its secret")
	}
}

func TestSecretEntryShowsWhileAltF8IsHeld(t *testing.T) {
	e := NewSecretEntry()
	w, other := secretWindow(t, e)
	w.Canvas().Focus(e)

	e.KeyDown(&fyne.KeyEvent{Name: RevealKey})
	if e.Revealed() {
		t.Fatal("F8 without Alt shows the secret")
	}
	e.KeyUp(&fyne.KeyEvent{Name: RevealKey})
	e.KeyDown(&fyne.KeyEvent{Name: desktop.KeyAltLeft})
	e.KeyDown(&fyne.KeyEvent{Name: RevealKey})
	if !e.Revealed() || !shown(e) {
		t.Fatal("holding Alt+F8 does not show the secret")
	}
	e.KeyUp(&fyne.KeyEvent{Name: RevealKey})
	if e.Revealed() || shown(e) {
		t.Fatal("letting go of F8 does not mask the secret")
	}
	e.KeyDown(&fyne.KeyEvent{Name: RevealKey})
	e.KeyUp(&fyne.KeyEvent{Name: desktop.KeyAltLeft})
	if e.Revealed() {
		t.Fatal("letting go of Alt does not mask the secret")
	}
	e.KeyUp(&fyne.KeyEvent{Name: RevealKey})

	e.KeyDown(&fyne.KeyEvent{Name: desktop.KeyAltRight})
	e.KeyDown(&fyne.KeyEvent{Name: RevealKey})
	if !e.Revealed() {
		t.Fatal("Alt+F8 again does not show the secret")
	}
	w.Canvas().Focus(other)
	if e.Revealed() || shown(e) {
		t.Fatal("moving the focus away does not mask the secret")
	}
	// F8 types nothing.
	e.TypedKey(&fyne.KeyEvent{Name: RevealKey})
	if e.Text != secret {
		t.Fatalf("F8 changed the text to %q", e.Text)
	}
}

func TestSecretEntryNeverCopiesTheSecret(t *testing.T) {
	e := NewSecretEntry()
	w, _ := secretWindow(t, e)
	w.Canvas().Focus(e)
	cb := fyne.CurrentApp().Clipboard()
	cb.SetContent("before")

	e.TypedShortcut(&fyne.ShortcutSelectAll{})
	e.TypedShortcut(&fyne.ShortcutCopy{Clipboard: cb})
	if got := cb.Content(); got != "before" {
		t.Fatalf("copy of the masked entry put %q on the clipboard", got)
	}
	// Shown (the eye held), copy and cut still put nothing there.
	e.Eye().(*secretEye).MouseDown(&desktop.MouseEvent{})
	if e.SelectedText() != secret {
		t.Fatalf("selected %q", e.SelectedText())
	}
	e.TypedShortcut(&fyne.ShortcutCopy{Clipboard: cb})
	e.TypedShortcut(&fyne.ShortcutCut{Clipboard: cb})
	if got := cb.Content(); got != "before" {
		t.Fatalf("copy or cut of the shown entry put %q on the clipboard", got)
	}
	if e.Text != secret {
		t.Fatalf("cut removed the text: %q", e.Text)
	}
	// Paste still works.
	e.Eye().(*secretEye).MouseUp(&desktop.MouseEvent{})
	e.SetText("")
	cb.SetContent("pasted")
	e.TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
	if e.Text != "pasted" {
		t.Fatalf("paste gave %q", e.Text)
	}
}

func TestSecretEntryNoRevealHasNoEye(t *testing.T) {
	e := NewSecretEntryNoReveal()
	w, _ := secretWindow(t, e)
	w.Canvas().Focus(e)
	if e.Eye() != nil || e.CanReveal() {
		t.Fatal("the no-reveal entry has an eye")
	}
	for _, o := range test.LaidOutObjects(e) {
		if _, ok := o.(*widget.Icon); ok {
			t.Fatal("an icon is drawn in the no-reveal entry")
		}
		if img, ok := o.(*canvas.Image); ok && img.Visible() && img.Resource != nil {
			t.Fatalf("an image (%s) is drawn in the no-reveal entry: Fyne's toggle?", img.Resource.Name())
		}
	}
	e.KeyDown(&fyne.KeyEvent{Name: desktop.KeyAltLeft})
	e.KeyDown(&fyne.KeyEvent{Name: RevealKey})
	if e.Revealed() || shown(e) || !masked(e) {
		t.Fatal("Alt+F8 shows the secret of the no-reveal entry")
	}
	cb := fyne.CurrentApp().Clipboard()
	cb.SetContent("before")
	e.TypedShortcut(&fyne.ShortcutSelectAll{})
	e.TypedShortcut(&fyne.ShortcutCopy{Clipboard: cb})
	if cb.Content() != "before" {
		t.Fatal("copy put the secret on the clipboard")
	}
}
