package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/transport"
)

// AccountsCore is what the Accounts view needs from the core. Every method
// may touch the disk or the keychain: the view calls them off the UI
// goroutine.
type AccountsCore interface {
	// List returns every profile, by name.
	List(ctx context.Context) ([]account.Profile, error)
	// Add validates and stores a new profile (assigning its ID).
	Add(ctx context.Context, p *account.Profile) error
	// Update validates and stores p over the profile with p.ID.
	Update(ctx context.Context, p *account.Profile) error
	// Remove deletes the profile and its keychain secrets; with force it is
	// deleted even when the keychain is unreachable (the secrets stay).
	Remove(ctx context.Context, name string, force bool) error
	// Rename gives the profile a new name.
	Rename(ctx context.Context, name, newName string) error
	// Duplicate copies the profile (and its secrets when it can) under newName.
	Duplicate(ctx context.Context, name, newName string) error
	// SetSecret stores one of the profile's secrets in the keychain.
	SetSecret(ctx context.Context, name string, kind account.SecretKind, value string) error
	// Status says how the profile's secret is kept and how its last test went.
	Status(ctx context.Context, p account.Profile) AccountStatus
	// Presets lists the built-in provider presets.
	Presets() []account.Preset
	// Import reads profiles from a file's content (autoconfig XML,
	// Thunderbird prefs.js or Herald JSON, told apart by name and content;
	// email fills autoconfig placeholders) and adds them, returning the
	// names added.
	Import(ctx context.Context, filename string, data []byte, email string) ([]string, error)
	// Export writes the named profiles (no secrets) as Herald JSON.
	Export(ctx context.Context, names []string) ([]byte, error)
	// SetDefault makes name the profile Compose starts with ("" : the sandbox).
	SetDefault(ctx context.Context, name string) error
	// Default returns the default profile's name ("" : the sandbox).
	Default(ctx context.Context) string
	// Watch subscribes to profile changes (feed.Profiles), including those
	// another Herald process makes.
	Watch() *feed.Sub
}

// Secret states of AccountStatus.Secret.
const (
	SecretStored      = "stored"
	SecretMissing     = "missing"
	SecretAskEachTime = "ask"
	SecretNoKeychain  = "keychain unavailable"
	SecretUnreadable  = "unreadable"
	SecretNotNeeded   = "none"
)

// AccountStatus is what the list shows beside a profile.
type AccountStatus struct {
	// Secret is one of the Secret* states.
	Secret string
	// LastTest is the last connection test's result ("passed", "failed at
	// auth"), empty when never tested or unknown; LastTestAt is when.
	LastTest   string
	LastTestAt time.Time
	LastTestOK bool
	// OAuth is the OAuth2 sign-in of an oauth2 profile (OAuthSignedIn or
	// OAuthSignInNeeded), empty for the others.
	OAuth string
}

// OAuth2 states of AccountStatus.OAuth.
const (
	OAuthSignedIn     = "signed in"
	OAuthSignInNeeded = "sign-in needed"
)

// accountRow is one profile in the list, with its status.
type accountRow struct {
	p  account.Profile
	st AccountStatus
}

// Accounts is the Accounts view: the profiles, their status, and an editor.
// Its widgets are exported for tests.
type Accounts struct {
	core AccountsCore
	do   Dispatcher
	host Host

	rows     []accountRow
	shown    []int // indexes into rows after the search filter
	defName  string
	selected string // name of the profile in the editor ("" : new or none)

	Search  *fieldEntry
	List    *widget.List
	Empty   *fyne.Container
	Editor  *ProfileEditor
	AddBtn  *widget.Button
	Message *widget.Label

	content fyne.CanvasObject
	listBox *fyne.Container
	split   *container.Split

	ctx     context.Context
	cancel  context.CancelFunc
	sub     *feed.Sub
	mu      sync.Mutex
	stopped bool

	badgeChanged func()
	addDialog    *addDialog

	// now is the clock for "tested 2 h ago".
	now func() time.Time
}

