package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/sandbox"
)

// scriptServer runs handle for every connection on a loopback port, for
// servers that misbehave; it returns the address.
func scriptServer(t *testing.T, handle func(w net.Conn, r *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1) // the accept loop too: no Add may race with the Wait
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return l.Addr().String()
}

// expect reads lines until one starts with prefix.
func expect(r *bufio.Reader, prefix string) bool {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if strings.HasPrefix(strings.ToUpper(l), prefix) {
			return true
		}
	}
}

func TestConsoleScriptedSession(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	in := strings.Join([]string{
		"EHLO x",
		"MAIL FROM:<a@herald.test>",
		"RCPT TO:<b@herald.test>",
		"data",
		"Subject: typed by hand",
		"",
		".hidden",
		"quit",
		"last line",
		".",
		"quit",
	}, "\n") + "\n"
	r := runCLI(t, in, nil, "console", "--server", sb.addr, "--tls", "none", "--timeout", "5s")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages captured\n%s", len(msgs), r.stdout)
	}
	m, err := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: typed by hand\r\n\r\n.hidden\r\nquit\r\nlast line\r\n"; string(m.Raw) != want {
		t.Fatalf("captured %q, want %q", m.Raw, want)
	}
	if m.From != "a@herald.test" || len(m.To) != 1 || m.To[0] != "b@herald.test" {
		t.Fatalf("envelope %s -> %v", m.From, m.To)
	}
	for _, want := range []string{"S  220 ", "C  EHLO x", "S  250-", "C  MAIL FROM:<a@herald.test>", "S  250 2.0.0",
		"C  RCPT TO:<b@herald.test>", "C  DATA", "S  354 ", "C  [message: 47 bytes in 5 lines]", "C  .", "C  QUIT", "S  221 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "hidden") || strings.Contains(r.stdout, "smtp>") {
		t.Fatalf("the body or a prompt was printed:\n%s", r.stdout)
	}
}

func TestConsoleStartTLSAndAuth(t *testing.T) {
	const pw = "Correct-Horse-Console-9"
	sb := startSandbox(t, sandbox.Config{TLS: sandbox.TLSStartTLS, AuthUser: "ann", AuthPass: pw})
	secretForms := []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + pw))}
	base := []string{"console", "--server", sb.addr, "--ca-file", sb.srv.CertPath(), "--timeout", "5s"}
	script := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

	// Password from the environment.
	r := runCLI(t, script("ehlo", "auth plain ann", "starttls", "auth plain ann", "MAIL FROM:<ann@herald.test>", "quit"),
		map[string]string{"PW": pw}, append(base, "--password-env", "PW")...)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"refusing to send credentials", "C  STARTTLS", "S  220 ", "I* TLS started", "verified", "C* EHLO ",
		"C* AUTH PLAIN [redacted]", "S* 235 ", "C* MAIL FROM:<ann@herald.test>", "S* 250 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "C  AUTH") {
		t.Fatalf("AUTH went out in clear:\n%s", r.stdout)
	}
	// Password from the next input line (a pipe: no prompt, no echo).
	r2 := runCLI(t, script("ehlo", "starttls", "AUTH LOGIN", pw, "quit"), nil, append(base, "--user", "ann")...)
	if r2.code != ExitOK || !strings.Contains(r2.stdout, "S* 235 ") || !strings.Contains(r2.stdout, "C* AUTH LOGIN") {
		t.Fatalf("auth login with the password on stdin: exit %d\n%s\n%s", r2.code, r2.stdout, r2.stderr)
	}
	for _, res := range []runResult{r, r2} {
		for _, s := range secretForms {
			if strings.Contains(res.stdout+res.stderr, s) {
				t.Fatalf("secret %q leaked:\n%s\n%s", s, res.stdout, res.stderr)
			}
		}
	}
}

func TestConsoleRefusalsAndRawVerbs(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	in := "EHLO x\n" +
		"auth plain ann\n" +
		"MAIL FROM:<a@herald.test>\rRCPT TO:<evil@herald.test>\n" +
		"NOOP\x00\n" +
		"XFOO bar\n" +
		"quit\n"
	r := runCLI(t, in, map[string]string{"PW": "secret-pw-1"}, "console", "--server", sb.addr, "--tls", "none", "--password-env", "PW")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"refusing to send credentials over a connection without TLS", "contains CR", "contains NUL", "C  XFOO bar", "C  QUIT"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "S  500 ") && !strings.Contains(r.stdout, "S  502 ") {
		t.Errorf("no 500/502 reply to XFOO:\n%s", r.stdout)
	}
	for _, bad := range []string{"C  AUTH", "C  MAIL", "evil", "C  NOOP"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("output has %q: a refused line was sent:\n%s", bad, r.stdout)
		}
	}
}

