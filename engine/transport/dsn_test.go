package transport

import "testing"

func TestParseDSN(t *testing.T) {
	d, err := ParseDSN("success, failure,delay", "HDRS", "abc-123")
	if err != nil || len(d.Notify) != 3 || d.Notify[0] != "SUCCESS" || d.Return != "hdrs" || d.EnvID != "abc-123" {
		t.Fatalf("ParseDSN = %+v, %v", d, err)
	}
	if d, err := ParseDSN("never", "", ""); err != nil || d.Notify[0] != "NEVER" {
		t.Fatalf("never alone: %+v, %v", d, err)
	}
	for _, c := range [][3]string{{"never,success", "", ""}, {"sometimes", "", ""}, {"success,success", "", ""},
		{"", "all", ""}, {"", "", "has space"}, {"", "", "é"}, {"", "", string(make([]byte, 101))}} {
		if _, err := ParseDSN(c[0], c[1], c[2]); err == nil {
			t.Errorf("ParseDSN(%q, %q, %q) accepted", c[0], c[1], c[2])
		}
	}
}

func TestValidHeloName(t *testing.T) {
	for _, ok := range []string{"", "mail.example.com", "localhost", "host_1.example.", "[192.0.2.1]", "[IPv6:2001:db8::1]", "bücher.example"} {
		if err := ValidHeloName(ok); err != nil {
			t.Errorf("ValidHeloName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a\r\nMAIL FROM:<x>", "two words", "[300.1.1.1]", "[192.0.2.1", "-bad.example", "a..b", "x\x00y"} {
		if err := ValidHeloName(bad); err == nil {
			t.Errorf("ValidHeloName(%q) accepted", bad)
		}
	}
}
