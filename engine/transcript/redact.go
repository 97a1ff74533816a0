package transcript

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Redaction rule.
//
// Herald redacts every form under which it itself put a secret on the wire
// or could see it echoed: the secret as given, its base64 encodings
// (standard and URL alphabets, with and without padding), its hex encoding
// in lower and upper case, the Go-quoted spelling of the secret when quoting
// changes it (error texts quote what a server sent), and each SASL payload
// it sent (the base64 text on the wire, with its padding-free and URL
// variants, and the decoded response, e.g. the PLAIN blob or the CRAM-MD5
// answer "user digest").
//
// A form of MinAnywhere bytes or more is replaced wherever it occurs, in
// every text. A shorter form (a one- to three-character password, its hex
// or unpadded base64) would, if replaced everywhere, take letters out of
// ordinary words, reply codes and numbers; it is replaced only where it
// stands as a whole word, that is when
//   - the byte before it (if its own first byte is a word byte) and the
//     byte after it (if its own last byte is a word byte) are not word
//     bytes, where word bytes are ASCII letters and digits, '+', '/', '-',
//     '_' (the base64 and base64url alphabets) and every byte of a non-ASCII
//     character; and '.' and '@' count as word bytes only between two word
//     bytes ("5.7.8", "ab.example", "ab@example.com" are single words; a
//     sentence's final dot is not part of the word);
//   - and only in text that may carry what a server said (server lines,
//     Herald's notes, errors, results). Lines Herald itself wrote (client
//     lines) get the long forms only: the lines that carry credentials, AUTH
//     and each SASL response, are recorded with their payload replaced
//     wholesale by Redacted, so the rest is Herald's own text (commands,
//     addresses, sizes) where a short secret can only be a coincidence. The
//     reply code that starts a server line ("535 ") is structure, not an
//     echo: a short form within it is kept (RedactReply).
//
// A text Herald shortened ends its cut part with Cut ("..."): a prefix of a
// form of MinAnywhere bytes or more directly before it is redacted too, so
// a truncation cannot leave part of a secret behind.
//
// Every occurrence is found in the original text first (overlapping ones
// included) and the covered spans are merged, so a replacement never
// creates or hides another match, and each merged span becomes one Redacted.

// MinAnywhere is the length from which a secret form is replaced wherever it
// occurs; shorter forms are replaced only as whole words.
const MinAnywhere = 4

// Secrets is a set of secret forms and the rule that redacts them. It is
// safe for concurrent use; the zero value is an empty set.
type Secrets struct {
	mu    sync.RWMutex
	forms []string // longest first, no duplicates, no empty string
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{} }

// SecretForms returns the forms under which a secret may travel on the wire
// or in logs: the value, its base64 encodings (standard and URL-safe, with
// and without padding), its hex in lower and upper case, and its Go-quoted
// spelling (without the quotes) when that differs. Empty for "".
func SecretForms(secret string) []string {
	if secret == "" {
		return nil
	}
	forms := []string{secret}
	forms = append(forms, base64Forms([]byte(secret))...)
	h := hex.EncodeToString([]byte(secret))
	forms = append(forms, h, strings.ToUpper(h))
	if q := strconv.Quote(secret); q[1:len(q)-1] != secret {
		forms = append(forms, q[1:len(q)-1])
	}
	if q := strconv.QuoteToASCII(secret); q[1:len(q)-1] != secret {
		forms = append(forms, q[1:len(q)-1])
	}
	return dedupe(forms)
}

// PayloadForms returns the forms of a SASL response Herald sent: its base64
// encodings (the text on the wire, without padding, and in the URL
// alphabet) and the response itself (with its Go-quoted spelling), since a
// server may echo either. Empty for an empty response.
func PayloadForms(resp []byte) []string {
	if len(resp) == 0 {
		return nil
	}
	forms := append(base64Forms(resp), string(resp))
	if q := strconv.Quote(string(resp)); q[1:len(q)-1] != string(resp) {
		forms = append(forms, q[1:len(q)-1])
	}
	return dedupe(forms)
}

func base64Forms(b []byte) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString(b))
	}
	return out
}

