package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui/widgets"
)

// The editor's tabs, in order.
var editorGroups = []string{"Server", "Sender", "Authentication", "Limits and retries", "Signing", "Advanced"}

// edField is one input of the editor with the error label under it.
type edField struct {
	key   string // the account.FieldError.Field it answers to ("port")
	group int    // index into editorGroups; -1 above the tabs
	obj   fyne.CanvasObject
	err   *widget.Label
	// label and cell are the row's label and input (with its error) in a
	// tab whose rows show and hide (Authentication); label is nil elsewhere.
	label, cell fyne.CanvasObject
}

// ProfileEditor edits one profile: every setting the CLI has, grouped, with
// validation (account.Profile.Validate, the CLI's rules) shown at the field
// as you type. Its inputs are exported for tests.
type ProfileEditor struct {
	v *Accounts

	Title *widget.Label
	Name  *fieldEntry

	Host, Port, Timeout *fieldEntry
	TLS                 *widget.Select
	Fallbacks           *fieldEntry

	From, FromName, ReplyTo *fieldEntry
	Signature, Headers      *fieldEntry

	Auth          *widget.Select
	Username      *fieldEntry
	SecretMode    *widget.Select
	Password      *widgets.SecretEntry
	AllowInsecure *widget.Check
	OAuthProvider *widget.Select
	OAuthClientID *fieldEntry
	// OAuthClientSecret is typed to store the client secret in the keychain
	// (never in the profile), like Password.
	OAuthClientSecret *widgets.SecretEntry
	OAuthTenant       *fieldEntry
	// OAuthAuthURL, OAuthTokenURL, OAuthDeviceURL, OAuthRevokeURL and
	// OAuthScopes (space-separated) are a custom provider's settings.
	OAuthAuthURL, OAuthTokenURL, OAuthDeviceURL, OAuthRevokeURL *fieldEntry
	OAuthScopes                                                 *fieldEntry
	// SignInBtn and SignInCodeBtn sign an OAuth2 profile in (browser, device
	// code); shown where the core can sign in.
	SignInBtn, SignInCodeBtn *widget.Button

	PerMinute, Sessions, PerSession                *fieldEntry
	RetryInitial, RetryMax, RetryGiveUp, RetryWarn *fieldEntry

	DKIMDomain, DKIMSelector *fieldEntry
	DKIMKey                  *widgets.SecretEntry
	dkim                     dkimWidgets

	Helo, CAFile, Pinned *fieldEntry

	Tabs                                                             *container.AppTabs
	Summary                                                          *widget.Label
	SaveBtn, TestBtn, DefaultBtn, DuplicateBtn, RenameBtn, DeleteBtn *widget.Button

	fields  map[string]*edField
	orig    account.Profile // the loaded profile (ID, times, preset, etc.)
	isNew   bool
	loading bool
	content fyne.CanvasObject
	body    *fyne.Container
	blank   *widget.Label
}

const (
	secretKeychainLabel = "Keep it in the system keychain"
	secretAskLabel      = "Ask each time I send"
)

var authChoices = []string{"auto", "none", "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256", "xoauth2", "oauth2"}

