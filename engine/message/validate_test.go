package message

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func validDraft() Draft {
	return Draft{From: "Ann <ann@example.com>", To: []string{"bob@example.org"}, Subject: "Hello", Text: "Hi Bob"}
}

// fieldErrors unpacks the joined *FieldError values of a Validate result.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []*FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("not a *FieldError: %T %v", e, e)
			}
			out = append(out, fe)
		}
		return out
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("not a *FieldError: %T %v", err, err)
	}
	return []*FieldError{fe}
}

func TestValidDraftPasses(t *testing.T) {
	if err := validDraft().Validate(); err != nil {
		t.Fatalf("valid draft: %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.pdf")
	tests := []struct {
		name  string
		edit  func(*Draft)
		field string
		want  string // exact Error() of the single problem
	}{
		{"from required", func(d *Draft) { d.From = " " }, "from", "from: required"},
		{"from missing @", func(d *Draft) { d.From = "ann.example.com" }, "from", `from: "ann.example.com" is not an address: missing @`},
		{"to missing @", func(d *Draft) { d.To = []string{"a@x.test", "b@x.test", "carol"} }, "to[2]", `to[2]: "carol" is not an address: missing @`},
		{"cc unclosed", func(d *Draft) { d.Cc = []string{"Carol <c@x.test"} }, "cc[0]", `cc[0]: "Carol <c@x.test" is not an address: unclosed angle-addr`},
		{"bcc empty entry", func(d *Draft) { d.Bcc = []string{"  "} }, "bcc[0]", "bcc[0]: empty address"},
		{"two in one", func(d *Draft) { d.To = []string{"a@x.test, b@x.test"} }, "to[0]", `to[0]: "a@x.test, b@x.test" holds more than one address; give each one separately`},
		{"reply-to", func(d *Draft) { d.ReplyTo = "nobody" }, "reply-to", `reply-to: "nobody" is not an address: missing @`},
		{"no recipient", func(d *Draft) { d.To = nil }, "to", "to: at least one recipient is required (to, cc or bcc)"},
		{"subject line break", func(d *Draft) { d.Subject = "a\nb" }, "subject", "subject: contains a line break"},
		{"subject control", func(d *Draft) { d.Subject = "a\x00b" }, "subject", "subject: contains the control character U+0000"},
		{"subject bad utf8", func(d *Draft) { d.Subject = "a\xffb" }, "subject", "subject: is not valid UTF-8"},
		{"subject too long to fold", func(d *Draft) { d.Subject = strings.Repeat("x", 1000) }, "subject", ""},
		{"header value too long", func(d *Draft) { d.Headers = []Header{{"X-Long", "a " + strings.Repeat("y", 999)}} }, "header[0]", ""},
		{"header bad name", func(d *Draft) { d.Headers = []Header{{"X Bad", "v"}} }, "header[0]", `header[0]: name "X Bad" is not a valid header field name`},
		{"header colon name", func(d *Draft) { d.Headers = []Header{{"X-A:", "v"}} }, "header[0]", `header[0]: name "X-A:" is not a valid header field name`},
		{"header empty name", func(d *Draft) { d.Headers = []Header{{"", "v"}} }, "header[0]", "header[0]: name is empty"},
		{"header structural", func(d *Draft) { d.Headers = []Header{{"X-Ok", "1"}, {"bcc", "x@y.test"}} }, "header[1]", "header[1]: Bcc is set from the draft's own fields and cannot be an extra header"},
		{"header content-", func(d *Draft) { d.Headers = []Header{{"Content-Type", "text/html"}} }, "header[0]", "header[0]: Content-Type is a MIME structure header and cannot be an extra header"},
		{"header duplicate", func(d *Draft) { d.Headers = []Header{{"X-Tag", "a"}, {"x-tag", "b"}} }, "header[1]", "header[1]: x-tag is already given in header[0]"},
		{"header value break", func(d *Draft) { d.Headers = []Header{{"X-Tag", "a\r\nBcc: evil@x.test"}} }, "header[0]", "header[0]: contains a line break"},
		{"attachment missing file", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "ok.txt", Data: []byte("x")}, {Path: missing}}
		}, "attachment[1]", "attachment[1]: " + missing + ": no such file"},
		{"attachment directory", func(d *Draft) { d.Attachments = []Attachment{{Path: t.TempDir()}} }, "attachment[0]", ""},
		{"attachment nothing", func(d *Draft) { d.Attachments = []Attachment{{Name: "x"}} }, "attachment[0]", "attachment[0]: neither a path nor data given"},
		{"attachment data no name", func(d *Draft) { d.Attachments = []Attachment{{Data: []byte("x")}} }, "attachment[0]", "attachment[0]: name is required when attaching data"},
		{"attachment bad type", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a", Data: []byte("x"), ContentType: "not a type"}}
		}, "attachment[0]", ""},
		{"body NUL", func(d *Draft) { d.Text = "a\x00b" }, "body", "body: contains a NUL byte"},
		{"html bad utf8", func(d *Draft) { d.HTML = "\xc3(" }, "html", "html: is not valid UTF-8"},
		{"message-id", func(d *Draft) { d.MessageID = "no-at-sign" }, "message-id", `message-id: "no-at-sign": missing @`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDraft()
			tt.edit(&d)
			errs := fieldErrors(t, d.Validate())
			if len(errs) != 1 {
				t.Fatalf("want exactly one problem, got %v", errs)
			}
			if errs[0].Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", errs[0].Field, tt.field, errs[0])
			}
			if tt.want != "" && errs[0].Error() != tt.want {
				t.Errorf("Error() = %q\nwant      %q", errs[0].Error(), tt.want)
			}
			if !strings.HasPrefix(errs[0].Error(), tt.field+": ") {
				t.Errorf("error %q does not start with the field name", errs[0])
			}
			if _, err := Render(d); err == nil {
				t.Error("Render accepted a draft Validate refuses")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	d := Draft{To: []string{"x"}, Cc: []string{"ok@x.test", "y@"}, Subject: "a\rb", Headers: []Header{{"Date", "today"}}}
	var fields []string
	for _, e := range fieldErrors(t, d.Validate()) {
		fields = append(fields, e.Field)
	}
	want := []string{"from", "to[0]", "cc[1]", "subject", "header[0]"}
	if strings.Join(fields, ",") != strings.Join(want, ",") {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Draft)
	}{
		{"subject", func(d *Draft) { d.Subject = "Hi\r\nBcc: victim@x.test" }},
		{"subject", func(d *Draft) { d.Subject = "Hi\rX: y" }},
		{"from", func(d *Draft) { d.From = "Ann\r\nBcc: victim@x.test <ann@example.com>" }},
		{"from", func(d *Draft) { d.From = "\"Ann\nX\" <ann@example.com>" }},
		{"from", func(d *Draft) { d.From = "=?utf-8?q?Ann=0D=0AX-Evil=3A_1?= <ann@example.com>" }},
		{"to[0]", func(d *Draft) { d.To = []string{"bob@example.org\r\nBcc: victim@x.test"} }},
		{"cc[0]", func(d *Draft) { d.Cc = []string{"Carol\n <c@x.test>"} }},
		{"bcc[0]", func(d *Draft) { d.Bcc = []string{"d@x.test\r"} }},
		{"reply-to", func(d *Draft) { d.ReplyTo = "r@x.test\nX-Evil: 1" }},
		{"header[0]", func(d *Draft) { d.Headers = []Header{{"X-Campaign", "spring\r\nBcc: victim@x.test"}} }},
		{"header[0]", func(d *Draft) { d.Headers = []Header{{"X-Campaign\r\nBcc", "victim@x.test"}} }},
		{"attachment[0]", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a\r\nContent-Type: text/html", Data: []byte("x")}}
		}},
		{"attachment[0]", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a.txt", Data: []byte("x"), ContentType: "text/plain\r\nX-Evil: 1"}}
		}},
		{"message-id", func(d *Draft) { d.MessageID = "<a@b>\r\nBcc: victim@x.test" }},
	}
	for _, tt := range tests {
		d := validDraft()
		tt.edit(&d)
		errs := fieldErrors(t, d.Validate())
		if len(errs) != 1 || errs[0].Field != tt.field {
			t.Errorf("%s: got %v, want one error on %s", tt.field, errs, tt.field)
			continue
		}
		if !strings.Contains(errs[0].Msg, "line break") {
			t.Errorf("%s: %q does not say line break", tt.field, errs[0])
		}
		if r, err := Render(d); err == nil {
			t.Errorf("%s: rendered anyway:\n%s", tt.field, r.Bytes)
		}
	}
}

