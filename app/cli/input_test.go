package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/herald-smtp/herald/engine/sandbox"
)

// countingListener accepts connections, counts them and closes them at once:
// a send that is refused before connecting leaves the count at zero.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), accepted
}

func TestQuotedLocalPartReachesEnvelopeQuoted(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--from", `"ann..x"@herald.test`,
		"--to", `"bob@evil.example"@example.com`, "--cc", `"john..doe"@example.com`, "--bcc", `"john doe"@example.com`, "--body", "hi")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{`C  MAIL FROM:<"ann..x"@herald.test>`, `C  RCPT TO:<"bob@evil.example"@example.com>`, `C  RCPT TO:<"john..doe"@example.com>`, `C  RCPT TO:<"john doe"@example.com>`, "S  250 "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("transcript lacks %s:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "RCPT TO:<bob@evil.example@example.com>") {
		t.Error("the quotes were dropped from the envelope")
	}
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if len(m.To) != 3 || m.To[2] != `"john doe"@example.com` && m.To[2] != "john doe@example.com" {
		t.Errorf("the sandbox captured the envelope %q", m.To)
	}
}

// Addresses that try to smuggle SMTP parameters are refused before any
// connection, exit 2, naming the field in a person's words.
func TestSmuggledAddressesRefusedBeforeConnecting(t *testing.T) {
	addr, accepted := countingListener(t)
	eml := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(eml, []byte("From: a@b.test\nTo: \"x@y> NOTIFY=NEVER\"@d.test\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good.eml")
	if err := os.WriteFile(good, []byte("From: a@b.test\nTo: c@d.test\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--from", "a@b.test", "--to", `"a@b> ORCPT=rfc822;evil@x.test"@x.test`}, `To: "\"a@b> ORCPT=rfc822;evil@x.test\"@x.test" is not an address`},
		{[]string{"--from", "a@b.test", "--to", "<a@b> SIZE=1"}, `To: "<a@b> SIZE=1" is not an address`},
		{[]string{"--from", "<a@b.test> SIZE=1", "--to", "c@d.test"}, `From: "<a@b.test> SIZE=1" is not an address`},
		{[]string{"--from", "a@b.test", "--to", "c@d.test", "--cc", `"a>b"@d.test`}, `Cc: `},
		{[]string{"--from", "a@b.test", "--to", "c@d.test", "--bcc", "e@d.test> SIZE=1"}, `Bcc: `},
		{[]string{"--eml", eml}, `To header: "\"x@y> NOTIFY=NEVER\"@d.test" is not an address`},
		{[]string{"--eml", good, "--to", "c@d.test", "--bcc", "<x@y> NOTIFY=NEVER"}, `Bcc: `},
		{[]string{"--eml", good, "--from", "<x@y> SIZE=2", "--to", "c@d.test"}, `From: `},
	}
	for _, c := range cases {
		args := append([]string{"send", "--server", addr, "--tls", "none"}, c.args...)
		r := runCLI(t, "", nil, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections were opened for invalid addresses", n)
	}
}

func TestEMLBccGoesToEnvelopeNotToRecipients(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	eml := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(eml, []byte("From: a@herald.test\nTo: bob@herald.test\nBcc: hidden@herald.test\nSubject: s\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--eml", eml)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--eml", eml, "--redirect", "--to", "zed@herald.test")
	if r.code != ExitOK {
		t.Fatalf("redirect: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	msgs := sb.messages(t)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	plain, _ := sb.st.SandboxMessage(context.Background(), msgs[1].ID)
	if strings.Join(plain.To, ",") != "bob@herald.test,hidden@herald.test" {
		t.Errorf("envelope %v: want the Bcc address delivered", plain.To)
	}
	red, _ := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	for _, m := range [][]byte{plain.Raw, red.Raw} {
		if strings.Contains(strings.ToLower(string(m)), "bcc") || strings.Contains(string(m), "hidden@") {
			t.Errorf("the Bcc header reached the recipients:\n%s", m)
		}
	}
	if !strings.Contains(r.stderr, "removed the Bcc header") {
		t.Errorf("the change was not noted: %s", r.stderr)
	}
}

func TestMessageOverSIZEIsExitData(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{MaxSize: 2000})
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--from", "a@herald.test", "--to", "b@herald.test", "--body", strings.Repeat("long text ", 500))
	if r.code != ExitData || !strings.Contains(r.stdout, "SIZE") {
		t.Fatalf("exit %d, want %d (message rejected)\n%s", r.code, ExitData, r.stdout)
	}
	if strings.Contains(r.stderr, "C  MAIL FROM") {
		t.Error("MAIL was sent for a message larger than SIZE")
	}
}

// A message larger than the server's SIZE is refused before its
// attachments are read: a 64 MiB attachment against SIZE 1,000,000 costs
// no memory to speak of (it was rendered, several copies at once, before).
func TestLargeAttachmentOverSIZEIsNotRendered(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{MaxSize: 1_000_000})
	path := filepath.Join(t.TempDir(), "big.iso")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	var r runResult
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r = runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--from", "a@herald.test", "--to", "b@herald.test", "--attach", path)
	runtime.ReadMemStats(&after)
	if r.code != ExitData || !strings.Contains(r.stdout, "accepts at most 1000000") {
		t.Fatalf("exit %d, want %d\n%s", r.code, ExitData, r.stdout)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("refusing the message allocated %d MiB: it was rendered", got>>20)
	}
}

// Lines over 998 characters never reach the wire: headers are folded, a
// plain body is re-encoded, and what cannot be fixed safely is refused
// before connecting.
func TestEMLLongLines(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	fixable := filepath.Join(dir, "fix.eml")
	msg := "From: a@herald.test\nTo: b@herald.test\nX-Long: " + strings.Repeat("word ", 300) + "\nSubject: s\n\n" + strings.Repeat("x", 1500) + "\n"
	if err := os.WriteFile(fixable, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--eml", fixable)
	if r.code != ExitOK || !strings.Contains(r.stderr, "folded header lines") || !strings.Contains(r.stderr, "re-encoded the body as quoted-printable") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	m, _ := sb.st.SandboxMessage(context.Background(), sb.messages(t)[0].ID)
	for _, l := range strings.Split(string(m.Raw), "\r\n") {
		if len(l) > 998 {
			t.Fatalf("a line of %d characters reached the server", len(l))
		}
	}
	addr, accepted := countingListener(t)
	broken := filepath.Join(dir, "multi.eml")
	msg = "From: a@herald.test\nTo: b@herald.test\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n" + strings.Repeat("x", 1200) + "\n--b--\n"
	if err := os.WriteFile(broken, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", nil, "send", "--server", addr, "--tls", "none", "--eml", broken)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "line 7 has 1200 characters") || accepted.Load() != 0 {
		t.Fatalf("exit %d, %d connections\n%s", r.code, accepted.Load(), r.stderr)
	}
}
