package core

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// settingSandbox names the setting that holds the window's sandbox
// settings (JSON, without the AUTH password, which is in the keychain).
const settingSandbox = "sandbox"

// sandboxSecretOwner is the keychain entry of the sandbox's AUTH password.
var sandboxSecretOwner = &account.Profile{ID: SandboxProfile, Name: "sandbox"}

// SandboxSettings are how the built-in sandbox runs, as the window's form
// sets them; they are kept in the store so the window starts it the same
// way next time.
type SandboxSettings struct {
	// Listen is host:port; "" means 127.0.0.1:2525 or the next free port.
	Listen string `json:"listen,omitempty"`
	// TLS is none, starttls or implicit; "" means none.
	TLS sandbox.TLSMode `json:"tls,omitempty"`
	// AuthUser, when set, makes AUTH with AuthUser and AuthPass required.
	AuthUser string `json:"auth_user,omitempty"`
	// AuthPass is the required password; it is kept in the keychain, never
	// in the store.
	AuthPass string `json:"-"`
	// MaxSize is the size limit in bytes; 0 means the default (25 MiB).
	MaxSize int64 `json:"max_size,omitempty"`
	// Faults is a fault specification (sandbox.ParseFaults).
	Faults string `json:"faults,omitempty"`
	// Stopped says the user stopped the sandbox: the window does not start
	// it.
	Stopped bool `json:"stopped,omitempty"`
}

// Config turns the settings into the server's configuration; a bad fault
// specification or TLS mode is an error that says which.
func (s SandboxSettings) Config(certDir string) (sandbox.Config, error) {
	cfg := sandbox.Config{Listen: strings.TrimSpace(s.Listen), TLS: s.TLS, CertDir: certDir, AuthUser: s.AuthUser, AuthPass: s.AuthPass, MaxSize: s.MaxSize}
	switch cfg.TLS {
	case "", sandbox.TLSNone, sandbox.TLSStartTLS, sandbox.TLSImplicit:
	default:
		return cfg, fmt.Errorf("unknown TLS mode %q (want none, starttls or implicit)", s.TLS)
	}
	if cfg.AuthUser != "" && cfg.AuthPass == "" {
		return cfg, errors.New("required AUTH needs a password as well as a user name")
	}
	if cfg.MaxSize < 0 {
		return cfg, fmt.Errorf("size limit %d is negative", cfg.MaxSize)
	}
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			return cfg, fmt.Errorf("listen address %q is not host:port (e.g. 127.0.0.1:2525)", cfg.Listen)
		}
	}
	fs, err := sandbox.ParseFaults(s.Faults)
	if err != nil {
		return cfg, err
	}
	cfg.Faults = fs
	return cfg, nil
}

// SandboxSettings returns the stored sandbox settings (the zero value when
// none were saved) with the AUTH password from the keychain.
func (c *Core) SandboxSettings(ctx context.Context) (SandboxSettings, error) {
	var s SandboxSettings
	v, err := c.Store.Setting(ctx, settingSandbox)
	if errors.Is(err, store.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return SandboxSettings{}, fmt.Errorf("sandbox settings: %w", err)
	}
	if s.AuthUser != "" {
		c.mu.Lock()
		s.AuthPass = c.sandboxPass
		c.mu.Unlock()
		if pw, err := c.Book.Secret(sandboxSecretOwner, account.SecretPassword); err == nil {
			s.AuthPass = pw
		}
	}
	return s, nil
}

// SaveSandboxSettings checks and stores s (the password in the keychain;
// where there is none, it is kept for this run only) without touching the
// running server.
func (c *Core) SaveSandboxSettings(ctx context.Context, s SandboxSettings) error {
	if _, err := s.Config(c.DataDir); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := c.Store.SetSetting(ctx, settingSandbox, string(b)); err != nil {
		return err
	}
	c.mu.Lock()
	c.sandboxPass = s.AuthPass
	c.mu.Unlock()
	if s.AuthPass != "" {
		_ = c.Book.SetSecret(sandboxSecretOwner, account.SecretPassword, s.AuthPass) // no keychain: this run only
	} else {
		_ = c.Book.DeleteSecret(sandboxSecretOwner, account.SecretPassword)
	}
	return nil
}

// ApplySandbox stores s and restarts the sandbox with it (or stops it when
// s.Stopped). The old server is closed first, so the same address can be
// used again; when the new one cannot start, none runs and the error says
// why.
func (c *Core) ApplySandbox(ctx context.Context, s SandboxSettings) error {
	cfg, err := s.Config(c.DataDir)
	if err != nil {
		return err
	}
	c.sandboxOp.Lock()
	defer c.sandboxOp.Unlock()
	if err := c.SaveSandboxSettings(ctx, s); err != nil {
		return err
	}
	if err := c.stopSandbox(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sandboxStartErr = nil
	c.mu.Unlock()
	if s.Stopped {
		return nil
	}
	return c.startSandbox(ctx, cfg)
}

// SandboxStartErr says why the saved sandbox settings did not work when the
// core opened (the sandbox then runs with the defaults), until settings are
// applied again; nil otherwise.
func (c *Core) SandboxStartErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sandboxStartErr
}

