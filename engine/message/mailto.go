package message

import (
	"fmt"
	"net/url"
	"strings"
)

// maxMailto bounds a mailto URI; a desktop handler should never be handed a
// megabyte of recipients, and the compose form must stay responsive.
const maxMailto = 64 << 10

// ParseMailto reads an RFC 6068 mailto URI ("mailto:a@example.com,b@example.com
// ?subject=Hi&cc=c@example.com&body=Hello%0D%0Athere") into a Draft with To,
// Cc, Bcc, Subject and Text set. Percent-encoding is decoded ("+" stays a
// plus sign, as RFC 6068 says). The hfields to, cc and bcc add to the
// recipients; subject and body fill the message (the body with "\n" line
// endings, as a form shows it); other hfields are ignored.
// A header value holding a line break or a control character (header
// injection) and an address that does not parse are errors naming the field.
func ParseMailto(uri string) (Draft, error) {
	var d Draft
	if len(uri) > maxMailto {
		return d, fmt.Errorf("mailto: the link is longer than %d bytes", maxMailto)
	}
	s := strings.TrimSpace(uri)
	if len(s) < 7 || !strings.EqualFold(s[:7], "mailto:") {
		return d, fmt.Errorf("mailto: %q does not start with mailto:", shorten(s))
	}
	s = s[7:]
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	to, query, _ := strings.Cut(s, "?")
	addrs, err := mailtoAddrs("to", to)
	if err != nil {
		return d, err
	}
	d.To = addrs
	seenSubject, seenBody := false, false
	if query != "" {
		for _, pair := range strings.Split(query, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			name, err := url.PathUnescape(k)
			if err != nil {
				return d, fmt.Errorf("mailto: bad percent-encoding in %q: %w", shorten(k), err)
			}
			name = strings.ToLower(name)
			switch name {
			case "to", "cc", "bcc":
				list, err := mailtoAddrs(name, v)
				if err != nil {
					return d, err
				}
				switch name {
				case "to":
					d.To = append(d.To, list...)
				case "cc":
					d.Cc = append(d.Cc, list...)
				default:
					d.Bcc = append(d.Bcc, list...)
				}
			case "subject", "body":
				val, err := url.PathUnescape(v)
				if err != nil {
					return d, fmt.Errorf("mailto: bad percent-encoding in %s: %w", name, err)
				}
				if name == "subject" {
					if err := checkHeaderText("subject", val); err != nil {
						return d, fmt.Errorf("mailto: %w", err)
					}
					if seenSubject {
						return d, fmt.Errorf("mailto: subject given twice")
					}
					d.Subject, seenSubject = val, true
				} else {
					if seenBody {
						return d, fmt.Errorf("mailto: body given twice")
					}
					d.Text, seenBody = strings.ReplaceAll(strings.ReplaceAll(val, "\r\n", "\n"), "\r", "\n"), true
				}
			}
		}
	}
	return d, nil
}

// mailtoAddrs decodes a comma-separated, percent-encoded list of addresses.
// Each is decoded on its own, so an encoded comma inside a quoted display
// name survives.
func mailtoAddrs(field, s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		a, err := url.PathUnescape(part)
		if err != nil {
			return nil, fmt.Errorf("mailto: bad percent-encoding in %s: %w", field, err)
		}
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, err := ParseAddress(fmt.Sprintf("%s[%d]", field, len(out)), a); err != nil {
			return nil, fmt.Errorf("mailto: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
