// Package oauthtest is a local OAuth2 authorization server and a mail
// server that accepts only its access tokens, for tests: the server checks
// PKCE S256, the state round trip and the loopback redirect URI, runs the
// device flow (pending, slow_down, success, expiry), and issues, rotates
// and revokes tokens.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options shape the authorization server.
type Options struct {
	// ClientID is the only client accepted (default "herald-test").
	ClientID string
	// ClientSecret, when set, must be sent with every token request.
	ClientSecret string
	// AccessTTL is the access tokens' lifetime (default 1 h).
	AccessTTL time.Duration
	// Rotate issues a new refresh token with every refresh (the old one
	// stops working).
	Rotate bool
	// Scope is granted and reported (default "https://outlook.office.com/SMTP.Send offline_access").
	Scope string
	// DevicePending answers that many polls authorization_pending before
	// success; DeviceSlowDown answers the first poll slow_down.
	DevicePending  int
	DeviceSlowDown bool
	// DeviceNever never approves a device code (it expires).
	DeviceNever bool
	// DeviceInterval and DeviceExpiresIn are the device answer's (default 1
	// and 600 seconds).
	DeviceInterval, DeviceExpiresIn int
	// Deny refuses the sign-in in the browser (access_denied).
	Deny bool
	// Identity, when set, is put in an id_token (preferred_username).
	Identity string
}

// Server is the authorization server.
type Server struct {
	URL string
	o   Options
	srv *httptest.Server

	mu        sync.Mutex
	codes     map[string]authz  // authorization code -> its request
	access    map[string]bool   // valid access tokens
	refresh   map[string]bool   // valid refresh tokens
	devices   map[string]*devSt // device code -> state
	issued    []string          // every token issued, for leak scans
	refreshes int
	revokes   int
	polls     []time.Time
	redirects []string
	errs      []string
}

type authz struct {
	challenge, redirect, scope string
}

