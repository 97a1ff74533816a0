// Package bulk plans a mail merge: it reads a CSV of recipients (a header
// row with an email column and any others), merges each row into a subject
// and text body (text/template) and an optional HTML body (html/template),
// adds List-Unsubscribe headers, renders one message per row with
// engine/message, and reports every bad row by its row and line number.
//
// Planning has no side effects: the caller decides what to do with the
// rendered messages (the CLI enqueues them in engine/queue). A sending rate
// is kept by scheduling: message i is due at start + i*(period/N), so the
// queue's runner, which sends a scheduled item when it is due, spreads the
// run over time even across restarts.
package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
)

// Options describe one bulk run.
type Options struct {
	// Recipients is the CSV: a header row naming the columns (one of them
	// "email", any case), then one row per message. A UTF-8 BOM is ignored.
	Recipients io.Reader
	// Profile supplies From, Reply-To, the default headers and the signature.
	Profile *account.Profile
	// Subject is a text/template for the subject, e.g. "Hi {{.name}}".
	Subject string
	// Text is a text/template for the plain-text body.
	Text string
	// HTML is an optional html/template for the HTML body: fields are escaped.
	HTML string
	// Headers are extra headers for every message; one replaces a profile
	// header of the same name.
	Headers []message.Header
	// Attachments are attached to every message; files are read once.
	Attachments []message.Attachment
	// UnsubscribeURL is an optional text/template for an http(s) unsubscribe
	// URL; fields are query-escaped, e.g. "https://x.test/u?e={{.email}}".
	UnsubscribeURL string
	// UnsubscribeMailto is an optional text/template for an unsubscribe
	// address, with or without "mailto:" and "?subject=...".
	UnsubscribeMailto string
	// Rate spreads the messages over time; the zero Rate schedules them all at Start.
	Rate Rate
	// Start is when the first message is due; zero means now (or, without a
	// Rate, unscheduled).
	Start time.Time
	// DKIM, when set, signs every message (it comes from the profile's
	// keys; see message.DKIMSigner).
	DKIM *message.DKIMSigner
	// Progress, when set, is called with the number of rows read so far
	// every 1000 rows and once at the end.
	Progress func(rows int)
	// Previews is how many of the first valid messages' drafts to keep in
	// Result.Previews (0: none beyond Result.Preview).
	Previews int
}

// Message is one planned message: a valid row, rendered.
type Message struct {
	// Row is the data row number, from 1 (the header row is not counted).
	Row int
	// Line is the row's first line in the CSV file, from 1.
	Line int
	// Email is the recipient's bare address.
	Email string
	// SendAt is when the message is due; zero means now.
	SendAt time.Time
	// Rendered is the complete message.
	Rendered *message.Rendered
	// DSN asks for delivery status notifications; nil for none.
	DSN *transport.DSN
}