// StartSandboxFromSettings starts the sandbox as the stored settings say
// (nothing when they say it was stopped). Settings that no longer work (a
// port now taken) fall back to the defaults, and the error says so while
// the sandbox runs.
func (c *Core) StartSandboxFromSettings(ctx context.Context, base sandbox.Config) error {
	s, err := c.SandboxSettings(ctx)
	if err != nil {
		return c.StartSandbox(ctx, base)
	}
	if s.Stopped {
		return nil
	}
	cfg, err := s.Config(c.DataDir)
	if err == nil {
		cfg.Hostname, cfg.Rand, cfg.Now = base.Hostname, base.Rand, base.Now
		if err = c.StartSandbox(ctx, cfg); err == nil {
			return nil
		}
	}
	if e := c.StartSandbox(ctx, base); e != nil {
		return e
	}
	return fmt.Errorf("the saved sandbox settings did not work (%w); it runs with the defaults", err)
}

// StartSandbox starts the capture server with cfg (its CertDir defaults to
// the data directory); captures go to the feed's Sandbox topic. A running
// sandbox is stopped first.
func (c *Core) StartSandbox(ctx context.Context, cfg sandbox.Config) error {
	c.sandboxOp.Lock()
	defer c.sandboxOp.Unlock()
	return c.startSandbox(ctx, cfg)
}

func (c *Core) startSandbox(ctx context.Context, cfg sandbox.Config) error {
	if err := c.stopSandbox(); err != nil {
		return err
	}
	if cfg.CertDir == "" {
		cfg.CertDir = c.DataDir
	}
	sb, err := sandbox.Start(ctx, cfg, c.Store)
	if err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	ids, stop := sb.Subscribe()
	c.mu.Lock()
	c.sandbox, c.sandboxCfg = sb, cfg
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer stop()
		for id := range ids { // closed when the server closes
			c.Feed.Publish(feed.Event{Topic: feed.Sandbox, ID: id})
		}
	}()
	c.Feed.Publish(feed.Event{Topic: feed.Sandbox, Text: "started " + sb.Addr()})
	return nil
}

// StopSandbox stops the capture server, if one runs.
func (c *Core) StopSandbox() error {
	c.sandboxOp.Lock()
	defer c.sandboxOp.Unlock()
	return c.stopSandbox()
}

func (c *Core) stopSandbox() error {
	c.mu.Lock()
	sb := c.sandbox
	c.sandbox = nil
	c.mu.Unlock()
	if sb == nil {
		return nil
	}
	err := sb.Close()
	c.Feed.Publish(feed.Event{Topic: feed.Sandbox, Text: "stopped"})
	return err
}

// Sandbox returns the running capture server, or nil.
func (c *Core) Sandbox() *sandbox.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sandbox
}

// SandboxState describes the running sandbox for a front end.
type SandboxState struct {
	// Running is false when the sandbox is stopped.
	Running bool
	// Addr is where it listens (host:port).
	Addr string
	// TLS is its TLS mode.
	TLS sandbox.TLSMode
	// AuthUser is the required user, "" when AUTH is not required (and not
	// offered).
	AuthUser string
	// CertPath is the certificate clients trust in the TLS modes.
	CertPath string
	// MaxSize is the size limit in bytes.
	MaxSize int64
	// Faults are the injected faults.
	Faults []sandbox.Fault
}

// SandboxState returns what runs now.
func (c *Core) SandboxState() SandboxState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sandbox == nil {
		return SandboxState{}
	}
	max := c.sandboxCfg.MaxSize
	if max == 0 {
		max = sandbox.DefaultMaxSize
	}
	return SandboxState{Running: true, Addr: c.sandbox.Addr(), TLS: c.sandbox.TLS(), AuthUser: c.sandboxCfg.AuthUser,
		CertPath: c.sandbox.CertPath(), MaxSize: max, Faults: c.sandboxCfg.Faults}
}

// SandboxConfig is the session configuration for the built-in sandbox: the
// one this process runs (its address, TLS mode with its certificate trusted,
// and its required login), else the default address.
func (c *Core) SandboxConfig() transport.Config {
	c.mu.Lock()
	sb, cfg := c.sandbox, c.sandboxCfg
	c.mu.Unlock()
	addr := DefaultSandboxAddr
	out := transport.Config{TLS: transport.TLSNone, Auth: transport.AuthNone, Timeout: 30 * time.Second}
	if sb != nil {
		addr = sb.Addr()
		switch sb.TLS() {
		case sandbox.TLSStartTLS:
			out.TLS = transport.TLSStartTLS
		case sandbox.TLSImplicit:
			out.TLS = transport.TLSImplicit
		}
		out.CAFile = sb.CertPath()
		if cfg.AuthUser != "" {
			out.Auth, out.Username, out.Password, out.AllowInsecureAuth = transport.AuthAuto, cfg.AuthUser, cfg.AuthPass, true
		}
	}
	host, portStr, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	port, _ := strconv.Atoi(portStr)
	out.Host, out.Port = host, port
	return out
}

