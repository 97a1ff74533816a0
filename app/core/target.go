package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

// SandboxProfile is the profile id of messages for the built-in sandbox
// when no stored profile has that id.
const SandboxProfile = "sandbox"

// DefaultSandboxAddr is where the sandbox listens by default, and where
// sandbox messages go when no sandbox runs in this process.
const DefaultSandboxAddr = "127.0.0.1:2525"

// ErrPasswordAsked is wrapped when a profile keeps no password ("ask every
// time") and none was given.
var ErrPasswordAsked = errors.New("asks for its password each time and none was given")

// oauthWait bounds getting an OAuth2 access token where the caller gives
// no context.
const oauthWait = 45 * time.Second

// Secret returns the password (or token) for a session with p: given when
// it is not empty, else the keychain's, or for an OAuth2 profile a fresh
// access token. A profile that needs none gets "". Errors wrap
// ErrPasswordAsked, oauth.ErrSignIn, account.ErrNoSecret or
// account.ErrNoKeychain, so a front end can say what to do.
func (c *Core) Secret(p *account.Profile, given string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), oauthWait)
	defer cancel()
	return c.SecretContext(ctx, p, given)
}

// SecretContext is Secret with a context for the OAuth2 token refresh.
func (c *Core) SecretContext(ctx context.Context, p *account.Profile, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p.Auth == account.AuthOAuth2 {
		return c.AccessToken(ctx, p)
	}
	if !p.PasswordAuth() && p.Auth != transport.AuthXOAUTH2 && p.Auth != transport.AuthOAuthBearer {
		return "", nil
	}
	if p.Secret == account.SecretAsk {
		return "", fmt.Errorf("profile %q %w", p.Name, ErrPasswordAsked)
	}
	pw, err := c.Book.Secret(p, account.SecretPassword)
	if err != nil {
		return "", fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return pw, nil
}

// Fallbacks returns the session configurations of p's fallback servers,
// each a copy of cfg with the fallback's server and TLS mode.
func Fallbacks(p *account.Profile, cfg transport.Config) []transport.Config {
	var out []transport.Config
	for _, fb := range p.Fallbacks {
		c := cfg
		c.Host, c.Port, c.TLS = fb.Host, fb.Port, fb.TLS
		out = append(out, c)
	}
	return out
}

// RetryPolicy returns global with the profile's own retry settings over it.
func RetryPolicy(p *account.Profile, global queue.RetryPolicy) queue.RetryPolicy {
	return ApplyRetry(global, p.Retry)
}

// ApplyRetry returns pol with the settings that r sets (non-zero) over it:
// the one merge of retry settings, for a profile's and for the global ones.
func ApplyRetry(pol queue.RetryPolicy, r *account.RetrySettings) queue.RetryPolicy {
	if r == nil {
		return pol
	}
	if r.Initial > 0 {
		pol.Initial = time.Duration(r.Initial)
	}
	if r.Max > 0 {
		pol.Max = time.Duration(r.Max)
	}
	if r.GiveUpAfter > 0 {
		pol.GiveUpAfter = time.Duration(r.GiveUpAfter)
	}
	if r.WarnAfter > 0 {
		pol.WarnAfter = time.Duration(r.WarnAfter)
	}
	return pol
}

// Target turns a stored profile into how the outbox sends with it: server,
// TLS, auth with the keychain's secret, pinning, limits, fallbacks and its
// retry policy over global.
func (c *Core) Target(p *account.Profile, global queue.RetryPolicy) (queue.Target, error) {
	ctx, cancel := context.WithTimeout(context.Background(), oauthWait)
	defer cancel()
	return c.target(ctx, p, global)
}

// target is Target with a context for the OAuth2 token refresh: an OAuth2
// profile whose sign-in is gone fails with an error wrapping
// oauth.ErrSignIn, which holds its messages with "sign in again".
func (c *Core) target(ctx context.Context, p *account.Profile, global queue.RetryPolicy) (queue.Target, error) {
	if p.Secret == account.SecretAsk && p.PasswordAuth() {
		return queue.Target{}, fmt.Errorf("profile %q %w, so queued messages cannot be sent unattended", p.Name, ErrPasswordAsked)
	}
	pw, err := c.SecretContext(ctx, p, "")
	if err != nil {
		return queue.Target{}, err
	}
	cfg := p.TransportConfig(pw)
	t := queue.Target{Name: p.Name, Config: cfg, Sessions: p.Limits.Sessions, PerSession: p.Limits.PerSession, PerMinute: p.Limits.PerMinute, Fallbacks: Fallbacks(p, cfg)}
	if p.Auth == account.AuthOAuth2 {
		// Each session takes a fresh token: a long round (bulk, a slow
		// per-minute limit) outlives one access token.
		prof := *p
		t.Secret = func(ctx context.Context) (string, error) { return c.AccessToken(ctx, &prof) }
	}
	if p.Retry != nil {
		pol := RetryPolicy(p, global)
		t.Retry = &pol
	}
	return t, nil
}

// Resolver returns the outbox's resolver: profile ids to targets, the
// sandbox id to the sandbox.
func (c *Core) Resolver(global queue.RetryPolicy) queue.Resolver {
	return func(ctx context.Context, id string) (queue.Target, error) {
		p, err := c.Book.GetByID(ctx, id)
		if errors.Is(err, account.ErrNotFound) && id == SandboxProfile {
			return queue.Target{Name: SandboxProfile, Config: c.SandboxConfig()}, nil
		}
		if err != nil {
			return queue.Target{}, fmt.Errorf("the profile of these messages is gone: %w", err)
		}
		rctx, cancel := context.WithTimeout(ctx, oauthWait)
		defer cancel()
		return c.target(rctx, p, global)
	}
}
