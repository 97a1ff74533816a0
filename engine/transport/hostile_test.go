package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/hostile"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
)

// The hostile suite: each case runs a whole session against a scripted
// peer that misbehaves in one way, and asserts both what reached the peer
// (no credential bytes, no command after a refusal or a protocol error)
// and what the user was told (Kind, Class, Stage, message).

const hostileUser = "ann"

// hostileCase is one misbehaviour.
type hostileCase struct {
	name   string
	script hostile.Script
	// cfg adjusts the client's configuration (TLS mode, auth, timeout).
	cfg func(c *Config)
	to  []string
	// both runs the case with pipelining on and off (the script offers
	// PIPELINING); otherwise off.
	both bool

	ok    bool
	kind  Kind
	class Class
	stage Stage
	// pipeStage is the stage when pipelined, when it differs.
	pipeStage Stage
	msg       []string // substrings of the error's text
	// last is the prefix of the last command the peer may have received
	// ("" for none at all); pipeLast when pipelined, when it differs.
	last, pipeLast string
	// never are byte strings that must not reach the peer.
	never []string
}

// creds is the password of every case; credential forms are derived
// from it.
const hostilePass = "h0st1le-Secret"

func credForms() []string {
	return []string{
		hostilePass,
		base64.StdEncoding.EncodeToString([]byte(hostilePass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + hostileUser + "\x00" + hostilePass)),
	}
}

func withAuth(c *Config) {
	c.Auth, c.Username, c.Password = AuthPlain, hostileUser, hostilePass
}

