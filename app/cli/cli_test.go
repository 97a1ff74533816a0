package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
)

type runResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	// Every verb that records (send keeps a history) gets a data directory of
	// its own, never the user's.
	tmp := t.TempDir()
	getenv := func(k string) string {
		if v, ok := env[k]; ok || k != "HERALD_DATA_DIR" {
			return v
		}
		return tmp
	}
	e := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: getenv}
	code := Run(context.Background(), args, e)
	return runResult{code, out.String(), errb.String()}
}

type testSandbox struct {
	dir  string
	st   *store.Store
	srv  *sandbox.Server
	addr string
}

// boxCLI is a data directory with a profile "box" (From from) that sends
// to a sandbox of its own, no TLS, no AUTH.
type boxCLI struct {
	t   *testing.T
	sb  *testSandbox
	dir string
	sec *memSecrets
}

func newBoxCLI(t *testing.T, from string) *boxCLI {
	t.Helper()
	b := &boxCLI{t: t, sb: startSandbox(t, sandbox.Config{}), dir: t.TempDir(), sec: &memSecrets{m: map[string]string{}}}
	if r := b.run("profile", "add", "--name", "box", "--server", b.sb.addr, "--tls", "none", "--auth", "none", "--from", from); r.code != ExitOK {
		t.Fatalf("profile add: %d %s", r.code, r.stderr)
	}
	return b
}

// run runs herald with args in b's data directory.
func (b *boxCLI) run(args ...string) runResult {
	b.t.Helper()
	return runCLIWith(b.t, "", b.sec, append([]string{"--data-dir", b.dir}, args...)...)
}

func startSandbox(t *testing.T, cfg sandbox.Config) *testSandbox {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.CertDir = dir
	srv, err := sandbox.Start(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); st.Close() })
	return &testSandbox{dir: dir, st: st, srv: srv, addr: srv.Addr()}
}

func (s *testSandbox) messages(t *testing.T) []store.SandboxMessage {
	t.Helper()
	msgs, err := s.st.ListSandboxMessages(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestSendToSandboxJSON(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--from", "Ann <ann@herald.test>",
		"--to", "bob@example.com,carol@example.com", "--cc", "dan@example.com", "--bcc", "eve@example.com",
		"--subject", "Grüße", "--body", "line one\n.\nline three", "--header", "X-Campaign: test-1", "--json")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"ok", "stage", "class", "code", "enhanced_code", "error", "hint", "message_id", "transcript"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if res["ok"] != true || res["stage"] != "done" || res["class"] != "sent" || res["code"] != float64(250) {
		t.Fatalf("result: %v", res)
	}
	tr := res["transcript"].([]any)
	first := tr[0].(map[string]any)
	for _, k := range []string{"time", "dir", "tls", "text"} {
		if _, ok := first[k]; !ok {
			t.Errorf("transcript event lacks %q", k)
		}
	}
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("sandbox has %d messages", len(msgs))
	}
	m, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if m.Subject != "Grüße" || len(m.To) != 4 || m.From != "ann@herald.test" {
		t.Fatalf("captured %q from %q to %v", m.Subject, m.From, m.To)
	}
	raw := string(m.Raw)
	if strings.Contains(raw, "eve@example.com") {
		t.Fatal("Bcc recipient appears in the message")
	}
	if !strings.Contains(raw, "X-Campaign: test-1") || !strings.Contains(raw, res["message_id"].(string)) {
		t.Fatalf("header or Message-ID missing:\n%s", raw)
	}
	// --json alone prints only the JSON (the transcript is inside it).
	if r.stderr != "" {
		t.Errorf("--json wrote to stderr:\n%s", r.stderr)
	}
	// --verbose adds the live transcript on stderr, marked by direction.
	r = runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--from", "ann@herald.test",
		"--to", "bob@example.com", "--bcc", "eve@example.com", "--body", "x", "--json", "--verbose")
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &res) != nil {
		t.Fatalf("--json --verbose: exit %d\n%s", r.code, r.stdout)
	}
	for _, want := range []string{"I  ", "S  220 ", "C  EHLO ", "C  RCPT TO:<eve@example.com>", "S  221"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr transcript lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestExitCodesByStage(t *testing.T) {
	closed := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		a := l.Addr().String()
		l.Close()
		return a
	}()
	cases := []struct {
		name   string
		faults string
		extra  []string
		want   int
	}{
		{"sender rejected", "mail:550", nil, ExitSender},
		{"recipient rejected", "rcpt:550", nil, ExitRecipient},
		{"data rejected", "data:554", nil, ExitData},
		{"temporary at rcpt", "rcpt:451", nil, ExitTemporary},
		{"temporary at data", "data:451", nil, ExitTemporary},
		{"lost after the dot", "drop-after-data", nil, ExitUnknown},
		{"starttls not offered", "", []string{"--tls", "starttls"}, ExitTLS},
		{"nothing listening", "", []string{"--server", closed}, ExitConnect},
		{"quit after ehlo", "rcpt:550", []string{"--quit-after", "ehlo"}, ExitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := sandbox.Config{}
			if c.faults != "" {
				f, err := sandbox.ParseFaults(c.faults)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Faults = f
			}
			sb := startSandbox(t, cfg)
			args := []string{"send", "--server", sb.addr, "--tls", "none", "--timeout", "5s", "--from", "a@herald.test", "--to", "b@herald.test", "--subject", "s", "--body", "b"}
			args = append(args, c.extra...)
			r := runCLI(t, "", nil, args...)
			if r.code != c.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.want, r.stdout, r.stderr)
			}
			if c.want != ExitOK && !strings.Contains(r.stdout, "failed at") {
				t.Fatalf("stdout does not say what failed:\n%s", r.stdout)
			}
		})
	}
}

