package transport

import (
	"bufio"
	"bytes"
)

// DotWriter writes a message body in the form the DATA phase needs (RFC
// 5321 4.5.2): every line ending (CRLF, bare LF, bare CR) becomes CRLF and
// a dot that starts a line is doubled, so that no body can end the data
// early; Close ends the last line and adds the final ".\r\n". The body may
// come in pieces of any size: the output does not depend on where they
// are cut. Nothing is flushed: that is left to the owner of w.
type DotWriter struct {
	w     *bufio.Writer
	state int // 0: start of line, 1: inside a line, 2: after CR
	n     int64
	lines int
}

// NewDotWriter returns a DotWriter that writes to w.
func NewDotWriter(w *bufio.Writer) *DotWriter { return &DotWriter{w: w} }

// Write encodes p. It fails only when w does, with w's error; n is then
// the number of bytes of p taken before the failure.
func (d *DotWriter) Write(p []byte) (n int, err error) {
	rest, err := d.encode(p)
	n = len(p) - len(rest)
	d.n += int64(n)
	return n, err
}

// encode writes p in DATA form and returns what it could not take.
func (d *DotWriter) encode(p []byte) ([]byte, error) {
	// Whole runs of bytes up to the next CR or LF are copied at once; only
	// line ends and leading dots are handled one by one.
	for len(p) > 0 {
		if d.state == 2 {
			if _, err := d.w.WriteString("\r\n"); err != nil {
				return p, err
			}
			d.lines++
			d.state = 0
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		if d.state == 0 && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return p, err
			}
		}
		i := bytes.IndexByte(p, '\n')
		run := p
		if i >= 0 {
			run = p[:i]
		}
		if j := bytes.IndexByte(run, '\r'); j >= 0 {
			i = j
		}
		if i < 0 {
			if _, err := d.w.Write(p); err != nil {
				return p, err
			}
			d.state = 1
			return nil, nil
		}
		if _, err := d.w.Write(p[:i]); err != nil {
			return p, err
		}
		if p[i] == '\n' {
			if _, err := d.w.WriteString("\r\n"); err != nil {
				return p, err
			}
			d.lines++
			d.state = 0
		} else {
			d.state = 2
		}
		p = p[i+1:]
	}
	return nil, nil
}

// Close ends the last line, when the body did not, and writes the final
// dot. It does not close or flush w.
func (d *DotWriter) Close() error {
	if d.state != 0 {
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
		d.lines++
		d.state = 0
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// Bytes is the number of body bytes written so far, before encoding.
func (d *DotWriter) Bytes() int64 { return d.n }

// Lines is the number of lines written so far, the last one counted once
// Close has ended it; the final dot is not counted.
func (d *DotWriter) Lines() int { return d.lines }
