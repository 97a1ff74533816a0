package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/platform/keychain"
	"github.com/herald-smtp/herald/ui"
)

// GUICore implements the views' interfaces (ui.AccountsCore,
// ui.ComposeCore) directly over the engine: the profile book with the OS
// keychain, the presets and import parsers, the sandbox and the transport.
// It is thin on purpose: the lead moves this logic into the shared core.
type GUICore struct {
	core    *Core
	sandbox *Backend
	book    *account.Book
	feed    *feed.Feed

	mu   sync.Mutex
	seen string // fingerprint of the profiles last seen, to notice the CLI's changes
}

var (
	_ ui.AccountsCore = (*GUICore)(nil)
	_ ui.ComposeCore  = (*GUICore)(nil)
)

// NewGUICore returns the window's core over core, keeping secrets in sec
// (nil: the OS keychain).
func NewGUICore(core *Core, sec account.Secrets) *GUICore {
	if sec == nil {
		sec = osSecrets{keychain.New()}
	}
	return &GUICore{core: core, sandbox: NewBackend(core), book: account.NewBook(core.Store, sec), feed: feed.New()}
}

// Feed is the event feed the views watch.
func (g *GUICore) Feed() *feed.Feed { return g.feed }

// WatchStore publishes a feed.Profiles event (External) whenever the
// profiles in the store change behind the window's back (the CLI on the
// same data directory), checking every interval until ctx ends.
func (g *GUICore) WatchStore(ctx context.Context, interval time.Duration) {
	g.changed(ctx, false)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				g.changed(ctx, true)
			}
		}
	}()
}

// changed compares the stored profiles with the last look and publishes
// when they differ (and publish is set).
func (g *GUICore) changed(ctx context.Context, publish bool) {
	ps, err := g.book.List(ctx)
	if err != nil {
		return
	}
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%s/%d;", p.ID, p.Name, p.Updated.UnixNano())
	}
	g.mu.Lock()
	diff := b.String() != g.seen
	g.seen = b.String()
	g.mu.Unlock()
	if diff && publish {
		g.feed.Publish(feed.Event{Topic: feed.Profiles, External: true})
	}
}

func (g *GUICore) publish(ctx context.Context, p *account.Profile) {
	id := ""
	if p != nil {
		id = p.ID
	}
	g.changed(ctx, false) // our own change: do not report it again as external
	g.feed.Publish(feed.Event{Topic: feed.Profiles, Profile: id})
}

// List implements ui.AccountsCore.
func (g *GUICore) List(ctx context.Context) ([]account.Profile, error) { return g.book.List(ctx) }

// Profiles implements ui.ComposeCore.
func (g *GUICore) Profiles(ctx context.Context) ([]account.Profile, error) { return g.book.List(ctx) }

// Add implements ui.AccountsCore.
func (g *GUICore) Add(ctx context.Context, p *account.Profile) error {
	if err := g.book.Add(ctx, p); err != nil {
		return err
	}
	g.publish(ctx, p)
	return nil
}

// Update implements ui.AccountsCore.
func (g *GUICore) Update(ctx context.Context, p *account.Profile) error {
	if err := g.book.Update(ctx, p); err != nil {
		return err
	}
	g.publish(ctx, p)
	return nil
}

// Remove implements ui.AccountsCore.
func (g *GUICore) Remove(ctx context.Context, name string, force bool) error {
	p, err := g.book.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := g.book.Remove(ctx, name, force); err != nil {
		return err
	}
	if id, _ := g.defaultID(); id == p.ID {
		_ = g.SetDefault(ctx, "")
	}
	g.publish(ctx, p)
	return nil
}

// Rename implements ui.AccountsCore.
func (g *GUICore) Rename(ctx context.Context, name, newName string) error {
	p, err := g.book.Get(ctx, name)
	if err != nil {
		return err
	}
	p.Name = newName
	return g.Update(ctx, p)
}

// Duplicate implements ui.AccountsCore: the copy gets the original's
// secrets too when the keychain can read them.
func (g *GUICore) Duplicate(ctx context.Context, name, newName string) error {
	p, err := g.book.Get(ctx, name)
	if err != nil {
		return err
	}
	c := *p
	c.ID, c.Name = "", newName
	if err := g.Add(ctx, &c); err != nil {
		return err
	}
	for _, k := range []account.SecretKind{account.SecretPassword, account.SecretRefreshToken, account.SecretDKIMKey} {
		if v, err := g.book.Secret(p, k); err == nil {
			_ = g.book.SetSecret(&c, k, v)
		}
	}
	return nil
}

// SetSecret implements ui.AccountsCore.
func (g *GUICore) SetSecret(ctx context.Context, name string, kind account.SecretKind, value string) error {
	p, err := g.book.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := g.book.SetSecret(p, kind, value); err != nil {
		return err
	}
	g.feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID})
	return nil
}

