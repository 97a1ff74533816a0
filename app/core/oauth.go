package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/oauth"
)

// oauthCache holds one token source per OAuth2 profile, in memory: the
// access tokens never leave this process.
type oauthCache struct {
	mu      sync.Mutex
	sources map[string]*oauthEntry // by profile id
}

type oauthEntry struct {
	key string // the settings the source was made for
	src *oauth.Source
}

// bookStore keeps a profile's refresh token in the keychain, through the
// book.
type bookStore struct {
	b *account.Book
	p account.Profile
}

func (s bookStore) Load() (string, error) {
	v, err := s.b.Secret(&s.p, account.SecretRefreshToken)
	if errors.Is(err, account.ErrNoSecret) {
		return "", fmt.Errorf("%w: %w", oauth.ErrNoToken, err)
	}
	return v, err
}

func (s bookStore) Save(rt string) error { return s.b.SetSecret(&s.p, account.SecretRefreshToken, rt) }

// OAuthConfig returns the OAuth2 client of profile p: its provider
// settings, with the client secret from the keychain where one is stored.
func (c *Core) OAuthConfig(p *account.Profile) (oauth.Config, error) {
	o := p.OAuth
	if o == nil {
		return oauth.Config{}, fmt.Errorf("profile %q has no OAuth2 settings", p.Name)
	}
	prov, err := oauth.ParseProvider(o.Provider)
	if err != nil {
		return oauth.Config{}, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	cfg := oauth.Config{Provider: prov, ClientID: o.ClientID, Tenant: o.TenantID, AuthURL: o.AuthURL, TokenURL: o.TokenURL,
		DeviceURL: o.DeviceURL, RevokeURL: o.RevokeURL, Scopes: o.Scopes}
	secret, err := c.Book.Secret(p, account.SecretClientSecret)
	switch {
	case err == nil:
		cfg.ClientSecret = secret
	case errors.Is(err, account.ErrNoSecret):
	default:
		return oauth.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return oauth.Config{}, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return cfg, nil
}

// oauthKey identifies the settings a source was made for: a changed
// profile gets a new source.
func oauthKey(cfg oauth.Config) string {
	return strings.Join([]string{string(cfg.Provider), cfg.ClientID, cfg.ClientSecret, cfg.Tenant, cfg.AuthURL, cfg.TokenURL, cfg.DeviceURL, cfg.RevokeURL, strings.Join(cfg.Scopes, " ")}, "\x00")
}

// oauthSource returns the cached token source of p, made anew when the
// profile's OAuth2 settings changed.
func (c *Core) oauthSource(p *account.Profile) (*oauth.Source, oauth.Config, error) {
	cfg, err := c.OAuthConfig(p)
	if err != nil {
		return nil, cfg, err
	}
	key := oauthKey(cfg)
	c.oauth.mu.Lock()
	defer c.oauth.mu.Unlock()
	if c.oauth.sources == nil {
		c.oauth.sources = map[string]*oauthEntry{}
	}
	if e := c.oauth.sources[p.ID]; e != nil && e.key == key {
		return e.src, cfg, nil
	}
	src := oauth.NewSource(cfg, bookStore{c.Book, *p}, nil)
	c.oauth.sources[p.ID] = &oauthEntry{key: key, src: src}
	return src, cfg, nil
}

// AccessToken returns a valid OAuth2 access token for p, refreshed shortly
// before it expires (a rotated refresh token is saved to the keychain at
// once). Errors wrap oauth.ErrSignIn when the user must sign in (again).
func (c *Core) AccessToken(ctx context.Context, p *account.Profile) (string, error) {
	src, _, err := c.oauthSource(p)
	if err != nil {
		return "", err
	}
	t, err := src.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return t.AccessToken, nil
}

// invalidateToken drops p's access token in memory (a server refused it).
func (c *Core) invalidateToken(id string) {
	c.oauth.mu.Lock()
	e := c.oauth.sources[id]
	c.oauth.mu.Unlock()
	if e != nil {
		e.src.Invalidate()
	}
}

// SignInOptions say how to sign in.
type SignInOptions struct {
	// Device uses the device-code flow (a code to enter on any device)
	// instead of the browser on this machine.
	Device bool
	// OpenBrowser opens a URL in the system browser; nil leaves opening to
	// the user (ShowURL has it).
	OpenBrowser func(url string) error
	// ShowURL is given the sign-in URL, to print or to copy.
	ShowURL func(url string)
	// ShowCode is given the device code and where to enter it.
	ShowCode func(oauth.DeviceCode)
	// Timeout bounds the browser sign-in (default 5 minutes); the device
	// flow ends when its code expires.
	Timeout time.Duration
}

// OAuthInfo is a profile's OAuth2 sign-in, without any token.
type OAuthInfo struct {
	Provider string `json:"provider"`
	// SignedIn is true when a refresh token is stored (and, when checked,
	// the provider still honours it).
	SignedIn bool `json:"signed_in"`
	// Account is who signed in, where the provider says.
	Account string `json:"account,omitempty"`
	// Expires is when the access token in memory expires (zero: none).
	Expires time.Time `json:"access_token_expires,omitzero"`
	// Scopes are the scopes granted (or requested, before a sign-in).
	Scopes []string `json:"scopes,omitempty"`
	// Device and Browser say which flows the provider offers; Revocable
	// whether signing out revokes the grant at the provider.
	Device    bool `json:"device_flow"`
	Browser   bool `json:"browser_flow"`
	Revocable bool `json:"revocable"`
	// Problem says what is wrong ("sign in again: ..."), empty when nothing.
	Problem string `json:"problem,omitempty"`
	// NeedsSignIn is true when only a new sign-in helps.
	NeedsSignIn bool `json:"needs_sign_in"`
	// Released is how many outbox messages held for want of a valid
	// sign-in the sign-in released (SignIn only).
	Released int `json:"released,omitempty"`
}

// SignIn signs profile p in with OAuth2 (the browser on a loopback
// redirect, or the device code), stores the refresh token in the keychain
// and keeps the access token in memory. The profile's outbox messages held
// because it had to sign in (again) are released; a failure to release
// them is not the sign-in's (the info says how many were).
func (c *Core) SignIn(ctx context.Context, p *account.Profile, o SignInOptions) (*OAuthInfo, error) {
	cfg, err := c.OAuthConfig(p)
	if err != nil {
		return nil, err
	}
	var tok *oauth2.Token
	if o.Device {
		tok, err = cfg.SignInDevice(ctx, o.ShowCode)
	} else {
		tok, err = cfg.SignInLoopback(ctx, oauth.LoopbackOptions{Open: o.OpenBrowser, Show: o.ShowURL, Timeout: o.Timeout})
	}
	if err != nil {
		return nil, fmt.Errorf("profile %q: sign in: %w", p.Name, err)
	}
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("profile %q: the provider gave no refresh token, so Herald could not send later without a new sign-in (a custom provider may need the offline_access scope)", p.Name)
	}
	if err := c.Book.SetSecret(p, account.SecretRefreshToken, tok.RefreshToken); err != nil {
		return nil, err
	}
	src := oauth.NewSource(cfg, bookStore{c.Book, *p}, tok)
	c.oauth.mu.Lock()
	if c.oauth.sources == nil {
		c.oauth.sources = map[string]*oauthEntry{}
	}
	c.oauth.sources[p.ID] = &oauthEntry{key: oauthKey(cfg), src: src}
	c.oauth.mu.Unlock()
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "signed in"})
	in := c.info(p, cfg, src, nil)
	in.Released, _ = c.releaseSignInHeld(context.WithoutCancel(ctx), p)
	return in, nil
}