// SandboxCheckOptions are the options CheckSandboxMessage passes on.
type SandboxCheckOptions struct {
	// Offline skips DNS (the checks say so).
	Offline bool
	// Resolver answers DNS; nil means the system's.
	Resolver sandbox.Resolver
	// Parsed is the message already parsed, if the caller has it.
	Parsed *message.Content
}

// CheckSandboxMessage runs the checks of a captured message: DKIM verified
// with the key of a sending profile that signs for the domain (DNS
// otherwise), SPF and DMARC as a receiver would judge them, header
// problems, size and parts, and the comparison with the copy in the history
// when Herald sent it.
func (c *Core) CheckSandboxMessage(ctx context.Context, m *store.SandboxMessage, o SandboxCheckOptions) []sandbox.Check {
	checks, _ := c.SandboxChecks(ctx, m, o)
	return checks
}

// SandboxChecks is CheckSandboxMessage that also reports whether Herald's
// history has the copy it sent (sentFound). A capture checked the moment it
// arrives may be ahead of that copy: the sender records it once its session
// has ended (a one-shot command through the history spool, which the window
// imports within a second), so a fresh capture without one is worth
// checking again shortly.
func (c *Core) SandboxChecks(ctx context.Context, m *store.SandboxMessage, o SandboxCheckOptions) (checks []sandbox.Check, sentFound bool) {
	opts := sandbox.CheckOptions{Offline: o.Offline, Resolver: o.Resolver, DKIMKey: c.DKIMKeyLookup(ctx), SentKnown: true, Parsed: o.Parsed}
	if id := sandbox.MessageIDOf(m.Raw); id != "" {
		opts.Sent = c.sentCopy(ctx, id)
	}
	return sandbox.CheckMessage(ctx, m, opts), opts.Sent != nil
}

// DKIMKeyLookup returns a lookup of the DKIM key records Herald knows: the
// public keys of the profiles that sign (selector._domainkey.domain).
func (c *Core) DKIMKeyLookup(ctx context.Context) func(name string) (string, bool) {
	keys := map[string]string{}
	if ps, err := c.Book.List(ctx); err == nil {
		for i := range ps {
			p := &ps[i]
			d := p.DKIM
			if d == nil || d.Domain == "" || d.Selector == "" {
				continue
			}
			rec, err := c.dkimRecord(p)
			if err == nil {
				keys[strings.ToLower(d.Selector+"._domainkey."+d.Domain)] = rec
			}
		}
	}
	return func(name string) (string, bool) {
		rec, ok := keys[strings.ToLower(strings.TrimSuffix(name, "."))]
		return rec, ok
	}
}

// sentCopy returns the message as Herald sent it, from the history by
// Message-ID, or nil.
func (c *Core) sentCopy(ctx context.Context, msgID string) []byte {
	page, err := c.History.List(ctx, history.Query{Search: strings.Trim(msgID, "<>"), Limit: 10})
	if err != nil {
		return nil
	}
	for _, r := range page.Records {
		if strings.Trim(r.MessageID, "<>") != strings.Trim(msgID, "<>") {
			continue
		}
		var b strings.Builder
		if err := c.History.Export(ctx, r.ID, &b); err == nil {
			return []byte(b.String())
		}
	}
	return nil
}

// dkimRecord returns the DNS TXT record of the public half of p's DKIM
// signing key (kept in the keychain as PEM: PKCS #8, or PKCS #1 RSA).
func (c *Core) dkimRecord(p *account.Profile) (string, error) {
	pemText, err := c.Book.Secret(p, account.SecretDKIMKey)
	if err != nil {
		return "", err
	}
	return DKIMRecordFromPEM(pemText)
}

// DKIMRecordFromPEM returns the DKIM TXT record ("v=DKIM1; k=…; p=…") that
// publishes the public half of a PEM private key (PKCS #8 RSA or Ed25519,
// or PKCS #1 RSA).
func DKIMRecordFromPEM(pemText string) (string, error) {
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil {
		return "", errors.New("DKIM key: not PEM")
	}
	var key any
	var err error
	if blk.Type == "RSA PRIVATE KEY" {
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return "", fmt.Errorf("DKIM key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return "", fmt.Errorf("DKIM key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PrivateKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)), nil
	}
	return "", fmt.Errorf("DKIM key: unsupported key type %T", key)
}
