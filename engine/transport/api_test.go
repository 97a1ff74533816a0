package transport

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/transcript"
)

func TestReadReply(t *testing.T) {
	rec := transcript.New()
	in := "250-mx.test hello\r\n250-SIZE 1000\r\n250-AUTH=LOGIN\r\n250 8BITMIME\r\n" +
		"550 5.1.1 no such user\r\n" +
		"354\r\n"
	br := bufio.NewReaderSize(strings.NewReader(in), MaxReplyLine)
	r, err := ReadReply(br, rec, false, StageEHLO)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 250 || len(r.Lines) != 4 || r.Lines[1] != "250-SIZE 1000" || r.Enhanced != "" {
		t.Fatalf("%+v", r)
	}
	if got := r.Text(); got != "mx.test hello / SIZE 1000 / AUTH=LOGIN / 8BITMIME" {
		t.Fatalf("text %q", got)
	}
	if ext := r.Extensions(); !reflect.DeepEqual(ext, map[string]string{"SIZE": "1000", "AUTH": "LOGIN", "8BITMIME": ""}) {
		t.Fatalf("extensions %v", ext)
	}
	r, err = ReadReply(br, rec, false, StageRcpt)
	if err != nil || r.Code != 550 || r.Enhanced != "5.1.1" || r.message() != "no such user" || r.Text() != "5.1.1 no such user" {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = ReadReply(br, rec, false, StageData)
	if err != nil || r.Code != 354 || r.Text() != "" || r.Lines[0] != "354" {
		t.Fatalf("%+v %v", r, err)
	}
	if n := len(rec.Events()); n != 6 {
		t.Fatalf("%d lines recorded, want 6", n)
	}
	// The end of the input is the reader's own error, for the caller.
	if _, err := ReadReply(br, nil, false, StageDone); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}

	bad := map[string]Kind{
		"HTTP/1.1 400 Bad Request\r\n":   KindProtocol,
		"250-a\r\n251 b\r\n":             KindProtocol,
		"199 too low\r\n":                KindProtocol,
		strings.Repeat("x", 5000) + "\n": KindReplyTooLong,
	}
	for in, kind := range bad {
		_, err := ReadReply(bufio.NewReaderSize(strings.NewReader(in), MaxReplyLine), nil, false, StageBanner)
		var e *Error
		if !errors.As(err, &e) || e.Kind != kind || e.Stage != StageBanner || e.Class != ClassPermanent {
			t.Errorf("%.20q: %v", in, err)
		}
	}
}

func TestDotWriter(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	d := NewDotWriter(bw)
	for _, p := range []string{".a\r", "\nb\rc", "\n..d"} {
		if n, err := d.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatal(n, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if want := "..a\r\nb\r\nc\r\n...d\r\n.\r\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	if d.Bytes() != 11 || d.Lines() != 4 {
		t.Fatalf("%d bytes, %d lines", d.Bytes(), d.Lines())
	}

	// A failing writer stops the encoding with its error.
	boom := errors.New("boom")
	d = NewDotWriter(bufio.NewWriterSize(failWriter{boom}, 16))
	n, err := d.Write(bytes.Repeat([]byte("line\n"), 10))
	if !errors.Is(err, boom) || n >= 50 || d.Bytes() != int64(n) {
		t.Fatalf("n %d, err %v, bytes %d", n, err, d.Bytes())
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestSASL(t *testing.T) {
	rec := transcript.New()
	s, err := NewSASL(AuthPlain, "user", "s3cret-pass", "mx.test", rec)
	if err != nil {
		t.Fatal(err)
	}
	line, shown, err := s.Start(true, []string{"PLAIN"})
	want := "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00user\x00s3cret-pass"))
	if err != nil || line != want || shown != "AUTH PLAIN "+transcript.Redacted || s.Mech() != "PLAIN" {
		t.Fatalf("%q %q %v", line, shown, err)
	}
	if got := rec.Redact(line); strings.Contains(got, strings.TrimPrefix(want, "AUTH PLAIN ")) || !strings.Contains(got, "AUTH PLAIN") {
		t.Fatalf("the response is not a secret: %q", got)
	}
	if _, err := s.Next("not base64!"); err == nil {
		t.Fatal("a bad challenge was answered")
	}

	s, _ = NewSASL(AuthLogin, "user", "s3cret-pass", "mx.test", rec)
	if line, _, err := s.Start(true, nil); err != nil || line != "AUTH LOGIN" {
		t.Fatalf("%q %v", line, err)
	}
	next, err := s.Next(base64.StdEncoding.EncodeToString([]byte("Username:")))
	if err != nil || next != base64.StdEncoding.EncodeToString([]byte("user")) {
		t.Fatalf("%q %v", next, err)
	}
	if _, err := NewSASL(AuthAuto, "user", "pw", "mx.test", nil); err == nil {
		t.Fatal("auto is not a mechanism")
	}
}

func TestEHLOName(t *testing.T) {
	if got := EHLOName(Config{HeloName: "client.test"}); got != "client.test" {
		t.Fatal(got)
	}
	if got := EHLOName(Config{}); got == "" || strings.ContainsAny(got, " \t\r\n<>") {
		t.Fatalf("%q", got)
	}
}