// NewAccounts returns the Accounts view over core.
func NewAccounts(core AccountsCore, do Dispatcher) *Accounts {
	if do == nil {
		do = fyne.Do
	}
	v := &Accounts{core: core, do: do, now: time.Now}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v
}

// Name implements View.
func (v *Accounts) Name() string { return "accounts" }

// Title implements View.
func (v *Accounts) Title() string { return "Accounts" }

// Icon implements View.
func (v *Accounts) Icon() fyne.Resource { return theme.AccountIcon() }

// SetHost implements Hosted.
func (v *Accounts) SetHost(h Host) { v.host = h }

// Badge implements Badged: the number of profiles whose secret is missing
// or unreadable, which cannot send.
func (v *Accounts) Badge() string {
	n := 0
	for _, r := range v.rows {
		if r.st.Secret == SecretMissing || r.st.Secret == SecretUnreadable || r.st.Secret == SecretNoKeychain || r.st.OAuth == OAuthSignInNeeded {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return "!" + strconv.Itoa(n)
}

// SetBadgeChanged implements Badged.
func (v *Accounts) SetBadgeChanged(f func()) { v.badgeChanged = f }

// Content implements View.
func (v *Accounts) Content() fyne.CanvasObject {
	if v.content != nil {
		return v.content
	}
	v.Search = newField(v.host, "Search accounts (Ctrl+F)")
	v.Search.OnChanged = func(string) { v.filter() }
	v.List = widget.NewList(
		func() int { return len(v.shown) },
		func() fyne.CanvasObject {
			name := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			name.Truncation = fyne.TextTruncateEllipsis
			// Server, TLS mode and auth method on a line of their own,
			// in the caption size: readable in the list's default width.
			from := widget.NewLabel("")
			from.Truncation = fyne.TextTruncateEllipsis
			from.SizeName = theme.SizeNameCaptionText
			server := widget.NewLabel("")
			server.Truncation = fyne.TextTruncateEllipsis
			server.SizeName = theme.SizeNameCaptionText
			badges := widget.NewLabel("")
			badges.Truncation = fyne.TextTruncateEllipsis
			badges.SizeName = theme.SizeNameCaptionText
			// The state's icon beside its words: never colour alone.
			state := container.NewBorder(nil, nil, widget.NewIcon(nil), nil, badges)
			return container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*1.5), name, server, from, state)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(v.shown) {
				return
			}
			r := v.rows[v.shown[id]]
			c := o.(*fyne.Container)
			name := r.p.Name
			if strings.EqualFold(r.p.Name, v.defName) {
				name += "  (default)"
			}
			c.Objects[0].(*widget.Label).SetText(name)
			c.Objects[1].(*widget.Label).SetText(RowDetail(r.p))
			from := "From " + r.p.FromAddress
			if r.p.FromAddress == "" {
				from = "No From address yet"
			}
			c.Objects[2].(*widget.Label).SetText(from)
			state := c.Objects[3].(*fyne.Container)
			b := state.Objects[0].(*widget.Label)
			b.SetText(v.RowBadges(r.p, r.st))
			b.Importance = widget.MediumImportance
			icon := state.Objects[1].(*widget.Icon)
			icon.SetResource(RowStateIcon(r.st))
			if r.st.Secret == SecretMissing || r.st.Secret == SecretNoKeychain || r.st.Secret == SecretUnreadable || (r.st.LastTest != "" && !r.st.LastTestOK) {
				b.Importance = widget.WarningImportance
			}
			b.Refresh()
		},
	)
	v.List.OnSelected = func(id widget.ListItemID) {
		if id >= len(v.shown) {
			return
		}
		p := v.rows[v.shown[id]].p
		e := v.Editor
		if e != nil && !e.isNew && e.orig.ID == p.ID && e.body.Visible() {
			v.selected = p.Name // already open: a reload must not drop unsaved edits
			return
		}
		if e != nil && e.body.Visible() && (e.isNew || e.dirty()) && v.host != nil && v.host.Window() != nil {
			// Unsaved edits of another account: ask before they are lost.
			editing := "the new account"
			if !e.isNew {
				editing = e.orig.Name
			}
			dialog.ShowConfirm("Discard your changes?", fmt.Sprintf("The changes to %s are not saved. Open %s and discard them?", editing, p.Name),
				func(discard bool) {
					if discard {
						v.edit(p)
						return
					}
					v.selectByName(editing)
				}, v.host.Window())
			return
		}
		v.edit(p)
	}
	v.AddBtn = widget.NewButtonWithIcon("Add…", theme.ContentAddIcon(), v.ShowAddDialog)
	v.AddBtn.Importance = widget.HighImportance
	importBtn := widget.NewButtonWithIcon("Import…", theme.FolderOpenIcon(), v.ShowImportDialog)
	exportBtn := widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), v.ShowExportDialog)
	v.Message = widget.NewLabel("")
	v.Message.Wrapping = fyne.TextWrapWord
	v.Message.Hide()

	wizardBtn := widget.NewButtonWithIcon("Set up with the connection test", theme.MediaPlayIcon(), func() { v.openWizard("") })
	wizardBtn.Importance = widget.HighImportance
	intro := widget.NewLabel("No accounts yet. The connection test finds your server from your email address, checks every step and saves a working account. Or start from a provider's preset.")
	intro.Wrapping = fyne.TextWrapWord
	v.Empty = container.NewVBox(widget.NewLabelWithStyle("Welcome to Herald", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), intro,
		container.NewHBox(wizardBtn, widget.NewButton("Add from a preset…", v.ShowAddDialog)))
	v.Empty.Hide()

	top := container.NewVBox(container.NewHBox(v.AddBtn, importBtn, exportBtn), v.Search)
	v.listBox = borderInOrder(top, v.Message, nil, nil, container.NewStack(v.List, container.NewPadded(v.Empty)))

	v.Editor = newProfileEditor(v)
	split := container.NewHSplit(v.listBox, v.Editor.content)
	split.Offset = 0.36
	if v.host != nil {
		split.Offset = v.host.Preferences().FloatWithFallback("accounts.split", 0.36)
	}
	v.split = split
	v.content = split
	return v.content
}

