package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
)

// TestDSNPerEnvelope sends three messages in one session, each with its own
// notification request (or the session's), and checks what reached the
// server and the wire for each, pipelined and not.
func TestDSNPerEnvelope(t *testing.T) {
	for _, mode := range []Pipelining{PipeliningAuto, PipeliningOff} {
		t.Run(mode.String(), func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{})
			cfg := cfgFor(s, TLSNone)
			cfg.Pipelining = mode
			cfg.DSN = &DSN{Notify: []string{"DELAY"}, EnvID: "session"}
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			one := env("one@herald.test")
			one.DSN = &DSN{Notify: []string{"SUCCESS", "FAILURE"}, Return: "hdrs", EnvID: "id+1=2"}
			two := env("two@herald.test")
			two.DSN = &DSN{Notify: []string{"NEVER"}, Return: "full", EnvID: "second"}
			three := env("three@herald.test") // the session's request
			results, err := c.SendMany(context.Background(), []Envelope{one, two, three},
				[]io.Reader{bytes.NewReader(msg), bytes.NewReader(msg), bytes.NewReader(msg)})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				if !r.OK {
					t.Fatalf("message %d: %+v", i+1, r)
				}
			}
			got := s.Messages()
			if len(got) != 3 {
				t.Fatalf("%d messages, want 3", len(got))
			}
			type want struct {
				ret    smtp.DSNReturn
				envID  string
				notify []smtp.DSNNotify
			}
			for i, w := range []want{
				{smtp.DSNReturnHeaders, "id+1=2", []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}},
				{smtp.DSNReturnFull, "second", []smtp.DSNNotify{smtp.DSNNotifyNever}},
				{"", "session", []smtp.DSNNotify{smtp.DSNNotifyDelayed}},
			} {
				m := got[i]
				if m.Mail.Return != w.ret || m.Mail.EnvelopeID != w.envID {
					t.Errorf("message %d: MAIL options %+v, want RET %q ENVID %q", i+1, m.Mail, w.ret, w.envID)
				}
				if len(m.Rcpt) != 1 || !equalNotify(m.Rcpt[0].Notify, w.notify) {
					t.Errorf("message %d: RCPT options %+v, want NOTIFY %v", i+1, m.Rcpt, w.notify)
				}
			}
			tr := transcriptText(cfg.Transcript)
			for _, line := range []string{
				" RET=HDRS ENVID=id+2B1+3D2\n",
				"RCPT TO:<one@herald.test> NOTIFY=SUCCESS,FAILURE",
				" RET=FULL ENVID=second\n",
				"RCPT TO:<two@herald.test> NOTIFY=NEVER",
				"SIZE=62 ENVID=session\n",
				"RCPT TO:<three@herald.test> NOTIFY=DELAY",
			} {
				if !strings.Contains(tr, line) {
					t.Errorf("the wire lacks %q:\n%s", line, tr)
				}
			}
		})
	}
}

func equalNotify(a, b []smtp.DSNNotify) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDSNPerEnvelopeWithoutServerDSN: a server without DSN gets no DSN
// parameter, and each message that asked is noted in the transcript.
func TestDSNPerEnvelopeWithoutServerDSN(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{NoDSN: true})
	cfg := cfgFor(s, TLSNone)
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	one, two, three := env(), env(), env()
	one.DSN = &DSN{Notify: []string{"FAILURE"}}
	three.DSN = &DSN{Return: "hdrs"}
	results, _ := c.SendMany(context.Background(), []Envelope{one, two, three},
		[]io.Reader{bytes.NewReader(msg), bytes.NewReader(msg), bytes.NewReader(msg)})
	for i, r := range results {
		if !r.OK {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	tr := transcriptText(cfg.Transcript)
	if n := strings.Count(tr, "the server does not offer DSN"); n != 2 {
		t.Errorf("%d notes about DSN, want 2 (one per message that asked):\n%s", n, tr)
	}
	if strings.Contains(tr, "NOTIFY=") || strings.Contains(tr, "RET=") {
		t.Errorf("DSN parameters sent to a server without DSN:\n%s", tr)
	}
}

// TestDSNPerEnvelopeChecked: a request that ParseDSN would refuse is not
// written into a command.
func TestDSNPerEnvelopeChecked(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	cfg := cfgFor(s, TLSNone)
	e := env()
	e.DSN = &DSN{Notify: []string{"FAILURE\r\nRSET"}}
	res := Send(context.Background(), cfg, e, bytes.NewReader(msg))
	var te *Error
	if res.OK || !errors.As(res.Err, &te) || te.Kind != KindInput {
		t.Fatalf("%+v", res)
	}
	if strings.Contains(transcriptText(cfg.Transcript), "NOTIFY") || len(s.Messages()) != 0 {
		t.Fatal("a bad request reached the server")
	}
}
