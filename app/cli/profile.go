package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/transport"
)

const profileUsage = `Usage:
  herald profile list [--json]
  herald profile add --name NAME [--preset ID --email ADDR] [--server HOST[:PORT] --tls MODE --auth METHOD --user U] --from ADDR [...] [--password-stdin|--password-env VAR|--ask-password]
  herald profile edit NAME [flags of add]
  herald profile show NAME [--json]
  herald profile remove NAME [--force]
  herald profile export NAME [--format autoconfig|json]
  herald profile import FILE [--name NAME] [--email ADDR]
  herald profile set-password NAME [--kind password|oauth-refresh-token|oauth-client-secret|dkim-key]   (reads standard input)
  herald profile presets
  herald profile test NAME [--rcpt ADDR]

OAuth2 (Google, Microsoft 365 / Outlook.com, any provider):
  herald profile add --name NAME --preset gmail|outlook|office365 --email ADDR --auth oauth2 \
      --oauth-provider google|microsoft|custom --oauth-client-id ID [--oauth-client-secret-stdin] [--oauth-tenant T]
      [--oauth-auth-url URL --oauth-token-url URL --oauth-device-url URL --oauth-revoke-url URL --oauth-scopes "S1 S2"]
  then: herald oauth login NAME [--device] [--no-browser]

Every secret goes to the OS keychain, never to a file. Run 'herald profile add --help' for every field.
`

func runProfile(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(env.Stdout, profileUsage)
		if len(args) == 0 {
			return ExitUsage, usagef("profile needs a sub-command")
		}
		return ExitOK, nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return profileList(ctx, rest, env, dataDir)
	case "add":
		return profileAdd(ctx, rest, env, dataDir)
	case "edit":
		return profileEdit(ctx, rest, env, dataDir)
	case "show":
		return profileShow(ctx, rest, env, dataDir)
	case "remove", "rm", "delete":
		return profileRemove(ctx, rest, env, dataDir)
	case "export":
		return profileExport(ctx, rest, env, dataDir)
	case "import":
		return profileImport(ctx, rest, env, dataDir)
	case "set-password":
		return profileSetPassword(ctx, rest, env, dataDir)
	case "presets":
		return profilePresets(env)
	case "test":
		return profileTest(ctx, rest, env, dataDir)
	}
	return ExitUsage, usagef("unknown profile sub-command %q (try 'herald profile help')", sub)
}

// profileFlags are the settable fields of a profile; edit applies only the
// flags given.
type profileFlags struct {
	name, preset, email                            string
	server, tls, auth, user, caFile, helo, pinned  string
	from, fromName, replyTo, signature, signFile   string
	timeout                                        time.Duration
	perMinute, sessions, perSession                int
	fallback, headers                              listFlag
	allowInsecureAuth, askPassword, keychainSecret bool
	dkimDomain, dkimSelector, dkimKeyFile          string
	passwordStdin                                  bool
	passwordEnv                                    string
	oauthProvider, oauthClientID, oauthTenant      string
	oauthAuthURL, oauthTokenURL, oauthDeviceURL    string
	oauthRevokeURL, oauthScopes                    string
	oauthSecretStdin                               bool
	dataDir                                        string
	retry                                          retryFlags
}

