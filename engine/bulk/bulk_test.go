package bulk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/message"
)

func testProfile() *account.Profile {
	return &account.Profile{ID: "p1", Name: "news", FromAddress: "news@herald.test", FromName: "Herald News",
		ReplyTo: "help@herald.test", Headers: []message.Header{{Name: "X-Team", Value: "ops"}}}
}

func plan(t *testing.T, csvText string, o Options) *Result {
	t.Helper()
	o.Recipients = strings.NewReader(csvText)
	if o.Profile == nil {
		o.Profile = testProfile()
	}
	res, err := Plan(context.Background(), o)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return res
}

// parts reads a rendered message: its header and its decoded text and HTML bodies.
func parts(t *testing.T, raw []byte) (mail.Header, string, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	var text, html string
	var walk func(ct string, h func(string) string, body io.Reader)
	walk = func(ct string, h func(string) string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get, p)
			}
		}
		var r io.Reader = body
		if strings.EqualFold(h("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		switch mt {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get, m.Body)
	return m.Header, text, html
}

func subjectOf(t *testing.T, h mail.Header) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMergeSubjectTextHTML(t *testing.T) {
	res := plan(t, "email,name,city\nann@example.com,Ann,Paris\nbob@example.org,Bob <script>alert(1)</script>,Rome\n", Options{
		Subject: "Hi {{.name}} from {{.city}}",
		Text:    "Dear {{.name}},\nsee you in {{.city}}.\n",
		HTML:    "<p>Dear {{.name}}, see you in <b>{{.city}}</b>.</p>",
	})
	if res.Rows != 2 || len(res.Messages) != 2 || len(res.Errors) != 0 {
		t.Fatalf("rows %d messages %d errors %v", res.Rows, len(res.Messages), res.Errors)
	}
	h, text, html := parts(t, res.Messages[0].Rendered.Bytes)
	if got := subjectOf(t, h); got != "Hi Ann from Paris" {
		t.Errorf("subject %q", got)
	}
	if !strings.Contains(text, "Dear Ann,\r\nsee you in Paris.") || !strings.Contains(html, "<b>Paris</b>") {
		t.Errorf("text %q html %q", text, html)
	}
	to, err := mail.ParseAddress(h.Get("To"))
	if err != nil || to.Name != "Ann" || to.Address != "ann@example.com" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	if h.Get("From") == "" || !strings.Contains(h.Get("From"), "news@herald.test") || h.Get("Reply-To") != "<help@herald.test>" && h.Get("Reply-To") != "help@herald.test" || h.Get("X-Team") != "ops" {
		t.Errorf("profile headers: From %q Reply-To %q X-Team %q", h.Get("From"), h.Get("Reply-To"), h.Get("X-Team"))
	}
	if env := res.Messages[1].Rendered.Envelope; env.From != "news@herald.test" || len(env.To) != 1 || env.To[0] != "bob@example.org" {
		t.Errorf("envelope %+v", env)
	}
	// The field is escaped in the HTML part, and left as written in the text part.
	_, text, html = parts(t, res.Messages[1].Rendered.Bytes)
	if strings.Contains(html, "<script>") || !strings.Contains(html, "Bob &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("html not escaped: %q", html)
	}
	if !strings.Contains(text, "Dear Bob <script>alert(1)</script>,") {
		t.Errorf("text changed: %q", text)
	}
	if res.Preview == nil || res.Preview.Subject != "Hi Ann from Paris" {
		t.Errorf("preview %+v", res.Preview)
	}
}

func TestSignatureAndHeaderOverride(t *testing.T) {
	p := testProfile()
	p.Signature = "The News Team"
	res := plan(t, "Email\nann@example.com\n", Options{Profile: p, Subject: "s", Text: "Hello {{.Email}} {{.email}}",
		Headers: []message.Header{{Name: "x-team", Value: "news"}, {Name: "X-Campaign", Value: "nov"}}})
	h, text, _ := parts(t, res.Messages[0].Rendered.Bytes)
	if !strings.Contains(text, "Hello ann@example.com ann@example.com\r\n\r\n-- \r\nThe News Team") {
		t.Errorf("text %q", text)
	}
	if h.Get("X-Team") != "news" || h.Get("X-Campaign") != "nov" || len(h["X-Team"]) != 1 {
		t.Errorf("headers %v", h)
	}
}

func TestMissingColumnIsNamed(t *testing.T) {
	for name, o := range map[string]Options{
		"subject": {Subject: "Hi {{.frist_name}}", Text: "x"},
		"text":    {Subject: "Hi", Text: "{{if .name}}{{.nmae}}{{end}}"},
		"html":    {Subject: "Hi", Text: "x", HTML: "<p>{{.colour}}</p>"},
		"url":     {Subject: "Hi", Text: "x", UnsubscribeURL: "https://x.test/u?id={{.uid}}"},
	} {
		o.Recipients = strings.NewReader("email,name\na@example.com,A\n")
		o.Profile = testProfile()
		_, err := Plan(context.Background(), o)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, want := range []string{"no column", "email, name"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", name, err, want)
			}
		}
	}
	// A field read where dot is the row only at run time (inside with) is
	// caught by missingkey=error, row by row.
	res := plan(t, "email,name\na@example.com,A\n", Options{Subject: "s", Text: "{{with .name}}{{$.missing}}{{end}}"})
	if len(res.Errors) != 1 || res.Errors[0].Field != "text" || !strings.Contains(res.Errors[0].Msg, `no column "missing"`) {
		t.Fatalf("errors %v", res.Errors)
	}
	if got := res.Errors[0].Error(); got != `row 1 (line 2): text: no column "missing"` {
		t.Errorf("error text %q", got)
	}
}