// RowError is one problem with one row of the CSV.
type RowError struct {
	// Row is the data row number, from 1.
	Row int
	// Line is the row's first line in the CSV file.
	Line int
	// Field names what is wrong: email, name, subject, text, html, a column, a header.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "row N (line L): field: problem".
func (e *RowError) Error() string {
	return fmt.Sprintf("row %d (line %d): %s: %s", e.Row, e.Line, e.Field, e.Msg)
}

// Result is the outcome of Plan.
type Result struct {
	// Columns are the CSV's column names as given (trimmed).
	Columns []string
	// Rows counts the data rows read.
	Rows int
	// Messages are the valid rows, rendered, in file order.
	Messages []Message
	// Errors lists the problems of invalid rows (a row may have several).
	Errors []*RowError
	// Invalid counts the invalid rows.
	Invalid int
	// Duplicates lists rows skipped because an earlier row has the same address.
	Duplicates []*RowError
	// Preview is the first valid message's draft (merged, before rendering).
	Preview *message.Draft
	// Previews are the drafts of the first Options.Previews valid messages,
	// in file order (Previews[i] is Messages[i]'s).
	Previews []*message.Draft
}

// Plan reads the recipients, merges and renders one message per row and
// returns them with the row errors. It returns an error (and no Result) only
// for problems that concern every row: unreadable or malformed CSV, a bad
// header, a template that does not parse or names a column that does not
// exist, invalid profile or extra headers, an unreadable attachment.
func Plan(ctx context.Context, o Options) (*Result, error) {
	p, err := newPlanner(o)
	if err != nil {
		return nil, err
	}
	return p.run(ctx)
}

// planner holds what Plan prepares once and uses for every row.
type planner struct {
	o         Options
	subject   *template.Template
	text      *template.Template
	html      *htmltemplate.Template
	unsubURL  *template.Template
	unsubMail *template.Template
	headers   []message.Header // profile headers with Options.Headers applied
	attach    []message.Attachment
	from      string
	signature string
}

func newPlanner(o Options) (*planner, error) {
	if o.Recipients == nil {
		return nil, errors.New("bulk: no recipients given")
	}
	if o.Profile == nil {
		return nil, errors.New("bulk: no profile given")
	}
	if strings.TrimSpace(o.Text) == "" && strings.TrimSpace(o.HTML) == "" {
		return nil, errors.New("bulk: a text or HTML template is required")
	}
	p := &planner{o: o, from: o.Profile.From(), signature: o.Profile.Signature}
	var err error
	if p.subject, err = parseText("subject", o.Subject); err != nil {
		return nil, err
	}
	if p.text, err = parseText("text", o.Text); err != nil {
		return nil, err
	}
	if o.HTML != "" {
		if p.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(o.HTML); err != nil {
			return nil, fmt.Errorf("html template: %w", err)
		}
	}
	if o.UnsubscribeURL != "" {
		if p.unsubURL, err = parseText("unsubscribe-url", o.UnsubscribeURL); err != nil {
			return nil, err
		}
	}
	if o.UnsubscribeMailto != "" {
		if p.unsubMail, err = parseText("unsubscribe-mailto", o.UnsubscribeMailto); err != nil {
			return nil, err
		}
	}
	p.headers = mergeHeaders(o.Profile.Headers, o.Headers)
	if o.UnsubscribeURL != "" || o.UnsubscribeMailto != "" {
		for _, h := range p.headers {
			if strings.EqualFold(h.Name, "List-Unsubscribe") || strings.EqualFold(h.Name, "List-Unsubscribe-Post") {
				return nil, fmt.Errorf("header %s: also set by the unsubscribe URL or mailto option; give one or the other", h.Name)
			}
		}
	}
	for i, a := range o.Attachments {
		if a.Data == nil && a.Path != "" {
			data, err := os.ReadFile(a.Path)
			if err != nil {
				return nil, fmt.Errorf("attachment[%d]: %w", i, err)
			}
			a.Data = data
			if a.Name == "" {
				a.Name = filepath.Base(a.Path)
			}
			a.Path = ""
		}
		p.attach = append(p.attach, a)
	}
	// Check what every message shares once, so a bad header is one error
	// rather than one per row.
	probe := message.Draft{From: p.from, To: []string{o.Profile.FromAddress}, ReplyTo: o.Profile.ReplyTo, Headers: p.headers, Attachments: p.attach}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("invalid profile, headers or attachments: %s", joinErrs(err))
	}
	return p, nil
}

func parseText(name, src string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s template: %w", name, err)
	}
	return t, nil
}

// mergeHeaders returns base with each of over replacing a header of the
// same name (any case) or appended.
func mergeHeaders(base, over []message.Header) []message.Header {
	out := append([]message.Header(nil), base...)
	for _, h := range over {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Name, h.Name) {
				out[i], replaced = h, true
				break
			}
		}
		if !replaced {
			out = append(out, h)
		}
	}
	return out
}

// header is the CSV's first row, checked.
type header struct {
	names   []string // trimmed, as given; "" for an unnamed column
	known   map[string]bool
	email   int
	name    int // -1 when there is no name column
	columns []string
}

func readHeader(r *csv.Reader) (*header, error) {
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("recipients: the file is empty (it needs a header row with an email column)")
	}
	if err != nil {
		return nil, fmt.Errorf("recipients: header row: %w", err)
	}
	h := &header{email: -1, name: -1, known: map[string]bool{}}
	seen := map[string]int{}
	for i, n := range rec {
		n = strings.TrimSpace(n)
		h.names = append(h.names, n)
		if n == "" {
			continue // an unnamed column (often a trailing comma) cannot be used
		}
		key := strings.ToLower(n)
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("recipients: header row: column %d %q repeats column %d %q", i+1, n, j+1, h.names[j])
		}
		seen[key] = i
		h.known[n], h.known[key] = true, true
		h.columns = append(h.columns, n)
		switch key {
		case "email":
			h.email = i
		case "name":
			h.name = i
		}
	}
	if h.email < 0 {
		return nil, fmt.Errorf("recipients: the header row has no email column (columns: %s)", strings.Join(h.columns, ", "))
	}
	return h, nil
}