func (f *profileFlags) register(fs *flag.FlagSet, withName bool) {
	if withName {
		fs.StringVar(&f.name, "name", "", "profile `name` (unique)")
	} else {
		fs.StringVar(&f.name, "rename", "", "new `name` for the profile")
	}
	fs.StringVar(&f.preset, "preset", "", "start from a provider preset `id` (see 'herald profile presets')")
	fs.StringVar(&f.email, "email", "", "your email `address`, to fill a preset's user name and the From address")
	fs.StringVar(&f.server, "server", "", "SMTP server `host[:port]`")
	fs.StringVar(&f.tls, "tls", "", "TLS `mode`: implicit, starttls or none")
	fs.StringVar(&f.auth, "auth", "", "auth `method`: auto, none, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauth2")
	fs.StringVar(&f.user, "user", "", "user `name` for AUTH (often the address)")
	fs.StringVar(&f.caFile, "ca-file", "", "extra CA certificate(s) to trust, PEM `file`")
	fs.StringVar(&f.pinned, "pin-sha256", "", "trust the self-signed certificate with this SHA-256 `fingerprint` (hex)")
	fs.StringVar(&f.helo, "helo", "", "`name` to send in EHLO")
	durationVar(fs, &f.timeout, "timeout", 0, "timeout for each step of a session: seconds or a `duration` (30, 500ms, 2m)")
	fs.StringVar(&f.from, "from", "", "sender `address`, optionally \"Name <addr>\"")
	fs.StringVar(&f.fromName, "from-name", "", "sender display `name`")
	fs.StringVar(&f.replyTo, "reply-to", "", "Reply-To `address`")
	fs.StringVar(&f.signature, "signature", "", "signature `text` appended to composed messages")
	fs.StringVar(&f.signFile, "signature-file", "", "read the signature from `file`")
	fs.IntVar(&f.perMinute, "per-minute", 0, "send at most `N` messages per minute (0: no limit)")
	fs.IntVar(&f.sessions, "sessions", 0, "at most `N` sessions at once (0: default)")
	fs.IntVar(&f.perSession, "per-session", 0, "at most `N` messages per session (0: default)")
	fs.Var(&f.fallback, "fallback", "fallback server `host:port[/tls]` tried when the server is unreachable; repeatable")
	fs.Var(&f.headers, "header", "default header `\"Name: value\"` on composed messages; repeatable")
	fs.BoolVar(&f.allowInsecureAuth, "allow-insecure-auth", false, "I understand: allow the password to travel without TLS for this profile")
	fs.BoolVar(&f.askPassword, "ask-password", false, "store no password: ask for it each time (--password-env/--password-stdin at send)")
	fs.BoolVar(&f.keychainSecret, "keychain-password", false, "keep the password in the OS keychain (the default; undoes --ask-password)")
	fs.StringVar(&f.dkimDomain, "dkim-domain", "", "DKIM signing `domain`: with a key, every message of the profile is signed ('herald dkim keygen' makes one)")
	fs.StringVar(&f.dkimSelector, "dkim-selector", "", "DKIM `selector`; two keys (RSA and Ed25519): S1,S2 in the key file's order")
	fs.StringVar(&f.dkimKeyFile, "dkim-key-file", "", "DKIM private key PEM `file` (one key per selector): stored in the keychain, not copied")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password (or API key) from the first line of standard input and store it in the keychain")
	fs.StringVar(&f.passwordEnv, "password-env", "", "read the password from environment `VAR` and store it in the keychain")
	fs.StringVar(&f.oauthProvider, "oauth-provider", "", "OAuth2 `provider` for --auth oauth2: google, microsoft or custom")
	fs.StringVar(&f.oauthClientID, "oauth-client-id", "", "OAuth2 client `id` of the application registered with the provider")
	fs.BoolVar(&f.oauthSecretStdin, "oauth-client-secret-stdin", false, "read the OAuth2 client secret (where the provider requires one, e.g. Google) from standard input into the keychain")
	fs.StringVar(&f.oauthTenant, "oauth-tenant", "", "Microsoft `tenant` (directory id or domain; default common)")
	fs.StringVar(&f.oauthAuthURL, "oauth-auth-url", "", "custom provider: authorization endpoint `URL` (https)")
	fs.StringVar(&f.oauthTokenURL, "oauth-token-url", "", "custom provider: token endpoint `URL` (https)")
	fs.StringVar(&f.oauthDeviceURL, "oauth-device-url", "", "custom provider: device authorization endpoint `URL` (https, optional)")
	fs.StringVar(&f.oauthRevokeURL, "oauth-revoke-url", "", "custom provider: token revocation endpoint `URL` (https, optional)")
	fs.StringVar(&f.oauthScopes, "oauth-scopes", "", "OAuth2 `scopes`, space-separated (default: the provider's for sending mail)")
	fs.StringVar(&f.dataDir, "data-dir", "", "Herald's data `directory`")
	f.retry.register(fs, "for this profile's queued messages")
}

// retryFlags set the outbox's retry policy (globally for queue run, or per
// profile).
type retryFlags struct{ initial, max, giveUp, warn time.Duration }

func (r *retryFlags) register(fs *flag.FlagSet, scope string) {
	durationVar(fs, &r.initial, "retry-initial", 0, "first retry after this `delay`, doubling after each try, "+scope+" (default 1m)")
	durationVar(fs, &r.max, "retry-max", 0, "at most this `delay` between retries, "+scope+" (default 1h)")
	durationVar(fs, &r.giveUp, "give-up-after", 0, "fail a message still undelivered after this `long`, "+scope+" (default 48h)")
	durationVar(fs, &r.warn, "warn-after", 0, "warn once a message waits this `long`, "+scope+" (default 4h)")
}