func TestBadRowsReportedWithRowAndLine(t *testing.T) {
	csvText := "email,name\n" + // line 1
		"ann@example.com,Ann\n" + // line 2, row 1
		"\n" + // line 3: blank, skipped
		"nobody,Nobody\n" + // line 4, row 2: missing @
		",Empty\n" + // line 5, row 3: empty address
		"\"multi\nline\",x\n" + // lines 6-7, row 4: a quoted field over two lines
		"carl@example.com,Carl,extra\n" + // line 8, row 5: too many fields
		"dora@example.com,\"Dora\rX\"\n" + // line 9, row 6: control character in the name
		"eve@example.com,Eve\n" // line 10, row 7
	res := plan(t, csvText, Options{Subject: "Hi {{.name}}", Text: "x"})
	if res.Rows != 7 || len(res.Messages) != 2 || res.Invalid != 5 {
		t.Fatalf("rows %d messages %d invalid %d: %v", res.Rows, len(res.Messages), res.Invalid, res.Errors)
	}
	want := []struct {
		row, line int
		field     string
		msg       string
	}{
		{2, 4, "email", "missing @"},
		{3, 5, "email", "empty address"},
		{4, 6, "email", "contains a line break"},
		{5, 8, "row", "has 3 fields, the header row has 2"},
		{6, 9, "name", "line break"},
	}
	if len(res.Errors) < len(want) {
		t.Fatalf("errors %v", res.Errors)
	}
	for i, w := range want {
		e := res.Errors[i]
		if e.Row != w.row || e.Line != w.line || e.Field != w.field || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d: %v, want row %d line %d %s: %s", i, e, w.row, w.line, w.field, w.msg)
		}
	}
	if res.Messages[1].Row != 7 || res.Messages[1].Line != 10 || res.Messages[1].Email != "eve@example.com" {
		t.Errorf("last message %+v", res.Messages[1])
	}
	// A line break merged into the subject is refused by message validation, naming the field.
	res = plan(t, "email,city\nann@example.com,\"A\nB\"\n", Options{Subject: "Hi {{.city}}", Text: "x"})
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Error(), "row 1 (line 2): ") {
		t.Fatalf("errors %v", res.Errors)
	}
	found := false
	for _, e := range res.Errors {
		found = found || e.Field == "subject" && strings.Contains(e.Msg, "line break")
	}
	if !found {
		t.Errorf("no subject error: %v", res.Errors)
	}
}