func TestAuthAndRedaction(t *testing.T) {
	const pw = "Correct-Horse-9"
	sb := startSandbox(t, sandbox.Config{AuthUser: "ann", AuthPass: pw})
	base := []string{"send", "--server", sb.addr, "--tls", "none", "--user", "ann", "--password-env", "PW",
		"--from", "ann@herald.test", "--to", "bob@herald.test", "--subject", "s", "--body", "b"}
	secretForms := []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + pw))}
	noSecret := func(t *testing.T, r runResult) {
		t.Helper()
		for _, s := range secretForms {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Fatalf("secret %q leaked:\n%s\n%s", s, r.stdout, r.stderr)
			}
		}
	}

	// Without the opt-in Herald refuses to authenticate in clear, even on loopback.
	r := runCLI(t, "", map[string]string{"PW": pw}, base...)
	if r.code != ExitAuth || !strings.Contains(r.stdout, "--allow-insecure-auth") {
		t.Fatalf("exit %d, want %d with a hint naming --allow-insecure-auth:\n%s\n%s", r.code, ExitAuth, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "C  AUTH") || strings.Contains(r.stderr, "C* AUTH") {
		t.Fatalf("an AUTH command was sent without TLS:\n%s", r.stderr)
	}
	noSecret(t, r)

	for _, mech := range []string{"plain", "login", "cram-md5"} {
		r = runCLI(t, "", map[string]string{"PW": pw}, append(base, "--allow-insecure-auth", "--auth", mech, "--json")...)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", mech, r.code, r.stdout, r.stderr)
		}
		noSecret(t, r)
		r = runCLI(t, "wrong-password-1\n", nil, append(base[:7:7], "--password-stdin", "--from", "ann@herald.test", "--to", "bob@herald.test", "--body", "b", "--allow-insecure-auth", "--auth", mech)...)
		if r.code != ExitAuth {
			t.Fatalf("%s with a wrong password: exit %d, want %d\n%s\n%s", mech, r.code, ExitAuth, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "wrong-password-1") {
			t.Fatalf("wrong password leaked")
		}
	}
}

func TestBadInputIsUsageError(t *testing.T) {
	cases := map[string][]string{
		"no recipient":       {"send", "--from", "a@b.test", "--body", "x"},
		"bad address":        {"send", "--from", "a@b.test", "--to", "nobody", "--body", "x"},
		"header injection":   {"send", "--from", "a@b.test", "--to", "c@d.test", "--header", "X-A: 1\r\nBcc: evil@x.test"},
		"subject injection":  {"send", "--from", "a@b.test", "--to", "c@d.test", "--subject", "hi\nBcc: evil@x.test"},
		"address injection":  {"send", "--from", "a@b.test\r\nRCPT TO:<evil@x.test>", "--to", "c@d.test"},
		"bad tls mode":       {"send", "--tls", "sometimes", "--from", "a@b.test", "--to", "c@d.test"},
		"bad server":         {"send", "--server", "host:99999", "--from", "a@b.test", "--to", "c@d.test"},
		"unset password env": {"send", "--user", "u", "--password-env", "NOPE", "--from", "a@b.test", "--to", "c@d.test"},
		"user no password":   {"send", "--user", "u", "--from", "a@b.test", "--to", "c@d.test"},
		"missing attachment": {"send", "--from", "a@b.test", "--to", "c@d.test", "--attach", "/does/not/exist"},
		"unknown flag":       {"send", "--frm", "a@b.test"},
		"unknown verb":       {"sned"},
		"redirect sans eml":  {"send", "--redirect", "--to", "c@d.test"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, "", nil, args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, ExitUsage, r.stdout, r.stderr)
			}
			if r.stderr == "" {
				t.Fatal("no error message on stderr")
			}
		})
	}
	r := runCLI(t, "", nil, "send", "--from", "a@b.test", "--to", "c@d.test,nobody")
	if !strings.Contains(r.stderr, `To: "nobody" is not an address`) {
		t.Fatalf("error does not name the field To: %s", r.stderr)
	}
}