func runHostile(t *testing.T, hc hostileCase, pipe Pipelining) (*Result, *hostile.Peer, *transcript.Recorder) {
	t.Helper()
	p := hostile.Start(t, hostile.Serve(hc.script))
	cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSNone, Auth: AuthNone, Timeout: 3 * time.Second,
		HeloName: "client.herald.test", Transcript: transcript.New(), Pipelining: pipe}
	if hc.cfg != nil {
		hc.cfg(&cfg)
	}
	to := hc.to
	if to == nil {
		to = []string{"b@herald.test"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := Send(ctx, cfg, Envelope{From: "a@herald.test", To: to}, bytes.NewReader(msg))
	return res, p, cfg.Transcript
}

func TestHostilePeers(t *testing.T) {
	certs := hostile.NewCerts(t)
	good := certs.Good(t)
	trust := func(c *Config) { c.RootCAs = certs.Pool }
	starttls := func(c *Config) { c.TLS = TLSStartTLS; trust(c); withAuth(c) }
	cases := []hostileCase{
		// STARTTLS and its failures: nothing private before TLS.
		{name: "starttls stripped", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Strip: true}, cfg: starttls,
			kind: KindStartTLSMissing, class: ClassPermanent, stage: StageTLS, last: "EHLO", never: []string{"AUTH", "MAIL"}},
		{name: "starttls 454", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Replies: map[string][]string{"STARTTLS": {"454 4.7.0 TLS not available due to temporary reason"}}}, cfg: starttls,
			kind: KindReply, class: ClassTemporary, stage: StageTLS, last: "STARTTLS", never: []string{"AUTH", "MAIL"}},
		{name: "starttls 502", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Replies: map[string][]string{"STARTTLS": {"502 5.5.1 no"}}}, cfg: starttls,
			kind: KindReply, class: ClassPermanent, stage: StageTLS, last: "STARTTLS", never: []string{"AUTH", "MAIL"}},
		{name: "starttls closes", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Replies: map[string][]string{"STARTTLS": nil}}, cfg: starttls,
			kind: KindDropped, class: ClassTemporary, stage: StageTLS, last: "STARTTLS", never: []string{"AUTH", "MAIL"}},
		{name: "helo only, starttls required", script: hostile.Script{HELOOnly: true, StartTLS: hostile.ServerTLS(good)}, cfg: starttls,
			kind: KindStartTLSMissing, class: ClassPermanent, stage: StageTLS, last: "HELO", never: []string{"AUTH", "MAIL"}},
		{name: "helo only, plain", script: hostile.Script{HELOOnly: true}, ok: true, last: "DATA"},
		{name: "injected before the handshake", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Replies: map[string][]string{"STARTTLS": {"220 go ahead", "250-INJECTED", "250 AUTH PLAIN"}}}, cfg: starttls,
			kind: KindProtocol, class: ClassPermanent, stage: StageTLS, msg: []string{"after its STARTTLS reply"}, last: "STARTTLS", never: []string{"AUTH", "MAIL"}},
		{name: "injected after the handshake", script: hostile.Script{StartTLS: hostile.ServerTLS(good), Replies: map[string][]string{"TLS:EHLO": {"250-hostile", "250 AUTH PLAIN", "235 2.7.0 INJECTED"}}}, cfg: starttls,
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageTLS, msg: []string{"after its reply to EHLO", "235 2.7.0 INJECTED"}, last: "EHLO", never: []string{"AUTH", "MAIL"}},
		{name: "injected after the implicit TLS greeting", script: hostile.Script{Implicit: hostile.ServerTLS(good), Banner: []string{"220 hostile ESMTP", "250 INJECTED"}},
			cfg:  func(c *Config) { c.TLS = TLSImplicit; trust(c); withAuth(c) },
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageBanner, msg: []string{"greeting"}, last: "", never: []string{"EHLO", "AUTH"}},

		// Replies out of step.
		{name: "extra reply to MAIL", script: hostile.Script{Replies: map[string][]string{"MAIL": {"250 2.1.0 Ok", "250 INJECTED"}}, Rcpt: map[string][]string{"bad@herald.test": {"550 5.1.1 no such user"}}},
			to: []string{"b@herald.test", "bad@herald.test"}, both: true,
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageMail, pipeStage: StageData, msg: []string{"no command asked for"},
			last: "MAIL", pipeLast: "DATA", never: []string{"Subject: hi", "RSET"}},
		{name: "extra reply to RCPT", script: hostile.Script{Rcpt: map[string][]string{"b@herald.test": {"250 2.1.5 Ok", "250 2.1.5 Ok"}, "bad@herald.test": {"550 5.1.1 no such user"}}},
			to: []string{"b@herald.test", "bad@herald.test"}, both: true,
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageRcpt, pipeStage: StageData,
			last: "RCPT TO:<b@", pipeLast: "DATA", never: []string{"Subject: hi", "RSET"}},
		{name: "354 to MAIL", script: hostile.Script{Replies: map[string][]string{"MAIL": {"354 go ahead"}}}, both: true,
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageMail, msg: []string{"MAIL FROM with 354", "expected 250"},
			last: "MAIL", pipeLast: "DATA", never: []string{"Subject: hi", "RSET"}},
		{name: "250 to DATA", script: hostile.Script{Replies: map[string][]string{"DATA": {"250 2.0.0 Ok"}}}, both: true,
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageData, msg: []string{"DATA with 250", "expected 354"},
			last: "DATA", never: []string{"Subject: hi", "RSET"}},
		{name: "354 to the final dot", script: hostile.Script{Replies: map[string][]string{".": {"354 more please"}}}, both: true,
			kind: KindUnexpectedReply, class: ClassUnknown, stage: StageData, msg: []string{"final dot", "may or may not"}, last: "DATA", never: []string{"QUIT"}},
		{name: "235 to MAIL", script: hostile.Script{Replies: map[string][]string{"MAIL": {"235 fine"}}},
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageMail, last: "MAIL", never: []string{"RCPT"}},
		{name: "250 banner", script: hostile.Script{Banner: []string{"250 hello"}},
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageBanner, last: "", never: []string{"EHLO"}},

		// Replies that are not replies.
		{name: "over-long reply", script: hostile.Script{Replies: map[string][]string{"MAIL": {"250 " + strings.Repeat("x", 5000)}}},
			kind: KindReplyTooLong, class: ClassPermanent, stage: StageMail, last: "MAIL", never: []string{"RCPT"}},
		{name: "non-numeric code", script: hostile.Script{Replies: map[string][]string{"MAIL": {"2x0 ok"}}},
			kind: KindProtocol, class: ClassPermanent, stage: StageMail, last: "MAIL", never: []string{"RCPT"}},
		{name: "endless reply", script: hostile.Script{On: func(s *hostile.Session, verb, _ string) bool {
			if verb == "EHLO" {
				s.Endless("250-more")
				return true
			}
			return false
		}}, kind: KindProtocol, class: ClassPermanent, stage: StageEHLO, last: "EHLO", never: []string{"MAIL"}},
		{name: "trickle", script: hostile.Script{On: func(s *hostile.Session, verb, _ string) bool {
			if verb == "MAIL" {
				s.Trickle("250 2.1.0 Ok, slowly\r\n", 40*time.Millisecond)
				return true
			}
			return false
		}}, cfg: func(c *Config) { c.Timeout = 300 * time.Millisecond },
			kind: KindTimeout, class: ClassTemporary, stage: StageMail, last: "MAIL", never: []string{"RCPT"}},
		{name: "silence", script: hostile.Script{On: func(s *hostile.Session, verb, _ string) bool {
			if verb == "MAIL" {
				s.Silence()
				return true
			}
			return false
		}}, cfg: func(c *Config) { c.Timeout = 300 * time.Millisecond },
			kind: KindTimeout, class: ClassTemporary, stage: StageMail, last: "MAIL", never: []string{"RCPT"}},

		{name: "TLS alert as a greeting", script: hostile.Script{Banner: []string{"\x15\x03\x01\x00\x02\x02\x28"}},
			kind: KindProtocol, class: ClassPermanent, stage: StageBanner, msg: []string{`\x15\x03\x01\x00\x02\x02(`}, last: "", never: []string{"EHLO"}},

		// Credentials.
		{name: "credentials echoed", script: hostile.Script{Replies: map[string][]string{"AUTH": {"535 5.7.8 you sent {arg} and {sasl}"}}},
			cfg:  func(c *Config) { withAuth(c); c.AllowInsecureAuth = true },
			kind: KindReply, class: ClassPermanent, stage: StageAuth, last: "AUTH", never: []string{"MAIL"}},
		{name: "credentials echoed, login", script: hostile.Script{Exts: []string{"AUTH LOGIN"}, Replies: map[string][]string{"AUTH": {"535 5.7.8 you sent {sasl}"}}},
			cfg:  func(c *Config) { withAuth(c); c.Auth = AuthLogin; c.AllowInsecureAuth = true },
			kind: KindReply, class: ClassPermanent, stage: StageAuth, last: "-", never: []string{"MAIL"}},
		{name: "250 to AUTH, echoing", script: hostile.Script{Replies: map[string][]string{"AUTH": {"250 2.0.0 you sent {sasl} {plain}"}}},
			cfg:  func(c *Config) { withAuth(c); c.AllowInsecureAuth = true },
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageAuth, msg: []string{"AUTH with 250"}, last: "AUTH", never: []string{"MAIL", "QUIT"}},
		{name: "extra reply to AUTH, echoing", script: hostile.Script{Replies: map[string][]string{"AUTH": {"235 2.7.0 ok", "250 you sent {sasl}"}}},
			cfg:  func(c *Config) { withAuth(c); c.AllowInsecureAuth = true },
			kind: KindUnexpectedReply, class: ClassPermanent, stage: StageAuth, last: "AUTH", never: []string{"MAIL", "QUIT"}},
		{name: "no password in clear", script: hostile.Script{}, cfg: withAuth,
			kind: KindInsecureAuth, class: ClassPermanent, stage: StageAuth, last: "EHLO", never: []string{"AUTH"}},

		// Server text with control bytes.
		{name: "escape sequences in a refusal", script: hostile.Script{Replies: map[string][]string{"MAIL": {"550 5.7.1 \x1b]0;pwned\x07\x1b[2J no \u00e9t\u00e9"}}},
			kind: KindReply, class: ClassPermanent, stage: StageMail, msg: []string{`\x1b]0;pwned\x07\x1b[2J no été`}, last: "RSET"},
	}
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		conf func(tls.Certificate) *tls.Config
		kind Kind
		msg  string
	}{
		{"expired", certs.Expired(t), hostile.ServerTLS, KindCertExpired, "expired at"},
		{"not yet valid", certs.NotYetValid(t), hostile.ServerTLS, KindCertNotYetValid, "not valid before"},
		{"wrong name", certs.WrongName(t), hostile.ServerTLS, KindCertName, "is for wrong.herald.test, not for 127.0.0.1"},
		{"self-signed", certs.SelfSigned(t), hostile.ServerTLS, KindCertSelfSigned, "self-signed"},
		{"unknown CA", certs.UnknownCA(t), hostile.ServerTLS, KindCertUnknownAuth, "CN=Unknown Test CA, an authority this machine does not trust"},
		{"weak key", certs.WeakKey(t), hostile.ServerTLS, KindCertWeakKey, "1024-bit RSA key"},
		{"weak intermediate", certs.WeakIntermediate(t), hostile.ServerTLS, KindCertWeakKey, "an authority of the server's certificate chain (CN=Weak Intermediate CA) has a 1024-bit RSA key"},
		{"TLS 1.0 only", good, func(c tls.Certificate) *tls.Config { return hostile.OldTLS(c, tls.VersionTLS10) }, KindTLSVersion, ""},
		{"TLS 1.1 only", good, func(c tls.Certificate) *tls.Config { return hostile.OldTLS(c, tls.VersionTLS11) }, KindTLSVersion, ""},
	} {
		var msg []string
		if tc.msg != "" {
			msg = []string{tc.msg}
		}
		cases = append(cases,
			hostileCase{name: "implicit/" + tc.name, script: hostile.Script{Implicit: tc.conf(tc.cert)},
				cfg:  func(c *Config) { c.TLS = TLSImplicit; trust(c); withAuth(c) },
				kind: tc.kind, class: ClassPermanent, stage: StageTLS, msg: msg, last: "", never: []string{"EHLO"}},
			hostileCase{name: "starttls/" + tc.name, script: hostile.Script{StartTLS: tc.conf(tc.cert)}, cfg: starttls,
				kind: tc.kind, class: ClassPermanent, stage: StageTLS, msg: msg, last: "STARTTLS", never: []string{"AUTH", "MAIL"}})
	}
	for _, hc := range cases {
		modes := []Pipelining{PipeliningOff}
		if hc.both {
			modes = []Pipelining{PipeliningOff, PipeliningOn}
		}
		for _, pipe := range modes {
			t.Run(hc.name+"/pipelining-"+pipe.String(), func(t *testing.T) {
				res, p, rec := runHostile(t, hc, pipe)
				tr := transcriptText(rec)
				if res.OK != hc.ok {
					t.Fatalf("ok %v, want %v: %v\n%s", res.OK, hc.ok, res.Err, tr)
				}
				stage, last := hc.stage, hc.last
				if pipe == PipeliningOn {
					if hc.pipeStage != "" {
						stage = hc.pipeStage
					}
					if hc.pipeLast != "" {
						last = hc.pipeLast
					}
				}
				if !hc.ok {
					var e *Error
					if !errors.As(res.Err, &e) {
						t.Fatalf("not a *Error: %v", res.Err)
					}
					if e.Kind != hc.kind || res.Class != hc.class || res.Stage != stage {
						t.Fatalf("told kind %s class %s stage %s, want %s %s %s: %v\n%s", e.Kind, res.Class, res.Stage, hc.kind, hc.class, stage, res.Err, tr)
					}
					for _, m := range hc.msg {
						if !strings.Contains(res.Err.Error(), m) {
							t.Errorf("the message %q lacks %q", res.Err, m)
						}
					}
					if Hint(res.Err) == "" {
						t.Errorf("no hint for %v", res.Err)
					}
					if strings.Contains(res.Err.Error(), "x509:") {
						t.Errorf("Go's x509 text reached the user: %v", res.Err)
					}
					if hc.kind == KindUnexpectedReply {
						for _, r := range res.Recipients {
							if r.Accepted {
								t.Errorf("a recipient counted as accepted from out-of-step replies: %+v", r)
							}
						}
					}
				}
				// What the user sees never holds a raw control byte or a
				// credential.
				shown := errText(res.Err) + "\n" + res.QueuedAs + "\n" + tr
				if strings.ContainsAny(shown, "\x1b\x07\x00") {
					t.Errorf("a raw control byte reached the user:\n%q", shown)
				}
				assertNoSecret(t, hostilePass, hostileUser, shown)
				// What reached the peer.
				got := p.Received()
				for _, n := range hc.never {
					if bytes.Contains(got, []byte(n)) {
						t.Errorf("%q reached the peer:\n%s", n, got)
					}
				}
				if hc.stage == StageTLS || hc.stage == StageBanner || hc.kind == KindInsecureAuth || hc.kind == KindStartTLSMissing {
					for _, f := range credForms() {
						if bytes.Contains(got, []byte(f)) {
							t.Errorf("credential form %q reached the peer", f)
						}
					}
				}
				if hc.last != "-" {
					cmds := p.Commands()
					switch hc.kind {
					case KindUnexpectedReply, KindProtocol, KindReplyTooLong:
						// Out of step: not even QUIT.
					default:
						// After a refusal, a polite QUIT is fine.
						if n := len(cmds); n > 0 && cmds[n-1] == "QUIT" {
							cmds = cmds[:n-1]
						}
					}
					if last == "" {
						if len(cmds) != 0 {
							t.Errorf("commands reached the peer: %q", cmds)
						}
					} else if len(cmds) == 0 || !strings.HasPrefix(cmds[len(cmds)-1], last) {
						t.Errorf("the last command the peer got is not %q: %q", last, cmds)
					}
				}
			})
		}
	}
}

