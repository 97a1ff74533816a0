package message

import (
	"strconv"
	"strings"
	"testing"
)

const mixedMsg = "From: =?utf-8?q?Ann_=C3=85?= <a@example.com>\r\nTo: Bob <b@example.com>, c@example.com\r\nSubject: =?iso-8859-1?q?caf=E9?=\r\n" +
	"X-Long: one\r\n two\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
	"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplain caf=E9\r\nline two\r\n" +
	"--b2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi <b>there</b><script>alert(1)</script> <a href=3D\"https://x.test/\">site</a><img src=3D\"https://t.test/p.gif\"></p>\r\n--b2--\r\n" +
	"--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBO\r\nRw==\r\n" +
	"--b1\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBE\r\nRi0=\r\n--b1--\r\n"

func TestParse(t *testing.T) {
	c, err := Parse([]byte(mixedMsg))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range c.Headers {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "From,To,Subject,X-Long,MIME-Version,Content-Type" {
		t.Errorf("headers in order: %v", names)
	}
	if c.Get("subject") != "café" || c.Get("From") != "Ann Å <a@example.com>" || c.Get("X-Long") != "one two" || c.Headers[2].Raw != "=?iso-8859-1?q?caf=E9?=" {
		t.Errorf("header values: %+v", c.Headers)
	}
	if !c.HasText || c.Text != "plain café\nline two" || !c.HasHTML || !strings.Contains(c.HTML, "<script>") {
		t.Errorf("bodies: %q %q", c.Text, c.HTML)
	}
	if len(c.Parts) != 2 || c.Parts[0].ContentID != "logo@x" || !c.Parts[0].Inline || c.Parts[0].Size() != 4 ||
		c.Parts[1].Name != "r.pdf" || c.Parts[1].Inline || c.Parts[1].Type != "application/pdf" || string(c.Parts[1].Data) != "%PDF-" {
		t.Errorf("parts: %+v", c.Parts)
	}
}

func TestParseBroken(t *testing.T) {
	c, _ := Parse([]byte("Subject: x\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n"))
	if c == nil || c.Get("Subject") != "x" {
		t.Fatalf("headers of a broken message: %+v", c)
	}
	c, err := Parse([]byte("not a header line\n\nbody"))
	if err == nil || c.Text == "" {
		t.Errorf("unreadable message: %v %+v", err, c)
	}
	if _, err := Parse([]byte(nest(maxDepth + 2))); err == nil || !strings.Contains(err.Error(), "too deep") {
		t.Errorf("deep nesting: %v", err)
	}
}

// nest builds a message whose multiparts nest n deep.
func nest(n int) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i <= n; i++ {
		b.WriteString("--b" + itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n")
	}
	b.WriteString("--b" + itoa(n) + "\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	for i := n; i >= 0; i-- {
		b.WriteString("--b" + itoa(i) + "--\r\n")
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestHTMLTextIsSafe(t *testing.T) {
	got := HTMLText(`<html><head><title>T</title><style>p{}</style><script>alert(1)</script></head><body><h1>Hi</h1><p>See <a href="https://example.com/x">this</a></p><img src="https://tracker.example/p.gif" alt="logo"><img src="cid:a@b" alt="chart"><ul><li>one</li></ul><iframe src="https://x.example/"></iframe><p>See you <b>at noon</b>.</p><a href="#top">top</a></body></html>`)
	for _, bad := range []string{"alert", "p{}", "p.gif", "x.example", "T\n", "#top"} {
		if strings.Contains(got, bad) {
			t.Errorf("text shows %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"Hi\n", "See this <https://example.com/x>", "[remote image not loaded: tracker.example — logo]", "[image: chart]", "• one", "See you at noon.", "1 image(s) not loaded"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
}

func TestHTMLTextLimit(t *testing.T) {
	got := HTMLTextLimit(strings.Repeat("<p>word word word</p>", 1000), 100)
	if len(got) > 200 || !strings.HasSuffix(got, "…") {
		t.Errorf("limited text of %d bytes: %q", len(got), got)
	}
	if got := HTMLText("<p>a</p>\n\n\n<p></p><p></p><p>b</p>"); got != "a\n\nb" && got != "a\nb" {
		t.Errorf("blank lines: %q", got)
	}
}

func TestDraftFromMessage(t *testing.T) {
	d, err := DraftFromMessage([]byte(mixedMsg))
	if err != nil {
		t.Fatal(err)
	}
	if d.From != "Ann Å <a@example.com>" || d.Subject != "café" || len(d.To) != 2 || d.To[0] != `"Bob" <b@example.com>` || d.To[1] != "<c@example.com>" {
		t.Errorf("draft header fields: %+v", d)
	}
	if d.Text != "plain café\nline two" || !strings.Contains(d.HTML, "<p>Hi") || len(d.Attachments) != 2 || d.Attachments[0].Name != "attachment" ||
		d.Attachments[1].Name != "r.pdf" || d.Attachments[1].ContentType != "application/pdf" {
		t.Errorf("draft body: %+v", d)
	}
	// A round trip through Render keeps what a draft says.
	r, err := Render(Draft{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Grüße", Text: "hello\nthere", HTML: "<p>hello</p>",
		Attachments: []Attachment{{Name: "n.txt", Data: []byte("abc")}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err = DraftFromMessage(r.Bytes)
	if err != nil || d.Subject != "Grüße" || d.Text != "hello\nthere" || d.HTML != "<p>hello</p>" || len(d.Attachments) != 1 || string(d.Attachments[0].Data) != "abc" {
		t.Errorf("round trip: %v %+v", err, d)
	}
}

// FuzzParse checks that any input is read without a panic and that the
// text made of any HTML shows no script or style.
func FuzzParse(f *testing.F) {
	f.Add([]byte(mixedMsg))
	f.Add([]byte(nest(3)))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<script>x</script><img src=http://a>"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, _ := Parse(raw)
		if c == nil {
			t.Fatal("no content")
		}
		if text := HTMLText("<script>zzq</script><style>zzq</style>" + c.HTML); strings.Contains(text, "zzq") && !strings.Contains(c.HTML, "zzq") {
			t.Errorf("a script or style shows in the text of %q: %q", c.HTML, text)
		}
		_, _ = DraftFromMessage(raw)
	})
}
