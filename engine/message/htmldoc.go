package message

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// BlockKind says what a Block of an HTML document is.
type BlockKind uint8

// The kinds of blocks.
const (
	// BlockParagraph is a paragraph, a table row or any other block of text.
	BlockParagraph BlockKind = iota
	// BlockHeading is a heading; Block.Level is 1 to 6.
	BlockHeading
	// BlockListItem is an item of a list; Block.Marker is its bullet or
	// number and Block.Depth how deep the list nests.
	BlockListItem
	// BlockPre is preformatted text: its line breaks and spaces are kept.
	BlockPre
	// BlockRule is a horizontal rule.
	BlockRule
	// BlockImage is an image taken from the message itself (Block.Image).
	BlockImage
)

// Run is a piece of text of one style.
type Run struct {
	Text               string
	Bold, Italic, Code bool
	// Link is the target of a link that may be opened (http, https or
	// mailto); links of any other kind are never set here.
	Link string
	// Note marks text Herald added (a link's target, an image placeholder),
	// not the message's own words.
	Note bool
}

// Image is an image of the message: an inline part its HTML names by
// cid:, or a small data: URI. Nothing is ever fetched for one.
type Image struct {
	// Type is "image/png", "image/jpeg" or "image/gif".
	Type string
	// Data is the encoded image (shared with the part it came from).
	Data []byte
	// Alt is the alternative text, "" for none.
	Alt string
	// Source is where it came from: "cid:logo@x" or "data:".
	Source string
}

// Block is one block of an HTML document.
type Block struct {
	Kind BlockKind
	// Level is a heading's level, 1 to 6.
	Level int
	// Marker is a list item's bullet ("•") or number ("3.").
	Marker string
	// Depth is how deep a list item's list nests (1 for the outermost).
	Depth int
	// Quote is how many block quotes the block is in.
	Quote int
	// Runs are the block's text (none for rules and images).
	Runs []Run
	// Image is set for BlockImage.
	Image *Image
}

// Text returns the block's text without styles.
func (b Block) Text() string {
	var s strings.Builder
	for _, r := range b.Runs {
		s.WriteString(r.Text)
	}
	return s.String()
}

// Doc is an HTML body converted for showing safely: blocks of styled text
// and the message's own images. Nothing in it was fetched, and nothing of
// the HTML runs: scripts, styles, frames, forms, objects, comments and
// hidden elements are gone.
type Doc struct {
	Blocks []Block
	// Cut says the body went on past the bounds: the blocks are its
	// beginning.
	Cut bool
	// Remote counts the remote images that were not loaded.
	Remote int
	// TextLen is the size in bytes of the text of all blocks.
	TextLen int
}

// Bounds of HTMLDocument when HTMLOptions leaves them 0.
const (
	DefaultHTMLMaxText   = 256 << 10
	DefaultHTMLMaxBlocks = 5000
	// MaxDataImage is the largest data: URI image kept (decoded bytes).
	MaxDataImage = 1 << 20
	// maxHTMLImages bounds the images kept in one document.
	maxHTMLImages = 100
	// maxHTMLDepth bounds the open elements followed; deeper ones still
	// show their text.
	maxHTMLDepth = 256
	// maxListDepth bounds list nesting shown as indentation.
	maxListDepth = 10
)

// HTMLOptions bound and feed HTMLDocument.
type HTMLOptions struct {
	// Parts are the message's other parts: images the HTML names by
	// "cid:" are taken from them.
	Parts []Part
	// MaxText bounds the text in bytes: 0 is DefaultHTMLMaxText, < 0 no
	// bound.
	MaxText int
	// MaxBlocks bounds the blocks: 0 is DefaultHTMLMaxBlocks, < 0 no bound.
	MaxBlocks int
}

// elem is an open element and what it changes while open.
type elem struct {
	name                          string
	skip, bold, italic, code, pre bool
	quote, list, link             bool
}

