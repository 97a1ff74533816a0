package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

// TestSplitPositionsAreRemembered: a view's split moved by the user is
// stored when the window quits and restored by the next window.
func TestSplitPositionsAreRemembered(t *testing.T) {
	cases := []struct {
		name  string
		start func(t *testing.T) (*rig, func() fyne.CanvasObject)
	}{
		{"outbox", func(t *testing.T) (*rig, func() fyne.CanvasObject) {
			r := newOutboxRig(t, 2)
			return r.rig, func() fyne.CanvasObject {
				v := NewOutbox(r.fake, func(f func()) { r.q <- f }, OutboxOptions{})
				v.SetHost(r.shell)
				return v.Content()
			}
		}},
		{"bulk", func(t *testing.T) (*rig, func() fyne.CanvasObject) {
			r, f, _ := newBulkRig(t)
			return r, func() fyne.CanvasObject {
				v := NewBulk(f, func(fn func()) { r.q <- fn })
				v.SetHost(r.shell)
				return v.Content()
			}
		}},
		{"history", func(t *testing.T) (*rig, func() fyne.CanvasObject) {
			h := newHistoryRig(t, 2)
			return h.rig, func() fyne.CanvasObject {
				v := NewHistory(h.hist, func(f func()) { h.q <- f })
				v.SetHost(h.shell)
				return v.Content()
			}
		}},
		{"wizard", func(t *testing.T) (*rig, func() fyne.CanvasObject) {
			r := newRig(t)
			do := func(f func()) { r.q <- f }
			win := func() fyne.Window { return r.shell.Window() }
			r.shell.Register(NewWizardView(&fakeWizardCore{}, do, win))
			r.shell.Start(t.Context())
			if err := r.shell.Open("wizard", nil); err != nil {
				t.Fatal(err)
			}
			return r, func() fyne.CanvasObject {
				v := NewWizardView(&fakeWizardCore{}, do, win)
				v.SetHost(r.shell)
				return v.Content()
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, again := tc.start(t)
			sp := firstSplit(r.shell.content.Objects[0])
			if sp == nil {
				t.Fatalf("no split in the %s view", tc.name)
			}
			sp.SetOffset(0.31)
			r.shell.QuitNow()
			next := firstSplit(again())
			if next == nil {
				t.Fatalf("no split in the new %s view", tc.name)
			}
			if next.Offset < 0.30 || next.Offset > 0.32 {
				t.Fatalf("the %s split comes back at %v, want 0.31", tc.name, next.Offset)
			}
		})
	}
}

// firstSplit returns the outermost split under o (nil for none).
func firstSplit(o fyne.CanvasObject) *container.Split {
	switch c := o.(type) {
	case *container.Split:
		return c
	case *fyne.Container:
		for _, ch := range c.Objects {
			if sp := firstSplit(ch); sp != nil {
				return sp
			}
		}
	}
	return nil
}
