// Package oauth signs a profile in with OAuth2 and keeps its tokens fresh:
// the authorization-code flow with PKCE on a loopback redirect (RFC 8252),
// the device-code flow (RFC 8628), refresh before expiry with rotated
// refresh tokens saved back at once, and revocation (RFC 7009). It knows
// Google, Microsoft 365 / Outlook.com and any provider whose endpoints are
// given. The refresh token lives wherever the caller's Store keeps it (the
// keychain); the access token only in memory.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/herald-smtp/herald/engine/hint"
)

// Provider names a kind of authorization server.
type Provider string

// The providers.
const (
	// Google: scope https://mail.google.com/, loopback flow only (Google's
	// device flow refuses mail scopes).
	Google Provider = "google"
	// Microsoft: Microsoft 365 and Outlook.com, tenant "common" by default,
	// loopback and device flow.
	Microsoft Provider = "microsoft"
	// Custom: the endpoints and scopes are given.
	Custom Provider = "custom"
)

// Default scopes of the built-in providers.
var (
	googleScopes    = []string{"https://mail.google.com/"}
	microsoftScopes = []string{"https://outlook.office.com/SMTP.Send", "offline_access"}
)

// googleRevokeURL is Google's token revocation endpoint.
const googleRevokeURL = "https://oauth2.googleapis.com/revoke"

// Config is one profile's OAuth2 client: the provider and its settings.
type Config struct {
	Provider Provider
	// ClientID is the registered application's id; ClientSecret is given
	// where the provider requires one (Google's desktop clients).
	ClientID, ClientSecret string
	// Tenant is Microsoft's directory ("common" when empty).
	Tenant string
	// AuthURL, TokenURL, DeviceURL and RevokeURL are a custom provider's
	// endpoints (DeviceURL and RevokeURL optional).
	AuthURL, TokenURL, DeviceURL, RevokeURL string
	// Scopes replace the provider's default scopes when set.
	Scopes []string
	// HTTPClient makes the requests (nil: one with a 30 s timeout).
	HTTPClient *http.Client

	// pollUnit is the unit of the device flow's interval (tests shorten it).
	pollUnit time.Duration
}

// ParseProvider reads a provider name: google, microsoft (or outlook,
// office365) or custom.
func ParseProvider(s string) (Provider, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "google", "gmail":
		return Google, nil
	case "microsoft", "outlook", "office365", "microsoft365":
		return Microsoft, nil
	case "custom":
		return Custom, nil
	}
	return "", fmt.Errorf("unknown OAuth2 provider %q (google, microsoft or custom)", s)
}

// Validate checks the settings without touching the network: a known
// provider, a client id, and for a custom provider its endpoints, which
// must be https except on a loopback address.
func (c Config) Validate() error {
	if _, err := ParseProvider(string(c.Provider)); err != nil {
		return err
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("the OAuth2 client id is missing (register an application with the provider)")
	}
	if c.Provider == Custom {
		if c.AuthURL == "" && c.DeviceURL == "" {
			return errors.New("a custom OAuth2 provider needs its authorization URL (or its device URL)")
		}
		if c.TokenURL == "" {
			return errors.New("a custom OAuth2 provider needs its token URL")
		}
	}
	for _, u := range []struct{ name, v string }{{"authorization", c.AuthURL}, {"token", c.TokenURL}, {"device", c.DeviceURL}, {"revocation", c.RevokeURL}} {
		if u.v == "" {
			continue
		}
		if err := CheckEndpoint(u.v); err != nil {
			return fmt.Errorf("the OAuth2 %s URL: %w", u.name, err)
		}
	}
	if c.Provider == Custom && len(c.Scopes) == 0 {
		return errors.New("a custom OAuth2 provider needs its scopes")
	}
	return nil
}

// CheckEndpoint accepts an https URL, or http on a loopback address (a
// local identity provider, tests).
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); (ip != nil && ip.IsLoopback()) || strings.EqualFold(h, "localhost") {
			return nil
		}
	}
	return fmt.Errorf("%q must use https (http only on a loopback address)", raw)
}

// endpoint returns the provider's endpoints.
func (c Config) endpoint() oauth2.Endpoint {
	switch c.Provider {
	case Google:
		e := endpoints.Google
		e.DeviceAuthURL = "" // Google's device flow refuses mail scopes
		return e
	case Microsoft:
		return endpoints.AzureAD(c.Tenant)
	}
	return oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, DeviceAuthURL: c.DeviceURL}
}

// EffectiveScopes returns the scopes requested: the given ones, else the
// provider's default.
func (c Config) EffectiveScopes() []string {
	if len(c.Scopes) > 0 {
		return c.Scopes
	}
	switch c.Provider {
	case Google:
		return googleScopes
	case Microsoft:
		return microsoftScopes
	}
	return nil
}

