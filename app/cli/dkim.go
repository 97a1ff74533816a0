package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
)

const dkimUsage = `herald dkim keygen --profile NAME [--type rsa|ed25519|both] [--bits 2048] [--selector S] [--domain D] [--replace] [--json]
herald dkim import --profile NAME FILE [--selector S] [--domain D] [--replace] [--json]
herald dkim record --profile NAME [--json]
herald dkim check --profile NAME [--json]

DKIM signing for a profile: every message it sends, queues or merges is
signed (relaxed/relaxed, SHA-256, From oversigned). The private key lives in
the OS keychain only; the domain and selector are profile settings.

  keygen   create a key (RSA 2048 by default) and print the DNS record to publish.
           --type both makes an RSA and an Ed25519 key (selectors S-rsa, S-ed):
           Ed25519 (RFC 8463) is small and fast, but many receivers still verify
           only RSA, so an Ed25519 key alone is not enough.
  import   take an existing PEM private key (PKCS#1, PKCS#8 RSA or Ed25519; a file
           may hold an RSA and an Ed25519 key), - for standard input
  record   print the DNS TXT record(s) again
  check    look the record(s) up in DNS and compare them with the key
`

func runDKIM(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(env.Stdout, dkimUsage)
		if len(args) == 0 {
			return ExitUsage, usagef("dkim needs a sub-command")
		}
		return ExitOK, nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "keygen", "generate":
		return dkimSetup(ctx, sub, rest, env)
	case "import":
		return dkimSetup(ctx, sub, rest, env)
	case "record", "records":
		return dkimRecord(ctx, rest, env)
	case "check":
		return dkimCheck(ctx, rest, env)
	}
	return ExitUsage, usagef("unknown dkim sub-command %q (try 'herald dkim help')", sub)
}

// dkimProfile opens the core and loads --profile.
func dkimProfile(ctx context.Context, env Env, name, dataDir string) (*core.Core, *account.Profile, int, error) {
	if strings.TrimSpace(name) == "" {
		return nil, nil, ExitUsage, usagef("give the profile: --profile NAME")
	}
	c, err := env.core(ctx, dataDir)
	if err != nil {
		return nil, nil, ExitFailure, err
	}
	p, err := c.Book.Get(ctx, name)
	if err != nil {
		return nil, nil, profileErrCode(err), err
	}
	return c, p, ExitOK, nil
}

type dkimJSON struct {
	Profile string           `json:"profile"`
	Domain  string           `json:"domain"`
	Records []dkimkey.Record `json:"records"`
}

func dkimSetup(ctx context.Context, sub string, args []string, env Env) (int, error) {
	synopsis := "herald dkim keygen --profile NAME [--type rsa|ed25519|both] [--bits 2048] [--selector S] [--domain D] [--replace] [--json]"
	if sub == "import" {
		synopsis = "herald dkim import --profile NAME FILE [--selector S] [--domain D] [--replace] [--json]"
	}
	fs := newFlagSet("dkim "+sub, synopsis, env)
	var o core.DKIMSetup
	profile := fs.String("profile", "", "the profile `name`")
	if sub != "import" {
		fs.StringVar(&o.Type, "type", "rsa", "key `type`: rsa, ed25519, or both (an RSA and an Ed25519 key)")
		fs.IntVar(&o.Bits, "bits", 0, "RSA key size in `bits`, 2048 to 4096 (default 2048)")
	}
	fs.StringVar(&o.Selector, "selector", "", "the key's `selector` (with two keys, the base: S-rsa and S-ed; default: the profile's, else herald)")
	fs.StringVar(&o.Domain, "domain", "", "the signing `domain` (default: the profile's, else its From address's domain)")
	fs.BoolVar(&o.Replace, "replace", false, "replace the profile's key (mail signed with the old one fails until the new record is published)")
	jsonOut := fs.Bool("json", false, "print the records as one JSON object")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	var pemData []byte
	if sub == "import" {
		if len(pos) != 1 {
			return ExitUsage, usagef("dkim import needs one FILE (a PEM private key, - for standard input)")
		}
		if pemData, err = readInput(pos[0], env); err != nil {
			return ExitUsage, usagef("%v", err)
		}
	} else if len(pos) > 0 {
		return ExitUsage, usagef("dkim keygen takes no arguments, got %q", pos)
	}
	c, p, code, err := dkimProfile(ctx, env, *profile, *local)
	if err != nil {
		return code, err
	}
	var recs []dkimkey.Record
	if sub == "import" {
		recs, err = c.DKIMImport(ctx, p, pemData, o)
	} else {
		recs, err = c.DKIMKeygen(ctx, p, o)
	}
	switch {
	case errors.Is(err, core.ErrDKIMKeyExists):
		return ExitUsage, usagef("%v: give --replace to replace it (mail signed with the old key then fails until the new record is published; a new --selector avoids that)", err)
	case err != nil:
		if fe := (*account.FieldError)(nil); errors.As(err, &fe) {
			return ExitUsage, usagef("%v", err)
		}
		if sub == "import" || strings.Contains(err.Error(), "key type") || strings.Contains(err.Error(), "key size") {
			return ExitUsage, usagef("%v", err)
		}
		return ExitFailure, err
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, dkimJSON{Profile: p.Name, Domain: p.DKIM.Domain, Records: recs})
	}
	verb := "Created"
	if sub == "import" {
		verb = "Imported"
	}
	fmt.Fprintf(env.Stdout, "%s the DKIM key of profile %s (stored in the keychain); its messages are signed from now on.\n\n", verb, p.Name)
	printRecords(env.Stdout, recs)
	fmt.Fprintf(env.Stdout, "\nOnce published, check it with: herald dkim check --profile %s\n", p.Name)
	return ExitOK, nil
}

