package account

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

func validProfile() *Profile {
	p := &Profile{Name: "Work", FromAddress: "ann@example.com", FromName: "Ann", Server: Server{Host: "smtp.example.com", Port: 587},
		Auth: transport.AuthPlain, Username: "ann@example.com"}
	p.Normalize()
	return p
}

func TestNormalizeDefaults(t *testing.T) {
	p := &Profile{Name: " x ", Server: Server{Host: "smtp.example.com.", Port: 465}}
	p.Normalize()
	if p.Name != "x" || p.Host != "smtp.example.com" || p.TLS != transport.TLSImplicit || p.Auth != transport.AuthAuto || p.Secret != SecretKeychain {
		t.Fatalf("%+v", p)
	}
	p = &Profile{Server: Server{Host: "h", TLS: transport.TLSNone}}
	p.Normalize()
	if p.Port != 25 {
		t.Fatalf("port %d", p.Port)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := map[string]func(p *Profile){
		"name":              func(p *Profile) { p.Name = "" },
		"from":              func(p *Profile) { p.FromAddress = "nobody" },
		"from-name":         func(p *Profile) { p.FromName = "Ann\r\nBcc: x@y" },
		"reply-to":          func(p *Profile) { p.ReplyTo = "a@b\nc" },
		"host":              func(p *Profile) { p.Host = "smtp example.com" },
		"port":              func(p *Profile) { p.Port = 70000 },
		"tls":               func(p *Profile) { p.TLS = "sometimes" },
		"auth":              func(p *Profile) { p.Auth = "ntlm" },
		"username":          func(p *Profile) { p.Username = "" },
		"secret":            func(p *Profile) { p.Secret = "file" },
		"helo":              func(p *Profile) { p.HeloName = "a b" },
		"pinned-sha256":     func(p *Profile) { p.PinnedSHA256 = "abc" },
		"timeout":           func(p *Profile) { p.Timeout = Duration(5) },
		"limits.per-minute": func(p *Profile) { p.Limits.PerMinute = -1 },
		"fallbacks[1].port": func(p *Profile) {
			p.Fallbacks = []Server{{Host: "a.example", Port: 465, TLS: transport.TLSImplicit}, {Host: "b.example", Port: 0, TLS: transport.TLSStartTLS}}
		},
		"headers":       func(p *Profile) { p.Headers = []message.Header{{Name: "X-A", Value: "1\r\nBcc: evil@x.test"}} },
		"oauth":         func(p *Profile) { p.Auth = AuthOAuth2 },
		"dkim.selector": func(p *Profile) { p.DKIM = &DKIM{Domain: "example.com"} },
	}
	for field, mutate := range cases {
		t.Run(field, func(t *testing.T) {
			p := validProfile()
			if err := p.Validate(); err != nil {
				t.Fatalf("the base profile is invalid: %v", err)
			}
			mutate(p)
			err := p.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != field {
				t.Fatalf("error %v, want one naming %q", err, field)
			}
		})
	}
}

func TestPlaintextAuthNeedsTheOptIn(t *testing.T) {
	p := validProfile()
	p.TLS = transport.TLSNone
	var fe *FieldError
	if err := p.Validate(); !errors.As(err, &fe) || fe.Field != "tls" || !strings.Contains(err.Error(), "in clear") {
		t.Fatalf("plaintext auth accepted without the opt-in: %v", err)
	}
	p.AllowInsecureAuth = true
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.AllowInsecureAuth, p.Auth, p.Username = false, transport.AuthNone, ""
	if err := p.Validate(); err != nil {
		t.Fatalf("plain relay without auth: %v", err)
	}
}

func TestTransportConfig(t *testing.T) {
	p := validProfile()
	p.PinnedSHA256 = strings.Repeat("AB:", 31) + "AB"
	p.Normalize()
	cfg := p.TransportConfig("pw")
	if cfg.Host != "smtp.example.com" || cfg.Port != 587 || cfg.TLS != transport.TLSStartTLS || cfg.Password != "pw" || cfg.PinnedSHA256 != strings.Repeat("ab", 32) {
		t.Fatalf("%+v", cfg)
	}
	p.Auth, p.OAuth = AuthOAuth2, &OAuth{Provider: "google"}
	// The transport picks OAUTHBEARER or XOAUTH2 from what the server offers.
	if p.TransportConfig("tok").Auth != transport.AuthOAuth2 {
		t.Fatal("oauth2 does not send the token")
	}
	p.OAuth = &OAuth{Provider: "custom", TokenURL: "http://idp.example/token"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("custom endpoint without https: %v", err)
	}
}

// memSecrets is an in-memory Secrets for the book's own tests; the real
// keychain is tested in platform/keychain and through the CLI.
type memSecrets struct {
	m       map[string]string
	offline bool
}

func (s *memSecrets) Set(id string, k SecretKind, v string) error {
	if s.offline {
		return ErrNoKeychain
	}
	s.m[id+"/"+string(k)] = v
	return nil
}

func (s *memSecrets) Get(id string, k SecretKind) (string, error) {
	if s.offline {
		return "", ErrNoKeychain
	}
	v, ok := s.m[id+"/"+string(k)]
	if !ok {
		return "", ErrNoSecret
	}
	return v, nil
}

func (s *memSecrets) Delete(id string, k SecretKind) error {
	if s.offline {
		return ErrNoKeychain
	}
	delete(s.m, id+"/"+string(k))
	return nil
}

func newBook(t *testing.T) (*Book, *memSecrets, *store.Store) {
	t.Helper()
	st, err := store.Open(store.PathIn(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sec := &memSecrets{m: map[string]string{}}
	return NewBook(st, sec), sec, st
}

func TestBookCRUD(t *testing.T) {
	ctx := context.Background()
	b, sec, _ := newBook(t)
	p := validProfile()
	p.Fallbacks = []Server{{Host: "backup.example.com", Port: 465, TLS: transport.TLSImplicit}}
	p.Headers = []message.Header{{Name: "X-Team", Value: "ops"}}
	if err := b.Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Created.IsZero() {
		t.Fatalf("no id or time: %+v", p)
	}
	dup := validProfile()
	dup.Name = "WORK"
	if err := b.Add(ctx, dup); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate name (other case): %v", err)
	}
	bad := validProfile()
	bad.Name, bad.Port = "Bad", -1
	if err := b.Add(ctx, bad); err == nil {
		t.Fatal("invalid profile stored")
	}
	got, err := b.Get(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.Host != p.Host || len(got.Fallbacks) != 1 || got.Headers[0].Value != "ops" || got.FromName != "Ann" {
		t.Fatalf("read back %+v", got)
	}
	if err := b.SetSecret(got, SecretPassword, "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	if st := b.SecretStatus(got); st[SecretPassword] != "stored" || st[SecretDKIMKey] != "missing" {
		t.Fatalf("status %v", st)
	}
	got.Name, got.Port = "Work 2", 2525
	if err := b.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "Work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still found: %v", err)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 1 || list[0].Port != 2525 {
		t.Fatalf("list %v %+v", err, list)
	}
	// Offline keychain: removal refuses unless forced, and leaves the secret.
	sec.offline = true
	if err := b.Remove(ctx, "Work 2", false); !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("removal with the keychain offline: %v", err)
	}
	if st := b.SecretStatus(got); st[SecretPassword] != "keychain unavailable" {
		t.Fatalf("offline status %v", st)
	}
	sec.offline = false
	if err := b.Remove(ctx, "Work 2", false); err != nil {
		t.Fatal(err)
	}
	if len(sec.m) != 0 {
		t.Fatalf("secrets left behind: %v", sec.m)
	}
	if err := b.Remove(ctx, "Work 2", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second removal: %v", err)
	}
}

func TestStoredSettingsHoldNoSecret(t *testing.T) {
	ctx := context.Background()
	b, _, st := newBook(t)
	p := validProfile()
	if err := b.Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	b.SetSecret(p, SecretPassword, "Hunter2-unique-pw")
	row, err := st.ProfileByName(ctx, "Work")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(row.Data), "Hunter2") || strings.Contains(strings.ToLower(string(row.Data)), "password\"") {
		t.Fatalf("settings JSON holds a secret: %s", row.Data)
	}
}