func newProfileEditor(v *Accounts) *ProfileEditor {
	e := &ProfileEditor{v: v, fields: map[string]*edField{}}
	entry := func(ph string) *fieldEntry {
		w := newField(v.host, ph)
		w.OnChanged = func(string) { e.changed() }
		return w
	}
	multi := func(ph string) *fieldEntry {
		w := newField(v.host, ph)
		w.MultiLine, w.Wrapping = true, fyne.TextWrapWord
		w.SetMinRowsVisible(3)
		w.OnChanged = func(string) { e.changed() }
		return w
	}
	sel := func(opts []string) *widget.Select {
		s := widget.NewSelect(opts, func(string) { e.changed() })
		return s
	}

	e.Title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	e.Title.Truncation = fyne.TextTruncateEllipsis
	e.Name = entry("A short name, e.g. work")

	e.Host = entry("smtp.example.com")
	e.Port = entry("587")
	e.TLS = sel([]string{"implicit", "starttls", "none"})
	e.Timeout = entry("30s (empty: the default)")
	e.Fallbacks = multi("One per line: host:port tls, e.g. smtp.example.com:587 starttls")

	e.From = entry("you@example.com")
	e.FromName = entry("Your Name")
	e.ReplyTo = entry("optional")
	e.Signature = multi("Added below composed messages")
	e.Headers = multi("One per line: Name: value")

	e.Auth = sel(authChoices)
	e.Username = entry("usually your email address")
	e.SecretMode = sel([]string{secretKeychainLabel, secretAskLabel})
	e.Password = widgets.NewSecretEntry()
	e.Password.SetPlaceHolder("Type to store a new password in the keychain")
	e.AllowInsecure = widget.NewCheck("I understand: send it without TLS", func(bool) { e.changed() })
	e.OAuthProvider = sel([]string{"(none)", "google", "microsoft", "custom"})
	e.OAuthClientID = entry("Client ID of the app you registered (see README)")
	e.OAuthClientSecret = widgets.NewSecretEntry()
	e.OAuthClientSecret.SetPlaceHolder("Type to store it in the keychain (Google gives one)")
	e.OAuthTenant = entry("Microsoft tenant (empty: common)")
	e.OAuthAuthURL = entry("https://idp.example/oauth2/authorize")
	e.OAuthTokenURL = entry("https://idp.example/oauth2/token")
	e.OAuthDeviceURL = entry("optional: https://idp.example/oauth2/device")
	e.OAuthRevokeURL = entry("optional: https://idp.example/oauth2/revoke")
	e.OAuthScopes = entry("Scopes that allow sending mail, separated by spaces")
	e.SignInBtn = widget.NewButtonWithIcon("Sign in", theme.AccountIcon(), func() { e.signIn(false) })
	e.SignInCodeBtn = widget.NewButton("Sign in with a code", func() { e.signIn(true) })

	e.PerMinute = entry("0: no limit")
	e.Sessions = entry("0: the default")
	e.PerSession = entry("0: the default")
	e.RetryInitial = entry("1m (empty: the default)")
	e.RetryMax = entry("1h (empty: the default)")
	e.RetryGiveUp = entry("48h (empty: the default)")
	e.RetryWarn = entry("4h (empty: the default)")

	e.DKIMDomain = entry("example.com (empty: no DKIM signing)")
	e.DKIMSelector = entry("s1 (two keys: s1-rsa, s1-ed)")
	e.DKIMKey = widgets.NewSecretEntry()
	e.DKIMKey.SetPlaceHolder("Paste the PEM private key to store it in the keychain")

	e.Helo = entry("empty: this machine's name")
	e.CAFile = entry("PEM file of extra trusted CAs")
	e.Pinned = entry("64 hex digits; set by the connection test")

	group := func(g int, items ...any) fyne.CanvasObject {
		f := widget.NewForm()
		for i := 0; i < len(items); i += 3 {
			label, key, obj := items[i].(string), items[i+1].(string), items[i+2].(fyne.CanvasObject)
			f.Append(label, e.field(key, g, obj))
		}
		return container.NewVScroll(f)
	}
	// rows is group with rows that can be hidden (showRow): the
	// Authentication tab shows the OAuth2 settings only where they apply.
	rows := func(g int, items ...any) fyne.CanvasObject {
		c := container.New(layout.NewFormLayout())
		for i := 0; i < len(items); i += 3 {
			label, key, obj := items[i].(string), items[i+1].(string), items[i+2].(fyne.CanvasObject)
			l := widget.NewLabelWithStyle(label, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
			cell := e.field(key, g, obj)
			e.fields[key].label, e.fields[key].cell = l, cell
			c.Add(l)
			c.Add(cell)
		}
		return container.NewVScroll(c)
	}
	e.Tabs = container.NewAppTabs(
		container.NewTabItem(editorGroups[0], group(0, "Host", "host", e.Host, "Port", "port", e.Port, "TLS", "tls", e.TLS,
			"Timeout", "timeout", e.Timeout, "Fallbacks", "fallbacks", e.Fallbacks)),
		container.NewTabItem(editorGroups[1], group(1, "From address", "from", e.From, "From name", "from-name", e.FromName,
			"Reply-To", "reply-to", e.ReplyTo, "Signature", "signature", e.Signature, "Extra headers", "headers", e.Headers)),
		container.NewTabItem(editorGroups[2], rows(2, "Method", "auth", e.Auth, "Username", "username", e.Username,
			"Password", "secret", e.SecretMode, "", "password", e.Password, "Plaintext", "allow-insecure-auth", e.AllowInsecure,
			"OAuth provider", "oauth", e.OAuthProvider, "OAuth client ID", "oauth.client-id", e.OAuthClientID,
			"Client secret", "oauth.client-secret", e.OAuthClientSecret, "Tenant", "oauth.tenant", e.OAuthTenant,
			"Authorization URL", "oauth.auth-url", e.OAuthAuthURL, "Token URL", "oauth.token-url", e.OAuthTokenURL,
			"Device URL", "oauth.device-url", e.OAuthDeviceURL, "Revocation URL", "oauth.revoke-url", e.OAuthRevokeURL,
			"Scopes", "oauth.scopes", e.OAuthScopes,
			"OAuth sign-in", "oauth.sign-in", container.NewHBox(e.SignInBtn, e.SignInCodeBtn))),
		container.NewTabItem(editorGroups[3], group(3, "Per minute", "limits.per-minute", e.PerMinute, "Sessions", "limits.sessions", e.Sessions,
			"Per session", "limits.per-session", e.PerSession, "First retry", "retry.initial", e.RetryInitial, "Longest wait", "retry.max", e.RetryMax,
			"Give up after", "retry.give-up-after", e.RetryGiveUp, "Warn after", "retry.warn-after", e.RetryWarn)),
		container.NewTabItem(editorGroups[4], group(4, "DKIM domain", "dkim.domain", e.DKIMDomain, "Selector", "dkim.selector", e.DKIMSelector,
			"Private key", "dkim.key", e.DKIMKey, "Key and DNS", "dkim.actions", e.dkimSection())),
		container.NewTabItem(editorGroups[5], group(5, "HELO name", "helo", e.Helo, "CA file", "ca-file", e.CAFile,
			"Pinned certificate", "pinned-sha256", e.Pinned)),
	)

	e.Summary = widget.NewLabel("")
	e.Summary.Wrapping = fyne.TextWrapWord
	e.Summary.Importance = widget.DangerImportance
	e.Summary.Hide()
	e.SaveBtn = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), e.Save)
	e.SaveBtn.Importance = widget.HighImportance
	e.TestBtn = widget.NewButtonWithIcon("Test", theme.MediaPlayIcon(), func() { v.openWizard(e.orig.Name) })
	e.DefaultBtn = widget.NewButton("Set as default", v.SetDefault)
	e.DuplicateBtn = widget.NewButtonWithIcon("Duplicate", theme.ContentCopyIcon(), func() {
		v.askName("Duplicate "+e.orig.Name, e.orig.Name+" copy", v.Duplicate)
	})
	e.RenameBtn = widget.NewButton("Rename", func() { v.askName("Rename "+e.orig.Name, e.orig.Name, v.Rename) })
	e.DeleteBtn = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), v.ConfirmDelete)
	e.DeleteBtn.Importance = widget.DangerImportance

	nameField := e.field("name", -1, e.Name)
	top := container.NewVBox(e.Title, widget.NewForm(widget.NewFormItem("Name", nameField)))
	// Two rows, so that every button shows in a 900 px window.
	bottom := container.NewVBox(e.Summary, container.NewHBox(e.SaveBtn, e.TestBtn),
		container.NewHBox(e.DefaultBtn, e.DuplicateBtn, e.RenameBtn, e.DeleteBtn))
	e.body = borderInOrder(top, bottom, nil, nil, e.Tabs)
	e.blank = widget.NewLabel("Choose an account on the left, or add one.")
	e.blank.Wrapping = fyne.TextWrapWord
	e.content = container.NewStack(e.body, container.NewPadded(e.blank))
	e.Clear()
	return e
}

