package message

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Attachment is one file attached to a Draft, taken from Path or from Data.
type Attachment struct {
	// Path is a file on disk to attach; ignored when Data is set.
	Path string
	// Name is the file name shown to the recipient; it defaults to the base name of Path.
	Name string
	// Data is the attachment content when it does not come from a file.
	Data []byte
	// ContentType is the MIME type; empty means guessed from the name's extension.
	ContentType string
}

// Header is one extra header field of a Draft, such as X-Campaign or List-Unsubscribe.
type Header struct {
	// Name is the header field name, e.g. "X-Campaign".
	Name string
	// Value is the unfolded, undecoded value; non-ASCII text is RFC 2047 encoded.
	Value string
}

// Draft is a message as the user describes it, before rendering.
type Draft struct {
	// From is the author, an RFC 5322 address such as "Ann <ann@example.com>".
	From string
	// To lists the primary recipients.
	To []string
	// Cc lists the carbon-copy recipients.
	Cc []string
	// Bcc lists the blind recipients: they get the message but never appear in it.
	Bcc []string
	// ReplyTo is an optional Reply-To address.
	ReplyTo string
	// Subject is the subject line; UTF-8 is RFC 2047 encoded.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML is an optional HTML body, sent as multipart/alternative with Text.
	HTML string
	// Attachments are files attached to the message.
	Attachments []Attachment
	// Headers are extra header fields; structural ones (From, Date, Content-*, ...) are refused.
	Headers []Header
	// Date overrides the Date header; zero means the time of rendering.
	Date time.Time
	// MessageID overrides the generated Message-ID ("id@domain", with or without angle brackets).
	MessageID string
}

// FieldError is one validation problem, naming the field ("to[2]") and what is wrong with it.
type FieldError struct {
	// Field names the input: from, to[i], cc[i], bcc[i], reply-to, subject, message-id, header[i], attachment[i], body, html.
	Field string
	// Msg says what is wrong, e.g. "missing @".
	Msg string
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Label names the field in a person's words: "From", "To", "Cc", "Bcc",
// "Reply-To", "Subject", "Header 2", "Attachment 1", "Body", ...
func (e *FieldError) Label() string {
	name, idx, indexed := strings.Cut(e.Field, "[")
	n := 0
	if indexed {
		n, _ = strconv.Atoi(strings.TrimSuffix(idx, "]"))
	}
	switch name {
	case "from", "to", "cc", "bcc", "subject", "body":
		return strings.ToUpper(name[:1]) + name[1:]
	case "reply-to":
		return "Reply-To"
	case "message-id":
		return "Message-ID"
	case "resent-from":
		return "Resent-From"
	case "resent-to":
		return "Resent-To"
	case "resent-message-id":
		return "Resent-Message-ID"
	case "html":
		return "HTML body"
	case "header", "attachment":
		return fmt.Sprintf("%s%s %d", strings.ToUpper(name[:1]), name[1:], n+1)
	}
	return e.Field
}

// Explain turns a validation error (one *FieldError, or several joined)
// into text for a person: one line per problem, "Label: problem", such as
// `To: "<a@b> SIZE=1" is not an address: unexpected text after the
// address`. Other errors keep their own text.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	lines := make([]string, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			lines = append(lines, fe.Label()+": "+fe.Msg)
		} else {
			lines = append(lines, e.Error())
		}
	}
	return strings.Join(lines, "\n")
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// structural returns the canonical name of a header field that a Draft sets
// itself (so an extra header may not), and whether key (lower case) is one.
func structural(key string) (string, bool) {
	switch key {
	case "from":
		return "From", true
	case "to":
		return "To", true
	case "cc":
		return "Cc", true
	case "bcc":
		return "Bcc", true
	case "reply-to":
		return "Reply-To", true
	case "sender":
		return "Sender", true
	case "date":
		return "Date", true
	case "message-id":
		return "Message-ID", true
	case "subject":
		return "Subject", true
	case "mime-version":
		return "MIME-Version", true
	}
	return "", false
}

