package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-smtp/herald/engine/transcript"
)

// FuzzReadReply feeds arbitrary server output to the reply reader, reply
// after reply, and checks what it promises: it never panics; a reply has a
// code from 200 to 599, one to MaxReplyLines lines that all carry that
// code, and no raw control byte (in its lines or in the transcript); a
// failure is a *Error of the stage asked or the reader's own error.
// Seeds are in testdata/fuzz/FuzzReadReply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.example ESMTP\r\n",
		"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n",
		"250 2.1.0 Ok\r\n250 INJECTED\r\n",
		"550 5.1.1 <b@x>: no such user\r\n",
		"250\r\n",
		"2x0 nope\r\n",
		"250-a\r\n251 b\r\n",
		"354\n",
		"220 \x1b[31mred\x07\r\n",
		"\x15\x03\x01\x00\x02\x02\x28",
		"250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n",
		"250 caf\xc3\xa9 \xff\xfe \xc2\x9b\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), MaxReplyLine)
		rec := transcript.New()
		for i := 0; i < 64; i++ {
			r, err := ReadReply(br, rec, false, StageMail)
			if err != nil {
				var e *Error
				if errors.As(err, &e) {
					if e.Stage != StageMail || e.Class != ClassPermanent || (e.Kind != KindProtocol && e.Kind != KindReplyTooLong) {
						t.Fatalf("error %+v", e)
					}
					if strings.ContainsFunc(e.Error(), isControl) {
						t.Fatalf("raw control byte in the error %q", e.Error())
					}
				} else if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected reader error %v", err)
				}
				break
			}
			if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.Lines) > MaxReplyLines {
				t.Fatalf("reply %+v", r)
			}
			for _, l := range r.Lines {
				if code, _, ok := parseReplyLine(l); !ok || code != r.Code {
					t.Fatalf("line %q of a %d reply", l, r.Code)
				}
				if strings.ContainsFunc(l, isControl) || !utf8.ValidString(l) {
					t.Fatalf("raw control byte or invalid UTF-8 in %q", l)
				}
			}
			if r.Enhanced != "" && !strings.HasPrefix(lineText(r.Lines[0]), r.Enhanced) {
				t.Fatalf("enhanced code %q not from %q", r.Enhanced, r.Lines[0])
			}
			_ = r.Text()
			_ = r.message()
			_ = r.Extensions()
		}
		for _, ev := range rec.Events() {
			if strings.ContainsFunc(ev.Text, isControl) {
				t.Fatalf("raw control byte in the transcript: %q", ev.Text)
			}
		}
	})
}

// isControl reports the runes Printable must escape.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

// FuzzPrintable checks that Printable leaves no control byte and no
// invalid UTF-8, keeps clean text as it is, and keeps every printable
// UTF-8 character.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"250 ok", "\x1b[2J\x07", "caf\xc3\xa9", "\xff\xc2\x9b\x7f", "tab\there", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := Printable(b)
		if strings.ContainsFunc(out, isControl) || !utf8.ValidString(out) {
			t.Fatalf("Printable(%q) = %q", b, out)
		}
		if utf8.Valid(b) && !strings.ContainsFunc(string(b), isControl) && out != string(b) {
			t.Fatalf("clean text changed: %q -> %q", b, out)
		}
		if len(out) < len(b) {
			t.Fatalf("text lost: %q -> %q", b, out)
		}
	})
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"250 ok":                    "250 ok",
		"220 \x1b[31mred\x07":       `220 \x1b[31mred\x07`,
		"550 caf\xc3\xa9 \u00fcber": "550 café über",
		"250 \xff\xfe":              `250 \xff\xfe`,
		"250 \xc2\x9b2J":            `250 \xc2\x9b2J`,
		"250 a\tb\x7f\x00":          `250 a` + "\t" + `b\x7f\x00`,
	} {
		if got := Printable([]byte(in)); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
