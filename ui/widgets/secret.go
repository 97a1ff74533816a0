package widgets

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/driver/mobile"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// RevealKey is the key that, held together with Alt while a SecretEntry has
// the focus, shows its text (Alt+F8, as on Windows' sign-in screen).
const RevealKey = fyne.KeyF8

// SecretEntry is a masked entry for a password, token or key. Unlike Fyne's
// password entry, whose eye button is a toggle that stays on, its text shows
// only while the eye is held down (mouse or touch) or while Alt+F8 is held
// with the focus in it: letting go, leaving the eye, losing the focus,
// disabling or hiding the entry masks it again. Copy and Cut never put the
// secret on the clipboard, masked or not (Paste works). A SecretEntry made
// with NewSecretEntryNoReveal has no way to show its text at all.
type SecretEntry struct {
	widget.Entry

	canReveal bool
	revealed  bool
	altDown   bool
	eye       *secretEye
}

// NewSecretEntry returns a masked entry whose text shows only while its eye
// (or Alt+F8) is held.
func NewSecretEntry() *SecretEntry {
	e := &SecretEntry{canReveal: true}
	e.Password = true
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.eye = newSecretEye(e)
	e.ActionItem = e.eye
	e.ExtendBaseWidget(e)
	return e
}

// NewSecretEntryNoReveal returns a masked entry that never shows its text
// (no eye, no key): for secrets typed into a live session.
func NewSecretEntryNoReveal() *SecretEntry {
	e := &SecretEntry{}
	e.Password = true
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	// An empty action item keeps Fyne from adding its reveal toggle.
	none := canvas.NewRectangle(nil)
	none.Hide()
	e.ActionItem = none
	e.ExtendBaseWidget(e)
	return e
}

// Revealed reports whether the text is shown now.
func (e *SecretEntry) Revealed() bool { return e.revealed }

// CanReveal reports whether the entry has a way to show its text.
func (e *SecretEntry) CanReveal() bool { return e.canReveal }

// Eye returns the control that shows the text while held (nil without one).
func (e *SecretEntry) Eye() fyne.CanvasObject {
	if e.eye == nil {
		return nil
	}
	return e.eye
}

// reveal shows (true) or masks (false) the text.
func (e *SecretEntry) reveal(on bool) {
	if on && (!e.canReveal || e.Disabled() || !e.Visible()) {
		return
	}
	if on == e.revealed {
		return
	}
	e.revealed = on
	e.Password = !on
	e.Refresh()
	if e.eye != nil {
		e.eye.Refresh()
	}
}

// TypedShortcut drops Copy and Cut, so that the secret never reaches the
// clipboard; the other shortcuts (Paste, Select all, Undo) work as usual.
func (e *SecretEntry) TypedShortcut(s fyne.Shortcut) {
	switch s.(type) {
	case *fyne.ShortcutCopy, *fyne.ShortcutCut:
		return
	}
	e.Entry.TypedShortcut(s)
}

// TappedSecondary masks the text before the context menu opens, so that
// the menu is the masked entry's (Paste and Select all, no Copy or Cut).
func (e *SecretEntry) TappedSecondary(pe *fyne.PointEvent) {
	e.reveal(false)
	e.Entry.TappedSecondary(pe)
}

// KeyDown shows the text while Alt+F8 is held.
func (e *SecretEntry) KeyDown(k *fyne.KeyEvent) {
	switch k.Name {
	case desktop.KeyAltLeft, desktop.KeyAltRight:
		e.altDown = true
	case RevealKey:
		if e.altDown {
			e.reveal(true)
		}
	}
	e.Entry.KeyDown(k)
}

// KeyUp masks the text again when Alt or F8 is let go.
func (e *SecretEntry) KeyUp(k *fyne.KeyEvent) {
	switch k.Name {
	case desktop.KeyAltLeft, desktop.KeyAltRight:
		e.altDown = false
		e.reveal(false)
	case RevealKey:
		e.reveal(false)
	}
	e.Entry.KeyUp(k)
}

// TypedKey swallows the reveal key, which types nothing.
func (e *SecretEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == RevealKey {
		return
	}
	e.Entry.TypedKey(k)
}

