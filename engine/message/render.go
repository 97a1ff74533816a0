package message

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
// go into the envelope only. Attachments are read once, straight into the
// result (sized exactly beforehand), so a large file is held in memory only
// as its encoded form in Bytes. WithDKIM signs it.
func Render(d Draft, opts ...Option) (*Rendered, error) {
	p, err := Prepare(d, opts...)
	if err != nil {
		return nil, err
	}
	return p.Render()
}

// EstimateSize validates the draft and returns the size in bytes its
// rendering will have, without reading any attachment (their sizes come
// from the file system). It is exact unless a file changes before the
// message is rendered. Compare it with a server's SIZE limit before
// rendering a large message.
func EstimateSize(d Draft, opts ...Option) (int64, error) {
	p, err := Prepare(d, opts...)
	if err != nil {
		return 0, err
	}
	return p.Size(), nil
}

// Prepared is a validated draft whose headers and text are rendered and
// whose attachments are not read yet: its Size is known, and WriteTo or
// Render read each attachment once, streaming it through the base64
// encoder.
type Prepared struct {
	meta  Rendered // everything but Bytes
	skel  []byte   // the message with a marker where each attachment's body goes
	parts []preparedPart
	size  int64 // without DKIM signatures

	dkim      *DKIMSigner
	sigOnce   sync.Once // estimates the signatures' length once
	sigLen    int
	sigErr    error
	once      sync.Once // renders once for Render and Reader
	rendered  []byte
	renderErr error
}

// preparedPart is one attachment waiting to be encoded.
type preparedPart struct {
	at      int    // offset of its marker in skel
	marker  int    // length of the marker
	path    string // the file to read, or
	data    []byte // the content given in the draft
	rawSize int64
}

// Size returns the size in bytes of the rendered message. A signed
// message's DKIM-Signature fields are measured on a trial signature of the
// message without its attachments: their length depends only on the key
// and on which header fields are signed, so the size is exact.
func (p *Prepared) Size() int64 {
	if p.dkim == nil {
		return p.size
	}
	p.sigOnce.Do(func() {
		sig, err := p.dkim.signatures(headerSection(p.skel), func(w io.Writer) error {
			_, err := w.Write(p.skel)
			return err
		})
		p.sigLen, p.sigErr = len(sig), err
	})
	return p.size + int64(p.sigLen)
}

// Envelope returns the SMTP envelope; it includes the Bcc recipients.
func (p *Prepared) Envelope() Envelope { return p.meta.Envelope }

// Render reads the attachments and returns the complete message; it
// renders once, however often it (or a Reader) is called.
func (p *Prepared) Render() (*Rendered, error) {
	b, err := p.bytes()
	if err != nil {
		return nil, err
	}
	r := p.meta
	r.Envelope.To = append([]string(nil), p.meta.Envelope.To...)
	r.Bytes = b
	return &r, nil
}

// MessageID returns the Message-ID header value, with angle brackets.
func (p *Prepared) MessageID() string { return p.meta.MessageID }

// WriteTo writes the complete message to w, reading each attachment as it
// goes; nothing but a small buffer is held in memory. A signed message is
// read twice: once for its signatures, which come first, then to write it.
func (p *Prepared) WriteTo(w io.Writer) (int64, error) {
	if p.dkim == nil {
		return p.writeUnsigned(w)
	}
	sig, err := p.dkim.signatures(headerSection(p.skel), func(w io.Writer) error {
		_, err := p.writeUnsigned(w)
		return err
	})
	if err != nil {
		return 0, err
	}
	n, err := w.Write(sig)
	if err != nil {
		return int64(n), fmt.Errorf("writing message: %w", err)
	}
	m, err := p.writeUnsigned(w)
	return int64(n) + m, err
}