func (r *retryFlags) any(set map[string]bool) bool {
	return set["retry-initial"] || set["retry-max"] || set["give-up-after"] || set["warn-after"]
}

// over returns base with the retry flags given (set) over it.
func (r *retryFlags) over(base *account.RetrySettings, set map[string]bool) *account.RetrySettings {
	out := account.RetrySettings{}
	if base != nil {
		out = *base
	}
	if set["retry-initial"] {
		out.Initial = account.Duration(r.initial)
	}
	if set["retry-max"] {
		out.Max = account.Duration(r.max)
	}
	if set["give-up-after"] {
		out.GiveUpAfter = account.Duration(r.giveUp)
	}
	if set["warn-after"] {
		out.WarnAfter = account.Duration(r.warn)
	}
	if out == (account.RetrySettings{}) {
		return nil
	}
	return &out
}

// apply sets the fields whose flags were given (all of set) on p.
func (f *profileFlags) apply(p *account.Profile, set map[string]bool) error {
	if set["preset"] {
		pr, ok := account.PresetByID(f.preset)
		if !ok {
			return usagef("--preset: unknown preset %q (see 'herald profile presets')", f.preset)
		}
		email := f.email
		if email == "" {
			email = p.FromAddress
		}
		if email == "" && set["from"] {
			a, err := mail.ParseAddress(f.from)
			if err == nil {
				email = a.Address
			}
		}
		np := pr.Apply(email)
		p.Preset, p.Host, p.Port, p.TLS, p.Auth, p.OAuth = np.Preset, np.Host, np.Port, np.TLS, np.Auth, np.OAuth
		if p.Username == "" {
			p.Username = np.Username
		}
		if p.FromAddress == "" {
			p.FromAddress = np.FromAddress
		}
	}
	if set["email"] && p.FromAddress == "" {
		p.FromAddress = f.email
	}
	if set["server"] {
		host, port, err := splitHostPort(f.server)
		if err != nil {
			return err
		}
		p.Host, p.Port = host, port
		if port == 0 {
			p.Port = 0 // Normalize fills it from the TLS mode
		}
	}
	if set["tls"] {
		m, err := transport.ParseTLSMode(f.tls)
		if err != nil {
			return usagef("--tls: %v", err)
		}
		p.TLS = m
	} else if set["server"] && !set["preset"] && p.Port == 465 {
		p.TLS = transport.TLSImplicit
	}
	if set["auth"] {
		p.Auth = transport.AuthMethod(strings.ToLower(f.auth))
	}
	if set["user"] {
		p.Username = f.user
	}
	if set["ca-file"] {
		if f.caFile != "" {
			if _, err := os.Stat(f.caFile); err != nil {
				return usagef("--ca-file: %v", err)
			}
		}
		p.CAFile = f.caFile
	}
	if set["pin-sha256"] {
		p.PinnedSHA256 = f.pinned
	}
	if set["helo"] {
		p.HeloName = f.helo
	}
	if set["timeout"] {
		p.Timeout = account.Duration(f.timeout)
	}
	if set["from"] {
		a, err := mail.ParseAddress(f.from)
		if err != nil {
			if _, err2 := message.ParseAddress("from", f.from); err2 != nil {
				return usagef("--from: %v", err2)
			}
			p.FromAddress = f.from
		} else {
			p.FromAddress = a.Address
			if a.Name != "" && !set["from-name"] {
				p.FromName = a.Name
			}
		}
	}
	if set["from-name"] {
		p.FromName = f.fromName
	}
	if set["reply-to"] {
		p.ReplyTo = f.replyTo
	}
	if set["signature"] {
		p.Signature = f.signature
	}
	if set["signature-file"] {
		b, err := os.ReadFile(f.signFile)
		if err != nil {
			return usagef("--signature-file: %v", err)
		}
		p.Signature = strings.TrimRight(string(b), "\r\n")
	}
	if set["per-minute"] {
		p.Limits.PerMinute = f.perMinute
	}
	if set["sessions"] {
		p.Limits.Sessions = f.sessions
	}
	if set["per-session"] {
		p.Limits.PerSession = f.perSession
	}
	if set["fallback"] {
		p.Fallbacks = nil
		for _, v := range f.fallback.values {
			hp, mode, hasMode := strings.Cut(v, "/")
			host, port, err := splitHostPort(hp)
			if err != nil {
				return usagef("--fallback %q: %v", v, err)
			}
			s := account.Server{Host: host, Port: port}
			if hasMode {
				m, err := transport.ParseTLSMode(mode)
				if err != nil {
					return usagef("--fallback %q: %v", v, err)
				}
				s.TLS = m
			} else if port == 465 {
				s.TLS = transport.TLSImplicit
			} else {
				s.TLS = transport.TLSStartTLS
			}
			if s.Port == 0 {
				s.Port = transport.DefaultPort(s.TLS)
			}
			p.Fallbacks = append(p.Fallbacks, s)
		}
	}
	if set["header"] {
		p.Headers = nil
		for i, h := range f.headers.values {
			name, value, ok := strings.Cut(h, ":")
			if !ok {
				return usagef("--header %d (%q) is not \"Name: value\"", i+1, h)
			}
			p.Headers = append(p.Headers, message.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
	}
	if set["allow-insecure-auth"] {
		p.AllowInsecureAuth = f.allowInsecureAuth
	}
	if set["ask-password"] && f.askPassword {
		p.Secret = account.SecretAsk
	}
	if set["keychain-password"] && f.keychainSecret {
		p.Secret = account.SecretKeychain
	}
	if f.retry.any(set) {
		p.Retry = f.retry.over(p.Retry, set)
	}
	if err := f.applyOAuth(p, set); err != nil {
		return err
	}
	if set["dkim-domain"] || set["dkim-selector"] {
		if p.DKIM == nil {
			p.DKIM = &account.DKIM{}
		}
		if set["dkim-domain"] {
			p.DKIM.Domain = f.dkimDomain
		}
		if set["dkim-selector"] {
			s1, s2, _ := strings.Cut(f.dkimSelector, ",")
			p.DKIM.Selector, p.DKIM.Selector2 = strings.TrimSpace(s1), strings.TrimSpace(s2)
		}
		if p.DKIM.Domain == "" && p.DKIM.Selector == "" {
			p.DKIM = nil
		}
	}
	return nil
}

// applyOAuth sets the OAuth2 settings the --oauth-* flags give.
func (f *profileFlags) applyOAuth(p *account.Profile, set map[string]bool) error {
	given := false
	for _, n := range []string{"oauth-provider", "oauth-client-id", "oauth-tenant", "oauth-auth-url", "oauth-token-url", "oauth-device-url", "oauth-revoke-url", "oauth-scopes"} {
		given = given || set[n]
	}
	if !given {
		return nil
	}
	if p.OAuth == nil {
		p.OAuth = &account.OAuth{}
	}
	o := p.OAuth
	if set["oauth-provider"] {
		prov, err := oauth.ParseProvider(f.oauthProvider)
		if err != nil {
			return usagef("--oauth-provider: %v", err)
		}
		o.Provider = string(prov)
	}
	if o.Provider == "" {
		return usagef("--oauth-provider is needed: google, microsoft or custom")
	}
	for _, v := range []struct {
		flag string
		dst  *string
		val  string
	}{{"oauth-client-id", &o.ClientID, f.oauthClientID}, {"oauth-tenant", &o.TenantID, f.oauthTenant}, {"oauth-auth-url", &o.AuthURL, f.oauthAuthURL},
		{"oauth-token-url", &o.TokenURL, f.oauthTokenURL}, {"oauth-device-url", &o.DeviceURL, f.oauthDeviceURL}, {"oauth-revoke-url", &o.RevokeURL, f.oauthRevokeURL}} {
		if set[v.flag] {
			*v.dst = strings.TrimSpace(v.val)
		}
	}
	if set["oauth-scopes"] {
		o.Scopes = strings.Fields(f.oauthScopes)
	}
	if !set["auth"] && (set["oauth-provider"] || set["oauth-client-id"]) && p.Auth == "" {
		p.Auth = account.AuthOAuth2
	}
	return nil
}

// secretsToStore reads the password and DKIM key the flags give.
func (f *profileFlags) secretsToStore(env Env) (map[account.SecretKind]string, error) {
	out := map[account.SecretKind]string{}
	if f.passwordStdin && f.passwordEnv != "" {
		return nil, usagef("use only one of --password-env and --password-stdin")
	}
	switch {
	case f.passwordStdin:
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read the password from standard input: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			return nil, usagef("--password-stdin: standard input was empty")
		}
		out[account.SecretPassword] = line
	case f.passwordEnv != "":
		v := env.Getenv(f.passwordEnv)
		if v == "" {
			return nil, usagef("--password-env: environment variable %s is empty or not set", f.passwordEnv)
		}
		out[account.SecretPassword] = v
	}
	if f.oauthSecretStdin {
		if f.passwordStdin {
			return nil, usagef("use only one of --password-stdin and --oauth-client-secret-stdin (both read standard input)")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read the OAuth2 client secret from standard input: %w", err)
		}
		if line = strings.TrimSpace(line); line == "" {
			return nil, usagef("--oauth-client-secret-stdin: standard input was empty")
		}
		out[account.SecretClientSecret] = line
	}
	if f.dkimKeyFile != "" {
		b, err := os.ReadFile(f.dkimKeyFile)
		if err != nil {
			return nil, usagef("--dkim-key-file: %v", err)
		}
		if _, err := dkimkey.ParsePEM(b); err != nil {
			return nil, usagef("--dkim-key-file: %s: %v", f.dkimKeyFile, err)
		}
		out[account.SecretDKIMKey] = string(b)
	}
	return out, nil
}

func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// storeSecrets puts the secrets in the keychain; on a keychain failure it
// says what to do instead (adding says the profile was not created, so the
// advice is to add it again so that it asks for the password each time).
func storeSecrets(b *account.Book, p *account.Profile, secrets map[account.SecretKind]string, adding bool) error {
	for k, v := range secrets {
		if err := b.SetSecret(p, k, v); err != nil {
			if errors.Is(err, account.ErrNoKeychain) {
				if adding {
					return fmt.Errorf("%w\nNothing was stored in a file. To use the profile without a keychain, run the same 'herald profile add' again with --ask-password instead of --password-stdin/--password-env, and give the password at each send with --password-env VAR or --password-stdin", err)
				}
				return fmt.Errorf("%w\nNothing was stored in a file. To use the profile without a keychain, run 'herald profile edit %s --ask-password' and give the password at each send with --password-env or --password-stdin", err, quoteArg(p.Name))
			}
			return err
		}
	}
	return nil
}

func profileAdd(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f profileFlags
	fs := newFlagSet("profile add", "herald profile add --name NAME [flags]", env)
	f.register(fs, true)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("profile add takes no arguments, got %q (use --name)", pos)
	}
	p := &account.Profile{Name: f.name}
	set := setFlags(fs)
	if err := f.apply(p, set); err != nil {
		return ExitUsage, err
	}
	secrets, err := f.secretsToStore(env)
	if err != nil {
		return ExitUsage, err
	}
	if p.Secret == account.SecretAsk && secrets[account.SecretPassword] != "" {
		return ExitUsage, usagef("--ask-password stores no password: drop --password-stdin/--password-env")
	}
	c, err := env.core(ctx, f.dataDir)
	if err != nil {
		return ExitFailure, err
	}
	b := c.Book
	if err := b.Add(ctx, p); err != nil {
		return profileErrCode(err), err
	}
	if err := storeSecrets(b, p, secrets, true); err != nil {
		// Do not leave a half-made profile behind.
		b.Remove(ctx, p.Name, true)
		return ExitFailure, fmt.Errorf("profile %q not added: %w", p.Name, err)
	}
	fmt.Fprintf(env.Stdout, "added profile %q: %s via %s:%d (%s, auth %s)\n", p.Name, p.From(), p.Host, p.Port, p.TLS, p.Auth)
	if p.Auth == account.AuthOAuth2 {
		fmt.Fprintf(env.Stdout, "not signed in yet: herald oauth login %s\n", quoteArg(p.Name))
	}
	if p.PasswordAuth() && p.Secret == account.SecretKeychain && secrets[account.SecretPassword] == "" {
		fmt.Fprintf(env.Stdout, "no password stored yet: herald profile set-password %s\n", quoteArg(p.Name))
	}
	return ExitOK, nil
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " '\"$\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

func profileErrCode(err error) int {
	var fe *account.FieldError
	var ue *usageError
	if errors.As(err, &fe) || errors.As(err, &ue) || errors.Is(err, account.ErrExists) || errors.Is(err, account.ErrNotFound) {
		return ExitUsage
	}
	return ExitFailure
}

// nameAndFlags splits "NAME [flags]" (the name may also come after flags).
func nameAndFlags(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("%s needs exactly one profile name, got %d", what, len(pos))
	}
	return pos[0], nil
}

