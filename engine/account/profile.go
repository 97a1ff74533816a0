// Package account holds Herald's SMTP account profiles: the model and its
// validation (one set of rules for the CLI and the window), their storage
// (settings in the SQLite store, secrets only in the keychain behind the
// Secrets interface), provider presets, and import and export (Thunderbird
// autoconfig XML, JSON, Thunderbird prefs.js).
package account

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/transport"
)

// AuthOAuth2 is the profile auth method that signs in with OAuth2 and sends
// the access token with OAUTHBEARER or XOAUTH2, whichever the server offers.
const AuthOAuth2 = transport.AuthOAuth2

// Server is a submission server: host, port and TLS mode.
type Server struct {
	Host string            `json:"host"`
	Port int               `json:"port"`
	TLS  transport.TLSMode `json:"tls"`
}

// Limits bound how fast a profile sends; zero means no limit (sessions and
// messages per session default to sensible values in the queue).
type Limits struct {
	PerMinute  int `json:"per_minute,omitempty"`
	Sessions   int `json:"sessions,omitempty"`
	PerSession int `json:"per_session,omitempty"`
}

// OAuth holds the OAuth2 provider settings of a profile; the refresh token
// and the client secret (where the provider requires one) are secrets and
// live in the keychain.
type OAuth struct {
	// Provider names a built-in provider (google, microsoft) or "custom".
	Provider string `json:"provider"`
	ClientID string `json:"client_id,omitempty"`
	// TenantID is Microsoft's directory (default "common").
	TenantID string `json:"tenant_id,omitempty"`
	// AuthURL, TokenURL, DeviceURL and RevokeURL are a custom provider's
	// endpoints (the built-in providers' are known).
	AuthURL   string   `json:"auth_url,omitempty"`
	TokenURL  string   `json:"token_url,omitempty"`
	DeviceURL string   `json:"device_url,omitempty"`
	RevokeURL string   `json:"revoke_url,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
}

// DKIM says how a profile signs; the private key lives in the keychain.
// A profile may sign with two keys (typically RSA, which every receiver
// checks, and Ed25519, RFC 8463): the keychain entry (SecretDKIMKey) then
// holds two PEM keys, in the order of Selectors.
type DKIM struct {
	// Domain is the signing domain (d=).
	Domain string `json:"domain"`
	// Selector is the first (or only) key's selector (s=).
	Selector string `json:"selector"`
	// Selector2 is the second key's selector; empty with one key.
	Selector2 string `json:"selector2,omitempty"`
}

// Selectors returns the selectors of the profile's keys, in the order the
// keychain entry holds the keys.
func (d *DKIM) Selectors() []string {
	if d == nil || d.Selector == "" {
		return nil
	}
	if d.Selector2 == "" {
		return []string{d.Selector}
	}
	return []string{d.Selector, d.Selector2}
}

// SecretMode says where a profile's password comes from.
type SecretMode string

const (
	// SecretKeychain keeps the password in the OS keychain (the default).
	SecretKeychain SecretMode = "keychain"
	// SecretAsk stores nothing: the password is asked for each time.
	SecretAsk SecretMode = "ask"
)

// Profile is one outgoing account. It never holds a secret.
type Profile struct {
	// ID is assigned when the profile is first stored and never changes.
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Preset names the provider preset the profile was made from, if any.
	Preset string `json:"preset,omitempty"`

	FromAddress string `json:"from_address"`
	FromName    string `json:"from_name,omitempty"`
	ReplyTo     string `json:"reply_to,omitempty"`

	Server
	Auth     transport.AuthMethod `json:"auth"`
	Username string               `json:"username,omitempty"`
	// Secret says whether the password is in the keychain or asked for.
	Secret   SecretMode `json:"secret,omitempty"`
	HeloName string     `json:"helo_name,omitempty"`
	// CAFile is a PEM file of extra trusted CAs.
	CAFile string `json:"ca_file,omitempty"`
	// PinnedSHA256 is the hex SHA-256 of a self-signed certificate the user
	// chose to trust for this profile.
	PinnedSHA256 string `json:"pinned_sha256,omitempty"`
	// Timeout bounds each step of a session (0: the transport's default).
	Timeout Duration `json:"timeout,omitempty"`
	Limits  Limits   `json:"limits,omitempty"`
	// Fallbacks are tried in order when the server is unreachable.
	Fallbacks []Server         `json:"fallbacks,omitempty"`
	Headers   []message.Header `json:"headers,omitempty"`
	Signature string           `json:"signature,omitempty"`
	// AllowInsecureAuth is the "I understand: plaintext" opt-in: the password
	// may travel without TLS.
	AllowInsecureAuth bool   `json:"allow_insecure_auth,omitempty"`
	OAuth             *OAuth `json:"oauth,omitempty"`
	DKIM              *DKIM  `json:"dkim,omitempty"`
	// Retry overrides the outbox's retry policy for this profile.
	Retry *RetrySettings `json:"retry,omitempty"`

	Created time.Time `json:"created,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
}

