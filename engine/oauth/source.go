package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Store keeps a profile's refresh token (the keychain). Load wraps
// ErrNoToken when none is stored.
type Store interface {
	Load() (string, error)
	Save(refreshToken string) error
}

// ErrNoToken is wrapped by Store.Load when no refresh token is stored.
var ErrNoToken = errors.New("no refresh token stored")

// Early is how long before its expiry an access token is refreshed.
const Early = 2 * time.Minute

// Source hands out a valid access token for one profile: the one in
// memory while it is fresh, else a new one got with the stored refresh
// token. A rotated refresh token is saved back to the Store at once. It is
// safe for concurrent use.
type Source struct {
	cfg Config
	st  Store
	now func() time.Time

	mu  sync.Mutex
	tok *oauth2.Token // the access token, in memory only
	rt  string        // the refresh token, once loaded
	// unsaved is set when a rotated refresh token could not be saved; the
	// save is tried again at the next Token.
	unsaved error
}

// NewSource returns a source for cfg over st; tok, when not nil, is a
// token just got by a sign-in (its refresh token already saved).
func NewSource(cfg Config, st Store, tok *oauth2.Token) *Source {
	s := &Source{cfg: cfg, st: st, now: time.Now}
	if tok != nil {
		s.tok, s.rt = tok, tok.RefreshToken
	}
	return s
}

// SetClock replaces the clock used to judge expiry (tests).
func (s *Source) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// fresh reports whether t can be used now.
func (s *Source) fresh(t *oauth2.Token) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || s.now().Add(Early).Before(t.Expiry)
}

// Token returns a valid access token, refreshing it when it expires within
// Early. Errors: *SignInError (ErrSignIn) when no refresh token is stored
// or the provider refuses it, *TemporaryError when the provider cannot be
// reached, *ClientError when it refuses the application.
func (s *Source) Token(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unsaved != nil && s.rt != "" {
		if err := s.st.Save(s.rt); err == nil {
			s.unsaved = nil
		}
	}
	if s.fresh(s.tok) {
		return copyToken(s.tok), nil
	}
	if s.rt == "" {
		rt, err := s.st.Load()
		if errors.Is(err, ErrNoToken) {
			return nil, &SignInError{Reason: "not signed in yet"}
		}
		if err != nil {
			return nil, fmt.Errorf("read the OAuth2 refresh token: %w", err)
		}
		s.rt = rt
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t, err := s.cfg.oauth2Config("").TokenSource(s.cfg.withClient(rctx), &oauth2.Token{RefreshToken: s.rt}).Token()
	if err != nil {
		err = classify(err)
		if errors.Is(err, ErrSignIn) {
			s.tok = nil
		}
		return nil, fmt.Errorf("refresh the OAuth2 access token: %w", err)
	}
	if t.RefreshToken != "" && t.RefreshToken != s.rt {
		// Rotated: the old one may stop working at any moment.
		s.rt = t.RefreshToken
		if err := s.st.Save(t.RefreshToken); err != nil {
			s.unsaved = err
		}
	}
	s.tok = t
	return copyToken(t), nil
}

// SaveError is the error of saving a rotated refresh token, nil when it
// is saved (it is tried again at every Token).
func (s *Source) SaveError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsaved
}

// Current returns the access token in memory, nil when there is none.
func (s *Source) Current() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil
	}
	return copyToken(s.tok)
}

// Invalidate drops the access token in memory (the server refused it), so
// the next Token refreshes.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.tok = nil
	s.mu.Unlock()
}

// RefreshToken returns the refresh token known to the source ("" when it
// was not loaded yet), for revocation.
func (s *Source) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}

// Scopes returns the scopes the provider granted with t, when it said.
func Scopes(t *oauth2.Token) []string {
	if t == nil {
		return nil
	}
	s, _ := t.Extra("scope").(string)
	return strings.Fields(s)
}

// Identity returns who t belongs to, where the provider says (an ID token,
// or an access token that is a JWT with a user claim): an address or user
// name, or "". It is for display only: nothing is verified.
func Identity(t *oauth2.Token) string {
	if t == nil {
		return ""
	}
	for _, jwt := range []string{stringExtra(t, "id_token"), t.AccessToken} {
		parts := strings.Split(jwt, ".")
		if len(parts) != 3 {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
		if err != nil {
			continue
		}
		var claims map[string]any
		if json.Unmarshal(b, &claims) != nil {
			continue
		}
		for _, k := range []string{"email", "preferred_username", "upn", "unique_name"} {
			if v, ok := claims[k].(string); ok && v != "" {
				return printable(v)
			}
		}
	}
	return ""
}

func stringExtra(t *oauth2.Token, k string) string {
	s, _ := t.Extra(k).(string)
	return s
}

// ErrNoRevocation is returned by Revoke where the provider offers no
// revocation endpoint (Microsoft): the grant ends when the user removes
// the app's access in the account settings.
var ErrNoRevocation = errors.New("this provider offers no token revocation")

// Revoke asks the provider to revoke token (a refresh token: with it, the
// grant and its access tokens end) as RFC 7009 says. A token the provider
// does not know counts as revoked.
func (c Config) Revoke(ctx context.Context, token string) error {
	u := c.revokeURL()
	if u == "" {
		return ErrNoRevocation
	}
	if err := CheckEndpoint(u); err != nil {
		return err
	}
	v := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}, "client_id": {c.ClientID}}
	if c.ClientSecret != "" {
		v.Set("client_secret", c.ClientSecret)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client().Do(req)
	if err != nil {
		return &TemporaryError{Err: fmt.Errorf("revoke: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	// Google answers 400 invalid_token for a token it no longer knows.
	var e struct {
		Error string `json:"error"`
	}
	json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&e)
	if resp.StatusCode == http.StatusBadRequest && e.Error == "invalid_token" {
		return nil
	}
	return fmt.Errorf("revoke: the provider answered %s %s", resp.Status, printable(e.Error))
}
