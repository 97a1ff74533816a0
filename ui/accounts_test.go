package ui

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
)

func workProfile() account.Profile {
	return account.Profile{Name: "work", FromAddress: "me@work.example", Server: account.Server{Host: "smtp.work.example", Port: 587}, Auth: "plain", Username: "me"}
}

func startAccounts(t *testing.T, ps ...account.Profile) *rig {
	t.Helper()
	r := newRig(t, ps...)
	r.shell.Start(t.Context())
	if err := r.shell.Open("accounts", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the list", func() bool { return len(r.accounts.Rows()) == len(ps) && r.accounts.List != nil })
	r.settle()
	return r
}

func TestAccountsListShowsProfilesAndBadgesFollowEvents(t *testing.T) {
	r := startAccounts(t, workProfile())
	if got := r.accounts.RowBadgesOf("work"); !strings.Contains(got, "Password missing") || !strings.Contains(got, "Not tested") {
		t.Fatalf("badges %q", got)
	}
	if b := r.accounts.Badge(); b != "!1" {
		t.Fatalf("sidebar badge %q, want !1 (one profile cannot send)", b)
	}
	if d := RowDetail(r.core.profiles[0]); d != "smtp.work.example:587 · TLS starttls · auth plain" {
		t.Fatalf("detail %q", d)
	}

	// The CLI stores the password and adds a profile: an event arrives.
	r.core.mu.Lock()
	r.core.secrets["work/password"] = "x"
	p := account.Profile{Name: "cli", FromAddress: "c@example.com", Server: account.Server{Host: "h.example"}, ID: "cli1"}
	p.Normalize()
	r.core.profiles = append(r.core.profiles, p)
	r.core.status["cli"] = AccountStatus{Secret: SecretNoKeychain, LastTest: "failed at auth", LastTestOK: false, LastTestAt: r.accounts.now().Add(-3 * 60 * 60e9)}
	r.core.mu.Unlock()
	r.core.feed.Publish(feed.Event{Topic: feed.Profiles, External: true})
	r.pump("the new profile", func() bool { return len(r.accounts.Rows()) == 2 })
	if got := r.accounts.RowBadgesOf("work"); !strings.Contains(got, "Password stored") {
		t.Fatalf("badge after the event: %q", got)
	}
	if got := r.accounts.RowBadgesOf("cli"); !strings.Contains(got, "Keychain unreachable") || !strings.Contains(got, "Test failed (failed at auth) 3 h ago") {
		t.Fatalf("cli badges %q", got)
	}
	if b := r.accounts.Badge(); b != "!1" {
		t.Fatalf("sidebar badge %q", b)
	}

	// search filters
	test.Type(r.accounts.Search, "cli")
	if got := r.accounts.Rows(); !slices.Equal(got, []string{"cli"}) {
		t.Fatalf("search rows %q", got)
	}
}

func TestAccountsEditorValidatesAtTheField(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	if e.Host.Text != "smtp.work.example" || e.Port.Text != "587" {
		t.Fatalf("editor shows host %q port %q", e.Host.Text, e.Port.Text)
	}
	e.Port.SetText("")
	test.Type(e.Port, "99999")
	if got := e.FieldError("port"); got != "must be from 1 to 65535" {
		t.Fatalf("port error %q", got)
	}
	if !e.SaveBtn.Disabled() || !strings.Contains(e.Summary.Text, "Server › port") {
		t.Fatalf("save enabled %v, summary %q", !e.SaveBtn.Disabled(), e.Summary.Text)
	}
	e.Port.SetText("")
	test.Type(e.Port, "25x")
	if got := e.FieldError("port"); got != "must be a whole number" {
		t.Fatalf("port error %q", got)
	}
	e.Port.SetText("465")
	if e.FieldError("port") != "" || e.SaveBtn.Disabled() {
		t.Fatalf("error stays after the fix: %q", e.FieldError("port"))
	}
	e.From.SetText("")
	test.Type(e.From, "not-an-address")
	if got := e.FieldError("from"); !strings.Contains(got, "missing @") {
		t.Fatalf("from error %q", got)
	}
	e.From.SetText("me@work.example")
	e.TLS.SetSelected("none")
	if got := e.FieldError("tls"); !strings.Contains(got, "credentials in clear") {
		t.Fatalf("tls error %q", got)
	}
	e.AllowInsecure.SetChecked(true)
	if e.FieldError("tls") != "" {
		t.Fatal("the plaintext opt-in did not clear the TLS error")
	}
	test.Type(e.Fallbacks, "backup.example:2525 none\nbroken")
	if got := e.FieldError("fallbacks"); !strings.Contains(got, "line 2") {
		t.Fatalf("fallbacks error %q", got)
	}
	e.Fallbacks.SetText("backup.example:99999 starttls")
	if got := e.FieldError("fallbacks"); !strings.Contains(got, "fallbacks[0].port") {
		t.Fatalf("fallbacks port error %q", got)
	}
	e.Fallbacks.SetText("")
	e.RetryInitial.SetText("soon")
	if got := e.FieldError("retry.initial"); !strings.Contains(got, "duration") {
		t.Fatalf("retry error %q", got)
	}
	e.RetryInitial.SetText("2m")
	e.DKIMDomain.SetText("work.example")
	if got := e.FieldError("dkim.selector"); !strings.Contains(got, "required") {
		t.Fatalf("dkim error %q", got)
	}
	e.DKIMSelector.SetText("s1")
	test.Type(e.Password, "secret-pw")
	test.Tap(e.SaveBtn)
	r.pump("the save", func() bool { return r.core.secret("work", account.SecretPassword) == "secret-pw" })
	r.settle()
	got := r.core.profiles[0]
	if got.Port != 465 || got.TLS != "none" || !got.AllowInsecureAuth || got.Retry == nil || got.Retry.Initial != account.Duration(120e9) || got.DKIM == nil {
		t.Fatalf("stored %+v", got)
	}
	if e.Password.Text != "" {
		t.Fatal("the password stays in the form after saving")
	}
}

func TestAccountsAddFromPresetRenameDuplicateDefaultDelete(t *testing.T) {
	r := startAccounts(t)
	if !r.accounts.Empty.Visible() {
		t.Fatal("no first-run offer with no profiles")
	}
	r.accounts.ShowAddDialog()
	d := r.accounts.addDialog
	test.Type(d.email, "ann@gmail.com")
	test.Type(d.search, "gmail")
	d.list.Select(0)
	test.Tap(d.use)
	e := r.accounts.Editor
	if e.Host.Text != "smtp.gmail.com" || e.Username.Text != "ann@gmail.com" || e.Name.Text != "gmail gmail.com" {
		t.Fatalf("preset gave host %q user %q name %q", e.Host.Text, e.Username.Text, e.Name.Text)
	}
	e.Name.SetText("gmail")
	test.Type(e.Password, "app-pw")
	test.Tap(e.SaveBtn)
	r.pump("the new profile", func() bool { return len(r.accounts.Rows()) == 1 })
	if r.core.secret("gmail", account.SecretPassword) != "app-pw" {
		t.Fatal("password not stored")
	}

	r.accounts.Rename("google")
	r.pump("the rename", func() bool { return slices.Equal(r.accounts.Rows(), []string{"google"}) })
	r.accounts.Duplicate("google 2")
	r.pump("the copy", func() bool { return len(r.accounts.Rows()) == 2 })
	r.accounts.selected = "google"
	r.accounts.SetDefault()
	r.pump("the default", func() bool { return r.accounts.defName == "google" })

	r.core.mu.Lock()
	r.core.status["google 2"] = AccountStatus{Secret: SecretNoKeychain}
	r.core.mu.Unlock()
	r.accounts.Reload()
	r.settle()
	r.accounts.selected = "google 2"
	r.accounts.ConfirmDelete()
	if !strings.Contains(topDialogText(r), "keychain is unreachable") {
		t.Fatalf("delete confirmation does not say the keychain is unreachable: %q", topDialogText(r))
	}
	r.accounts.Delete("google 2", true)
	r.pump("the delete", func() bool { return len(r.accounts.Rows()) == 1 })
	if !r.core.forced || r.core.removed[0] != "google 2" {
		t.Fatalf("removed %q forced %v", r.core.removed, r.core.forced)
	}
}

func TestAccountsImportJSON(t *testing.T) {
	r := startAccounts(t)
	r.accounts.ImportData("team.json", []byte(`{"herald_profiles":1,"profiles":[{"name":"team","from_address":"t@example.com","host":"smtp.example.com","port":587,"tls":"starttls","auth":"auto"}]}`))
	r.pump("the import", func() bool { return len(r.accounts.Rows()) == 1 })
	if !strings.Contains(r.accounts.Message.Text, "Imported 1") {
		t.Fatalf("message %q", r.accounts.Message.Text)
	}
	r.accounts.ImportData("bad.json", []byte(`{`))
	r.pump("the error", func() bool { return strings.Contains(r.accounts.Message.Text, "Nothing imported") })
}

func TestAccountsTestButtonOpensTheWizardOnTheProfile(t *testing.T) {
	r := newRig(t, workProfile())
	w := &stubWizard{}
	r.shell.Register(w)
	r.shell.Start(t.Context())
	_ = r.shell.Open("accounts", nil)
	r.pump("the list", func() bool { return len(r.accounts.Rows()) == 1 })
	r.accounts.List.Select(0)
	test.Tap(r.accounts.Editor.TestBtn)
	if r.shell.Current() != "wizard" || w.arg != (ProfileRef{Name: "work"}) {
		t.Fatalf("view %q arg %#v", r.shell.Current(), w.arg)
	}
}

// topDialogText is the text of the labels in the top overlay.
func topDialogText(r *rig) string {
	top := r.shell.Window().Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	var b strings.Builder
	for _, o := range test.LaidOutObjects(top) {
		switch l := o.(type) {
		case *widget.Label:
			b.WriteString(l.Text + " ")
		case *canvas.Text:
			b.WriteString(l.Text + " ")
		case *widget.RichText:
			b.WriteString(l.String() + " ")
		}
	}
	return b.String()
}

// stubWizard stands in for the connection-test view.
type stubWizard struct{ arg any }

func (w *stubWizard) Name() string               { return "wizard" }
func (w *stubWizard) Title() string              { return "Connection test" }
func (w *stubWizard) Icon() fyne.Resource        { return theme.SearchIcon() }
func (w *stubWizard) Content() fyne.CanvasObject { return widget.NewLabel("wizard") }
func (w *stubWizard) Start(context.Context)      {}
func (w *stubWizard) Stop()                      {}
func (w *stubWizard) OpenWith(arg any) error     { w.arg = arg; return nil }

func TestDroppedProfileFileIsImported(t *testing.T) {
	r := startAccounts(t)
	_ = r.shell.Open("compose", nil)
	path := filepath.Join(t.TempDir(), "dropped.json")
	if err := os.WriteFile(path, []byte(`{"herald_profiles":1,"profiles":[{"name":"dropped","from_address":"d@example.com","host":"smtp.example.com","port":587,"tls":"starttls","auth":"auto"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r.shell.drop([]fyne.URI{storage.NewFileURI(path)})
	if r.shell.Current() != "accounts" {
		t.Fatalf("a dropped profile file shows %q, not the Accounts view", r.shell.Current())
	}
	r.pump("the import", func() bool { return slices.Equal(r.accounts.Rows(), []string{"dropped"}) })

	// Other files are attached to the message in Compose.
	r.shell.drop([]fyne.URI{storage.NewFileURI(filepath.Join(t.TempDir(), "photo.png"))})
	if r.shell.Current() != "compose" || len(r.compose.Attachments) != 1 {
		t.Fatalf("a dropped photo: view %q, %d attachments", r.shell.Current(), len(r.compose.Attachments))
	}
	r.shell.drop([]fyne.URI{storage.NewURI("https://example.com/x.png")})
	if !strings.Contains(r.shell.Status(), "does not know what to do") {
		t.Fatalf("status %q", r.shell.Status())
	}
}

func TestReloadKeepsUnsavedEdits(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	e.Host.SetText("typed.but.not.saved.example")
	r.core.mu.Lock()
	p := account.Profile{Name: "other", FromAddress: "o@example.com", Server: account.Server{Host: "o.example"}, ID: "o1"}
	p.Normalize()
	r.core.profiles = append(r.core.profiles, p)
	r.core.mu.Unlock()
	r.core.feed.Publish(feed.Event{Topic: feed.Profiles, External: true})
	r.pump("the reload", func() bool { return len(r.accounts.Rows()) == 2 })
	r.settle()
	if e.Host.Text != "typed.but.not.saved.example" {
		t.Fatalf("a reload replaced the unsaved host with %q", e.Host.Text)
	}
}

// TestAccountsAskBeforeUnsavedEditsAreLost: choosing another account while
// the editor holds unsaved changes asks first; "No" keeps the changes,
// "Yes" opens the other account.
func TestAccountsAskBeforeUnsavedEditsAreLost(t *testing.T) {
	home := workProfile()
	home.Name, home.FromAddress = "home", "me@home.example"
	r := startAccounts(t, home, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	if e.orig.Name != "home" {
		t.Fatalf("editor opened %q", e.orig.Name)
	}
	e.Host.SetText("smtp.changed.example")
	r.accounts.List.Select(1)
	if r.accounts.Editor.orig.Name != "home" || r.accounts.Editor.Host.Text != "smtp.changed.example" {
		t.Fatal("the unsaved changes were dropped without asking")
	}
	tapButton(t, r.shell.Window().Canvas().Overlays().Top(), "No")
	if r.accounts.Editor.Host.Text != "smtp.changed.example" {
		t.Fatal("No dropped the changes")
	}
	r.accounts.List.Select(1)
	tapButton(t, r.shell.Window().Canvas().Overlays().Top(), "Yes")
	if r.accounts.Editor.orig.Name != "work" {
		t.Fatalf("Yes did not open the other account: %q", r.accounts.Editor.orig.Name)
	}
}
