package transcript

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRedactsSecretAndBase64(t *testing.T) {
	r := New()
	r.AddSecret("hunter22")
	b64 := base64.StdEncoding.EncodeToString([]byte("hunter22"))
	r.Client(true, "AUTH PLAIN "+b64)
	r.Info(false, "password was hunter22")
	for _, e := range r.Events() {
		if strings.Contains(e.Text, "hunter22") || strings.Contains(e.Text, b64) {
			t.Fatalf("secret leaked: %q", e.Text)
		}
		if !strings.Contains(e.Text, Redacted) {
			t.Fatalf("expected redaction marker in %q", e.Text)
		}
	}
	if got := r.Redact("x hunter22 y"); got != "x "+Redacted+" y" {
		t.Fatalf("Redact = %q", got)
	}
}

func TestOneEventOneLine(t *testing.T) {
	r := New()
	r.Server(false, "250 ok\r\n injected")
	if e := r.Events()[0]; strings.ContainsAny(e.Text, "\r\n") {
		t.Fatalf("event text contains a line break: %q", e.Text)
	}
}

func TestSlowSubscriberNeverBlocks(t *testing.T) {
	r := New()
	slow := r.Subscribe(2, false)
	fast := r.Subscribe(100, false)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			r.Server(false, "250 line")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("recorder blocked on a slow subscriber")
	}
	if slow.Dropped() != 48 {
		t.Fatalf("slow subscriber dropped %d, want 48", slow.Dropped())
	}
	r.Finish()
	n := 0
	for range fast.C() {
		n++
	}
	if n != 50 {
		t.Fatalf("fast subscriber got %d events, want 50", n)
	}
	if len(r.Events()) != 50 {
		t.Fatalf("recorder kept %d events", len(r.Events()))
	}
}

func TestReplayAndOrder(t *testing.T) {
	r := New()
	r.Client(false, "EHLO a")
	r.Server(false, "250 b")
	s := r.Subscribe(10, true)
	r.Client(false, "QUIT")
	s.Close()
	s.Close() // idempotent
	var texts []string
	for e := range s.C() {
		texts = append(texts, string(e.Dir)+":"+e.Text)
	}
	if strings.Join(texts, ",") != "C:EHLO a,S:250 b,C:QUIT" {
		t.Fatalf("got %v", texts)
	}
}

func TestString(t *testing.T) {
	e := Event{Elapsed: 12 * time.Millisecond, Dir: Server, TLS: true, Text: "250 OK"}
	if got := e.String(); got != "+12ms S* 250 OK" {
		t.Fatalf("String = %q", got)
	}
}

func TestEveryFormRedactedWhateverTheLength(t *testing.T) {
	for _, pw := range []string{"hunter22", "abc", "ab", "a", "5", "p\"w"} {
		r := New()
		r.AddSecret(pw)
		forms := SecretForms(pw)
		hexLower := hex.EncodeToString([]byte(pw))
		for _, want := range []string{pw, hexLower, strings.ToUpper(hexLower), base64.StdEncoding.EncodeToString([]byte(pw)),
			base64.RawStdEncoding.EncodeToString([]byte(pw)), base64.URLEncoding.EncodeToString([]byte(pw)), base64.RawURLEncoding.EncodeToString([]byte(pw))} {
			if !slices.Contains(forms, want) {
				t.Fatalf("SecretForms(%q) lacks %q: %q", pw, want, forms)
			}
		}
		for _, f := range forms {
			for _, text := range []string{"535 5.7.8 bad password " + f, "535 5.7.8 '" + f + "' refused.", "535 " + f} {
				r.Server(true, text)
				e := r.Events()[len(r.Events())-1]
				if !strings.Contains(e.Text, Redacted) || !strings.HasPrefix(e.Text, "535 ") {
					t.Errorf("secret %q, form %q: %q recorded as %q", pw, f, text, e.Text)
				}
			}
			if got := r.Redact("failed: " + f + "."); got != "failed: "+Redacted+"." {
				t.Errorf("secret %q, form %q: Redact = %q", pw, f, got)
			}
		}
	}
}

