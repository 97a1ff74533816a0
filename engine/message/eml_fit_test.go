package message

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// A Bcc header must never reach the To and Cc recipients, and its addresses
// must be delivered: they belong in the envelope (RFC 5322 3.6.3).
func TestReadEMLMovesBccToEnvelope(t *testing.T) {
	in := "From: a@example.com\r\nTo: b@example.org\r\nBcc: Hidden <hidden@example.net>,\r\n other@example.net\r\nSubject: hi\r\n\r\nBcc: this line is body text\r\n"
	p, err := ReadEML(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nBcc: this line is body text\r\n"
	if string(p.Bytes) != want {
		t.Errorf("Bytes = %q\nwant    %q", p.Bytes, want)
	}
	env := p.Envelope()
	if strings.Join(env.To, ",") != "b@example.org,hidden@example.net,other@example.net" || strings.Join(p.Bcc, ",") != "hidden@example.net,other@example.net" {
		t.Errorf("envelope %+v, Bcc %v", env, p.Bcc)
	}
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0], "Bcc") {
		t.Errorf("Changes = %q", p.Changes)
	}
	// An empty Bcc header is removed too and adds no recipient.
	p, err = ReadEML(strings.NewReader("From: a@example.com\nTo: b@example.org\nBcc:\n\nx\n"))
	if err != nil || bytes.Contains(p.Bytes, []byte("Bcc")) || len(p.Envelope().To) != 1 {
		t.Errorf("empty Bcc: %v %q %v", err, p.Bytes, p.Envelope())
	}
}

func TestResendRemovesBcc(t *testing.T) {
	orig := []byte("From: a@example.com\r\nBCC: secret@example.net\r\n  more@example.net\r\nTo: b@example.org\r\n\r\nbody\r\n")
	out, err := Resend(orig, ResendOptions{From: "r@example.net", To: []string{"x@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(out), []byte("bcc")) || bytes.Contains(out, []byte("secret@")) || bytes.Contains(out, []byte("more@")) {
		t.Errorf("Bcc survived:\n%s", out)
	}
	if !bytes.HasSuffix(out, []byte("From: a@example.com\r\nTo: b@example.org\r\n\r\nbody\r\n")) {
		t.Errorf("rest changed:\n%s", out)
	}
}

func TestReadEMLQuotedAndSmuggledAddresses(t *testing.T) {
	p, err := ReadEML(strings.NewReader("From: \"john..doe\"@example.com\nTo: \"bob@evil.example\"@example.com\n\nx\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.From != `"john..doe"@example.com` || p.To[0] != `"bob@evil.example"@example.com` {
		t.Errorf("From %q To %q", p.From, p.To)
	}
	_, err = ReadEML(strings.NewReader("From: a@example.com\nTo: \"a@b> ORCPT=rfc822;x@y\"@x.test\n\nx\n"))
	if err == nil || !strings.Contains(err.Error(), "To header") || !strings.Contains(err.Error(), "is not an address") {
		t.Errorf("smuggling To: err = %v", err)
	}
}

func maxLineLen(b []byte) int {
	n := 0
	for _, l := range bytes.Split(b, []byte("\r\n")) {
		n = max(n, len(l))
	}
	return n
}

func TestReadEMLFoldsLongHeader(t *testing.T) {
	long := strings.Repeat("word ", 300) // 1,500 characters with spaces to fold at
	in := "From: a@example.com\r\nTo: b@example.org\r\nX-Long: " + long + "\r\nSubject: s\r\n\r\nbody\r\n"
	p, err := ReadEML(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := maxLineLen(p.Bytes); n > maxLine {
		t.Fatalf("a line of %d characters left:\n%s", n, p.Bytes)
	}
	m, err := mail.ReadMessage(bytes.NewReader(p.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	// Unfolding gives the value back (net/mail trims the outer white space).
	if got := m.Header.Get("X-Long"); got != strings.TrimSpace(long) || m.Header.Get("Subject") != "s" {
		t.Errorf("X-Long after unfolding differs (len %d), Subject %q", len(got), m.Header.Get("Subject"))
	}
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0], "folded") {
		t.Errorf("Changes = %q", p.Changes)
	}
}

func TestReadEMLReencodesLongBodyLine(t *testing.T) {
	line := strings.Repeat("ä", 700) // 1,400 bytes on one line
	in := "From: a@example.com\nTo: b@example.org\nBcc: c@example.org\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nfirst\n" + line + "\n.\nlast\n"
	p, err := ReadEML(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := maxLineLen(p.Bytes); n > 78 {
		t.Fatalf("a line of %d characters left", n)
	}
	m, err := mail.ReadMessage(bytes.NewReader(p.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Content-Transfer-Encoding") != "quoted-printable" || len(m.Header["Content-Transfer-Encoding"]) != 1 || m.Header.Get("Mime-Version") != "1.0" {
		t.Errorf("headers %v", m.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil || string(body) != "first\r\n"+line+"\r\n.\r\nlast\r\n" {
		t.Errorf("decoded body differs: %v %q", err, body)
	}
	if len(p.Changes) != 2 || !strings.Contains(p.Changes[1], "line 8 had 1400 characters") {
		t.Errorf("Changes = %q", p.Changes)
	}
}

func TestReadEMLRefusesLongLinesItCannotFix(t *testing.T) {
	long := strings.Repeat("x", 1200)
	tests := []struct{ name, in, want string }{
		{"header without space", "From: a@example.com\nX-Token: " + long + "\n\nx\n", "header line 2 (X-Token) has 1209 characters without white space"},
		{"multipart", "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n" + long + "\n--b--\n", "line 6 has 1200 characters"},
		{"already base64", "From: a@example.com\nContent-Transfer-Encoding: base64\n\n" + long + "\n", "already base64 encoded"},
		{"DKIM-signed body", "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=x; b=y\nFrom: a@example.com\n\n" + long + "\n", "DKIM signature"},
		{"DKIM-signed header", "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=x; b=y\nFrom: a@example.com\nX-A: " + strings.Repeat("y ", 600) + "\n\nx\n", "DKIM signature"},
	}
	for _, tt := range tests {
		_, err := ReadEML(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
