package transport

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
)

// A stage limit stops before anything of the next stage reaches the server,
// QUIT always follows the greeting (after the handshake on implicit TLS),
// and the result says where the session stopped; for every TLS mode.
func TestQuitAfterEachStageAndMode(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	// The commands that must have reached the server, by mode and stage,
	// before QUIT.
	want := map[TLSMode]map[Stage][]string{}
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS, TLSNone} {
		ehlo := []string{"EHLO"}
		if mode == TLSStartTLS {
			ehlo = []string{"EHLO", "STARTTLS", "EHLO"}
		}
		tlsDone := ehlo
		want[mode] = map[Stage][]string{
			StageConnect: nil,
			StageBanner:  nil,
			StageEHLO:    {"EHLO"},
			StageTLS:     tlsDone,
			StageAuth:    append(append([]string{}, tlsDone...), "AUTH"),
			StageMail:    append(append([]string{}, tlsDone...), "AUTH", "MAIL"),
			StageRcpt:    append(append([]string{}, tlsDone...), "AUTH", "MAIL", "RCPT"),
		}
	}
	for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS, TLSNone} {
		srv := smtptest.StartEcho(t, smtptest.EchoOptions{Implicit: mode == TLSImplicit, StartTLS: mode == TLSStartTLS, Cert: &cert,
			Mechanisms: []string{"PLAIN"}, GreetDelay: 50 * time.Millisecond})
		for _, st := range []Stage{StageConnect, StageBanner, StageEHLO, StageTLS, StageAuth, StageMail, StageRcpt} {
			before := len(srv.Lines())
			cfg := Config{Host: "127.0.0.1", Port: srv.Port, TLS: mode, Auth: AuthPlain, Username: "ann", Password: testPass,
				AllowInsecureAuth: mode == TLSNone, RootCAs: ca.Pool, Timeout: 5 * time.Second, HeloName: "client.herald.test",
				QuitAfter: st, Transcript: transcript.New()}
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			if !res.OK || res.Stage != st || res.Err != nil {
				t.Errorf("%s, quit after %s: ok=%v stage=%s err=%v\n%s", mode, st, res.OK, res.Stage, res.Err, transcriptText(cfg.Transcript))
				continue
			}
			var verbs []string
			for _, l := range srv.Lines()[before:] {
				verb, _, _ := strings.Cut(l, " ")
				verbs = append(verbs, strings.ToUpper(verb))
			}
			exp := append(append([]string{}, want[mode][st]...), "QUIT")
			if strings.Join(verbs, " ") != strings.Join(exp, " ") {
				t.Errorf("%s, quit after %s: the server got %q, want %q", mode, st, verbs, exp)
			}
			if e := srv.Early(); len(e) > 0 {
				t.Fatalf("%s, quit after %s: %q reached the server before its greeting", mode, st, e)
			}
			if mode == TLSImplicit && res.TLS == nil {
				t.Errorf("%s, quit after %s: no TLS reported", mode, st)
			}
		}
	}
}

// The plain-text QUIT of "connect" never reaches an implicit-TLS port: the
// handshake comes first, then the greeting.
func TestQuitAfterConnectImplicitHandshakesFirst(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	srv := smtptest.StartEcho(t, smtptest.EchoOptions{Implicit: true, Cert: &cert})
	cfg := Config{Host: "127.0.0.1", Port: srv.Port, TLS: TLSImplicit, RootCAs: ca.Pool, Timeout: 5 * time.Second, QuitAfter: StageConnect, Transcript: transcript.New()}
	res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	if !res.OK || res.Stage != StageConnect {
		t.Fatalf("%+v\n%s", res, transcriptText(cfg.Transcript))
	}
	if got := srv.Lines(); len(got) != 1 || got[0] != "QUIT" {
		t.Fatalf("the server got %q over TLS", got)
	}
	tr := transcriptText(cfg.Transcript)
	if !strings.Contains(tr, "S* 220") || !strings.Contains(tr, "C* QUIT") {
		t.Fatalf("greeting then QUIT under TLS expected:\n%s", tr)
	}
}
