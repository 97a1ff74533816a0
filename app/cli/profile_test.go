package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/platform/keychain"
)

// runIn runs the CLI with a data directory and the given secrets store (nil:
// the real OS keychain).
func runIn(t *testing.T, dir, stdin string, env map[string]string, args ...string) runResult {
	t.Helper()
	return runCLI(t, stdin, env, append([]string{"--data-dir", dir}, args...)...)
}

// requireKeychain skips unless a real Secret Service is reachable, as in
// .ci/run (dbus-run-session with an unlocked gnome-keyring).
func requireKeychain(t *testing.T) {
	t.Helper()
	if err := keychain.New().Available(); err != nil {
		t.Skipf("no keychain: %v (.ci/run runs the tests with gnome-keyring)", err)
	}
}

// assertNoSecretInDir reads every file under dir and fails if the secret or
// a base64 form of it (or of a PLAIN payload) is in any of them.
func assertNoSecretInDir(t *testing.T, dir, user, secret string) {
	t.Helper()
	forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + secret))}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, f := range forms {
			if strings.Contains(string(b), f) {
				t.Errorf("%s holds the secret (form %q)", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no file was scanned")
	}
}

func TestProfileWithRealKeychainSendsAndLeaksNothing(t *testing.T) {
	requireKeychain(t)
	const pw = "Keychain-Only-Secret-7731"
	sb := startSandbox(t, sandbox.Config{AuthUser: "ann", AuthPass: pw})
	dir := t.TempDir()
	r := runIn(t, dir, pw+"\n", nil, "profile", "add", "--name", "Test Relay", "--server", sb.addr, "--tls", "none",
		"--auth", "plain", "--user", "ann", "--from", "Ann Example <ann@herald.test>", "--allow-insecure-auth",
		"--header", "X-Team: ops", "--signature", "Ann, ops team", "--password-stdin")
	if r.code != ExitOK {
		t.Fatalf("add: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, dir, "", nil, "profile", "list", "--json")
	var list []jsonProfileSummary
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Password != "stored" || list[0].Name != "Test Relay" {
		t.Fatalf("list: %v %+v\n%s", err, list, r.stdout)
	}
	r = runIn(t, dir, "", nil, "profile", "show", "test relay")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Password:  stored") || strings.Contains(r.stdout, pw) {
		t.Fatalf("show: %s", r.stdout)
	}
	// send --profile: the password comes from the keychain, From, headers
	// and signature from the profile.
	r = runIn(t, dir, "", nil, "send", "--profile", "Test Relay", "--to", "bob@herald.test", "--subject", "via profile", "--body", "hello", "--json")
	if r.code != ExitOK {
		t.Fatalf("send --profile: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Fatal("the password shows in the output")
	}
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	raw := string(m.Raw)
	if m.AuthUser != "ann" || !strings.Contains(raw, "Ann Example") || !strings.Contains(raw, "X-Team: ops") || !(strings.Contains(raw, "\n--=20\r\n") || strings.Contains(raw, "\n-- \r\n")) || !strings.Contains(raw, "Ann, ops team") {
		t.Fatalf("auth user %q, message:\n%s", m.AuthUser, raw)
	}
	// Exports never carry the secret; nothing in the data directory does.
	for _, format := range []string{"json", "autoconfig"} {
		r = runIn(t, dir, "", nil, "profile", "export", "Test Relay", "--format", format)
		if r.code != ExitOK || strings.Contains(r.stdout, pw) || strings.Contains(r.stdout, base64.StdEncoding.EncodeToString([]byte(pw))) {
			t.Fatalf("export %s: %d\n%s", format, r.code, r.stdout)
		}
	}
	assertNoSecretInDir(t, dir, "ann", pw)

	// Removing the profile removes its keychain entry.
	hc, err := core.Open(context.Background(), dir, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := hc.Book.Get(context.Background(), "Test Relay")
	hc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r = runIn(t, dir, "", nil, "profile", "remove", "Test Relay"); r.code != ExitOK {
		t.Fatalf("remove: %d %s", r.code, r.stderr)
	}
	if _, err := keychain.New().Get(p.ID, keychain.Password); !errors.Is(err, keychain.ErrNotFound) {
		t.Fatalf("the password outlived its profile: %v", err)
	}
}

func TestProfileWithoutKeychain(t *testing.T) {
	// No session bus: the keychain is unreachable (and nothing is launched).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	const pw = "No-Keychain-Secret-991"
	sb := startSandbox(t, sandbox.Config{AuthUser: "ann", AuthPass: pw})
	dir := t.TempDir()
	base := []string{"profile", "add", "--name", "Box", "--server", sb.addr, "--tls", "none", "--auth", "plain", "--user", "ann",
		"--from", "ann@herald.test", "--allow-insecure-auth"}
	r := runIn(t, dir, pw+"\n", nil, append(base, "--password-stdin")...)
	if r.code == ExitOK || !strings.Contains(r.stderr, "keychain") || !strings.Contains(r.stderr, "--ask-password") {
		t.Fatalf("add without a keychain: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The advice must be a command that works: the profile does not exist,
	// so "profile edit" would fail.
	if strings.Contains(r.stderr, "profile edit") || !strings.Contains(r.stderr, "profile add") {
		t.Fatalf("add without a keychain advises a command that cannot work:\n%s", r.stderr)
	}
	if r = runIn(t, dir, "", nil, "profile", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("a half-made profile was left: %s", r.stdout)
	}
	assertNoSecretInDir(t, dir, "ann", pw)

	if r = runIn(t, dir, "", nil, append(base, "--ask-password")...); r.code != ExitOK {
		t.Fatalf("add --ask-password: %d %s", r.code, r.stderr)
	}
	r = runIn(t, dir, "", nil, "send", "--profile", "Box", "--to", "bob@herald.test", "--body", "x")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--password-env") {
		t.Fatalf("send without a password: %d\n%s", r.code, r.stderr)
	}
	r = runIn(t, dir, "", map[string]string{"PW": pw}, "send", "--profile", "Box", "--password-env", "PW", "--to", "bob@herald.test", "--body", "x")
	if r.code != ExitOK {
		t.Fatalf("send with --password-env: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// show says the keychain is unreachable rather than "missing".
	if r = runIn(t, dir, "", nil, "profile", "show", "Box"); !strings.Contains(r.stdout, "asked each time") {
		t.Fatalf("show: %s", r.stdout)
	}
	assertNoSecretInDir(t, dir, "ann", pw)
	// Removal needs the keychain to delete secrets, or --force.
	if r = runIn(t, dir, "", nil, "profile", "remove", "Box"); r.code == ExitOK || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("remove without keychain: %d %s", r.code, r.stderr)
	}
	if r = runIn(t, dir, "", nil, "profile", "remove", "Box", "--force"); r.code != ExitOK {
		t.Fatalf("remove --force: %d %s", r.code, r.stderr)
	}
}

func TestProfileValidationEditExportImport(t *testing.T) {
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(stdin string, args ...string) runResult {
		t.Helper()
		return runCLIWith(t, stdin, sec, append([]string{"--data-dir", dir}, args...)...)
	}
	for name, args := range map[string][]string{
		"no name":        {"profile", "add", "--server", "smtp.example.com", "--from", "a@example.com"},
		"bad port":       {"profile", "add", "--name", "x", "--server", "smtp.example.com:0", "--from", "a@example.com"},
		"bad from":       {"profile", "add", "--name", "x", "--server", "smtp.example.com", "--from", "nobody"},
		"plain no optin": {"profile", "add", "--name", "x", "--server", "smtp.example.com", "--tls", "none", "--user", "u", "--auth", "plain", "--from", "a@example.com"},
		"header inject":  {"profile", "add", "--name", "x", "--server", "smtp.example.com", "--from", "a@example.com", "--header", "X-A: 1\r\nBcc: e@x.test"},
		"unknown preset": {"profile", "add", "--name", "x", "--preset", "nope", "--email", "a@example.com"},
	} {
		if r := run("", args...); r.code != ExitUsage || r.stderr == "" {
			t.Errorf("%s: exit %d %s", name, r.code, r.stderr)
		}
	}
	r := run("", "profile", "add", "--name", "Gmail", "--preset", "gmail", "--email", "ann@gmail.com")
	if r.code != ExitOK {
		t.Fatalf("preset add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run("", "profile", "show", "Gmail", "--json")
	var shown map[string]any
	json.Unmarshal([]byte(r.stdout), &shown)
	if shown["host"] != "smtp.gmail.com" || shown["username"] != "ann@gmail.com" || shown["from_address"] != "ann@gmail.com" {
		t.Fatalf("preset profile: %s", r.stdout)
	}
	if r = run("", "profile", "edit", "Gmail", "--rename", "Personal", "--per-minute", "20", "--fallback", "smtp.backup.test:587/starttls"); r.code != ExitOK {
		t.Fatalf("edit: %d %s", r.code, r.stderr)
	}
	r = run("", "profile", "export", "Personal", "--format", "json")
	exported := r.stdout
	if !strings.Contains(exported, "smtp.backup.test") || !strings.Contains(exported, "per_minute") {
		t.Fatalf("export: %s", exported)
	}
	f := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(f, []byte(exported), 0o600)
	if r = run("", "profile", "import", f, "--name", "Copy"); r.code != ExitOK {
		t.Fatalf("import json: %d %s", r.code, r.stderr)
	}
	r = run("", "profile", "export", "Copy", "--format", "json")
	if strings.ReplaceAll(r.stdout, "Copy", "Personal") != exported {
		t.Fatalf("JSON round trip differs:\n%s\nvs\n%s", r.stdout, exported)
	}
	r = run("", "profile", "export", "Personal", "--format", "autoconfig")
	xf := filepath.Join(t.TempDir(), "config-v1.1.xml")
	os.WriteFile(xf, []byte(r.stdout), 0o600)
	if r = run("", "profile", "import", xf, "--name", "FromXML"); r.code != ExitUsage {
		t.Fatalf("autoconfig import without --email: %d", r.code)
	}
	if r = run("", "profile", "import", xf, "--name", "FromXML", "--email", "bob@gmail.com"); r.code != ExitOK {
		t.Fatalf("import autoconfig: %d %s", r.code, r.stderr)
	}
	r = run("", "profile", "show", "FromXML", "--json")
	json.Unmarshal([]byte(r.stdout), &shown)
	if shown["host"] != "smtp.gmail.com" || shown["port"] != float64(465) || shown["tls"] != "implicit" || shown["username"] != "bob@gmail.com" {
		t.Fatalf("autoconfig round trip: %s", r.stdout)
	}
	prefs := filepath.Join(t.TempDir(), "prefs.js")
	os.WriteFile(prefs, []byte(`// Mozilla User Preferences
user_pref("mail.smtpservers", "smtp1");
user_pref("mail.smtpserver.smtp1.hostname", "mail.example.org");
user_pref("mail.smtpserver.smtp1.port", 587);
user_pref("mail.smtpserver.smtp1.try_ssl", 2);
user_pref("mail.smtpserver.smtp1.authMethod", 3);
user_pref("mail.smtpserver.smtp1.username", "carl");
user_pref("mail.smtpserver.smtp1.description", "Example Org");
user_pref("mail.identity.id1.smtpServer", "smtp1");
user_pref("mail.identity.id1.useremail", "carl@example.org");
user_pref("mail.identity.id1.fullName", "Carl");
`), 0o600)
	if r = run("", "profile", "import", prefs); r.code != ExitOK {
		t.Fatalf("import prefs.js: %d %s", r.code, r.stderr)
	}
	r = run("", "profile", "show", "Example Org", "--json")
	json.Unmarshal([]byte(r.stdout), &shown)
	if shown["host"] != "mail.example.org" || shown["tls"] != "starttls" || shown["username"] != "carl" || shown["from_address"] != "carl@example.org" {
		t.Fatalf("prefs.js import: %s", r.stdout)
	}
	if r = run("", "profile", "presets"); !strings.Contains(r.stdout, "smtp.sendgrid.net") {
		t.Fatalf("presets: %s", r.stdout)
	}
	if r = run("", "profile", "import", xf, "--name", "FromXML", "--email", "bob@gmail.com"); r.code != ExitUsage || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("duplicate import: %d %s", r.code, r.stderr)
	}
}

// memSecrets is an in-memory account.Secrets for CLI tests that are not
// about the keychain itself.
type memSecrets struct{ m map[string]string }

func (s *memSecrets) Set(id string, k account.SecretKind, v string) error {
	s.m[id+"/"+string(k)] = v
	return nil
}

func (s *memSecrets) Get(id string, k account.SecretKind) (string, error) {
	v, ok := s.m[id+"/"+string(k)]
	if !ok {
		return "", account.ErrNoSecret
	}
	return v, nil
}

func (s *memSecrets) Delete(id string, k account.SecretKind) error {
	delete(s.m, id+"/"+string(k))
	return nil
}

func runCLIWith(t *testing.T, stdin string, sec account.Secrets, args ...string) runResult {
	t.Helper()
	var out, errb strings.Builder
	e := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Secrets: sec}
	code := Run(context.Background(), args, e)
	return runResult{code, out.String(), errb.String()}
}

func TestSendProfileFallsBackWhenUnreachable(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	// The main server: a port where nothing listens.
	r := runCLIWith(t, "", sec, "--data-dir", dir, "profile", "add", "--name", "fb", "--server", "127.0.0.1:1", "--tls", "none",
		"--auth", "none", "--from", "a@herald.test", "--fallback", sb.addr+"/none")
	if r.code != ExitOK {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	r = runCLIWith(t, "", sec, "--data-dir", dir, "send", "--profile", "fb", "--to", "b@herald.test", "--body", "x", "--timeout", "5s")
	if r.code != ExitOK || !strings.Contains(r.stderr, "trying the fallback") {
		t.Fatalf("send: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(sb.messages(t)); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestProfileTestOffersPinForSelfSignedThenTrustsIt(t *testing.T) {
	// The sandbox's certificate is self-signed: without --ca-file the test
	// fails at TLS and offers the pin; pinned, the profile works.
	sb := startSandbox(t, sandbox.Config{TLS: sandbox.TLSImplicit})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(args ...string) runResult {
		t.Helper()
		return runCLIWith(t, "", sec, append([]string{"--data-dir", dir}, args...)...)
	}
	if r := run("profile", "add", "--name", "self", "--server", sb.addr, "--tls", "implicit", "--auth", "none", "--from", "a@herald.test"); r.code != ExitOK {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	r := run("profile", "test", "self")
	if r.code != ExitTLS || !strings.Contains(r.stdout, "--pin-sha256 ") {
		t.Fatalf("profile test: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	fp := strings.Fields(r.stdout[strings.Index(r.stdout, "--pin-sha256 ")+len("--pin-sha256 "):])[0]
	if r = run("profile", "edit", "self", "--pin-sha256", fp); r.code != ExitOK {
		t.Fatalf("edit: %d %s", r.code, r.stderr)
	}
	if r = run("profile", "test", "self"); r.code != ExitOK || !strings.Contains(r.stdout, "pinned") {
		t.Fatalf("pinned profile test: %d\n%s", r.code, r.stdout)
	}
	if r = run("send", "--profile", "self", "--to", "b@herald.test", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send over the pinned certificate: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