// TestPinnedWeakCertificateRefused: a pin does not excuse a 1024-bit key.
func TestPinnedWeakCertificateRefused(t *testing.T) {
	certs := hostile.NewCerts(t)
	for _, c := range []struct {
		cert tls.Certificate
		ok   bool
	}{{certs.SelfSignedWeak(t), false}, {certs.SelfSigned(t), true}} {
		p := hostile.Start(t, hostile.Serve(hostile.Script{Implicit: hostile.ServerTLS(c.cert)}))
		cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSImplicit, Timeout: 3 * time.Second, PinnedSHA256: smtptest.Fingerprint(c.cert)}
		res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
		var e *Error
		if c.ok != res.OK || (!c.ok && (!errors.As(res.Err, &e) || e.Kind != KindCertWeakKey)) {
			t.Fatalf("pinned, ok want %v: %+v (%v)", c.ok, res, res.Err)
		}
	}
}

// TestStrongRSACertificateAccepted: 2048-bit RSA is fine.
func TestStrongRSACertificateAccepted(t *testing.T) {
	certs := hostile.NewCerts(t)
	p := hostile.Start(t, hostile.Serve(hostile.Script{Implicit: hostile.ServerTLS(certs.StrongRSA(t))}))
	cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSImplicit, Timeout: 3 * time.Second, RootCAs: certs.Pool}
	if res := Send(context.Background(), cfg, env(), bytes.NewReader(msg)); !res.OK {
		t.Fatalf("%+v (%v)", res, res.Err)
	}
}