func TestSendEMLAndRedirect(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	eml := filepath.Join(t.TempDir(), "m.eml")
	orig := "From: Ann <ann@herald.test>\nTo: bob@herald.test\nSubject: prepared\nMessage-ID: <prep-1@herald.test>\n\nprepared body\n"
	if err := os.WriteFile(eml, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--eml", eml)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--eml", eml, "--redirect", "--from", "fwd@herald.test", "--to", "zed@herald.test")
	if r.code != ExitOK {
		t.Fatalf("redirect: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	msgs := sb.messages(t)
	if len(msgs) != 2 {
		t.Fatalf("%d messages captured", len(msgs))
	}
	plain, _ := sb.st.SandboxMessage(context.Background(), msgs[1].ID)
	if plain.To[0] != "bob@herald.test" || !strings.Contains(string(plain.Raw), "Message-ID: <prep-1@herald.test>") {
		t.Fatalf("as-is send changed the message or envelope: %v\n%s", plain.To, plain.Raw)
	}
	red, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	raw := string(red.Raw)
	if red.To[0] != "zed@herald.test" || red.From != "fwd@herald.test" || !strings.HasPrefix(raw, "Resent-") ||
		!strings.Contains(raw, "Resent-To: ") || !strings.Contains(raw, "zed@herald.test") || !strings.Contains(raw, "To: bob@herald.test") {
		t.Fatalf("redirect: envelope %s -> %v\n%s", red.From, red.To, raw)
	}
}

func TestSandboxListShowClear(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	for _, s := range []string{"first", "second"} {
		if r := runCLI(t, "", nil, "send", "--quiet", "--server", sb.addr, "--tls", "none", "--from", "a@herald.test", "--to", "b@herald.test", "--subject", s, "--body", "body of "+s); r.code != 0 {
			t.Fatalf("send: %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, "", nil, "sandbox", "list", "--data-dir", sb.dir, "--json")
	var items []jsonInboxItem
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 2 || items[0].Subject != "second" {
		t.Fatalf("list: %v %+v\n%s", err, items, r.stdout)
	}
	r = runCLI(t, "", nil, "--data-dir", sb.dir, "sandbox", "list")
	if !strings.Contains(r.stdout, "SUBJECT") || !strings.Contains(r.stdout, "first") {
		t.Fatalf("table: %s", r.stdout)
	}
	r = runCLI(t, "", nil, "sandbox", "show", "--data-dir", sb.dir, "--raw", itoa(items[1].ID))
	if r.code != 0 || !strings.Contains(r.stdout, "body of first") || !strings.Contains(r.stdout, "Subject: first") {
		t.Fatalf("show --raw: %d %s", r.code, r.stdout)
	}
	r = runCLI(t, "", nil, "sandbox", "show", "--data-dir", sb.dir, itoa(items[0].ID))
	if !strings.Contains(r.stdout, "Session:") || !strings.Contains(r.stdout, "MAIL FROM") {
		t.Fatalf("show: %s", r.stdout)
	}
	if r = runCLI(t, "", nil, "sandbox", "show", "--data-dir", sb.dir, "999"); r.code != ExitUsage {
		t.Fatalf("show of a missing id: exit %d", r.code)
	}
	if r = runCLI(t, "", nil, "sandbox", "clear", "--data-dir", sb.dir); r.code != 0 {
		t.Fatalf("clear: %d %s", r.code, r.stderr)
	}
	if n := len(sb.messages(t)); n != 0 {
		t.Fatalf("%d messages after clear", n)
	}
}

func TestHelpAndVersion(t *testing.T) {
	if r := runCLI(t, "", nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "herald send") {
		t.Fatalf("help: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil, "send", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--quit-after") {
		t.Fatalf("send --help: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil, "version"); r.code != 0 || !strings.Contains(r.stdout, Version) {
		t.Fatalf("version: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil); r.code != ExitFailure || !strings.Contains(r.stderr, "no window") {
		t.Fatalf("no GUI: %d %s", r.code, r.stderr)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSendPipeliningFlag(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	base := []string{"send", "--server", sb.addr, "--tls", "none", "--from", "a@herald.test", "--to", "b@herald.test,c@herald.test", "--body", "x"}
	r := runCLI(t, "", nil, append(base, "--pipelining", "on")...)
	if r.code != ExitOK {
		t.Fatalf("on: %d %s", r.code, r.stderr)
	}
	// Pipelined: MAIL, both RCPTs and DATA are written before the first
	// reply to them.
	group := r.stderr[strings.Index(r.stderr, "C  MAIL"):]
	if strings.Index(group, "S  ") < strings.Index(group, "C  DATA") {
		t.Fatalf("not pipelined:\n%s", r.stderr)
	}
	r = runCLI(t, "", nil, append(base, "--pipelining", "off")...)
	mail := strings.Index(r.stderr, "C  MAIL")
	if r.code != ExitOK || strings.Index(r.stderr[mail:], "S  ") > strings.Index(r.stderr[mail:], "C  RCPT") {
		t.Fatalf("off: a reply did not come before the next command:\n%s", r.stderr)
	}
	if r = runCLI(t, "", nil, append(base, "--pipelining", "sometimes")...); r.code != ExitUsage {
		t.Fatalf("bad mode: %d", r.code)
	}
}