// Validate checks every field of the draft and returns all problems at once,
// as errors.Join of *FieldError values, or nil.
func (d Draft) Validate() error {
	var errs []error
	add := func(e error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if strings.TrimSpace(d.From) == "" {
		add(fieldErr("from", "required"))
	} else {
		_, err := ParseAddress("from", d.From)
		add(err)
	}
	if d.ReplyTo != "" {
		_, err := ParseAddress("reply-to", d.ReplyTo)
		add(err)
	}
	for _, l := range []struct {
		name  string
		addrs []string
	}{{"to", d.To}, {"cc", d.Cc}, {"bcc", d.Bcc}} {
		for i, a := range l.addrs {
			_, err := ParseAddress(fmt.Sprintf("%s[%d]", l.name, i), a)
			add(err)
		}
	}
	if len(d.To)+len(d.Cc)+len(d.Bcc) == 0 {
		add(fieldErr("to", "at least one recipient is required (to, cc or bcc)"))
	}
	add(firstErr(checkHeaderText("subject", d.Subject), checkFoldable("subject", "Subject", d.Subject)))
	if d.MessageID != "" {
		_, err := normalizeMessageID("message-id", d.MessageID)
		add(err)
	}
	seen := map[string]int{}
	for i, h := range d.Headers {
		field := fmt.Sprintf("header[%d]", i)
		if err := checkFieldName(field, h.Name); err != nil {
			add(err)
			continue
		}
		key := strings.ToLower(h.Name)
		if canon, ok := structural(key); ok {
			add(fieldErr(field, "%s is set from the draft's own fields and cannot be an extra header", canon))
			continue
		}
		if strings.HasPrefix(key, "content-") {
			add(fieldErr(field, "%s is a MIME structure header and cannot be an extra header", h.Name))
			continue
		}
		if j, dup := seen[key]; dup {
			add(fieldErr(field, "%s is already given in header[%d]", h.Name, j))
			continue
		}
		seen[key] = i
		add(firstErr(checkHeaderText(field, h.Value), checkFoldable(field, h.Name, h.Value)))
	}
	for i, a := range d.Attachments {
		add(checkAttachment(fmt.Sprintf("attachment[%d]", i), a))
	}
	add(checkBody("body", d.Text))
	add(checkBody("html", d.HTML))
	return errors.Join(errs...)
}

// ParseAddress parses one RFC 5322 address ("Name <a@b>" or "a@b") and
// returns its addr-spec in the form SMTP carries it: a local part that is not
// a dot-string stays quoted ("john..doe"@example.com), so MAIL FROM and RCPT
// TO name the same mailbox as the header. An address that could not travel
// safely in an SMTP command (angle brackets or a line break in it, a domain
// that is not a host name or address literal) is refused with a *FieldError
// naming field.
func ParseAddress(field, s string) (string, error) {
	_, smtp, err := parseAddress(field, s)
	return smtp, err
}

// parseAddress parses s into the address as net/mail holds it (the local
// part unquoted, for writing headers) and its SMTP form (see ParseAddress).
func parseAddress(field, s string) (*mail.Address, string, error) {
	if err := checkHeaderText(field, s); err != nil {
		return nil, "", err
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, "", fieldErr(field, "empty address")
	}
	a, err := mail.ParseAddress(t)
	if err != nil {
		if !strings.Contains(t, "@") {
			return nil, "", fieldErr(field, "%q is not an address: missing @", t)
		}
		if list, lerr := mail.ParseAddressList(t); lerr == nil && len(list) > 1 {
			return nil, "", fieldErr(field, "%q holds more than one address; give each one separately", t)
		}
		msg := strings.TrimPrefix(err.Error(), "mail: ")
		bare := t
		if i := strings.LastIndexByte(bare, '<'); i >= 0 {
			bare = strings.TrimSpace(strings.TrimSuffix(bare[i+1:], ">"))
		}
		switch {
		case strings.Contains(msg, "expected single address"):
			msg = "unexpected text after the address"
		case strings.HasSuffix(bare, "@"):
			msg = "it has no domain after the @"
		case strings.HasPrefix(bare, "@"):
			msg = "it has nothing before the @"
		case strings.ContainsAny(bare, " \t"):
			msg = "it contains a space"
		}
		return nil, "", fieldErr(field, "%q is not an address: %s", t, msg)
	}
	if err := checkHeaderText(field, a.Name); err != nil {
		return nil, "", err
	}
	smtp, err := smtpForm(field, t, a)
	if err != nil {
		return nil, "", err
	}
	return a, smtp, nil
}

// smtpForm returns the SMTP form of a parsed address (t is the text the
// user gave, for the error), or a *FieldError when it cannot travel safely
// in MAIL FROM or RCPT TO.
func smtpForm(field, t string, a *mail.Address) (string, error) {
	if err := checkHeaderText(field, a.Address); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return "", fieldErr(field, "%q is not an address: missing local part or domain", t)
	}
	local, domain := a.Address[:at], a.Address[at+1:]
	if strings.ContainsAny(local, "<>") {
		return "", fieldErr(field, "%q is not an address: the part before @ contains < or >", t)
	}
	if strings.ContainsFunc(local, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fieldErr(field, "%q is not an address: the part before @ contains a tab or control character", t)
	}
	if !validDomain(domain) {
		return "", fieldErr(field, "%q is not an address: %q is not a host name", t, domain)
	}
	return smtpLocal(local) + "@" + domain, nil
}

