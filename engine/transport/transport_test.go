package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
)

const testPass = "Tr0ub4dor&3-secret"

var msg = []byte("From: a@herald.test\r\nTo: b@herald.test\r\nSubject: hi\r\n\r\nhello\r\n")

func cfgFor(s *smtptest.Server, mode TLSMode) Config {
	return Config{Host: s.Host, Port: s.Port, TLS: mode, Auth: AuthNone, Timeout: 5 * time.Second, HeloName: "client.herald.test", Transcript: transcript.New()}
}

func env(to ...string) Envelope {
	if len(to) == 0 {
		to = []string{"b@herald.test"}
	}
	return Envelope{From: "a@herald.test", To: to}
}

func transcriptText(rec *transcript.Recorder) string {
	var b strings.Builder
	for _, e := range rec.Events() {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func mustSend(t *testing.T, cfg Config, e Envelope, body []byte) *Result {
	t.Helper()
	res := Send(context.Background(), cfg, e, bytes.NewReader(body))
	if !res.OK {
		t.Fatalf("send failed at %s (%s): %v\n%s", res.Stage, res.Class, res.Err, transcriptText(cfg.Transcript))
	}
	return res
}

func TestEachTLSMode(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), "127.0.0.1", "localhost")
	for _, mode := range []TLSMode{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: mode == TLSStartTLS, Implicit: mode == TLSImplicit})
			cfg := cfgFor(s, mode)
			cfg.RootCAs = ca.Pool
			res := mustSend(t, cfg, env(), msg)
			if res.Stage != StageDone || res.Class != ClassSent || res.Code != 250 {
				t.Fatalf("result %+v", res)
			}
			got := s.Messages()
			if len(got) != 1 || !bytes.Equal(got[0].Data, msg) {
				t.Fatalf("server got %+v", got)
			}
			tr := transcriptText(cfg.Transcript)
			if mode == TLSNone {
				if res.TLS != nil || strings.Contains(tr, "*") {
					t.Fatalf("TLS in mode none:\n%s", tr)
				}
				return
			}
			if res.TLS == nil || !res.TLS.Verified || res.TLS.Version == "" || res.TLS.Subject != "CN=127.0.0.1" || res.TLS.LeafSHA256 != smtptest.Fingerprint(cert) {
				t.Fatalf("TLS info %+v", res.TLS)
			}
			// Everything after the handshake is marked as inside TLS, the
			// TLS line names version, cipher, subject, issuer and expiry.
			if !strings.Contains(tr, "C* MAIL FROM:<a@herald.test>") || !strings.Contains(tr, "TLS started") || !strings.Contains(tr, "Herald Test CA") || !strings.Contains(tr, "valid until") {
				t.Fatalf("transcript:\n%s", tr)
			}
			if mode == TLSStartTLS && !strings.Contains(tr, "C  STARTTLS") {
				t.Fatalf("no STARTTLS in clear:\n%s", tr)
			}
		})
	}
}

func TestCAFileIsTrusted(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true})
	cfg := cfgFor(s, TLSImplicit)
	// Without the CA the system pool refuses the certificate.
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if res.OK || res.Stage != StageTLS || res.Class != ClassPermanent || !strings.Contains(Hint(res.Err), "CA certificate file") {
		t.Fatalf("untrusted CA: %+v hint %q", res, Hint(res.Err))
	}
	f := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(f, ca.PEM, 0o600)
	cfg.CAFile = f
	cfg.Transcript = transcript.New()
	mustSend(t, cfg, env(), msg)
}