// docBuilder turns tokens into blocks.
type docBuilder struct {
	o          HTMLOptions
	doc        *Doc
	stack      []elem
	overflow   int // start tags not followed past maxHTMLDepth
	skip       int
	bold       int
	italic     int
	code       int
	pre        int
	quote      int
	lists      []listState
	cur        *Block
	space      bool // a space is due before the next text
	link       string
	linkKind   string // "", "open" (Link set), or the target shown as words
	linkWords  strings.Builder
	rowCells   int
	images     int
	stop       bool
	cidByValue map[string]*Part
}

type listState struct {
	ordered bool
	n       int
}

var skipElems = map[string]bool{
	"script": true, "style": true, "head": true, "title": true, "noscript": true, "iframe": true, "frame": true,
	"frameset": true, "object": true, "embed": true, "applet": true, "template": true, "form": true, "button": true,
	"select": true, "textarea": true, "svg": true, "math": true, "canvas": true, "audio": true, "video": true,
	"picture": true, "map": true, "datalist": true, "dialog": true, "noembed": true, "noframes": true, "xmp": true,
	"plaintext": true,
}

var voidElems = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true, "input": true,
	"link": true, "meta": true, "param": true, "source": true, "track": true, "wbr": true, "keygen": true,
}

var blockElems = map[string]bool{
	"p": true, "div": true, "section": true, "article": true, "header": true, "footer": true, "nav": true,
	"aside": true, "main": true, "address": true, "center": true, "figure": true, "figcaption": true,
	"caption": true, "dl": true, "dt": true, "dd": true, "table": true, "tbody": true, "thead": true,
	"tfoot": true, "details": true, "summary": true, "fieldset": true, "legend": true, "body": true, "html": true,
}

// HTMLDocument converts an HTML body into a Doc, safely: nothing is fetched
// and nothing runs. Headings, paragraphs, line breaks, bold, italic, code,
// lists, block quotes, preformatted text, rules and tables (a block per
// row, cells apart by " | ") are kept. A link shows its words and its
// target; only http, https and mailto targets are set as Run.Link
// (javascript:, data: and the rest are words only). Images named by "cid:"
// are taken from o.Parts (PNG, JPEG and GIF), small data: images are kept,
// and every other image becomes a placeholder naming its host only:
// "[remote image not loaded: example.com]". The text and blocks are bounded
// (see HTMLOptions); Doc.Cut says when the body went on.
func HTMLDocument(src string, o HTMLOptions) *Doc {
	if o.MaxText == 0 {
		o.MaxText = DefaultHTMLMaxText
	}
	if o.MaxBlocks == 0 {
		o.MaxBlocks = DefaultHTMLMaxBlocks
	}
	b := &docBuilder{o: o, doc: &Doc{}}
	// One token (a long text, a large attribute) is at most as large as
	// src, which the caller holds already; the text taken from it is cut to
	// the bound before it is worked on.
	z := html.NewTokenizer(strings.NewReader(src))
	for !b.stop {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != nil && !errors.Is(z.Err(), io.EOF) {
				b.doc.Cut = true
			}
			b.stop = true
		case html.TextToken:
			if b.skip == 0 {
				t := z.Text()
				if room := b.o.MaxText - b.doc.TextLen; b.o.MaxText > 0 && len(t) > 2*room+1024 {
					t = t[:2*room+1024]
				}
				b.text(string(t))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			var attrs map[string]string
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if attrs == nil {
					attrs = map[string]string{}
				}
				if _, dup := attrs[string(k)]; !dup {
					attrs[string(k)] = string(v)
				}
			}
			b.start(tag, attrs, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			b.end(string(name))
		}
	}
	b.flush()
	return b.doc
}

// hidden reports whether an element's attributes hide it.
func hidden(attrs map[string]string) bool {
	if _, ok := attrs["hidden"]; ok {
		return true
	}
	st := strings.ToLower(strings.Join(strings.Fields(attrs["style"]), ""))
	return strings.Contains(st, "display:none") || strings.Contains(st, "visibility:hidden") || strings.Contains(st, "mso-hide:all")
}

