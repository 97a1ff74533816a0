package message

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// pngPixel is a 1x1 PNG.
var pngPixel, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

// docShape renders a Doc compactly for comparing: one line per block, its
// kind and runs with their styles.
func docShape(d *Doc) string {
	var s strings.Builder
	for _, b := range d.Blocks {
		switch b.Kind {
		case BlockParagraph:
			s.WriteString("P")
		case BlockHeading:
			s.WriteString("H" + itoa(b.Level))
		case BlockListItem:
			s.WriteString("LI" + itoa(b.Depth) + "(" + b.Marker + ")")
		case BlockPre:
			s.WriteString("PRE")
		case BlockRule:
			s.WriteString("HR")
		case BlockImage:
			s.WriteString("IMG(" + b.Image.Type + "," + b.Image.Source + "," + b.Image.Alt + ")")
		}
		if b.Quote > 0 {
			s.WriteString(">" + itoa(b.Quote))
		}
		for _, r := range b.Runs {
			s.WriteString(" [")
			if r.Bold {
				s.WriteString("b")
			}
			if r.Italic {
				s.WriteString("i")
			}
			if r.Code {
				s.WriteString("c")
			}
			if r.Note {
				s.WriteString("n")
			}
			if r.Link != "" {
				s.WriteString("@" + r.Link)
			}
			s.WriteString(":" + r.Text + "]")
		}
		s.WriteString("\n")
	}
	return s.String()
}

func TestHTMLDocument(t *testing.T) {
	parts := []Part{
		{Name: "logo.png", Type: "image/png", ContentID: "logo@x", Inline: true, Data: pngPixel},
		{Name: "v.svg", Type: "image/svg+xml", ContentID: "vec@x", Inline: true, Data: []byte("<svg/>")},
	}
	cases := []struct {
		name, html, want string
	}{
		{"heading and paragraph", `<h1>Hello</h1><p>See <b>this</b> and <i>that</i> and <code>x()</code>.</p>`,
			"H1 [b:Hello]\nP [:See ] [b:this] [: and ] [i:that] [: and ] [c:x()] [:.]\n"},
		{"line breaks", `<p>one<br>two<br/>three</p>`, "P [:one\ntwo\nthree]\n"},
		{"lists", `<ul><li>a</li><li>b<ol start="3"><li>c</li><li>d</li></ol></li></ul>`,
			"LI1(•) [:a]\nLI1(•) [:b]\nLI2(3.) [:c]\nLI2(4.) [:d]\n"},
		{"quote, pre and rule", "<blockquote><p>said</p></blockquote><hr><pre>\n  a\n   b</pre>",
			"P>1 [:said]\nHR\nPRE [c:  a\n   b]\n"},
		{"table rows", `<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Tea</td><td>2</td></tr></table>`,
			"P [b:Item] [n: | ] [b:Qty]\nP [:Tea] [n: | ] [:2]\n"},
		{"safe link", `<p><a href="https://example.com/a?b=1">Shop</a></p>`,
			"P [@https://example.com/a?b=1:Shop] [n: <https://example.com/a?b=1>]\n"},
		{"link that is its target", `<a href="https://example.com/">https://example.com/</a>`, "P [@https://example.com/:https://example.com/]\n"},
		{"mailto", `<a href="mailto:a@example.com">a@example.com</a>`, "P [@mailto:a@example.com:a@example.com]\n"},
		{"javascript link", `<a href="javascript:alert(1)">Click</a>`, "P [:Click] [n: [javascript: link, not opened]]\n"},
		{"javascript link, spaced and cased", `<a href=" JaVaScRiPt:alert(1)">Click</a>`, "P [:Click] [n: [javascript: link, not opened]]\n"},
		{"data link", `<a href="data:text/html,<script>x</script>">Open</a>`, "P [:Open] [n: [data: link, not opened]]\n"},
		{"link that does not parse", `<a href="https://ex ample.com/">Shop</a>`, "P [:Shop] [n: <https://ex ample.com/>]\n"},
		{"link with a tab in its scheme", "<a href=\"java\tscript:alert(1)\">Click</a>", "P [:Click] [n: [java\tscript: link, not opened]]\n"},
		{"fragment link", `<a href="#top">Top</a>`, "P [:Top]\n"},
		{"cid image", `<p>Logo: <img src="cid:logo@x" alt="Our logo"> end</p>`,
			"P [:Logo:]\nIMG(image/png,cid:logo@x,Our logo)\nP [:end]\n"},
		{"cid image, brackets and case", `<img src="cid:LOGO%40x">`, "IMG(image/png,cid:LOGO@x,)\n"},
		{"cid of another type", `<img src="cid:vec@x">`, "P [in:[image not shown: image/svg+xml]]\n"},
		{"remote image", `<p>Hi <img src="https://tracker.example/p.gif?id=secret" alt="logo"></p>`,
			"P [:Hi ] [in:[remote image not loaded: tracker.example — logo]]\n"},
		{"protocol-relative image", `<img src="//cdn.example/x.png">`, "P [in:[remote image not loaded: cdn.example]]\n"},
		{"relative image", `<img src="x.png">`, "P [in:[remote image not loaded]]\n"},
		{"data image", `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(pngPixel) + `" alt="dot">`, "IMG(image/png,data:,dot)\n"},
		{"data svg", `<img src="data:image/svg+xml;base64,PHN2Zy8+">`, "P [in:[embedded image not shown]]\n"},
		{"scripts, styles and the rest", `<head><title>T</title><style>p{color:red}</style></head><body><script>alert(1)</script><p>ok</p>` +
			`<iframe src="https://x.example/">in frame</iframe><form action="https://x.example/"><input value="v"><button>Go</button></form>` +
			`<object data="x">obj</object><!-- a comment --><noscript>ns</noscript><template><p>tpl</p></template><svg><text>svg</text></svg></body>`, "P [:ok]\n"},
		{"hidden", `<p>shown</p><div style="display: none">preheader</div><span hidden>h</span><div style="mso-hide:all">mso</div><p>too</p>`,
			"P [:shown]\nP [:too]\n"},
		{"unclosed head", `<html><head><title>T</title><body><p>body text</p>`, "P [:body text]\n"},
		{"unclosed tags", `<p><b>bold <i>both</p><p>still`, "P [b:bold ] [bi:both]\nP [:still]\n"},
		{"whitespace", "<p>  a \n\n b  </p>\n\n<p>\tc</p>", "P [:a b]\nP [:c]\n"},
		{"entities", `<p>&lt;script&gt; &amp; caf&eacute;</p>`, "P [:<script> & café]\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := HTMLDocument(c.html, HTMLOptions{Parts: parts})
			if got := docShape(d); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			if d.Cut {
				t.Error("cut")
			}
		})
	}
}