type devSt struct {
	polls   int
	expires time.Time
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = "herald-test"
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = time.Hour
	}
	if o.Scope == "" {
		o.Scope = "https://outlook.office.com/SMTP.Send offline_access"
	}
	if o.DeviceInterval == 0 {
		o.DeviceInterval = 1
	}
	if o.DeviceExpiresIn == 0 {
		o.DeviceExpiresIn = 600
	}
	s := &Server{o: o, codes: map[string]authz{}, access: map[string]bool{}, refresh: map[string]bool{}, devices: map[string]*devSt{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", s.authorize)
	mux.HandleFunc("/token", s.token)
	mux.HandleFunc("/device", s.device)
	mux.HandleFunc("/revoke", s.revoke)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AuthURL, TokenURL, DeviceURL and RevokeURL are the endpoints.
func (s *Server) AuthURL() string   { return s.URL + "/authorize" }
func (s *Server) TokenURL() string  { return s.URL + "/token" }
func (s *Server) DeviceURL() string { return s.URL + "/device" }
func (s *Server) RevokeURL() string { return s.URL + "/revoke" }

// ClientID is the accepted client id.
func (s *Server) ClientID() string { return s.o.ClientID }

func random(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) fail(w http.ResponseWriter, status int, code, desc string) {
	s.errs = append(s.errs, code+": "+desc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// authorize is the browser step: it checks the request and redirects back
// with a code (or access_denied).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	redirect := q.Get("redirect_uri")
	s.redirects = append(s.redirects, redirect)
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		http.Error(w, "redirect_uri must be a loopback http://127.0.0.1:PORT/ URI", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != s.o.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "bad client_id or response_type", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 {
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	if q.Get("state") == "" {
		http.Error(w, "state required", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if s.o.Deny {
		back.Set("error", "access_denied")
		back.Set("error_description", "the user said no")
	} else {
		code := random("code-")
		s.codes[code] = authz{challenge: q.Get("code_challenge"), redirect: redirect, scope: q.Get("scope")}
		back.Set("code", code)
	}
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

// issue makes a token answer; refresh "" makes a new refresh token.
func (s *Server) issue(w http.ResponseWriter, refresh string) {
	at := random("at-")
	s.access[at] = true
	if refresh == "" {
		refresh = random("rt-")
		s.refresh[refresh] = true
		s.issued = append(s.issued, refresh)
	}
	s.issued = append(s.issued, at)
	out := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.o.AccessTTL / time.Second), "refresh_token": refresh, "scope": s.o.Scope}
	if s.o.Identity != "" {
		claims, _ := json.Marshal(map[string]string{"preferred_username": s.o.Identity})
		out["id_token"] = "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(claims) + ".sig"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

func (s *Server) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == s.o.ClientID && (s.o.ClientSecret == "" || secret == s.o.ClientSecret)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.clientOK(r) {
		s.fail(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "authorization_code":
		a, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code"))
		if !ok {
			s.fail(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
			return
		}
		if f.Get("redirect_uri") != a.redirect {
			s.fail(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
			return
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge {
			s.fail(w, http.StatusBadRequest, "invalid_grant", "PKCE verifier does not match the challenge")
			return
		}
		s.issue(w, "")
	case "refresh_token":
		rt := f.Get("refresh_token")
		if !s.refresh[rt] {
			s.fail(w, http.StatusBadRequest, "invalid_grant", "the refresh token is revoked or unknown")
			return
		}
		s.refreshes++
		if s.o.Rotate {
			delete(s.refresh, rt)
			rt = ""
		}
		s.issue(w, rt)
	case "urn:ietf:params:oauth:grant-type:device_code":
		d, ok := s.devices[f.Get("device_code")]
		if !ok {
			s.fail(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
			return
		}
		s.polls = append(s.polls, time.Now())
		d.polls++
		switch {
		case time.Now().After(d.expires):
			s.fail(w, http.StatusBadRequest, "expired_token", "the device code expired")
		case s.o.DeviceSlowDown && d.polls == 1:
			s.fail(w, http.StatusBadRequest, "slow_down", "poll less often")
		case s.o.DeviceNever || d.polls <= s.o.DevicePending+btoi(s.o.DeviceSlowDown):
			s.fail(w, http.StatusBadRequest, "authorization_pending", "waiting for the user")
		default:
			delete(s.devices, f.Get("device_code"))
			s.issue(w, "")
		}
	default:
		s.fail(w, http.StatusBadRequest, "unsupported_grant_type", f.Get("grant_type"))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) device(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("client_id") != s.o.ClientID {
		s.fail(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	dc := random("dc-")
	s.devices[dc] = &devSt{expires: time.Now().Add(time.Duration(s.o.DeviceExpiresIn) * time.Second)}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"device_code": dc, "user_code": "WDJB-MJHT", "verification_uri": s.URL + "/activate",
		"expires_in": s.o.DeviceExpiresIn, "interval": s.o.DeviceInterval})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokes++
	tok := r.PostForm.Get("token")
	if s.refresh[tok] {
		// Revoking the grant ends its access tokens too.
		delete(s.refresh, tok)
		s.access = map[string]bool{}
	}
	delete(s.access, tok)
	w.WriteHeader(http.StatusOK)
}

// RevokeAll ends every grant, as a user removing the app's access in the
// account settings does.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access, s.refresh = map[string]bool{}, map[string]bool{}
}

// ValidAccess reports whether tok is a current access token.
func (s *Server) ValidAccess(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access[tok]
}

// ValidRefresh reports whether tok is a current refresh token.
func (s *Server) ValidRefresh(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh[tok]
}

// Issued returns every token issued so far (access and refresh), for scans
// that no token leaked.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Refreshes counts the refresh grants served; Revokes the revocation
// requests.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Revokes counts the revocation requests.
func (s *Server) Revokes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokes
}

// Polls returns when each device-token poll arrived.
func (s *Server) Polls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.polls...)
}

// Redirects returns the redirect URIs of the authorization requests.
func (s *Server) Redirects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.redirects...)
}

// Errors returns the error answers given ("code: description").
func (s *Server) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// Browse plays the user's browser: it opens authURL, follows the redirect
// to the loopback listener, and returns the final page's status and text.
func Browse(authURL string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(authURL)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil || b.Len() > 1<<20 {
			break
		}
	}
	return resp.StatusCode, b.String(), nil
}

// String describes the server.
func (s *Server) String() string { return fmt.Sprintf("oauthtest %s", s.URL) }

// Mint issues a grant directly, as if the user had signed in: a current
// access token and its refresh token.
func (s *Server) Mint() (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access, refresh = random("at-"), random("rt-")
	s.access[access], s.refresh[refresh] = true, true
	s.issued = append(s.issued, access, refresh)
	return access, refresh
}