// checkFields reports the first field that t reads from the row (outside
// range, with and called templates, where dot changes) and that is not a
// column, so a typo is one error instead of one per row.
func checkFields(name string, t *parse.Tree, h *header) error {
	if t == nil || t.Root == nil {
		return nil
	}
	var bad string
	var walk func(n parse.Node)
	walkPipe := func(p *parse.PipeNode) {
		if p != nil {
			walk(p)
		}
	}
	walk = func(n parse.Node) {
		if n == nil || bad != "" {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walkPipe(n.Pipe)
		case *parse.PipeNode:
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			if len(n.Ident) > 0 && !h.known[n.Ident[0]] {
				bad = n.Ident[0]
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" && !h.known[n.Ident[1]] {
				bad = n.Ident[1]
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walkPipe(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walkPipe(n.Pipe)
			walk(n.ElseList)
		case *parse.WithNode:
			walkPipe(n.Pipe)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walkPipe(n.Pipe)
		}
	}
	walk(t.Root)
	if bad != "" {
		return fmt.Errorf("%s template: no column %q in the recipients (columns: %s)", name, bad, strings.Join(h.columns, ", "))
	}
	return nil
}

// stripBOM skips a UTF-8 byte order mark at the start of r.
func stripBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	return br
}

// rowState is the per-row scratch space, reused between rows.
type rowState struct {
	data    map[string]string // column (as given and lower case) -> value
	escaped map[string]string // the same, query-escaped, for the unsubscribe URL
	buf     bytes.Buffer
}

func (p *planner) run(ctx context.Context) (*Result, error) {
	cr := csv.NewReader(stripBOM(p.o.Recipients))
	cr.ReuseRecord = true
	h, err := readHeader(cr)
	if err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(h.names)
	for _, c := range []struct {
		name string
		t    *parse.Tree
	}{{"subject", p.subject.Tree}, {"text", p.text.Tree}, {"html", htmlTree(p.html)}, {"unsubscribe-url", textTree(p.unsubURL)}, {"unsubscribe-mailto", textTree(p.unsubMail)}} {
		if err := checkFields(c.name, c.t, h); err != nil {
			return nil, err
		}
	}

	res := &Result{Columns: h.columns}
	st := &rowState{data: map[string]string{}, escaped: map[string]string{}}
	seen := map[string]int{} // lower-case address -> row of its message
	start := p.o.Start
	if start.IsZero() && !p.o.Rate.IsZero() {
		start = time.Now()
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if err != nil && !(errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount)) {
			return nil, fmt.Errorf("recipients: %w", err)
		}
		line, _ := cr.FieldPos(0)
		res.Rows++
		row := res.Rows
		if p.o.Progress != nil && row%1000 == 0 {
			p.o.Progress(row)
		}
		if err != nil {
			if pe.StartLine > 0 {
				line = pe.StartLine
			}
			res.Errors = append(res.Errors, &RowError{Row: row, Line: line, Field: "row",
				Msg: fmt.Sprintf("has %d fields, the header row has %d", len(rec), len(h.names))})
			res.Invalid++
			continue
		}
		m, draft, errs := p.row(st, h, rec, row, line)
		if len(errs) > 0 {
			res.Errors = append(res.Errors, errs...)
			res.Invalid++
			continue
		}
		key := strings.ToLower(m.Email)
		if first, dup := seen[key]; dup {
			res.Duplicates = append(res.Duplicates, &RowError{Row: row, Line: line, Field: "email",
				Msg: fmt.Sprintf("%s is a duplicate of row %d: skipped", m.Email, first)})
			continue
		}
		seen[key] = row
		m.SendAt = p.o.Rate.At(start, len(res.Messages))
		if !m.SendAt.IsZero() {
			// The Date header says when the message is due, not when it was planned.
			draft.Date = m.SendAt
		}
		var opts []message.Option
		if p.o.DKIM != nil {
			opts = append(opts, message.WithDKIM(p.o.DKIM))
		}
		r, err := message.Render(*draft, opts...)
		if err != nil {
			res.Errors = append(res.Errors, p.fieldErrors(row, line, err)...)
			res.Invalid++
			delete(seen, key)
			continue
		}
		r.Bytes = bytes.Clone(r.Bytes) // drop the render buffer's spare capacity
		m.Rendered = r
		if res.Preview == nil {
			res.Preview = draft
		}
		if len(res.Previews) < p.o.Previews {
			res.Previews = append(res.Previews, draft)
		}
		res.Messages = append(res.Messages, m)
	}
	if p.o.Progress != nil {
		p.o.Progress(res.Rows)
	}
	return res, nil
}

