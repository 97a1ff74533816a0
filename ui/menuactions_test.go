package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/feed"
)

// menuItem finds the menu bar's item labelled label.
func menuItem(w fyne.Window, label string) *fyne.MenuItem {
	if w.MainMenu() == nil {
		return nil
	}
	var find func(items []*fyne.MenuItem) *fyne.MenuItem
	find = func(items []*fyne.MenuItem) *fyne.MenuItem {
		for _, it := range items {
			if it.Label == label {
				return it
			}
			if it.ChildMenu != nil {
				if f := find(it.ChildMenu.Items); f != nil {
					return f
				}
			}
		}
		return nil
	}
	for _, m := range w.MainMenu().Items {
		if it := find(m.Items); it != nil {
			return it
		}
	}
	return nil
}

// assertMenuPresses opens view, and checks that the menu item labelled
// label (and its shortcut, when it has one) runs the handler of button b.
func assertMenuPresses(t *testing.T, r *rig, view, label string, b *widget.Button) {
	t.Helper()
	if err := r.shell.Open(view, nil); err != nil {
		t.Fatal(err)
	}
	r.settle()
	it := menuItem(r.shell.Window(), label)
	if it == nil {
		t.Fatalf("%s: no menu item %q", view, label)
	}
	b.Show()
	b.Enable()
	old := b.OnTapped
	defer func() { b.OnTapped = old }()
	n := 0
	b.OnTapped = func() { n++ }
	it.Action()
	if n != 1 {
		t.Fatalf("%s: the menu item %q did not press %q", view, label, b.Text)
	}
	if it.Shortcut != nil {
		r.shortcut(it.Shortcut)
		if n != 2 {
			t.Fatalf("%s: the shortcut of %q did not press %q", view, label, b.Text)
		}
	}
}

func TestMenuOffersTheOutboxActions(t *testing.T) {
	r := newOutboxRig(t, 3)
	v := r.view
	for label, b := range map[string]*widget.Button{
		"Retry the selected messages now":                  v.RetryButton,
		"Cancel the selected messages":                     v.CancelButton,
		"Hold the selected messages":                       v.HoldButton,
		"Release the selected messages":                    v.ReleaseButton,
		"Edit a copy of the selected message…":             v.EditButton,
		"Attempts and transcript of the selected message…": v.TranscriptButton,
	} {
		assertMenuPresses(t, r.rig, "outbox", label, b)
	}
}

func TestMenuOffersTheHistoryActions(t *testing.T) {
	h := newHistoryRig(t, 3)
	v := h.view
	assertMenuPresses(t, h.rig, "history", "Export the message as .eml…", v.ExportBtn)
	assertMenuPresses(t, h.rig, "history", "Resend the message…", v.Resend)
	assertMenuPresses(t, h.rig, "history", "Redirect the message…", v.RedirectBtn)
}

func TestMenuOffersTheSandboxActions(t *testing.T) {
	r := newSandboxRig(t, 2)
	v := r.view
	assertMenuPresses(t, r.rig, "sandbox", "Start or stop the sandbox", v.StartStop)
	assertMenuPresses(t, r.rig, "sandbox", "Sandbox settings…", v.Settings)
	assertMenuPresses(t, r.rig, "sandbox", "Clear the sandbox inbox…", v.Clear)
	assertMenuPresses(t, r.rig, "sandbox", "Delete the sandbox message", v.Delete)
}

func TestMenuOffersTheBulkActions(t *testing.T) {
	r, _, v := newBulkRig(t)
	assertMenuPresses(t, r, "bulk", "Check and preview the bulk send", v.PreviewButton)
	assertMenuPresses(t, r, "bulk", "Queue the bulk send…", v.QueueButton)
}

func TestMenuOffersTheConsoleActions(t *testing.T) {
	r, _, v := newConsoleRig(t)
	assertMenuPresses(t, r, "console", "Connect or disconnect the console", v.ConnectButton)
	assertMenuPresses(t, r, "console", "Copy the console session", v.CopyButton)
	assertMenuPresses(t, r, "console", "Save the console session…", v.SaveButton)
}

