package cli

import (
	"context"
	"fmt"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/transport"
)

// profileTest walks the profile's connection step by step (the wizard's
// probe): DNS, connect, banner, EHLO, TLS, AUTH and an envelope dry run.
func profileTest(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile test", "herald profile test NAME [--rcpt ADDR] [--json]", env)
	rcpt := fs.String("rcpt", "", "recipient `address` for the envelope dry run (default: the profile's own address)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	b, p, done, code, err := namedProfile(ctx, fs, args, "profile test", env, dataDir)
	if err != nil {
		return code, err
	}
	defer done()
	password, err := profileSecret(b, p, "", env)
	if err != nil {
		return ExitFailure, err
	}
	rep := diagnose.Probe(ctx, diagnose.ProbeOptions{Config: p.TransportConfig(password), From: p.FromAddress, Rcpt: *rcpt})
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

// profileSecret returns the password (or token) for a session with p: the
// flag-given one when there is one, else the keychain's. A profile that
// needs none gets "".
func profileSecret(b *account.Book, p *account.Profile, given string, env Env) (string, error) {
	if given != "" {
		return given, nil
	}
	needs := p.PasswordAuth() || p.Auth == transport.AuthXOAUTH2
	if p.Auth == account.AuthOAuth2 {
		return "", fmt.Errorf("profile %q signs in with OAuth2, which this version of Herald cannot do yet; give an access token with --auth xoauth2 --password-env VAR", p.Name)
	}
	if !needs {
		return "", nil
	}
	if p.Secret == account.SecretAsk {
		return "", usagef("profile %q asks for its password each time: give it with --password-env VAR or --password-stdin", p.Name)
	}
	pw, err := b.Secret(p, account.SecretPassword)
	if err != nil {
		return "", fmt.Errorf("%w\nGive the password with --password-env VAR or --password-stdin, or store it: herald profile set-password %s", err, quoteArg(p.Name))
	}
	return pw, nil
}