// TestReaderThatStopsReading: a peer that takes DATA and then reads no
// more makes the body's writes block until the timeout; the final dot
// never left, so the server cannot have accepted the message.
func TestReaderThatStopsReading(t *testing.T) {
	p := hostile.Start(t, hostile.Serve(hostile.Script{Exts: []string{"8BITMIME"}, On: func(s *hostile.Session, verb, _ string) bool {
		if verb == "DATA" {
			s.Reply("354 go ahead")
			s.StopReading()
			return true
		}
		return false
	}}))
	cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSNone, Timeout: 300 * time.Millisecond}
	body := bytes.Repeat([]byte(strings.Repeat("x", 998)+"\r\n"), 24<<10) // 24 MB: more than the socket buffers hold
	start := time.Now()
	res := Send(context.Background(), cfg, env(), bytes.NewReader(body))
	var e *Error
	if res.OK || !errors.As(res.Err, &e) || e.Kind != KindTimeout || res.Class != ClassTemporary || res.Stage != StageData {
		t.Fatalf("%+v (%v)", res, res.Err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// TestHostileEchoesEveryCredentialForm: a server that echoes the SASL
// exchange back in its refusal, base64, decoded and in hex, for each
// mechanism; no form of the password may reach the user.
func TestHostileEchoesEveryCredentialForm(t *testing.T) {
	for _, m := range []AuthMethod{AuthPlain, AuthLogin, AuthCRAMMD5} {
		for _, form := range []string{"{sasl}", "{plain}", "{hex}"} {
			t.Run(string(m)+"/"+form, func(t *testing.T) {
				p := hostile.Start(t, hostile.Serve(hostile.Script{Replies: map[string][]string{"AUTH": {"535 5.7.8 you sent " + form}}}))
				cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSNone, Auth: m, Username: hostileUser, Password: hostilePass,
					AllowInsecureAuth: true, Timeout: 3 * time.Second, Transcript: transcript.New()}
				res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
				if res.OK || res.Code != 535 || res.Stage != StageAuth {
					t.Fatalf("%+v (%v)", res, res.Err)
				}
				shown := res.Err.Error() + "\n" + transcriptText(cfg.Transcript)
				assertNoSecret(t, hostilePass, hostileUser, shown)
				if strings.Contains(shown, hex.EncodeToString([]byte(hostilePass))) {
					t.Fatalf("the hex form of the password reached the user:\n%s", shown)
				}
			})
		}
	}
}

// TestHostileEchoInQueuedAs: a server that accepts the login and then
// echoes the SASL exchange in its reply to the final dot (which becomes
// Result.QueuedAs).
func TestHostileEchoInQueuedAs(t *testing.T) {
	for _, form := range []string{"{sasl}", "{plain}"} {
		p := hostile.Start(t, hostile.Serve(hostile.Script{Replies: map[string][]string{".": {"250 2.0.0 queued; you logged in with " + form}}}))
		cfg := Config{Host: p.Host, Port: p.Port, TLS: TLSNone, Auth: AuthPlain, Username: hostileUser, Password: hostilePass,
			AllowInsecureAuth: true, Timeout: 3 * time.Second}
		res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
		if !res.OK {
			t.Fatalf("%+v (%v)", res, res.Err)
		}
		assertNoSecret(t, hostilePass, hostileUser, res.QueuedAs)
	}
}
