package transcript

import (
	"strings"
	"testing"
)

// FuzzRedact checks the redaction rule: a text that holds a derived form of
// a random secret (or of a SASL payload made of it) as a word, between
// random text, keeps no form of that secret. Every span of the result
// between two Redacted markers is original text; none may hold a form of
// MinAnywhere bytes or more, nor a shorter form standing between spaces.
// The same holds for the lines a Recorder keeps, and a form cut short by a
// truncation (before Cut) keeps none of its long prefixes.
func FuzzRedact(f *testing.F) {
	f.Add("hunter22", "535 5.7.8 credentials", "rejected")
	f.Add("a", "250 ok", "queued as a")
	f.Add("ab", "x", "y")
	f.Add("5", "535 5.7.8", "5.5.5")
	f.Add("p\"w\n", "refused:", "")
	f.Add("\x00ann\x00pw", "AUTH PLAIN", "=")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		if secret == "" || len(secret) > 256 || len(before)+len(after) > 4096 {
			return
		}
		s := NewSecrets()
		s.Add(secret)
		s.AddPayload([]byte(secret))
		forms := s.Forms()
		rec := New()
		rec.Secrets().AddForms(forms...)
		for _, form := range forms {
			text := before + " " + form + " " + after
			check(t, "Redact", text, s.Redact(text), forms)
			rec.Server(true, "535 "+text)
			rec.Info(false, text)
			// A form cut by a truncation keeps none of its MinAnywhere-byte
			// prefixes before the cut mark.
			if len(form) > MinAnywhere {
				k := MinAnywhere + len(before)%(len(form)-MinAnywhere)
				cut := before + " " + form[:k] + Cut
				if out := s.Redact(cut); strings.Contains(strings.TrimPrefix(out, before), form[:k]+Cut) {
					t.Fatalf("Redact(%q) = %q: the cut form survives", cut, out)
				}
			}
		}
		for _, e := range rec.Events() {
			check(t, "recorded", "", e.Text, forms)
		}
	})
}

func check(t *testing.T, what, in, out string, forms []string) {
	t.Helper()
	if in != "" && !strings.Contains(out, Redacted) {
		t.Fatalf("%s(%q) = %q: nothing redacted", what, in, out)
	}
	for _, piece := range strings.Split(out, Redacted) {
		for _, form := range forms {
			if strings.Contains(form, Redacted) || strings.Contains(Redacted, form) {
				continue // a form the marker itself spells
			}
			if len(form) >= MinAnywhere && strings.Contains(piece, form) ||
				len(form) < MinAnywhere && strings.Contains(piece, " "+form+" ") {
				t.Fatalf("%s(%q) = %q: form %q survives", what, in, out, form)
			}
		}
	}
}
