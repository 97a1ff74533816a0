package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Send runs a whole session for one message: Dial, MAIL, RCPT for every
// recipient, DATA, QUIT. It honours Config.QuitAfter. The result is never
// nil; on failure Result.Err is a *Error.
func Send(ctx context.Context, cfg Config, env Envelope, body io.Reader) *Result {
	start := time.Now()
	res := &Result{}
	until := cfg.QuitAfter
	if until == StageMail || until == StageRcpt {
		until = ""
	}
	c, err := dial(ctx, cfg, until)
	if err != nil {
		res.fail(err)
		res.Elapsed = time.Since(start)
		return res
	}
	res.TLS = c.info
	switch cfg.QuitAfter {
	case "":
		r, err := c.Send(ctx, env, body)
		*res = *r
		if err == nil || c.Usable() {
			c.Quit()
		} else {
			c.Close()
		}
	case StageMail, StageRcpt:
		r, err := c.envelope(ctx, env, cfg.QuitAfter == StageRcpt, false)
		*res = *r
		if err == nil {
			res.OK, res.Stage, res.Class = true, cfg.QuitAfter, ""
		}
		c.Quit()
	default:
		res.OK, res.Stage, res.Code, res.EnhancedCode = true, cfg.QuitAfter, c.lastCode, c.lastEnh
		c.note("stopping after %s as asked", cfg.QuitAfter)
		c.Quit()
	}
	res.TLS = c.info
	res.Elapsed = time.Since(start)
	return res
}

// fail fills the result from a session error.
func (r *Result) fail(err error) {
	r.OK, r.Err = false, err
	var e *Error
	if errors.As(err, &e) {
		r.Stage, r.Class = e.Stage, e.Class
		if e.Code > 0 {
			r.Code, r.EnhancedCode = e.Code, e.EnhancedCode
		}
		return
	}
	r.Class = ClassTemporary
}