func (b *docBuilder) start(tag string, attrs map[string]string, selfClosing bool) {
	if tag == "body" {
		// A head left open ends where the body starts.
		for i := len(b.stack) - 1; i >= 0; i-- {
			if b.stack[i].name == "head" {
				for j := len(b.stack) - 1; j >= i; j-- {
					b.pop()
				}
				break
			}
		}
	}
	if b.skip > 0 {
		if !voidElems[tag] && !selfClosing {
			b.push(elem{name: tag})
		}
		return
	}
	if voidElems[tag] {
		b.void(tag, attrs)
		return
	}
	e := elem{name: tag}
	switch {
	case skipElems[tag] || hidden(attrs):
		e.skip = true
	case tag == "h1" || tag == "h2" || tag == "h3" || tag == "h4" || tag == "h5" || tag == "h6":
		b.flush()
		b.cur = &Block{Kind: BlockHeading, Level: int(tag[1] - '0'), Quote: b.quote}
		e.bold = true
	case tag == "ul" || tag == "ol" || tag == "menu" || tag == "dir":
		b.flush()
		n := 1
		if s, err := strconv.Atoi(strings.TrimSpace(attrs["start"])); err == nil && s > -1000000 && s < 1000000 {
			n = s
		}
		b.lists = append(b.lists, listState{ordered: tag == "ol", n: n})
		e.list = true
	case tag == "li":
		b.flush()
		b.cur = &Block{Kind: BlockListItem, Marker: "•", Depth: min(max(len(b.lists), 1), maxListDepth), Quote: b.quote}
		if l := len(b.lists); l > 0 {
			if b.lists[l-1].ordered {
				b.cur.Marker = strconv.Itoa(b.lists[l-1].n) + "."
			}
			b.lists[l-1].n++
		}
	case tag == "blockquote":
		b.flush()
		e.quote = true
	case tag == "pre" || tag == "listing":
		b.flush()
		b.cur = &Block{Kind: BlockPre, Quote: b.quote}
		e.pre, e.code = true, true
	case tag == "tr":
		b.flush()
		b.rowCells = 0
	case tag == "td" || tag == "th":
		if b.rowCells > 0 && b.cur != nil && len(b.cur.Runs) > 0 {
			b.add(Run{Text: " | ", Note: true})
			b.space = false
		}
		b.rowCells++
		e.bold = tag == "th"
	case tag == "b" || tag == "strong":
		e.bold = true
	case tag == "i" || tag == "em" || tag == "cite" || tag == "var" || tag == "dfn":
		e.italic = true
	case tag == "code" || tag == "tt" || tag == "kbd" || tag == "samp":
		e.code = true
	case tag == "a":
		b.closeLink()
		e.link = true
		b.openLink(attrs["href"])
	case blockElems[tag]:
		b.flush()
		e.bold = tag == "dt"
	}
	b.push(e)
}

// push opens e (past maxHTMLDepth, only counted).
func (b *docBuilder) push(e elem) {
	if len(b.stack) >= maxHTMLDepth {
		b.overflow++
		return
	}
	b.stack = append(b.stack, e)
	if e.skip {
		b.skip++
	}
	if e.bold {
		b.bold++
	}
	if e.italic {
		b.italic++
	}
	if e.code {
		b.code++
	}
	if e.pre {
		b.pre++
	}
	if e.quote {
		b.quote++
	}
}

func (b *docBuilder) end(tag string) {
	if b.overflow > 0 {
		b.overflow--
		return
	}
	// Close up to the nearest open element of that name; an end tag with
	// none open is ignored.
	i := len(b.stack) - 1
	for i >= 0 && b.stack[i].name != tag {
		i--
	}
	if i < 0 {
		switch {
		case b.skip > 0:
		case tag == "br":
			b.void("br", nil)
		case tag == "p":
			b.flush()
		}
		return
	}
	for j := len(b.stack) - 1; j >= i; j-- {
		b.pop()
	}
}

func (b *docBuilder) pop() {
	e := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	if e.skip {
		b.skip--
		return
	}
	if b.skip > 0 {
		return
	}
	switch {
	case e.link:
		b.closeLink()
	case e.list:
		b.flush()
		if len(b.lists) > 0 {
			b.lists = b.lists[:len(b.lists)-1]
		}
	case e.quote, e.pre, e.name == "li", e.name == "tr", len(e.name) == 2 && e.name[0] == 'h' && e.name[1] >= '1' && e.name[1] <= '6', blockElems[e.name]:
		b.flush()
	}
	if e.bold {
		b.bold--
	}
	if e.italic {
		b.italic--
	}
	if e.code {
		b.code--
	}
	if e.pre {
		b.pre--
	}
	if e.quote {
		b.quote--
	}
}

