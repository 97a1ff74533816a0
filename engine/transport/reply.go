package transport

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-smtp/herald/engine/transcript"
)

const (
	// MaxReplyLine bounds one reply line, CRLF included; RFC 5321 allows
	// 512 octets, real servers stay far below this. ReadReply's reader
	// should be made with bufio.NewReaderSize(conn, MaxReplyLine).
	MaxReplyLine = 4096
	// MaxReplyLines bounds the lines of one multi-line reply.
	MaxReplyLines = 512
)

// Reply is one SMTP reply, possibly of several lines, as ReadReply reads
// it.
type Reply struct {
	// Code is the reply code, 200 to 599.
	Code int
	// Enhanced is the RFC 3463 enhanced status code that starts the first
	// line's text ("5.1.1"), "" when there is none.
	Enhanced string
	// Lines are the reply lines as received, without CRLF, codes included
	// ("250-SIZE 1000"); a line's text is what follows its fourth byte.
	Lines []string

	one [1]string // the backing array of a one-line reply's Lines
}

// lineText is a reply line's text, after "NNN-" or "NNN " ("" for a bare
// "NNN").
func lineText(l string) string {
	if len(l) > 3 {
		return l[4:]
	}
	return ""
}

// Text is the reply's text without the codes, lines joined with " / ".
func (r *Reply) Text() string {
	if len(r.Lines) == 1 {
		return lineText(r.Lines[0])
	}
	var b strings.Builder
	for i, l := range r.Lines {
		if i > 0 {
			b.WriteString(" / ")
		}
		b.WriteString(lineText(l))
	}
	return b.String()
}

// message is the text without the enhanced status code.
func (r *Reply) message() string {
	if len(r.Lines) == 0 {
		return ""
	}
	_, first := splitEnhanced(r.Code, lineText(r.Lines[0]))
	if len(r.Lines) == 1 {
		return first
	}
	texts := []string{first}
	for _, l := range r.Lines[1:] {
		texts = append(texts, lineText(l))
	}
	return strings.Join(texts, " / ")
}

// Extensions reads the reply to EHLO: the keywords of the lines after the
// first, in upper case, mapped to their parameters ("SIZE" to "10240000").
// The old form "AUTH=LOGIN PLAIN" counts as AUTH when no AUTH line is
// there.
func (r *Reply) Extensions() map[string]string {
	ext := map[string]string{}
	if len(r.Lines) == 0 {
		return ext
	}
	for _, l := range r.Lines[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(lineText(l)), " ")
		k = strings.ToUpper(k)
		if name, old, ok := strings.Cut(k, "="); ok && name == "AUTH" {
			if _, have := ext["AUTH"]; !have {
				ext["AUTH"] = strings.TrimSpace(old + " " + v)
			}
			continue
		}
		if k != "" {
			ext[k] = v
		}
	}
	return ext
}

// ReadReply reads one reply from br, recording every line on rec as it
// arrives (a nil rec records nothing; tls says whether the line came over
// TLS). The caller sets the connection's deadline.
//
// Server text enters Herald here, and only here: every line is made safe
// for a terminal with Printable before it is recorded or kept, so an
// escape sequence, a BEL or the bytes of a TLS alert show as \x1b, \x07,
// \x15 in transcripts, replies and errors.
//
// When the server's answer is not a reply — a line longer than br's buffer
// (see MaxReplyLine), a line that is not "NNN", "NNN text" or "NNN-text"
// with NNN from 200 to 599, a continuation line with another code, or more
// than MaxReplyLines lines — the error is a *Error of stage st, class
// ClassPermanent and kind KindReplyTooLong or KindProtocol. When reading
// fails, the error is the reader's own (io.EOF, a deadline, a reset), for
// the caller to classify. Either way the session is out of step and cannot
// go on.
func ReadReply(br *bufio.Reader, rec *transcript.Recorder, tls bool, st Stage) (*Reply, error) {
	r := &Reply{}
	r.Lines = r.one[:0]
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if rec != nil {
				rec.Server(tls, Printable(line[:80])+"...")
			}
			return nil, errorf(st, ClassPermanent, KindReplyTooLong, "the server sent a reply line longer than %d bytes", br.Size())
		}
		if err != nil {
			if len(line) > 0 && rec != nil {
				rec.Server(tls, Printable(line))
			}
			return nil, err
		}
		text := Printable(trimEOL(line))
		if rec != nil {
			rec.Server(tls, text)
		}
		code, sep, ok := parseReplyLine(text)
		if !ok || (n > 0 && code != r.Code) || n >= MaxReplyLines {
			return nil, errorf(st, ClassPermanent, KindProtocol, "the server's reply is not SMTP: \"%s\"", truncate(text, 80))
		}
		r.Code = code
		r.Lines = append(r.Lines, text)
		if sep != '-' {
			break
		}
	}
	r.Enhanced, _ = splitEnhanced(r.Code, lineText(r.Lines[0]))
	return r, nil
}

// trimEOL strips the trailing CR and LF characters of a line.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// truncate shortens s to at most n bytes plus "...", never cutting a UTF-8
// sequence or an escape made by Printable in two.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if i := strings.LastIndexByte(s[max(0, n-3):n], '\\'); i >= 0 {
		n = max(0, n-3) + i
	}
	return s[:n] + "..."
}

// Printable returns the server text b safe to show on a terminal: C0
// control bytes (except tab), DEL, C1 controls and bytes that are not
// UTF-8 become \xNN escapes; everything else, UTF-8 text included, is kept
// as is. Text without such bytes is returned unchanged, at the cost of a
// scan.
func Printable(b []byte) string {
	clean := true
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	esc := func(c byte) {
		sb.WriteString(`\x`)
		if c < 0x10 {
			sb.WriteByte('0')
		}
		sb.WriteString(strconv.FormatUint(uint64(c), 16))
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				esc(c)
			} else {
				sb.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			esc(c)
			i++
			continue
		case r >= 0x80 && r <= 0x9f: // C1 controls (CSI is U+009B)
			for _, x := range b[i : i+size] {
				esc(x)
			}
		default:
			sb.Write(b[i : i+size])
		}
		i += size
	}
	return sb.String()
}

// parseReplyLine checks "250-text", "250 text" or a bare "250" and returns
// the code and the separator (' ' for a bare code).
func parseReplyLine(s string) (code int, sep byte, ok bool) {
	if len(s) < 3 {
		return 0, 0, false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
	}
	code = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if code < 200 || code > 599 {
		return 0, 0, false
	}
	if len(s) == 3 {
		return code, ' ', true
	}
	if s[3] != ' ' && s[3] != '-' {
		return 0, 0, false
	}
	return code, s[3], true
}
