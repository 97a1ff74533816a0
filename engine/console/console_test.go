package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

const testPass = "Tr0ub4dor&3-console"

func cfgFor(host string, port int, mode transport.TLSMode) Config {
	return Config{Config: transport.Config{Host: host, Port: port, TLS: mode, Timeout: 5 * time.Second,
		HeloName: "client.herald.test", Transcript: transcript.New()}}
}

func transcriptText(rec *transcript.Recorder) string {
	var b strings.Builder
	for _, e := range rec.Events() {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func open(t *testing.T, cfg Config) *Session {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v\n%s", err, transcriptText(cfg.Transcript))
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do runs a line that must succeed.
func do(t *testing.T, s *Session, line string) Result {
	t.Helper()
	res, err := s.Do(context.Background(), line)
	if err != nil {
		t.Fatalf("%q: %v\n%s", line, err, transcriptText(s.Transcript()))
	}
	return res
}

func lastCode(t *testing.T, res Result) int {
	t.Helper()
	if len(res.Replies) == 0 {
		t.Fatalf("no reply in %+v", res)
	}
	return res.Replies[len(res.Replies)-1].Code
}

func kindOf(err error) transport.Kind {
	var e *transport.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func TestTypedSessionDeliversExactBytes(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := open(t, cfgFor(srv.Host, srv.Port, transport.TLSNone))
	if s.Banner().Code != 220 {
		t.Fatalf("banner %+v", s.Banner())
	}
	res := do(t, s, "EHLO x")
	if lastCode(t, res) != 250 || len(res.Replies[0].Lines) < 2 || s.Extensions() == nil {
		t.Fatalf("EHLO: %+v", res)
	}
	for _, l := range []string{"MAIL FROM:<a@herald.test>", "RCPT TO:<b@herald.test>"} {
		if c := lastCode(t, do(t, s, l)); c != 250 {
			t.Fatalf("%s: %d", l, c)
		}
	}
	res = do(t, s, "data")
	if lastCode(t, res) != 354 || !res.Message || !s.InMessage() {
		t.Fatalf("data: %+v", res)
	}
	// In message mode helper words and commands are text.
	for _, l := range []string{"Subject: console", "", ".hidden", "quit", "..two", " ."} {
		if res := do(t, s, l); !res.Message || len(res.Replies) != 0 {
			t.Fatalf("message line %q: %+v", l, res)
		}
	}
	res = do(t, s, ".")
	if lastCode(t, res) != 250 || res.Message {
		t.Fatalf("end of message: %+v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	want := "Subject: console\r\n\r\n.hidden\r\nquit\r\n..two\r\n .\r\n"
	if got := string(msgs[0].Data); got != want {
		t.Fatalf("server got %q, want %q", got, want)
	}
	tr := transcriptText(s.Transcript())
	if !strings.Contains(tr, "C  [message: 40 bytes in 6 lines]") || strings.Contains(tr, "hidden") {
		t.Fatalf("the transcript should summarise the body:\n%s", tr)
	}
	res = do(t, s, "QUIT")
	if lastCode(t, res) != 221 || !res.Closed || !s.Closed() {
		t.Fatalf("quit: %+v", res)
	}
	if _, err := s.Do(context.Background(), "NOOP"); err == nil {
		t.Fatal("Do after quit should fail")
	}
}

func TestDataFileMatchesTransport(t *testing.T) {
	// Bare CR, bare LF, CRLF, leading dots, a lone dot and no final newline.
	body := "Subject: file\n\n.one\r.\r\nthree\n\n..four\rlast"
	file := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	s := open(t, cfgFor(srv.Host, srv.Port, transport.TLSNone))
	for _, l := range []string{"ehlo", "MAIL FROM:<a@herald.test>", "RCPT TO:<b@herald.test>"} {
		do(t, s, l)
	}
	if res := do(t, s, "DATA "+file); lastCode(t, res) != 250 || res.Message {
		t.Fatalf("data FILE: %+v", res)
	}
	ref := smtptest.Start(t, smtptest.Options{})
	tcfg := cfgFor(ref.Host, ref.Port, transport.TLSNone).Config
	tcfg.Auth = transport.AuthNone
	if r := transport.Send(context.Background(), tcfg, transport.Envelope{From: "a@herald.test", To: []string{"b@herald.test"}}, strings.NewReader(body)); !r.OK {
		t.Fatalf("transport: %v", r.Err)
	}
	got, want := srv.Messages()[0].Data, ref.Messages()[0].Data
	if !bytes.Equal(got, want) {
		t.Fatalf("console sent %q, transport %q", got, want)
	}
	if string(got) != "Subject: file\r\n\r\n.one\r\n.\r\nthree\r\n\r\n..four\r\nlast\r\n" {
		t.Fatalf("unexpected bytes %q", got)
	}
	if _, err := s.Do(context.Background(), "data /does/not/exist"); kindOf(err) != transport.KindInput || s.Closed() {
		t.Fatalf("missing file: %v", err)
	}
}

func TestStartTLSThenEveryAuthMechanism(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), "127.0.0.1")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: testPass})
	for _, mech := range []string{"plain", "LOGIN", "cram-md5", "scram-sha-1", "scram-sha-256", "xoauth2"} {
		t.Run(mech, func(t *testing.T) {
			cfg := cfgFor(srv.Host, srv.Port, transport.TLSStartTLS)
			cfg.CAFile = caFile
			var prompts []string
			cfg.Password = func(prompt string) (string, error) {
				prompts = append(prompts, prompt)
				return testPass, nil
			}
			s := open(t, cfg)
			if s.TLS() != nil {
				t.Fatal("starttls mode must not upgrade on its own")
			}
			do(t, s, "ehlo")
			before := len(srv.AuthAttempts())
			_, err := s.Do(context.Background(), "auth "+mech+" ann")
			if kindOf(err) != transport.KindInsecureAuth || len(prompts) != 0 || len(srv.AuthAttempts()) != before || s.Closed() {
				t.Fatalf("auth without TLS: %v, prompts %v", err, prompts)
			}
			res := do(t, s, "StartTLS")
			if len(res.Replies) != 2 || res.Replies[0].Code != 220 || res.Replies[1].Code != 250 {
				t.Fatalf("starttls replies: %+v", res.Replies)
			}
			info := s.TLS()
			if info == nil || !info.Verified || info.Subject != "CN=127.0.0.1" || info.Issuer != "CN=Herald Test CA" {
				t.Fatalf("TLS info %+v", info)
			}
			if !strings.Contains(strings.Join(res.Notes, "\n"), "TLS started") || !strings.Contains(s.Extensions()["AUTH"], "PLAIN") {
				t.Fatalf("notes %v, extensions %v", res.Notes, s.Extensions())
			}
			res = do(t, s, "auth "+mech+" ann")
			if lastCode(t, res) != 235 {
				t.Fatalf("auth: %+v\n%s", res, transcriptText(s.Transcript()))
			}
			if len(prompts) != 1 || !strings.Contains(prompts[0], "ann") {
				t.Fatalf("prompts %q", prompts)
			}
			tr := transcriptText(s.Transcript())
			for _, secret := range transcript.SecretForms(testPass) {
				if strings.Contains(tr, secret) {
					t.Fatalf("secret %q in the transcript:\n%s", secret, tr)
				}
			}
			plain := base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + testPass))
			if strings.Contains(tr, plain) || !strings.Contains(tr, "C* AUTH "+strings.ToUpper(mech)) {
				t.Fatalf("transcript:\n%s", tr)
			}
			if mech == "plain" && !strings.Contains(tr, "C* AUTH PLAIN [redacted]") {
				t.Fatalf("AUTH PLAIN not shown redacted:\n%s", tr)
			}
			if _, err := s.Do(context.Background(), "starttls"); kindOf(err) != transport.KindInput {
				t.Fatalf("second starttls: %v", err)
			}
			do(t, s, "quit")
		})
	}
}