// writeUnsigned writes the message without DKIM signatures.
func (p *Prepared) writeUnsigned(w io.Writer) (int64, error) {
	var total int64
	last := 0
	for i, pt := range p.parts {
		n, err := w.Write(p.skel[last:pt.at])
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("writing message: %w", err)
		}
		var src io.Reader
		if pt.data != nil {
			src = bytes.NewReader(pt.data)
		} else {
			f, err := os.Open(pt.path)
			if err != nil {
				return total, fieldErr(fmt.Sprintf("attachment[%d]", i), "%v", err)
			}
			src = f
			defer f.Close()
		}
		m, err := writeBase64(w, src)
		total += m
		if err != nil {
			return total, fmt.Errorf("attachment[%d]: %w", i, err)
		}
		last = pt.at + pt.marker
	}
	n, err := w.Write(p.skel[last:])
	total += int64(n)
	if err != nil {
		return total, fmt.Errorf("writing message: %w", err)
	}
	return total, nil
}

// Reader returns the message as a reader that is rendered only when first
// read: Len and Size tell its length before, so a sender can compare it
// with a server's SIZE limit and refuse a message that is too large
// without reading a single attachment. ReadAt is supported (after
// rendering, like Read). Each call returns a new reader; they share one
// rendering.
func (p *Prepared) Reader() *LazyReader { return &LazyReader{p: p} }

// LazyReader is a Prepared message as an io.Reader and io.ReaderAt that
// renders on first use; see Prepared.Reader.
type LazyReader struct {
	p *Prepared
	r *bytes.Reader
}

// Len returns the number of bytes not yet read.
func (l *LazyReader) Len() int {
	if l.r == nil {
		return int(l.p.Size())
	}
	return l.r.Len()
}

// Size returns the length of the whole message.
func (l *LazyReader) Size() int64 {
	if l.r == nil {
		return l.p.Size()
	}
	return l.r.Size()
}

func (l *LazyReader) open() error {
	if l.r != nil {
		return nil
	}
	b, err := l.p.bytes()
	if err != nil {
		return err
	}
	l.r = bytes.NewReader(b)
	return nil
}

// Read renders the message on first use and reads from it.
func (l *LazyReader) Read(b []byte) (int, error) {
	if err := l.open(); err != nil {
		return 0, err
	}
	return l.r.Read(b)
}

// ReadAt renders the message on first use and reads from it at off.
func (l *LazyReader) ReadAt(b []byte, off int64) (int, error) {
	if err := l.open(); err != nil {
		return 0, err
	}
	return l.r.ReadAt(b, off)
}

// bytes renders the message once and keeps the result.
func (p *Prepared) bytes() ([]byte, error) {
	p.once.Do(func() {
		// One allocation of the exact size (bytes.Buffer.Grow may take
		// twice as much); a signed message leaves room in front for its
		// signatures.
		room := 0
		if p.dkim != nil {
			room = sigRoom * len(p.dkim.Keys)
		}
		buf := bytes.NewBuffer(make([]byte, room, int64(room)+p.size))
		if _, err := p.writeUnsigned(buf); err != nil {
			p.renderErr = err
			return
		}
		b := buf.Bytes()
		if p.dkim == nil {
			p.rendered = b
			return
		}
		msg := b[room:]
		sig, err := p.dkim.signatures(headerSection(msg), func(w io.Writer) error {
			_, err := w.Write(msg)
			return err
		})
		if err != nil {
			p.renderErr = err
			return
		}
		if len(sig) <= room {
			copy(b[room-len(sig):], sig)
			p.rendered = b[room-len(sig):]
			return
		}
		p.rendered = append(sig, msg...)
	})
	return p.rendered, p.renderErr
}

// b64Line is the length of a base64 line without CRLF, as go-mail writes it.
const b64Line = 76

// base64Size is the size of n bytes base64 encoded in lines of 76
// characters, each ending in CRLF.
func base64Size(n int64) int64 {
	enc := (n + 2) / 3 * 4
	return enc + 2*((enc+b64Line-1)/b64Line)
}

