package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Parsed is a prepared message read from an .eml file.
type Parsed struct {
	// From is the SMTP form of the first From address, or empty if there is no From header.
	From string
	// To lists the SMTP forms of the To and Cc addresses, without duplicates.
	To []string
	// Bcc lists the SMTP forms of the Bcc addresses; the Bcc header itself is
	// removed from Bytes (RFC 5322 3.6.3), so only the envelope carries them.
	Bcc []string
	// Subject is the decoded Subject header.
	Subject string
	// MessageID is the Message-ID header value as written (with angle brackets), or empty.
	MessageID string
	// Bytes is the message as it will be sent: every line ending CRLF, the
	// Bcc header removed, and lines over 998 characters folded (headers) or
	// re-encoded (a single-part body); see ReadEML.
	Bytes []byte
	// Changes says in words what ReadEML changed in Bytes besides line
	// endings, e.g. "removed the Bcc header", for the user to see.
	Changes []string
}

// maxEMLSize bounds what ReadEML reads into memory.
const maxEMLSize = 64 << 20

// ReadEML reads an RFC 5322 message (an .eml file), normalises its line
// endings to CRLF and extracts the addresses, subject and Message-ID. An
// empty file, binary data or text without a header section is an error.
//
// What SMTP cannot carry as it is gets fixed or refused, never sent broken:
// the Bcc header is removed (its addresses stay in Bcc, for the envelope); a
// header line over 998 characters is folded at white space; a body line
// over 998 characters in a single-part message that is not yet
// transfer-encoded is re-encoded as quoted-printable (the content the
// recipient sees is unchanged). Anything else (a header line without white
// space to fold at, a long line inside a multipart or already-encoded body,
// any change to a DKIM-signed message) is an error that says which line.
func ReadEML(r io.Reader) (*Parsed, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxEMLSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading .eml: %w", err)
	}
	if len(raw) > maxEMLSize {
		return nil, fmt.Errorf("reading .eml: larger than %d MiB", maxEMLSize>>20)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("reading .eml: the file is empty")
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return nil, fmt.Errorf("reading .eml: binary data (NUL byte at offset %d), not a mail message", i)
	}
	norm := []byte(NormalizeBody(string(raw)))
	hdrEnd := bytes.Index(norm, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		hdrEnd = len(norm)
	}
	for i, c := range norm[:hdrEnd] {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return nil, fmt.Errorf("reading .eml: binary data in the header section (byte 0x%02x at offset %d), not a mail message", c, i)
		}
	}
	if bytes.HasPrefix(norm, []byte("\r\n")) {
		return nil, errors.New("reading .eml: no header section (the file starts with a blank line)")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(norm))
	if err != nil {
		return nil, fmt.Errorf("reading .eml: no valid header section: %w", err)
	}
	if len(msg.Header) == 0 {
		return nil, errors.New("reading .eml: no header section")
	}
	p := &Parsed{Bytes: norm, MessageID: strings.TrimSpace(msg.Header.Get("Message-Id"))}
	dec := new(mime.WordDecoder)
	subj := msg.Header.Get("Subject")
	if p.Subject, err = dec.DecodeHeader(subj); err != nil {
		p.Subject = subj
	}
	if msg.Header.Get("From") != "" {
		list, err := headerAddresses(msg.Header, "From")
		if err != nil {
			return nil, err
		}
		if len(list) > 0 {
			p.From = list[0]
		}
	}
	seen := map[string]bool{}
	for _, h := range []string{"To", "Cc", "Bcc"} {
		list, err := headerAddresses(msg.Header, h)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if k := envelopeKey(a); !seen[k] {
				seen[k] = true
				if h == "Bcc" {
					p.Bcc = append(p.Bcc, a)
				} else {
					p.To = append(p.To, a)
				}
			}
		}
	}
	if err := p.fitForSMTP(msg.Header); err != nil {
		return nil, err
	}
	return p, nil
}

// headerAddresses returns the SMTP forms of the addresses in header h,
// none when it is absent or empty (an empty Bcc is common).
func headerAddresses(hdr mail.Header, h string) ([]string, error) {
	if strings.TrimSpace(strings.Join(hdr[h], "")) == "" {
		return nil, nil
	}
	list, err := hdr.AddressList(h)
	if errors.Is(err, mail.ErrHeaderNotPresent) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .eml: %s header: %w", h, err)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		shown := a.Address
		if at := strings.LastIndexByte(shown, '@'); at > 0 {
			shown = smtpLocal(shown[:at]) + shown[at:]
		}
		smtp, err := smtpForm(strings.ToLower(h), shown, a)
		if err != nil {
			return nil, fmt.Errorf("reading .eml: %s header: %s", h, err.(*FieldError).Msg)
		}
		out = append(out, smtp)
	}
	return out, nil
}