// RowDetail is a profile's second list line: server:port, TLS mode, auth
// method (the From address has a line of its own, so that these fit).
func RowDetail(p account.Profile) string {
	return fmt.Sprintf("%s:%d · TLS %s · auth %s", p.Host, p.Port, p.TLS, p.Auth)
}

// RowBadges is a profile's status line: secret state and last test, in words.
func (v *Accounts) RowBadges(p account.Profile, st AccountStatus) string {
	var parts []string
	switch st.Secret {
	case SecretStored:
		parts = append(parts, "Password stored")
	case SecretMissing:
		parts = append(parts, "Password missing")
	case SecretAskEachTime:
		parts = append(parts, "Password asked each time")
	case SecretNoKeychain:
		parts = append(parts, "Keychain unreachable")
	case SecretUnreadable:
		parts = append(parts, "Password unreadable: store it again")
	case SecretNotNeeded:
		if st.OAuth == "" {
			parts = append(parts, "No password needed")
		}
	}
	switch st.OAuth {
	case OAuthSignedIn:
		parts = append(parts, "OAuth signed in")
	case OAuthSignInNeeded:
		parts = append(parts, "OAuth sign-in needed")
	}
	if st.LastTest == "" {
		parts = append(parts, "Not tested")
	} else {
		word := "Test passed"
		if !st.LastTestOK {
			word = "Test failed"
		}
		s := word
		if st.LastTest != "passed" && st.LastTest != "failed" {
			s += " (" + st.LastTest + ")"
		}
		if !st.LastTestAt.IsZero() {
			s += " " + ago(v.now().Sub(st.LastTestAt))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// Start implements View: it loads the list and watches profile changes,
// coalescing bursts into one reload per 100 ms.
func (v *Accounts) Start(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	v.ctx, v.cancel = context.WithCancel(ctx)
	v.sub = v.core.Watch()
	v.Reload()
	go func(ctx context.Context, c <-chan feed.Event) {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-c:
				if !ok {
					return
				}
			}
			// coalesce: wait a little, then drain what came meanwhile
			t := time.NewTimer(100 * time.Millisecond)
		drain:
			for {
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case _, ok := <-c:
					if !ok {
						break drain
					}
				case <-t.C:
					break drain
				}
			}
			v.Reload()
		}
	}(v.ctx, v.sub.C())
}

