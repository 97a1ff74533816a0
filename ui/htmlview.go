package ui

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // the decoders of the image types a message's HTML may show
	_ "image/jpeg"
	_ "image/png"
	"net/url"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/message"
)

// Bounds of what an HTMLView puts on screen at a time.
const (
	// htmlPage is about how much text one page shows; "Show more" adds
	// another page.
	htmlPage = 16 << 10
	// htmlPiece bounds the text of one RichText.
	htmlPiece = 4 << 10
	// htmlPageImages bounds the images of one page.
	htmlPageImages = 20
	// maxHTMLImageHeight is the tallest an image is shown.
	maxHTMLImageHeight = 600
	// maxImagePixels bounds an image decoded (a small file can claim a
	// huge picture).
	maxImagePixels = 40 << 20
)

// HTMLView shows an HTML body converted by message.HTMLDocument: headings,
// styled text, lists, quotes, rules, preformatted text, links and the
// message's own images. Nothing is fetched and nothing runs. It is bounded:
// a page of text at a time, in RichText pieces of a few KB, with "Show
// more" for the next page; images are decoded off the UI goroutine.
type HTMLView struct {
	// Box holds the pieces shown: RichTexts and images.
	Box *fyne.Container
	// Scroll scrolls Box.
	Scroll *container.Scroll
	// Info says what is shown and what was not loaded.
	Info *widget.Label
	// More shows the next page.
	More *widget.Button
	// Window returns the window for the confirmation before a link opens;
	// nil (or a nil window): links are shown but never opened.
	Window func() fyne.Window
	// OpenURL opens a confirmed link; nil is the app's OpenURL.
	OpenURL func(*url.URL) error

	do      Dispatcher
	doc     *message.Doc
	next    int // the first block not shown yet
	shown   int // text bytes shown
	gen     int // bumps with every document: late images are dropped
	content fyne.CanvasObject
}

// NewHTMLView returns an empty view; do runs image updates on the UI
// goroutine (nil: fyne.Do).
func NewHTMLView(do Dispatcher) *HTMLView {
	if do == nil {
		do = fyne.Do
	}
	v := &HTMLView{do: do}
	v.Box = container.NewVBox()
	v.Scroll = container.NewVScroll(v.Box)
	v.Info = widget.NewLabel("")
	v.Info.Wrapping = fyne.TextWrapWord
	v.Info.Hide()
	v.More = widget.NewButton("Show more", v.ShowMore)
	v.More.Hide()
	return v
}

// Content returns the view's widgets.
func (v *HTMLView) Content() fyne.CanvasObject {
	if v.content == nil {
		v.content = container.NewBorder(nil, container.NewBorder(nil, nil, nil, v.More, v.Info), nil, nil, v.Scroll)
	}
	return v.content
}

// SetDoc shows d from its beginning (nil: nothing).
func (v *HTMLView) SetDoc(d *message.Doc) {
	v.gen++
	v.doc, v.next, v.shown = d, 0, 0
	v.Box.Objects = nil
	if d != nil && len(d.Blocks) == 0 {
		v.Box.Add(noteText("(the HTML part shows no text)"))
	}
	v.page()
	v.Box.Refresh()
	v.Scroll.ScrollToTop()
}

// Replace shows d like SetDoc but keeps the scroll position (a preview
// that follows typing).
func (v *HTMLView) Replace(d *message.Doc) {
	off := v.Scroll.Offset
	v.SetDoc(d)
	v.Scroll.Offset = off
	v.Scroll.Refresh()
}

// SetNote shows a line of text instead of a document.
func (v *HTMLView) SetNote(text string) {
	v.SetDoc(nil)
	v.Box.Add(noteText(text))
	v.Box.Refresh()
}