func TestCertificateFailures(t *testing.T) {
	ca := smtptest.NewCA(t)
	now := time.Now()
	cases := []struct {
		name string
		cert tls.Certificate
		kind Kind
	}{
		{"expired", ca.Issue(t, now.Add(-48*time.Hour), now.Add(-time.Hour), "127.0.0.1"), KindCertExpired},
		{"wrong name", ca.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), "mail.other.test"), KindCertName},
		{"self-signed", smtptest.SelfSigned(t, "127.0.0.1"), KindCertSelfSigned},
		{"not yet valid", ca.Issue(t, now.Add(time.Hour), now.Add(48*time.Hour), "127.0.0.1"), KindCertNotYetValid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Cert: &c.cert, StartTLS: true, User: "ann", Pass: testPass})
			cfg := cfgFor(s, TLSStartTLS)
			cfg.RootCAs = ca.Pool
			cfg.Auth, cfg.Username, cfg.Password = AuthPlain, "ann", testPass
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			var e *Error
			if res.OK || !errors.As(res.Err, &e) || e.Kind != c.kind || res.Stage != StageTLS || res.Class != ClassPermanent {
				t.Fatalf("got %+v (%v)", res, res.Err)
			}
			if Hint(res.Err) == "" {
				t.Fatal("no hint")
			}
			if len(s.AuthAttempts()) != 0 || len(s.Messages()) != 0 {
				t.Fatal("credentials or mail went out over a refused TLS session")
			}
		})
	}
}

func TestPinnedSelfSignedCertificate(t *testing.T) {
	cert := smtptest.SelfSigned(t, "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true})
	cfg := cfgFor(s, TLSImplicit)
	cfg.PinnedSHA256 = smtptest.Fingerprint(cert)
	res := mustSend(t, cfg, env(), msg)
	if res.TLS.Verified || !res.TLS.Pinned {
		t.Fatalf("pinned certificate shown as %+v", res.TLS)
	}
	if !strings.Contains(transcriptText(cfg.Transcript), "NOT verified by a CA") {
		t.Fatal("the transcript presents a pinned certificate as verified")
	}
	// Another pin fails, and says the fingerprints differ (both shown),
	// not that an authority is unknown.
	cfg.PinnedSHA256 = strings.Repeat("AB:", 31) + "AB"
	cfg.Transcript = transcript.New()
	res = Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if res.OK || res.Stage != StageTLS {
		t.Fatalf("wrong pin accepted: %+v", res)
	}
	var te *Error
	if !errors.As(res.Err, &te) || te.Kind != KindCertPinMismatch {
		t.Fatalf("wrong pin reported as %v", res.Err)
	}
	if m := res.Err.Error(); !strings.Contains(m, smtptest.Fingerprint(cert)) || !strings.Contains(m, strings.Repeat("ab", 32)) || strings.Contains(m, "unknown authority") {
		t.Fatalf("message %q does not show both fingerprints", m)
	}
}

func TestTLSBelow12Refused(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, MinTLS: tls.VersionTLS10, MaxTLS: tls.VersionTLS11})
	cfg := cfgFor(s, TLSImplicit)
	cfg.RootCAs = ca.Pool
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindTLSVersion {
		t.Fatalf("TLS 1.1 server: %+v (%v)", res, res.Err)
	}
}

func TestImplicitTLSOnPlainPort(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	cfg := cfgFor(s, TLSImplicit)
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindTLSNotTLS || !strings.Contains(Hint(res.Err), "starttls") {
		t.Fatalf("%+v (%v) hint %q", res, res.Err, Hint(res.Err))
	}
}

