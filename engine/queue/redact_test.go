package queue

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// saslForms lists every form of pw and of the SASL responses of mech for
// user.
func saslForms(mech transport.AuthMethod, user, pw string) []string {
	forms := transcript.SecretForms(pw)
	switch mech {
	case transport.AuthPlain:
		forms = append(forms, transcript.PayloadForms([]byte("\x00"+user+"\x00"+pw))...)
	case transport.AuthLogin:
		b := base64.StdEncoding.EncodeToString([]byte(user))
		forms = append(forms, b, strings.TrimRight(b, "="))
	case transport.AuthCRAMMD5:
		h := hmac.New(md5.New, []byte(pw))
		h.Write([]byte(smtptest.EchoChallenge))
		d := hex.EncodeToString(h.Sum(nil))
		forms = append(forms, d)
		forms = append(forms, transcript.PayloadForms([]byte(user+" "+d))...)
	}
	return forms
}

// The outbox never stores what a server echoed of the credentials: not in
// the recipients' messages, not in the last error, nowhere in the file.
func TestStoreNeverHoldsEchoedCredentials(t *testing.T) {
	for _, mech := range []transport.AuthMethod{transport.AuthPlain, transport.AuthLogin, transport.AuthCRAMMD5} {
		for _, pw := range []string{"Echoed-Secret-4411", "pw1"} {
			for _, refuse := range []string{"auth", "rcpt", ""} {
				// Watched (a transcript kept) with the short password, not with
				// the long one: both paths, for every mechanism and outcome.
				for _, watched := range []bool{len(pw) < 8} {
					name := fmt.Sprintf("%s/%q/refuse-%s/watched-%v", mech, pw, refuse, watched)
					h := hex.EncodeToString([]byte(pw))
					srv := smtptest.StartEcho(t, smtptest.EchoOptions{RefuseAuth: refuse == "auth", RefuseRcpt: refuse == "rcpt",
						Extra: []string{pw, h, strings.ToUpper(h)}})
					q, dir := openQueue(t, nil)
					ctx := context.Background()
					id, err := q.Enqueue(ctx, msgTo(t, "p1", "b@herald.test"))
					if err != nil {
						t.Fatal(err)
					}
					r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, p string) (Target, error) {
						return Target{Config: transport.Config{Host: "127.0.0.1", Port: srv.Port, TLS: transport.TLSNone, Auth: mech,
							Username: "ann", Password: pw, AllowInsecureAuth: true, Timeout: 5 * time.Second}}, nil
					}})
					var events <-chan Event
					if watched {
						ev, cancel := r.Subscribe(1000, true)
						defer cancel()
						events = ev
					}
					runUntilEmpty(t, r)
					it, _ := q.Get(ctx, id)
					b, _ := json.Marshal(it)
					text := string(b)
					for len(events) > 0 {
						e := <-events
						text += "\n" + e.Text
						if e.Line != nil {
							text += "\n" + e.Line.Text
						}
					}
					if (refuse == "") != (it.State == string(Sent)) || !strings.Contains(text, transcript.Redacted) {
						t.Fatalf("%s: %s", name, text)
					}
					forms := saslForms(mech, "ann", pw)
					for _, f := range forms {
						if len(f) >= transcript.MinAnywhere && strings.Contains(text, f) ||
							len(f) < transcript.MinAnywhere && strings.Contains(text, " "+f+" ") {
							t.Errorf("%s: the stored item holds %q: %s", name, f, text)
						}
					}
					files, _ := filepath.Glob(filepath.Join(dir, "*"))
					for _, fn := range files {
						raw, _ := os.ReadFile(fn)
						for _, f := range forms {
							if len(f) >= 8 && strings.Contains(string(raw), f) {
								t.Errorf("%s: %s holds %q", name, filepath.Base(fn), f)
							}
						}
					}
				}
			}
		}
	}
}