// namedProfile parses "NAME [flags]" with fs (it adds --data-dir), opens the
// core and loads the profile. On failure it returns the exit code to use.
func namedProfile(ctx context.Context, fs *flag.FlagSet, args []string, what string, env Env) (c *core.Core, p *account.Profile, code int, err error) {
	local := fs.String("data-dir", "", "Herald's data `directory`")
	name, err := nameAndFlags(fs, args, what)
	if err != nil {
		return nil, nil, ExitUsage, err
	}
	if c, err = env.core(ctx, *local); err != nil {
		return nil, nil, ExitFailure, err
	}
	if p, err = c.Book.Get(ctx, name); err != nil {
		return nil, nil, profileErrCode(err), err
	}
	return c, p, ExitOK, nil
}

func profileEdit(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f profileFlags
	fs := newFlagSet("profile edit", "herald profile edit NAME [flags]", env)
	f.register(fs, false)
	name, err := nameAndFlags(fs, args, "profile edit")
	if err != nil {
		return ExitUsage, err
	}
	set := setFlags(fs)
	secrets, err := f.secretsToStore(env)
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, f.dataDir)
	if err != nil {
		return ExitFailure, err
	}
	b := c.Book
	p, err := b.Get(ctx, name)
	if err != nil {
		return profileErrCode(err), err
	}
	if err := f.apply(p, set); err != nil {
		return ExitUsage, err
	}
	if set["rename"] {
		p.Name = f.name
	}
	if err := b.Update(ctx, p); err != nil {
		return profileErrCode(err), err
	}
	if err := storeSecrets(b, p, secrets, false); err != nil {
		return ExitFailure, err
	}
	if set["ask-password"] && f.askPassword {
		// The password is asked for from now on: do not keep the old one.
		if err := c.Book.DeleteSecret(p, account.SecretPassword); err != nil && !errors.Is(err, account.ErrNoSecret) && !errors.Is(err, account.ErrNoKeychain) {
			return ExitFailure, err
		}
	}
	fmt.Fprintf(env.Stdout, "updated profile %q\n", p.Name)
	return ExitOK, nil
}