// Stop implements View.
func (v *Accounts) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopped = true
	if v.split != nil && v.host != nil {
		v.host.Preferences().SetFloat("accounts.split", v.split.Offset)
	}
	v.cancel()
	if v.sub != nil {
		v.sub.Close()
	}
}

// OpenWith implements Opener: ProfileRef selects that profile in the list
// and opens it in the editor (`herald --view accounts --profile P`).
func (v *Accounts) OpenWith(arg any) error {
	ref, ok := arg.(ProfileRef)
	if !ok {
		return fmt.Errorf("accounts opens on a profile, not %T", arg)
	}
	v.Content()
	v.selected = ref.Name
	v.filter()
	return nil
}

// FocusSearch implements Searchable.
func (v *Accounts) FocusSearch() {
	if v.host != nil {
		v.host.Window().Canvas().Focus(v.Search)
	}
}

// Actions implements Actioner.
func (v *Accounts) Actions() []Action {
	return []Action{
		{Menu: "Account", Label: "Add account…", Do: v.ShowAddDialog},
		{Menu: "Account", Label: "Test selected account", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyT, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}, Do: func() { v.openWizard(v.selected) }, WhenShown: true},
		{Menu: "Account", Label: "Save account", Do: func() { v.pressEditor(func(e *ProfileEditor) *widget.Button { return e.SaveBtn }) }, WhenShown: true},
		{Menu: "Account", Label: "Duplicate account…", Do: func() { v.pressEditor(func(e *ProfileEditor) *widget.Button { return e.DuplicateBtn }) }, WhenShown: true},
		{Menu: "Account", Label: "Rename account…", Do: func() { v.pressEditor(func(e *ProfileEditor) *widget.Button { return e.RenameBtn }) }, WhenShown: true},
		{Menu: "Account", Label: "Delete account…", Do: func() { v.pressEditor(func(e *ProfileEditor) *widget.Button { return e.DeleteBtn }) }, WhenShown: true},
		{Menu: "Account", Label: "Set as default account", Do: func() { v.pressEditor(func(e *ProfileEditor) *widget.Button { return e.DefaultBtn }) }, WhenShown: true},
		{Menu: "File", Label: "Import accounts…", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault}, Do: v.ShowImportDialog},
		{Menu: "File", Label: "Export accounts…", Do: v.ShowExportDialog},
	}
}

// pressEditor presses one of the editor's buttons while it shows an
// account.
func (v *Accounts) pressEditor(button func(*ProfileEditor) *widget.Button) {
	if v.Editor != nil && v.Editor.body.Visible() {
		press(button(v.Editor))
	}
}

// Reload reads the profiles and their status off the UI goroutine and
// shows them.
func (v *Accounts) Reload() {
	ctx := v.ctx
	go func() {
		ps, err := v.core.List(ctx)
		rows := make([]accountRow, len(ps))
		for i, p := range ps {
			rows[i] = accountRow{p: p, st: v.core.Status(ctx, p)}
		}
		def := v.core.Default(ctx)
		v.do(func() {
			if err != nil {
				v.say("Could not read the accounts: "+err.Error(), true)
				return
			}
			v.rows, v.defName = rows, def
			v.filter()
			if v.Editor != nil {
				v.Editor.refreshFromList()
			}
			if v.badgeChanged != nil {
				v.badgeChanged()
			}
		})
	}()
}