func htmlTree(t *htmltemplate.Template) *parse.Tree {
	if t == nil {
		return nil
	}
	return t.Tree
}

func textTree(t *template.Template) *parse.Tree {
	if t == nil {
		return nil
	}
	return t.Tree
}

// row merges one CSV row into a draft, or returns its problems.
func (p *planner) row(st *rowState, h *header, rec []string, row, line int) (Message, *message.Draft, []*RowError) {
	var errs []*RowError
	fail := func(field, format string, args ...any) {
		errs = append(errs, &RowError{Row: row, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	for i, v := range rec {
		n := h.names[i]
		if n == "" {
			continue
		}
		v = strings.TrimSpace(v)
		st.data[n], st.data[strings.ToLower(n)] = v, v
		e := url.QueryEscape(v)
		st.escaped[n], st.escaped[strings.ToLower(n)] = e, e
	}
	m := Message{Row: row, Line: line}
	raw := st.data["email"]
	addr, err := message.ParseAddress("email", raw)
	if err != nil {
		var fe *message.FieldError
		if errors.As(err, &fe) {
			fail("email", "%s", fe.Msg)
		} else {
			fail("email", "%v", err)
		}
	}
	m.Email = addr
	to := addr
	if h.name >= 0 {
		if name := st.data["name"]; name != "" {
			if bad := controlChar(name); bad != "" {
				fail("name", "%s", bad)
			} else if addr != "" {
				to = (&mail.Address{Name: name, Address: addr}).String()
			}
		}
	}
	d := &message.Draft{From: p.from, To: []string{to}, ReplyTo: p.o.Profile.ReplyTo, Attachments: p.attach}
	exec := func(field string, t interface {
		Execute(io.Writer, any) error
	}, data map[string]string) (string, bool) {
		st.buf.Reset()
		if err := t.Execute(&st.buf, data); err != nil {
			fail(field, "%s", templateErr(err))
			return "", false
		}
		return st.buf.String(), true
	}
	d.Subject, _ = exec("subject", p.subject, st.data)
	d.Text, _ = exec("text", p.text, st.data)
	if p.html != nil {
		d.HTML, _ = exec("html", p.html, st.data)
	}
	if p.signature != "" {
		// RFC 3676 signature separator, as herald send does.
		d.Text = strings.TrimRight(d.Text, "\r\n") + "\n\n-- \n" + p.signature + "\n"
	}
	d.Headers = p.headers
	var unsub []string
	if p.unsubMail != nil {
		if v, ok := exec("unsubscribe-mailto", p.unsubMail, st.data); ok {
			if u, err := mailtoURI(v); err != nil {
				fail("unsubscribe-mailto", "%v", err)
			} else {
				unsub = append(unsub, "<"+u+">")
			}
		}
	}
	oneClick := false
	if p.unsubURL != nil {
		// Fields are query-escaped here: {{.email}} in a query stays one value.
		if v, ok := exec("unsubscribe-url", p.unsubURL, st.escaped); ok {
			if u, https, err := webURI(v); err != nil {
				fail("unsubscribe-url", "%v", err)
			} else {
				unsub = append(unsub, "<"+u+">")
				oneClick = https
			}
		}
	}
	if len(unsub) > 0 {
		d.Headers = append(append([]message.Header(nil), p.headers...), message.Header{Name: "List-Unsubscribe", Value: strings.Join(unsub, ", ")})
		if oneClick {
			// RFC 8058 one-click unsubscription: only with an https URI.
			d.Headers = append(d.Headers, message.Header{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"})
		}
	}
	if len(errs) > 0 {
		return m, nil, errs
	}
	return m, d, nil
}

// fieldErrors turns message.Render's validation errors into row errors.
func (p *planner) fieldErrors(row, line int, err error) []*RowError {
	var out []*RowError
	for _, e := range flatten(err) {
		re := &RowError{Row: row, Line: line, Field: "message", Msg: e.Error()}
		var fe *message.FieldError
		if errors.As(e, &fe) {
			re.Field, re.Msg = fe.Field, fe.Msg
			switch {
			case fe.Field == "body":
				re.Field = "text"
			case strings.HasPrefix(fe.Field, "to["):
				re.Field = "email"
			case strings.HasPrefix(fe.Field, "header["):
				re.Field = "header"
			}
		}
		out = append(out, re)
	}
	return out
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func joinErrs(err error) string {
	var parts []string
	for _, e := range flatten(err) {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// templateErr shortens a template execution error to what the user needs:
// `no column "x"` for a missing key, otherwise the error without the
// "template: name:line:col: executing ..." preamble.
func templateErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "map has no entry for key "); i >= 0 {
		return "no column " + s[i+len("map has no entry for key "):]
	}
	if i := strings.LastIndex(s, "\": "); i >= 0 && strings.HasPrefix(s, "template: ") {
		return s[i+3:]
	}
	return strings.TrimPrefix(s, "template: ")
}

// controlChar describes the first control character in s, or returns "".
func controlChar(s string) string {
	for _, r := range s {
		if r == '\r' || r == '\n' {
			return "contains a line break"
		}
		if unicode.IsControl(r) && r != '\t' {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	return ""
}

// mailtoURI turns "addr", "mailto:addr" or "mailto:addr?subject=x" into a
// checked mailto URI.
func mailtoURI(s string) (string, error) {
	s = strings.TrimSpace(s)
	rest := s
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		rest = s[7:]
	}
	addr, query, hasQuery := strings.Cut(rest, "?")
	bare, err := message.ParseAddress("unsubscribe-mailto", addr)
	if err != nil {
		var fe *message.FieldError
		if errors.As(err, &fe) {
			return "", errors.New(fe.Msg)
		}
		return "", err
	}
	if bare != strings.TrimSpace(addr) {
		return "", fmt.Errorf("%q: give a bare address, without a display name", addr)
	}
	u := "mailto:" + bare
	if hasQuery {
		u += "?" + query
	}
	if err := checkURIChars(u); err != nil {
		return "", err
	}
	return u, nil
}

// webURI checks an http or https unsubscribe URL and reports whether it is https.
func webURI(s string) (string, bool, error) {
	s = strings.TrimSpace(s)
	if err := checkURIChars(s); err != nil {
		return "", false, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("%q: %v", s, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
	default:
		return "", false, fmt.Errorf("%q: must be an https URL", s)
	}
	if u.Host == "" {
		return "", false, fmt.Errorf("%q: no host", s)
	}
	return s, strings.EqualFold(u.Scheme, "https"), nil
}

// checkURIChars refuses characters that would break out of the <...> list
// of a List-Unsubscribe header.
func checkURIChars(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' {
			return fmt.Errorf("%q: contains %q, which must be percent-encoded", s, r)
		}
	}
	return nil
}

// Rate is a sending rate: N messages per Per.
type Rate struct {
	// N is the number of messages per period; 0 means no rate.
	N int
	// Per is the period: time.Second, time.Minute or time.Hour.
	Per time.Duration
}

// ParseRate reads "120/min", "2/s" or "1000/h" (also sec, second, m,
// minute, hr, hour); "" is the zero Rate.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rate{}, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/min or N/h, e.g. 120/min", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 || n > 1_000_000 {
		return Rate{}, fmt.Errorf("rate %q: the count must be a whole number from 1 to 1000000", s)
	}
	var per time.Duration
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hr", "hour":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate %q: unknown period %q (s, min or h)", s, unit)
	}
	return Rate{N: n, Per: per}, nil
}

// IsZero reports whether r sets no rate.
func (r Rate) IsZero() bool { return r.N <= 0 || r.Per <= 0 }

// String returns the rate as ParseRate reads it, e.g. "120/min".
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	unit := r.Per.String()
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "min"
	case time.Hour:
		unit = "h"
	}
	return fmt.Sprintf("%d/%s", r.N, unit)
}

// At returns when message i (from 0) is due: start + i*(Per/N), computed
// without accumulating rounding errors; without a rate it is start.
func (r Rate) At(start time.Time, i int) time.Time {
	if r.IsZero() || start.IsZero() {
		return start
	}
	n := int64(r.N)
	whole, part := int64(i)/n, int64(i)%n
	return start.Add(time.Duration(whole)*r.Per + time.Duration(part*int64(r.Per)/n))
}
