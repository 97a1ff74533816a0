package message

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// envelopeSafe reports whether an SMTP-form address can go between the
// angle brackets of MAIL FROM or RCPT TO without ending the address early or
// adding anything after it: no CR, LF, NUL, angle brackets, and white space
// only inside a leading quoted local part.
func envelopeSafe(a string) bool {
	if strings.ContainsAny(a, "\r\n\x00<>\t") || strings.ContainsFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	rest := a
	if strings.HasPrefix(a, `"`) {
		for i := 1; i < len(a); i++ {
			if a[i] == '\\' {
				i++
				continue
			}
			if a[i] == '"' {
				rest = a[i+1:]
				break
			}
		}
		if rest == a {
			return false
		}
	}
	return !strings.ContainsAny(rest, " ") && strings.HasPrefix(rest[strings.LastIndexByte(rest, '@'):], "@")
}

// FuzzParseAddress: whatever the input, an accepted address is safe on an
// SMTP command line, stable (parsing it again gives it back) and names the
// same mailbox net/mail reads from the input.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"ann@example.com", "Ann <ann@example.com>", `"bob@evil.example"@example.com`, `"john..doe"@example.com`,
		`"a@b> ORCPT=rfc822;x"@x`, "<a@b> SIZE=1", `"a\"b\\c"@example.com`, "jörg@bücher.example", "ann@[192.0.2.1]",
		"=?utf-8?q?J=C3=B6rg?= <j@example.com>", "a@b\r\nRCPT TO:<evil@x>", `"john doe"@example.com`, "(comment) a@b.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		smtp, err := ParseAddress("to[0]", s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "to[0]" || fe.Msg == "" {
				t.Fatalf("ParseAddress(%q): error %v is not a *FieldError for to[0]", s, err)
			}
			return
		}
		if !envelopeSafe(smtp) {
			t.Fatalf("ParseAddress(%q) = %q: not safe in an SMTP command", s, smtp)
		}
		if !utf8.ValidString(smtp) {
			t.Fatalf("ParseAddress(%q) = %q: invalid UTF-8", s, smtp)
		}
		again, err := ParseAddress("to[0]", smtp)
		if err != nil || again != smtp {
			t.Fatalf("ParseAddress(%q) = %q, but parsing that gives %q, %v", s, smtp, again, err)
		}
		a, err := mail.ParseAddress(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("ParseAddress accepted %q, net/mail does not: %v", s, err)
		}
		b, err := mail.ParseAddress(smtp)
		if err != nil || b.Address != a.Address {
			t.Fatalf("ParseAddress(%q) = %q names %q, the input names %q (%v)", s, smtp, b.Address, a.Address, err)
		}
		if err := (Envelope{From: smtp, To: []string{smtp}}).Validate(); err != nil {
			t.Fatalf("Envelope.Validate refuses ParseAddress's %q: %v", smtp, err)
		}
	})
}

// FuzzHeaderValidation: a header that Validate accepts renders as exactly
// one header field with the same (decoded) value: no injected field, no
// line over 998 characters.
func FuzzHeaderValidation(f *testing.F) {
	f.Add("X-Campaign", "spring-2025", "Hello")
	f.Add("X-Note", "naïve\r\nBcc: evil@x.test", "a\nb")
	f.Add("List-Unsubscribe", "<mailto:u@example.com>", strings.Repeat("word ", 300))
	f.Add("X-Long", strings.Repeat("ü", 600), "=?utf-8?q?not_decoded?=")
	f.Add("Bcc", "x@y.test", "subject")
	f.Add("X-A:", "v", "\x00")
	f.Fuzz(func(t *testing.T, name, value, subject string) {
		d := Draft{From: "a@example.com", To: []string{"b@example.org"}, Subject: subject, Headers: []Header{{name, value}}, Text: "x",
			Date: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), MessageID: "fixed@example.com"}
		if err := d.Validate(); err != nil {
			return
		}
		r, err := Render(d)
		if err != nil {
			t.Fatalf("Validate accepted, Render refused: %v", err)
		}
		checkRendered(t, r.Bytes)
		m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
		if err != nil {
			t.Fatalf("rendered message does not parse: %v", err)
		}
		dec := new(mime.WordDecoder)
		got := m.Header[textprotoKey(name)]
		if len(got) != 1 {
			t.Fatalf("header %q appears %d times", name, len(got))
		}
		if v, err := dec.DecodeHeader(got[0]); err != nil || collapse(v) != collapse(value) {
			t.Fatalf("header %q = %q (decoded %q, %v), want %q", name, got[0], v, err, value)
		}
		if v, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || collapse(v) != collapse(subject) {
			t.Fatalf("Subject = %q (decoded %q, %v), want %q", m.Header.Get("Subject"), v, err, subject)
		}
		if len(m.Header["Bcc"]) != 0 || len(m.Header["To"]) != 1 || len(m.Header["From"]) != 1 {
			t.Fatalf("address headers changed: %v", m.Header)
		}
	})
}

