package account

import (
	"strings"

	"github.com/herald-smtp/herald/engine/message"
)

// ApplyTo merges the profile into a draft, the one way every front end and
// the bulk planner compose with a profile: the profile's From and Reply-To
// where the draft has none, the profile's default headers under the draft's
// own (a draft header replaces the profile's of the same name), and the
// profile's signature after an RFC 3676 separator ("-- ") below the text.
func (p *Profile) ApplyTo(d *message.Draft) {
	if strings.TrimSpace(d.From) == "" {
		d.From = p.From()
	}
	if strings.TrimSpace(d.ReplyTo) == "" {
		d.ReplyTo = p.ReplyTo
	}
	d.Headers = MergeHeaders(p.Headers, d.Headers)
	if p.Signature != "" {
		d.Text = strings.TrimRight(d.Text, "\r\n") + "\n\n-- \n" + p.Signature + "\n"
	}
}

// MergeHeaders returns base with over applied: a header of over replaces the
// first of base with the same name (case-insensitive), the others are added.
func MergeHeaders(base, over []message.Header) []message.Header {
	out := append([]message.Header(nil), base...)
	for _, h := range over {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Name, h.Name) {
				out[i], replaced = h, true
				break
			}
		}
		if !replaced {
			out = append(out, h)
		}
	}
	return out
}
