package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/feed"
)

var errKeyExists = errors.New("the profile already has a DKIM key")

// dkimFake adds the DKIM use-cases to the fake core, with real keys.
type dkimFake struct {
	*fakeCore
	keys map[string][]dkimkey.Key
}

func (f *dkimFake) install(profile string, typs []string, replace bool) ([]dkimkey.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.keys[profile]) > 0 && !replace {
		return nil, errKeyExists
	}
	var keys []dkimkey.Key
	var recs []dkimkey.Record
	for _, t := range typs {
		s, err := dkimkey.Generate(t, 0)
		if err != nil {
			return nil, err
		}
		sel := "s"
		if len(typs) == 2 {
			sel += map[string]string{"rsa": "-rsa", "ed25519": "-ed"}[t]
		}
		k := dkimkey.Key{Selector: sel, Signer: s}
		r, _ := dkimkey.RecordFor(k, "work.example")
		keys, recs = append(keys, k), append(recs, r)
	}
	f.keys[profile] = keys
	i := f.find(profile)
	f.profiles[i].DKIM = &account.DKIM{Domain: "work.example", Selector: keys[0].Selector}
	if len(keys) == 2 {
		f.profiles[i].DKIM.Selector2 = keys[1].Selector
	}
	f.profiles[i].Updated = f.profiles[i].Updated.Add(1e9)
	f.feed.Publish(feed.Event{Topic: feed.Profiles})
	return recs, nil
}

func (f *dkimFake) DKIMGenerate(_ context.Context, profile, typ string, replace bool) ([]dkimkey.Record, error) {
	typs := []string{typ}
	if typ == "both" {
		typs = []string{"rsa", "ed25519"}
	}
	return f.install(profile, typs, replace)
}

func (f *dkimFake) DKIMImport(_ context.Context, profile string, pem []byte, replace bool) ([]dkimkey.Record, error) {
	if _, err := dkimkey.ParsePEM(pem); err != nil {
		return nil, err
	}
	return f.install(profile, []string{"ed25519"}, replace)
}

func (f *dkimFake) DKIMRecords(_ context.Context, profile string) ([]dkimkey.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dkimkey.Record
	for _, k := range f.keys[profile] {
		r, _ := dkimkey.RecordFor(k, "work.example")
		out = append(out, r)
	}
	return out, nil
}

func (f *dkimFake) DKIMCheck(context.Context, string) ([]diagnose.Finding, error) {
	return []diagnose.Finding{{Check: "dkim", Status: diagnose.StatusFail, Finding: "selector s: the published record does not match the signing key: the key is revoked (empty p=)"}}, nil
}

func (f *dkimFake) DKIMKeyExists(err error) bool { return errors.Is(err, errKeyExists) }

func (f *dkimFake) Signs(profile string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys[profile]) > 0
}