// fitForSMTP removes the Bcc header and folds or re-encodes lines longer
// than SMTP allows, recording each change.
func (p *Parsed) fitForSMTP(hdr mail.Header) error {
	orig := p.Bytes
	if _, ok := hdr["Bcc"]; ok {
		p.Bytes = stripHeader(p.Bytes, "Bcc")
		p.Changes = append(p.Changes, "removed the Bcc header, which the other recipients must not see")
	}
	hdrEnd := bytes.Index(p.Bytes, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		hdrEnd = len(p.Bytes)
	} else {
		hdrEnd += 4 // the blank line belongs to the head
	}
	head, body := p.Bytes[:hdrEnd], p.Bytes[hdrEnd:]
	signed := len(hdr["Dkim-Signature"]) > 0
	if long := longLine(head); long >= 0 {
		if signed {
			return fmt.Errorf("reading .eml: header line %d has more than %d characters, and folding it would break the message's DKIM signature: sign it again after folding", lineNumber(head, long), maxLine)
		}
		folded, err := foldHeaderLines(head)
		if err != nil {
			return err
		}
		head = folded
		p.Changes = append(p.Changes, fmt.Sprintf("folded header lines longer than %d characters", maxLine))
	}
	if long := longLine(body); long >= 0 {
		n := lineNumber(orig, len(orig)-len(body)+long)
		width := bytes.Index(body[long:], []byte("\r\n"))
		if width < 0 {
			width = len(body) - long
		}
		why := ""
		mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
		cte := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding")))
		switch {
		case signed:
			why = "re-encoding it would break the message's DKIM signature"
		case strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/"):
			why = "it is inside a " + mt + " message, whose parts Herald does not re-encode"
		case cte != "" && cte != "7bit" && cte != "8bit" && cte != "binary":
			why = "the body is already " + cte + " encoded, so the line is malformed"
		}
		if why != "" {
			return fmt.Errorf("reading .eml: line %d has %d characters, more than the %d SMTP allows, and %s: encode the body as quoted-printable or base64 before sending", n, width, maxLine, why)
		}
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		if _, err := w.Write(body); err != nil {
			return fmt.Errorf("reading .eml: re-encoding the body: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("reading .eml: re-encoding the body: %w", err)
		}
		head = stripHeader(head, "Content-Transfer-Encoding")
		extra := "Content-Transfer-Encoding: quoted-printable\r\n"
		if len(hdr["Mime-Version"]) == 0 {
			extra = "MIME-Version: 1.0\r\n" + extra
		}
		head = append(head[:len(head)-2:len(head)-2], []byte(extra+"\r\n")...)
		body = qp.Bytes()
		p.Changes = append(p.Changes, fmt.Sprintf("re-encoded the body as quoted-printable: line %d had %d characters (max %d)", n, width, maxLine))
	}
	if len(p.Changes) > 0 {
		p.Bytes = append(append(make([]byte, 0, len(head)+len(body)), head...), body...)
	}
	return nil
}

// longLine returns the offset of the first line of b (CRLF-separated)
// longer than maxLine, or -1.
func longLine(b []byte) int {
	for off := 0; off < len(b); {
		i := bytes.Index(b[off:], []byte("\r\n"))
		if i < 0 {
			i = len(b) - off
		}
		if i > maxLine {
			return off
		}
		off += i + 2
	}
	return -1
}

// lineNumber returns the 1-based line of offset off in b.
func lineNumber(b []byte, off int) int {
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// foldHeaderLines folds every header line longer than maxLine at the last
// white space that keeps it within the limit (RFC 5322 2.2.3: folding
// inserts CRLF before white space, and unfolding restores the value).
func foldHeaderLines(head []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(head) + 64)
	lines := strings.SplitAfter(string(head), "\r\n")
	for n, l := range lines {
		line := strings.TrimSuffix(l, "\r\n")
		orig := line
		for len(line) > maxLine {
			cut := strings.LastIndexAny(line[:maxLine+1], " \t")
			for cut > 0 && strings.TrimLeft(line[:cut], " \t") == "" {
				cut = -1 // only white space before it: no fold point
			}
			if cut <= 0 {
				name, _, _ := strings.Cut(orig, ":")
				if len(name) > 40 {
					name = name[:40] + "..."
				}
				return nil, fmt.Errorf("reading .eml: header line %d (%s) has %d characters without white space to fold it at (max %d): shorten it", n+1, name, len(orig), maxLine)
			}
			out.WriteString(line[:cut] + "\r\n")
			line = line[cut:]
		}
		out.WriteString(line)
		if strings.HasSuffix(l, "\r\n") {
			out.WriteString("\r\n")
		}
	}
	return out.Bytes(), nil
}

// stripHeader removes every field named name (any case), with its folded
// continuation lines, from the header section of msg (CRLF or LF lines).
// The body is left untouched.
func stripHeader(msg []byte, name string) []byte {
	out := make([]byte, 0, len(msg))
	skipping := false
	for off := 0; off < len(msg); {
		end := bytes.IndexByte(msg[off:], '\n')
		if end < 0 {
			end = len(msg)
		} else {
			end += off + 1
		}
		line := msg[off:end]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			// The blank line ends the header section.
			return append(out, msg[off:]...)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skipping {
				out = append(out, line...)
			}
		} else {
			field, _, _ := bytes.Cut(line, []byte(":"))
			skipping = strings.EqualFold(strings.TrimRight(string(field), " \t"), name)
			if !skipping {
				out = append(out, line...)
			}
		}
		off = end
	}
	return out
}

// Envelope returns the envelope the message's own headers imply: From, and
// To, Cc and Bcc as recipients.
func (p *Parsed) Envelope() Envelope {
	to := append([]string(nil), p.To...)
	seen := map[string]bool{}
	for _, a := range to {
		seen[envelopeKey(a)] = true
	}
	for _, a := range p.Bcc {
		if !seen[envelopeKey(a)] {
			to = append(to, a)
		}
	}
	return Envelope{From: p.From, To: to}
}