func TestParseAddress(t *testing.T) {
	ok := []struct{ in, want string }{
		{"ann@example.com", "ann@example.com"},
		{"  Ann Smith <ann@example.com> ", "ann@example.com"},
		{`"Smith, Ann" <ann@example.com>`, "ann@example.com"},
		{"=?utf-8?q?J=C3=B6rg?= <j@example.com>", "j@example.com"},
		{"Jörg <jörg@bücher.example>", "jörg@bücher.example"},
		{"herald@localhost", "herald@localhost"},
	}
	for _, tt := range ok {
		got, err := ParseAddress("to[0]", tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "to[3]: empty address"},
		{"ann", `to[3]: "ann" is not an address: missing @`},
		{"ann@", ""},
		{"a b@c", ""},
		{"ann@example.com\n", "to[3]: contains a line break"},
	}
	for _, tt := range bad {
		_, err := ParseAddress("to[3]", tt.in)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "to[3]" {
			t.Errorf("ParseAddress(%q): error %v is not a *FieldError for to[3]", tt.in, err)
			continue
		}
		if tt.want != "" && err.Error() != tt.want {
			t.Errorf("ParseAddress(%q) error = %q, want %q", tt.in, err, tt.want)
		}
	}
}

func TestLongFoldableValuesAccepted(t *testing.T) {
	d := validDraft()
	d.Subject = strings.Repeat("word ", 400)
	d.Headers = []Header{{"X-Long", strings.Repeat("ü", 600)}}
	r, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(r.Bytes), "\r\n") {
		if len(l) > maxLine {
			t.Errorf("line of %d characters: %.60q...", len(l), l)
		}
	}
}