func TestStartTLSMissingOrRefusedAbortsBeforeAuth(t *testing.T) {
	// Not offered: go-smtp without a TLS config.
	s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: testPass, AllowInsecureAuth: true})
	cfg := cfgFor(s, TLSStartTLS)
	cfg.Auth, cfg.Username, cfg.Password, cfg.AllowInsecureAuth = AuthPlain, "ann", testPass, true
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || res.Stage != StageTLS || !errors.As(res.Err, &e) || e.Kind != KindStartTLSMissing {
		t.Fatalf("not offered: %+v (%v)", res, res.Err)
	}
	if len(s.AuthAttempts()) != 0 {
		t.Fatal("AUTH was sent although STARTTLS was missing")
	}
	// Offered, then refused.
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet("STARTTLS", "AUTH PLAIN")
		if _, err := c.Expect("STARTTLS"); err != nil {
			return
		}
		c.Line("454 4.7.0 TLS not available due to temporary reason")
		for {
			l, err := c.Read()
			if err != nil {
				return
			}
			if strings.HasPrefix(l, "AUTH") {
				c.Line("235 2.7.0 whatever")
				continue
			}
			c.Line("221 bye")
			return
		}
	})
	cfg = Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSStartTLS, Auth: AuthPlain, Username: "ann", Password: testPass, AllowInsecureAuth: true, Timeout: 5 * time.Second, Transcript: transcript.New()}
	res = Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	tr := transcriptText(cfg.Transcript)
	if res.OK || res.Stage != StageTLS || res.Code != 454 || res.Class != ClassTemporary || strings.Contains(tr, "C  AUTH") {
		t.Fatalf("refused: %+v\n%s", res, tr)
	}
}

func TestStartTLSResponseInjectionRefused(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet("STARTTLS")
		c.Expect("STARTTLS")
		// The 220 and an injected reply in one write, before any TLS.
		c.Conn.Write([]byte("220 go ahead\r\n250 injected\r\n"))
		c.Read()
	})
	cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSStartTLS, Timeout: 5 * time.Second, Transcript: transcript.New()}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindProtocol || res.Stage != StageTLS {
		t.Fatalf("%+v (%v)", res, res.Err)
	}
}

func TestEachAuthMechanism(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann@herald.test", Pass: testPass})
	for _, m := range []AuthMethod{AuthPlain, AuthLogin, AuthCRAMMD5, AuthSCRAMSHA1, AuthSCRAMSHA256, AuthXOAUTH2} {
		for _, good := range []bool{true, false} {
			name := string(m) + map[bool]string{true: "/good", false: "/bad"}[good]
			t.Run(name, func(t *testing.T) {
				pw := testPass
				if !good {
					pw = "wrong-" + testPass
				}
				cfg := cfgFor(s, TLSStartTLS)
				cfg.RootCAs = ca.Pool
				cfg.Auth, cfg.Username, cfg.Password = m, "ann@herald.test", pw
				res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
				tr := transcriptText(cfg.Transcript)
				if good && !res.OK {
					t.Fatalf("%v\n%s", res.Err, tr)
				}
				if !good && (res.OK || res.Stage != StageAuth || res.Class != ClassPermanent || res.Code != 535 || res.EnhancedCode != "5.7.8") {
					t.Fatalf("bad password: %+v\n%s", res, tr)
				}
				want := "app password"
				if m == AuthXOAUTH2 {
					// A refused token: the server's JSON error, then sign in again.
					want = "Sign in again"
				}
				if !good && !strings.Contains(Hint(res.Err), want) {
					t.Fatalf("hint %q", Hint(res.Err))
				}
				assertNoSecret(t, pw, "ann@herald.test", tr+errText(res.Err))
				if !strings.Contains(tr, "C* AUTH "+m.saslName()) {
					t.Fatalf("no AUTH line:\n%s", tr)
				}
			})
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertNoSecret fails when the password or any base64 form of it, or of the
// PLAIN and XOAUTH2 payloads that carry it, shows in text.
func assertNoSecret(t *testing.T, pw, user, text string) {
	t.Helper()
	forms := transcript.SecretForms(pw)
	for _, payload := range []string{"\x00" + user + "\x00" + pw, "user=" + user + "\x01auth=Bearer " + pw + "\x01\x01"} {
		forms = append(forms, base64.StdEncoding.EncodeToString([]byte(payload)))
	}
	for _, f := range forms {
		if strings.Contains(text, f) {
			t.Fatalf("secret form %q leaked:\n%s", f, text)
		}
	}
}

func TestAutoPicksStrongestOffered(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	for _, c := range []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "LOGIN", "SCRAM-SHA-256", "XOAUTH2"}, "SCRAM-SHA-256"},
		{[]string{"LOGIN", "PLAIN", "CRAM-MD5"}, "PLAIN"},
		{[]string{"LOGIN", "XOAUTH2"}, "LOGIN"},
	} {
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, User: "ann", Pass: testPass, Mechanisms: c.offered})
		cfg := cfgFor(s, TLSImplicit)
		cfg.RootCAs = ca.Pool
		cfg.Auth, cfg.Username, cfg.Password = AuthAuto, "ann", testPass
		mustSend(t, cfg, env(), msg)
		if got := s.AuthAttempts(); len(got) != 1 || got[0] != c.want {
			t.Fatalf("offered %v: tried %v, want %s", c.offered, got, c.want)
		}
	}
	// A mechanism the server does not offer is refused before sending anything.
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, User: "ann", Pass: testPass, Mechanisms: []string{"LOGIN"}})
	cfg := cfgFor(s, TLSImplicit)
	cfg.RootCAs = ca.Pool
	cfg.Auth, cfg.Username, cfg.Password = AuthCRAMMD5, "ann", testPass
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindMechNotOffered || !strings.Contains(Hint(res.Err), "LOGIN") || len(s.AuthAttempts()) != 0 {
		t.Fatalf("%+v hint %q", res, Hint(res.Err))
	}
}

