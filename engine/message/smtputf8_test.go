package message

import "testing"

func TestNeedsSMTPUTF8(t *testing.T) {
	ascii := []byte("From: a@example.com\r\nSubject: hi\r\n\r\nbody with ü\r\n")
	cases := []struct {
		from string
		to   []string
		raw  []byte
		want bool
	}{
		{"a@example.com", []string{"b@example.com"}, ascii, false},
		{"jörg@example.com", []string{"b@example.com"}, ascii, true},
		{"a@example.com", []string{"b@bücher.example"}, ascii, true},
		{"a@example.com", []string{"b@example.com"}, []byte("From: Jörg <a@example.com>\r\n\r\nx\r\n"), true},
	}
	for i, c := range cases {
		if got := NeedsSMTPUTF8(c.from, c.to, c.raw); got != c.want {
			t.Errorf("case %d: NeedsSMTPUTF8 = %v, want %v", i, got, c.want)
		}
	}
}