// Status implements ui.AccountsCore. The last test is not recorded by the
// engine yet, so it stays empty.
func (g *GUICore) Status(_ context.Context, p account.Profile) ui.AccountStatus {
	switch {
	case !p.PasswordAuth():
		return ui.AccountStatus{Secret: ui.SecretNotNeeded}
	case p.Secret == account.SecretAsk:
		return ui.AccountStatus{Secret: ui.SecretAskEachTime}
	}
	// One keychain read (the password), never its value kept.
	switch _, err := g.book.Secret(&p, account.SecretPassword); {
	case err == nil:
		return ui.AccountStatus{Secret: ui.SecretStored}
	case errors.Is(err, account.ErrNoSecret):
		return ui.AccountStatus{Secret: ui.SecretMissing}
	case errors.Is(err, account.ErrNoKeychain):
		return ui.AccountStatus{Secret: ui.SecretNoKeychain}
	default:
		return ui.AccountStatus{Secret: ui.SecretUnreadable}
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
			err = g.book.Add(ctx, &p)
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
	g.publish(ctx, nil)
	return names, nil
}

// Export implements ui.AccountsCore (Herald JSON, no secrets).
func (g *GUICore) Export(ctx context.Context, names []string) ([]byte, error) {
	var ps []account.Profile
	for _, n := range names {
		p, err := g.book.Get(ctx, n)
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

// defaultFile keeps the default profile's ID (not its name, which may
// change). The lead may move it into the store's settings.
func (g *GUICore) defaultFile() string { return filepath.Join(g.core.DataDir, "default-profile") }

func (g *GUICore) defaultID() (string, error) {
	b, err := os.ReadFile(g.defaultFile())
	return strings.TrimSpace(string(b)), err
}

// SetDefault implements ui.AccountsCore.
func (g *GUICore) SetDefault(ctx context.Context, name string) error {
	if name == "" {
		if err := os.Remove(g.defaultFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	p, err := g.book.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(g.defaultFile(), []byte(p.ID+"\n"), 0o600); err != nil {
		return fmt.Errorf("remember the default profile: %w", err)
	}
	g.feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID})
	return nil
}

// Default implements ui.AccountsCore and ui.ComposeCore.
func (g *GUICore) Default(ctx context.Context) string {
	id, err := g.defaultID()
	if err != nil || id == "" {
		return ""
	}
	p, err := g.book.GetByID(ctx, id)
	if err != nil {
		return ""
	}
	return p.Name
}

// Watch implements ui.AccountsCore and ui.ComposeCore.
func (g *GUICore) Watch() *feed.Sub { return g.feed.Subscribe(64, feed.Profiles) }

// SandboxTarget implements ui.ComposeCore.
func (g *GUICore) SandboxTarget() string { return g.sandbox.Target() }

// SandboxFrom implements ui.ComposeCore.
func (g *GUICore) SandboxFrom() string { return g.sandbox.DefaultFrom() }

// Send implements ui.ComposeCore: "" sends to the sandbox, a profile name
// sends through that profile's server with its keychain password (or the
// one given).
func (g *GUICore) Send(ctx context.Context, profile, password string, d message.Draft, rec *transcript.Recorder) ui.Outcome {
	if profile == "" {
		return g.sandbox.Send(ctx, d, rec)
	}
	p, err := g.book.Get(ctx, profile)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + err.Error()}
	}
	if password == "" && p.PasswordAuth() {
		if p.Secret == account.SecretAsk {
			return ui.Outcome{Summary: "Not sent: profile " + p.Name + " asks for its password each time and none was given"}
		}
		password, err = g.book.Secret(p, account.SecretPassword)
		if err != nil {
			return ui.Outcome{Summary: "Not sent: " + err.Error(), Hint: "Store the password in the Accounts view (Authentication), or choose \"Ask each time I send\"."}
		}
	}
	if d.From == "" {
		d.From = p.From()
	}
	if d.ReplyTo == "" {
		d.ReplyTo = p.ReplyTo
	}
	d.Headers = append(append([]message.Header{}, p.Headers...), d.Headers...)
	if p.Signature != "" && !strings.Contains(d.Text, p.Signature) {
		d.Text = strings.TrimRight(d.Text, "\n") + "\n\n-- \n" + p.Signature
	}
	r, err := message.Render(d)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + err.Error(), Hint: "Correct the fields named above; nothing was sent."}
	}
	cfg := p.TransportConfig(password)
	cfg.Transcript = rec
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	res := transport.Send(ctx, cfg, transport.Envelope{From: r.Envelope.From, To: r.Envelope.To}, bytes.NewReader(r.Bytes))
	return Outcome(res, r.MessageID, rec)
}

// Inbox implements ui.ComposeCore.
func (g *GUICore) Inbox(ctx context.Context) ([]ui.InboxItem, error) { return g.sandbox.Inbox(ctx) }

// InboxSource implements ui.ComposeCore.
func (g *GUICore) InboxSource(ctx context.Context, id int64) (string, error) {
	return g.sandbox.InboxSource(ctx, id)
}

// InboxUpdates implements ui.ComposeCore.
func (g *GUICore) InboxUpdates() (<-chan int64, func()) { return g.sandbox.InboxUpdates() }

// osSecrets adapts the OS keychain to account.Secrets (as app/cli does).
type osSecrets struct{ k *keychain.Keychain }

func (s osSecrets) Set(id string, kind account.SecretKind, v string) error {
	return secretErr(s.k.Set(id, keychain.Kind(kind), v))
}

func (s osSecrets) Get(id string, kind account.SecretKind) (string, error) {
	v, err := s.k.Get(id, keychain.Kind(kind))
	return v, secretErr(err)
}

func (s osSecrets) Delete(id string, kind account.SecretKind) error {
	return secretErr(s.k.Delete(id, keychain.Kind(kind)))
}

func secretErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keychain.ErrNotFound):
		return fmt.Errorf("%w (%w)", account.ErrNoSecret, err)
	case errors.Is(err, keychain.ErrUnavailable):
		return fmt.Errorf("%w: %w", account.ErrNoKeychain, err)
	}
	return err
}