func TestNoPasswordInClearWithoutOptIn(t *testing.T) {
	// Loopback included: go-mail would allow PLAIN to 127.0.0.1; Herald does not.
	s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: testPass, AllowInsecureAuth: true})
	for _, m := range []AuthMethod{AuthAuto, AuthPlain, AuthLogin, AuthXOAUTH2} {
		cfg := cfgFor(s, TLSNone)
		cfg.Auth, cfg.Username, cfg.Password = m, "ann", testPass
		res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
		var e *Error
		if res.OK || !errors.As(res.Err, &e) || e.Kind != KindInsecureAuth || res.Stage != StageAuth {
			t.Fatalf("%s: %+v", m, res)
		}
		if strings.Contains(transcriptText(cfg.Transcript), "C  AUTH") {
			t.Fatalf("%s: AUTH sent in clear", m)
		}
	}
	if n := len(s.AuthAttempts()); n != 0 {
		t.Fatalf("%d AUTH attempts reached the server", n)
	}
	// With the opt-in it works, and CRAM-MD5 is preferred in clear.
	cfg := cfgFor(s, TLSNone)
	cfg.Auth, cfg.Username, cfg.Password, cfg.AllowInsecureAuth = AuthAuto, "ann", testPass, true
	mustSend(t, cfg, env(), msg)
	if got := s.AuthAttempts(); len(got) != 1 || got[0] != "SCRAM-SHA-256" {
		t.Fatalf("auto in clear tried %v", got)
	}
}

func TestRepliesAtEachStage(t *testing.T) {
	for _, c := range []struct {
		stage    string
		code     int
		enhanced smtp.EnhancedCode
		want     Stage
	}{
		{"auth", 454, smtp.EnhancedCode{4, 7, 0}, StageAuth},
		{"auth", 535, smtp.EnhancedCode{5, 7, 139}, StageAuth},
		{"mail", 451, smtp.EnhancedCode{4, 3, 0}, StageMail},
		{"mail", 553, smtp.EnhancedCode{5, 7, 60}, StageMail},
		{"rcpt", 450, smtp.EnhancedCode{4, 2, 1}, StageRcpt},
		{"rcpt", 550, smtp.EnhancedCode{5, 1, 1}, StageRcpt},
		{"data", 451, smtp.EnhancedCode{4, 3, 0}, StageData},
		{"data", 554, smtp.EnhancedCode{5, 7, 1}, StageData},
	} {
		t.Run(c.stage+"/"+string(rune('0'+c.code/100)), func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: testPass, AllowInsecureAuth: true,
				Refuse: map[string]*smtp.SMTPError{c.stage: {Code: c.code, EnhancedCode: c.enhanced, Message: "refused for the test"}}})
			cfg := cfgFor(s, TLSNone)
			cfg.Auth, cfg.Username, cfg.Password, cfg.AllowInsecureAuth = AuthPlain, "ann", testPass, true
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			wantClass := ClassPermanent
			if c.code < 500 {
				wantClass = ClassTemporary
			}
			enh := fmtEnh(c.enhanced)
			if res.OK || res.Stage != c.want || res.Class != wantClass || res.Code != c.code || res.EnhancedCode != enh {
				t.Fatalf("got %+v", res)
			}
			tr := transcriptText(cfg.Transcript)
			// The error reply itself is in the transcript.
			if !strings.Contains(tr, "S  "+itoa(c.code)+" "+enh+" refused for the test") {
				t.Fatalf("the error reply is missing:\n%s", tr)
			}
			if Hint(res.Err) == "" {
				t.Fatal("no hint")
			}
			if len(s.Messages()) != 0 {
				t.Fatal("a refused message was stored")
			}
		})
	}
}