func TestConsoleDroppedLine(t *testing.T) {
	addr := scriptServer(t, func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("220 script.herald.test ESMTP\r\n"))
		if expect(r, "EHLO") {
			c.Write([]byte("250 script.herald.test\r\n"))
		}
		expect(r, "MAIL")
	})
	r := runCLI(t, "EHLO x\nMAIL FROM:<a@herald.test>\nRCPT TO:<b@herald.test>\nquit\n", nil, "console", "--server", addr, "--tls", "none", "--timeout", "5s")
	if r.code != ExitConnect {
		t.Fatalf("exit %d, want %d\n%s\n%s", r.code, ExitConnect, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "the server closed the connection") || !strings.Contains(r.stdout, "I  session ended") {
		t.Fatalf("no clear message:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "C  RCPT") {
		t.Fatalf("went on after the drop:\n%s", r.stdout)
	}
}

func TestConsoleCancelEndsBlockedRead(t *testing.T) {
	addr := scriptServer(t, func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("220 script.herald.test ESMTP\r\n"))
		expect(r, "NOOP")
		r.ReadString('\n') // never answers
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	e := Env{Stdin: strings.NewReader("NOOP\nquit\n"), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	start := time.Now()
	code := Run(ctx, []string{"console", "--server", addr, "--tls", "none", "--timeout", "20s"}, e)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %s", d)
	}
	if code == ExitOK || !strings.Contains(errb.String(), "canceled") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
}

func TestConsoleExitCodes(t *testing.T) {
	closed := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		a := l.Addr().String()
		l.Close()
		return a
	}()
	r := runCLI(t, "quit\n", nil, "console", "--server", closed, "--tls", "none", "--timeout", "5s")
	if r.code != ExitConnect || !strings.Contains(r.stderr, "hint:") {
		t.Fatalf("nothing listening: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Implicit TLS to a self-signed server without --ca-file.
	sb := startSandbox(t, sandbox.Config{TLS: sandbox.TLSImplicit})
	r = runCLI(t, "quit\n", nil, "console", "--server", sb.addr, "--tls", "implicit", "--timeout", "5s")
	if r.code != ExitTLS || !strings.Contains(r.stderr, "self-signed") {
		t.Fatalf("untrusted certificate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The same with the certificate trusted; end of input quits cleanly.
	r = runCLI(t, "NOOP\n", nil, "console", "--server", sb.addr, "--tls", "implicit", "--ca-file", sb.srv.CertPath(), "--timeout", "5s")
	if r.code != ExitOK || !strings.Contains(r.stdout, "S* 220 ") || !strings.Contains(r.stdout, "C* QUIT") {
		t.Fatalf("implicit TLS: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Input that ends inside a message does not send it.
	sb2 := startSandbox(t, sandbox.Config{})
	r = runCLI(t, "EHLO x\nMAIL FROM:<a@herald.test>\nRCPT TO:<b@herald.test>\ndata\nSubject: cut\n", nil, "console", "--server", sb2.addr, "--tls", "none")
	if r.code == ExitOK || !strings.Contains(r.stderr, "not sent") || len(sb2.messages(t)) != 0 {
		t.Fatalf("cut message: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for name, args := range map[string][]string{
		"no server":    {"console"},
		"bad tls":      {"console", "--server", "127.0.0.1:25", "--tls", "sometimes"},
		"argument":     {"console", "--server", "127.0.0.1:25", "extra"},
		"missing env":  {"console", "--server", "127.0.0.1:25", "--password-env", "NOPE"},
		"missing ca":   {"console", "--server", "127.0.0.1:25", "--ca-file", "/does/not/exist"},
		"bad helo":     {"console", "--server", closed, "--helo", "a b"},
		"zero timeout": {"console", "--server", "127.0.0.1:25", "--timeout", "0s"},
	} {
		if r := runCLI(t, "", nil, args...); r.code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", name, r.code, ExitUsage, r.stderr)
		}
	}
	if r := runCLI(t, "", nil, "console", "--help"); r.code != ExitOK || !strings.Contains(r.stdout, "auth MECH [USER]") {
		t.Fatalf("console --help: %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil, "help"); !strings.Contains(r.stdout, "herald console") {
		t.Fatalf("top usage lacks console:\n%s", r.stdout)
	}
}