// FocusLost masks the text.
func (e *SecretEntry) FocusLost() {
	e.altDown = false
	e.reveal(false)
	e.Entry.FocusLost()
}

// Disable masks the text and disables the entry.
func (e *SecretEntry) Disable() {
	e.reveal(false)
	e.Entry.Disable()
}

// Hide masks the text and hides the entry.
func (e *SecretEntry) Hide() {
	e.reveal(false)
	e.Entry.Hide()
}

// secretEye is the eye at the end of a SecretEntry: pressed, the text
// shows; released or left, it is masked again.
type secretEye struct {
	widget.BaseWidget
	entry *SecretEntry
	icon  *canvas.Image
}

var (
	_ desktop.Mouseable  = (*secretEye)(nil)
	_ desktop.Hoverable  = (*secretEye)(nil)
	_ desktop.Cursorable = (*secretEye)(nil)
	_ mobile.Touchable   = (*secretEye)(nil)
)

func newSecretEye(e *SecretEntry) *secretEye {
	s := &secretEye{entry: e, icon: canvas.NewImageFromResource(theme.VisibilityOffIcon())}
	s.icon.FillMode = canvas.ImageFillContain
	s.ExtendBaseWidget(s)
	return s
}

// press shows the text and keeps the focus in the entry.
func (s *secretEye) press() {
	if s.entry.Disabled() {
		return
	}
	if c := fyne.CurrentApp().Driver().CanvasForObject(s.entry); c != nil && c.Focused() != fyne.Focusable(s.entry) {
		c.Focus(s.entry)
	}
	s.entry.reveal(true)
}

// MouseDown shows the text while the button is held.
func (s *secretEye) MouseDown(*desktop.MouseEvent) { s.press() }

// MouseUp masks the text.
func (s *secretEye) MouseUp(*desktop.MouseEvent) { s.entry.reveal(false) }

// MouseIn does nothing: hovering shows nothing.
func (s *secretEye) MouseIn(*desktop.MouseEvent) {}

// MouseMoved does nothing.
func (s *secretEye) MouseMoved(*desktop.MouseEvent) {}

// MouseOut masks the text (the pointer left while held).
func (s *secretEye) MouseOut() { s.entry.reveal(false) }

// TouchDown shows the text while touched.
func (s *secretEye) TouchDown(*mobile.TouchEvent) { s.press() }

// TouchUp masks the text.
func (s *secretEye) TouchUp(*mobile.TouchEvent) { s.entry.reveal(false) }

// TouchCancel masks the text.
func (s *secretEye) TouchCancel(*mobile.TouchEvent) { s.entry.reveal(false) }

// Cursor is the pointer: the eye is a control.
func (s *secretEye) Cursor() desktop.Cursor { return desktop.PointerCursor }

// CreateRenderer implements fyne.Widget.
func (s *secretEye) CreateRenderer() fyne.WidgetRenderer {
	return &secretEyeRenderer{WidgetRenderer: widget.NewSimpleRenderer(s.icon), eye: s}
}

type secretEyeRenderer struct {
	fyne.WidgetRenderer
	eye *secretEye
}

func (r *secretEyeRenderer) Layout(size fyne.Size) {
	th := r.eye.entry.Theme()
	n := th.Size(theme.SizeNameInlineIcon)
	r.eye.icon.Resize(fyne.NewSquareSize(n))
	r.eye.icon.Move(fyne.NewPos((size.Width-n)/2, (size.Height-n)/2))
}

func (r *secretEyeRenderer) MinSize() fyne.Size {
	th := r.eye.entry.Theme()
	return fyne.NewSquareSize(th.Size(theme.SizeNameInlineIcon) + th.Size(theme.SizeNameInnerPadding)*2)
}

func (r *secretEyeRenderer) Refresh() {
	th := r.eye.entry.Theme()
	res := th.Icon(theme.IconNameVisibilityOff)
	if r.eye.entry.revealed {
		res = th.Icon(theme.IconNameVisibility)
	}
	if r.eye.entry.Disabled() {
		res = theme.NewDisabledResource(res)
	}
	r.eye.icon.Resource = res
	r.eye.icon.Refresh()
}