func fmtEnh(e smtp.EnhancedCode) string {
	return itoa(e[0]) + "." + itoa(e[1]) + "." + itoa(e[2])
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestBannerAndEHLOFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		script func(c *smtptest.Conn)
		stage  Stage
		class  Class
		kind   Kind
	}{
		{"554 banner", func(c *smtptest.Conn) { c.Line("554 5.7.1 no service for you") }, StageBanner, ClassPermanent, KindReply},
		{"421 banner", func(c *smtptest.Conn) { c.Line("421 4.3.2 too busy") }, StageBanner, ClassTemporary, KindReply},
		{"garbage banner", func(c *smtptest.Conn) { c.Line("HTTP/1.1 400 Bad Request") }, StageBanner, ClassPermanent, KindProtocol},
		{"drop at banner", func(c *smtptest.Conn) {}, StageBanner, ClassTemporary, KindDropped},
		{"silent banner", func(c *smtptest.Conn) { c.Read() }, StageBanner, ClassTemporary, KindTimeout},
		{"endless line", func(c *smtptest.Conn) { c.Write(bytes.Repeat([]byte("2"), 10000)) }, StageBanner, ClassPermanent, KindReplyTooLong},
		{"EHLO 421", func(c *smtptest.Conn) {
			c.Line("220 hi")
			c.Expect("EHLO")
			c.Line("421 4.7.0 go away")
		}, StageEHLO, ClassTemporary, KindReply},
		{"mixed codes in a multi-line reply", func(c *smtptest.Conn) {
			c.Line("220 hi")
			c.Expect("EHLO")
			c.Line("250-hi")
			c.Line("354 odd")
		}, StageEHLO, ClassPermanent, KindProtocol},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := smtptest.StartScript(t, c.script)
			cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Timeout: time.Second, Transcript: transcript.New()}
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			var e *Error
			if res.OK || res.Stage != c.stage || res.Class != c.class || !errors.As(res.Err, &e) || e.Kind != c.kind {
				t.Fatalf("got %+v (%v)\n%s", res, res.Err, transcriptText(cfg.Transcript))
			}
			if Hint(res.Err) == "" {
				t.Fatal("no hint")
			}
		})
	}
}

func TestHELOFallback(t *testing.T) {
	var got []byte
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Line("220 old server")
		c.Expect("EHLO")
		c.Line("502 5.5.2 command not recognized")
		c.Expect("HELO")
		c.Line("250 hello")
		c.Expect("MAIL FROM:<a@herald.test>")
		c.Line("250 ok")
		c.Expect("RCPT TO:<b@herald.test>")
		c.Line("250 ok")
		c.Expect("DATA")
		c.Line("354 go")
		got, _ = c.ReadData()
		c.Line("250 queued")
		c.Expect("QUIT")
		c.Line("221 bye")
	})
	cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Timeout: 2 * time.Second, Transcript: transcript.New()}
	res := mustSend(t, cfg, env(), msg)
	if res.QueuedAs != "queued" || !bytes.Equal(got, msg) {
		t.Fatalf("%+v %q", res, got)
	}
}

