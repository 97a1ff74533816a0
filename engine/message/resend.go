package message

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// ResendOptions describes who resends a prepared message to whom (RFC 5322 section 3.6.6).
type ResendOptions struct {
	// From is the resender, an RFC 5322 address; it becomes Resent-From.
	From string
	// To lists the new recipients; they become Resent-To.
	To []string
	// Date overrides Resent-Date; zero means now.
	Date time.Time
	// MessageID overrides the generated Resent-Message-ID.
	MessageID string
}

// Resend prepends a block of Resent-Date, Resent-From, Resent-To and
// Resent-Message-ID to raw and keeps the original message byte for byte,
// except that a Bcc header is removed: its recipients were the original
// sender's secret and are not the new recipients (RFC 5322 3.6.3).
// The options are validated first; errors are *FieldError values joined.
func Resend(raw []byte, o ResendOptions) ([]byte, error) {
	var errs []error
	var from *mail.Address
	if strings.TrimSpace(o.From) == "" {
		errs = append(errs, fieldErr("resent-from", "required"))
	} else if a, _, err := parseAddress("resent-from", o.From); err != nil {
		errs = append(errs, err)
	} else {
		from = a
	}
	if len(o.To) == 0 {
		errs = append(errs, fieldErr("resent-to", "at least one recipient is required"))
	}
	var to []string
	for i, s := range o.To {
		a, _, err := parseAddress(fmt.Sprintf("resent-to[%d]", i), s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		to = append(to, a.String())
	}
	id := o.MessageID
	if id != "" {
		var err error
		if id, err = normalizeMessageID("resent-message-id", id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		errs = append(errs, errors.New("resend: the message is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if id == "" {
		var err error
		if id, err = newMessageID(from.Address); err != nil {
			return nil, err
		}
	}
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	nl := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i >= 0 && (i == 0 || raw[i-1] != '\r') {
		nl = "\n" // keep the original's line endings consistent
	}
	raw = stripHeader(raw, "Bcc")
	var b bytes.Buffer
	b.WriteString("Resent-Date: " + date.Format(time.RFC1123Z) + nl)
	b.WriteString("Resent-From: " + from.String() + nl)
	b.WriteString(foldList("Resent-To: ", to, nl))
	b.WriteString("Resent-Message-ID: <" + id + ">" + nl)
	b.Write(raw)
	return b.Bytes(), nil
}

// foldList writes "Name: a, b, c" and folds after a comma before a line
// would pass 78 characters.
func foldList(prefix string, items []string, nl string) string {
	var b strings.Builder
	b.WriteString(prefix)
	lineLen := len(prefix)
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
			lineLen++
			if lineLen+1+len(it) > 78 {
				b.WriteString(nl)
				lineLen = 0
			}
			b.WriteString(" ")
			lineLen++
		}
		b.WriteString(it)
		lineLen += len(it)
	}
	b.WriteString(nl)
	return b.String()
}