type jsonProfileSummary struct {
	Name     string `json:"name"`
	From     string `json:"from"`
	Server   string `json:"server"`
	TLS      string `json:"tls"`
	Auth     string `json:"auth"`
	Username string `json:"username,omitempty"`
	Password string `json:"password"`
	Preset   string `json:"preset,omitempty"`
}

func passwordState(b *account.Book, p *account.Profile) string {
	switch {
	case !p.PasswordAuth() && p.Auth != account.AuthOAuth2 && p.Auth != transport.AuthXOAUTH2 && p.Auth != transport.AuthOAuthBearer:
		return "not needed"
	case p.Secret == account.SecretAsk:
		return "asked each time"
	}
	kind := account.SecretPassword
	if p.Auth == account.AuthOAuth2 {
		kind = account.SecretRefreshToken
	}
	return b.SecretStatus(p)[kind]
}

func profileList(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile list", "herald profile list [--json]", env)
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	b := c.Book
	ps, err := b.List(ctx)
	if err != nil {
		return ExitFailure, err
	}
	out := []jsonProfileSummary{}
	for i := range ps {
		p := &ps[i]
		out = append(out, jsonProfileSummary{p.Name, p.From(), p.Host + ":" + strconv.Itoa(p.Port), string(p.TLS), string(p.Auth), p.Username, passwordState(b, p), p.Preset})
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(env.Stdout, "no profiles yet: herald profile add --name NAME --preset ID --email ADDR (see 'herald profile presets')")
		return ExitOK, nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFROM\tSERVER\tTLS\tAUTH\tPASSWORD")
	for _, s := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.From, s.Server, s.TLS, s.Auth, s.Password)
	}
	return ExitOK, tw.Flush()
}