func TestMenuOffersTheAccountAndComposeActions(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	r.settle()
	e := r.accounts.Editor
	assertMenuPresses(t, r, "accounts", "Save account", e.SaveBtn)
	assertMenuPresses(t, r, "accounts", "Duplicate account…", e.DuplicateBtn)
	assertMenuPresses(t, r, "accounts", "Rename account…", e.RenameBtn)
	assertMenuPresses(t, r, "accounts", "Delete account…", e.DeleteBtn)
	assertMenuPresses(t, r, "accounts", "Set as default account", e.DefaultBtn)
	_ = r.shell.Open("compose", nil)
	assertMenuPresses(t, r, "compose", "Discard the message…", r.compose.DiscardButton)

}

// TestMessageMenuKeepsLaterViewsInSubmenus: Compose's items stay at the
// top of the Message menu; the Outbox's and History's go in submenus of
// their names, so that the menu fits the window.
func TestMessageMenuKeepsLaterViewsInSubmenus(t *testing.T) {
	h := newHistoryRig(t, 1)
	h.shell.Register(NewOutbox(newFakeOutbox(1), func(f func()) { h.q <- f }, OutboxOptions{}))
	var msg *fyne.Menu
	for _, m := range h.shell.Window().MainMenu().Items {
		if m.Label == "Message" {
			msg = m
		}
	}
	if msg == nil {
		t.Fatal("no Message menu")
	}
	top := map[string]*fyne.MenuItem{}
	for _, it := range msg.Items {
		top[it.Label] = it
	}
	if top["Send"] == nil || top["Save draft"] == nil {
		t.Fatal("Compose's items are not at the top of the Message menu")
	}
	for _, sub := range []string{"History", "Outbox"} {
		if it := top[sub]; it == nil || it.ChildMenu == nil || len(it.ChildMenu.Items) < 3 {
			t.Fatalf("no %s submenu in the Message menu", sub)
		}
	}
	if top["Resend the message…"] != nil {
		t.Fatal("History's items are at the top of the Message menu")
	}
	if len(msg.Items) > 16 {
		t.Fatalf("the Message menu has %d items", len(msg.Items))
	}
}

// TestMenuShortcutsAreUnique: the menu bar runs the first item with a
// shortcut whatever view is shown, so no two items may share one.
func TestMenuShortcutsAreUnique(t *testing.T) {
	r := newRig(t)
	do := func(f func()) { r.q <- f }
	r.shell.Register(NewOutbox(newFakeOutbox(1), do, OutboxOptions{}))
	r.shell.Register(NewHistory(newFakeHistory(1), do))
	r.shell.Register(NewLiveLog(&fakeLogCore{feed: feed.New()}, do, LiveLogOptions{}))
	r.shell.Register(NewSandbox(newFakeSandbox(1), do))
	r.shell.Register(NewBulk(&fakeBulk{}, do))
	r.shell.Register(NewConsole(&fakeConsole{}, do))
	seen := map[string]string{}
	var walk func(items []*fyne.MenuItem)
	walk = func(items []*fyne.MenuItem) {
		for _, it := range items {
			if it.Shortcut != nil {
				k := it.Shortcut.ShortcutName()
				if other, ok := seen[k]; ok {
					t.Errorf("%q and %q share the shortcut %s", other, it.Label, k)
				}
				seen[k] = it.Label
			}
			if it.ChildMenu != nil {
				walk(it.ChildMenu.Items)
			}
		}
	}
	for _, m := range r.shell.Window().MainMenu().Items {
		walk(m.Items)
	}
	if len(seen) < 20 {
		t.Fatalf("only %d shortcuts in the menu bar", len(seen))
	}
}

// TestAccountMenuWaitsForAnAccount: with no account open the editor's
// menu items do nothing.
func TestAccountMenuWaitsForAnAccount(t *testing.T) {
	r := startAccounts(t, workProfile())
	e := r.accounts.Editor
	n := 0
	e.DeleteBtn.OnTapped = func() { n++ }
	menuItem(r.shell.Window(), "Delete account…").Action()
	if n != 0 {
		t.Fatal("Delete account… ran with no account open")
	}
}