// validAddress rejects what must never reach a command line: CR, LF, NUL,
// angle brackets and spaces (go-mail has already parsed the addresses a
// draft gives; an envelope may also come from an .eml or a caller).
func validAddress(a string) error {
	if strings.ContainsAny(a, "\r\n\x00<> \t") {
		return fmt.Errorf("%q contains a character not allowed in an address", a)
	}
	if a != "" && !strings.Contains(a, "@") && !strings.EqualFold(a, "postmaster") {
		return fmt.Errorf("%q is not an address: missing @", a)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// xtext encodes a DSN parameter value (RFC 3461 4).
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < '!' || ch > '~' || ch == '+' || ch == '=' {
			fmt.Fprintf(&b, "+%02X", ch)
		} else {
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// messageFacts reports the size and whether the body has 8-bit bytes, when
// the reader can tell without being consumed (bytes.Reader, strings.Reader).
func messageFacts(body io.Reader) (size int64, eightBit, known bool) {
	l, ok := body.(interface{ Len() int })
	ra, ok2 := body.(io.ReaderAt)
	if !ok || !ok2 {
		return 0, false, false
	}
	size = int64(l.Len())
	sr := io.NewSectionReader(ra, 0, size)
	buf := make([]byte, 32<<10)
	for {
		n, err := sr.Read(buf)
		for _, b := range buf[:n] {
			if b >= 0x80 {
				return size, true, true
			}
		}
		if err != nil {
			return size, false, true
		}
	}
}

// envelope sends MAIL FROM and RCPT TO for each recipient. With allRcpt,
// one refused recipient is an error (a dry run); otherwise only all refused
// is. With reset, RSET follows.
func (c *Client) envelope(ctx context.Context, env Envelope, rcpts, allRcpt bool, extra ...string) (*Result, error) {
	res := &Result{TLS: c.info}
	fail := func(err error) (*Result, error) {
		res.fail(err)
		c.note("failed at %s: %s", res.Stage, c.rec.Redact(err.Error()))
		return res, err
	}
	stop := c.watch(ctx)
	defer stop()
	if err := validAddress(env.From); err != nil {
		return fail(&Error{Stage: StageMail, Class: ClassPermanent, Kind: KindInput, Msg: "envelope sender", Err: err})
	}
	if len(env.To) == 0 {
		return fail(errorf(StageRcpt, ClassPermanent, KindNoRecipients, "the envelope has no recipient"))
	}
	utf8Needed := !isASCII(env.From)
	for i, to := range env.To {
		if err := validAddress(to); err != nil {
			return fail(&Error{Stage: StageRcpt, Class: ClassPermanent, Kind: KindInput, Msg: fmt.Sprintf("envelope recipient %d", i+1), Err: err})
		}
		utf8Needed = utf8Needed || !isASCII(to)
	}
	params := strings.Join(extra, "")
	if utf8Needed {
		if _, ok := c.ext["SMTPUTF8"]; !ok {
			return fail(errorf(StageMail, ClassPermanent, KindSMTPUTF8, "an envelope address is not ASCII and the server does not offer SMTPUTF8"))
		}
		params += " SMTPUTF8"
	}
	dsn := c.cfg.DSN
	_, dsnOK := c.ext["DSN"]
	if dsn != nil && !dsnOK {
		c.note("the server does not offer DSN: no delivery notification requested")
		dsn = nil
	}
	if dsn != nil {
		if dsn.Return != "" {
			params += " RET=" + strings.ToUpper(dsn.Return)
		}
		if dsn.EnvID != "" {
			params += " ENVID=" + xtext(dsn.EnvID)
		}
	}
	r, err := c.cmd(StageMail, "MAIL FROM:<"+env.From+">"+params)
	if err != nil {
		return fail(err)
	}
	if r.code != 250 {
		err := replyError(StageMail, "sender <"+env.From+"> refused", r)
		c.reset()
		return fail(err)
	}
	res.Code, res.EnhancedCode = r.code, r.enhanced
	if !rcpts {
		return res, nil
	}
	rparams := ""
	if dsn != nil && len(dsn.Notify) > 0 {
		rparams = " NOTIFY=" + strings.ToUpper(strings.Join(dsn.Notify, ","))
	}
	var lastRefusal *reply
	var lastAddr string
	accepted := 0
	for _, to := range env.To {
		r, err := c.cmd(StageRcpt, "RCPT TO:<"+to+">"+rparams)
		if err != nil {
			return fail(err)
		}
		rr := RecipientResult{Addr: to, Code: r.code, EnhancedCode: r.enhanced, Message: r.message(), Accepted: r.code == 250 || r.code == 251}
		res.Recipients = append(res.Recipients, rr)
		if rr.Accepted {
			accepted++
			continue
		}
		lastRefusal, lastAddr = r, to
		if r.code == 421 {
			c.broken = true
			return fail(replyError(StageRcpt, "recipient <"+to+"> refused", r))
		}
		if allRcpt {
			break
		}
	}
	if accepted == 0 || (allRcpt && lastRefusal != nil) {
		msg := "recipient <" + lastAddr + "> refused"
		if accepted == 0 && len(env.To) > 1 {
			msg = "every recipient was refused; the last, <" + lastAddr + ">"
		}
		err := replyError(StageRcpt, msg, lastRefusal)
		c.reset()
		return fail(err)
	}
	res.Code, res.EnhancedCode = c.lastCode, c.lastEnh
	return res, nil
}

// reset sends RSET so the session can carry another transaction.
func (c *Client) reset() {
	if c.broken {
		return
	}
	if r, err := c.cmd(StageDone, "RSET"); err != nil || r.code != 250 {
		c.broken = true
	}
}

// TryEnvelope is a dry run: MAIL FROM, RCPT TO for each recipient, then
// RSET. Any refusal is an error. The result is never nil.
func (c *Client) TryEnvelope(ctx context.Context, env Envelope) (*Result, error) {
	res, err := c.envelope(ctx, env, true, true)
	if err != nil {
		return res, err
	}
	c.reset()
	res.OK, res.Stage, res.Class = true, StageDone, ""
	return res, nil
}

// Send sends one message on the open session: MAIL, RCPT for each
// recipient (a refused recipient does not stop the others), DATA. The body
// is sent with bare CR and LF normalised to CRLF and leading dots doubled,
// so no body can end the DATA phase early. The result is never nil; after a
// refusal the session is reset and can carry the next message.
func (c *Client) Send(ctx context.Context, env Envelope, body io.Reader) (*Result, error) {
	start := time.Now()
	size, eightBit, known := messageFacts(body)
	var extra []string
	if known {
		if lim, ok := c.ext["SIZE"]; ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(lim), 10, 64); err == nil && n > 0 && size > n {
				res := &Result{TLS: c.info}
				res.fail(&Error{Stage: StageMail, Class: ClassPermanent, Kind: KindSize,
					Msg: fmt.Sprintf("the message is %d bytes and the server accepts at most %d (SIZE)", size, n)})
				c.note("failed at mail: %s", res.Err)
				return res, res.Err
			}
			extra = append(extra, " SIZE="+strconv.FormatInt(size, 10))
		}
		if eightBit {
			if _, ok := c.ext["8BITMIME"]; ok {
				extra = append(extra, " BODY=8BITMIME")
			} else {
				c.note("the message has 8-bit content but the server does not offer 8BITMIME")
			}
		}
	}
	res, err := c.envelope(ctx, env, true, false, extra...)
	if err != nil {
		res.Elapsed = time.Since(start)
		return res, err
	}
	stop := c.watch(ctx)
	defer stop()
	fail := func(err error) (*Result, error) {
		res.fail(err)
		c.note("failed at %s: %s", res.Stage, c.rec.Redact(err.Error()))
		res.Elapsed = time.Since(start)
		return res, err
	}
	r, err := c.cmd(StageData, "DATA")
	if err != nil {
		return fail(err)
	}
	if r.code != 354 {
		err := replyError(StageData, "DATA refused", r)
		c.reset()
		return fail(err)
	}
	dw := &dataWriter{c: c, w: c.bw}
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(dw, struct{ io.Reader }{body}, buf); err != nil {
		c.broken = true
		var e *Error
		if errors.As(err, &e) {
			return fail(e)
		}
		// The reader failed: the server has not seen the final dot, so it
		// will discard what it got. Drop the connection.
		c.Close()
		return fail(&Error{Stage: StageData, Class: ClassTemporary, Kind: KindInput, Msg: "read the message", Err: err})
	}
	if err := dw.finish(); err != nil {
		return fail(err)
	}
	c.rec.Client(c.tls, fmt.Sprintf("[message: %d bytes in %d lines]", dw.n, dw.lines))
	c.rec.Client(c.tls, ".")
	r, err = c.readReply(StageData)
	if err != nil {
		// Whatever happened after the final dot (a drop, a timeout, garbage),
		// the server may have taken the message.
		c.broken = true
		return fail(&Error{Stage: StageData, Class: ClassUnknown, Kind: KindUnknownAfterData,
			Msg: "the connection was lost after the message was sent, before the server answered: it may or may not have been accepted", Err: err})
	}
	if r.code/100 != 2 {
		err := replyError(StageData, "message refused", r)
		return fail(err)
	}
	res.OK, res.Stage, res.Class = true, StageDone, ClassSent
	res.Code, res.EnhancedCode, res.QueuedAs = r.code, r.enhanced, r.text()
	res.Elapsed = time.Since(start)
	return res, nil
}

// dataWriter writes a message body in SMTP DATA form: every line ending
// (CRLF, bare LF, bare CR) becomes CRLF, and a dot at the start of a line
// is doubled (RFC 5321 4.5.2).
type dataWriter struct {
	c     *Client
	w     *bufio.Writer
	state int // 0: start of line, 1: inside a line, 2: after CR
	n     int64
	lines int
}

func (d *dataWriter) Write(p []byte) (int, error) {
	if err := d.c.arm(StageData); err != nil {
		return 0, err
	}
	for _, b := range p {
		if d.state == 2 {
			d.w.WriteString("\r\n")
			d.lines++
			d.state = 0
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			d.state = 2
			continue
		case '\n':
			d.w.WriteString("\r\n")
			d.lines++
			d.state = 0
			continue
		case '.':
			if d.state == 0 {
				d.w.WriteByte('.')
			}
		}
		d.w.WriteByte(b)
		d.state = 1
	}
	d.n += int64(len(p))
	if d.w.Buffered() >= 16<<10 {
		if err := d.w.Flush(); err != nil {
			return 0, netError(d.c.ctx, StageData, "send the message", err)
		}
	}
	return len(p), nil
}

// finish ends the last line and writes the final dot.
func (d *dataWriter) finish() error {
	if err := d.c.arm(StageData); err != nil {
		return err
	}
	if d.state != 0 {
		d.w.WriteString("\r\n")
		d.lines++
	}
	d.w.WriteString(".\r\n")
	if err := d.w.Flush(); err != nil {
		d.c.broken = true
		// The final dot did not leave: the server cannot have accepted.
		return netError(d.c.ctx, StageData, "send the message", err)
	}
	return nil
}