// smtpLocal returns a local part as RFC 5321 (with RFC 6531) writes it: a
// dot-string as it is, anything else as a quoted string.
func smtpLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isDotString reports whether s is an RFC 5321 Dot-string, UTF-8 allowed
// (RFC 6531).
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '.' {
			continue
		}
		if c <= 32 || c == 127 || strings.IndexByte("()<>[]:;@\\,\"", c) >= 0 {
			return false
		}
	}
	return true
}

// validDomain reports whether d can follow the @ of an envelope address: a
// host name (letters, digits, hyphens, underscores, UTF-8 for IDNs, dots
// between labels) or an address literal such as [192.0.2.1] or
// [IPv6:2001:db8::1].
func validDomain(d string) bool {
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		lit := d[1 : len(d)-1]
		if v6, ok := strings.CutPrefix(lit, "IPv6:"); ok {
			lit = v6
		}
		if lit == "" {
			return false
		}
		for i := 0; i < len(lit); i++ {
			if c := lit[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':') {
				return false
			}
		}
		return true
	}
	if d == "" || len(d) > 255 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkHeaderText refuses text that cannot safely go into a header: line
// breaks (injection), other control characters and invalid UTF-8.
func checkHeaderText(field, s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return fieldErr(field, "contains a line break")
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fieldErr(field, "contains the control character %U", r)
		}
	}
	return nil
}

// maxLine is the RFC 5322 limit on a line, without its CRLF.
const maxLine = 998

// checkFoldable refuses a value with a word so long that, even folded at
// white space, its line would pass 998 characters.
func checkFoldable(field, name, value string) error {
	for i, w := range strings.Fields(value) {
		n := len(w)
		if i == 0 {
			n += len(name) + 2
		}
		if n > maxLine && isASCII(w) {
			return fieldErr(field, "has a word of %d characters: too long for one header line (max %d)", len(w), maxLine)
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// checkFieldName checks an RFC 5322 field-name: printable ASCII except colon.
func checkFieldName(field, name string) error {
	if name == "" {
		return fieldErr(field, "name is empty")
	}
	if strings.ContainsAny(name, "\r\n") {
		return fieldErr(field, "name contains a line break")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fieldErr(field, "name %q is not a valid header field name", name)
		}
	}
	return nil
}

func checkBody(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fieldErr(field, "contains a NUL byte")
	}
	return nil
}

func attachmentName(a Attachment) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Path != "" {
		return filepath.Base(a.Path)
	}
	return ""
}

func checkAttachment(field string, a Attachment) error {
	if a.Data == nil && a.Path == "" {
		return fieldErr(field, "neither a path nor data given")
	}
	if err := checkHeaderText(field, a.Path); err != nil {
		return fieldErr(field, "path %s", err.(*FieldError).Msg)
	}
	name := attachmentName(a)
	if name == "" {
		return fieldErr(field, "name is required when attaching data")
	}
	if err := checkHeaderText(field, name); err != nil {
		return fieldErr(field, "name %s", err.(*FieldError).Msg)
	}
	if a.ContentType != "" {
		if err := checkHeaderText(field, a.ContentType); err != nil {
			return fieldErr(field, "content type %s", err.(*FieldError).Msg)
		}
		if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
			return fieldErr(field, "content type %q: %v", a.ContentType, err)
		}
	}
	if a.Data == nil {
		st, err := os.Stat(a.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fieldErr(field, "%s: no such file", a.Path)
		case err != nil:
			return fieldErr(field, "%v", err)
		case st.IsDir():
			return fieldErr(field, "%s: is a directory", a.Path)
		}
	}
	return nil
}

// PriorityHeaders returns the header fields that mark a message's priority
// for the common mail programs (X-Priority and Importance): for "high" and
// "low"; anything else is normal and adds none.
func PriorityHeaders(priority string) []Header {
	switch strings.ToLower(strings.TrimSpace(priority)) {
	case "high":
		return []Header{{Name: "X-Priority", Value: "1 (Highest)"}, {Name: "Importance", Value: "high"}}
	case "low":
		return []Header{{Name: "X-Priority", Value: "5 (Lowest)"}, {Name: "Importance", Value: "low"}}
	}
	return nil
}
