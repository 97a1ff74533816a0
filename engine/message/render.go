package message

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Envelope is the SMTP envelope of a message: bare addr-specs only.
type Envelope struct {
	// From is the MAIL FROM address.
	From string
	// To lists the RCPT TO addresses: To, Cc and Bcc, without duplicates.
	To []string
}

// Validate checks that every address of the envelope is one addr-spec
// that can travel in MAIL FROM or RCPT TO as it is (ParseAddress's SMTP
// form: no display name, no angle brackets, no parameters smuggled after
// it), and that there is at least one recipient. An empty From is the null
// sender and allowed. Problems are *FieldError values ("from", "to[i]")
// joined.
func (e Envelope) Validate() error {
	var errs []error
	check := func(field, a string) {
		smtp, err := ParseAddress(field, a)
		switch {
		case err != nil:
			errs = append(errs, err)
		case smtp != strings.TrimSpace(a):
			errs = append(errs, fieldErr(field, "%q is not a bare address (as %s)", a, smtp))
		}
	}
	if e.From != "" {
		check("from", e.From)
	}
	if len(e.To) == 0 {
		errs = append(errs, fieldErr("to", "at least one recipient is required"))
	}
	for i, a := range e.To {
		check(fmt.Sprintf("to[%d]", i), a)
	}
	return errors.Join(errs...)
}

// Rendered is a draft turned into RFC 5322 bytes, ready to queue or send.
type Rendered struct {
	// Envelope is the SMTP envelope; it includes the Bcc recipients.
	Envelope Envelope
	// MessageID is the Message-ID header value, with angle brackets.
	MessageID string
	// Subject is the subject as the user wrote it (decoded).
	Subject string
	// Bytes is the complete message with CRLF line endings; Bcc never appears in it.
	Bytes []byte
	// NeedsSMTPUTF8 reports a non-ASCII address (envelope or Reply-To), so the server must offer SMTPUTF8.
	NeedsSMTPUTF8 bool
}

// Render validates the draft and renders it with go-mail. Text and HTML
// bodies are normalised to CRLF and quoted-printable encoded; Bcc recipients
// go into the envelope only.
func Render(d Draft) (*Rendered, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	from, fromSMTP, err := parseAddress("from", d.From)
	if err != nil {
		return nil, err
	}
	m := gomail.NewMsg(gomail.WithEncoding(gomail.EncodingQP), gomail.WithCharset(gomail.CharsetUTF8), gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(from)
	env := Envelope{From: fromSMTP}
	seen := map[string]bool{}
	addRcpt := func(smtp string) {
		k := envelopeKey(smtp)
		if !seen[k] {
			seen[k] = true
			env.To = append(env.To, smtp)
		}
	}
	for _, l := range []struct {
		name  string
		addrs []string
		set   func(...*mail.Address)
	}{{"to", d.To, m.ToMailAddress}, {"cc", d.Cc, m.CcMailAddress}, {"bcc", d.Bcc, m.BccMailAddress}} {
		var list []*mail.Address
		for i, s := range l.addrs {
			a, smtp, err := parseAddress(fmt.Sprintf("%s[%d]", l.name, i), s)
			if err != nil {
				return nil, err
			}
			list = append(list, a)
			addRcpt(smtp)
		}
		if len(list) > 0 {
			l.set(list...)
		}
	}
	utf8Header := false
	if d.ReplyTo != "" {
		a, _, err := parseAddress("reply-to", d.ReplyTo)
		if err != nil {
			return nil, err
		}
		m.ReplyToMailAddress(a)
		utf8Header = !isASCII(a.Address)
	}
	m.Subject(d.Subject)

	date := d.Date
	if date.IsZero() {
		date = time.Now()
	}
	m.SetDateWithValue(date)
	id := d.MessageID
	if id == "" {
		if id, err = newMessageID(from.Address); err != nil {
			return nil, err
		}
	} else if id, err = normalizeMessageID("message-id", id); err != nil {
		return nil, err
	}
	m.SetMessageIDWithValue(id)

	hasUA := false
	for _, h := range d.Headers {
		hasUA = hasUA || strings.EqualFold(h.Name, "User-Agent") || strings.EqualFold(h.Name, "X-Mailer")
		m.SetGenHeader(gomail.Header(h.Name), h.Value)
	}
	if !hasUA {
		m.SetGenHeader(gomail.HeaderUserAgent, "Herald")
	}

	m.SetBodyString(gomail.TypeTextPlain, NormalizeBody(d.Text))
	if d.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, NormalizeBody(d.HTML))
	}
	for i, a := range d.Attachments {
		field := fmt.Sprintf("attachment[%d]", i)
		data := a.Data
		if data == nil {
			if data, err = os.ReadFile(a.Path); err != nil {
				return nil, fieldErr(field, "%v", err)
			}
		}
		var opts []gomail.FileOption
		if a.ContentType != "" {
			opts = append(opts, gomail.WithFileContentType(gomail.ContentType(a.ContentType)))
		}
		if err := m.AttachReader(attachmentName(a), bytes.NewReader(data), opts...); err != nil {
			return nil, fmt.Errorf("%s: attaching: %w", field, err)
		}
	}

	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("rendering message: %w", err)
	}
	out := buf.Bytes()
	if err := checkCRLF(out); err != nil {
		return nil, fmt.Errorf("rendering message: %w", err)
	}
	r := &Rendered{Envelope: env, MessageID: "<" + id + ">", Subject: d.Subject, Bytes: out}
	r.NeedsSMTPUTF8 = utf8Header || !isASCII(env.From)
	for _, a := range env.To {
		r.NeedsSMTPUTF8 = r.NeedsSMTPUTF8 || !isASCII(a)
	}
	return r, nil
}