func TestAuthPolicyAndUsage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "ann", Pass: testPass, AllowInsecureAuth: true})
	cfg := cfgFor(srv.Host, srv.Port, transport.TLSNone)
	cfg.Config.Password = testPass
	s := open(t, cfg)
	do(t, s, "ehlo")
	for _, l := range []string{"auth", "auth nope ann", "auth plain"} {
		if _, err := s.Do(context.Background(), l); kindOf(err) != transport.KindInput {
			t.Fatalf("%q: %v", l, err)
		}
	}
	if _, err := s.Do(context.Background(), "auth plain ann"); kindOf(err) != transport.KindInsecureAuth {
		t.Fatalf("auth in clear: %v", err)
	}
	if len(srv.AuthAttempts()) != 0 {
		t.Fatal("AUTH reached the server")
	}
	// With the opt-in, and the configured password as the fallback.
	cfg = cfgFor(srv.Host, srv.Port, transport.TLSNone)
	cfg.Config.Password, cfg.AllowInsecureAuth, cfg.Username = testPass, true, "ann"
	s = open(t, cfg)
	do(t, s, "ehlo")
	if res := do(t, s, "auth plain"); lastCode(t, res) != 235 {
		t.Fatalf("auth: %+v", res)
	}
	// A wrong password is a reply, not an error: the session goes on.
	cfg.Config.Password = "wrong-password-1"
	s = open(t, cfg)
	do(t, s, "ehlo")
	if res := do(t, s, "auth login"); lastCode(t, res) != 535 || res.Closed {
		t.Fatalf("wrong password: %+v", res)
	}
	if tr := transcriptText(s.Transcript()); strings.Contains(tr, "wrong-password-1") {
		t.Fatalf("password leaked:\n%s", tr)
	}
	do(t, s, "NOOP")
}