// field wraps obj with an error label below it and records it under key.
func (e *ProfileEditor) field(key string, group int, obj fyne.CanvasObject) fyne.CanvasObject {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	l.Hide()
	e.fields[key] = &edField{key: key, group: group, obj: obj, err: l}
	return container.NewVBox(obj, l)
}

// FieldError returns the error shown under the field key ("" : none).
func (e *ProfileEditor) FieldError(key string) string {
	f := e.fields[fieldKey(key)]
	if f == nil || !f.err.Visible() {
		return ""
	}
	return f.err.Text
}

// fieldKey maps an account.FieldError.Field to the editor field showing it:
// the fallbacks' "fallbacks[1].port" goes to "fallbacks".
func fieldKey(k string) string {
	if strings.HasPrefix(k, "fallbacks[") {
		return "fallbacks"
	}
	if k == "oauth.provider" {
		return "oauth"
	}
	return k
}

// Clear empties the editor (nothing selected).
func (e *ProfileEditor) Clear() {
	e.orig, e.isNew = account.Profile{}, false
	e.body.Hide()
	e.blank.Show()
}

// Load fills the editor with p; isNew marks a profile not stored yet.
func (e *ProfileEditor) Load(p account.Profile, isNew bool) {
	e.loading = true
	defer func() { e.loading = false; e.changed() }()
	e.orig, e.isNew = p, isNew
	e.blank.Hide()
	e.body.Show()
	if isNew {
		e.Title.SetText("New account (not saved yet)")
	} else {
		e.Title.SetText("Account " + p.Name)
	}
	for _, b := range []*widget.Button{e.TestBtn, e.DefaultBtn, e.DuplicateBtn, e.RenameBtn, e.DeleteBtn} {
		if isNew {
			b.Disable()
		} else {
			b.Enable()
		}
	}
	e.Name.SetText(p.Name)
	e.Host.SetText(p.Host)
	e.Port.SetText(intText(p.Port))
	e.TLS.SetSelected(string(p.TLS))
	e.Timeout.SetText(durText(p.Timeout))
	var fb []string
	for _, s := range p.Fallbacks {
		fb = append(fb, fmt.Sprintf("%s %s", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.TLS))
	}
	e.Fallbacks.SetText(strings.Join(fb, "\n"))
	e.From.SetText(p.FromAddress)
	e.FromName.SetText(p.FromName)
	e.ReplyTo.SetText(p.ReplyTo)
	e.Signature.SetText(p.Signature)
	var hs []string
	for _, h := range p.Headers {
		hs = append(hs, h.Name+": "+h.Value)
	}
	e.Headers.SetText(strings.Join(hs, "\n"))
	auth := string(p.Auth)
	if auth == "" {
		auth = "auto"
	}
	e.Auth.SetSelected(auth)
	e.Username.SetText(p.Username)
	if p.Secret == account.SecretAsk {
		e.SecretMode.SetSelected(secretAskLabel)
	} else {
		e.SecretMode.SetSelected(secretKeychainLabel)
	}
	e.Password.SetText("")
	e.AllowInsecure.SetChecked(p.AllowInsecureAuth)
	o := account.OAuth{Provider: "(none)"}
	if p.OAuth != nil {
		o = *p.OAuth
	}
	e.OAuthProvider.SetSelected(o.Provider)
	e.OAuthClientID.SetText(o.ClientID)
	e.OAuthClientSecret.SetText("")
	e.OAuthTenant.SetText(o.TenantID)
	e.OAuthAuthURL.SetText(o.AuthURL)
	e.OAuthTokenURL.SetText(o.TokenURL)
	e.OAuthDeviceURL.SetText(o.DeviceURL)
	e.OAuthRevokeURL.SetText(o.RevokeURL)
	e.OAuthScopes.SetText(strings.Join(o.Scopes, " "))
	e.PerMinute.SetText(intText(p.Limits.PerMinute))
	e.Sessions.SetText(intText(p.Limits.Sessions))
	e.PerSession.SetText(intText(p.Limits.PerSession))
	r := account.RetrySettings{}
	if p.Retry != nil {
		r = *p.Retry
	}
	e.RetryInitial.SetText(durText(r.Initial))
	e.RetryMax.SetText(durText(r.Max))
	e.RetryGiveUp.SetText(durText(r.GiveUpAfter))
	e.RetryWarn.SetText(durText(r.WarnAfter))
	if p.DKIM != nil {
		e.DKIMDomain.SetText(p.DKIM.Domain)
		e.DKIMSelector.SetText(strings.Join(p.DKIM.Selectors(), ", "))
	} else {
		e.DKIMDomain.SetText("")
		e.DKIMSelector.SetText("")
	}
	e.DKIMKey.SetText("")
	e.Helo.SetText(p.HeloName)
	e.CAFile.SetText(p.CAFile)
	e.Pinned.SetText(p.PinnedSHA256)
	e.signInButtons()
}

