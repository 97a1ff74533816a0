package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DeviceCode is what the user needs for the device flow: open
// VerificationURI (on any device) and enter UserCode.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	// VerificationURIComplete, when the provider gives it, has the code in
	// it already.
	VerificationURIComplete string
	// Expires is when the code stops working.
	Expires time.Time
}

// ErrExpired is wrapped when the device code expired before the user
// entered it.
var ErrExpired = errors.New("the device code expired before the sign-in completed")

// SignInDevice runs the device-code flow (RFC 8628): it asks for a code,
// hands it to show, and polls the token endpoint at the server's interval
// (5 s more after each slow_down) until the user signs in, refuses, the
// code expires, or ctx ends.
func (c Config) SignInDevice(ctx context.Context, show func(DeviceCode)) (*oauth2.Token, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.SupportsDevice() {
		return nil, errors.New("this provider has no device-code sign-in: use the browser sign-in")
	}
	oc := c.oauth2Config("")
	xctx := c.withClient(ctx)
	da, err := oc.DeviceAuth(xctx)
	if err != nil {
		return nil, fmt.Errorf("ask for a device code: %w", classify(err))
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, errors.New("the provider's device code answer is incomplete")
	}
	expires := da.Expiry
	if expires.IsZero() {
		expires = time.Now().Add(15 * time.Minute)
	}
	if show != nil {
		show(DeviceCode{UserCode: printable(da.UserCode), VerificationURI: printable(da.VerificationURI), VerificationURIComplete: printable(da.VerificationURIComplete), Expires: expires})
	}
	unit := c.pollUnit
	if unit <= 0 {
		unit = time.Second
	}
	interval := da.Interval
	if interval <= 0 {
		interval = 5 // RFC 8628 3.2
	}
	deadline := expires
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := time.Duration(interval) * unit
		if time.Now().Add(wait).After(deadline) {
			wait = time.Until(deadline)
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-timer.C:
		}
		if !time.Now().Before(deadline) {
			return nil, ErrExpired
		}
		tok, err := c.pollDevice(xctx, da.DeviceCode)
		if err == nil {
			return tok, nil
		}
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			return nil, classify(err)
		}
		switch re.ErrorCode {
		case "authorization_pending":
		case "slow_down":
			interval += 5 // RFC 8628 3.5: for this and every later request
		case "access_denied":
			return nil, fmt.Errorf("%w by the user", ErrDenied)
		case "expired_token":
			return nil, ErrExpired
		default:
			return nil, classify(err)
		}
	}
}

// pollDevice asks the token endpoint once for the device code's tokens.
func (c Config) pollDevice(ctx context.Context, deviceCode string) (*oauth2.Token, error) {
	v := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}, "client_id": {c.ClientID}}
	if c.ClientSecret != "" {
		v.Set("client_secret", c.ClientSecret)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint().TokenURL, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the token endpoint's answer: %w", err)
	}
	return parseTokenResponse(resp, body)
}

// parseTokenResponse reads a token endpoint's JSON answer (RFC 6749 5.1,
// 5.2): a token, or a *oauth2.RetrieveError.
func parseTokenResponse(resp *http.Response, body []byte) (*oauth2.Token, error) {
	var raw map[string]any
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
		vals, err := url.ParseQuery(string(body))
		if err == nil {
			raw = map[string]any{}
			for k := range vals {
				raw[k] = vals.Get(k)
			}
		}
	} else {
		_ = json.Unmarshal(body, &raw)
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	if resp.StatusCode < 200 || resp.StatusCode > 299 || str("error") != "" {
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: str("error"), ErrorDescription: str("error_description"), ErrorURI: str("error_uri")}
	}
	tok := &oauth2.Token{AccessToken: str("access_token"), TokenType: str("token_type"), RefreshToken: str("refresh_token")}
	if tok.AccessToken == "" {
		return nil, errors.New("the token endpoint's answer has no access token")
	}
	var secs float64
	switch v := raw["expires_in"].(type) {
	case float64:
		secs = v
	case string:
		fmt.Sscan(v, &secs)
	}
	if secs > 0 {
		tok.ExpiresIn = int64(secs)
		tok.Expiry = time.Now().Add(time.Duration(secs) * time.Second)
	}
	return tok.WithExtra(raw), nil
}