func TestLineChecksAndRawCommands(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := open(t, cfgFor(srv.Host, srv.Port, transport.TLSNone))
	do(t, s, "EHLO x")
	for _, l := range []string{"MAIL FROM:<a@herald.test>\r\nRCPT TO:<evil@herald.test>", "NOOP\nRSET", "VRFY a\x00b"} {
		res, err := s.Do(context.Background(), l)
		if kindOf(err) != transport.KindInput || len(res.Replies) != 0 || res.Closed {
			t.Fatalf("%q: %v %+v", l, err, res)
		}
	}
	tr := transcriptText(s.Transcript())
	if strings.Contains(tr, "C  MAIL") || strings.Contains(tr, "C  NOOP") || strings.Contains(tr, "C  VRFY") {
		t.Fatalf("a refused line was sent:\n%s", tr)
	}
	// An unknown extension verb goes out as typed and its refusal is shown.
	res := do(t, s, "XFOO bar")
	if c := lastCode(t, res); c != 500 && c != 502 {
		t.Fatalf("XFOO: %d", c)
	}
	if !strings.Contains(transcriptText(s.Transcript()), "C  XFOO bar") {
		t.Fatal("XFOO not in the transcript")
	}
	// A long command is warned about and sent.
	res = do(t, s, "NOOP "+strings.Repeat("x", 600))
	if lastCode(t, res) != 250 || !strings.Contains(strings.Join(res.Notes, " "), "512") {
		t.Fatalf("long line: %+v", res)
	}
	// help is local; raw sends what a helper word would catch.
	res = do(t, s, "HELP")
	if len(res.Replies) != 0 || !strings.Contains(strings.Join(res.Notes, "\n"), "auth MECH [USER]") {
		t.Fatalf("help: %+v", res)
	}
	res = do(t, s, "raw HELP")
	if len(res.Replies) != 1 {
		t.Fatalf("raw HELP: %+v", res)
	}
	for _, l := range []string{"raw AUTH PLAIN AGFubgBwdw==", "raw starttls", "raw DATA", "raw"} {
		if _, err := s.Do(context.Background(), l); kindOf(err) != transport.KindInput {
			t.Fatalf("%q: %v", l, err)
		}
	}
	if res := do(t, s, "   "); len(res.Replies) != 0 {
		t.Fatalf("blank line: %+v", res)
	}
	res = do(t, s, "RSET")
	if lastCode(t, res) != 250 || res.Closed {
		t.Fatalf("RSET after refusals: %+v", res)
	}
}

func TestDroppedLineEndsTheSession(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("NOOP")
		c.Line("250 ok")
		c.Expect("MAIL")
		c.Close()
	})
	s := open(t, cfgFor("127.0.0.1", sc.Port, transport.TLSNone))
	do(t, s, "NOOP")
	res, err := s.Do(context.Background(), "MAIL FROM:<a@herald.test>")
	if kindOf(err) != transport.KindDropped || !res.Closed || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("drop: %v %+v", err, res)
	}
	if !strings.Contains(transcriptText(s.Transcript()), "I  session ended: the server closed the connection") {
		t.Fatalf("transcript:\n%s", transcriptText(s.Transcript()))
	}
}

func TestCancelEndsABlockedRead(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("NOOP")
		c.Read() // never answers
	})
	cfg := cfgFor("127.0.0.1", sc.Port, transport.TLSNone)
	cfg.Timeout = 20 * time.Second
	s := open(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	res, err := s.Do(ctx, "NOOP")
	if kindOf(err) != transport.KindCanceled || !res.Closed {
		t.Fatalf("cancel: %v %+v", err, res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %s", d)
	}
	// Close from another goroutine ends a blocked Do too.
	s2 := open(t, cfg)
	time.AfterFunc(150*time.Millisecond, func() { s2.Close() })
	res, err = s2.Do(context.Background(), "NOOP")
	if err == nil || !res.Closed || time.Since(start) > 10*time.Second {
		t.Fatalf("close: %v %+v", err, res)
	}
}

func TestTimeoutEndsTheSession(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("NOOP")
		c.Read()
	})
	cfg := cfgFor("127.0.0.1", sc.Port, transport.TLSNone)
	cfg.Timeout = 200 * time.Millisecond
	s := open(t, cfg)
	res, err := s.Do(context.Background(), "NOOP")
	if kindOf(err) != transport.KindTimeout || !res.Closed || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("timeout: %v %+v", err, res)
	}
}

