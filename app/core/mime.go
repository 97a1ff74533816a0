package core

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"golang.org/x/net/html"

	"github.com/herald-smtp/herald/engine/message"
)

// Parsed is a message taken apart for showing: its header fields in order,
// the plain text, the HTML part as safe text (tags, scripts, styles and
// remote references dropped: nothing is fetched or run) and the list of
// attachments. Parts are decoded (base64, quoted-printable, charset names
// as given: UTF-8 and ASCII shown as they are).
type Parsed struct {
	Headers     [][2]string
	Text        string
	HTMLText    string
	Attachments []AttachmentInfo
}

// AttachmentInfo names one attachment.
type AttachmentInfo struct {
	Name, Type string
	Size       int
}

// maxParts bounds how many MIME parts ParseMessage walks (a hostile
// message cannot make it loop for long).
const maxParts = 500

// ParseMessage takes raw apart; a message it cannot read is shown as text.
func ParseMessage(raw []byte) Parsed {
	var p Parsed
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		p.Text = string(raw)
		return p
	}
	p.Headers = headerOrder(raw, m.Header)
	parts := 0
	walkPart(&p, mail.Header(m.Header), m.Body, &parts, 0)
	return p
}

// headerOrder lists the header fields in the order they appear, decoded.
func headerOrder(raw []byte, h mail.Header) [][2]string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	var out [][2]string
	seen := map[string]int{}
	dec := new(mime.WordDecoder)
	for _, line := range strings.Split(strings.ReplaceAll(string(raw[:end]), "\r\n", "\n"), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key := mail.Header(h)
		vals := key[textprotoKey(name)]
		i := seen[textprotoKey(name)]
		seen[textprotoKey(name)]++
		if i >= len(vals) {
			continue
		}
		v := vals[i]
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		out = append(out, [2]string{name, v})
	}
	return out
}

func textprotoKey(s string) string {
	// The canonical MIME header key, as net/mail stores it.
	b := []byte(strings.TrimSpace(s))
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 32
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
		upper = c == '-'
	}
	return string(b)
}

func walkPart(p *Parsed, h mail.Header, body io.Reader, parts *int, depth int) {
	*parts++
	if *parts > maxParts || depth > 20 {
		return
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ct = "text/plain"
	}
	if strings.HasPrefix(ct, "multipart/") && params["boundary"] != "" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walkPart(p, mail.Header(part.Header), part, parts, depth+1)
		}
	}
	data, _ := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case disp == "attachment" || name != "" || (!strings.HasPrefix(ct, "text/") && !strings.HasPrefix(ct, "message/")):
		if name == "" {
			name = "(unnamed)"
		}
		p.Attachments = append(p.Attachments, AttachmentInfo{Name: name, Type: ct, Size: len(data)})
	case ct == "text/html":
		if p.HTMLText == "" {
			p.HTMLText = HTMLToText(string(data))
		}
	default:
		if p.Text == "" {
			p.Text = strings.ReplaceAll(string(data), "\r\n", "\n")
		}
	}
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// newlineStripper drops CR and LF so base64 decodes across lines.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// HTMLToText renders HTML as plain text for a safe preview: only the text
// is kept; scripts, styles and every reference (images, links' targets,
// frames) are dropped, so showing it fetches and runs nothing. Block
// elements become line breaks; a link keeps its words.
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(collapseBlank(b.String()))
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "noscript", "template":
				skip++
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote":
				b.WriteByte('\n')
			case "img":
				b.WriteString("[image]")
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "noscript", "template":
				if skip > 0 {
					skip--
				}
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table":
				b.WriteByte('\n')
			}
		case html.TextToken:
			if skip == 0 {
				b.WriteString(strings.Join(strings.Fields(string(z.Text())), " "))
				if t := z.Raw(); len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\n') {
					b.WriteByte(' ')
				}
			}
		}
	}
}

func collapseBlank(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// DraftOf makes a draft from a raw message, for resending it from
// Compose: From, To, Cc, Reply-To, Subject and the text (the HTML part's
// text when there is no plain one).
func DraftOf(raw []byte) message.Draft {
	p := ParseMessage(raw)
	var d message.Draft
	list := func(v string) []string {
		as, err := mail.ParseAddressList(v)
		if err != nil {
			if v = strings.TrimSpace(v); v != "" {
				return []string{v}
			}
			return nil
		}
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.String()
		}
		return out
	}
	for _, h := range p.Headers {
		switch strings.ToLower(h[0]) {
		case "from":
			d.From = h[1]
		case "to":
			d.To = append(d.To, list(h[1])...)
		case "cc":
			d.Cc = append(d.Cc, list(h[1])...)
		case "reply-to":
			d.ReplyTo = h[1]
		case "subject":
			d.Subject = h[1]
		}
	}
	d.Text = p.Text
	if d.Text == "" {
		d.Text = p.HTMLText
	}
	return d
}
