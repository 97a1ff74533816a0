package transport

import "testing"

func TestValidAddressQuotedLocalPart(t *testing.T) {
	for _, a := range []string{`"john doe"@example.com`, `"bob@evil.example"@example.com`, `"john..doe"@example.com`, `"a\"b c"@x.test`, "ann@example.com", ""} {
		if err := validAddress(a); err != nil {
			t.Errorf("validAddress(%q) = %v, want nil", a, err)
		}
	}
	for _, a := range []string{`"a@b"> ORCPT=x@y`, `"john doe"@example.com SIZE=1`, "a b@x.test", "<a@b>", "a@b>"} {
		if err := validAddress(a); err == nil {
			t.Errorf("validAddress(%q) = nil, want an error", a)
		}
	}
}
