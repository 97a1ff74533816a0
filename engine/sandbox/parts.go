package sandbox

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

	"golang.org/x/net/html"
)

// Header is one header field of a captured message, in the order it came.
type Header struct {
	// Name is the field name as sent.
	Name string
	// Value is the value unfolded, with RFC 2047 encoded words decoded.
	Value string
	// Raw is the value as sent (unfolded, not decoded).
	Raw string
}

// Part is an attachment or an inline part of a captured message.
type Part struct {
	// Name is the file name given, or "" for none.
	Name string
	// Type is the media type ("image/png").
	Type string
	// ContentID is the Content-ID without angle brackets, for inline parts.
	ContentID string
	// Inline is true for a part shown in the message (Content-Disposition
	// inline, or referenced by the HTML).
	Inline bool
	// Data is the decoded content.
	Data []byte
}

// Parsed is a captured message taken apart for display.
type Parsed struct {
	// Headers are the top-level header fields, in order.
	Headers []Header
	// Text is the first text/plain part, decoded to UTF-8.
	Text string
	// HTML is the first text/html part, decoded to UTF-8 (never rendered
	// as is: see HTMLText).
	HTML string
	// Parts are the other parts: attachments and inline images.
	Parts []Part
	// HasText and HasHTML say which bodies the message has.
	HasText, HasHTML bool
}

// maxParts bounds the parts collected from one message.
const maxParts = 200

// ParseMessage takes raw apart: its headers, its text and HTML bodies and
// its other parts (attachments, inline images), decoding transfer
// encodings and charsets. A message whose MIME structure is broken still
// yields its headers and, as text, its body.
func ParseMessage(raw []byte) (*Parsed, error) {
	p := &Parsed{}
	hdrEnd, bodyStart := headerEnd(raw)
	p.Headers = parseHeaders(raw[:hdrEnd])
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		p.Text = string(raw[bodyStart:])
		p.HasText = true
		return p, fmt.Errorf("parse message: %w", err)
	}
	if err := p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return p, fmt.Errorf("parse message: %w", err)
	}
	return p, nil
}

// headerEnd returns the length of the header block (with its last line
// ending) and the offset of the body.
func headerEnd(raw []byte) (int, int) {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return i + len(sep)/2, i + len(sep)
		}
	}
	return len(raw), len(raw)
}

func parseHeaders(block []byte) []Header {
	var out []Header
	lines := strings.Split(strings.ReplaceAll(string(block), "\r\n", "\n"), "\n")
	for _, l := range lines {
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
		out = append(out, Header{Name: name, Raw: strings.TrimSpace(val)})
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

func (p *Parsed) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > 20 || len(p.Parts) >= maxParts {
		return nil
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
				return err
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return err
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
	case mt == "text/plain" && !p.HasText && !attached:
		p.Text, p.HasText = toUTF8(data, params["charset"]), true
	case mt == "text/html" && !p.HasHTML && !attached:
		p.HTML, p.HasHTML = toUTF8(data, params["charset"]), true
	default:
		cid := strings.Trim(h.Get("Content-Id"), "<> ")
		p.Parts = append(p.Parts, Part{Name: name, Type: mt, ContentID: cid, Inline: disp == "inline" || (cid != "" && disp != "attachment"), Data: data})
	}
	return nil
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops line breaks and spaces, which base64 bodies carry.
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

// HTMLText renders an HTML body as plain text, safely: nothing is fetched
// or run. Scripts, styles and the head are dropped, block elements become
// line breaks, links are shown with their address after the text and
// images by their alternative text and source ("cid:" sources name a part
// of the message; remote ones are marked as not loaded).
func HTMLText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0
	var href string
	nl := func() {
		s := b.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(collapseBlank(b.String()))
		case html.TextToken:
			if skip == 0 {
				t := strings.Join(strings.Fields(string(z.Text())), " ")
				if t != "" {
					if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") && !strings.HasSuffix(s, " ") && !strings.ContainsAny(t[:1], ".,;:!?)") {
						b.WriteByte(' ')
					}
					b.WriteString(t)
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch tag {
			case "script", "style", "head", "title", "noscript", "iframe", "object", "template":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch tag {
			case "br":
				b.WriteByte('\n')
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr":
				nl()
				if tag == "li" && tt == html.StartTagToken {
					b.WriteString("• ")
				}
				if tag == "hr" {
					b.WriteString("――――――――\n")
				}
			case "a":
				if tt == html.StartTagToken {
					href = attrs["href"]
				} else if tt == html.EndTagToken && href != "" {
					if !strings.HasPrefix(href, "#") {
						fmt.Fprintf(&b, " [link: %s]", href)
					}
					href = ""
				}
			case "img":
				alt, srcAttr := attrs["alt"], attrs["src"]
				switch {
				case strings.HasPrefix(strings.ToLower(srcAttr), "cid:"):
					fmt.Fprintf(&b, "[image %q from the message: %s]", alt, srcAttr)
				case srcAttr != "":
					fmt.Fprintf(&b, "[remote image %q not loaded: %s]", alt, srcAttr)
				}
			}
		}
	}
}

func collapseBlank(s string) string {
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}