func TestHTMLDocumentCountsRemoteImages(t *testing.T) {
	d := HTMLDocument(`<img src="http://a.example/1"><img src="https://b.example/2"><img src="cid:nothere">`, HTMLOptions{})
	if d.Remote != 2 {
		t.Errorf("%d remote images", d.Remote)
	}
	if strings.Contains(d.Text(), "/1") || strings.Contains(d.Text(), "/2") {
		t.Errorf("the text names more than the host: %q", d.Text())
	}
}

func TestHTMLDocumentBounds(t *testing.T) {
	// A 10 MB body stops at the bounds, and says so.
	big := strings.Repeat("<p>many words in a paragraph here</p>", 10<<20/38)
	start := time.Now()
	d := HTMLDocument(big, HTMLOptions{MaxText: 64 << 10})
	if !d.Cut || d.TextLen > 64<<10+4 || d.TextLen < 60<<10 {
		t.Errorf("cut %v, %d bytes of text", d.Cut, d.TextLen)
	}
	if !strings.HasSuffix(d.Text(), "…") {
		t.Error("the text does not end with …")
	}
	d = HTMLDocument(big, HTMLOptions{MaxBlocks: 100})
	if !d.Cut || len(d.Blocks) != 100 {
		t.Errorf("cut %v, %d blocks", d.Cut, len(d.Blocks))
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	// The default bound applies with no options.
	d = HTMLDocument(big, HTMLOptions{})
	if !d.Cut || d.TextLen > DefaultHTMLMaxText+4 {
		t.Errorf("default: cut %v, %d bytes", d.Cut, d.TextLen)
	}
	// Images: a large data: image is not kept; at most maxHTMLImages are.
	huge := "data:image/png;base64," + base64.StdEncoding.EncodeToString(make([]byte, MaxDataImage+10))
	d = HTMLDocument(`<img src="`+huge+`">`, HTMLOptions{})
	if len(d.Blocks) != 1 || d.Blocks[0].Kind != BlockParagraph || !strings.Contains(d.Blocks[0].Text(), "not shown") {
		t.Errorf("a large data image: %s", docShape(d))
	}
	parts := []Part{{Type: "image/png", ContentID: "a", Data: pngPixel}}
	d = HTMLDocument(strings.Repeat(`<img src="cid:a">`, 300), HTMLOptions{Parts: parts})
	n := 0
	for _, b := range d.Blocks {
		if b.Kind == BlockImage {
			n++
		}
	}
	if n != maxHTMLImages {
		t.Errorf("%d images kept", n)
	}
}

func TestHTMLDocumentHostile(t *testing.T) {
	cases := map[string]string{
		"deep nesting":    strings.Repeat("<div><b><i>", 100000) + "deep" + strings.Repeat("</i></b></div>", 100000),
		"deep lists":      strings.Repeat("<ul><li>", 10000) + "item",
		"huge attribute":  `<p title="` + strings.Repeat("x", 8<<20) + `">after</p>`,
		"unclosed script": `<p>before</p><script>` + strings.Repeat("alert(1);", 1000),
		"unclosed tags":   strings.Repeat("<p><b><a href='https://x.example/'><table><tr><td>", 20000),
		"many end tags":   strings.Repeat("</div></p></li></ul>", 100000) + "<p>end</p>",
		"nul and junk":    "<p>\x00a\x00</p><<>><</ ><!--<script>x</script>--><p>b</p>",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			d := HTMLDocument(src, HTMLOptions{})
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			text := d.Text()
			if strings.Contains(text, "alert") {
				t.Errorf("script text shows: %.200q", text)
			}
			if d.TextLen > DefaultHTMLMaxText+4 || len(d.Blocks) > DefaultHTMLMaxBlocks {
				t.Errorf("%d bytes, %d blocks", d.TextLen, len(d.Blocks))
			}
			for _, b := range d.Blocks {
				for _, r := range b.Runs {
					if r.Link != "" && !strings.HasPrefix(r.Link, "https:") {
						t.Errorf("link %q", r.Link)
					}
				}
			}
		})
	}
	for name, want := range map[string]string{"deep nesting": "deep", "deep lists": "item", "huge attribute": "after", "many end tags": "end"} {
		if d := HTMLDocument(cases[name], HTMLOptions{}); !strings.Contains(d.Text(), want) {
			t.Errorf("%s: %q is lost: %.200q", name, want, d.Text())
		}
	}
	// One text of 10 MB shows its beginning, cut.
	d := HTMLDocument("<pre>"+strings.Repeat("log line\n", 10<<20/9), HTMLOptions{MaxText: 4096})
	if !d.Cut || len(d.Blocks) != 1 || !strings.HasPrefix(d.Blocks[0].Text(), "log line\nlog line") || d.TextLen > 4100 {
		t.Errorf("a long text: cut %v, %d blocks, %d bytes", d.Cut, len(d.Blocks), d.TextLen)
	}
}