// nameChanged follows a rename without losing edits.
func (e *ProfileEditor) nameChanged(name string) {
	e.orig.Name = name
	e.Title.SetText("Account " + name)
	e.Name.SetText(name)
}

// refreshFromList reloads the shown profile when it changed elsewhere (the
// CLI) and the user has no unsaved edits.
func (e *ProfileEditor) refreshFromList() {
	if e.isNew || e.orig.ID == "" {
		return
	}
	for _, r := range e.v.rows {
		if r.p.ID == e.orig.ID {
			if !r.p.Updated.Equal(e.orig.Updated) && !e.dirty() {
				e.v.selected = r.p.Name
				e.Load(r.p, false)
			}
			return
		}
	}
	// deleted elsewhere
	e.v.selected = ""
	e.Clear()
}

// dirty reports unsaved edits.
func (e *ProfileEditor) dirty() bool {
	p, errs := e.read()
	if len(errs) > 0 || e.Password.Text != "" || e.DKIMKey.Text != "" || e.OAuthClientSecret.Text != "" {
		return true
	}
	a, b := p, e.orig
	a.Normalize()
	b.Normalize()
	// As JSON: %+v would compare the addresses of DKIM, OAuth and Retry.
	ja, erra := json.Marshal(stripTimes(a))
	jb, errb := json.Marshal(stripTimes(b))
	return erra != nil || errb != nil || !bytes.Equal(ja, jb)
}