func TestHeaderRow(t *testing.T) {
	// A BOM, spaces and case in the header are tolerated.
	res := plan(t, "\ufeff Email , Name ,\nann@example.com,Ann,\n", Options{Subject: "Hi {{.name}} {{.Name}}", Text: "x"})
	if len(res.Messages) != 1 || res.Preview.Subject != "Hi Ann Ann" || strings.Join(res.Columns, "|") != "Email|Name" {
		t.Fatalf("messages %d errors %v columns %q preview %+v", len(res.Messages), res.Errors, res.Columns, res.Preview)
	}
	for name, tc := range map[string]struct{ csv, want string }{
		"no email":  {"mail,name\na@b.test,A\n", "no email column"},
		"duplicate": {"email,name,Name\na@b.test,A,B\n", `column 3 "Name" repeats column 2 "name"`},
		"empty":     {"", "empty"},
		"bad quote": {"email,name\na@b.test,\"A\n", "recipients:"},
	} {
		_, err := Plan(context.Background(), Options{Recipients: strings.NewReader(tc.csv), Profile: testProfile(), Subject: "s", Text: "t"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

func TestDuplicatesAreSkippedAndReported(t *testing.T) {
	res := plan(t, "email\nann@example.com\nbob@example.com\nAnn@Example.com\nbad\nbad\n", Options{Subject: "s", Text: "t"})
	if len(res.Messages) != 2 || len(res.Duplicates) != 1 || res.Invalid != 2 {
		t.Fatalf("messages %d duplicates %v invalid %d", len(res.Messages), res.Duplicates, res.Invalid)
	}
	d := res.Duplicates[0]
	if d.Row != 3 || d.Line != 4 || d.Field != "email" || !strings.Contains(d.Msg, "duplicate of row 1") {
		t.Errorf("duplicate %v", d)
	}
}

func TestListUnsubscribe(t *testing.T) {
	res := plan(t, "email\nann+x@example.com\n", Options{Subject: "s", Text: "t",
		UnsubscribeMailto: "unsubscribe@herald.test?subject=unsubscribe", UnsubscribeURL: "https://herald.test/u?e={{.email}}"})
	h, _, _ := parts(t, res.Messages[0].Rendered.Bytes)
	want := "<mailto:unsubscribe@herald.test?subject=unsubscribe>, <https://herald.test/u?e=ann%2Bx%40example.com>"
	if got := h.Get("List-Unsubscribe"); got != want {
		t.Errorf("List-Unsubscribe %q, want %q", got, want)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	// mailto only: no one-click header.
	res = plan(t, "email\nann@example.com\n", Options{Subject: "s", Text: "t", UnsubscribeMailto: "mailto:u@herald.test"})
	h, _, _ = parts(t, res.Messages[0].Rendered.Bytes)
	if h.Get("List-Unsubscribe") != "<mailto:u@herald.test>" || h.Get("List-Unsubscribe-Post") != "" {
		t.Errorf("mailto only: %q %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
	}
	// A bad URL is a row error; a clashing --header is refused up front.
	res = plan(t, "email\nann@example.com\n", Options{Subject: "s", Text: "t", UnsubscribeURL: "ftp://herald.test/u"})
	if len(res.Errors) != 1 || res.Errors[0].Field != "unsubscribe-url" {
		t.Errorf("ftp URL: %v", res.Errors)
	}
	_, err := Plan(context.Background(), Options{Recipients: strings.NewReader("email\na@b.test\n"), Profile: testProfile(), Subject: "s", Text: "t",
		UnsubscribeURL: "https://x.test/u", Headers: []message.Header{{Name: "List-Unsubscribe", Value: "<https://y.test>"}}})
	if err == nil || !strings.Contains(err.Error(), "List-Unsubscribe") {
		t.Errorf("clash: %v", err)
	}
}

func TestRateSchedule(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rate, err := ParseRate("120/min")
	if err != nil || rate != (Rate{120, time.Minute}) || rate.String() != "120/min" {
		t.Fatalf("ParseRate: %v %v", rate, err)
	}
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 5 {
		fmt.Fprintf(&b, "r%d@example.com\n", i)
	}
	b.WriteString("bad\n")
	b.WriteString("r5@example.com\n")
	res := plan(t, b.String(), Options{Subject: "s", Text: "t", Rate: rate, Start: start})
	if len(res.Messages) != 6 {
		t.Fatalf("messages %d: %v", len(res.Messages), res.Errors)
	}
	for i, m := range res.Messages {
		// Valid messages are spaced evenly; the invalid row leaves no gap.
		if want := start.Add(time.Duration(i) * 500 * time.Millisecond); !m.SendAt.Equal(want) {
			t.Errorf("message %d at %v, want %v", i, m.SendAt, want)
		}
	}
	h, _, _ := parts(t, res.Messages[4].Rendered.Bytes)
	if d, err := h.Date(); err != nil || !d.Equal(start.Add(2*time.Second)) {
		t.Errorf("Date %v %v", d, err)
	}
	if got := (Rate{3, time.Second}).At(start, 1_000_000); !got.Equal(start.Add(1_000_000 * time.Second / 3)) {
		t.Errorf("At(1e6) = %v", got)
	}
	// Without a rate, a start time schedules everything at once; without either, nothing is scheduled.
	res = plan(t, "email\na@example.com\nb@example.com\n", Options{Subject: "s", Text: "t", Start: start})
	if !res.Messages[1].SendAt.Equal(start) {
		t.Errorf("no rate: %v", res.Messages[1].SendAt)
	}
	res = plan(t, "email\na@example.com\n", Options{Subject: "s", Text: "t"})
	if !res.Messages[0].SendAt.IsZero() {
		t.Errorf("unscheduled: %v", res.Messages[0].SendAt)
	}
	for _, s := range []string{"120", "0/min", "x/min", "10/week", "-1/s"} {
		if _, err := ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q): no error", s)
		}
	}
	for s, want := range map[string]Rate{"2/s": {2, time.Second}, "1000/h": {1000, time.Hour}, " 5 / minute ": {5, time.Minute}, "": {}} {
		if got, err := ParseRate(s); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v", s, got, err)
		}
	}
}

func TestAttachmentReadOnce(t *testing.T) {
	f := filepath.Join(t.TempDir(), "terms.txt")
	if err := os.WriteFile(f, []byte("the terms"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Subject: "s", Text: "t", Attachments: []message.Attachment{{Path: f}}, Recipients: strings.NewReader("email\na@example.com\nb@example.com\n"), Profile: testProfile()}
	p, err := newPlanner(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f); err != nil { // the planner holds the content now
		t.Fatal(err)
	}
	res, err := p.run(context.Background())
	if err != nil || len(res.Messages) != 2 {
		t.Fatalf("%v %v", err, res)
	}
	if !bytes.Contains(res.Messages[1].Rendered.Bytes, []byte("terms.txt")) {
		t.Errorf("attachment missing")
	}
	o.Attachments = []message.Attachment{{Path: f}}
	if _, err := Plan(context.Background(), o); err == nil || !strings.Contains(err.Error(), "attachment[0]") {
		t.Errorf("missing attachment: %v", err)
	}
}

func TestTenThousandRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,name,code\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "user%d@example.com,User %d,C%05d\n", i, i, i)
	}
	calls := 0
	res := plan(t, b.String(), Options{Subject: "Your code, {{.name}}", Text: "Code: {{.code}}", HTML: "<p>Code: {{.code}}</p>",
		UnsubscribeURL: "https://herald.test/u?e={{.email}}", Rate: Rate{600, time.Minute}, Start: time.Now().Add(time.Hour),
		Progress: func(int) { calls++ }})
	if res.Rows != 10_000 || len(res.Messages) != 10_000 || len(res.Errors) != 0 || calls != 11 {
		t.Fatalf("rows %d messages %d errors %d progress calls %d", res.Rows, len(res.Messages), len(res.Errors), calls)
	}
	if !bytes.Contains(res.Messages[9999].Rendered.Bytes, []byte("C09999")) {
		t.Errorf("last message lacks its code")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Plan(ctx, Options{Recipients: strings.NewReader("email\na@example.com\n"), Profile: testProfile(), Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("no error after cancel")
	}
}

func TestPreviewsKeepTheFirstValidDrafts(t *testing.T) {
	csv := "email,name\nann@x.test,Ann\nnot-an-address,Bad\nbob@x.test,Bob\ncid@x.test,Cid\ndan@x.test,Dan\n"
	res := plan(t, csv, Options{Subject: "Hi {{.name}}", Text: "Dear {{.name}}", Previews: 3})
	if len(res.Previews) != 3 {
		t.Fatalf("%d previews, want 3", len(res.Previews))
	}
	for i, want := range []string{"Hi Ann", "Hi Bob", "Hi Cid"} {
		if res.Previews[i].Subject != want || res.Messages[i].Email != strings.ToLower(res.Previews[i].Subject[3:])+"@x.test" {
			t.Errorf("preview %d: %q for %s", i, res.Previews[i].Subject, res.Messages[i].Email)
		}
	}
	if res.Preview != res.Previews[0] {
		t.Error("Preview is not the first of Previews")
	}
	if res := plan(t, csv, Options{Subject: "x", Text: "y"}); len(res.Previews) != 0 {
		t.Fatalf("previews kept without asking: %d", len(res.Previews))
	}
}