func (b *docBuilder) void(tag string, attrs map[string]string) {
	switch tag {
	case "br":
		if b.cur != nil && len(b.cur.Runs) > 0 {
			b.add(Run{Text: "\n"})
		}
		b.space = false
	case "hr":
		b.flush()
		b.block(Block{Kind: BlockRule, Quote: b.quote})
	case "img":
		b.image(attrs)
	}
}

// openLink starts a link to href.
func (b *docBuilder) openLink(href string) {
	href = strings.TrimSpace(href)
	b.link, b.linkKind = "", ""
	b.linkWords.Reset()
	if href == "" || strings.HasPrefix(href, "#") {
		return
	}
	u, err := url.Parse(href)
	scheme := ""
	if err == nil {
		scheme = strings.ToLower(u.Scheme)
	} else if i := strings.IndexByte(href, ':'); i > 0 && i < 20 {
		scheme = strings.ToLower(strings.TrimSpace(href[:i]))
	}
	switch scheme {
	case "http", "https", "mailto":
		if err == nil && len(href) <= 4096 {
			b.link, b.linkKind = u.String(), "open"
			return
		}
		// An address that does not parse (or a huge one) is words only.
		b.linkKind = " <" + clip(href, 200) + ">"
	case "":
		b.linkKind = " <" + clip(href, 200) + ">"
	default:
		b.linkKind = " [" + clip(scheme, 20) + ": link, not opened]"
	}
}

// closeLink ends the open link, showing its target after its words.
func (b *docBuilder) closeLink() {
	kind, target := b.linkKind, b.link
	words := strings.TrimSpace(b.linkWords.String())
	b.link, b.linkKind = "", ""
	b.linkWords.Reset()
	switch kind {
	case "":
		return
	case "open":
		shown := strings.TrimPrefix(target, "mailto:")
		if words == target || words == shown {
			return
		}
		b.add(Run{Text: " <" + clip(target, 300) + ">", Note: true})
	default:
		if b.cur == nil || len(b.cur.Runs) == 0 {
			return
		}
		b.add(Run{Text: kind, Note: true})
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(c byte) bool { return c&0xC0 != 0x80 }

// image adds an <img>: the message's own picture, or a placeholder.
func (b *docBuilder) image(attrs map[string]string) {
	alt := strings.Join(strings.Fields(attrs["alt"]), " ")
	alt = clip(alt, 200)
	src := strings.TrimSpace(attrs["src"])
	lower := strings.ToLower(src)
	note := func(s string) {
		if alt != "" {
			s = strings.TrimSuffix(s, "]") + " — " + alt + "]"
		}
		b.inlineNote(s)
	}
	switch {
	case src == "":
		if alt != "" {
			b.inlineNote("[image: " + alt + "]")
		}
	case strings.HasPrefix(lower, "cid:"):
		id := src[4:]
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
		p := b.part(id)
		switch {
		case p == nil && alt != "":
			b.inlineNote("[image: " + alt + "]")
		case p == nil:
			b.inlineNote("[image: cid:" + clip(id, 100) + "]")
		case !imageType(p.Type):
			note("[image not shown: " + clip(p.Type, 60) + "]")
		case b.images >= maxHTMLImages:
			note("[image not shown: too many images]")
		default:
			b.images++
			b.flush()
			b.block(Block{Kind: BlockImage, Quote: b.quote, Image: &Image{Type: normImageType(p.Type), Data: p.Data, Alt: alt, Source: "cid:" + clip(id, 200)}})
		}
	case strings.HasPrefix(lower, "data:"):
		typ, data, ok := dataURI(src)
		switch {
		case !ok || !imageType(typ):
			note("[embedded image not shown]")
		case len(data) > MaxDataImage:
			note("[embedded image not shown: larger than 1 MB]")
		case b.images >= maxHTMLImages:
			note("[image not shown: too many images]")
		default:
			b.images++
			b.flush()
			b.block(Block{Kind: BlockImage, Quote: b.quote, Image: &Image{Type: normImageType(typ), Data: data, Alt: alt, Source: "data:"}})
		}
	default:
		b.doc.Remote++
		host := ""
		if u, err := url.Parse(src); err == nil {
			host = u.Hostname()
		}
		if host == "" {
			note("[remote image not loaded]")
			return
		}
		note("[remote image not loaded: " + clip(host, 100) + "]")
	}
}

// part returns the part whose Content-ID is id (case-insensitive).
func (b *docBuilder) part(id string) *Part {
	if b.cidByValue == nil {
		b.cidByValue = map[string]*Part{}
		for i := range b.o.Parts {
			p := &b.o.Parts[i]
			if k := strings.ToLower(p.ContentID); k != "" {
				if _, dup := b.cidByValue[k]; !dup {
					b.cidByValue[k] = p
				}
			}
		}
	}
	return b.cidByValue[strings.ToLower(strings.Trim(id, "<> "))]
}

func imageType(t string) bool {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "image/png", "image/jpeg", "image/jpg", "image/gif":
		return true
	}
	return false
}

// normImageType names an image type as Image.Type does ("image/jpg" is
// "image/jpeg").
func normImageType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "image/jpg" {
		return "image/jpeg"
	}
	return t
}