// lineBreaker writes what it is given in lines of b64Line characters, each
// followed by CRLF (the last one on Close).
type lineBreaker struct {
	w    io.Writer
	line [b64Line + 2]byte
	used int
	n    int64
}

func (l *lineBreaker) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		c := copy(l.line[l.used:b64Line], p)
		l.used += c
		p = p[c:]
		written += c
		if l.used == b64Line {
			if err := l.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (l *lineBreaker) flush() error {
	l.line[l.used], l.line[l.used+1] = '\r', '\n'
	n, err := l.w.Write(l.line[:l.used+2])
	l.n += int64(n)
	l.used = 0
	return err
}

func (l *lineBreaker) Close() error {
	if l.used > 0 {
		return l.flush()
	}
	return nil
}

// writeBase64 streams src to w, base64 encoded in lines of 76 characters.
func writeBase64(w io.Writer, src io.Reader) (int64, error) {
	lb := &lineBreaker{w: w}
	enc := base64.NewEncoder(base64.StdEncoding, lb)
	if _, err := io.Copy(enc, src); err != nil {
		return lb.n, fmt.Errorf("reading: %w", err)
	}
	if err := enc.Close(); err != nil {
		return lb.n, err
	}
	err := lb.Close()
	return lb.n, err
}

// sigRoom is the room kept in front of a rendered message for each DKIM
// signature (an RSA-4096 signature field is about 1,000 bytes).
const sigRoom = 1280

// Prepare validates the draft and renders everything but the content of
// its attachments, which is read only by the Prepared's WriteTo or Render.
// WithDKIM signs it when it is rendered.
func Prepare(d Draft, opts ...Option) (*Prepared, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.dkim != nil {
		if err := o.dkim.Validate(); err != nil {
			return nil, err
		}
	}
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
	m.Subject(literalText(d.Subject))

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
		m.SetGenHeader(gomail.Header(h.Name), literalText(h.Value))
	}
	if !hasUA {
		m.SetGenHeader(gomail.HeaderUserAgent, "Herald")
	}

	m.SetBodyString(gomail.TypeTextPlain, NormalizeBody(d.Text))
	if d.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, NormalizeBody(d.HTML))
	}

	// Each attachment's body is a unique random marker in the skeleton
	// go-mail renders (45 bytes: one line of base64); WriteTo streams the
	// encoded file in place of that line.
	markers := make([]string, len(d.Attachments))
	parts := make([]preparedPart, len(d.Attachments))
	for i, a := range d.Attachments {
		field := fmt.Sprintf("attachment[%d]", i)
		pt := preparedPart{data: a.Data, rawSize: int64(len(a.Data))}
		if a.Data == nil {
			st, err := os.Stat(a.Path)
			if err != nil {
				return nil, fieldErr(field, "%v", err)
			}
			pt.path, pt.rawSize = a.Path, st.Size()
		}
		parts[i] = pt
		var token [45]byte
		if _, err := rand.Read(token[:]); err != nil {
			return nil, fmt.Errorf("rendering message: %w", err)
		}
		markers[i] = base64.StdEncoding.EncodeToString(token[:]) + "\r\n"
		if err := m.AttachReader(attachmentName(a), bytes.NewReader(token[:]), attachmentHeaders(attachmentName(a), a.ContentType)); err != nil {
			return nil, fmt.Errorf("%s: attaching: %w", field, err)
		}
	}

	var skel bytes.Buffer
	if _, err := m.WriteTo(&skel); err != nil {
		return nil, fmt.Errorf("rendering message: %w", err)
	}
	out := skel.Bytes()
	if err := checkCRLF(out); err != nil {
		return nil, fmt.Errorf("rendering message: %w", err)
	}
	size := int64(len(out))
	from0 := 0
	for i := range parts {
		at := bytes.Index(out[from0:], []byte(markers[i]))
		if at < 0 {
			return nil, fmt.Errorf("rendering message: attachment[%d] is missing from the rendered message", i)
		}
		parts[i].at, parts[i].marker = from0+at, len(markers[i])
		from0 = parts[i].at + parts[i].marker
		size += base64Size(parts[i].rawSize) - int64(parts[i].marker)
	}
	p := &Prepared{meta: Rendered{Envelope: env, MessageID: "<" + id + ">", Subject: d.Subject}, skel: out, parts: parts, size: size, dkim: o.dkim}
	p.meta.NeedsSMTPUTF8 = utf8Header || !isASCII(env.From)
	for _, a := range env.To {
		p.meta.NeedsSMTPUTF8 = p.meta.NeedsSMTPUTF8 || !isASCII(a)
	}
	return p, nil
}