func TestHTMLDocumentText(t *testing.T) {
	d := HTMLDocument(`<h2>Title</h2><p>Para</p><ul><li>one</li><li>two</li></ul><blockquote>q1<br>q2</blockquote><hr><img src="data:image/png;base64,`+
		base64.StdEncoding.EncodeToString(pngPixel)+`" alt="dot">`, HTMLOptions{})
	want := "Title\n\nPara\n\n• one\n• two\n\n> q1\n> q2\n――――――――\n[image: dot]"
	if got := d.Text(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// FuzzHTMLDocument checks that no input panics, that a script's text never
// shows, and that every link that may be opened is http, https or mailto.
func FuzzHTMLDocument(f *testing.F) {
	f.Add(`<h1>x</h1><a href="javascript:zzq()">a</a><img src="cid:a"><script>zzq</script>`)
	f.Add(`<ul><li><ol><li>x</ol></ul><table><tr><td>a<td>b</table><pre>x</pre>`)
	f.Add(`<a href="https://e.example/">x<a href="mailto:x">y</a>`)
	f.Add(`<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(pngPixel) + `">`)
	parts := []Part{{Type: "image/png", ContentID: "a", Data: pngPixel}}
	f.Fuzz(func(t *testing.T, src string) {
		d := HTMLDocument("<script>zzq</script><style>zzq</style>"+src, HTMLOptions{Parts: parts, MaxText: 4096, MaxBlocks: 100})
		if strings.Contains(d.Text(), "zzq") && !strings.Contains(src, "zzq") {
			t.Errorf("a script shows in %q", d.Text())
		}
		if d.TextLen > 4096+4 || len(d.Blocks) > 100 {
			t.Errorf("%d bytes, %d blocks", d.TextLen, len(d.Blocks))
		}
		for _, b := range d.Blocks {
			for _, r := range b.Runs {
				l := strings.ToLower(r.Link)
				if r.Link != "" && !strings.HasPrefix(l, "http:") && !strings.HasPrefix(l, "https:") && !strings.HasPrefix(l, "mailto:") {
					t.Errorf("link %q may be opened", r.Link)
				}
			}
			if b.Kind == BlockImage && (b.Image == nil || !imageType(b.Image.Type)) {
				t.Errorf("image block %+v", b.Image)
			}
		}
	})
}