// WriteEML writes a rendered message to w as an .eml file (RFC 5322, CRLF).
func WriteEML(w io.Writer, r *Rendered) error {
	if r == nil || len(r.Bytes) == 0 {
		return errors.New("writing .eml: no rendered message")
	}
	if _, err := w.Write(r.Bytes); err != nil {
		return fmt.Errorf("writing .eml: %w", err)
	}
	return nil
}

// NormalizeBody turns every line ending (CRLF, bare CR, bare LF) into CRLF,
// so no bare CR or LF (as in "\r.\r\n" smuggling) reaches go-mail.
func NormalizeBody(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// envelopeKey is the deduplication key of an addr-spec: the local part as
// given (it may be case-sensitive), the domain in lower case.
func envelopeKey(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	return addr[:at] + "@" + strings.ToLower(addr[at+1:])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkCRLF makes sure every CR is followed by LF and every LF preceded by CR.
func checkCRLF(b []byte) error {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 >= len(b) || b[i+1] != '\n'):
			return fmt.Errorf("bare CR at byte %d", i)
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return fmt.Errorf("bare LF at byte %d", i)
		}
	}
	return nil
}

// newMessageID returns "random@domain" with the domain of the author's
// address (not the local host name, which would leak and is often bogus).
func newMessageID(from string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating Message-ID: %w", err)
	}
	local := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	domain := "localhost"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && isDotAtom(from[at+1:]) {
		domain = strings.ToLower(from[at+1:])
	}
	return local + "@" + domain, nil
}

// isDotAtom reports whether s is an ASCII RFC 5322 dot-atom-text.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			continue
		}
		if c <= 32 || c >= 127 || strings.IndexByte("()<>[]:;@\\,\"", c) >= 0 {
			return false
		}
	}
	return true
}

// normalizeMessageID checks a user-given Message-ID ("id@domain" with or
// without angle brackets) and returns it without the brackets.
func normalizeMessageID(field, s string) (string, error) {
	if err := checkHeaderText(field, s); err != nil {
		return "", err
	}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") {
		t = t[1 : len(t)-1]
	}
	at := strings.LastIndexByte(t, '@')
	if at < 0 {
		return "", fieldErr(field, "%q: missing @", s)
	}
	left, right := t[:at], t[at+1:]
	if !isDotAtom(left) {
		return "", fieldErr(field, "%q: the part before @ is not a valid id-left", s)
	}
	if !isDotAtom(right) && !(strings.HasPrefix(right, "[") && strings.HasSuffix(right, "]") && isDotAtom(right[1:len(right)-1])) {
		return "", fieldErr(field, "%q: the part after @ is not a valid id-right", s)
	}
	return t, nil
}
