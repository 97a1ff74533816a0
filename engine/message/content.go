package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// Field is one header field of a message, in the order it came.
type Field struct {
	// Name is the field name as written.
	Name string
	// Value is the value unfolded, with RFC 2047 encoded words decoded.
	Value string
	// Raw is the value as written (unfolded, not decoded).
	Raw string
}

// Part is a part of a message other than its text and HTML bodies: an
// attachment or an inline image.
type Part struct {
	// Name is the file name given, or "" for none.
	Name string
	// Type is the media type ("image/png").
	Type string
	// ContentID is the Content-ID without angle brackets, for inline parts.
	ContentID string
	// Inline is true for a part shown in the message (Content-Disposition
	// inline, or one with a Content-ID that is not an attachment).
	Inline bool
	// Data is the decoded content.
	Data []byte
}

// Size is the decoded size of the part in bytes.
func (p Part) Size() int { return len(p.Data) }

// Content is a message taken apart for reading: its header fields in order,
// its text and HTML bodies and its other parts.
type Content struct {
	// Headers are the top-level header fields, in order.
	Headers []Field
	// Text is the first text/plain part that is not an attachment, decoded
	// to UTF-8, with line ends as "\n".
	Text string
	// HTML is the first text/html part that is not an attachment, decoded
	// to UTF-8 (never to be rendered as is: see HTMLText).
	HTML string
	// Parts are the other parts: attachments and inline images.
	Parts []Part
	// HasText and HasHTML say which bodies the message has.
	HasText, HasHTML bool
}

// Get returns the decoded value of the first header field called name
// (case-insensitive), or "".
func (c *Content) Get(name string) string {
	for _, f := range c.Headers {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Bounds on the MIME structure Parse walks, so a hostile message cannot
// make it work for long.
const (
	maxParts = 500
	maxDepth = 20
)

// Parse takes raw apart: its header fields, its text and HTML bodies and its
// other parts, decoding transfer encodings (base64, quoted-printable) and
// charsets to UTF-8. It always returns what it could read: a message whose
// MIME structure is broken yields its headers and, when even those cannot
// be read, its body as text, together with an error saying what was wrong.
func Parse(raw []byte) (*Content, error) {
	c := &Content{}
	hdrEnd, bodyStart := headerEnd(raw)
	c.Headers = parseFields(raw[:hdrEnd])
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		c.Text, c.HasText = lf(string(raw[bodyStart:])), true
		return c, fmt.Errorf("read the message: %w", err)
	}
	parts := 0
	if err := c.walk(textproto.MIMEHeader(msg.Header), msg.Body, &parts, 0); err != nil {
		return c, fmt.Errorf("read the message's parts: %w", err)
	}
	return c, nil
}

// headerEnd returns the length of the header block (with its last line
// ending) and the offset of the body.
func headerEnd(raw []byte) (int, int) {
	i, j := bytes.Index(raw, []byte("\r\n\r\n")), bytes.Index(raw, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return i + 2, i + 4
	case j >= 0:
		return j + 1, j + 2
	}
	return len(raw), len(raw)
}

func parseFields(block []byte) []Field {
	var out []Field
	for _, l := range strings.Split(strings.ReplaceAll(string(block), "\r\n", "\n"), "\n") {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Raw += " " + strings.TrimSpace(l)
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		out = append(out, Field{Name: strings.TrimSpace(name), Raw: strings.TrimSpace(val)})
	}
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	for i := range out {
		out[i].Value = out[i].Raw
		if d, err := dec.DecodeHeader(out[i].Raw); err == nil {
			out[i].Value = d
		}
	}
	return out
}

func (c *Content) walk(h textproto.MIMEHeader, body io.Reader, parts *int, depth int) error {
	*parts++
	if *parts > maxParts {
		return fmt.Errorf("more than %d parts", maxParts)
	}
	if depth > maxDepth {
		return errors.New("the parts nest too deep")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read a part: %w", err)
			}
			if err := c.walk(part.Header, part, parts, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return fmt.Errorf("decode a %s part: %w", mt, err)
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if d, err := (&mime.WordDecoder{CharsetReader: charsetReader}).DecodeHeader(name); err == nil {
		name = d
	}
	attached := disp == "attachment" || (name != "" && disp != "inline")
	switch {
	case mt == "text/plain" && !c.HasText && !attached:
		c.Text, c.HasText = lf(toUTF8(data, params["charset"])), true
	case mt == "text/html" && !c.HasHTML && !attached:
		c.HTML, c.HasHTML = lf(toUTF8(data, params["charset"])), true
	default:
		cid := strings.Trim(h.Get("Content-Id"), "<> ")
		c.Parts = append(c.Parts, Part{Name: name, Type: mt, ContentID: cid, Inline: disp == "inline" || (cid != "" && disp != "attachment"), Data: data})
	}
	return nil
}

func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks and spaces base64 bodies are folded with.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// charsetReader decodes a named charset (as browsers name them) to UTF-8.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q: %w", charset, err)
	}
	return enc.NewDecoder().Reader(input), nil
}

// toUTF8 decodes b from charset; an unknown charset leaves b as it is.
func toUTF8(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		return string(b)
	}
	r, err := charsetReader(cs, bytes.NewReader(b))
	if err != nil {
		return string(b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return string(b)
	}
	return string(out)
}

// DraftFromMessage turns a raw message back into a draft: From, To, Cc,
// Reply-To and Subject (decoded), the text and HTML bodies and the other
// parts as attachments (a part without a name is called "attachment").
// Bcc is not in a message; the caller adds it from the envelope. What
// could be read is returned with the error when the message is broken.
func DraftFromMessage(raw []byte) (Draft, error) {
	c, err := Parse(raw)
	d := Draft{From: c.Get("From"), ReplyTo: c.Get("Reply-To"), Subject: c.Get("Subject"), Text: c.Text, HTML: c.HTML}
	list := func(name string) []string {
		var out []string
		for _, f := range c.Headers {
			if !strings.EqualFold(f.Name, name) {
				continue
			}
			as, perr := (mail.Header{"X": {f.Raw}}).AddressList("X")
			if perr != nil {
				if v := strings.TrimSpace(f.Value); v != "" {
					out = append(out, v)
				}
				continue
			}
			for _, a := range as {
				out = append(out, a.String())
			}
		}
		return out
	}
	d.To, d.Cc = list("To"), list("Cc")
	for _, p := range c.Parts {
		name := p.Name
		if name == "" {
			name = "attachment"
		}
		d.Attachments = append(d.Attachments, Attachment{Name: name, Data: p.Data, ContentType: p.Type})
	}
	return d, err
}

// SplitHeader returns the header fields of raw, in order, and its body (what
// follows the first empty line). It reads any message, however broken.
func SplitHeader(raw []byte) ([]Field, []byte) {
	hdrEnd, bodyStart := headerEnd(raw)
	return parseFields(raw[:hdrEnd]), raw[bodyStart:]
}
