package message

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

const lfMessage = "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\n" +
	"To: Bob <bob@example.org>, carol@example.org\n" +
	"Cc: bob@EXAMPLE.ORG, dave@example.net\n" +
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus\n" +
	" Köln\n" +
	"Message-ID: <x1@example.com>\n" +
	"\n" +
	"line one\n" +
	".\n" +
	"bare\rcr\n"

func TestReadEMLWithLFLineEndings(t *testing.T) {
	p, err := ReadEML(strings.NewReader(lfMessage))
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "joerg@example.com" {
		t.Errorf("From = %q", p.From)
	}
	if got := strings.Join(p.To, ","); got != "bob@example.org,carol@example.org,dave@example.net" {
		t.Errorf("To = %q", got)
	}
	if p.Subject != "Grüße aus Köln" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if p.MessageID != "<x1@example.com>" {
		t.Errorf("MessageID = %q", p.MessageID)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(lfMessage, "\r", "\n"), "\n", "\r\n")
	if string(p.Bytes) != want {
		t.Errorf("Bytes = %q\nwant    %q", p.Bytes, want)
	}
	env := p.Envelope()
	if env.From != "joerg@example.com" || len(env.To) != 3 {
		t.Errorf("Envelope = %+v", env)
	}
	env.To[0] = "changed"
	if p.To[0] == "changed" {
		t.Error("Envelope shares its slice with Parsed")
	}
}

func TestReadEMLWithoutAddresses(t *testing.T) {
	p, err := ReadEML(strings.NewReader("Subject: only a subject\r\n\r\nbody"))
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "" || len(p.To) != 0 || p.Subject != "only a subject" {
		t.Errorf("parsed %+v", p)
	}
}

func TestReadEMLRejects(t *testing.T) {
	garbage := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"only whitespace", " \r\n\n", "empty"},
		{"binary", string(garbage), "binary data"},
		{"control chars in headers", "Subject: a\x01\x02\x03\r\n\r\nx", "binary data"},
		{"plain text", "Dear Bob,\nthis is not a message.\n", "no valid header section"},
		{"starts with blank line", "\nSubject: x\n", "no header section"},
		{"bad From", "From: not an address\n\nx", "From header"},
		{"bad To", "From: a@example.com\nTo: <unclosed\n\nx", "To header"},
	}
	for _, tt := range tests {
		_, err := ReadEML(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadEMLReadError(t *testing.T) {
	if _, err := ReadEML(failingReader{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
}

func TestResend(t *testing.T) {
	orig := []byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n.\r\n")
	date := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out, err := Resend(orig, ResendOptions{
		From: "Resender <r@example.net>",
		To:   []string{"x@example.com", "Yvonne Very-Long-Name-To-Force-Folding <yvonne.with.a.long.address@subdomain.example.com>", "z@example.com"},
		Date: date,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, orig) {
		t.Fatalf("original not kept byte for byte:\n%q", out)
	}
	block := string(out[:len(out)-len(orig)])
	if err := checkCRLF([]byte(block)); err != nil {
		t.Fatalf("block line endings: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(block, "\r\n"), "\r\n")
	if lines[0] != "Resent-Date: Thu, 02 Jan 2025 03:04:05 +0000" || lines[1] != "Resent-From: \"Resender\" <r@example.net>" || !strings.HasPrefix(lines[2], "Resent-To: <x@example.com>,") {
		t.Errorf("block:\n%s", block)
	}
	if !strings.Contains(block, ">,\r\n <yvonne") && !strings.Contains(block, ">,\r\n \"Yvonne") {
		t.Errorf("long Resent-To not folded:\n%s", block)
	}
	if !strings.HasPrefix(lines[len(lines)-1], "Resent-Message-ID: <") || !strings.HasSuffix(lines[len(lines)-1], "@example.net>") {
		t.Errorf("Resent-Message-ID line %q", lines[len(lines)-1])
	}
	// The result still parses, with the resent block as ordinary headers on top.
	p, err := ReadEML(bytes.NewReader(out))
	if err != nil || p.From != "a@example.com" {
		t.Fatalf("parsed %+v, %v", p, err)
	}
}

func TestResendKeepsLFOriginalConsistent(t *testing.T) {
	orig := []byte("From: a@example.com\nSubject: hi\n\nbody\n")
	out, err := Resend(orig, ResendOptions{From: "r@example.net", To: []string{"x@example.com"}, MessageID: "<fixed@example.net>"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("\r")) || !bytes.HasSuffix(out, orig) || !bytes.Contains(out, []byte("Resent-Message-ID: <fixed@example.net>\n")) {
		t.Errorf("out = %q", out)
	}
}

func TestResendValidates(t *testing.T) {
	msg := []byte("Subject: x\r\n\r\nbody")
	tests := []struct {
		o    ResendOptions
		raw  []byte
		want string
	}{
		{ResendOptions{To: []string{"x@example.com"}}, msg, "resent-from: required"},
		{ResendOptions{From: "r@example.net"}, msg, "resent-to: at least one recipient"},
		{ResendOptions{From: "r@example.net", To: []string{"ok@example.com", "bad"}}, msg, `resent-to[1]: "bad" is not an address: missing @`},
		{ResendOptions{From: "r@example.net\r\nBcc: v@x.test", To: []string{"x@example.com"}}, msg, "resent-from: contains a line break"},
		{ResendOptions{From: "r@example.net", To: []string{"x@example.com\nX: y"}}, msg, "resent-to[0]: contains a line break"},
		{ResendOptions{From: "r@example.net", To: []string{"x@example.com"}, MessageID: "nope"}, msg, "resent-message-id:"},
		{ResendOptions{From: "r@example.net", To: []string{"x@example.com"}}, nil, "empty"},
	}
	for _, tt := range tests {
		out, err := Resend(tt.raw, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q (out %q)", tt.o, err, tt.want, out)
		}
	}
}