// RetrySettings override parts of the outbox's retry policy; a zero field
// keeps the global value.
type RetrySettings struct {
	// Initial is the delay before the first retry.
	Initial Duration `json:"initial,omitempty"`
	// Max caps the delay between retries (it doubles from Initial).
	Max Duration `json:"max,omitempty"`
	// GiveUpAfter fails a message still undelivered this long after it was queued.
	GiveUpAfter Duration `json:"give_up_after,omitempty"`
	// WarnAfter warns once a message waits this long.
	WarnAfter Duration `json:"warn_after,omitempty"`
}

// Validate checks retry settings: each from 0 (the default) to 30 days, the
// maximum delay and the give-up time not below the first delay. A problem
// is a *FieldError naming the setting (retry.initial, retry.max, ...).
func (r *RetrySettings) Validate() error {
	for _, f := range []struct {
		name string
		d    Duration
	}{{"retry.initial", r.Initial}, {"retry.max", r.Max}, {"retry.give-up-after", r.GiveUpAfter}, {"retry.warn-after", r.WarnAfter}} {
		if f.d < 0 || time.Duration(f.d) > 30*24*time.Hour {
			return ferr(f.name, "must be from 0 (the default) to 30 days")
		}
	}
	if r.Initial > 0 && r.Max > 0 && r.Max < r.Initial {
		return ferr("retry.max", "must not be less than retry.initial")
	}
	if r.GiveUpAfter > 0 && r.GiveUpAfter < r.Initial {
		return ferr("retry.give-up-after", "must not be less than retry.initial")
	}
	return nil
}

// Duration is a time.Duration that reads and writes as "30s" in JSON.
type Duration time.Duration

// MarshalText writes the duration as Go syntax ("30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go syntax ("30s", "1m").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// FieldError is one validation problem, naming the field ("port").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func ferr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// PasswordAuth reports whether the profile's method needs a password
// (rather than nothing or an OAuth token).
func (p *Profile) PasswordAuth() bool {
	switch p.Auth {
	case transport.AuthNone, AuthOAuth2, transport.AuthXOAUTH2, transport.AuthOAuthBearer:
		return false
	case transport.AuthAuto, "":
		return p.Username != ""
	}
	return true
}

// From returns the From header value: "Name <address>" or the address.
func (p *Profile) From() string {
	if p.FromName == "" {
		return p.FromAddress
	}
	return fmt.Sprintf("%q <%s>", p.FromName, p.FromAddress)
}

// Normalize fills defaults: TLS mode from the port, the port from the TLS
// mode, auth auto, secret mode keychain.
func (p *Profile) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Host = strings.TrimSpace(strings.TrimSuffix(p.Host, "."))
	if p.TLS == "" {
		if p.Port == 465 {
			p.TLS = transport.TLSImplicit
		} else {
			p.TLS = transport.TLSStartTLS
		}
	}
	if p.Port == 0 {
		p.Port = transport.DefaultPort(p.TLS)
	}
	if p.Auth == "" {
		p.Auth = transport.AuthAuto
	}
	if p.Secret == "" {
		p.Secret = SecretKeychain
	}
	p.PinnedSHA256 = strings.ToLower(strings.ReplaceAll(p.PinnedSHA256, ":", ""))
}

