package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/transport"
)

const diagPass = "Diag-Horse-42"

// caFileFor writes the sandbox's certificate, the only authority its TLS
// needs, to a PEM file of the test's own.
func caFileFor(t *testing.T, sb *testSandbox) string {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(sb.dir, sandbox.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noPasswordIn(t *testing.T, r runResult) {
	t.Helper()
	for _, s := range []string{diagPass, base64.StdEncoding.EncodeToString([]byte(diagPass)), base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + diagPass))} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Fatalf("the password leaked:\n%s\n%s", r.stdout, r.stderr)
		}
	}
}

func startTLSSandbox(t *testing.T) (*testSandbox, string) {
	t.Helper()
	sb := startSandbox(t, sandbox.Config{TLS: sandbox.TLSStartTLS, AuthUser: "ann", AuthPass: diagPass})
	return sb, caFileFor(t, sb)
}

func TestTestPassesOverSTARTTLSWithAuth(t *testing.T) {
	sb, ca := startTLSSandbox(t)
	r := runCLI(t, "", map[string]string{"PW": diagPass}, "test", "--server", sb.addr, "--tls", "starttls", "--ca-file", ca,
		"--user", "ann", "--password-env", "PW", "--from", "ann@herald.test", "--rcpt", "bob@herald.test", "--no-dns-checks", "--timeout", "5s")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Testing " + sb.addr + " (starttls)", "PASS    connect", "PASS    banner", "PASS    ehlo", "PASS    tls", "STARTTLS: TLS 1.3",
		"PASS    auth", "authenticated as ann", "PASS    envelope", "All steps passed."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Deliverability") {
		t.Errorf("--no-dns-checks still checked the domain:\n%s", r.stdout)
	}
	noPasswordIn(t, r)
	if n := len(sb.messages(t)); n != 0 {
		t.Fatalf("the dry run delivered %d messages", n)
	}
}

func TestTestJSONShapeAndSendTest(t *testing.T) {
	sb, ca := startTLSSandbox(t)
	r := runCLI(t, "", map[string]string{"PW": diagPass}, "test", "--json", "--server", sb.addr, "--ca-file", ca,
		"--user", "ann", "--password-env", "PW", "--from", "ann@herald.test", "--send-test", "--no-dns-checks", "--timeout", "5s")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"discovery", "steps", "deliverability", "ok", "failed_stage", "exit_code"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if string(doc["discovery"]) != "null" || string(doc["ok"]) != "true" || string(doc["failed_stage"]) != `""` || string(doc["deliverability"]) != "[]" {
		t.Errorf("discovery %s ok %s failed_stage %s deliverability %s", doc["discovery"], doc["ok"], doc["failed_stage"], doc["deliverability"])
	}
	var steps []map[string]any
	if err := json.Unmarshal(doc["steps"], &steps); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		for _, k := range []string{"name", "status", "ms", "finding", "hint", "transcript"} {
			if _, ok := s[k]; !ok {
				t.Errorf("step %v lacks %q", s["name"], k)
			}
		}
		got = append(got, s["name"].(string)+"="+s["status"].(string))
	}
	if strings.Join(got, " ") != "dns=skipped connect=pass banner=pass ehlo=pass tls=pass auth=pass envelope=pass send=pass" {
		t.Errorf("steps: %v", got)
	}
	send := steps[len(steps)-1]
	if tr := send["transcript"].([]any); len(tr) == 0 {
		t.Error("send step has no transcript")
	} else if ev := tr[0].(map[string]any); ev["dir"] != "C" || ev["text"] == "" {
		t.Errorf("transcript event %v", ev)
	}
	if !strings.Contains(send["finding"].(string), "accepted: 250") {
		t.Errorf("send finding %q lacks the server's reply", send["finding"])
	}
	noPasswordIn(t, r)
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("the sandbox has %d messages, want the one test message", len(msgs))
	}
	m, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if m.Subject != "Herald test message" || m.From != "ann@herald.test" || len(m.To) != 1 || m.To[0] != "ann@herald.test" {
		t.Errorf("test message %q from %s to %v", m.Subject, m.From, m.To)
	}
}

