package account

import (
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/message"
)

func TestApplyToMergesProfileIntoDraft(t *testing.T) {
	p := &Profile{FromName: "Ann", FromAddress: "ann@example.com", ReplyTo: "help@example.com",
		Headers:   []message.Header{{Name: "X-Team", Value: "ops"}, {Name: "X-Mailer", Value: "profile"}},
		Signature: "Ann\nExample Ltd"}
	d := message.Draft{Text: "Hello\r\n", Headers: []message.Header{{Name: "x-mailer", Value: "draft"}}}
	p.ApplyTo(&d)
	if d.From != p.From() || d.ReplyTo != "help@example.com" {
		t.Fatalf("From/Reply-To = %q/%q", d.From, d.ReplyTo)
	}
	if len(d.Headers) != 2 || d.Headers[1].Value != "draft" || d.Headers[0].Value != "ops" {
		t.Fatalf("headers = %+v, want the profile's X-Team and the draft's X-Mailer", d.Headers)
	}
	if !strings.HasSuffix(d.Text, "Hello\n\n-- \nAnn\nExample Ltd\n") {
		t.Fatalf("text = %q, want the signature after an RFC 3676 separator", d.Text)
	}

	own := message.Draft{From: "bob@example.com", ReplyTo: "bob@example.com"}
	(&Profile{FromAddress: "ann@example.com", ReplyTo: "x@example.com"}).ApplyTo(&own)
	if own.From != "bob@example.com" || own.ReplyTo != "bob@example.com" || own.Text != "" {
		t.Fatalf("a draft's own From/Reply-To were replaced: %+v", own)
	}
}