// collapse folds runs of white space, which header folding may change.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func textprotoKey(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// checkRendered asserts what every rendered message must be: CRLF only,
// no line over 998 characters, no NUL.
func checkRendered(t *testing.T, b []byte) {
	t.Helper()
	if err := checkCRLF(b); err != nil {
		t.Fatalf("line endings: %v", err)
	}
	if n := maxLineLen(b); n > maxLine {
		t.Fatalf("a line of %d characters", n)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		t.Fatal("NUL byte in the message")
	}
}

// FuzzRender renders a draft from fuzzed fields, parses what was rendered
// with net/mail and compares the envelope and headers with the draft.
func FuzzRender(f *testing.F) {
	f.Add("Ann <ann@example.com>", "Bob <bob@example.org>", "carol@example.org", "dave@example.net", "Grüße", "Hallo\r\n.\r\nBob", "café \"x\".pdf", []byte("%PDF"))
	f.Add(`"john..doe"@example.com`, `"bob@evil.example"@example.com`, `Joe <"j d"@example.org>`, "", "", "", "", []byte(nil))
	f.Add("a@example.com", "b@example.org", "b@EXAMPLE.org", "B@example.org", strings.Repeat("long ", 250), "\r.\r\n", strings.Repeat("名", 100), []byte{0, 255})
	f.Add("a@example.com", "<a@b> SIZE=1", "", "", "s", "t", "n", []byte("d"))
	f.Fuzz(func(t *testing.T, from, to, cc, bcc, subject, text, attName string, attData []byte) {
		d := Draft{From: from, Subject: subject, Text: text, Date: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
		for _, l := range []struct {
			s   string
			dst *[]string
		}{{to, &d.To}, {cc, &d.Cc}, {bcc, &d.Bcc}} {
			if l.s != "" {
				*l.dst = []string{l.s}
			}
		}
		if attName != "" {
			if attData == nil {
				attData = []byte{}
			}
			d.Attachments = []Attachment{{Name: attName, Data: attData}}
		}
		p, err := Prepare(d)
		if err != nil {
			if d.Validate() == nil {
				t.Fatalf("Validate accepted, Prepare refused: %v", err)
			}
			return
		}
		r, err := p.Render()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(r.Bytes)) != p.Size() {
			t.Fatalf("Size %d, rendered %d", p.Size(), len(r.Bytes))
		}
		checkRendered(t, r.Bytes)
		// The envelope: From and every recipient in SMTP form, deduplicated.
		fromSMTP, _ := ParseAddress("from", from)
		if r.Envelope.From != fromSMTP || !envelopeSafe(r.Envelope.From) {
			t.Fatalf("envelope From %q, want %q", r.Envelope.From, fromSMTP)
		}
		seen := map[string]bool{}
		var want []string
		for _, s := range []string{to, cc, bcc} {
			if s == "" {
				continue
			}
			a, _ := ParseAddress("to", s)
			if !seen[envelopeKey(a)] {
				seen[envelopeKey(a)] = true
				want = append(want, a)
			}
		}
		if strings.Join(r.Envelope.To, "\n") != strings.Join(want, "\n") {
			t.Fatalf("envelope To %q, want %q", r.Envelope.To, want)
		}
		// The headers, read back by net/mail.
		m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
		if err != nil {
			t.Fatalf("rendered message does not parse: %v", err)
		}
		for h, s := range map[string]string{"From": from, "To": to, "Cc": cc} {
			if s == "" {
				if len(m.Header[h]) != 0 {
					t.Fatalf("%s header without a %s address", h, h)
				}
				continue
			}
			list, err := m.Header.AddressList(h)
			in, _ := mail.ParseAddress(strings.TrimSpace(s))
			if err != nil || len(list) != 1 || list[0].Address != in.Address {
				t.Fatalf("%s header %q reads as %v (%v), want %q", h, m.Header.Get(h), list, err, in.Address)
			}
		}
		if len(m.Header["Bcc"]) != 0 {
			t.Fatal("a Bcc header is in the message")
		}
		dec := new(mime.WordDecoder)
		if v, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || collapse(v) != collapse(subject) {
			t.Fatalf("Subject %q decodes to %q (%v), want %q", m.Header.Get("Subject"), v, err, subject)
		}
		ps := leaves(t, m.Header, m.Body)
		if ps[0].body != NormalizeBody(text) {
			t.Fatalf("text %q, want %q", ps[0].body, NormalizeBody(text))
		}
		if attName != "" {
			if len(ps) != 2 {
				t.Fatalf("%d parts", len(ps))
			}
			_, dp, err := mime.ParseMediaType(ps[1].header["Content-Disposition"][0])
			if err != nil || dp["filename"] != attName || ps[1].params["name"] != attName || ps[1].body != string(attData) {
				t.Fatalf("attachment: filename %q name %q (%v), want %q; body equal %v", dp["filename"], ps[1].params["name"], err, attName, ps[1].body == string(attData))
			}
		}
	})
}
