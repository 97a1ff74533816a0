package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// focusedAfter focuses from, moves the focus forward (or back) once, and
// returns what has it then.
func focusedAfter(cv fyne.Canvas, from fyne.Focusable, back bool) fyne.Focusable {
	cv.Focus(from)
	if back {
		cv.FocusPrevious()
	} else {
		cv.FocusNext()
	}
	return cv.Focused()
}

func TestComposeTabFromSubjectGoesToTheMessageText(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	cv := r.shell.Window().Canvas()
	if got := focusedAfter(cv, c.Subject, false); got != c.Body.Entry {
		t.Fatalf("Tab from Subject went to %T, not the message text", got)
	}
	if got := focusedAfter(cv, c.Body.Entry, true); got != c.Subject {
		t.Fatalf("Shift+Tab from the message text went to %T, not Subject", got)
	}
	// The visual order of the head: the profile, From, To, Cc, Bcc, Subject.
	order := []fyne.Focusable{c.Via, c.From, c.To, c.Cc, c.Bcc, c.Subject, c.Body.Entry}
	for i := 0; i+1 < len(order); i++ {
		if got := focusedAfter(cv, order[i], false); got != order[i+1] {
			t.Fatalf("Tab from field %d went to %T, not field %d", i, got, i+1)
		}
	}
}

// assertTabInto fails unless Tab from `from` lands on a control inside
// `into` (the centre of a form, shown below or beside from).
func assertTabInto(t *testing.T, where string, cv fyne.Canvas, from fyne.Focusable, into fyne.CanvasObject) {
	t.Helper()
	got := focusedAfter(cv, from, false)
	for _, f := range focusables(into) {
		if f == got {
			return
		}
	}
	if got == nil {
		t.Fatalf("%s: Tab from %s lost the focus", where, describe(from))
	}
	t.Fatalf("%s: Tab from %s went to %s, past the part below it", where, describe(from), describe(got))
}

func TestComposeTabFromAttachGoesToTheList(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	c.Tabs.SelectIndex(2)
	r.settle()
	attach := findButtonDeep(c.Tabs.Selected().Content, "Attach files…")
	assertTabInto(t, "Compose attachments", r.shell.Window().Canvas(), attach, c.AttachList)
}

func TestAccountsTabOrderFollowsTheLayout(t *testing.T) {
	r := startAccounts(t, workProfile())
	cv := r.shell.Window().Canvas()
	v := r.accounts
	assertTabInto(t, "Accounts list", cv, v.Search, v.List)
	v.List.Select(0)
	r.settle()
	e := v.Editor
	assertTabInto(t, "Accounts editor", cv, e.Name, e.Tabs)
}

func TestConsoleTabFromConnectGoesToTheSession(t *testing.T) {
	r, _, v := newConsoleRig(t)
	assertTabInto(t, "Console", r.shell.Window().Canvas(), v.ConnectButton, v.Lines)
}

func TestHistoryTabOrderFollowsTheLayout(t *testing.T) {
	h := newHistoryRig(t, 5)
	cv := h.shell.Window().Canvas()
	assertTabInto(t, "History list", cv, h.view.Until, h.view.List)
}

func TestOutboxTabFromFiltersGoesToTheTable(t *testing.T) {
	r := newOutboxRig(t, 5)
	assertTabInto(t, "Outbox", r.shell.Window().Canvas(), r.view.BatchFilter, r.view.Table)
}

func TestSandboxTabOrderFollowsTheLayout(t *testing.T) {
	r := newSandboxRig(t, 3)
	cv := r.shell.Window().Canvas()
	v := r.view
	assertTabInto(t, "Sandbox list", cv, v.Search, v.List)
	assertTabInto(t, "Sandbox top", cv, v.Clear, v.Search)
}

func TestLiveLogTabFromFiltersGoesToTheLines(t *testing.T) {
	r := newLogRig(t, LiveLogOptions{})
	assertTabInto(t, "Live log", r.win.Canvas(), r.view.Session, r.view.List)
}

func TestBulkTabFromOnlyBadGoesToTheTable(t *testing.T) {
	r, _, v := newBulkRig(t)
	v.Tabs.SelectIndex(1)
	r.settle()
	assertTabInto(t, "Bulk recipients", r.shell.Window().Canvas(), v.OnlyBad, v.Table)
}

func TestWizardTabFromTestAgainGoesToTheSteps(t *testing.T) {
	core := &fakeWizardCore{probe: func(ctx context.Context, pt ProbeTarget, on func(WizardStep)) *WizardReport {
		rep := &WizardReport{Target: pt.Server(), OK: true}
		for _, n := range allSteps {
			s := passStep(n)
			on(s)
			rep.Steps = append(rep.Steps, s)
		}
		return rep
	}}
	v, q, w := newTestWizard(t, core)
	v.TestProfile(profile())
	waitFor(t, q, "the probe", func() bool { return v.Report() != nil && !v.running })
	assertTabInto(t, "Connection test", w.Canvas(), v.RetestButton, v.Steps)
}

func TestAddAccountDialogTabFromSearchGoesToTheProviders(t *testing.T) {
	r := startAccounts(t)
	r.accounts.ShowAddDialog()
	cv := r.shell.Window().Canvas()
	top := cv.Overlays().Top()
	if top == nil {
		t.Fatal("no dialog")
	}
	var search fyne.Focusable
	var list fyne.CanvasObject
	for _, f := range focusables(top) {
		switch w := f.(type) {
		case *widget.Entry:
			if strings.HasPrefix(w.PlaceHolder, "Search providers") {
				search = w
			}
		case *widget.List:
			list = w
		}
	}
	if search == nil || list == nil {
		t.Fatal("the dialog has no provider search or list")
	}
	assertTabInto(t, "Add an account", cv, search, list)
}
