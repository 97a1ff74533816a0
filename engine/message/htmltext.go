package message

import (
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// HTMLText renders an HTML body as plain text, safely: nothing is fetched
// or run. See HTMLTextLimit; HTMLText has no bound on the text.
func HTMLText(src string) string { return HTMLTextLimit(src, 0) }

// HTMLTextLimit renders an HTML body as plain text, safely: nothing is
// fetched or run. Scripts, styles, frames and the head are dropped, block
// elements become line breaks, list items bullets, links are shown as their
// words followed by their address in angle brackets, and images by their
// alternative text ("[image: logo]"); remote images are counted in a last
// line saying they were not loaded. With max > 0 the text stops after about
// max bytes, ending with "…".
func HTMLTextLimit(src string, max int) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip, remote := 0, 0
	var href string
	cut := false
	last := func() byte {
		if b.Len() == 0 {
			return '\n'
		}
		s := b.String()
		return s[len(s)-1]
	}
	nl := func() {
		if last() != '\n' {
			b.WriteByte('\n')
		}
	}
loop:
	for {
		if max > 0 && b.Len() >= max {
			cut = true
			break
		}
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			break loop
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := strings.Join(strings.Fields(string(z.Text())), " ")
			if t == "" {
				continue
			}
			if l := last(); l != '\n' && l != ' ' && !strings.ContainsAny(t[:1], ".,;:!?)") {
				b.WriteByte(' ')
			}
			b.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch tag {
			case "script", "style", "head", "title", "noscript", "iframe", "object", "template":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch tag {
			case "br":
				b.WriteByte('\n')
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr":
				nl()
				if tag == "li" && tt == html.StartTagToken {
					b.WriteString("• ")
				}
				if tag == "hr" && tt != html.EndTagToken {
					b.WriteString("――――――――\n")
				}
			case "a":
				if tt == html.StartTagToken {
					href = strings.TrimSpace(attrs["href"])
				} else if tt == html.EndTagToken {
					if href != "" && !strings.HasPrefix(href, "#") {
						b.WriteString(" <" + href + ">")
					}
					href = ""
				}
			case "img":
				src := strings.ToLower(strings.TrimSpace(attrs["src"]))
				if src != "" && !strings.HasPrefix(src, "cid:") && !strings.HasPrefix(src, "data:") {
					remote++
				}
				label := "[image]"
				if alt := strings.Join(strings.Fields(attrs["alt"]), " "); alt != "" {
					label = "[image: " + alt + "]"
				}
				if l := last(); l != '\n' && l != ' ' {
					b.WriteByte(' ')
				}
				b.WriteString(label)
			}
		}
	}
	out := strings.TrimSpace(collapseBlank(b.String()))
	if cut {
		out += "\n…"
	}
	if remote > 0 {
		out += fmt.Sprintf("\n\n(%d image(s) not loaded: nothing is fetched)", remote)
	}
	return out
}

// collapseBlank trims each line and leaves at most one blank line in a row.
func collapseBlank(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