func stripTimes(p account.Profile) account.Profile {
	p.Created, p.Updated = time.Time{}, time.Time{}
	if p.Retry != nil && *p.Retry == (account.RetrySettings{}) {
		p.Retry = nil
	}
	return p
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func durText(d account.Duration) string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

// read builds a profile from the inputs; errs holds the inputs that do not
// parse (a port that is not a number), keyed like account.FieldError.Field.
func (e *ProfileEditor) read() (account.Profile, map[string]string) {
	errs := map[string]string{}
	p := e.orig
	num := func(key string, w *fieldEntry) int {
		s := strings.TrimSpace(w.Text)
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs[key] = "must be a whole number"
		}
		return n
	}
	dur := func(key string, w *fieldEntry) account.Duration {
		s := strings.TrimSpace(w.Text)
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs[key] = "must be a duration such as 30s, 5m or 2h"
		}
		return account.Duration(d)
	}
	p.Name = e.Name.Text
	p.Host = strings.TrimSpace(e.Host.Text)
	p.Port = num("port", e.Port)
	p.TLS = transport.TLSMode(e.TLS.Selected)
	p.Timeout = dur("timeout", e.Timeout)
	p.Fallbacks = nil
	for i, line := range nonEmptyLines(e.Fallbacks.Text) {
		f := strings.Fields(line)
		host, port, err := net.SplitHostPort(f[0])
		if err != nil {
			errs["fallbacks"] = fmt.Sprintf("line %d: write host:port, then optionally the TLS mode", i+1)
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			errs["fallbacks"] = fmt.Sprintf("line %d: the port must be a number", i+1)
		}
		s := account.Server{Host: host, Port: n}
		if len(f) > 1 {
			s.TLS = transport.TLSMode(f[1])
		} else if n == 465 {
			s.TLS = transport.TLSImplicit
		} else {
			s.TLS = transport.TLSStartTLS
		}
		p.Fallbacks = append(p.Fallbacks, s)
	}
	p.FromAddress = strings.TrimSpace(e.From.Text)
	p.FromName = e.FromName.Text
	p.ReplyTo = strings.TrimSpace(e.ReplyTo.Text)
	p.Signature = e.Signature.Text
	p.Headers = nil
	for i, line := range nonEmptyLines(e.Headers.Text) {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			errs["headers"] = fmt.Sprintf("line %d: write Name: value", i+1)
			continue
		}
		p.Headers = append(p.Headers, message.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val)})
	}
	p.Auth = transport.AuthMethod(e.Auth.Selected)
	p.Username = strings.TrimSpace(e.Username.Text)
	p.Secret = account.SecretKeychain
	if e.SecretMode.Selected == secretAskLabel {
		p.Secret = account.SecretAsk
	}
	p.AllowInsecureAuth = e.AllowInsecure.Checked
	p.OAuth = nil
	if prov := e.OAuthProvider.Selected; prov != "" && prov != "(none)" {
		o := account.OAuth{Provider: prov, ClientID: strings.TrimSpace(e.OAuthClientID.Text), TenantID: strings.TrimSpace(e.OAuthTenant.Text)}
		switch {
		case prov == "custom":
			o.AuthURL, o.TokenURL = strings.TrimSpace(e.OAuthAuthURL.Text), strings.TrimSpace(e.OAuthTokenURL.Text)
			o.DeviceURL, o.RevokeURL = strings.TrimSpace(e.OAuthDeviceURL.Text), strings.TrimSpace(e.OAuthRevokeURL.Text)
			o.Scopes = strings.Fields(e.OAuthScopes.Text)
		case e.orig.OAuth != nil && e.orig.OAuth.Provider == prov:
			// A built-in provider's endpoints are known: what the
			// profile has (set by the CLI) is kept as it is.
			o.AuthURL, o.TokenURL, o.Scopes = e.orig.OAuth.AuthURL, e.orig.OAuth.TokenURL, e.orig.OAuth.Scopes
			o.DeviceURL, o.RevokeURL = e.orig.OAuth.DeviceURL, e.orig.OAuth.RevokeURL
		}
		p.OAuth = &o
	}
	p.Limits = account.Limits{PerMinute: num("limits.per-minute", e.PerMinute), Sessions: num("limits.sessions", e.Sessions), PerSession: num("limits.per-session", e.PerSession)}
	r := account.RetrySettings{Initial: dur("retry.initial", e.RetryInitial), Max: dur("retry.max", e.RetryMax),
		GiveUpAfter: dur("retry.give-up-after", e.RetryGiveUp), WarnAfter: dur("retry.warn-after", e.RetryWarn)}
	p.Retry = nil
	if r != (account.RetrySettings{}) {
		p.Retry = &r
	}
	p.DKIM = nil
	if d, s := strings.TrimSpace(e.DKIMDomain.Text), strings.TrimSpace(e.DKIMSelector.Text); d != "" || s != "" {
		s1, s2, _ := strings.Cut(s, ",") // two keys: "s-rsa, s-ed"
		p.DKIM = &account.DKIM{Domain: d, Selector: strings.TrimSpace(s1), Selector2: strings.TrimSpace(s2)}
	}
	p.HeloName = strings.TrimSpace(e.Helo.Text)
	p.CAFile = strings.TrimSpace(e.CAFile.Text)
	p.PinnedSHA256 = strings.TrimSpace(e.Pinned.Text)
	return p, errs
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Check validates the inputs with the CLI's rules and shows the problem at
// its field; it returns the profile when valid.
func (e *ProfileEditor) Check() (account.Profile, bool) {
	p, errs := e.read()
	if len(errs) == 0 {
		c := p
		c.Normalize()
		if err := c.Validate(); err != nil {
			if fe, ok := err.(*account.FieldError); ok {
				errs[fe.Field] = fe.Msg
			} else {
				errs["name"] = err.Error()
			}
		}
		checkOAuth(c, errs)
	}
	e.showErrors(errs)
	return p, len(errs) == 0
}

