package message

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
	"testing"
)

// A quoted local part is part of the address: it must reach the envelope
// quoted, or RCPT TO names another mailbox (bob@evil.example@example.com).
func TestParseAddressKeepsQuotedLocalPart(t *testing.T) {
	for in, want := range map[string]string{
		`"bob@evil.example"@example.com`:        `"bob@evil.example"@example.com`,
		`"john..doe"@example.com`:               `"john..doe"@example.com`,
		`Bob <"john doe"@example.com>`:          `"john doe"@example.com`,
		`"a\"b\\c"@example.com`:                 `"a\"b\\c"@example.com`,
		`"plain"@example.com`:                   `plain@example.com`,
		`"jörg.müller"@bücher.example`:          `jörg.müller@bücher.example`,
		`ann@[192.0.2.1]`:                       `ann@[192.0.2.1]`,
		`first.last+tag@sub_domain.example.com`: `first.last+tag@sub_domain.example.com`,
	} {
		got, err := ParseAddress("to[0]", in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseAddressRefusesSmuggling(t *testing.T) {
	for _, in := range []string{
		`"a@b> ORCPT=rfc822;evil@x.test"@x.test`,
		`<a@b> SIZE=1`,
		`a@b> SIZE=1`,
		`"x<y"@example.com`,
		`a@example.com SIZE=1`,
		`a@exa mple.com`,
		`a@[1.2.3.4> x]`,
		`a@-bad.example`,
		`a@example..com`,
		"\"a\tb\"@example.com",
	} {
		got, err := ParseAddress("to[0]", in)
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) || fe.Field != "to[0]" {
			t.Errorf("ParseAddress(%q) = %q, %v; want a *FieldError for to[0]", in, got, err)
			continue
		}
		if !strings.Contains(fe.Msg, "is not an address") {
			t.Errorf("ParseAddress(%q): %q does not say it is not an address", in, fe.Msg)
		}
	}
}

func TestRenderQuotedLocalPartEnvelopeAndHeader(t *testing.T) {
	r, err := Render(Draft{From: `"ann..x"@example.com`, To: []string{`"bob@evil.example"@example.com`}, Cc: []string{`Joe <"john doe"@example.org>`}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"bob@evil.example"@example.com`, `"john doe"@example.org`}
	if r.Envelope.From != `"ann..x"@example.com` || strings.Join(r.Envelope.To, ",") != strings.Join(want, ",") {
		t.Fatalf("envelope %+v, want %v", r.Envelope, want)
	}
	if err := r.Envelope.Validate(); err != nil {
		t.Errorf("Envelope.Validate: %v", err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "bob@evil.example@example.com" {
		t.Errorf("To header %q parses as %v, %v", m.Header.Get("To"), to, err)
	}
	if !strings.Contains(m.Header.Get("To"), `"bob@evil.example"@example.com`) {
		t.Errorf("To header %q lost the quotes", m.Header.Get("To"))
	}
}

func TestEnvelopeValidate(t *testing.T) {
	if err := (Envelope{From: "", To: []string{"a@example.com"}}).Validate(); err != nil {
		t.Errorf("null sender: %v", err)
	}
	err := Envelope{From: "<a@b> SIZE=1", To: []string{"ok@example.com", `a@b> ORCPT=x`, "Bob <bob@example.com>"}}.Validate()
	var fields []string
	for _, e := range fieldErrors(t, err) {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, ",") != "from,to[1],to[2]" {
		t.Errorf("fields %v (%v)", fields, err)
	}
	if err := (Envelope{From: "a@example.com"}).Validate(); err == nil {
		t.Error("no recipient accepted")
	}
}

func TestExplainInPersonsWords(t *testing.T) {
	d := validDraft()
	d.To = []string{"<a@b> SIZE=1"}
	d.Headers = []Header{{"X-A", "ok"}, {"X B", "v"}}
	got := Explain(d.Validate())
	want := "To: \"<a@b> SIZE=1\" is not an address: unexpected text after the address\nHeader 2: name \"X B\" is not a valid header field name"
	if got != want {
		t.Errorf("Explain = %q\nwant      %q", got, want)
	}
	if Explain(errors.New("plain")) != "plain" || Explain(nil) != "" {
		t.Error("Explain of a plain error or nil")
	}
}

func TestParseAddressSaysWhatIsMissing(t *testing.T) {
	for in, want := range map[string]string{
		"bob@":              `To: "bob@" is not an address: it has no domain after the @`,
		"Bob <bob@>":        `To: "Bob <bob@>" is not an address: it has no domain after the @`,
		"@example.com":      `To: "@example.com" is not an address: it has nothing before the @`,
		"bob smith@example": `To: "bob smith@example" is not an address: it contains a space`,
	} {
		_, err := ParseAddress("to[3]", in)
		if got := Explain(err); got != want {
			t.Errorf("ParseAddress(%q): %q, want %q", in, got, want)
		}
	}
}