func profileShow(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile show", "herald profile show NAME [--json]", env)
	jsonOut := fs.Bool("json", false, "print JSON")
	c, p, code, err := namedProfile(ctx, fs, args, "profile show", env)
	if err != nil {
		return code, err
	}
	b := c.Book
	status := b.SecretStatus(p)
	type lastTest struct {
		Time    time.Time `json:"time"`
		OK      bool      `json:"ok"`
		Summary string    `json:"summary"`
	}
	var last *lastTest
	if t, err := c.LastTest(ctx, p.ID); err == nil {
		last = &lastTest{t.Tested, t.OK, t.Summary}
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, struct {
			*account.Profile
			Secrets  map[account.SecretKind]string `json:"secrets"`
			LastTest *lastTest                     `json:"last_test,omitempty"`
		}{p, status, last})
	}
	w := env.Stdout
	fmt.Fprintf(w, "Profile:   %s (id %s)\n", p.Name, p.ID)
	if last != nil {
		fmt.Fprintf(w, "Last test: %s, %s (%s)\n", last.Summary, last.Time.Local().Format(time.DateTime), relativeTime(last.Time, time.Now()))
	} else {
		fmt.Fprintf(w, "Last test: never (herald profile test %s)\n", quoteArg(p.Name))
	}
	if p.Preset != "" {
		fmt.Fprintf(w, "Preset:    %s\n", p.Preset)
	}
	fmt.Fprintf(w, "From:      %s\n", p.From())
	if p.ReplyTo != "" {
		fmt.Fprintf(w, "Reply-To:  %s\n", p.ReplyTo)
	}
	fmt.Fprintf(w, "Server:    %s:%d, TLS %s\n", p.Host, p.Port, p.TLS)
	for i, fb := range p.Fallbacks {
		fmt.Fprintf(w, "Fallback %d: %s:%d, TLS %s\n", i+1, fb.Host, fb.Port, fb.TLS)
	}
	fmt.Fprintf(w, "Auth:      %s", p.Auth)
	if p.Username != "" {
		fmt.Fprintf(w, " as %s", p.Username)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Password:  %s\n", passwordState(b, p))
	if p.AllowInsecureAuth {
		fmt.Fprintln(w, "Plaintext: allowed (the password may travel without TLS)")
	}
	if p.CAFile != "" {
		fmt.Fprintf(w, "CA file:   %s\n", p.CAFile)
	}
	if p.PinnedSHA256 != "" {
		fmt.Fprintf(w, "Pinned:    sha256 %s\n", p.PinnedSHA256)
	}
	if p.HeloName != "" {
		fmt.Fprintf(w, "EHLO name: %s\n", p.HeloName)
	}
	if p.Timeout > 0 {
		fmt.Fprintf(w, "Timeout:   %s\n", time.Duration(p.Timeout))
	}
	if l := p.Limits; l != (account.Limits{}) {
		fmt.Fprintf(w, "Limits:    %d/min, %d sessions, %d per session (0: no limit / default)\n", l.PerMinute, l.Sessions, l.PerSession)
	}
	for _, h := range p.Headers {
		fmt.Fprintf(w, "Header:    %s: %s\n", h.Name, h.Value)
	}
	if p.DKIM != nil {
		fmt.Fprintf(w, "DKIM:      d=%s s=%s, key %s\n", p.DKIM.Domain, strings.Join(p.DKIM.Selectors(), ","), status[account.SecretDKIMKey])
	}
	if p.OAuth != nil {
		o := p.OAuth
		fmt.Fprintf(w, "OAuth2:    %s, refresh token %s (herald oauth status %s)\n", o.Provider, status[account.SecretRefreshToken], quoteArg(p.Name))
		if o.ClientID != "" {
			fmt.Fprintf(w, "  client:  %s, secret %s\n", o.ClientID, status[account.SecretClientSecret])
		}
		if o.TenantID != "" {
			fmt.Fprintf(w, "  tenant:  %s\n", o.TenantID)
		}
		for _, u := range []struct{ k, v string }{{"auth URL", o.AuthURL}, {"token URL", o.TokenURL}, {"device URL", o.DeviceURL}, {"revoke URL", o.RevokeURL}} {
			if u.v != "" && o.Provider == "custom" {
				fmt.Fprintf(w, "  %s: %s\n", u.k, u.v)
			}
		}
		if len(o.Scopes) > 0 {
			fmt.Fprintf(w, "  scopes:  %s\n", strings.Join(o.Scopes, " "))
		}
	}
	if p.Signature != "" {
		fmt.Fprintf(w, "Signature: %q\n", p.Signature)
	}
	if r := p.Retry; r != nil {
		fmt.Fprintf(w, "Retries:   first after %s, at most %s apart, warn after %s, give up after %s (0s: the default)\n",
			time.Duration(r.Initial), time.Duration(r.Max), time.Duration(r.WarnAfter), time.Duration(r.GiveUpAfter))
	}
	return ExitOK, nil
}