// dataURI decodes a data: URI: its media type and content.
func dataURI(src string) (string, []byte, bool) {
	head, body, ok := strings.Cut(src[len("data:"):], ",")
	if !ok || len(body) > MaxDataImage*4/3+1024 {
		return "", nil, false
	}
	params := strings.Split(head, ";")
	typ := strings.ToLower(strings.TrimSpace(params[0]))
	b64 := false
	for _, p := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			b64 = true
		}
	}
	if !b64 {
		s, err := url.PathUnescape(body)
		if err != nil {
			return "", nil, false
		}
		return typ, []byte(s), true
	}
	body = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, body)
	data, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(body, "=")); err != nil {
			return "", nil, false
		}
	}
	return typ, data, true
}

// inlineNote adds a placeholder in the running text.
func (b *docBuilder) inlineNote(s string) {
	if b.cur != nil && len(b.cur.Runs) > 0 {
		if t := b.cur.Runs[len(b.cur.Runs)-1].Text; t != "" && !strings.HasSuffix(t, " ") && !strings.HasSuffix(t, "\n") {
			b.add(Run{Text: " "})
		}
	}
	b.add(Run{Text: s, Italic: true, Note: true})
	b.space = true
}

// text adds the words of a text token.
func (b *docBuilder) text(t string) {
	if b.pre > 0 {
		if b.cur == nil {
			b.cur = &Block{Kind: BlockPre, Quote: b.quote}
		}
		t = strings.ReplaceAll(strings.ReplaceAll(t, "\r\n", "\n"), "\t", "    ")
		if len(b.cur.Runs) == 0 {
			t = strings.TrimPrefix(t, "\n")
		}
		b.add(b.styled(t))
		return
	}
	lead := len(t) > 0 && isSpace(t[0])
	trail := len(t) > 0 && isSpace(t[len(t)-1])
	words := strings.Join(strings.Fields(t), " ")
	if words == "" {
		if lead {
			b.space = true
		}
		return
	}
	if (lead || b.space) && b.cur != nil && len(b.cur.Runs) > 0 {
		// The space goes with the words before it (a link's underline
		// starts at its first word).
		if last := &b.cur.Runs[len(b.cur.Runs)-1]; !strings.HasSuffix(last.Text, "\n") && !strings.HasSuffix(last.Text, " ") {
			if lead {
				words = " " + words
			} else {
				last.Text += " "
				b.doc.TextLen++
			}
		}
	}
	b.space = trail
	if b.linkKind != "" {
		b.linkWords.WriteString(words)
	}
	b.add(b.styled(words))
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' }

func (b *docBuilder) styled(t string) Run {
	return Run{Text: t, Bold: b.bold > 0, Italic: b.italic > 0, Code: b.code > 0, Link: b.link}
}

// add appends a run to the current block (a paragraph when none is open),
// joining it to the last run of the same style.
func (b *docBuilder) add(r Run) {
	if b.stop || r.Text == "" {
		return
	}
	if b.o.MaxText > 0 && b.doc.TextLen+len(r.Text) > b.o.MaxText {
		room := b.o.MaxText - b.doc.TextLen
		if room <= 0 {
			b.cut()
			return
		}
		r.Text = clip(r.Text, room)
		b.doc.TextLen += len(r.Text)
		b.appendRun(r)
		b.cut()
		return
	}
	b.doc.TextLen += len(r.Text)
	b.appendRun(r)
}

func (b *docBuilder) appendRun(r Run) {
	if b.cur == nil {
		b.cur = &Block{Kind: BlockParagraph, Quote: b.quote}
		if r.Text == " " || r.Text == "\n" {
			return
		}
		r.Text = strings.TrimLeft(r.Text, " ")
	}
	if n := len(b.cur.Runs); n > 0 {
		last := &b.cur.Runs[n-1]
		if last.Bold == r.Bold && last.Italic == r.Italic && last.Code == r.Code && last.Link == r.Link && last.Note == r.Note {
			last.Text += r.Text
			return
		}
	}
	b.cur.Runs = append(b.cur.Runs, r)
}

// cut stops the conversion: the bounds are reached.
func (b *docBuilder) cut() {
	b.doc.Cut = true
	b.stop = true
}

// flush ends the current block; an empty one is dropped.
func (b *docBuilder) flush() {
	cur := b.cur
	b.cur, b.space = nil, false
	if cur == nil {
		return
	}
	// Trailing line breaks and spaces carry nothing.
	for n := len(cur.Runs); n > 0; n = len(cur.Runs) {
		last := &cur.Runs[n-1]
		if cur.Kind == BlockPre {
			last.Text = strings.TrimRight(last.Text, "\n")
		} else {
			last.Text = strings.TrimRight(last.Text, " \n")
		}
		if last.Text != "" {
			break
		}
		cur.Runs = cur.Runs[:n-1]
	}
	if len(cur.Runs) == 0 {
		return
	}
	b.block(*cur)
}

// block appends a finished block.
func (b *docBuilder) block(bl Block) {
	if b.o.MaxBlocks > 0 && len(b.doc.Blocks) >= b.o.MaxBlocks {
		b.cut()
		return
	}
	b.doc.Blocks = append(b.doc.Blocks, bl)
}

// Text renders the document as plain text: headings and paragraphs as
// lines, list items with their bullets, quotes after "> ", rules as a line
// of dashes and images as "[image: alt]". A cut document ends with "…".
func (d *Doc) Text() string {
	var s strings.Builder
	prev := BlockKind(255)
	for _, bl := range d.Blocks {
		if s.Len() > 0 {
			s.WriteByte('\n')
			if bl.Kind == BlockHeading || prev == BlockHeading || (bl.Kind != prev && (bl.Kind == BlockListItem || prev == BlockListItem)) {
				s.WriteByte('\n')
			}
		}
		prev = bl.Kind
		quote := strings.Repeat("> ", bl.Quote)
		var text string
		switch bl.Kind {
		case BlockRule:
			text = "――――――――"
		case BlockImage:
			text = "[image]"
			if bl.Image.Alt != "" {
				text = "[image: " + bl.Image.Alt + "]"
			}
		case BlockListItem:
			text = strings.Repeat("  ", max(bl.Depth-1, 0)) + bl.Marker + " " + bl.Text()
		default:
			text = bl.Text()
		}
		if quote != "" {
			text = quote + strings.ReplaceAll(text, "\n", "\n"+quote)
		}
		s.WriteString(text)
	}
	out := s.String()
	if d.Cut {
		out += "\n…"
	}
	if d.Remote > 0 {
		out += fmt.Sprintf("\n\n(%d image(s) not loaded: nothing is fetched)", d.Remote)
	}
	return out
}
