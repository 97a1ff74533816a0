package transcript

import (
	"encoding/base64"
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
