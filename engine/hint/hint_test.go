package hint

import (
	"reflect"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	for _, h := range []Hint{
		{},
		{Text: "plain advice"},
		{Text: "{looks like JSON but is text"},
		{Text: "Then release the held messages.", Fixes: []Fix{{Setting: Password, Label: "Enter the password again"}, {Setting: ReleaseHeld, Label: "Release the held messages"}}},
		{Text: "use implicit TLS", Fixes: []Fix{{Setting: TLS, Value: "implicit", Label: "Use implicit TLS on port 465", Also: []Change{{Setting: Port, Value: "465"}}}}, Link: "https://example.com/"},
	} {
		got := Decode(h.Encode())
		if !reflect.DeepEqual(got, h) {
			t.Errorf("Decode(Encode(%+v)) = %+v", h, got)
		}
	}
	if h := (Hint{Text: "only text"}); h.Encode() != "only text" {
		t.Errorf("a hint without fixes encodes as %q, want its text", h.Encode())
	}
	if got := Decode("Fix the profile, then release the messages"); got.Text != "Fix the profile, then release the messages" || got.Fixes != nil {
		t.Errorf("an old plain hint decodes as %+v", got)
	}
}

func TestChanges(t *testing.T) {
	f := Fix{Setting: TLS, Value: "implicit", Also: []Change{{Setting: Port, Value: "465"}}}
	if got := f.Changes(); !reflect.DeepEqual(got, []Change{{TLS, "implicit"}, {Port, "465"}}) {
		t.Errorf("Changes = %+v", got)
	}
}