func dedupe(forms []string) []string {
	out := forms[:0]
	for _, f := range forms {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// Add registers a secret (a password, a token) with every form SecretForms
// derives from it, whatever its length.
func (s *Secrets) Add(secret string) { s.AddForms(SecretForms(secret)...) }

// AddPayload registers a SASL response Herald sent, in every form
// PayloadForms lists.
func (s *Secrets) AddPayload(resp []byte) { s.AddForms(PayloadForms(resp)...) }

// AddForms registers exact strings to redact (empty ones are ignored).
func (s *Secrets) AddForms(forms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, f := range forms {
		if f != "" && !slices.Contains(s.forms, f) {
			s.forms = append(s.forms, f)
			changed = true
		}
	}
	if changed {
		slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
	}
}

// Forms returns a copy of the registered forms, longest first.
func (s *Secrets) Forms() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.forms)
}

// Redact returns text with every registered form replaced by Redacted: long
// forms anywhere, short forms as whole words (see the rule above). A nil
// set redacts nothing.
func (s *Secrets) Redact(text string) string { return s.redact(text, true, 0) }

// RedactOwn is Redact for a line Herald wrote itself: only the forms of
// MinAnywhere bytes or more are replaced.
func (s *Secrets) RedactOwn(text string) string { return s.redact(text, false, 0) }

// RedactReply is Redact for a server line that starts with a reply code of
// n bytes ("250 " or "250-"): a short form inside the code is left alone,
// since it is the code and not an echo.
func (s *Secrets) RedactReply(text string, n int) string { return s.redact(text, true, n) }

func (s *Secrets) redact(text string, short bool, code int) string {
	if s == nil || text == "" {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return redactForms(text, s.forms, short, code)
}

// redactForms applies the rule to text for forms; short occurrences that
// end within the first code bytes are kept.
func redactForms(text string, forms []string, short bool, code int) string {
	var spans [][2]int
	hasCut := strings.Contains(text, Cut)
	for _, f := range forms {
		if len(f) < MinAnywhere && !short {
			continue
		}
		for off := 0; off+len(f) <= len(text); {
			k := strings.Index(text[off:], f)
			if k < 0 {
				break
			}
			i, j := off+k, off+k+len(f)
			if len(f) >= MinAnywhere || (j > code && wholeWord(text, f, i, j)) {
				spans = append(spans, [2]int{i, j})
			}
			off = i + 1 // overlapping occurrences too
		}
		if hasCut {
			spans = cutSpans(text, f, spans)
		}
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for k := 0; k < len(spans); {
		start, end := spans[k][0], spans[k][1]
		for k++; k < len(spans) && spans[k][0] <= end; k++ {
			end = max(end, spans[k][1])
		}
		b.WriteString(text[pos:start])
		b.WriteString(Redacted)
		pos = end
	}
	b.WriteString(text[pos:])
	return b.String()
}

// Cut marks where Herald shortened a text (a long reply line, a quoted
// reply in an error): a form cut there is redacted as far as it goes.
const Cut = "..."

// cutSpans adds to spans every prefix of f of MinAnywhere bytes or more that
// text holds directly before Cut: what is left of a form a truncation cut.
func cutSpans(text, f string, spans [][2]int) [][2]int {
	if len(f) <= MinAnywhere {
		return spans
	}
	for off := 0; ; {
		c := strings.Index(text[off:], Cut)
		if c < 0 {
			return spans
		}
		c += off
		// The longest prefix ending at c covers the shorter ones.
		for k := min(len(f)-1, c); k >= MinAnywhere; k-- {
			if text[c-k:c] == f[:k] {
				spans = append(spans, [2]int{c - k, c})
				break
			}
		}
		off = c + 1
	}
}

// wholeWord reports whether the occurrence text[i:j] of f stands as a word.
func wholeWord(text, f string, i, j int) bool {
	if isWordByte(f[0]) && i > 0 && wordAt(text, i-1) {
		return false
	}
	if isWordByte(f[len(f)-1]) && j < len(text) && wordAt(text, j) {
		return false
	}
	return true
}

// isWordByte reports whether b always belongs to a word: ASCII letters and
// digits, the base64 and base64url extras and every byte of a non-ASCII
// character.
func isWordByte(b byte) bool {
	return b >= 0x80 || b == '+' || b == '/' || b == '-' || b == '_' ||
		(b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

// wordAt reports whether text[k] belongs to a word: a word byte, or '.' or
// '@' between two word bytes.
func wordAt(text string, k int) bool {
	c := text[k]
	if isWordByte(c) {
		return true
	}
	return (c == '.' || c == '@') && k > 0 && k+1 < len(text) && isWordByte(text[k-1]) && isWordByte(text[k+1])
}
