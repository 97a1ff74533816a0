package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/platform/browser"
	"github.com/herald-smtp/herald/ui"
)

// GUICore implements the views' interfaces (ui.AccountsCore,
// ui.ComposeCore) over the shared core: the profile book with the OS
// keychain, the presets and import parsers, the sandbox and the sends.
type GUICore struct {
	c        *core.Core
	notifier ui.Notifier
}

var (
	_ ui.AccountsCore = (*GUICore)(nil)
	_ ui.ComposeCore  = (*GUICore)(nil)
)

// NewGUICore returns the window's adapter over c.
func NewGUICore(c *core.Core) *GUICore { return &GUICore{c: c} }

// Core is the shared core the adapter stands on.
func (g *GUICore) Core() *core.Core { return g.c }

// List implements ui.AccountsCore.
func (g *GUICore) List(ctx context.Context) ([]account.Profile, error) { return g.c.Book.List(ctx) }

// Profiles implements ui.ComposeCore.
func (g *GUICore) Profiles(ctx context.Context) ([]account.Profile, error) { return g.c.Book.List(ctx) }

// Add implements ui.AccountsCore.
func (g *GUICore) Add(ctx context.Context, p *account.Profile) error {
	return g.c.AddProfile(ctx, p, nil)
}

// Update implements ui.AccountsCore.
func (g *GUICore) Update(ctx context.Context, p *account.Profile) error {
	return g.c.UpdateProfile(ctx, p, nil)
}

// Remove implements ui.AccountsCore.
func (g *GUICore) Remove(ctx context.Context, name string, force bool) error {
	if err := g.c.RemoveProfile(ctx, name, force); err != nil {
		return err
	}
	if d, _ := g.c.DefaultProfile(ctx); d == nil {
		_ = g.c.SetDefaultProfile(ctx, nil) // the removed profile was the default
	}
	return nil
}

// Rename implements ui.AccountsCore.
func (g *GUICore) Rename(ctx context.Context, name, newName string) error {
	p, err := g.c.Book.Get(ctx, name)
	if err != nil {
		return err
	}
	p.Name = newName
	return g.Update(ctx, p)
}

// Duplicate implements ui.AccountsCore: the copy gets the original's
// secrets too when the keychain can read them.
func (g *GUICore) Duplicate(ctx context.Context, name, newName string) error {
	p, err := g.c.Book.Get(ctx, name)
	if err != nil {
		return err
	}
	c := *p
	c.ID, c.Name = "", newName
	if err := g.Add(ctx, &c); err != nil {
		return err
	}
	for _, k := range []account.SecretKind{account.SecretPassword, account.SecretRefreshToken, account.SecretDKIMKey, account.SecretClientSecret} {
		if v, err := g.c.Book.Secret(p, k); err == nil {
			_ = g.c.Book.SetSecret(&c, k, v)
		}
	}
	return nil
}

// SetSecret implements ui.AccountsCore.
func (g *GUICore) SetSecret(ctx context.Context, name string, kind account.SecretKind, value string) error {
	p, err := g.c.Book.Get(ctx, name)
	if err != nil {
		return err
	}
	return g.c.SetSecret(p, kind, value)
}

// Status implements ui.AccountsCore: the secret's state and the latest
// connection test.
func (g *GUICore) Status(ctx context.Context, p account.Profile) ui.AccountStatus {
	st := ui.AccountStatus{Secret: g.secretState(p)}
	if p.Auth == account.AuthOAuth2 {
		st.OAuth = ui.OAuthSignInNeeded
		if in, err := g.c.OAuthStatus(ctx, &p, false); err == nil && in.SignedIn {
			st.OAuth = ui.OAuthSignedIn
		}
	}
	if t, err := g.c.LastTest(ctx, p.ID); err == nil {
		st.LastTest, st.LastTestAt, st.LastTestOK = t.Summary, t.Tested, t.OK
	}
	return st
}

func (g *GUICore) secretState(p account.Profile) string {
	switch {
	case !p.PasswordAuth():
		return ui.SecretNotNeeded
	case p.Secret == account.SecretAsk:
		return ui.SecretAskEachTime
	}
	// One keychain read (the password), never its value kept.
	switch _, err := g.c.Book.Secret(&p, account.SecretPassword); {
	case err == nil:
		return ui.SecretStored
	case errors.Is(err, account.ErrNoSecret):
		return ui.SecretMissing
	case errors.Is(err, account.ErrNoKeychain):
		return ui.SecretNoKeychain
	default:
		return ui.SecretUnreadable
	}
}

// Presets implements ui.AccountsCore.
func (g *GUICore) Presets() []account.Preset { return account.Presets() }

