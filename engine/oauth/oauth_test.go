package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
)

// memStore is a Store in memory that counts saves.
type memStore struct {
	mu    sync.Mutex
	rt    string
	saves int
}

func (m *memStore) Load() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rt == "" {
		return "", ErrNoToken
	}
	return m.rt, nil
}

func (m *memStore) Save(rt string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rt, m.saves = rt, m.saves+1
	return nil
}

func custom(s *oauthtest.Server) Config {
	return Config{Provider: Custom, ClientID: s.ClientID(), AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), DeviceURL: s.DeviceURL(), RevokeURL: s.RevokeURL(), Scopes: []string{"mail"}}
}

// browse plays the browser: it follows the authorization URL to the
// loopback listener.
func browse(t *testing.T, want string) func(string) error {
	return func(u string) error {
		go func() {
			code, body, err := oauthtest.Browse(u)
			if err != nil || !strings.Contains(body, want) {
				t.Errorf("browser: %d %v %s", code, err, body)
			}
		}()
		return nil
	}
}

func TestLoopbackPKCE(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{Identity: "ann@example.com"})
	var shown string
	tok, err := custom(s).SignInLoopback(context.Background(), LoopbackOptions{Show: func(u string) { shown = u }, Open: browse(t, "Signed in"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err, s.Errors())
	}
	if tok.RefreshToken == "" || !s.ValidAccess(tok.AccessToken) {
		t.Fatalf("token %+v", tok)
	}
	u, _ := url.Parse(shown)
	if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("state") == "" {
		t.Fatalf("auth URL %s", shown)
	}
	if r := s.Redirects(); len(r) != 1 || !strings.HasPrefix(r[0], "http://127.0.0.1:") || !strings.HasSuffix(r[0], "/") {
		t.Fatalf("redirects %v", r)
	}
	if Identity(tok) != "ann@example.com" || strings.Join(Scopes(tok), " ") != "https://outlook.office.com/SMTP.Send offline_access" {
		t.Fatalf("identity %q scopes %v", Identity(tok), Scopes(tok))
	}
}

func TestLoopbackDeniedAndForgedState(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{Deny: true})
	_, err := custom(s).SignInLoopback(context.Background(), LoopbackOptions{Open: browse(t, "Sign-in refused"), Timeout: 10 * time.Second})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("denied: %v", err)
	}
	// A reply with another state is refused and the wait goes on (here
	// until the timeout).
	s2 := oauthtest.Start(t, oauthtest.Options{})
	forged := func(u string) error {
		p, _ := url.Parse(u)
		q := p.Query()
		redirect := q.Get("redirect_uri")
		go func() {
			code, body, _ := oauthtest.Browse(redirect + "?code=x&state=forged")
			if code != 400 || !strings.Contains(body, "does not match") {
				t.Errorf("forged state: %d %s", code, body)
			}
		}()
		return nil
	}
	_, err = custom(s2).SignInLoopback(context.Background(), LoopbackOptions{Open: forged, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("forged: %v", err)
	}
	// Cancel.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := custom(s2).SignInLoopback(ctx, LoopbackOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestDeviceFlow(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{DevicePending: 2, DeviceSlowDown: true, DeviceInterval: 1})
	cfg := custom(s)
	cfg.pollUnit = 20 * time.Millisecond
	var dc DeviceCode
	tok, err := cfg.SignInDevice(context.Background(), func(d DeviceCode) { dc = d })
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserCode != "WDJB-MJHT" || !strings.HasSuffix(dc.VerificationURI, "/activate") || tok.RefreshToken == "" {
		t.Fatalf("%+v %+v", dc, tok)
	}
	p := s.Polls()
	if len(p) != 4 {
		t.Fatalf("%d polls", len(p))
	}
	// After slow_down the interval is 1+5 units.
	if gap := p[1].Sub(p[0]); gap < 6*cfg.pollUnit-5*time.Millisecond {
		t.Fatalf("slow_down not honoured: gap %v", gap)
	}
	if gap := p[2].Sub(p[1]); gap < 6*cfg.pollUnit-5*time.Millisecond {
		t.Fatalf("slow_down must hold for later polls: gap %v", gap)
	}

	// Expiry: never approved.
	s2 := oauthtest.Start(t, oauthtest.Options{DeviceNever: true, DeviceExpiresIn: 1})
	cfg2 := custom(s2)
	cfg2.pollUnit = 50 * time.Millisecond
	if _, err := cfg2.SignInDevice(context.Background(), nil); !errors.Is(err, ErrExpired) {
		t.Fatalf("expiry: %v", err)
	}
}