func (v *Accounts) filter() {
	if v.List == nil {
		return
	}
	q := strings.ToLower(strings.TrimSpace(v.Search.Text))
	v.shown = v.shown[:0]
	for i, r := range v.rows {
		if q == "" || strings.Contains(strings.ToLower(r.p.Name+" "+r.p.FromAddress+" "+r.p.Host), q) {
			v.shown = append(v.shown, i)
		}
	}
	if len(v.rows) == 0 {
		v.Empty.Show()
	} else {
		v.Empty.Hide()
	}
	v.List.UnselectAll()
	v.List.Refresh()
	for i, idx := range v.shown {
		if v.selected != "" && strings.EqualFold(v.rows[idx].p.Name, v.selected) {
			v.List.Select(i)
		}
	}
}

// Rows returns the names shown in the list, in order (for tests).
func (v *Accounts) Rows() []string {
	var out []string
	for _, i := range v.shown {
		out = append(out, v.rows[i].p.Name)
	}
	return out
}

// RowStateIcon is the icon beside an account's status words: a warning
// when it cannot send or its last test failed, a tick when its last test
// passed, none before a test.
func RowStateIcon(st AccountStatus) fyne.Resource {
	switch {
	case st.Secret == SecretMissing || st.Secret == SecretNoKeychain || st.Secret == SecretUnreadable || (st.LastTest != "" && !st.LastTestOK):
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case st.LastTest != "" && st.LastTestOK:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	}
	return nil
}

// RowBadgesOf returns the status line of the named profile (for tests).
func (v *Accounts) RowBadgesOf(name string) string {
	for _, r := range v.rows {
		if r.p.Name == name {
			return v.RowBadges(r.p, r.st)
		}
	}
	return ""
}

func (v *Accounts) say(s string, bad bool) {
	v.Message.SetText(s)
	v.Message.Importance = widget.MediumImportance
	if bad {
		v.Message.Importance = widget.DangerImportance
	}
	v.Message.Show()
	v.Message.Refresh()
	if v.host != nil {
		v.host.SetStatus(s)
	}
}

func (v *Accounts) window() fyne.Window {
	if v.host == nil {
		return nil
	}
	return v.host.Window()
}

// background runs f off the UI goroutine and then, on it, done with f's error.
func (v *Accounts) background(f func(ctx context.Context) error, done func(error)) {
	ctx := v.ctx
	go func() {
		err := f(ctx)
		v.do(func() { done(err) })
	}()
}

func (v *Accounts) openWizard(name string) {
	if v.host == nil {
		return
	}
	var arg any
	if name != "" {
		arg = ProfileRef{Name: name}
	}
	if err := v.host.Open("wizard", arg); err != nil {
		v.say("The connection test cannot open: "+err.Error(), true)
	}
}

func (v *Accounts) edit(p account.Profile) {
	v.selected = p.Name
	v.Editor.Load(p, false)
}

