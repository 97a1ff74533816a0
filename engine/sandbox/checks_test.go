package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/herald-smtp/herald/engine/store"
)

const plainMsg = "From: Ann <ann@example.com>\r\nTo: bob@example.net\r\nSubject: hi\r\nDate: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello Bob.\r\n"

// signed returns msg signed for example.com, selector s1, and the TXT
// record of its key.
func signed(t *testing.T, msg string) ([]byte, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

func byName(cs []Check, name string) []Check {
	var out []Check
	for _, c := range cs {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func keyFor(rec string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if name == "s1._domainkey.example.com" {
			return rec, true
		}
		return "", false
	}
}

func TestChecksDKIMVerifiesWithTheProfileKey(t *testing.T) {
	raw, rec := signed(t, plainMsg)
	m := &store.SandboxMessage{Raw: raw, From: "ann@example.com", Remote: "127.0.0.1:5555"}
	cs := CheckMessage(context.Background(), m, CheckOptions{DKIMKey: keyFor(rec), Offline: true})
	d := byName(cs, "dkim")
	if len(d) != 1 || d[0].Status != CheckPass || !strings.Contains(d[0].Text, "sending profile's key") {
		t.Fatalf("dkim: %+v", d)
	}
	if dm := byName(cs, "dmarc"); len(dm) != 1 || dm[0].Status != CheckPass {
		t.Fatalf("dmarc: %+v", dm)
	}
	if h := byName(cs, "headers"); len(h) != 1 || h[0].Status != CheckPass {
		t.Fatalf("headers: %+v", h)
	}
	if s := byName(cs, "spf"); s[0].Status != CheckSkipped || !strings.Contains(s[0].Text, "offline") {
		t.Fatalf("spf: %+v", s)
	}

	// A body changed after signing fails.
	broken := bytes.Replace(raw, []byte("Hello Bob."), []byte("Hello Eve."), 1)
	d = byName(CheckMessage(context.Background(), &store.SandboxMessage{Raw: broken, From: "ann@example.com"}, CheckOptions{DKIMKey: keyFor(rec), Offline: true}), "dkim")
	if len(d) != 1 || d[0].Status != CheckFail {
		t.Fatalf("broken dkim: %+v", d)
	}
	// Another key fails too.
	_, other := signed(t, plainMsg)
	d = byName(CheckMessage(context.Background(), &store.SandboxMessage{Raw: raw, From: "ann@example.com"}, CheckOptions{DKIMKey: keyFor(other), Offline: true}), "dkim")
	if d[0].Status != CheckFail {
		t.Fatalf("wrong key: %+v", d)
	}
	// Offline without a known key: skipped, and says so.
	d = byName(CheckMessage(context.Background(), &store.SandboxMessage{Raw: raw, From: "ann@example.com"}, CheckOptions{Offline: true}), "dkim")
	if d[0].Status != CheckSkipped || !strings.Contains(d[0].Text, "offline") {
		t.Fatalf("offline: %+v", d)
	}
	// Unsigned: a warning.
	d = byName(CheckMessage(context.Background(), &store.SandboxMessage{Raw: []byte(plainMsg)}, CheckOptions{Offline: true}), "dkim")
	if d[0].Status != CheckWarn || !strings.Contains(d[0].Text, "no DKIM signature") {
		t.Fatalf("unsigned: %+v", d)
	}
}

func TestHeaderProblems(t *testing.T) {
	msg := "From: a@example.com\r\nFrom: b@example.com\r\nSubject: Grüße\r\nTo: x@example.net\n" +
		"X-Long: " + strings.Repeat("x", 1000) + "\r\n\r\nbody\r\n"
	cs := HeaderProblems([]byte(msg))
	text := ""
	for _, c := range cs {
		text += string(c.Status) + ": " + c.Text + "\n"
	}
	for _, want := range []string{"no Date header", "no Message-ID header", "2 From headers", "longer than 998", "bare LF", "non-ASCII text without RFC 2047 encoding in Subject"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if cs := HeaderProblems([]byte(plainMsg)); len(cs) != 1 || cs[0].Status != CheckPass {
		t.Fatalf("clean message: %+v", cs)
	}
}

func TestCompareSentAndParts(t *testing.T) {
	captured := "Received: from x by y\r\n" + strings.Replace(plainMsg, "Subject: hi", "Subject: changed", 1)
	cs := CompareSent([]byte(plainMsg), []byte(captured))
	if len(cs) != 2 || !strings.Contains(cs[0].Text, "added on the way: Received") || !strings.Contains(cs[0].Text, "changed: Subject") || cs[1].Status != CheckPass {
		t.Fatalf("compare: %+v", cs)
	}
	cs = CompareSent([]byte(plainMsg), []byte(strings.Replace(plainMsg, "Bob.", "Bob!", 1)))
	if cs[1].Status != CheckFail {
		t.Fatalf("changed body: %+v", cs)
	}
	mixed := "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain text\r\n" +
		"--b2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi <b>there</b><script>alert(1)</script> <a href=3D\"https://x.test/\">site</a><img src=3D\"https://t.test/p.gif\"></p>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n"
	if c := partsCheck([]byte(mixed), nil); c.Status != CheckPass || !strings.Contains(c.Text, "1 attachment") {
		t.Fatalf("parts: %+v", c)
	}
}
