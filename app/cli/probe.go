package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/oauth"
)

// profileTest walks the profile's connection step by step (the wizard's
// probe): DNS, connect, banner, EHLO, TLS, AUTH and an envelope dry run.
func profileTest(ctx context.Context, args []string, env Env, _ string) (int, error) {
	fs := newFlagSet("profile test", "herald profile test NAME [--rcpt ADDR] [--json]", env)
	rcpt := fs.String("rcpt", "", "recipient `address` for the envelope dry run (default: the profile's own address)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	c, p, code, err := namedProfile(ctx, fs, args, "profile test", env)
	if err != nil {
		return code, err
	}
	password, err := profileSecret(c, p, "")
	if err != nil {
		return ExitFailure, err
	}
	rep := c.Probe(ctx, diagnose.ProbeOptions{Config: p.TransportConfig(password), From: p.FromAddress, Rcpt: *rcpt}, nil)
	if ctx.Err() == nil {
		if err := c.RecordTest(ctx, p.ID, rep); err != nil {
			fmt.Fprintln(env.Stderr, "herald: the test was not recorded:", err)
		}
	}
	wc := wordCtx{profile: p.Name, host: p.Host, email: p.FromAddress}
	if *jsonOut {
		// The report, its steps' hints in command-line words.
		if err := writeJSON(env.Stdout, struct {
			*diagnose.Report
			Steps []jsonTestStep `json:"steps"`
		}{rep, jsonSteps(rep, wc)}); err != nil {
			return ExitFailure, err
		}
	} else {
		printSteps(env.Stdout, rep, wc)
		offerPin(env.Stdout, rep, p.Name)
	}
	return testExitCode(rep, nil), nil
}

// profileSecret returns the password (or token) for a session with p (the
// given one, else the keychain's), with the command line's advice when
// there is none.
func profileSecret(c *core.Core, p *account.Profile, given string) (string, error) {
	pw, err := c.Secret(p, given)
	switch {
	case err == nil:
		return pw, nil
	case errors.Is(err, oauth.ErrSignIn):
		return "", fmt.Errorf("%w\nSign in: herald oauth login %s", err, quoteArg(p.Name))
	case p.Auth == account.AuthOAuth2:
		return "", fmt.Errorf("%w\nCheck the profile's OAuth2 settings (herald profile show %s), then sign in: herald oauth login %s", err, quoteArg(p.Name), quoteArg(p.Name))
	case errors.Is(err, core.ErrPasswordAsked):
		return "", usagef("%v: give it with --password-env VAR or --password-stdin", err)
	}
	return "", fmt.Errorf("%w\nGive the password with --password-env VAR or --password-stdin, or store it: herald profile set-password %s", err, quoteArg(p.Name))
}