// ShowAddDialog offers the presets (searchable, with each provider's note
// and link) and a blank profile.
func (v *Accounts) ShowAddDialog() {
	presets := v.core.Presets()
	shown := presets
	var chosen *account.Preset
	search := widget.NewEntry()
	search.SetPlaceHolder("Search providers (Gmail, SES, …)")
	email := widget.NewEntry()
	email.SetPlaceHolder("you@example.com")
	note := widget.NewLabel("Choose a provider to see its notes.")
	note.Wrapping = fyne.TextWrapWord
	link := widget.NewHyperlink("", nil)
	link.Hide()
	list := widget.NewList(func() int { return len(shown) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(shown) {
				o.(*widget.Label).SetText(fmt.Sprintf("%s  (%s:%d)", shown[id].Name, shown[id].Host, shown[id].Port))
			}
		})
	list.OnSelected = func(id widget.ListItemID) {
		if id >= len(shown) {
			return
		}
		p := shown[id]
		chosen = &p
		n := p.Notes
		if n == "" {
			n = "No special requirements."
		}
		note.SetText(p.Name + ": " + n)
		if u, err := url.Parse(p.SetupURL); err == nil && p.SetupURL != "" {
			link.SetText("Provider's setup page")
			link.SetURL(u)
			link.Show()
		} else {
			link.Hide()
		}
	}
	search.OnChanged = func(q string) {
		q = strings.ToLower(q)
		shown = nil
		for _, p := range presets {
			if strings.Contains(strings.ToLower(p.Name+" "+p.ID+" "+strings.Join(p.Domains, " ")+" "+p.Host), q) {
				shown = append(shown, p)
			}
		}
		list.UnselectAll()
		list.Refresh()
		if len(shown) == 1 {
			list.Select(0)
		}
	}
	// The email's domain picks its provider when one serves it (gmail.com).
	email.OnChanged = func(s string) {
		_, dom, ok := strings.Cut(s, "@")
		if !ok || search.Text != "" {
			return
		}
		dom = strings.ToLower(strings.TrimSpace(dom))
		for i, q := range shown {
			if slices.Contains(q.Domains, dom) {
				list.Select(i)
				list.ScrollTo(i)
				return
			}
		}
	}
	var d *dialog.CustomDialog
	usePreset := widget.NewButton("Use this provider", func() {
		if chosen == nil {
			note.SetText("Choose a provider in the list first, or start blank.")
			return
		}
		p := chosen.Apply(strings.TrimSpace(email.Text))
		p.Name = suggestName(chosen.ID, email.Text)
		d.Hide()
		v.selected = ""
		v.List.UnselectAll()
		v.Editor.Load(p, true)
	})
	usePreset.Importance = widget.HighImportance
	blank := widget.NewButton("Blank profile", func() {
		d.Hide()
		v.selected = ""
		v.List.UnselectAll()
		v.Editor.Load(account.Profile{Server: account.Server{Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthAuto, FromAddress: strings.TrimSpace(email.Text)}, true)
	})
	wiz := widget.NewButton("Find my server (connection test)", func() { d.Hide(); v.openWizard("") })
	form := widget.NewForm(widget.NewFormItem("Your email", email))
	body := borderInOrder(container.NewVBox(form, search), container.NewVBox(note, link, container.NewHBox(usePreset, blank, wiz)), nil, nil, list)
	d = dialog.NewCustom("Add an account", "Cancel", body, v.window())
	d.Resize(fyne.NewSize(620, 520))
	d.Show()
	v.window().Canvas().Focus(email)
	v.addDialog = &addDialog{search: search, list: list, email: email, use: usePreset, blank: blank, d: d}
}

// addDialog exposes the open add dialog to tests.
type addDialog struct {
	search, email *widget.Entry
	list          *widget.List
	use, blank    *widget.Button
	d             *dialog.CustomDialog
}

func suggestName(id, email string) string {
	if _, dom, ok := strings.Cut(strings.TrimSpace(email), "@"); ok && dom != "" {
		return id + " " + dom
	}
	return id
}

// Save stores what the editor holds: a new profile or changes, then the
// password when one was typed. It runs the store work off the UI goroutine.
// editorSecrets are the secrets typed into the editor, stored in the
// keychain after the profile (never in it); "" leaves one as it is.
type editorSecrets struct {
	password, dkimKey, clientSecret string
}

func (v *Accounts) save(p account.Profile, isNew bool, oldName string, sec editorSecrets) {
	v.Editor.SaveBtn.Disable()
	v.background(func(ctx context.Context) error {
		var err error
		if isNew {
			err = v.core.Add(ctx, &p)
		} else {
			err = v.core.Update(ctx, &p)
		}
		if err != nil {
			return err
		}
		for _, s := range []struct {
			kind        account.SecretKind
			what, value string
		}{{account.SecretPassword, "the password", sec.password}, {account.SecretDKIMKey, "the DKIM key", sec.dkimKey},
			{account.SecretClientSecret, "the OAuth client secret", sec.clientSecret}} {
			if s.value == "" {
				continue
			}
			if err := v.core.SetSecret(ctx, p.Name, s.kind, s.value); err != nil {
				return fmt.Errorf("saved, but %s was not stored: %w", s.what, err)
			}
		}
		return nil
	}, func(err error) {
		v.Editor.SaveBtn.Enable()
		if err != nil {
			var fe *account.FieldError
			if errors.As(err, &fe) {
				v.Editor.showErrors(map[string]string{fe.Field: fe.Msg})
			}
			v.say("Not saved: "+err.Error(), true)
			if !strings.HasPrefix(err.Error(), "saved,") {
				return
			}
		} else {
			v.say(fmt.Sprintf("Saved %q.", p.Name), false)
		}
		v.selected = p.Name
		v.Editor.Load(p, false)
		v.Reload()
	})
}

// ConfirmDelete asks before deleting the profile in the editor, saying what
// happens to its keychain secrets.
func (v *Accounts) ConfirmDelete() {
	name := v.selected
	if name == "" {
		return
	}
	var st AccountStatus
	for _, r := range v.rows {
		if r.p.Name == name {
			st = r.st
		}
	}
	msg := fmt.Sprintf("Delete the account %q? Its password and other secrets are removed from the system keychain too.", name)
	force := false
	if st.Secret == SecretNoKeychain {
		msg = fmt.Sprintf("Delete the account %q? The system keychain is unreachable, so its secrets cannot be removed now: they stay in the keychain.", name)
		force = true
	}
	dialog.ShowConfirm("Delete account", msg, func(ok bool) {
		if ok {
			v.Delete(name, force)
		}
	}, v.window())
}

// Delete removes the named profile (after the confirmation).
func (v *Accounts) Delete(name string, force bool) {
	v.background(func(ctx context.Context) error { return v.core.Remove(ctx, name, force) }, func(err error) {
		if err != nil {
			v.say("Not deleted: "+err.Error(), true)
			return
		}
		v.say(fmt.Sprintf("Deleted %q and its keychain secrets.", name), false)
		if force {
			v.say(fmt.Sprintf("Deleted %q; the keychain was unreachable, so its secrets may remain there.", name), false)
		}
		v.selected = ""
		v.Editor.Clear()
		v.Reload()
	})
}

// askName asks for a profile name and calls f with it.
func (v *Accounts) askName(title, start string, f func(string)) {
	e := widget.NewEntry()
	e.SetText(start)
	dialog.ShowForm(title, "OK", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", e)}, func(ok bool) {
		if ok && strings.TrimSpace(e.Text) != "" {
			f(strings.TrimSpace(e.Text))
		}
	}, v.window())
}