func profileRemove(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile remove", "herald profile remove NAME [--force]", env)
	force := fs.Bool("force", false, "remove the profile even when the keychain is unreachable (its secrets may stay there)")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	name, err := nameAndFlags(fs, args, "profile remove")
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	b := c.Book
	if err := b.Remove(ctx, name, *force); err != nil {
		if errors.Is(err, account.ErrNoKeychain) {
			return ExitFailure, fmt.Errorf("%w\n(use --force to remove the profile anyway)", err)
		}
		return profileErrCode(err), err
	}
	fmt.Fprintf(env.Stdout, "removed profile %q and its secrets\n", name)
	return ExitOK, nil
}

func profileExport(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile export", "herald profile export NAME [--format autoconfig|json]", env)
	format := fs.String("format", "json", "`format`: json (Herald's, every setting) or autoconfig (Thunderbird clientConfig XML)")
	_, p, code, err := namedProfile(ctx, fs, args, "profile export", env)
	if err != nil {
		return code, err
	}
	switch *format {
	case "json":
		return ExitOK, account.ExportJSON(env.Stdout, *p)
	case "autoconfig", "xml":
		return ExitOK, account.ExportAutoconfig(env.Stdout, *p)
	}
	return ExitUsage, usagef("--format must be json or autoconfig, not %q", *format)
}