func TestMultiLineAndNonSMTPReplies(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220-script.herald.test ESMTP")
		c.Line("220 second banner line")
		c.Expect("HELP")
		c.Line("214-line one")
		c.Line("214-line two")
		c.Line("214 end")
		c.Expect("NOOP")
		c.Line("HTTP/1.1 400 Bad Request")
	})
	s := open(t, cfgFor("127.0.0.1", sc.Port, transport.TLSNone))
	if len(s.Banner().Lines) != 2 {
		t.Fatalf("banner %+v", s.Banner())
	}
	res := do(t, s, "raw HELP")
	if r := res.Replies[0]; r.Code != 214 || len(r.Lines) != 3 || r.Text() != "line one / line two / end" {
		t.Fatalf("multi-line reply %+v", r)
	}
	res, err := s.Do(context.Background(), "NOOP")
	if kindOf(err) != transport.KindProtocol || !res.Closed {
		t.Fatalf("garbage: %v", err)
	}
}

func TestStartTLSInjectionRefused(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("STARTTLS")
		c.Write([]byte("220 go ahead\r\n250 injected\r\n"))
		c.Read()
	})
	cfg := cfgFor("127.0.0.1", sc.Port, transport.TLSStartTLS)
	s := open(t, cfg)
	res, err := s.Do(context.Background(), "starttls")
	if kindOf(err) != transport.KindProtocol || !res.Closed || s.TLS() != nil {
		t.Fatalf("injection: %v %+v", err, res)
	}
}

func TestStartTLSRefusedStaysInClear(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("STARTTLS")
		c.Line("454 4.7.0 TLS not available")
		c.Expect("NOOP")
		c.Line("250 ok")
	})
	s := open(t, cfgFor("127.0.0.1", sc.Port, transport.TLSStartTLS))
	res := do(t, s, "starttls")
	if lastCode(t, res) != 454 || res.Closed || s.TLS() != nil {
		t.Fatalf("refused starttls: %+v", res)
	}
	do(t, s, "NOOP")
}

func TestImplicitTLS(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), "127.0.0.1")
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true})
	cfg := cfgFor(srv.Host, srv.Port, transport.TLSImplicit)
	cfg.RootCAs = ca.Pool
	s := open(t, cfg)
	if s.TLS() == nil || s.Banner().Code != 220 {
		t.Fatalf("implicit: %+v %+v", s.TLS(), s.Banner())
	}
	if !strings.Contains(transcriptText(s.Transcript()), "S* 220") {
		t.Fatal("the banner should be marked as inside TLS")
	}
	// Untrusted: refused at Open, as a TLS failure.
	self := smtptest.SelfSigned(t, "127.0.0.1")
	bad := smtptest.Start(t, smtptest.Options{Cert: &self, Implicit: true})
	_, err := Open(context.Background(), cfgFor(bad.Host, bad.Port, transport.TLSImplicit))
	var e *transport.Error
	if !errors.As(err, &e) || e.Stage != transport.StageTLS || e.Kind != transport.KindCertSelfSigned {
		t.Fatalf("self-signed: %v", err)
	}
	// Pinned: accepted, marked as not verified.
	cfg = cfgFor(bad.Host, bad.Port, transport.TLSImplicit)
	cfg.PinnedSHA256 = smtptest.Fingerprint(self)
	s = open(t, cfg)
	if i := s.TLS(); i == nil || i.Verified || !i.Pinned {
		t.Fatalf("pinned: %+v", i)
	}
}

func TestOpenFailures(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("421 4.3.2 go away")
	})
	_, err := Open(context.Background(), cfgFor("127.0.0.1", sc.Port, transport.TLSNone))
	var e *transport.Error
	if !errors.As(err, &e) || e.Stage != transport.StageBanner || e.Code != 421 {
		t.Fatalf("421 banner: %v", err)
	}
	_, err = Open(context.Background(), cfgFor("bad host", 25, transport.TLSNone))
	if kindOf(err) != transport.KindInput {
		t.Fatalf("bad host: %v", err)
	}
	cfg := cfgFor("127.0.0.1", sc.Port, transport.TLSImplicit)
	cfg.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	_, err = Open(context.Background(), cfg)
	if kindOf(err) != transport.KindInput {
		t.Fatalf("missing CA file: %v", err)
	}
}

func TestLostAfterFinalDot(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 script.herald.test ESMTP")
		c.Expect("DATA")
		c.Line("354 go on")
		c.ReadData()
		c.Close()
	})
	s := open(t, cfgFor("127.0.0.1", sc.Port, transport.TLSNone))
	do(t, s, "data")
	do(t, s, "hello")
	res, err := s.Do(context.Background(), ".")
	if kindOf(err) != transport.KindUnknownAfterData || !res.Closed {
		t.Fatalf("lost after dot: %v %+v", err, res)
	}
}