// Rename renames the profile in the editor to newName.
func (v *Accounts) Rename(newName string) {
	old := v.selected
	v.background(func(ctx context.Context) error { return v.core.Rename(ctx, old, newName) }, func(err error) {
		if err != nil {
			v.say("Not renamed: "+err.Error(), true)
			return
		}
		if strings.EqualFold(v.defName, old) {
			v.background(func(ctx context.Context) error { return v.core.SetDefault(ctx, newName) }, func(error) {})
		}
		v.say(fmt.Sprintf("Renamed %q to %q.", old, newName), false)
		v.selected = newName
		v.Editor.nameChanged(newName)
		v.Reload()
	})
}

// Duplicate copies the profile in the editor as newName.
func (v *Accounts) Duplicate(newName string) {
	old := v.selected
	v.background(func(ctx context.Context) error { return v.core.Duplicate(ctx, old, newName) }, func(err error) {
		if err != nil {
			v.say("Not duplicated: "+err.Error(), true)
			return
		}
		v.say(fmt.Sprintf("Copied %q as %q.", old, newName), false)
		v.selected = newName
		v.Reload()
	})
}

// SetDefault makes the profile in the editor the one Compose starts with.
func (v *Accounts) SetDefault() {
	name := v.selected
	v.background(func(ctx context.Context) error { return v.core.SetDefault(ctx, name) }, func(err error) {
		if err != nil {
			v.say("Not set as default: "+err.Error(), true)
			return
		}
		v.say(fmt.Sprintf("%q is now the default: Compose starts with it.", name), false)
		v.Reload()
	})
}

// importable reports whether a file looks like a profile file.
func importable(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xml", ".js", ".json":
		return true
	}
	return false
}