func profileImport(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile import", "herald profile import FILE [--name NAME] [--email ADDR]", env)
	name := fs.String("name", "", "`name` for the imported profile (one profile only)")
	email := fs.String("email", "", "your email `address`: fills autoconfig placeholders and a missing From")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	file, err := nameAndFlags(fs, args, "profile import")
	if err != nil {
		return ExitUsage, err
	}
	data, err := readInput(file, env)
	if err != nil {
		return ExitUsage, err
	}
	ps, err := core.ParseProfiles(file, data, *email)
	switch {
	case errors.Is(err, core.ErrNeedEmail):
		return ExitUsage, usagef("%v: give --email ADDR", err)
	case errors.Is(err, core.ErrUnknownFormat):
		return ExitUsage, usagef("%s is %v", file, err)
	case err != nil:
		return ExitUsage, usagef("import %s: %v", file, err)
	}
	if *name != "" && len(ps) != 1 {
		return ExitUsage, usagef("--name applies to a file with one profile; %s has %d", file, len(ps))
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	if *name != "" {
		ps[0].Name = *name
	}
	names, err := c.ImportProfiles(ctx, ps, false)
	for i, n := range names {
		p := ps[i]
		fmt.Fprintf(env.Stdout, "imported profile %q: %s:%d (%s, auth %s)\n", n, p.Host, p.Port, p.TLS, p.Auth)
	}
	if err != nil {
		return profileErrCode(err), fmt.Errorf("import %s: %w", file, err)
	}
	return ExitOK, nil
}

func profileSetPassword(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("profile set-password", "herald profile set-password NAME [--kind password|oauth-refresh-token|oauth-client-secret|dkim-key] < secret", env)
	kind := fs.String("kind", "password", "which `secret`: password, oauth-refresh-token, oauth-client-secret or dkim-key")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	name, err := nameAndFlags(fs, args, "profile set-password")
	if err != nil {
		return ExitUsage, err
	}
	k := account.SecretKind(*kind)
	var value string
	switch k {
	case account.SecretPassword, account.SecretRefreshToken, account.SecretClientSecret:
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return ExitFailure, fmt.Errorf("read standard input: %w", err)
		}
		value = strings.TrimRight(line, "\r\n")
	case account.SecretDKIMKey:
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
		if err != nil {
			return ExitFailure, fmt.Errorf("read standard input: %w", err)
		}
		value = string(b)
		if _, err := dkimkey.ParsePEM(b); err != nil {
			return ExitUsage, usagef("standard input: %v", err)
		}
	default:
		return ExitUsage, usagef("--kind must be password, oauth-refresh-token, oauth-client-secret or dkim-key")
	}
	if value == "" {
		return ExitUsage, usagef("standard input was empty: nothing to store")
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	b := c.Book
	p, err := b.Get(ctx, name)
	if err != nil {
		return profileErrCode(err), err
	}
	if err := storeSecrets(b, p, map[account.SecretKind]string{k: value}, false); err != nil {
		return ExitFailure, err
	}
	if k == account.SecretPassword && p.Secret == account.SecretAsk {
		p.Secret = account.SecretKeychain
		if err := b.Update(ctx, p); err != nil {
			return ExitFailure, err
		}
	}
	fmt.Fprintf(env.Stdout, "stored the %s of profile %q in the keychain\n", k, p.Name)
	return ExitOK, nil
}

func profilePresets(env Env) (int, error) {
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVIDER\tSERVER\tTLS\tUSER NAME\tSETUP")
	for _, p := range account.Presets() {
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%s\t%s\t%s\n", p.ID, p.Name, p.Host, p.Port, p.TLS, p.Username, p.SetupURL)
	}
	return ExitOK, tw.Flush()
}