func noteText(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// ShowMore adds the next page of the document.
func (v *HTMLView) ShowMore() {
	v.page()
	v.Box.Refresh()
}

// Doc returns the document shown.
func (v *HTMLView) Doc() *message.Doc { return v.doc }

// page adds pieces from v.next until about htmlPage more text shows.
func (v *HTMLView) page() {
	d := v.doc
	if d == nil {
		v.Info.Hide()
		v.More.Hide()
		return
	}
	var segs []widget.RichTextSegment
	pieceLen, pageLen, images := 0, 0, 0
	endPiece := func() {
		if len(segs) > 0 {
			rt := widget.NewRichText(segs...)
			rt.Wrapping = fyne.TextWrapWord
			v.Box.Add(rt)
		}
		segs, pieceLen = nil, 0
	}
	for v.next < len(d.Blocks) && pageLen < htmlPage && images < htmlPageImages {
		b := d.Blocks[v.next]
		v.next++
		if b.Kind == message.BlockImage {
			endPiece()
			v.Box.Add(v.image(b.Image))
			images++
			continue
		}
		n := 0
		segs, n = v.blockSegments(segs, b)
		pieceLen += n
		pageLen += n
		if pieceLen >= htmlPiece {
			endPiece()
		}
	}
	endPiece()
	v.shown += pageLen

	var info []string
	if v.next < len(d.Blocks) {
		info = append(info, fmt.Sprintf("Showing %s of the text.", sizeWords(int64(v.shown))))
		v.More.Show()
	} else {
		v.More.Hide()
	}
	if d.Cut {
		info = append(info, "The HTML goes on past what is shown here: see the source for the rest.")
	}
	if d.Remote > 0 {
		info = append(info, fmt.Sprintf("%d remote image(s) not loaded: nothing is fetched from the internet.", d.Remote))
	}
	v.Info.SetText(strings.Join(info, " "))
	v.Info.Hidden = len(info) == 0
	v.Info.Refresh()
}

// blockSegments appends the segments of a text block and returns how much
// text they hold.
func (v *HTMLView) blockSegments(segs []widget.RichTextSegment, b message.Block) ([]widget.RichTextSegment, int) {
	if b.Kind == message.BlockRule {
		return append(segs, &widget.SeparatorSegment{}), 0
	}
	n := 0
	inline := func(text string, st widget.RichTextStyle) {
		st.Inline = true
		segs = append(segs, &widget.TextSegment{Text: text, Style: st})
		n += len(text)
	}
	quote := strings.Repeat("│ ", b.Quote)
	prefix := quote
	if b.Kind == message.BlockListItem {
		prefix += strings.Repeat("    ", max(b.Depth-1, 0)) + b.Marker + " "
	}
	if prefix != "" {
		inline(prefix, widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder})
	}
	for _, r := range b.Runs {
		st := widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: r.Bold, Italic: r.Italic || b.Quote > 0, Monospace: r.Code}}
		switch {
		case b.Kind == message.BlockHeading && b.Level == 1:
			st.SizeName, st.TextStyle.Bold = theme.SizeNameHeadingText, true
		case b.Kind == message.BlockHeading && b.Level == 2:
			st.SizeName, st.TextStyle.Bold = theme.SizeNameSubHeadingText, true
		case b.Kind == message.BlockHeading:
			st.TextStyle.Bold = true
		case b.Kind == message.BlockPre:
			st.TextStyle.Monospace = true
		}
		if r.Note {
			st.ColorName = theme.ColorNamePlaceHolder
		}
		if quote != "" {
			// Every line of a quote is marked, not only its first.
			r.Text = strings.ReplaceAll(r.Text, "\n", "\n"+quote)
		}
		if u, err := url.Parse(r.Link); r.Link != "" && err == nil {
			segs = append(segs, &widget.HyperlinkSegment{Text: r.Text, URL: u, OnTapped: func() { v.confirmOpen(u) }})
			n += len(r.Text)
			continue
		}
		inline(r.Text, st)
	}
	// The block ends its line.
	segs = append(segs, &widget.TextSegment{Text: "", Style: widget.RichTextStyle{Inline: false}})
	return segs, n
}

// confirmOpen asks before opening a link of the message: its words may
// say one place and its target be another.
func (v *HTMLView) confirmOpen(u *url.URL) {
	if v.Window == nil {
		return
	}
	w := v.Window()
	if w == nil {
		return
	}
	open := v.OpenURL
	if open == nil {
		if a := fyne.CurrentApp(); a != nil {
			open = a.OpenURL
		}
	}
	target := u.String()
	if len(target) > 300 {
		target = target[:300] + "…"
	}
	dialog.ShowConfirm("Open this link?", "The link goes to\n\n"+target+"\n\nIt opens in your browser. Open it only if you trust the message.", func(ok bool) {
		if ok && open != nil {
			if err := open(u); err != nil {
				dialog.ShowError(fmt.Errorf("could not open the link: %w", err), w)
			}
		}
	}, w)
}

// image returns the object showing im; it decodes off the UI goroutine.
func (v *HTMLView) image(im *message.Image) fyne.CanvasObject {
	img := &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleSmooth}
	alt := im.Alt
	if alt == "" {
		alt = "image"
	}
	label := widget.NewLabel("[" + alt + ": loading…]")
	label.Truncation = fyne.TextTruncateEllipsis
	gen, data := v.gen, im.Data
	go func() {
		m, err := decodeImage(data)
		v.do(func() {
			if gen != v.gen {
				return
			}
			if err != nil {
				label.SetText("[" + alt + ": " + err.Error() + "]")
				return
			}
			b := m.Bounds()
			w, h := float32(b.Dx()), float32(b.Dy())
			if h > maxHTMLImageHeight {
				w, h = w*maxHTMLImageHeight/h, maxHTMLImageHeight
			}
			// The width is left to the view (the image shrinks to fit it):
			// a wide picture must not widen the window.
			img.Image = m
			img.SetMinSize(fyne.NewSize(min(w, 1), h))
			label.Hide()
			img.Refresh()
			v.Box.Refresh()
		})
	}()
	return container.NewStack(img, label)
}

// decodeImage decodes a PNG, JPEG or GIF (its first frame), refusing a
// picture of more than maxImagePixels.
func decodeImage(data []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("the image could not be read")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("the image is too large to show (%d×%d)", cfg.Width, cfg.Height)
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("the image could not be read")
	}
	return m, nil
}