// Validate checks every field and returns the first problem as a
// *FieldError. It does not touch the network or the keychain.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return ferr("name", "required")
	}
	if len(p.Name) > 100 || strings.ContainsAny(p.Name, "\r\n\t/\\") || strings.TrimSpace(p.Name) != p.Name {
		return ferr("name", "at most 100 characters, without tabs, line breaks, slashes or surrounding spaces")
	}
	if p.FromAddress == "" {
		return ferr("from", "required")
	}
	if _, err := message.ParseAddress("from", p.FromAddress); err != nil {
		return ferr("from", "%s", strings.TrimPrefix(err.Error(), "from: "))
	}
	if strings.ContainsAny(p.FromName, "\r\n") {
		return ferr("from-name", "must not contain a line break")
	}
	if p.ReplyTo != "" {
		if _, err := message.ParseAddress("reply-to", p.ReplyTo); err != nil {
			return ferr("reply-to", "%s", strings.TrimPrefix(err.Error(), "reply-to: "))
		}
	}
	if err := validateServer("", p.Server); err != nil {
		return err
	}
	if _, err := transport.ParseAuthMethod(string(p.Auth)); err != nil && p.Auth != AuthOAuth2 {
		return ferr("auth", "unknown method %q (auto, none, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer, oauth2)", p.Auth)
	}
	if strings.ContainsAny(p.Username, "\r\n\x00") {
		return ferr("username", "must not contain a line break or NUL")
	}
	if p.Auth != transport.AuthNone && p.Auth != transport.AuthAuto && p.Username == "" {
		return ferr("username", "required for auth %s", p.Auth)
	}
	switch p.Secret {
	case SecretKeychain, SecretAsk:
	default:
		return ferr("secret", "must be keychain or ask, not %q", p.Secret)
	}
	if p.TLS == transport.TLSNone && p.Auth != transport.AuthNone && (p.Auth != transport.AuthAuto || p.Username != "") && !p.AllowInsecureAuth {
		return ferr("tls", "none with authentication would send the credentials in clear: choose starttls or implicit, or set the plaintext opt-in (allow-insecure-auth)")
	}
	if p.HeloName != "" && strings.ContainsAny(p.HeloName, " \t\r\n<>") {
		return ferr("helo", "%q is not a host name", p.HeloName)
	}
	if strings.ContainsAny(p.CAFile, "\r\n\x00") {
		return ferr("ca-file", "not a file name")
	}
	if p.PinnedSHA256 != "" {
		if b, err := hex.DecodeString(p.PinnedSHA256); err != nil || len(b) != 32 {
			return ferr("pinned-sha256", "must be 64 hex digits (the SHA-256 of the certificate)")
		}
	}
	if p.Timeout < 0 || (p.Timeout > 0 && time.Duration(p.Timeout) < time.Second) || time.Duration(p.Timeout) > time.Hour {
		return ferr("timeout", "must be from 1s to 1h")
	}
	for name, v := range map[string]int{"limits.per-minute": p.Limits.PerMinute, "limits.sessions": p.Limits.Sessions, "limits.per-session": p.Limits.PerSession} {
		if v < 0 || v > 1_000_000 {
			return ferr(name, "must be from 0 (no limit) to 1000000")
		}
	}
	for i, f := range p.Fallbacks {
		if err := validateServer(fmt.Sprintf("fallbacks[%d].", i), f); err != nil {
			return err
		}
	}
	if len(p.Headers) > 0 {
		d := message.Draft{From: p.FromAddress, To: []string{p.FromAddress}, Headers: p.Headers}
		if err := d.Validate(); err != nil {
			return ferr("headers", "%s", err)
		}
	}
	if strings.ContainsRune(p.Signature, 0) {
		return ferr("signature", "must not contain NUL")
	}
	if r := p.Retry; r != nil {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if p.Auth == AuthOAuth2 && p.OAuth == nil {
		return ferr("oauth", "auth oauth2 needs the OAuth provider settings")
	}
	if o := p.OAuth; o != nil {
		switch o.Provider {
		case "google", "microsoft", "custom":
		default:
			return ferr("oauth.provider", "must be google, microsoft or custom, not %q", o.Provider)
		}
		if strings.ContainsAny(o.ClientID+o.TenantID, " \t\r\n") {
			return ferr("oauth.client-id", "must not contain spaces or line breaks")
		}
		for _, u := range []struct{ name, v string }{{"oauth.auth-url", o.AuthURL}, {"oauth.token-url", o.TokenURL}, {"oauth.device-url", o.DeviceURL}, {"oauth.revoke-url", o.RevokeURL}} {
			if u.v != "" && o.Provider == "custom" {
				if err := oauth.CheckEndpoint(u.v); err != nil {
					return ferr(u.name, "%s", err)
				}
			}
		}
	}
	if p.DKIM != nil {
		if p.DKIM.Domain == "" || strings.ContainsAny(p.DKIM.Domain, " \t\r\n;") {
			return ferr("dkim.domain", "required, a domain name")
		}
		if p.DKIM.Selector == "" || strings.ContainsAny(p.DKIM.Selector, " \t\r\n;") {
			return ferr("dkim.selector", "required, e.g. s1 or mail")
		}
		if s := p.DKIM.Selector2; s != "" && (strings.ContainsAny(s, " \t\r\n;") || strings.EqualFold(s, p.DKIM.Selector)) {
			return ferr("dkim.selector2", "a selector other than dkim.selector")
		}
	}
	return nil
}

func validateServer(prefix string, s Server) error {
	if s.Host == "" {
		return ferr(prefix+"host", "required")
	}
	if len(s.Host) > 253 || strings.ContainsAny(s.Host, " \t\r\n/\\@:?#") && net.ParseIP(s.Host) == nil {
		return ferr(prefix+"host", "%q is not a host name or address", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		return ferr(prefix+"port", "must be from 1 to 65535")
	}
	if _, err := transport.ParseTLSMode(string(s.TLS)); err != nil || s.TLS == "ssl" || s.TLS == "tls" {
		return ferr(prefix+"tls", "must be implicit, starttls or none")
	}
	return nil
}

// TransportConfig turns the profile into a session configuration; the
// password (or OAuth access token) is given by the caller.
func (p *Profile) TransportConfig(password string) transport.Config {
	return transport.Config{
		Host: p.Host, Port: p.Port, TLS: p.TLS, Auth: p.Auth, Username: p.Username, Password: password,
		AllowInsecureAuth: p.AllowInsecureAuth, CAFile: p.CAFile, PinnedSHA256: p.PinnedSHA256,
		HeloName: p.HeloName, Timeout: time.Duration(p.Timeout),
	}
}