// printRecords writes each record: its name, and its value as quoted strings
// of at most 255 bytes, as DNS providers and zone files take it.
func printRecords(w io.Writer, recs []dkimkey.Record) {
	if len(recs) > 1 {
		fmt.Fprintln(w, "Publish both DNS TXT records: receivers that know Ed25519 check either signature, the others the RSA one.")
	} else {
		fmt.Fprintln(w, "Publish this DNS TXT record:")
	}
	onlyEd := len(recs) == 1 && recs[0].Type == dkimkey.Ed25519
	for _, r := range recs {
		fmt.Fprintf(w, "\n; selector %s: %s key of %d bits\n", r.Selector, strings.ToUpper(r.Type), r.Bits)
		fmt.Fprintf(w, "Name:  %s\n", r.Name)
		fmt.Fprintf(w, "Type:  TXT\n")
		fmt.Fprintf(w, "Value: %s\n", r.Quoted())
	}
	if onlyEd {
		fmt.Fprintln(w, "\nNote: many receivers still verify only RSA signatures (Ed25519 is RFC 8463); sign with both: herald dkim keygen --type both --replace.")
	}
}

func dkimRecord(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("dkim record", "herald dkim record --profile NAME [--json]", env)
	profile := fs.String("profile", "", "the profile `name`")
	jsonOut := fs.Bool("json", false, "print the records as one JSON object")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("dkim record takes no arguments, got %q", pos)
	}
	c, p, code, err := dkimProfile(ctx, env, *profile, *local)
	if err != nil {
		return code, err
	}
	recs, err := c.DKIMRecords(p)
	if errors.Is(err, core.ErrNoDKIM) {
		return ExitUsage, usagef("%v: create a key with 'herald dkim keygen --profile %s'", err, p.Name)
	}
	if err != nil {
		return ExitFailure, err
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, dkimJSON{Profile: p.Name, Domain: p.DKIM.Domain, Records: recs})
	}
	printRecords(env.Stdout, recs)
	return ExitOK, nil
}

func dkimCheck(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("dkim check", "herald dkim check --profile NAME [--json]", env)
	profile := fs.String("profile", "", "the profile `name`")
	jsonOut := fs.Bool("json", false, "print the findings as JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("dkim check takes no arguments, got %q", pos)
	}
	c, p, code, err := dkimProfile(ctx, env, *profile, *local)
	if err != nil {
		return code, err
	}
	fs2, err := c.DKIMCheck(ctx, p, nil)
	if errors.Is(err, core.ErrNoDKIM) {
		return ExitUsage, usagef("%v: create a key with 'herald dkim keygen --profile %s'", err, p.Name)
	}
	if err != nil {
		return ExitFailure, err
	}
	code = ExitOK
	for _, f := range fs2 {
		if f.Status == diagnose.StatusFail || f.Status == diagnose.StatusWarn && strings.Contains(f.Finding, "could not look up") {
			code = ExitFailure
		}
	}
	if *jsonOut {
		out := []jsonFinding{}
		for _, f := range fs2 {
			out = append(out, jsonFinding{Check: f.Check, Status: string(f.Status), Finding: f.Finding, Hint: wordHint(f.Hint, wordCtx{}), Fixes: f.Hint.Fixes, Records: f.Records})
		}
		return code, writeJSON(env.Stdout, out)
	}
	printDeliverability(env.Stdout, p.DKIM.Domain, fs2, wordCtx{})
	return code, nil
}