// showErrors puts each message under its field and a summary above the
// buttons naming the tab, since the field may be on a tab not shown.
func (e *ProfileEditor) showErrors(errs map[string]string) {
	for _, f := range e.fields {
		f.err.Hide()
	}
	var sum []string
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg := errs[k]
		f := e.fields[fieldKey(k)]
		if f == nil {
			f = e.fields["name"]
		}
		text := msg
		if fieldKey(k) != k {
			text = k + ": " + msg
		}
		f.err.SetText(text)
		f.err.Show()
		where := "Name"
		if f.group >= 0 {
			where = editorGroups[f.group]
		}
		sum = append(sum, fmt.Sprintf("%s › %s: %s", where, k, msg))
	}
	if len(sum) == 0 {
		e.Summary.Hide()
		e.SaveBtn.Enable()
		return
	}
	e.Summary.SetText("To fix before saving: " + strings.Join(sum, "; "))
	e.Summary.Show()
	e.SaveBtn.Disable()
}

func (e *ProfileEditor) changed() {
	if e.loading || !e.body.Visible() {
		return
	}
	e.signInButtons()
	e.oauthRows()
	e.Check()
}

// oauthRows shows the OAuth2 rows where they apply: the provider for the
// oauth2 method (or while one is set), the client ID and secret once a
// provider is chosen, the tenant for Microsoft, the endpoints and scopes
// for a custom provider, the sign-in where its buttons show.
func (e *ProfileEditor) oauthRows() {
	prov := e.OAuthProvider.Selected
	set := prov != "" && prov != "(none)"
	on := e.Auth.Selected == string(account.AuthOAuth2) || set
	e.showRow("oauth", on)
	e.showRow("oauth.client-id", on && set)
	e.showRow("oauth.client-secret", on && set)
	e.showRow("oauth.tenant", on && prov == "microsoft")
	for _, k := range []string{"oauth.auth-url", "oauth.token-url", "oauth.device-url", "oauth.revoke-url", "oauth.scopes"} {
		e.showRow(k, on && prov == "custom")
	}
	e.showRow("oauth.sign-in", e.SignInBtn.Visible() || e.SignInCodeBtn.Visible())
}

