package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
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
	for _, k := range []account.SecretKind{account.SecretPassword, account.SecretRefreshToken, account.SecretDKIMKey} {
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
	var ps []account.Profile
	var err error
	trim := bytes.TrimSpace(data)
	ext := strings.ToLower(filepath.Ext(filename))
	switch {
	case ext == ".json" || bytes.HasPrefix(trim, []byte("{")):
		ps, err = account.ImportJSON(bytes.NewReader(data))
	case ext == ".js" || bytes.Contains(data, []byte("user_pref(")):
		ps, err = account.ParsePrefsJS(bytes.NewReader(data))
	default:
		ps, err = account.ParseAutoconfig(bytes.NewReader(data), email)
	}
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("the file holds no outgoing server")
	}
	var names []string
	for i := range ps {
		p := ps[i]
		base := p.Name
		for n := 2; ; n++ {
			err = g.c.AddProfile(ctx, &p, nil)
			if !errors.Is(err, account.ErrExists) || n > 50 {
				break
			}
			p.Name = fmt.Sprintf("%s %d", base, n)
		}
		if err != nil {
			return names, fmt.Errorf("%s: %w", base, err)
		}
		names = append(names, p.Name)
	}
	return names, nil
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
// signature) with its keychain password, or the one given. The send is
// recorded in the history and its lines go to the feed as they happen.
func (g *GUICore) Send(ctx context.Context, profile, password string, d message.Draft, rec *transcript.Recorder) ui.Outcome {
	var p *account.Profile
	if profile != "" {
		var err error
		if p, err = g.c.Book.Get(ctx, profile); err != nil {
			return ui.Outcome{Summary: "Not sent: " + err.Error()}
		}
	}
	r, err := core.Compose(p, d)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + message.Explain(err), Hint: "Correct the fields named above; nothing was sent."}
	}
	cfg, err := g.c.ProfileConfig(p, password)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + err.Error(), Hint: "Store the password in the Accounts view (Authentication), or type it when you send."}
	}
	req := core.SendRequest{Profile: p, Config: cfg, Envelope: transport.Envelope{From: r.Envelope.From, To: r.Envelope.To},
		Message: r.Bytes, MessageID: r.MessageID, Subject: r.Subject, Transcript: rec}
	if p != nil {
		req.Fallbacks = core.Fallbacks(p, cfg)
	}
	res := g.c.Send(ctx, req)
	return Outcome(res.Result, r.MessageID, res.Transcript)
}

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