func TestConnectFailures(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := Config{Host: "127.0.0.1", Port: port, TLS: TLSNone, Timeout: time.Second, Transcript: transcript.New()}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || res.Stage != StageConnect || res.Class != ClassTemporary || !errors.As(res.Err, &e) || e.Kind != KindRefused {
		t.Fatalf("refused: %+v", res)
	}
	if !strings.Contains(Hint(res.Err), itoa(port)) {
		t.Fatalf("hint does not name the port: %q", Hint(res.Err))
	}
	// A connect that never completes: the dialer stalls until the timeout.
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	cfg.Port = 25
	res = Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if res.OK || res.Stage != StageConnect || !errors.As(res.Err, &e) || e.Kind != KindTimeout || !strings.Contains(Hint(res.Err), "block outgoing port 25") {
		t.Fatalf("stalled connect: %+v hint %q", res, Hint(res.Err))
	}
}

func TestDroppedAfterFinalDotIsUnknown(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet("8BITMIME")
		c.Expect("MAIL")
		c.Line("250 ok")
		c.Expect("RCPT")
		c.Line("250 ok")
		c.Expect("DATA")
		c.Line("354 go")
		c.ReadData()
		// close without a reply
	})
	cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Timeout: 2 * time.Second, Transcript: transcript.New()}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if res.OK || res.Class != ClassUnknown || res.Stage != StageData || !strings.Contains(Hint(res.Err), "may or may not") {
		t.Fatalf("%+v", res)
	}
	// Dropped before the dot: temporary, the server cannot have accepted.
	sc = smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet()
		c.Expect("MAIL")
		c.Line("250 ok")
		c.Expect("RCPT")
		c.Line("250 ok")
		c.Expect("DATA")
		c.Line("421 4.4.2 closing")
	})
	cfg.Port = sc.Port
	res = Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if res.OK || res.Class != ClassTemporary || res.Stage != StageData || res.Code != 421 {
		t.Fatalf("421 at DATA: %+v", res)
	}
}

func TestStalledReplyTimesOutAndContextCancels(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet()
		c.Expect("MAIL")
		c.Read() // never answers; returns when the client gives up
	})
	cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Timeout: 300 * time.Millisecond, Transcript: transcript.New()}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || res.Stage != StageMail || res.Class != ClassTemporary || !errors.As(res.Err, &e) || e.Kind != KindTimeout {
		t.Fatalf("timeout: %+v", res)
	}
	cfg.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res = Send(ctx, cfg, env(), bytes.NewReader(msg))
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindCanceled || time.Since(start) > 10*time.Second {
		t.Fatalf("cancel: %+v after %s", res, time.Since(start))
	}
}

func TestOneRecipientRefusedOthersDelivered(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"nobody@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}})
	cfg := cfgFor(s, TLSNone)
	res := mustSend(t, cfg, env("b@herald.test", "nobody@herald.test", "c@herald.test"), msg)
	if len(res.Recipients) != 3 || !res.Recipients[0].Accepted || res.Recipients[1].Accepted || !res.Recipients[2].Accepted ||
		res.Recipients[1].Code != 550 || res.Recipients[1].EnhancedCode != "5.1.1" || res.Recipients[1].Message != "no such user" {
		t.Fatalf("recipients %+v", res.Recipients)
	}
	if got := s.Messages(); len(got) != 1 || strings.Join(got[0].To, ",") != "b@herald.test,c@herald.test" {
		t.Fatalf("delivered to %+v", got)
	}
	// All refused: a failure at rcpt, nothing sent.
	res = Send(context.Background(), cfgFor(s, TLSNone), env("nobody@herald.test"), bytes.NewReader(msg))
	if res.OK || res.Stage != StageRcpt || res.Code != 550 {
		t.Fatalf("all refused: %+v", res)
	}
}