func TestShortSecretsOnlyAsWholeWords(t *testing.T) {
	r := New()
	r.AddSecret("5")  // hex "35", base64 "NQ==" and "NQ"
	r.AddSecret("ab") // hex "6162"
	keep := []string{
		"250 2.1.5 <ab@example.com> recipient ok", // an address is one word
		"250-SIZE 35882577",
		"220 mx.ab.example ESMTP about 535 things",
		"535 5.7.8 abc 5.5.5",
	}
	for _, text := range keep {
		r.Server(false, text)
		if got := r.Events()[len(r.Events())-1].Text; got != text {
			t.Errorf("%q recorded as %q", text, got)
		}
	}
	// Herald's own lines keep short coincidences: its credentials are
	// replaced wholesale by the caller.
	r.Client(false, "MAIL FROM:<ab@example.com> SIZE=5")
	if got := r.Events()[len(r.Events())-1].Text; got != "MAIL FROM:<ab@example.com> SIZE=5" {
		t.Errorf("client line recorded as %q", got)
	}
	for text, want := range map[string]string{
		"535 you said ab":         "535 you said " + Redacted,
		"535 you said 5, not ab.": "535 you said " + Redacted + ", not " + Redacted + ".",
		"535 (NQ) [6162]":         "535 (" + Redacted + ") [" + Redacted + "]",
		"535 pass=ab user=x":      "535 pass=" + Redacted + " user=x",
		"535 x6162y":              "535 x" + Redacted + "y", // long forms anywhere
	} {
		r.Server(false, text)
		if got := r.Events()[len(r.Events())-1].Text; got != want {
			t.Errorf("%q recorded as %q, want %q", text, got, want)
		}
	}
}

func TestSASLPayloadForms(t *testing.T) {
	s := NewSecrets()
	blob := []byte("\x00ann\x00pw")
	s.AddPayload(blob)
	std := base64.StdEncoding.EncodeToString(blob)
	for _, text := range []string{std, strings.TrimRight(std, "="), base64.URLEncoding.EncodeToString(blob), strings.ReplaceAll(string(blob), "\x00", `\x00`)} {
		if got := s.Redact("535 echo " + text + " end"); got != "535 echo "+Redacted+" end" {
			t.Errorf("%q: %q", text, got)
		}
	}
	if got := s.Redact("overlap aaaa"); got != "overlap aaaa" {
		t.Errorf("unrelated text changed: %q", got)
	}
}

func TestOverlappingFormsMerge(t *testing.T) {
	s := NewSecrets()
	s.AddForms("abcd", "cdef")
	if got := s.Redact("xabcdefx abcdabcd"); got != "x"+Redacted+"x "+Redacted {
		t.Fatalf("got %q", got)
	}
	var nilSet *Secrets
	if nilSet.Redact("abc") != "abc" {
		t.Fatal("a nil set changed text")
	}
}

func TestSecretWithLineBreak(t *testing.T) {
	r := New()
	r.AddSecret("pa\nss\"word")
	r.Server(false, "535 bad pa\nss\"word")
	r.Info(false, `refused: "pa\nss\"word"`)
	for _, e := range r.Events() {
		if strings.Contains(e.Text, "ss") {
			t.Fatalf("leaked: %q", e.Text)
		}
	}
}

func TestCutFormRedacted(t *testing.T) {
	r := New()
	r.AddSecret("hunter22-long")
	r.Server(false, "xx hunter22-lo...")
	r.Info(false, `not SMTP: "xx hunter22-lo..."`)
	for _, e := range r.Events() {
		if strings.Contains(e.Text, "hunter") {
			t.Fatalf("the cut secret leaked: %q", e.Text)
		}
	}
	if got := r.Redact("hun..."); got != "hun..." {
		t.Fatalf("a prefix under MinAnywhere bytes was taken: %q", got)
	}
}
