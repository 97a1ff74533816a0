package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/platform/browser"
)

const oauthUsage = `Usage:
  herald oauth login PROFILE [--device] [--no-browser] [--timeout 5m]
  herald oauth status PROFILE [--json] [--offline]
  herald oauth logout PROFILE

login signs the profile in with its OAuth2 provider: the browser opens the provider's page
(the URL is printed too; --no-browser only prints it), and the provider sends the browser back
to Herald on 127.0.0.1. --device shows a code to enter on any device instead (Microsoft and
custom providers with a device URL; Google refuses it for mail). The refresh token goes to the
OS keychain; the access token is kept in memory only and never printed.
status says whether the profile is signed in (it checks with the provider unless --offline).
logout revokes the sign-in where the provider offers it (Google) and deletes the refresh token.
`

func runOAuth(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(env.Stdout, oauthUsage)
		if len(args) == 0 {
			return ExitUsage, usagef("oauth needs a sub-command")
		}
		return ExitOK, nil
	}
	switch args[0] {
	case "login", "signin", "sign-in":
		return oauthLogin(ctx, args[1:], env)
	case "status":
		return oauthStatus(ctx, args[1:], env)
	case "logout", "signout", "sign-out":
		return oauthLogout(ctx, args[1:], env)
	}
	return ExitUsage, usagef("unknown oauth sub-command %q (login, status or logout)", args[0])
}

// oauthProfile checks that p signs in with OAuth2.
func oauthProfile(p *account.Profile) error {
	if p.Auth != account.AuthOAuth2 || p.OAuth == nil {
		return usagef("profile %q does not sign in with OAuth2 (auth %s): herald profile edit %s --auth oauth2 --oauth-provider google|microsoft|custom --oauth-client-id ID", p.Name, p.Auth, quoteArg(p.Name))
	}
	return nil
}

func oauthLogin(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("oauth login", "herald oauth login PROFILE [--device] [--no-browser]", env)
	device := fs.Bool("device", false, "sign in with a code entered on any device (device flow)")
	noBrowser := fs.Bool("no-browser", false, "do not open the browser: only print the URL")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser sign-in")
	c, p, code, err := namedProfile(ctx, fs, args, "oauth login", env)
	if err != nil {
		return code, err
	}
	if err := oauthProfile(p); err != nil {
		return ExitUsage, err
	}
	cfg, err := c.OAuthConfig(p)
	if err != nil {
		return ExitUsage, fmt.Errorf("%w\nSet it with: herald profile edit %s --oauth-client-id ID (and see README.md, OAuth2)", err, quoteArg(p.Name))
	}
	if *device && !cfg.SupportsDevice() {
		return ExitUsage, usagef("the %s provider offers no device sign-in here (Google refuses it for mail): drop --device", cfg.Provider)
	}
	if !*device && !cfg.SupportsLoopback() {
		return ExitUsage, usagef("this provider has no browser sign-in (authorization URL): use --device")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	open := env.OpenURL
	if open == nil {
		open = func(u string) error { return browser.Open(ctx, u) }
	}
	o := core.SignInOptions{Device: *device, Timeout: *timeout,
		ShowURL: func(u string) {
			if *noBrowser {
				fmt.Fprintf(env.Stdout, "Open this URL in a browser on this machine to sign in:\n  %s\n", u)
			} else {
				fmt.Fprintf(env.Stdout, "Opening the browser to sign in. If it does not open, open this URL:\n  %s\n", u)
			}
			fmt.Fprintln(env.Stdout, "Waiting for the sign-in (Ctrl-C cancels)...")
		},
		ShowCode: func(d oauth.DeviceCode) {
			fmt.Fprintf(env.Stdout, "To sign in, open %s on any device and enter the code %s\n", d.VerificationURI, d.UserCode)
			fmt.Fprintf(env.Stdout, "The code expires at %s. Waiting (Ctrl-C cancels)...\n", d.Expires.Local().Format("15:04:05"))
		},
	}
	if !*noBrowser {
		o.OpenBrowser = func(u string) error {
			if err := open(u); err != nil {
				fmt.Fprintf(env.Stderr, "herald: %v: open the URL above by hand\n", err)
				return err
			}
			return nil
		}
	}
	info, err := c.SignIn(ctx, p, o)
	if err != nil {
		if errors.Is(err, account.ErrNoKeychain) {
			return ExitFailure, fmt.Errorf("%w\nThe refresh token must be kept in the OS keychain; nothing was stored in a file", err)
		}
		return ExitFailure, err
	}
	who := ""
	if info.Account != "" {
		who = " as " + info.Account
	}
	fmt.Fprintf(env.Stdout, "signed in%s: profile %q can send (refresh token in the keychain)\n", who, p.Name)
	if info.Released > 0 {
		fmt.Fprintf(env.Stdout, "%d message(s) held for want of a sign-in released to the outbox\n", info.Released)
	}
	return ExitOK, nil
}

func oauthStatus(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("oauth status", "herald oauth status PROFILE [--json] [--offline]", env)
	jsonOut := fs.Bool("json", false, "print the status as JSON")
	offline := fs.Bool("offline", false, "do not ask the provider: only look at the keychain")
	c, p, code, err := namedProfile(ctx, fs, args, "oauth status", env)
	if err != nil {
		return code, err
	}
	if err := oauthProfile(p); err != nil {
		return ExitUsage, err
	}
	info, err := c.OAuthStatus(ctx, p, !*offline)
	if err != nil {
		return ExitFailure, err
	}
	if *jsonOut {
		if err := writeJSON(env.Stdout, struct {
			Profile string `json:"profile"`
			*core.OAuthInfo
		}{p.Name, info}); err != nil {
			return ExitFailure, err
		}
	} else {
		state := "signed in"
		if !info.SignedIn {
			state = "not signed in: herald oauth login " + quoteArg(p.Name)
		}
		fmt.Fprintf(env.Stdout, "Profile:   %s\nProvider:  %s\nState:     %s\n", p.Name, info.Provider, state)
		if info.Account != "" {
			fmt.Fprintf(env.Stdout, "Account:   %s\n", info.Account)
		}
		if !info.Expires.IsZero() {
			fmt.Fprintf(env.Stdout, "Access:    valid until %s (kept in memory only)\n", info.Expires.Local().Format(time.RFC3339))
		}
		if len(info.Scopes) > 0 {
			fmt.Fprintf(env.Stdout, "Scopes:    %s\n", strings.Join(info.Scopes, " "))
		}
		if info.Problem != "" {
			fmt.Fprintf(env.Stdout, "Problem:   %s\n", info.Problem)
		}
	}
	if !info.SignedIn {
		return ExitFailure, nil
	}
	return ExitOK, nil
}

func oauthLogout(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("oauth logout", "herald oauth logout PROFILE", env)
	c, p, code, err := namedProfile(ctx, fs, args, "oauth logout", env)
	if err != nil {
		return code, err
	}
	if err := oauthProfile(p); err != nil {
		return ExitUsage, err
	}
	revoked, err := c.SignOut(ctx, p)
	if err != nil {
		return ExitFailure, err
	}
	if revoked {
		fmt.Fprintf(env.Stdout, "signed out of %q: the provider revoked the sign-in and the refresh token is deleted\n", p.Name)
	} else {
		fmt.Fprintf(env.Stdout, "signed out of %q: the refresh token is deleted (this provider offers no revocation: remove Herald's access in your account's security settings to end it there)\n", p.Name)
	}
	return ExitOK, nil
}
