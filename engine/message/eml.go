package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
)

// Parsed is a prepared message read from an .eml file.
type Parsed struct {
	// From is the addr-spec of the first From address, or empty if there is no From header.
	From string
	// To lists the addr-specs of the To and Cc headers, without duplicates.
	To []string
	// Subject is the decoded Subject header.
	Subject string
	// MessageID is the Message-ID header value as written (with angle brackets), or empty.
	MessageID string
	// Bytes is the whole message with every line ending normalised to CRLF.
	Bytes []byte
}

// maxEMLSize bounds what ReadEML reads into memory.
const maxEMLSize = 64 << 20

// ReadEML reads an RFC 5322 message (an .eml file), normalises its line
// endings to CRLF and extracts the addresses, subject and Message-ID. An
// empty file, binary data or text without a header section is an error.
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
		list, err := msg.Header.AddressList("From")
		if err != nil {
			return nil, fmt.Errorf("reading .eml: From header: %w", err)
		}
		if len(list) > 0 {
			p.From = list[0].Address
		}
	}
	seen := map[string]bool{}
	for _, h := range []string{"To", "Cc"} {
		if len(msg.Header[h]) == 0 {
			continue
		}
		list, err := msg.Header.AddressList(h)
		if errors.Is(err, mail.ErrHeaderNotPresent) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading .eml: %s header: %w", h, err)
		}
		for _, a := range list {
			if k := envelopeKey(a.Address); !seen[k] {
				seen[k] = true
				p.To = append(p.To, a.Address)
			}
		}
	}
	return p, nil
}

// Envelope returns the envelope the message's own headers imply: From and To+Cc.
func (p *Parsed) Envelope() Envelope {
	return Envelope{From: p.From, To: append([]string(nil), p.To...)}
}