// showRow shows or hides the row of key (label, input and error).
func (e *ProfileEditor) showRow(key string, on bool) {
	f := e.fields[key]
	if f == nil || f.label == nil {
		return
	}
	for _, o := range []fyne.CanvasObject{f.label, f.cell} {
		if on {
			o.Show()
		} else {
			o.Hide()
		}
	}
}

// RowShown reports whether the row of key is shown (tests).
func (e *ProfileEditor) RowShown(key string) bool {
	f := e.fields[key]
	return f != nil && f.cell != nil && f.cell.Visible()
}

// checkOAuth adds the problems of an oauth2 profile's OAuth2 settings, each
// at its field: the rules engine/oauth's Config.Validate applies when
// signing in (a client ID; for a custom provider its authorization or
// device URL, token URL and scopes; endpoints on https except loopback).
func checkOAuth(p account.Profile, errs map[string]string) {
	if p.Auth != account.AuthOAuth2 {
		return
	}
	o := p.OAuth
	if o == nil {
		errs["oauth"] = "choose the provider you sign in with: google, microsoft or custom"
		return
	}
	if o.ClientID == "" {
		errs["oauth.client-id"] = "required: the client ID of the application you registered with the provider"
	}
	if o.Provider == "custom" {
		if o.AuthURL == "" && o.DeviceURL == "" {
			errs["oauth.auth-url"] = "required (or the device URL): the provider's authorization endpoint"
		}
		if o.TokenURL == "" {
			errs["oauth.token-url"] = "required: the provider's token endpoint"
		}
		if len(o.Scopes) == 0 {
			errs["oauth.scopes"] = "required: the scopes that allow sending mail, separated by spaces"
		}
		for _, u := range []struct{ key, v string }{{"oauth.auth-url", o.AuthURL}, {"oauth.token-url", o.TokenURL}, {"oauth.device-url", o.DeviceURL}, {"oauth.revoke-url", o.RevokeURL}} {
			if u.v == "" {
				continue
			}
			if err := oauth.CheckEndpoint(u.v); err != nil {
				errs[u.key] = err.Error()
			}
		}
	}
	if len(errs) > 0 {
		return
	}
	prov, err := oauth.ParseProvider(o.Provider)
	if err == nil {
		cfg := oauth.Config{Provider: prov, ClientID: o.ClientID, Tenant: o.TenantID, AuthURL: o.AuthURL, TokenURL: o.TokenURL,
			DeviceURL: o.DeviceURL, RevokeURL: o.RevokeURL, Scopes: o.Scopes}
		err = cfg.Validate()
	}
	if err != nil {
		errs["oauth"] = err.Error()
	}
}

