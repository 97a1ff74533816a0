package message

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMailto(t *testing.T) {
	cases := []struct {
		uri  string
		want Draft
	}{
		{"mailto:ann@example.com", Draft{To: []string{"ann@example.com"}}},
		{"MAILTO:ann@example.com,bob@example.org", Draft{To: []string{"ann@example.com", "bob@example.org"}}},
		{"mailto:?to=ann@example.com&to=bob@example.com,cy@example.com", Draft{To: []string{"ann@example.com", "bob@example.com", "cy@example.com"}}},
		{"mailto:ann@example.com?subject=Gr%C3%BC%C3%9Fe%20and%20a+plus&cc=c1@example.com,c2@example.com&bcc=hidden@example.com&body=Line%201%0D%0ALine%202%0A",
			Draft{To: []string{"ann@example.com"}, Cc: []string{"c1@example.com", "c2@example.com"}, Bcc: []string{"hidden@example.com"},
				Subject: "Grüße and a+plus", Text: "Line 1\nLine 2\n"}},
		{"mailto:%22Doe%2C%20Jane%22%20%3Cjane@example.com%3E", Draft{To: []string{`"Doe, Jane" <jane@example.com>`}}},
		{"mailto:ann%40example.com?Subject=Hi&X-Unknown=ignored&in-reply-to=%3Cx@y%3E#frag", Draft{To: []string{"ann@example.com"}, Subject: "Hi"}},
		{"mailto:", Draft{}},
	}
	for _, c := range cases {
		got, err := ParseMailto(c.uri)
		if err != nil {
			t.Errorf("ParseMailto(%q): %v", c.uri, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseMailto(%q) =\n %+v, want\n %+v", c.uri, got, c.want)
		}
	}
}

func TestParseMailtoRejects(t *testing.T) {
	cases := map[string]string{
		"mailto:ann@example.com?subject=Hi%0D%0ABcc:%20victim@example.com": "line break",
		"mailto:ann@example.com%0D%0ABcc:victim@example.com":               "line break",
		"mailto:ann@example.com?cc=x@example.com%0Abcc:y@example.com":      "line break",
		"mailto:ann@example.com?subject=a%00b":                             "control character",
		"mailto:not-an-address":                                            "missing @",
		"mailto:ann@example.com?subject=%zz":                               "percent-encoding",
		"http://example.com":                                               "does not start with mailto:",
		"mailto:a@example.com?subject=one&subject=two":                     "twice",
		"mailto:a@example.com?body=" + strings.Repeat("x", maxMailto):      "longer than",
	}
	for uri, want := range cases {
		_, err := ParseMailto(uri)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMailto(%.60q) error = %v, want one containing %q", uri, err, want)
		}
	}
}
