package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/message"
)

// testPNG is a w×h PNG.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		m.Set(x, 0, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// htmlSample is an HTML body with a heading, a list, a message image, a
// remote image, a script and two links (one safe, one javascript:).
const htmlSample = `<html><head><style>p{color:red}</style><script>alert('zzq')</script></head><body>` +
	`<h1>Welcome</h1><p>Hello <b>friend</b>, see <a href="https://example.com/offer">the offer</a> or <a href="javascript:zzq()">this</a>.</p>` +
	`<ul><li>first</li><li>second</li></ul><img src="cid:logo@herald" alt="logo"><p><img src="https://tracker.example/p.gif?u=1"></p>` +
	`<script>document.write('zzq')</script></body></html>`

// rawHTMLMessage is a multipart/related message with htmlSample and its
// cid:logo@herald image.
func rawHTMLMessage(t testing.TB) []byte {
	img := base64.StdEncoding.EncodeToString(testPNG(t, 40, 20))
	return []byte("From: ann@herald.test\r\nTo: bob@herald.test\r\nSubject: HTML\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + htmlSample + "\r\n" +
		"--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@herald>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + img + "\r\n--b1--\r\n")
}

// sampleDoc converts htmlSample with its image, as the adapters do.
func sampleDoc(t testing.TB) *message.Doc {
	c, err := message.Parse(rawHTMLMessage(t))
	if err != nil || !c.HasHTML || len(c.Parts) != 1 {
		t.Fatalf("parse: %v %+v", err, c)
	}
	return message.HTMLDocument(c.HTML, message.HTMLOptions{Parts: c.Parts})
}

// htmlFacts is what an HTMLView shows.
type htmlFacts struct {
	text     string
	bold     []string
	headings []string
	links    []*widget.HyperlinkSegment
	images   []*canvas.Image // decoded
	pieces   []*widget.RichText
}

func factsOf(v *HTMLView) htmlFacts {
	var f htmlFacts
	var b strings.Builder
	walkBox(v.Box, func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.RichText:
			f.pieces = append(f.pieces, o)
			for _, s := range o.Segments {
				switch s := s.(type) {
				case *widget.TextSegment:
					b.WriteString(s.Text)
					if !s.Style.Inline {
						b.WriteString("\n")
					}
					if s.Style.TextStyle.Bold && s.Text != "" {
						f.bold = append(f.bold, s.Text)
					}
					if s.Style.SizeName == theme.SizeNameHeadingText {
						f.headings = append(f.headings, s.Text)
					}
				case *widget.HyperlinkSegment:
					b.WriteString(s.Text)
					f.links = append(f.links, s)
				}
			}
		case *canvas.Image:
			if o.Image != nil {
				f.images = append(f.images, o)
			}
		case *widget.Label:
			b.WriteString(o.Text + "\n")
		}
	})
	f.text = b.String()
	return f
}

// checkSample checks that v shows htmlSample formatted and safely.
func checkSample(t *testing.T, f htmlFacts) {
	t.Helper()
	if len(f.headings) != 1 || f.headings[0] != "Welcome" || !slices.Contains(f.bold, "Welcome") || !slices.Contains(f.bold, "friend") {
		t.Errorf("headings %q, bold %q", f.headings, f.bold)
	}
	for _, want := range []string{"• first\n", "• second\n", "[remote image not loaded: tracker.example]", "the offer <https://example.com/offer>", "this [javascript: link, not opened]"} {
		if !strings.Contains(f.text, want) {
			t.Errorf("lacks %q:\n%s", want, f.text)
		}
	}
	for _, bad := range []string{"zzq", "alert", "color:red", "p.gif"} {
		if strings.Contains(f.text, bad) {
			t.Errorf("shows %q:\n%s", bad, f.text)
		}
	}
	if len(f.links) != 1 || f.links[0].URL.String() != "https://example.com/offer" || f.links[0].Text != "the offer" {
		t.Errorf("links %+v", f.links)
	}
	if len(f.images) != 1 || f.images[0].Image.Bounds().Dx() != 40 || f.images[0].MinSize().Height != 20 {
		t.Errorf("%d images", len(f.images))
	}
}

// walkBox visits o and, inside containers, what they hold (not the
// insides of widgets: a Label holds a RichText of its own).
func walkBox(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	if c, ok := o.(*fyne.Container); ok {
		for _, x := range c.Objects {
			walkBox(x, f)
		}
	}
}

// htmlRig is an HTMLView in a window, with a queue for its dispatcher.
func htmlRig(t *testing.T) (*HTMLView, fyne.Window, func(string, func() bool)) {
	test.NewTempApp(t)
	q := make(chan func(), 1024)
	v := NewHTMLView(func(f func()) { q <- f })
	w := test.NewTempWindow(t, v.Content())
	w.Resize(fyne.NewSize(900, 600))
	pump := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case f := <-q:
				f()
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	return v, w, pump
}

