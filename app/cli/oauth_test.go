package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
)

// TestOAuthEndToEnd runs the whole OAuth2 story through the verbs: a
// profile on a custom provider, the browser sign-in (the browser played by
// an HTTP client following the redirect), status, sending with the token
// (refreshed and rotated in a new process, the rotation saved), the
// provider revoking the grant (messages held with "sign in again", no
// retry loop), the device sign-in, logout with revocation, and no token in
// any file, output or log.
func TestOAuthEndToEnd(t *testing.T) {
	as := oauthtest.Start(t, oauthtest.Options{Rotate: true, Identity: "ann@example.com", Scope: "mail offline_access"})
	ms := oauthtest.StartMail(t, as)
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	var outputs strings.Builder
	stdin := ""
	run := func(args ...string) runResult {
		t.Helper()
		var out, errb strings.Builder
		e := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Secrets: sec,
			OpenURL: func(u string) error {
				go func() {
					if code, body, err := oauthtest.Browse(u); err != nil || code != 200 || !strings.Contains(body, "Signed in") {
						t.Errorf("browser: %d %v %s", code, err, body)
					}
				}()
				return nil
			}}
		code := Run(context.Background(), append([]string{"--data-dir", dir}, args...), e)
		outputs.WriteString(out.String() + errb.String())
		return runResult{code, out.String(), errb.String()}
	}
	if r := run("profile", "add", "--name", "idp", "--server", ms.Host+":"+strconv.Itoa(ms.Port), "--tls", "none", "--allow-insecure-auth",
		"--auth", "oauth2", "--user", "ann@example.com", "--from", "ann@example.com",
		"--oauth-provider", "custom", "--oauth-client-id", as.ClientID(), "--oauth-auth-url", as.AuthURL(), "--oauth-token-url", as.TokenURL(),
		"--oauth-device-url", as.DeviceURL(), "--oauth-revoke-url", as.RevokeURL(), "--oauth-scopes", "mail offline_access"); r.code != ExitOK || !strings.Contains(r.stdout, "herald oauth login idp") {
		t.Fatalf("profile add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Not signed in yet: sending says how to sign in.
	if r := run("send", "--profile", "idp", "--to", "b@example.com", "--subject", "s", "--body", "x"); r.code == ExitOK || !strings.Contains(r.stderr, "herald oauth login idp") {
		t.Fatalf("send before sign-in: %d %s", r.code, r.stderr)
	}
	if r := run("oauth", "login", "idp"); r.code != ExitOK || !strings.Contains(r.stdout, "signed in as ann@example.com") {
		t.Fatalf("login: %d %s %s", r.code, r.stdout, r.stderr)
	}
	id := profileID(t, sec)
	rt := func() string { return sec.m[id+"/"+string(account.SecretRefreshToken)] }
	first := rt()
	if first == "" || !as.ValidRefresh(first) {
		t.Fatal("no refresh token in the keychain")
	}
	r := run("oauth", "status", "idp", "--json")
	var st struct {
		SignedIn bool     `json:"signed_in"`
		Account  string   `json:"account"`
		Scopes   []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != ExitOK || !st.SignedIn || st.Account != "ann@example.com" || strings.Join(st.Scopes, " ") != "mail offline_access" {
		t.Fatalf("status: %v %d %s", err, r.code, r.stdout)
	}
	// The status refreshed in its process: the rotated token is saved.
	if rt() == first || !as.ValidRefresh(rt()) || as.ValidRefresh(first) {
		t.Fatal("the rotated refresh token was not saved")
	}
	if r := run("send", "--profile", "idp", "--to", "b@example.com", "--subject", "s", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run("profile", "test", "idp"); r.code != ExitOK {
		t.Fatalf("profile test: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if len(ms.Messages()) != 1 {
		t.Fatalf("%d messages", len(ms.Messages()))
	}
	// The console signs in with the profile's token too.
	stdin = "ehlo\nauth oauth2\nquit\n"
	if r := run("console", "--profile", "idp"); r.code != ExitOK || !strings.Contains(r.stdout, "235") || !strings.Contains(r.stdout, "AUTH OAUTHBEARER [redacted]") {
		t.Fatalf("console: %d %s %s", r.code, r.stdout, r.stderr)
	}
	stdin = ""
	// The user revokes Herald's access at the provider: the outbox holds
	// the message with "sign in again" and does not retry in a loop.
	as.RevokeAll()
	if r := run("send", "--profile", "idp", "--queue", "--to", "b@example.com", "--subject", "s2", "--body", "y"); r.code != ExitOK {
		t.Fatalf("queue: %d %s", r.code, r.stderr)
	}
	before := as.Refreshes()
	run("queue", "run", "--until-empty")
	run("queue", "run", "--until-empty")
	if n := len(as.Errors()); as.Refreshes() != before || n > 3 {
		t.Fatalf("retried: %d refreshes, errors %v", as.Refreshes()-before, as.Errors())
	}
	r = run("queue", "show", "1")
	if !strings.Contains(r.stdout, "held") || !strings.Contains(r.stdout, "sign in again") || !strings.Contains(r.stdout, "herald oauth login idp") {
		t.Fatalf("queue show:\n%s", r.stdout)
	}
	if r := run("oauth", "status", "idp"); r.code == ExitOK || !strings.Contains(r.stdout, "not signed in") {
		t.Fatalf("status after revocation: %d %s", r.code, r.stdout)
	}
	// Sign in again with the device code: the held message is released,
	// and it goes.
	if r := run("oauth", "login", "idp", "--device"); r.code != ExitOK || !strings.Contains(r.stdout, "WDJB-MJHT") || !strings.Contains(r.stdout, "1 message(s) held for want of a sign-in released") {
		t.Fatalf("device login: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run("queue", "run", "--until-empty"); len(ms.Messages()) != 2 {
		t.Fatalf("after release: %d messages: %s %s", len(ms.Messages()), r.stdout, r.stderr)
	}
	// Logout revokes at the provider and deletes the refresh token.
	last := rt()
	if r := run("oauth", "logout", "idp"); r.code != ExitOK || !strings.Contains(r.stdout, "revoked") || rt() != "" || as.ValidRefresh(last) {
		t.Fatalf("logout: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// No token anywhere: the data directory, the outputs.
	var files strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			files.Write(b)
		}
		return nil
	})
	for _, tok := range as.Issued() {
		if strings.Contains(files.String(), tok) || strings.Contains(outputs.String(), tok) {
			t.Fatalf("token %s leaked", tok)
		}
	}
	if len(ms.Tokens()) < 3 {
		t.Fatalf("tokens presented: %d", len(ms.Tokens()))
	}
}

// profileID is the id of the only profile with secrets in sec.
func profileID(t *testing.T, sec *memSecrets) string {
	for k := range sec.m {
		if id, _, ok := strings.Cut(k, "/"); ok {
			return id
		}
	}
	t.Fatal("no secret stored")
	return ""
}

// TestOAuthProfileFlags: the --oauth-* flags, https for custom endpoints,
// the client secret to the keychain and nowhere else, and login refusing
// the device flow for Google.
func TestOAuthProfileFlags(t *testing.T) {
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(stdin string, args ...string) runResult {
		t.Helper()
		return runCLIWith(t, stdin, sec, append([]string{"--data-dir", dir}, args...)...)
	}
	if r := run("", "profile", "add", "--name", "c", "--server", "smtp.example.com", "--from", "a@example.com", "--user", "a@example.com",
		"--auth", "oauth2", "--oauth-provider", "custom", "--oauth-client-id", "id", "--oauth-auth-url", "https://idp.example/a",
		"--oauth-token-url", "http://idp.example/t", "--oauth-scopes", "mail"); r.code != ExitUsage || !strings.Contains(r.stderr, "https") {
		t.Fatalf("http token URL: %d %s", r.code, r.stderr)
	}
	if r := run("the-client-secret\n", "profile", "add", "--name", "g", "--preset", "gmail", "--email", "a@gmail.com", "--auth", "oauth2",
		"--oauth-provider", "google", "--oauth-client-id", "id.apps.googleusercontent.com", "--oauth-client-secret-stdin"); r.code != ExitOK {
		t.Fatalf("google: %d %s %s", r.code, r.stdout, r.stderr)
	}
	found := false
	for k, v := range sec.m {
		found = found || (strings.HasSuffix(k, "/"+string(account.SecretClientSecret)) && v == "the-client-secret")
	}
	if !found {
		t.Fatal("the client secret is not in the keychain")
	}
	r := run("", "profile", "show", "g")
	if !strings.Contains(r.stdout, "id.apps.googleusercontent.com, secret stored") || strings.Contains(r.stdout, "the-client-secret") {
		t.Fatalf("show: %s", r.stdout)
	}
	if r := run("", "oauth", "login", "g", "--device"); r.code != ExitUsage || !strings.Contains(r.stderr, "Google refuses") {
		t.Fatalf("google device: %d %s", r.code, r.stderr)
	}
	if r := run("", "oauth", "status", "g", "--offline"); r.code != ExitFailure || !strings.Contains(r.stdout, "not signed in: herald oauth login g") {
		t.Fatalf("status: %d %s", r.code, r.stdout)
	}
	var files strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			files.Write(b)
		}
		return nil
	})
	if strings.Contains(files.String(), "the-client-secret") {
		t.Fatal("the client secret is in a file")
	}
}