// literalText returns s so that a reader decodes it to s again: ASCII text
// that looks like an RFC 2047 encoded word ("=?utf-8?q?x?=") would be
// decoded by every reader, so it is encoded itself, as base64 words of at
// most 75 characters. Other text is left to go-mail, which encodes
// non-ASCII text as a whole.
func literalText(s string) string {
	if !strings.Contains(s, "=?") || !isASCII(s) {
		return s
	}
	const chunk = 45 // 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" is 72
	var words []string
	for len(s) > 0 {
		n := min(chunk, len(s))
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// attachmentHeaders sets an attachment's Content-Type, Content-Disposition
// and Content-Transfer-Encoding, so go-mail writes them as they are: the
// file name as an RFC 2231 parameter where it is not plain ASCII (RFC 2047
// encoded words are not allowed inside a quoted parameter, RFC 2047
// section 5), with every character kept, quotes included.
func attachmentHeaders(name, contentType string) gomail.FileOption {
	ct := contentType
	if ct == "" {
		ct = mime.TypeByExtension(filepath.Ext(name))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return func(f *gomail.File) {
		f.Header.Set("Content-Type", ct+";"+fileParam("name", name))
		f.Header.Set("Content-Disposition", "attachment;"+fileParam("filename", name))
		f.Header.Set("Content-Transfer-Encoding", "base64")
	}
}

// isContinuation reports whether v starts with a percent-encoded UTF-8
// continuation byte (%80 to %BF).
func isContinuation(v string) bool {
	return len(v) >= 3 && v[0] == '%' && strings.IndexByte("89AB", v[1]) >= 0
}

// paramChunk is the longest encoded piece of a parameter on one line.
const paramChunk = 60

// fileParam returns " attr=value" for a MIME parameter, each piece folded
// onto its own line: a quoted string when value is short printable ASCII
// without quote or backslash, else RFC 2231 UTF-8 percent-encoding, split
// into continuations (attr*0*=, attr*1*=, ...) when long.
func fileParam(attr, value string) string {
	plain := len(value) <= paramChunk
	for i := 0; i < len(value) && plain; i++ {
		c := value[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
	}
	if plain {
		return "\r\n " + attr + `="` + value + `"`
	}
	var enc strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	v := enc.String()
	if len(v)+len("UTF-8''") <= paramChunk {
		return "\r\n " + attr + "*=UTF-8''" + v
	}
	var b strings.Builder
	for n := 0; v != ""; n++ {
		prefix := ""
		if n == 0 {
			prefix = "UTF-8''"
		}
		cut := min(paramChunk-len(prefix), len(v))
		// Never split a %XX triplet, nor a UTF-8 character: some readers
		// decode each piece on its own.
		if i := strings.LastIndexByte(v[:cut], '%'); i >= 0 && i > cut-3 {
			cut = i
		}
		for cut < len(v) && cut >= 3 && isContinuation(v[cut:]) {
			cut -= 3
		}
		fmt.Fprintf(&b, ";\r\n %s*%d*=%s%s", attr, n, prefix, v[:cut])
		v = v[cut:]
	}
	return strings.TrimPrefix(b.String(), ";")
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