// SupportsDevice reports whether the device-code flow is available.
func (c Config) SupportsDevice() bool { return c.endpoint().DeviceAuthURL != "" }

// SupportsLoopback reports whether the browser (loopback) flow is
// available.
func (c Config) SupportsLoopback() bool { return c.endpoint().AuthURL != "" }

// revokeURL is where tokens are revoked, "" where the provider offers no
// revocation (Microsoft).
func (c Config) revokeURL() string {
	switch c.Provider {
	case Google:
		return googleRevokeURL
	case Microsoft:
		return ""
	}
	return c.RevokeURL
}

// SupportsRevoke reports whether the provider offers revocation.
func (c Config) SupportsRevoke() bool { return c.revokeURL() != "" }

// oauth2Config is the x/oauth2 configuration with redirect (may be "").
func (c Config) oauth2Config(redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.endpoint(), RedirectURL: redirect, Scopes: c.EffectiveScopes()}
}

// client returns the HTTP client.
func (c Config) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// withClient puts the HTTP client in ctx for x/oauth2.
func (c Config) withClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.client())
}

// ErrSignIn is wrapped by every error that a new sign-in fixes: no refresh
// token stored, or a grant the provider no longer honours (invalid_grant:
// revoked, expired, password changed).
var ErrSignIn = errors.New("sign in again")

// SignInError says that the user must sign in (again). It is a permanent
// failure: retrying without a new sign-in cannot help.
type SignInError struct {
	// Reason says why, in plain words.
	Reason string
	// Err is the cause (the provider's error), when there is one.
	Err error
}

func (e *SignInError) Error() string {
	s := "OAuth2 sign-in needed: " + e.Reason
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *SignInError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrSignIn) true.
func (e *SignInError) Is(target error) bool { return target == ErrSignIn }

// Hint says what to do: sign in again.
func (e *SignInError) Hint() hint.Hint {
	return hint.Hint{Text: "The OAuth2 sign-in of this profile is missing or no longer valid (" + e.Reason + "): sign in again, then release the held messages.",
		Fixes: []hint.Fix{{Setting: hint.OAuthSignIn, Label: "Sign in again"}, {Setting: hint.ReleaseHeld, Label: "Release the held messages"}}}
}

// TemporaryError is a failure to reach the token endpoint (the network, or
// the provider's 5xx): trying again later may help.
type TemporaryError struct{ Err error }

func (e *TemporaryError) Error() string {
	return "the OAuth2 token endpoint could not be reached: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary reports true.
func (e *TemporaryError) Temporary() bool { return true }

// ClientError is the provider refusing the application itself
// (invalid_client, unauthorized_client, invalid_scope): the profile's
// OAuth2 settings need correcting.
type ClientError struct {
	Code string
	Err  error
}

func (e *ClientError) Error() string {
	return "the provider refused this OAuth2 application (" + e.Code + "): check the client id, secret, tenant and scopes: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ClientError) Unwrap() error { return e.Err }

// Hint says to review the profile's OAuth2 settings.
func (e *ClientError) Hint() hint.Hint {
	return hint.Hint{Text: "The provider refused the OAuth2 application settings (" + e.Code + "): check the client id, the client secret, the tenant and the scopes of this profile.",
		Fixes: []hint.Fix{{Setting: hint.Profile, Label: "Review the profile"}}}
}

// classify turns an error of the token endpoint into SignInError,
// ClientError or TemporaryError where it is one of those.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		case "invalid_grant":
			return &SignInError{Reason: "the provider no longer accepts the sign-in (revoked or expired)", Err: cleanRetrieve(re)}
		case "invalid_client", "unauthorized_client", "invalid_scope":
			return &ClientError{Code: re.ErrorCode, Err: cleanRetrieve(re)}
		}
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return &TemporaryError{Err: cleanRetrieve(re)}
		}
		return cleanRetrieve(re)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &TemporaryError{Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &TemporaryError{Err: err}
	}
	return err
}

// retrieveError is an OAuth2 error response told without its body (which a
// server could make echo a token).
type retrieveError struct {
	msg string
	re  *oauth2.RetrieveError
}

func (e *retrieveError) Error() string { return e.msg }
func (e *retrieveError) Unwrap() error { return e.re }

func cleanRetrieve(re *oauth2.RetrieveError) error {
	msg := "the token endpoint answered"
	if re.Response != nil {
		msg += " " + re.Response.Status
	}
	if re.ErrorCode != "" {
		msg += ": " + printable(re.ErrorCode)
		if re.ErrorDescription != "" {
			msg += ": " + printable(re.ErrorDescription)
		}
	}
	return &retrieveError{msg: msg, re: re}
}

// printable keeps text from a server to one line of printable characters,
// at most 300 bytes.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