// signInButtons shows the sign-in buttons for a saved OAuth2 profile when
// the core can sign in (the code button only where the provider has a
// device flow).
func (e *ProfileEditor) signInButtons() {
	_, can := e.v.core.(OAuthSignIner)
	oauth2 := can && e.Auth.Selected == string(account.AuthOAuth2) && e.OAuthProvider.Selected != "" && e.OAuthProvider.Selected != "(none)"
	for _, b := range []*widget.Button{e.SignInBtn, e.SignInCodeBtn} {
		if oauth2 {
			b.Show()
		} else {
			b.Hide()
		}
	}
	if e.OAuthProvider.Selected == "google" {
		e.SignInCodeBtn.Hide() // Google refuses the device flow for mail
	}
	if e.OAuthProvider.Selected == "custom" && strings.TrimSpace(e.OAuthDeviceURL.Text) == "" {
		e.SignInCodeBtn.Hide() // no device endpoint given
	}
	if e.OAuthProvider.Selected == "custom" && strings.TrimSpace(e.OAuthAuthURL.Text) == "" {
		e.SignInBtn.Hide() // no authorization endpoint: device flow only
	}
}

// signIn signs the loaded profile in (it must be saved first).
func (e *ProfileEditor) signIn(device bool) {
	s, ok := e.v.core.(OAuthSignIner)
	if !ok || e.v.host == nil {
		return
	}
	if e.isNew || e.dirty() {
		e.v.host.SetStatus("Save the account before signing in")
		return
	}
	name := e.orig.Name
	ShowSignIn(e.v.host.Window(), e.v.do, s, name, device, func(who string, err error) {
		e.v.host.SetStatus(signInResult(name, who, err))
	})
}

// Save validates and stores the profile, and the password when one was typed.
func (e *ProfileEditor) Save() {
	p, ok := e.Check()
	if !ok {
		return
	}
	p.Normalize()
	e.v.save(p, e.isNew, e.orig.Name, editorSecrets{password: e.Password.Text, dkimKey: e.DKIMKey.Text, clientSecret: strings.TrimSpace(e.OAuthClientSecret.Text)})
	e.Password.SetText("")
	e.DKIMKey.SetText("")
	e.OAuthClientSecret.SetText("")
}

// fieldEntry is an Entry on which Tab moves to the next field, even when it
// is multi-line (a tab is never typed into the text), and F1 shows the help
// instead of being swallowed.
type fieldEntry struct {
	widget.Entry
	onHelp func()
}

// newField returns a one-line fieldEntry whose F1 shows host's help.
func newField(host Host, placeholder string) *fieldEntry {
	e := newFieldEntry(false)
	e.SetPlaceHolder(placeholder)
	if host != nil {
		e.onHelp = host.ShowHelp
	}
	return e
}

func newFieldEntry(multiLine bool) *fieldEntry {
	e := &fieldEntry{}
	e.MultiLine = multiLine
	if multiLine {
		e.Wrapping = fyne.TextWrapWord
	}
	e.ExtendBaseWidget(e)
	return e
}

// AcceptsTab implements fyne.Tabbable: never.
func (e *fieldEntry) AcceptsTab() bool { return false }

// TypedKey shows the help on F1.
func (e *fieldEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyF1 && e.onHelp != nil {
		e.onHelp()
		return
	}
	e.Entry.TypedKey(k)
}

// TypedRune drops a tab a driver may still hand over as a rune.
func (e *fieldEntry) TypedRune(r rune) {
	if r == '\t' {
		return
	}
	e.Entry.TypedRune(r)
}