// Import implements ui.AccountsCore: JSON, prefs.js or autoconfig XML by
// extension and content; a name already taken gets " 2", " 3"… appended.
func (g *GUICore) Import(ctx context.Context, filename string, data []byte, email string) ([]string, error) {
	ps, err := core.ParseProfiles(filename, data, email)
	if err != nil {
		return nil, err
	}
	return g.c.ImportProfiles(ctx, ps, true)
}

// Export implements ui.AccountsCore (Herald JSON, no secrets).
func (g *GUICore) Export(ctx context.Context, names []string) ([]byte, error) {
	var ps []account.Profile
	for _, n := range names {
		p, err := g.c.Book.Get(ctx, n)
		if err != nil {
			return nil, err
		}
		ps = append(ps, *p)
	}
	var b bytes.Buffer
	if err := account.ExportJSON(&b, ps...); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SetDefault implements ui.AccountsCore ("" : the sandbox).
func (g *GUICore) SetDefault(ctx context.Context, name string) error {
	if name == "" {
		return g.c.SetDefaultProfile(ctx, nil)
	}
	p, err := g.c.Book.Get(ctx, name)
	if err != nil {
		return err
	}
	return g.c.SetDefaultProfile(ctx, p)
}

// Default implements ui.AccountsCore and ui.ComposeCore.
func (g *GUICore) Default(ctx context.Context) string {
	p, err := g.c.DefaultProfile(ctx)
	if err != nil || p == nil {
		return ""
	}
	return p.Name
}

// Watch implements ui.AccountsCore and ui.ComposeCore.
func (g *GUICore) Watch() *feed.Sub { return g.c.Feed.Subscribe(64, feed.Profiles) }

// SandboxTarget implements ui.ComposeCore.
func (g *GUICore) SandboxTarget() string {
	cfg := g.c.SandboxConfig()
	return fmt.Sprintf("Sandbox %s:%d", cfg.Host, cfg.Port)
}

// SandboxFrom implements ui.ComposeCore.
func (g *GUICore) SandboxFrom() string { return "Herald <herald@localhost>" }

// Send implements ui.ComposeCore: "" sends to the sandbox, a profile name
// sends through that profile (its server, fallbacks, From, headers and
// signature) with its keychain password, or the one given (used for this
// send only). The send is recorded in the history and its lines go to the
// feed as they happen.
func (g *GUICore) Send(ctx context.Context, spec ui.SendSpec, d message.Draft, rec *transcript.Recorder) ui.Outcome {
	var p *account.Profile
	if spec.Profile != "" {
		var err error
		if p, err = g.c.Book.Get(ctx, spec.Profile); err != nil {
			return ui.Outcome{Summary: "Not sent: " + err.Error()}
		}
	}
	r, err := g.c.Render(p, d)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + message.Explain(err), Hint: "Correct the fields named above; nothing was sent."}
	}
	cfg, err := g.c.ProfileConfig(p, spec.Password)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + err.Error(), Hint: "Store the password in the Accounts view (Authentication), or type it when you send."}
	}
	cfg.DSN = spec.DSN
	req := core.SendRequest{Profile: p, Config: cfg, Envelope: transport.Envelope{From: r.Envelope.From, To: r.Envelope.To},
		Message: r.Bytes, MessageID: r.MessageID, Subject: r.Subject, Transcript: rec}
	if p != nil {
		req.Fallbacks = core.Fallbacks(p, cfg)
	}
	res := g.c.Send(ctx, req)
	return Outcome(res.Result, r.MessageID, res.Transcript)
}

// Queue implements ui.ComposeCore: the message goes into the outbox, with
// its delivery status notification request, and the window's runner sends
// it when it is due.
func (g *GUICore) Queue(ctx context.Context, profile string, d message.Draft, at time.Time, dsn *transport.DSN) ui.Outcome {
	var p *account.Profile
	if profile != "" {
		var err error
		if p, err = g.c.Book.Get(ctx, profile); err != nil {
			return ui.Outcome{Summary: "Not queued: " + err.Error()}
		}
	}
	id, r, err := g.c.QueueDraftWith(ctx, p, d, core.QueueOptions{SendAt: at, DSN: dsn})
	if err != nil {
		return ui.Outcome{Summary: "Not queued: " + message.Explain(err), Hint: "Correct the fields named above; nothing was queued."}
	}
	when := "to be sent now"
	if !at.IsZero() {
		when = "to be sent " + at.Local().Format("Mon 2 Jan 15:04")
	}
	return ui.Outcome{OK: true, Summary: fmt.Sprintf("Queued as message %d %s (%s).", id, when, r.MessageID)}
}

// SizeLimit implements ui.ComposeCore: the SIZE the profile's server gave
// in its latest connection test.
func (g *GUICore) SizeLimit(ctx context.Context, profile string) int64 {
	if profile == "" {
		return 0
	}
	p, err := g.c.Book.Get(ctx, profile)
	if err != nil {
		return 0
	}
	return g.c.KnownSizeLimit(ctx, p)
}

