package load

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// template is the generated message: made once per run, with only the
// Message-ID differing between messages (a fixed-width sequence number, so
// every message has the same size).
type template struct {
	head []byte // the headers before Message-ID
	tail []byte // the headers after it, the blank line and the body
	run  string // identifies the run in every Message-ID
	size int    // the size of each message
	seq  atomic.Int64
}

// idDigits is the width of the sequence number in a Message-ID.
const idDigits = 9

// filler is the text the body's lines are cut from.
const filler = "The quick brown fox jumps over the lazy dog; Herald load test filler text. "

func newTemplate(o Options) *template {
	var rb [6]byte
	rand.Read(rb[:])
	t := &template{run: strconv.FormatInt(time.Now().Unix(), 36) + "." + hex.EncodeToString(rb[:])}
	to := "undisclosed-recipients:;"
	if rcpts := Recipients(o.To, o.Recipients); len(rcpts) == 1 {
		to = "<" + rcpts[0] + ">"
	}
	var h strings.Builder
	h.WriteString("From: Herald load test <" + o.From + ">\r\n")
	h.WriteString("To: " + to + "\r\n")
	h.WriteString("Subject: Herald load test\r\n")
	h.WriteString("Date: " + time.Now().Format(time.RFC1123Z) + "\r\n")
	t.head = []byte(h.String())
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	b.WriteString("X-Mailer: herald load\r\n")
	b.WriteString("\r\n")
	fixed := len(t.head) + len(t.idLine(nil, 0)) + b.Len()
	// Lines of at most 78 bytes with CRLF, until the size is reached; at
	// least one line of body.
	rest := o.Size - fixed
	for i := 0; rest > 0 || i == 0; i++ {
		n := min(76, max(rest-2, 1))
		off := (i * 7) % len(filler)
		line := (filler + filler + filler)[off : off+n]
		if line[0] == '.' || line[0] == ' ' {
			line = "x" + line[1:]
		}
		b.WriteString(line)
		b.WriteString("\r\n")
		rest -= n + 2
	}
	t.tail = []byte(b.String())
	t.size = len(t.head) + len(t.idLine(nil, 0)) + len(t.tail)
	return t
}

// idLine appends the Message-ID header of message seq to dst.
func (t *template) idLine(dst []byte, seq int64) []byte {
	dst = append(dst, "Message-ID: <load."...)
	dst = append(dst, t.run...)
	dst = append(dst, '.')
	var num [20]byte
	s := strconv.AppendInt(num[:0], seq%1_000_000_000, 10)
	for i := len(s); i < idDigits; i++ {
		dst = append(dst, '0')
	}
	dst = append(dst, s...)
	return append(dst, "@herald.test>\r\n"...)
}

// nextID numbers the next message.
func (t *template) nextID() int64 { return t.seq.Add(1) }

// reader returns a reusable reader of the template's messages.
func (t *template) reader() *msgReader { return &msgReader{t: t} }

// msgReader reads one message: the shared head, its own Message-ID line
// and the shared tail. Like bytes.Reader it has Len, Size and ReadAt, so
// the transport learns the size (SIZE=) without reading it.
type msgReader struct {
	t   *template
	id  []byte
	off int64
}

// reset makes the reader read message seq from its start.
func (m *msgReader) reset(seq int64) {
	m.id = m.t.idLine(m.id[:0], seq)
	m.off = 0
}

// Size is the message's size in bytes.
func (m *msgReader) Size() int64 { return int64(len(m.t.head) + len(m.id) + len(m.t.tail)) }

// Len is the number of bytes not yet read.
func (m *msgReader) Len() int { return int(m.Size() - m.off) }

// ReadAt reads from the message at off.
func (m *msgReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, part := range [3][]byte{m.t.head, m.id, m.t.tail} {
		if len(p) == 0 {
			break
		}
		if off >= int64(len(part)) {
			off -= int64(len(part))
			continue
		}
		c := copy(p, part[off:])
		n += c
		p = p[c:]
		off = 0
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// Read reads the next bytes of the message.
func (m *msgReader) Read(p []byte) (int, error) {
	if m.off >= m.Size() {
		return 0, io.EOF
	}
	n, _ := m.ReadAt(p, m.off)
	m.off += int64(n)
	return n, nil
}
