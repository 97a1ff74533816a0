package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type part struct {
	header      map[string][]string
	contentType string
	params      map[string]string
	body        string
}

// leaves walks a MIME tree and returns its non-multipart parts, decoded.
func leaves(t *testing.T, h map[string][]string, body io.Reader) []part {
	t.Helper()
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ct, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", get("Content-Type"), err)
	}
	if strings.HasPrefix(ct, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var out []part
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			out = append(out, leaves(t, p.Header, p)...)
		}
		return out
	}
	var r io.Reader = body
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s part: %v", ct, err)
	}
	return []part{{header: h, contentType: ct, params: params, body: string(b)}}
}

func TestRenderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	pdf := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4 fake"), 0o600); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	d := Draft{
		From:    "Jörg Müller <joerg@example.com>",
		To:      []string{"Bob <bob@example.org>", "carol@example.org"},
		Cc:      []string{"\"Dave, Jr.\" <dave@example.net>"},
		Bcc:     []string{"secret@hidden.example"},
		ReplyTo: "replies@example.com",
		Subject: "Grüße aus Köln – a subject long enough that it has to be folded over more than one line",
		Text:    "Hallo Bob,\nschöne Grüße.\n",
		HTML:    "<p>Hallo <b>Bob</b></p>",
		Date:    date,
		Headers: []Header{{"X-Campaign", "spring-2025"}, {"List-Unsubscribe", "<mailto:unsub@example.com>"}, {"X-Note", "naïve"}},
		Attachments: []Attachment{
			{Path: pdf},
			{Name: "data.csv", Data: []byte("a,b\n1,2\n"), ContentType: "text/csv"},
		},
	}
	r, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCRLF(r.Bytes); err != nil {
		t.Fatalf("line endings: %v", err)
	}
	// A Bcc header line, or the address anywhere. (Not the bare letters
	// "bcc": random MIME boundaries and base64 can hold them.)
	if bytes.Contains(bytes.ToLower(r.Bytes), []byte("\nbcc:")) || bytes.HasPrefix(bytes.ToLower(r.Bytes), []byte("bcc:")) || bytes.Contains(r.Bytes, []byte("secret@hidden.example")) {
		t.Fatalf("Bcc leaked into the message:\n%s", r.Bytes)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subj != d.Subject {
		t.Errorf("Subject = %q, %v; want %q", subj, err, d.Subject)
	}
	if raw := m.Header.Get("Subject"); !strings.Contains(raw, "=?UTF-8?") {
		t.Errorf("Subject not RFC 2047 encoded: %q", raw)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Jörg Müller" || from[0].Address != "joerg@example.com" {
		t.Errorf("From = %v, %v", from, err)
	}
	to, _ := m.Header.AddressList("To")
	cc, _ := m.Header.AddressList("Cc")
	rt, _ := m.Header.AddressList("Reply-To")
	if len(to) != 2 || to[0].Name != "Bob" || to[1].Address != "carol@example.org" || len(cc) != 1 || cc[0].Name != "Dave, Jr." || len(rt) != 1 || rt[0].Address != "replies@example.com" {
		t.Errorf("To %v Cc %v Reply-To %v", to, cc, rt)
	}
	if got, _ := m.Header.Date(); !got.Equal(date) {
		t.Errorf("Date = %v, want %v", got, date)
	}
	if got := m.Header.Get("Message-Id"); got != r.MessageID || !strings.HasSuffix(got, "@example.com>") || !strings.HasPrefix(got, "<") {
		t.Errorf("Message-ID header %q, Rendered.MessageID %q: want <...@example.com>", got, r.MessageID)
	}
	if m.Header.Get("X-Campaign") != "spring-2025" || m.Header.Get("List-Unsubscribe") != "<mailto:unsub@example.com>" {
		t.Errorf("extra headers: %v", m.Header)
	}
	if note, _ := dec.DecodeHeader(m.Header.Get("X-Note")); note != "naïve" || m.Header.Get("X-Note") == "naïve" {
		t.Errorf("X-Note = %q (raw %q), want encoded naïve", note, m.Header.Get("X-Note"))
	}
	if m.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", m.Header.Get("MIME-Version"))
	}

	ps := leaves(t, m.Header, m.Body)
	if len(ps) != 4 {
		t.Fatalf("want text, html and two attachments, got %d parts", len(ps))
	}
	if ps[0].contentType != "text/plain" || ps[0].body != "Hallo Bob,\r\nschöne Grüße.\r\n" || ps[0].header["Content-Transfer-Encoding"][0] != "quoted-printable" {
		t.Errorf("text part %q %q %v", ps[0].contentType, ps[0].body, ps[0].header)
	}
	if ps[1].contentType != "text/html" || ps[1].body != d.HTML {
		t.Errorf("html part %q %q", ps[1].contentType, ps[1].body)
	}
	if !strings.Contains(string(r.Bytes), "multipart/alternative") || !strings.Contains(string(r.Bytes), "multipart/mixed") {
		t.Error("want multipart/mixed around multipart/alternative")
	}
	for i, want := range []struct{ name, ct, body string }{
		{"report.pdf", "application/pdf", "%PDF-1.4 fake"},
		{"data.csv", "text/csv", "a,b\n1,2\n"},
	} {
		p := ps[2+i]
		_, dp, err := mime.ParseMediaType(p.header["Content-Disposition"][0])
		if err != nil || dp["filename"] != want.name || p.contentType != want.ct || p.params["name"] != want.name || p.body != want.body {
			t.Errorf("attachment %d: filename %q type %q name %q body %q, want %+v", i, dp["filename"], p.contentType, p.params["name"], p.body, want)
		}
	}
	if r.Subject != d.Subject {
		t.Errorf("Rendered.Subject = %q", r.Subject)
	}
}