// SaveDraft implements ui.ComposeCore.
func (g *GUICore) SaveDraft(ctx context.Context, d *ui.ComposeDraft) error {
	s := &core.SavedDraft{ID: d.ID, Profile: d.Profile, Message: d.Message, DSNNotify: d.DSNNotify, DSNReturn: d.DSNReturn,
		DSNEnvID: d.DSNEnvID, Priority: d.Priority, SendAt: d.SendAt}
	id, err := g.c.SaveDraft(ctx, s)
	if err != nil {
		return err
	}
	d.ID = id
	return nil
}

// Drafts implements ui.ComposeCore (the latest 500).
func (g *GUICore) Drafts(ctx context.Context) ([]ui.DraftItem, error) {
	ds, err := g.c.ListDrafts(ctx, 500, 0)
	if err != nil {
		return nil, err
	}
	out := make([]ui.DraftItem, len(ds))
	for i, d := range ds {
		out[i] = ui.DraftItem{ID: d.ID, Profile: d.Profile, Subject: d.Subject, Recipients: d.Recipients, Updated: d.Updated}
	}
	return out, nil
}

// LoadDraft implements ui.ComposeCore.
func (g *GUICore) LoadDraft(ctx context.Context, id int64) (*ui.ComposeDraft, error) {
	s, err := g.c.LoadDraft(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ui.ComposeDraft{ID: s.ID, Profile: s.Profile, Message: s.Message, DSNNotify: s.DSNNotify, DSNReturn: s.DSNReturn,
		DSNEnvID: s.DSNEnvID, Priority: s.Priority, SendAt: s.SendAt}, nil
}

// DeleteDraft implements ui.ComposeCore.
func (g *GUICore) DeleteDraft(ctx context.Context, id int64) error { return g.c.DeleteDraft(ctx, id) }

// WatchDrafts implements ui.ComposeCore.
func (g *GUICore) WatchDrafts() *feed.Sub { return g.c.Feed.Subscribe(64, feed.Drafts) }

// Inbox implements ui.ComposeCore.
func (g *GUICore) Inbox(ctx context.Context) ([]ui.InboxItem, error) {
	msgs, err := g.c.Store.ListSandboxMessages(ctx, 500)
	if err != nil {
		return nil, err
	}
	out := make([]ui.InboxItem, len(msgs))
	for i, m := range msgs {
		out[i] = ui.InboxItem{ID: m.ID, Received: m.Received, From: m.From, To: m.To, Subject: m.Subject, Size: m.Size}
	}
	return out, nil
}

// InboxSource implements ui.ComposeCore.
func (g *GUICore) InboxSource(ctx context.Context, id int64) (string, error) {
	m, err := g.c.Store.SandboxMessage(ctx, id)
	if err != nil {
		return "", err
	}
	return string(m.Raw), nil
}

// InboxUpdates implements ui.ComposeCore: the ids of new captures, from the
// feed.
func (g *GUICore) InboxUpdates() (<-chan int64, func()) {
	sub := g.c.Feed.Subscribe(256, feed.Sandbox)
	ch := make(chan int64, 256)
	go func() {
		defer close(ch)
		for e := range sub.C() {
			if e.ID > 0 {
				select {
				case ch <- e.ID:
				default:
				}
			}
		}
	}()
	return ch, sub.Close
}

// Busy reports whether messages are being sent (the outbox holds claimed
// items), so that quitting asks first.
func (g *GUICore) Busy() bool {
	n, err := g.c.Queue.Counts(context.Background())
	return err == nil && n[queue.Sending] > 0
}

// OAuthSignIn implements ui.OAuthSignIner over the core: the system
// browser (or the device code) signs the profile in.
func (g *GUICore) OAuthSignIn(ctx context.Context, name string, device bool, show func(ui.SignInPrompt)) (string, error) {
	return oauthSignIn(ctx, g.c, browser.Open, name, device, show)
}

// oauthSignIn signs profile name in over c, opening the browser with open.
func oauthSignIn(ctx context.Context, c *core.Core, open func(context.Context, string) error, name string, device bool, show func(ui.SignInPrompt)) (string, error) {
	p, err := c.Book.Get(ctx, name)
	if err != nil {
		return "", err
	}
	o := core.SignInOptions{Device: device,
		OpenBrowser: func(u string) error { return open(ctx, u) },
		ShowURL:     func(u string) { show(ui.SignInPrompt{URL: u}) },
		ShowCode: func(d oauth.DeviceCode) {
			show(ui.SignInPrompt{URL: d.VerificationURI, Code: d.UserCode, Expires: d.Expires})
		},
	}
	in, err := c.SignIn(ctx, p, o)
	if err != nil {
		return "", err
	}
	return in.Account, nil
}