func TestSessionReuseAfterRefusal(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"nobody@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}})
	ctx := context.Background()
	c, err := Dial(ctx, cfgFor(s, TLSNone))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if _, err := c.Send(ctx, env("nobody@herald.test"), bytes.NewReader(msg)); err == nil {
		t.Fatal("refused recipient accepted")
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Send(ctx, env(), bytes.NewReader(msg)); err != nil {
			t.Fatalf("message %d on the reused session: %v", i, err)
		}
	}
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("%d messages", n)
	}
	if _, err := c.TryEnvelope(ctx, env()); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := len(s.Messages()); n != 3 {
		t.Fatal("the dry run delivered a message")
	}
}

func TestBodiesCannotEndDataEarly(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for name, body := range map[string]string{
		"CRLF dot CRLF": "Subject: a\r\n\r\nline\r\n.\r\nMAIL FROM:<evil@x.test>\r\nafter\r\n",
		"LF dot LF":     "Subject: a\n\nline\n.\nMAIL FROM:<evil@x.test>\nafter\n",
		"CR dot CR LF":  "Subject: a\r\n\r\nline\r.\r\nMAIL FROM:<evil@x.test>\r\nafter",
		"leading dots":  "Subject: a\r\n\r\n.hidden\r\n..two\r\n.",
	} {
		t.Run(name, func(t *testing.T) {
			before := len(s.Messages())
			mustSend(t, cfgFor(s, TLSNone), env(), []byte(body))
			got := s.Messages()
			if len(got) != before+1 {
				t.Fatalf("%d messages stored, want one more than %d (the body smuggled a second)", len(got), before)
			}
			data := string(got[len(got)-1].Data)
			want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")
			if !strings.HasSuffix(want, "\r\n") {
				want += "\r\n"
			}
			if data != want {
				t.Fatalf("server got %q, want %q", data, want)
			}
		})
	}
}

func TestSizeSMTPUTF8AndDSN(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{MaxSize: 100})
	big := bytes.Repeat([]byte("x"), 200)
	res := Send(context.Background(), cfgFor(s, TLSNone), env(), bytes.NewReader(big))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindSize {
		t.Fatalf("oversize: %+v", res)
	}
	s = smtptest.Start(t, smtptest.Options{})
	cfg := cfgFor(s, TLSNone)
	cfg.DSN = &DSN{Notify: []string{"SUCCESS", "FAILURE"}, Return: "hdrs", EnvID: "id+1=2"}
	mustSend(t, cfg, Envelope{From: "a@herald.test", To: []string{"jörg@bücher.test"}}, []byte("Subject: ü\r\n\r\nünïcode\r\n"))
	m := s.Messages()[0]
	if !m.Mail.UTF8 || m.Mail.Body != smtp.Body8BitMIME || m.Mail.Return != smtp.DSNReturnHeaders || m.Mail.EnvelopeID != "id+1=2" || m.Mail.Size == 0 {
		t.Fatalf("MAIL options %+v", m.Mail)
	}
	if len(m.Rcpt) != 1 || len(m.Rcpt[0].Notify) != 2 {
		t.Fatalf("RCPT options %+v", m.Rcpt)
	}
	s = smtptest.Start(t, smtptest.Options{NoSMTPUTF8: true})
	res = Send(context.Background(), cfgFor(s, TLSNone), Envelope{From: "a@herald.test", To: []string{"jörg@bücher.test"}}, bytes.NewReader(msg))
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindSMTPUTF8 {
		t.Fatalf("no SMTPUTF8: %+v", res)
	}
}