func TestHTMLViewShowsTheMessageFormattedAndSafely(t *testing.T) {
	v, w, pump := htmlRig(t)
	v.SetDoc(sampleDoc(t))
	pump("the image", func() bool { return len(factsOf(v).images) == 1 })
	checkSample(t, factsOf(v))
	if v.More.Visible() || !v.Info.Visible() || !strings.Contains(v.Info.Text, "1 remote image(s) not loaded") {
		t.Errorf("more %v, info %q", v.More.Visible(), v.Info.Text)
	}

	// A link opens only after the person says yes; without a window it
	// does not open at all.
	var opened []string
	v.OpenURL = func(u *url.URL) error { opened = append(opened, u.String()); return nil }
	link := factsOf(v).links[0]
	link.OnTapped()
	if len(opened) != 0 {
		t.Fatal("opened without a window to ask in")
	}
	v.Window = func() fyne.Window { return w }
	link.OnTapped()
	ov := w.Canvas().Overlays().Top()
	if ov == nil || len(opened) != 0 {
		t.Fatalf("no question before opening (opened %q)", opened)
	}
	if !strings.Contains(textOf(ov), "https://example.com/offer") {
		t.Errorf("the question does not name the target: %q", textOf(ov))
	}
	yes := findButtonDeep(ov, "Yes")
	if yes == nil {
		t.Fatal("no Yes")
	}
	test.Tap(yes)
	if len(opened) != 1 || opened[0] != "https://example.com/offer" {
		t.Errorf("opened %q", opened)
	}
}

func textOf(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Label:
			b.WriteString(o.Text + "\n")
		case *widget.RichText:
			b.WriteString(o.String() + "\n")
		}
	})
	return b.String()
}

func TestHTMLViewIsBounded(t *testing.T) {
	v, _, pump := htmlRig(t)
	big := strings.Repeat("<p>a paragraph of some words, repeated many times over</p>", 200000) // ~11 MB
	start := time.Now()
	doc := message.HTMLDocument(big, message.HTMLOptions{MaxText: 1 << 20, MaxBlocks: 100000})
	v.SetDoc(doc)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	shown := func() (int, int) {
		f := factsOf(v)
		n, most := 0, 0
		for _, p := range f.pieces {
			l := len(p.String())
			n += l
			most = max(most, l)
		}
		return n, most
	}
	n, most := shown()
	if n > htmlPage+2<<10 || n < htmlPage/2 || most > htmlPiece+1<<10 {
		t.Fatalf("first page: %d bytes, largest piece %d", n, most)
	}
	if !v.More.Visible() || !strings.Contains(v.Info.Text, "Showing") || !strings.Contains(v.Info.Text, "goes on past") {
		t.Fatalf("more %v, info %q", v.More.Visible(), v.Info.Text)
	}
	test.Tap(v.More)
	if n2, _ := shown(); n2 < 2*n-1<<10 || n2 > 2*n+2<<10 {
		t.Errorf("after Show more: %d bytes (first page %d)", n2, n)
	}
	pump("nothing", func() bool { return true })
	// A new document starts again from its beginning.
	v.SetDoc(sampleDoc(t))
	if len(factsOf(v).pieces) > 3 || v.More.Visible() {
		t.Errorf("%d pieces after a new document", len(factsOf(v).pieces))
	}
}

func TestHTMLViewRefusesHugeAndBrokenImages(t *testing.T) {
	if _, err := decodeImage([]byte("not an image")); err == nil {
		t.Error("junk decoded")
	}
	// A PNG header claiming 100000×100000 pixels is refused before decoding.
	huge := testPNG(t, 1, 1)
	copy(huge[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(huge[29:33], crc32.ChecksumIEEE(huge[12:29]))
	if _, err := decodeImage(huge); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("huge: %v", err)
	}
	v, _, pump := htmlRig(t)
	v.SetDoc(&message.Doc{Blocks: []message.Block{{Kind: message.BlockImage, Image: &message.Image{Type: "image/png", Data: []byte("junk"), Alt: "chart"}}}})
	pump("the failure", func() bool { return strings.Contains(factsOf(v).text, "[chart: the image could not be read]") })
	// A tall image is shown at most maxHTMLImageHeight tall.
	v.SetDoc(&message.Doc{Blocks: []message.Block{{Kind: message.BlockImage, Image: &message.Image{Type: "image/png", Data: testPNG(t, 100, 2000)}}}})
	pump("the tall image", func() bool { return len(factsOf(v).images) == 1 })
	if h := factsOf(v).images[0].MinSize().Height; h != maxHTMLImageHeight {
		t.Errorf("shown %v tall", h)
	}
}