func TestRenderEnvelope(t *testing.T) {
	r, err := Render(Draft{
		From: "Ann <Ann@Example.COM>",
		To:   []string{"Bob <bob@example.org>", "bob@EXAMPLE.org"},
		Cc:   []string{"carol@example.org", "Bob@example.org"},
		Bcc:  []string{"carol@Example.Org", "dave@example.net"},
		Text: "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bob@example.org", "carol@example.org", "Bob@example.org", "dave@example.net"}
	if r.Envelope.From != "Ann@Example.COM" || strings.Join(r.Envelope.To, " ") != strings.Join(want, " ") {
		t.Errorf("Envelope = %+v, want From Ann@Example.COM To %v", r.Envelope, want)
	}
	if r.NeedsSMTPUTF8 {
		t.Error("ASCII addresses flagged as needing SMTPUTF8")
	}
}

func TestRenderBccOnly(t *testing.T) {
	r, err := Render(Draft{From: "a@example.com", Bcc: []string{"hidden@example.org"}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(r.Bytes, []byte("hidden@example.org")) || len(r.Envelope.To) != 1 {
		t.Errorf("envelope %v, bytes:\n%s", r.Envelope, r.Bytes)
	}
}

func TestRenderSMTPUTF8(t *testing.T) {
	r, err := Render(Draft{From: "ann@example.com", To: []string{"Jörg <jörg@bücher.example>"}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.NeedsSMTPUTF8 || r.Envelope.To[0] != "jörg@bücher.example" {
		t.Errorf("NeedsSMTPUTF8 = %v, envelope %v", r.NeedsSMTPUTF8, r.Envelope)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || to[0].Name != "Jörg" || to[0].Address != "jörg@bücher.example" {
		t.Errorf("To = %v, %v", to, err)
	}
	r, err = Render(Draft{From: "ann@example.com", To: []string{"b@example.org"}, ReplyTo: "jörg@example.com"})
	if err != nil || !r.NeedsSMTPUTF8 {
		t.Errorf("UTF-8 Reply-To: NeedsSMTPUTF8 = %v, %v", r != nil && r.NeedsSMTPUTF8, err)
	}
	// A non-ASCII author domain cannot name the Message-ID: a safe fallback is used.
	r, err = Render(Draft{From: "ann@bücher.example", To: []string{"b@example.org"}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.NeedsSMTPUTF8 || !isASCII(r.MessageID) {
		t.Errorf("NeedsSMTPUTF8 = %v, Message-ID %q", r.NeedsSMTPUTF8, r.MessageID)
	}
}

func TestRenderDotsInBody(t *testing.T) {
	text := "one\r.\r\ntwo\n.\nthree\r\n.\r\n..four\r.five\n.\n"
	r, err := Render(Draft{From: "a@example.com", To: []string{"b@example.org"}, Text: text, HTML: "<p>x</p>\r.\r<p>y</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCRLF(r.Bytes); err != nil {
		t.Fatalf("%v in:\n%q", err, r.Bytes)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	ps := leaves(t, m.Header, m.Body)
	want := "one\r\n.\r\ntwo\r\n.\r\nthree\r\n.\r\n..four\r\n.five\r\n.\r\n"
	if ps[0].body != want {
		t.Errorf("text body = %q\nwant        %q", ps[0].body, want)
	}
	if ps[1].body != "<p>x</p>\r\n.\r\n<p>y</p>" {
		t.Errorf("html body = %q", ps[1].body)
	}
}

func TestRenderMessageIDOverride(t *testing.T) {
	for _, id := range []string{"abc.123@mail.example", "<abc.123@mail.example>"} {
		r, err := Render(Draft{From: "a@example.com", To: []string{"b@example.org"}, MessageID: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.MessageID != "<abc.123@mail.example>" || !bytes.Contains(r.Bytes, []byte("Message-ID: <abc.123@mail.example>\r\n")) {
			t.Errorf("%q: MessageID %q", id, r.MessageID)
		}
	}
	for _, id := range []string{"a b@c", "<@c>", "a@", "a@b c"} {
		if _, err := Render(Draft{From: "a@example.com", To: []string{"b@example.org"}, MessageID: id}); err == nil || !strings.HasPrefix(err.Error(), "message-id: ") {
			t.Errorf("%q: err = %v", id, err)
		}
	}
}

func TestRenderGeneratesUniqueIDsAndDate(t *testing.T) {
	d := Draft{From: "a@example.com", To: []string{"b@example.org"}}
	before := time.Now().Add(-time.Second)
	r1, err1 := Render(d)
	r2, err2 := Render(d)
	if err1 != nil || err2 != nil || r1.MessageID == r2.MessageID {
		t.Fatalf("IDs %q %q, errors %v %v", r1.MessageID, r2.MessageID, err1, err2)
	}
	m, _ := mail.ReadMessage(bytes.NewReader(r1.Bytes))
	if got, err := m.Header.Date(); err != nil || got.Before(before.Truncate(time.Second)) {
		t.Errorf("Date = %v, %v", got, err)
	}
	if ua := m.Header.Get("User-Agent"); ua != "Herald" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestNormalizeBody(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"plain":              "plain",
		"a\nb":               "a\r\nb",
		"a\rb":               "a\r\nb",
		"a\r\nb":             "a\r\nb",
		"a\r\r\nb":           "a\r\n\r\nb",
		"a\n\rb":             "a\r\n\r\nb",
		"x\r.\r\ny":          "x\r\n.\r\ny",
		"x\n.\ny\n":          "x\r\n.\r\ny\r\n",
		"\r\n.\r\n\r.\r\r\n": "\r\n.\r\n\r\n.\r\n\r\n",
	} {
		if got := NormalizeBody(in); got != want {
			t.Errorf("NormalizeBody(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteEMLAndReadBack(t *testing.T) {
	r, err := Render(Draft{From: "Ann <ann@example.com>", To: []string{"bob@example.org"}, Cc: []string{"carol@example.org"}, Bcc: []string{"x@example.net"}, Subject: "Grüße"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteEML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), r.Bytes) {
		t.Fatal("WriteEML changed the bytes")
	}
	p, err := ReadEML(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "ann@example.com" || strings.Join(p.To, ",") != "bob@example.org,carol@example.org" || p.Subject != "Grüße" || p.MessageID != r.MessageID || !bytes.Equal(p.Bytes, r.Bytes) {
		t.Errorf("parsed %+v", p)
	}
	if err := WriteEML(&buf, nil); err == nil {
		t.Error("WriteEML(nil) succeeded")
	}
}