func TestEnvelopeInjectionRejected(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for _, e := range []Envelope{
		{From: "a@herald.test>\r\nRCPT TO:<evil@x.test", To: []string{"b@herald.test"}},
		{From: "a@herald.test", To: []string{"b@herald.test\nDATA"}},
		{From: "a@herald.test", To: []string{"b@herald.test> NOTIFY=NEVER"}},
		{From: "a@herald.test", To: nil},
	} {
		res := Send(context.Background(), cfgFor(s, TLSNone), e, bytes.NewReader(msg))
		var te *Error
		if res.OK || !errors.As(res.Err, &te) || (te.Kind != KindInput && te.Kind != KindNoRecipients) {
			t.Fatalf("%+v: %+v", e, res)
		}
	}
	if len(s.Messages()) != 0 {
		t.Fatal("a message went out")
	}
	if _, err := Dial(context.Background(), Config{Host: "127.0.0.1\r\nX", Port: s.Port}); err == nil {
		t.Fatal("host with CR/LF accepted")
	}
}

func TestTranscriptCompleteness(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"nobody@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}})
	cfg := cfgFor(s, TLSNone)
	mustSend(t, cfg, env("b@herald.test", "nobody@herald.test"), msg)
	evs := cfg.Transcript.Events()
	var ehloLines int
	for _, e := range evs {
		if e.Dir == transcript.Server && strings.HasPrefix(e.Text, "250-") {
			ehloLines++
		}
	}
	tr := transcriptText(cfg.Transcript)
	for _, want := range []string{"I  connected to", "S  220 ", "C  EHLO client.herald.test", "S  550 5.1.1 no such user", "C  DATA", "S  354", "C  [message: ", "C  .", "C  QUIT", "S  221"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if ehloLines < 3 {
		t.Errorf("multi-line EHLO reply not recorded line by line (%d continuation lines)\n%s", ehloLines, tr)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Elapsed < evs[i-1].Elapsed {
			t.Fatal("elapsed times go backwards")
		}
	}
}

func TestQuitAfter(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for _, st := range []Stage{StageConnect, StageBanner, StageEHLO, StageTLS, StageAuth, StageMail, StageRcpt} {
		cfg := cfgFor(s, TLSNone)
		cfg.QuitAfter = st
		res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
		if !res.OK || res.Stage != st {
			t.Fatalf("quit after %s: %+v", st, res)
		}
		tr := transcriptText(cfg.Transcript)
		if (st == StageMail || st == StageRcpt) != strings.Contains(tr, "MAIL FROM") {
			t.Fatalf("quit after %s:\n%s", st, tr)
		}
		if strings.Contains(tr, "C  DATA") {
			t.Fatalf("quit after %s sent DATA", st)
		}
	}
	if len(s.Messages()) != 0 {
		t.Fatal("a message was delivered")
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]TLSMode{"implicit": TLSImplicit, "SSL": TLSImplicit, "starttls": TLSStartTLS, "none": TLSNone} {
		if got, err := ParseTLSMode(in); err != nil || got != want {
			t.Errorf("ParseTLSMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseTLSMode("sometimes"); err == nil {
		t.Error("bad TLS mode accepted")
	}
	if _, err := ParseAuthMethod("ntlm"); err == nil {
		t.Error("unknown auth method accepted")
	}
	if _, err := ParseStage("data"); err == nil {
		t.Error("quit after data accepted: the message would be sent")
	}
	if DefaultPort(TLSImplicit) != 465 || DefaultPort(TLSStartTLS) != 587 || DefaultPort(TLSNone) != 25 {
		t.Error("default ports")
	}
}

func TestEchoedCredentialsAreRedactedFromErrors(t *testing.T) {
	sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
		c.Greet("AUTH PLAIN")
		l, err := c.Expect("AUTH PLAIN")
		if err != nil {
			return
		}
		c.Line("535 5.7.8 credentials " + strings.TrimPrefix(l, "AUTH PLAIN ") + " rejected")
		c.Read()
	})
	cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Auth: AuthPlain, Username: "ann", Password: testPass, AllowInsecureAuth: true, Timeout: 5 * time.Second}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg)) // no transcript at all
	if res.OK || res.Code != 535 {
		t.Fatalf("%+v", res)
	}
	assertNoSecret(t, testPass, "ann", res.Err.Error())
	if !strings.Contains(res.Err.Error(), transcript.Redacted) {
		t.Fatalf("the echo was not replaced: %v", res.Err)
	}
}