// SignOut revokes p's grant where the provider offers revocation and
// deletes the refresh token from the keychain (and the access token from
// memory). revoked says whether the provider was told; a failed
// revocation is returned as err after the local sign-out is done.
func (c *Core) SignOut(ctx context.Context, p *account.Profile) (revoked bool, err error) {
	cfg, cerr := c.OAuthConfig(p)
	rt, rerr := c.Book.Secret(p, account.SecretRefreshToken)
	var revErr error
	if cerr == nil && rerr == nil && cfg.SupportsRevoke() {
		revErr = cfg.Revoke(ctx, rt)
		revoked = revErr == nil
	}
	c.oauth.mu.Lock()
	delete(c.oauth.sources, p.ID)
	c.oauth.mu.Unlock()
	if err := c.Book.DeleteSecret(p, account.SecretRefreshToken); err != nil && !errors.Is(err, account.ErrNoSecret) {
		return revoked, err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "signed out"})
	if revErr != nil {
		return false, fmt.Errorf("signed out here, but the provider could not be told: %w", revErr)
	}
	return revoked, nil
}

// OAuthStatus says whether p is signed in, as whom where known, when the
// access token in memory expires, and the scopes. With check, it gets an
// access token (refreshing it when needed), which proves that the provider
// still honours the sign-in.
func (c *Core) OAuthStatus(ctx context.Context, p *account.Profile, check bool) (*OAuthInfo, error) {
	src, cfg, err := c.oauthSource(p)
	if err != nil {
		return nil, err
	}
	var tokErr error
	if check {
		_, tokErr = src.Token(ctx)
	}
	return c.info(p, cfg, src, tokErr), nil
}

func (c *Core) info(p *account.Profile, cfg oauth.Config, src *oauth.Source, tokErr error) *OAuthInfo {
	in := &OAuthInfo{Provider: string(cfg.Provider), Device: cfg.SupportsDevice(), Browser: cfg.SupportsLoopback(), Revocable: cfg.SupportsRevoke(), Scopes: cfg.EffectiveScopes()}
	_, err := c.Book.Secret(p, account.SecretRefreshToken)
	in.SignedIn = err == nil
	if err != nil && !errors.Is(err, account.ErrNoSecret) {
		in.Problem = err.Error()
	}
	if t := src.Current(); t != nil {
		in.Expires = t.Expiry
		in.Account = oauth.Identity(t)
		if s := oauth.Scopes(t); len(s) > 0 {
			in.Scopes = s
		}
	}
	if tokErr != nil {
		in.Problem = tokErr.Error()
		if errors.Is(tokErr, oauth.ErrSignIn) {
			in.SignedIn = false
		}
	}
	if err := src.SaveError(); err != nil && in.Problem == "" {
		in.Problem = "the renewed refresh token could not be stored in the keychain: " + err.Error()
	}
	in.NeedsSignIn = !in.SignedIn
	return in
}