func TestSourceRefreshRotationRevocation(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{Rotate: true, AccessTTL: time.Hour})
	cfg := custom(s)
	tok, err := cfg.SignInLoopback(context.Background(), LoopbackOptions{Open: browse(t, "Signed in"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{rt: tok.RefreshToken}
	src := NewSource(cfg, st, tok)
	now := time.Now()
	src.SetClock(func() time.Time { return now })
	t1, err := src.Token(context.Background())
	if err != nil || t1.AccessToken != tok.AccessToken || s.Refreshes() != 0 {
		t.Fatalf("fresh token not reused: %v %d", err, s.Refreshes())
	}
	// Shortly before expiry: refreshed, and the rotated refresh token saved.
	now = now.Add(time.Hour - Early + time.Second)
	t2, err := src.Token(context.Background())
	if err != nil || t2.AccessToken == tok.AccessToken || s.Refreshes() != 1 {
		t.Fatalf("not refreshed: %v", err)
	}
	if st.rt == tok.RefreshToken || st.saves != 1 || !s.ValidRefresh(st.rt) {
		t.Fatalf("rotation not saved: %d", st.saves)
	}
	// A new process: no access token in memory, the stored refresh token.
	src2 := NewSource(cfg, st, nil)
	if _, err := src2.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Revoked: sign in again, with the hint.
	s.RevokeAll()
	_, err = NewSource(cfg, st, nil).Token(context.Background())
	var se *SignInError
	if !errors.Is(err, ErrSignIn) || !errors.As(err, &se) || se.Hint().Fixes[0].Setting != hint.OAuthSignIn {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := NewSource(cfg, &memStore{}, nil).Token(context.Background()); !errors.Is(err, ErrSignIn) {
		t.Fatalf("not signed in: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{})
	cfg := custom(s)
	tok, err := cfg.SignInLoopback(context.Background(), LoopbackOptions{Open: browse(t, "Signed in"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Revoke(context.Background(), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if s.ValidRefresh(tok.RefreshToken) || s.ValidAccess(tok.AccessToken) {
		t.Fatal("still valid")
	}
	if err := (Config{Provider: Microsoft, ClientID: "x"}).Revoke(context.Background(), "t"); !errors.Is(err, ErrNoRevocation) {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Provider: Google, ClientID: "id"}, true},
		{Config{Provider: Microsoft, ClientID: "id", Tenant: "contoso.onmicrosoft.com"}, true},
		{Config{Provider: Microsoft}, false},
		{Config{Provider: "yahoo", ClientID: "id"}, false},
		{Config{Provider: Custom, ClientID: "id", AuthURL: "http://idp.example/a", TokenURL: "https://idp.example/t", Scopes: []string{"s"}}, false},
		{Config{Provider: Custom, ClientID: "id", AuthURL: "http://127.0.0.1:9/a", TokenURL: "http://[::1]:9/t", Scopes: []string{"s"}}, true},
		{Config{Provider: Custom, ClientID: "id", AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t"}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
	if (Config{Provider: Google, ClientID: "x"}).SupportsDevice() || !(Config{Provider: Microsoft, ClientID: "x"}).SupportsDevice() {
		t.Error("device support")
	}
	if got := (Config{Provider: Microsoft}).endpoint().TokenURL; got != "https://login.microsoftonline.com/common/oauth2/v2.0/token" {
		t.Error(got)
	}
}