// ImportData imports one file's content; autoconfig XML asks for the email
// address its placeholders need.
func (v *Accounts) ImportData(filename string, data []byte) {
	run := func(email string) {
		v.background(func(ctx context.Context) error {
			names, err := v.core.Import(ctx, filename, data, email)
			if err == nil {
				v.do(func() {
					v.say(fmt.Sprintf("Imported %d account(s) from %s: %s.", len(names), filepath.Base(filename), strings.Join(names, ", ")), false)
				})
			}
			return err
		}, func(err error) {
			if err != nil {
				v.say("Nothing imported from "+filepath.Base(filename)+": "+err.Error(), true)
				return
			}
			v.Reload()
		})
	}
	if strings.EqualFold(filepath.Ext(filename), ".xml") && v.window() != nil {
		e := widget.NewEntry()
		e.SetPlaceHolder("you@example.com")
		dialog.ShowForm("Import "+filepath.Base(filename), "Import", "Cancel",
			[]*widget.FormItem{widget.NewFormItem("Your email", e)}, func(ok bool) {
				if ok {
					run(strings.TrimSpace(e.Text))
				}
			}, v.window())
		return
	}
	run("")
}

// ShowImportDialog picks a file to import.
func (v *Accounts) ShowImportDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			v.say("Could not open the file: "+err.Error(), true)
			return
		}
		if r == nil {
			return
		}
		go func() { // the disk is read off the UI goroutine
			data, err := readLimited(r, 4<<20)
			r.Close()
			v.do(func() {
				if err != nil {
					v.say("Could not read "+r.URI().Name()+": "+err.Error(), true)
					return
				}
				v.ImportData(r.URI().Name(), data)
			})
		}()
	}, v.window())
	d.SetFilter(storage.NewExtensionFileFilter([]string{".xml", ".js", ".json"}))
	d.Show()
}

// ShowExportDialog saves every profile (no secrets) as Herald JSON.
func (v *Accounts) ShowExportDialog() {
	var names []string
	for _, r := range v.rows {
		names = append(names, r.p.Name)
	}
	if len(names) == 0 {
		v.say("There are no accounts to export.", true)
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			v.say("Could not save: "+err.Error(), true)
			return
		}
		if w == nil {
			return
		}
		v.background(func(ctx context.Context) error {
			defer w.Close()
			data, err := v.core.Export(ctx, names)
			if err != nil {
				return err
			}
			_, err = w.Write(data)
			return err
		}, func(err error) {
			if err != nil {
				v.say("Export failed: "+err.Error(), true)
				return
			}
			v.say(fmt.Sprintf("Exported %d account(s) to %s (no passwords: they stay in the keychain).", len(names), w.URI().Name()), false)
		})
	}, v.window())
	d.SetFileName("herald-accounts.json")
	d.Show()
}

// AcceptsDrop implements DropTarget: profile files (.xml, .js, .json).
func (v *Accounts) AcceptsDrop(uris []fyne.URI) bool {
	for _, u := range uris {
		if !importable(u.Name()) {
			return false
		}
	}
	return len(uris) > 0
}

// Dropped implements DropTarget: each file is imported.
func (v *Accounts) Dropped(uris []fyne.URI) {
	for _, u := range uris {
		u := u
		go func() {
			r, err := storage.Reader(u)
			if err != nil {
				v.do(func() { v.say("Could not open "+u.Name()+": "+err.Error(), true) })
				return
			}
			data, err := readLimited(r, 4<<20)
			r.Close()
			v.do(func() {
				if err != nil {
					v.say("Could not read "+u.Name()+": "+err.Error(), true)
					return
				}
				v.ImportData(u.Name(), data)
			})
		}()
	}
}

// readLimited reads r whole, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d MB: not a profile file", limit>>20)
	}
	return data, nil
}

// selectByName selects the row of the named account (none for a name that
// is not listed, e.g. the new account being edited) without reopening it.
func (v *Accounts) selectByName(name string) {
	for i, idx := range v.shown {
		if strings.EqualFold(v.rows[idx].p.Name, name) {
			v.List.Select(i)
			return
		}
	}
	v.List.UnselectAll()
}
