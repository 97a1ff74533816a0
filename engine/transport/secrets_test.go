package transport

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
)

// echoForms lists every form of pw and of the SASL responses of mech for
// user that Herald derives and an echoing server repeats.
func echoForms(mech AuthMethod, user, pw string) []string {
	forms := transcript.SecretForms(pw)
	var resps [][]byte
	switch mech {
	case AuthPlain:
		resps = [][]byte{[]byte("\x00" + user + "\x00" + pw)}
	case AuthLogin:
		resps = [][]byte{[]byte(pw)} // the user name alone is no secret
		b := base64.StdEncoding.EncodeToString([]byte(user))
		forms = append(forms, b, strings.TrimRight(b, "="))
	case AuthCRAMMD5:
		h := hmac.New(md5.New, []byte(pw))
		h.Write([]byte(smtptest.EchoChallenge))
		d := hex.EncodeToString(h.Sum(nil))
		resps = [][]byte{[]byte(user + " " + d)}
		forms = append(forms, d)
	}
	for _, r := range resps {
		forms = append(forms, transcript.PayloadForms(r)...)
	}
	return forms
}

// leaks returns the forms found in text: long forms anywhere, short ones
// as space-separated words.
func leaks(text string, forms []string) []string {
	var out []string
	for _, f := range forms {
		if len(f) >= transcript.MinAnywhere && strings.Contains(text, f) ||
			len(f) < transcript.MinAnywhere && strings.Contains(" "+text+" ", " "+f+" ") {
			out = append(out, f)
		}
	}
	return out
}

func resultText(res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "queued_as=%s\n", res.QueuedAs)
	for _, r := range res.Recipients {
		fmt.Fprintf(&b, "rcpt %s: %s\n", r.Addr, r.Message)
	}
	if res.Err != nil {
		fmt.Fprintf(&b, "error: %s\n", res.Err)
		if e, ok := res.Err.(*Error); ok {
			fmt.Fprintf(&b, "reply: %s\nmsg: %s\n", e.Reply, e.Msg)
		}
	}
	return b.String()
}

// A server that echoes what it was sent finds no form of it in the result
// (with or without a transcript) nor in the transcript, for every
// mechanism and password length.
func TestEchoedCredentialsRedactedAtTheSource(t *testing.T) {
	for _, mech := range []AuthMethod{AuthPlain, AuthLogin, AuthCRAMMD5} {
		for _, pw := range []string{testPass, "pw1", "x"} {
			for _, refuse := range []string{"", "auth", "rcpt"} {
				for _, withRec := range []bool{true, false} {
					name := fmt.Sprintf("%s/%q/refuse-%s/transcript-%v", mech, pw, refuse, withRec)
					h := hex.EncodeToString([]byte(pw))
					srv := smtptest.StartEcho(t, smtptest.EchoOptions{RefuseAuth: refuse == "auth", RefuseRcpt: refuse == "rcpt",
						Extra: []string{pw, h, strings.ToUpper(h), base64.RawURLEncoding.EncodeToString([]byte(pw))}})
					cfg := Config{Host: "127.0.0.1", Port: srv.Port, TLS: TLSNone, Auth: mech, Username: "ann", Password: pw,
						AllowInsecureAuth: true, Timeout: 5 * time.Second, HeloName: "client.herald.test", Pipelining: PipeliningOff}
					if withRec {
						cfg.Transcript = transcript.New()
					}
					res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
					if (refuse == "") != res.OK {
						t.Fatalf("%s: %s", name, resultText(res))
					}
					out := resultText(res)
					if withRec {
						out += transcriptText(cfg.Transcript)
					}
					if l := leaks(out, echoForms(mech, "ann", pw)); len(l) > 0 {
						t.Errorf("%s: %q leaked:\n%s", name, l, out)
					}
					if !strings.Contains(out, transcript.Redacted) {
						t.Errorf("%s: nothing redacted:\n%s", name, out)
					}
				}
			}
		}
	}
}

// An echo in a line that is not SMTP, or too long, is cut when shown: no
// part of a form may survive the cut.
func TestEchoCutInNonSMTPLines(t *testing.T) {
	for _, tail := range []string{"", strings.Repeat("z", 5000)} {
		sc := smtptest.StartScript(t, func(c *smtptest.Conn) {
			c.Greet("AUTH PLAIN")
			l, err := c.Expect("AUTH PLAIN")
			if err != nil {
				return
			}
			c.Line("xx" + strings.Repeat(".", 60) + strings.TrimPrefix(l, "AUTH PLAIN ") + tail)
			c.Read()
		})
		for _, withRec := range []bool{true, false} {
			cfg := Config{Host: "127.0.0.1", Port: sc.Port, TLS: TLSNone, Auth: AuthPlain, Username: "ann", Password: testPass,
				AllowInsecureAuth: true, Timeout: 5 * time.Second}
			if withRec {
				cfg.Transcript = transcript.New()
			}
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			out := resultText(res)
			if withRec {
				out += transcriptText(cfg.Transcript)
			}
			blob := base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + testPass))
			if res.OK || strings.Contains(out, blob[:6]) {
				t.Fatalf("tail %d, transcript %v: part of the payload survives:\n%s", len(tail), withRec, out)
			}
		}
	}
}
