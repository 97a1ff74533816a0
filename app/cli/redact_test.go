package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// startEchoServer runs a plain SMTP server that offers PLAIN, LOGIN and
// CRAM-MD5, accepts any credentials and repeats every SASL response it got
// (as sent, without padding, decoded) plus extra in each later reply.
func startEchoServer(t *testing.T, extra ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				line := func(s string) { c.Write([]byte(s + "\r\n")) }
				read := func() string { l, _ := r.ReadString('\n'); return strings.TrimRight(l, "\r\n") }
				var got []string
				echo := func() string {
					parts := append([]string{}, extra...)
					for _, g := range got {
						parts = append(parts, g, strings.TrimRight(g, "="))
						if d, err := base64.StdEncoding.DecodeString(g); err == nil {
							parts = append(parts, string(d))
						}
					}
					return strings.Join(parts, " ")
				}
				line("220 echo ESMTP")
				for {
					l := read()
					verb, arg, _ := strings.Cut(l, " ")
					switch strings.ToUpper(verb) {
					case "EHLO":
						line("250-echo")
						line("250 AUTH PLAIN LOGIN CRAM-MD5")
					case "AUTH":
						mech, initial, _ := strings.Cut(arg, " ")
						if initial != "" {
							got = append(got, initial)
						}
						switch mech {
						case "LOGIN":
							line("334 VXNlcm5hbWU6")
							got = append(got, read())
							line("334 UGFzc3dvcmQ6")
							got = append(got, read())
						case "CRAM-MD5":
							line("334 " + base64.StdEncoding.EncodeToString([]byte("<1.2@echo>")))
							got = append(got, read())
						}
						line("235 2.7.0 ok " + echo())
					case "MAIL":
						line("250 2.1.0 ok " + echo())
					case "RCPT":
						if strings.Contains(arg, "gone") {
							line("550 5.1.1 gone " + echo())
						} else {
							line("250 2.1.5 ok " + echo())
						}
					case "DATA":
						line("354 go")
						for read() != "." {
						}
						line("250 2.0.0 queued as " + echo())
					case "QUIT", "":
						line("221 bye")
						return
					default:
						line("250 ok")
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// `herald send`, in text and JSON, shows no form of the password or of any
// SASL payload that an echoing server repeats, whatever the mechanism and
// the password's length.
func TestSendOutputNeverShowsEchoedCredentials(t *testing.T) {
	for _, pw := range []string{"Correct-Horse-9", "pw"} {
		h := hex.EncodeToString([]byte(pw))
		addr := startEchoServer(t, pw, h, strings.ToUpper(h))
		forms := transcript.SecretForms(pw)
		forms = append(forms, transcript.PayloadForms([]byte("\x00ann\x00"+pw))...)
		for _, mech := range []string{"plain", "login", "cram-md5"} {
			for _, out := range [][]string{{"--json"}, nil, {"--quiet"}} {
				args := append([]string{"send", "--server", addr, "--tls", "none", "--user", "ann", "--password-env", "PW", "--allow-insecure-auth",
					"--auth", mech, "--from", "ann@herald.test", "--to", "bob@herald.test,gone@herald.test", "--subject", "s", "--body", "b"}, out...)
				r := runCLI(t, "", map[string]string{"PW": pw}, args...)
				if r.code == ExitUsage || !strings.Contains(r.stdout+r.stderr, "queued as") {
					t.Fatalf("%s %v: exit %d\n%s\n%s", mech, out, r.code, r.stdout, r.stderr)
				}
				all := r.stdout + "\n" + r.stderr
				// JSON escapes NUL and other bytes: compare the decoded texts too.
				var js map[string]any
				if json.Unmarshal([]byte(r.stdout), &js) == nil {
					b, _ := json.Marshal(js["queued_as"])
					all += "\n" + string(b) + "\n" + js["queued_as"].(string)
					for _, rc := range js["recipients"].([]any) {
						all += "\n" + rc.(map[string]any)["message"].(string)
					}
				}
				for _, f := range forms {
					if len(f) >= transcript.MinAnywhere && strings.Contains(all, f) || strings.Contains(all, " "+f+" ") || strings.Contains(all, " "+f+"\n") {
						t.Errorf("%s %q %v: %q leaked:\n%s", mech, pw, out, f, all)
					}
				}
			}
		}
	}
}

// The text and JSON forms of a result redact the same way, whatever the
// transport left in it.
func TestJSONAndTextRedactAlike(t *testing.T) {
	const pw = "s3cret-Pass"
	rec := transcript.New()
	rec.AddSecret(pw)
	blob := base64.StdEncoding.EncodeToString([]byte("\x00ann\x00" + pw))
	rec.Secrets().AddPayload([]byte("\x00ann\x00" + pw))
	res := &transport.Result{OK: true, Stage: transport.StageDone, QueuedAs: "queued as " + blob + " " + pw,
		Recipients: []transport.RecipientResult{{Addr: "a@b.test", Accepted: true, Message: "ok " + blob}, {Addr: "c@d.test", Message: "no " + pw}}}
	failed := &transport.Result{Stage: transport.StageData, Class: transport.ClassPermanent, Err: errors.New("refused " + blob)}
	for _, r := range []*transport.Result{res, failed} {
		b, _ := json.Marshal(jsonResult(r, rec, "<id@x>", wordCtx{}))
		var text bytes.Buffer
		printResult(&text, r, "<id@x>", rec, wordCtx{})
		for _, out := range []string{string(b), text.String()} {
			if strings.Contains(out, pw) || strings.Contains(out, blob) || !strings.Contains(out, transcript.Redacted) {
				t.Errorf("not redacted: %s", out)
			}
		}
	}
}

// --quit-after tls without TLS stops before AUTH: no credentials leave.
func TestQuitAfterTLSWithoutTLSSendsNoCredentials(t *testing.T) {
	addr := startEchoServer(t)
	r := runCLI(t, "", map[string]string{"PW": "Correct-Horse-9"}, "send", "--server", addr, "--tls", "none", "--user", "ann",
		"--password-env", "PW", "--allow-insecure-auth", "--auth", "plain", "--quit-after", "tls")
	if r.code != ExitOK || !strings.Contains(r.stdout, "stopped cleanly after tls") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "C  AUTH") || !strings.Contains(r.stderr, "C  QUIT") {
		t.Fatalf("AUTH sent, or no QUIT:\n%s", r.stderr)
	}
}