func TestTestExitCodes(t *testing.T) {
	sb, ca := startTLSSandbox(t)
	plain := startSandbox(t, sandbox.Config{})
	closed := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		a := l.Addr().String()
		l.Close()
		return a
	}()
	env := map[string]string{"PW": diagPass, "BAD": "not-the-password"}
	cases := []struct {
		name  string
		args  []string
		code  int
		stage string
		hint  string
	}{
		{"wrong password", []string{"--server", sb.addr, "--ca-file", ca, "--user", "ann", "--password-env", "BAD"}, ExitAuth, "auth", "Wrong user name or password"},
		{"nothing listening", []string{"--server", closed}, ExitConnect, "connect", "Nothing listens on port"},
		{"starttls missing", []string{"--server", plain.addr, "--tls", "starttls"}, ExitTLS, "tls", "did not offer STARTTLS"},
		{"certificate not trusted", []string{"--server", sb.addr}, ExitTLS, "tls", "self-signed"},
		{"password in clear refused", []string{"--server", plain.addr, "--tls", "none", "--user", "ann", "--password-env", "PW"}, ExitAuth, "auth", "--allow-insecure-auth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"test", "--from", "ann@herald.test", "--no-dns-checks", "--timeout", "5s"}, c.args...)
			r := runCLI(t, "", env, args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "Failed at "+c.stage) || !strings.Contains(r.stdout, "hint: ") || !strings.Contains(r.stdout, c.hint) {
				t.Errorf("report does not name the stage %s or hint %q:\n%s", c.stage, c.hint, r.stdout)
			}
			r = runCLI(t, "", env, append(args, "--json")...)
			var doc struct {
				OK          bool   `json:"ok"`
				FailedStage string `json:"failed_stage"`
				ExitCode    int    `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			if r.code != c.code || doc.OK || doc.FailedStage != c.stage || doc.ExitCode != c.code {
				t.Errorf("--json: exit %d, %+v", r.code, doc)
			}
		})
	}
	if n := len(sb.messages(t)) + len(plain.messages(t)); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

func TestTestOpenRelay(t *testing.T) {
	open := startSandbox(t, sandbox.Config{}) // accepts anything from anyone
	r := runCLI(t, "", nil, "test", "--server", open.addr, "--tls", "none", "--from", "ann@herald.test", "--open-relay", "--no-dns-checks", "--timeout", "5s")
	if r.code != ExitRecipient || !strings.Contains(r.stdout, "FAIL    open-relay") || !strings.Contains(r.stdout, "open relay") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// With AUTH required, relaying without it is refused.
	sb, ca := startTLSSandbox(t)
	r = runCLI(t, "", map[string]string{"PW": diagPass}, "test", "--server", sb.addr, "--ca-file", ca, "--user", "ann", "--password-env", "PW",
		"--from", "ann@herald.test", "--open-relay", "--no-dns-checks", "--timeout", "5s")
	if r.code != ExitOK || !strings.Contains(r.stdout, "PASS    open-relay") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// diagSecrets is an in-memory keychain for these tests.
type diagSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *diagSecrets) Set(id string, k account.SecretKind, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[id+"/"+string(k)] = v
	return nil
}

func (s *diagSecrets) Get(id string, k account.SecretKind) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id+"/"+string(k)]
	if !ok {
		return "", account.ErrNoSecret
	}
	return v, nil
}

func (s *diagSecrets) Delete(id string, k account.SecretKind) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id+"/"+string(k))
	return nil
}

func TestTestProfile(t *testing.T) {
	sb, ca := startTLSSandbox(t)
	data := t.TempDir()
	sec := &diagSecrets{}
	run := func(stdin string, args ...string) runResult {
		var out, errb bytes.Buffer
		e := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Secrets: sec}
		code := Run(context.Background(), append([]string{"--data-dir", data}, args...), e)
		return runResult{code, out.String(), errb.String()}
	}
	r := run(diagPass+"\n", "profile", "add", "--name", "sandbox", "--server", sb.addr, "--tls", "starttls", "--auth", "plain", "--user", "ann",
		"--from", "ann@herald.test", "--ca-file", ca, "--timeout", "5s", "--password-stdin")
	if r.code != ExitOK {
		t.Fatalf("profile add: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run("", "test", "--profile", "sandbox", "--no-dns-checks")
	if r.code != ExitOK || !strings.Contains(r.stdout, "authenticated as ann with PLAIN") || !strings.Contains(r.stdout, "MAIL FROM:<ann@herald.test>") {
		t.Fatalf("test --profile: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noPasswordIn(t, r)
	// Flags override the profile: a wrong password given on the side.
	r = run("wrong-one\n", "test", "--profile", "sandbox", "--password-stdin", "--no-dns-checks")
	if r.code != ExitAuth {
		t.Fatalf("test --profile with a wrong password: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = run("", "test", "--profile", "nope", "--no-dns-checks"); r.code == ExitOK {
		t.Fatalf("a missing profile passed:\n%s", r.stdout)
	}
}

func TestTestAndDiscoverUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"test without a target":        {"test"},
		"test with a bad email":        {"test", "--email", "nobody"},
		"test with an argument":        {"test", "ann@herald.test"},
		"test with a bad from":         {"test", "--server", "127.0.0.1:1", "--from", "a@b\r\nRCPT TO:<x@y>"},
		"test with a bad rcpt":         {"test", "--server", "127.0.0.1:1", "--rcpt", "nobody"},
		"send-test without a sender":   {"test", "--server", "127.0.0.1:1", "--send-test"},
		"test with a bad tls mode":     {"test", "--server", "127.0.0.1:1", "--tls", "sometimes"},
		"test with a user, no secret":  {"test", "--server", "127.0.0.1:1", "--user", "ann"},
		"test with an unknown flag":    {"test", "--to", "x@y.test"},
		"discover without an address":  {"discover"},
		"discover with two addresses":  {"discover", "a@b.test", "c@d.test"},
		"discover with a bad address":  {"discover", "not-an-address"},
		"discover with a zero timeout": {"discover", "a@b.test", "--timeout", "0s"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, "", nil, args...)
			if r.code != ExitUsage || r.stderr == "" {
				t.Fatalf("exit %d, want %d with a message\n%s\n%s", r.code, ExitUsage, r.stdout, r.stderr)
			}
		})
	}
	for _, verb := range []string{"test", "discover"} {
		r := runCLI(t, "", nil, "help", verb)
		if r.code != ExitOK || !strings.Contains(r.stdout, "herald "+verb) || !strings.Contains(r.stdout, "--json") {
			t.Errorf("help %s: exit %d\n%s", verb, r.code, r.stdout)
		}
	}
	if r := runCLI(t, "", nil, "test", "--help"); !strings.Contains(r.stdout, "--send-test") || !strings.Contains(r.stdout, "--password-env") || strings.Contains(r.stdout, "--subject") {
		t.Errorf("test --help shows the wrong flags:\n%s", r.stdout)
	}
	if r := runCLI(t, "", nil, "help"); !strings.Contains(r.stdout, "herald test") || !strings.Contains(r.stdout, "herald discover") {
		t.Errorf("help does not list test and discover:\n%s", r.stdout)
	}
}

func TestAccountKnown(t *testing.T) {
	k := core.Known()
	servers := k.PresetsFor("gmail.com", "ann@gmail.com")
	if len(servers) < 2 {
		t.Fatalf("gmail presets: %+v", servers)
	}
	if s := servers[0]; s.Host != "smtp.gmail.com" || s.Port != 465 || s.TLS != transport.TLSImplicit || s.Username != "ann@gmail.com" || s.Provider == "" || s.SetupURL == "" {
		t.Errorf("first gmail server %+v", s)
	}
	if s := servers[1]; s.Port != 587 || s.TLS != transport.TLSStartTLS || s.Username != "ann@gmail.com" {
		t.Errorf("gmail fallback %+v", s)
	}
	if got := k.PresetsFor("no-such-provider.test", "a@no-such-provider.test"); len(got) != 0 {
		t.Errorf("presets for an unknown domain: %+v", got)
	}
	doc := `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="example.test">
<domain>example.test</domain><displayName>Example Mail</displayName>
<outgoingServer type="smtp"><hostname>smtp.example.test</hostname><port>587</port><socketType>STARTTLS</socketType><username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication></outgoingServer>
</emailProvider></clientConfig>`
	got, err := k.ParseAutoconfig(strings.NewReader(doc), "ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Host != "smtp.example.test" || got[0].Port != 587 || got[0].TLS != transport.TLSStartTLS || got[0].Username != "ann" {
		t.Errorf("autoconfig servers %+v", got)
	}
	if _, err := k.ParseAutoconfig(strings.NewReader("<nope/>"), "ann@example.test"); err == nil {
		t.Error("a document without servers parsed")
	}
}

func TestPrintDiscovery(t *testing.T) {
	d := &diagnose.Discovery{Email: "ann@example.test", Domain: "example.test", Ms: 812,
		Sources: []diagnose.SourceReport{
			{Source: diagnose.SourceAutoconfig, Query: "https://autoconfig.example.test/mail/config-v1.1.xml", Found: 1},
			{Source: diagnose.SourceSRV, Query: "_submissions._tcp.example.test", Error: "server misbehaving"},
		},
		Candidates: []diagnose.Candidate{
			{Server: diagnose.Server{Host: "smtp.example.test", Port: 465, TLS: transport.TLSImplicit, Username: "ann@example.test", Provider: "Example Mail"},
				Source: diagnose.SourceAutoconfig, Detail: "autoconfig.example.test", Rank: 1,
				Probe: &diagnose.Reach{OK: true, Ms: 40, TLS: &transport.TLSInfo{Version: "TLS 1.3", Verified: true}, AuthMechanisms: []string{"PLAIN", "LOGIN"}}},
			{Server: diagnose.Server{Host: "mail.example.test", Port: 25, TLS: transport.TLSStartTLS}, Source: diagnose.SourceGuess, Rank: 2,
				Probe: &diagnose.Reach{Ms: 4000, Stage: transport.StageConnect, Error: "connect to mail.example.test:25: i/o timeout"}},
			{Server: diagnose.Server{Host: "example.test", Port: 2525, TLS: transport.TLSStartTLS}, Source: diagnose.SourceGuess, Rank: 3,
				Probe: &diagnose.Reach{Skipped: true, Error: "not needed: a better candidate answered first"}},
		},
	}
	d.Best = &d.Candidates[0]
	var b bytes.Buffer
	printDiscovery(&b, d)
	out := b.String()
	for _, want := range []string{"ann@example.test", "autoconfig", "1 found", "server misbehaving", "RANK", "smtp.example.test:465",
		"answered in 40 ms; TLS 1.3, certificate verified; AUTH PLAIN LOGIN", "could not connect: mail.example.test:25", "Not needed",
		"Best: smtp.example.test:465, implicit TLS, from autoconfig (Example Mail); user name ann@example.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("discovery output lacks %q:\n%s", want, out)
		}
	}
	d.Best = nil
	b.Reset()
	printDiscovery(&b, d)
	if !strings.Contains(b.String(), "none answered") {
		t.Errorf("no best: %s", b.String())
	}
}

func TestTestExitCodeFromReport(t *testing.T) {
	ok := &diagnose.Report{OK: true}
	cases := []struct {
		rep  *diagnose.Report
		fs   []diagnose.Finding
		want int
	}{
		{ok, nil, ExitOK},
		{ok, []diagnose.Finding{{Check: "spf", Status: diagnose.StatusWarn}}, ExitOK},
		{ok, []diagnose.Finding{{Check: "spf", Status: diagnose.StatusFail}}, ExitFailure},
		{&diagnose.Report{FailedStage: transport.StageAuth, FailedClass: transport.ClassPermanent, FailedCode: 535}, nil, ExitAuth},
		{&diagnose.Report{FailedStage: transport.StageAuth, FailedClass: transport.ClassTemporary, FailedCode: 454}, nil, ExitTemporary},
		{&diagnose.Report{FailedStage: transport.StageConnect, FailedClass: transport.ClassTemporary}, nil, ExitConnect},
		{&diagnose.Report{FailedStage: transport.StageData, FailedClass: transport.ClassUnknown}, nil, ExitUnknown},
	}
	for i, c := range cases {
		if got := testExitCode(c.rep, c.fs); got != c.want {
			t.Errorf("case %d: exit %d, want %d", i, got, c.want)
		}
	}
}

func TestUseDiscovered(t *testing.T) {
	d := &diagnose.Discovery{Domain: "example.test", Candidates: []diagnose.Candidate{
		{Server: diagnose.Server{Host: "smtp.example.test", Port: 465, TLS: transport.TLSImplicit, Username: "ann@example.test"}, Rank: 1},
		{Server: diagnose.Server{Host: "mail.example.test", Port: 587, TLS: transport.TLSStartTLS, Username: "ann"}, Rank: 2},
	}}
	d.Best = &d.Candidates[1]

	c := &sendFlags{set: map[string]bool{}}
	if err := useDiscovered(c, d, "ann@example.test"); err != nil {
		t.Fatal(err)
	}
	if c.server != "mail.example.test:587" || c.tls != "starttls" || c.user != "" {
		t.Errorf("without a password: server %q tls %q user %q", c.server, c.tls, c.user)
	}
	c = &sendFlags{set: map[string]bool{"tls": true}, tls: "none", passwordEnv: "PW"}
	useDiscovered(c, d, "ann@example.test")
	if c.tls != "none" || c.user != "ann" {
		t.Errorf("flags must win and a password brings the user name: tls %q user %q", c.tls, c.user)
	}
	d.Best = nil
	c = &sendFlags{set: map[string]bool{}}
	useDiscovered(c, d, "ann@example.test")
	if c.server != "smtp.example.test:465" || c.tls != "implicit" {
		t.Errorf("no best: the first candidate is probed, got %q %q", c.server, c.tls)
	}
	if err := useDiscovered(c, &diagnose.Discovery{Domain: "example.test"}, "ann@example.test"); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("no candidates: %v", err)
	}
}

// TestCertificateFailureShowsTheFingerprintOnce: a refused self-signed
// certificate gives its SHA-256 once, with one pinning instruction.
func TestCertificateFailureShowsTheFingerprintOnce(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{TLS: sandbox.TLSStartTLS})
	r := runCLI(t, "", nil, "test", "--server", sb.addr, "--tls", "starttls", "--no-dns-checks")
	if r.code == ExitOK {
		t.Fatalf("test of an untrusted certificate passed:\n%s", r.stdout)
	}
	pem, err := os.ReadFile(sb.srv.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pemDecode(pem)
	fp := diagnose.CertificateFingerprint(block)
	if n := strings.Count(r.stdout, fp); n != 1 {
		t.Errorf("the fingerprint appears %d times:\n%s", n, r.stdout)
	}
	if n := strings.Count(r.stdout, "--pin-sha256"); n != 1 {
		t.Errorf("%d pinning instructions:\n%s", n, r.stdout)
	}
}

func pemDecode(b []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, rest
	}
	return blk.Bytes, rest
}

// TestPrintDiscoverySaysWhatAnswered: servers that answered but could not
// be used are reported with their reasons, and the same unreachable reason
// is one line, not one per server.
func TestPrintDiscoverySaysWhatAnswered(t *testing.T) {
	dns := &diagnose.Reach{Kind: transport.KindDNS, Stage: transport.StageConnect, Error: "lookup: no such host"}
	d := &diagnose.Discovery{Email: "ann@localhost", Domain: "localhost", Candidates: []diagnose.Candidate{
		{Server: diagnose.Server{Host: "localhost", Port: 465, TLS: transport.TLSImplicit}, Source: "guess",
			Probe: &diagnose.Reach{Kind: transport.KindCertSelfSigned, Stage: transport.StageTLS, Error: "the server's certificate is self-signed"}},
		{Server: diagnose.Server{Host: "localhost", Port: 587, TLS: transport.TLSStartTLS}, Source: "guess",
			Probe: &diagnose.Reach{Kind: transport.KindStartTLSMissing, Stage: transport.StageTLS, Error: "the server does not offer STARTTLS"}},
	}}
	for _, h := range []string{"smtp.localhost", "mail.localhost"} {
		for _, port := range []int{465, 587, 25, 2525} {
			d.Candidates = append(d.Candidates, diagnose.Candidate{Server: diagnose.Server{Host: h, Port: port}, Source: "guess", Probe: dns})
		}
	}
	var b strings.Builder
	printDiscovery(&b, d)
	out := b.String()
	if strings.Contains(out, "none answered") || !strings.Contains(out, "none usable") {
		t.Errorf("says nothing answered when two servers did:\n%s", out)
	}
	for _, want := range []string{"self-signed", "does not offer STARTTLS"} {
		if !strings.Contains(out, want) {
			t.Errorf("the reason %q is missing:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "does not resolve"); n != 1 {
		t.Errorf("the DNS failure is said %d times:\n%s", n, out)
	}
}