func startDKIMRig(t *testing.T) (*rig, *dkimFake) {
	t.Helper()
	r := &rig{t: t, core: newFakeCore(workProfile()), q: make(chan func(), 4096)}
	f := &dkimFake{fakeCore: r.core, keys: map[string][]dkimkey.Key{}}
	a := test.NewTempApp(t)
	do := func(fn func()) { r.q <- fn }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.accounts = NewAccounts(f, do)
	r.compose = NewCompose(f, do)
	r.shell.Register(r.accounts)
	r.shell.Register(r.compose)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	t.Cleanup(r.shell.Stop)
	r.shell.Start(t.Context())
	if err := r.shell.Open("accounts", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the list", func() bool { return len(r.accounts.Rows()) == 1 && r.accounts.List != nil })
	r.settle()
	return r, f
}

func TestSigningSectionGeneratesShowsAndChecks(t *testing.T) {
	r, f := startDKIMRig(t)
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	w := &e.dkim

	e.GenerateDKIM("both", false)
	r.pump("the records", func() bool { return strings.Contains(w.DKIMRecordText.Text, "Name:  s-rsa._domainkey.work.example") })
	if !strings.Contains(w.DKIMRecordText.Text, "Name:  s-ed._domainkey.work.example") || !strings.Contains(w.DKIMRecordText.Text, `Value: "v=DKIM1; k=rsa; p=`) {
		t.Fatalf("records shown:\n%s", w.DKIMRecordText.Text)
	}
	for _, line := range strings.Split(w.DKIMRecordText.Text, "\n") {
		if v, ok := strings.CutPrefix(line, "Value: "); ok {
			for _, q := range strings.Split(v, `" "`) {
				if len(strings.Trim(q, `"`)) > 255 {
					t.Fatalf("a string over 255 bytes: %d", len(q))
				}
			}
		}
	}
	// The editor follows the stored profile: both selectors in one field.
	r.pump("the reloaded editor", func() bool { return e.DKIMSelector.Text == "s-rsa, s-ed" })
	if p, errs := e.read(); len(errs) > 0 || p.DKIM == nil || p.DKIM.Selector2 != "s-ed" {
		t.Fatalf("the editor would save %+v (%v)", p.DKIM, errs)
	}

	// A second generate asks before it replaces the key.
	e.GenerateDKIM("rsa", false)
	r.pump("the question", func() bool { return strings.Contains(w.DKIMResult.Text, "already has a key") })
	if n := len(f.keys["work"]); n != 2 {
		t.Fatalf("the key was replaced without asking (%d keys)", n)
	}

	w.DKIMRecordText.SetText("")
	e.ShowDKIMRecord()
	r.pump("the records again", func() bool { return strings.Contains(w.DKIMRecordText.Text, "s-rsa._domainkey") })

	e.CheckDKIM()
	r.pump("the check", func() bool {
		return strings.Contains(w.DKIMResult.Text, "FAIL: selector s: the published record does not match")
	})

	// Compose shows the DKIM badge for the signing profile only.
	if err := r.shell.Open("compose", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the picker", func() bool { return len(r.compose.Via.Options) == 2 })
	r.compose.Via.SetSelected("work")
	r.pump("the badge", func() bool { return r.compose.DKIMBadge.Visible() })
	r.compose.Via.SetSelected(SandboxChoice)
	if r.compose.DKIMBadge.Visible() {
		t.Fatal("the badge shows for the sandbox")
	}
}

func TestSigningSectionImportsAndNeedsASavedProfile(t *testing.T) {
	r, f := startDKIMRig(t)
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	e.Host.SetText("unsaved.example")
	e.ImportDKIM([]byte("x"), false)
	if !strings.Contains(e.dkim.DKIMResult.Text, "Save or undo your changes first") {
		t.Fatalf("result %q", e.dkim.DKIMResult.Text)
	}
	e.Host.SetText("smtp.work.example")
	e.ImportDKIM([]byte("not a key"), false)
	r.pump("the refusal", func() bool { return strings.Contains(e.dkim.DKIMResult.Text, "Not done: no PEM private key") })
	s, _ := dkimkey.Generate("ed25519", 0)
	pem, _ := dkimkey.MarshalPEM(s)
	e.ImportDKIM(pem, false)
	r.pump("the record", func() bool { return strings.Contains(e.dkim.DKIMRecordText.Text, "k=ed25519") })
	if len(f.keys["work"]) != 1 {
		t.Fatal("not imported")
	}
	if strings.Contains(e.dkim.DKIMRecordText.Text+e.dkim.DKIMResult.Text, strings.Split(string(pem), "\n")[1][:30]) {
		t.Fatal("the private key is shown")
	}
}

// TestDKIMRecordIsReadOnlyAndCopies: the record box takes no Tab (Tab moves
// on) and no typing; its Copy button copies the records.
func TestDKIMRecordIsReadOnlyAndCopies(t *testing.T) {
	r, _ := startDKIMRig(t)
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	w := &e.dkim
	e.GenerateDKIM("both", false)
	r.pump("the records", func() bool { return strings.Contains(w.DKIMRecordText.Text, "s-rsa._domainkey") })
	var box any = w.DKIMRecordText
	if tb, ok := box.(fyne.Tabbable); ok && tb.AcceptsTab() {
		t.Fatal("the DKIM record box takes Tab as a character")
	}
	if d, ok := box.(fyne.Disableable); ok && !d.Disabled() {
		t.Fatal("the DKIM record box is editable")
	}
	top := r.shell.Window().Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no record dialog")
	}
	copyBtn := findButtonDeep(top, "Copy")
	if copyBtn == nil {
		t.Fatal("no Copy button in the record dialog")
	}
	test.Tap(copyBtn)
	if got := fyne.CurrentApp().Clipboard().Content(); got != w.DKIMRecordText.Text {
		t.Fatalf("copied %q, want the records", got)
	}
}
