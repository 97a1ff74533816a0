package transport

import (
	"context"
	"encoding/binary"
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
		res.fail(err) // dial has redacted err
		res.Elapsed = time.Since(start)
		return res
	}
	defer c.scrubResult(res)
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
		if e.Kind == KindUnexpectedReply {
			// The replies were out of step: what they said about the
			// recipients cannot be trusted.
			r.Recipients = nil
		}
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
	rest := a
	if strings.HasPrefix(a, `"`) {
		// A quoted local part ("john doe"@example.com, RFC 5321 4.1.2) may
		// hold spaces; the rest of the address may not.
		if end := quotedEnd(a); end > 0 {
			rest = strings.ReplaceAll(a[:end], " ", "") + a[end:]
		}
	}
	if strings.ContainsAny(rest, "\r\n\x00<> \t") {
		return fmt.Errorf("%q contains a character not allowed in an address", a)
	}
	if a != "" && !strings.Contains(a, "@") && !strings.EqualFold(a, "postmaster") {
		return fmt.Errorf("%q is not an address: missing @", a)
	}
	return nil
}

// quotedEnd returns the index just after the quoted string that starts a,
// or 0 when it is not closed.
func quotedEnd(a string) int {
	for i := 1; i < len(a); i++ {
		switch a[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
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
func (c *Client) messageFacts(body io.Reader) (size int64, eightBit, known bool) {
	l, ok := body.(interface{ Len() int })
	ra, ok2 := body.(io.ReaderAt)
	if !ok || !ok2 {
		return 0, false, false
	}
	size = int64(l.Len())
	buf := c.scratch()
	// Len is what is left to read: scan from the reader's position, which
	// ReaderAt cannot tell, by taking the last size bytes when Size is known.
	var base int64
	if s, ok := body.(interface{ Size() int64 }); ok {
		base = s.Size() - size
	}
	for off := int64(0); off < size; {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), size-off)], base+off)
		if hasHighBit(buf[:n]) {
			return size, true, true
		}
		off += int64(n)
		if err != nil || n == 0 {
			break
		}
	}
	return size, false, true
}

// hasHighBit reports whether any byte of b is 0x80 or above, eight bytes at
// a time.
func hasHighBit(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return true
		}
		b = b[8:]
	}
	for _, x := range b {
		if x >= 0x80 {
			return true
		}
	}
	return false
}

// buildEnvelope checks an envelope against what the server offers and
// returns the MAIL FROM command and the parameters of every RCPT TO. extra
// holds MAIL parameters (" SIZE=n", " BODY=8BITMIME"). Nothing is sent.
func (c *Client) buildEnvelope(env Envelope, extra []string) (mail, rparams string, err error) {
	if err := validAddress(env.From); err != nil {
		return "", "", &Error{Stage: StageMail, Class: ClassPermanent, Kind: KindInput, Msg: "envelope sender", Err: err}
	}
	if len(env.To) == 0 {
		return "", "", errorf(StageRcpt, ClassPermanent, KindNoRecipients, "the envelope has no recipient")
	}
	utf8Needed := !isASCII(env.From)
	for i, to := range env.To {
		if err := validAddress(to); err != nil {
			return "", "", &Error{Stage: StageRcpt, Class: ClassPermanent, Kind: KindInput, Msg: fmt.Sprintf("envelope recipient %d", i+1), Err: err}
		}
		utf8Needed = utf8Needed || !isASCII(to)
	}
	params := strings.Join(extra, "")
	if utf8Needed {
		if _, ok := c.ext["SMTPUTF8"]; !ok {
			return "", "", errorf(StageMail, ClassPermanent, KindSMTPUTF8, "an envelope address is not ASCII and the server does not offer SMTPUTF8")
		}
		params += " SMTPUTF8"
	}
	dsn := c.cfg.DSN
	if env.DSN != nil {
		dsn = env.DSN
	}
	_, dsnOK := c.ext["DSN"]
	if dsn != nil && !dsnOK {
		c.note("the server does not offer DSN: no delivery notification requested")
		dsn = nil
	}
	if dsn != nil {
		// A request built by hand (or read back from a file) is checked
		// as a typed one is: its values are written into commands.
		if _, err := ParseDSN(strings.Join(dsn.Notify, ","), dsn.Return, dsn.EnvID); err != nil {
			return "", "", &Error{Stage: StageMail, Class: ClassPermanent, Kind: KindInput, Msg: "delivery status notification request", Err: err}
		}
		if dsn.Return != "" {
			params += " RET=" + strings.ToUpper(dsn.Return)
		}
		if dsn.EnvID != "" {
			params += " ENVID=" + xtext(dsn.EnvID)
		}
		if len(dsn.Notify) > 0 {
			rparams = " NOTIFY=" + strings.ToUpper(strings.Join(dsn.Notify, ","))
		}
	}
	return "MAIL FROM:<" + env.From + ">" + params, rparams, nil
}

// envelope sends MAIL FROM and RCPT TO for each recipient. With allRcpt,
// one refused recipient is an error (a dry run); otherwise only all refused
// is. With reset, RSET follows.
func (c *Client) envelope(ctx context.Context, env Envelope, rcpts, allRcpt bool, extra ...string) (*Result, error) {
	res := &Result{TLS: c.info}
	fail := func(err error) (*Result, error) {
		res.fail(err)
		c.noteFail(res.Stage, err)
		return res, err
	}
	stop := c.watch(ctx)
	defer stop()
	mail, rparams, err := c.buildEnvelope(env, extra)
	if err != nil {
		return fail(err)
	}
	r, err := c.cmd(StageMail, mail)
	if err != nil {
		return fail(err)
	}
	if r.Code != 250 {
		err := replyError(StageMail, "sender <"+env.From+"> refused", r)
		c.reset()
		return fail(err)
	}
	res.Code, res.EnhancedCode = r.Code, r.Enhanced
	if !rcpts {
		return res, nil
	}
	var lastRefusal *Reply
	var lastAddr string
	accepted := 0
	for _, to := range env.To {
		r, err := c.cmd(StageRcpt, "RCPT TO:<"+to+">"+rparams)
		if err != nil {
			return fail(err)
		}
		rr := RecipientResult{Addr: to, Code: r.Code, EnhancedCode: r.Enhanced, Message: r.message(), Accepted: r.Code == 250 || r.Code == 251}
		res.Recipients = append(res.Recipients, rr)
		if rr.Accepted {
			accepted++
			continue
		}
		lastRefusal, lastAddr = r, to
		if r.Code == 421 {
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
	if r, err := c.cmd(StageDone, "RSET"); err != nil || r.Code != 250 {
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
// so no body can end the DATA phase early. Where the session pipelines
// (Config.Pipelining), MAIL, every RCPT and DATA leave in one write and
// every reply is checked in order. The result is never nil; after a
// refusal the session is reset and can carry the next message.
func (c *Client) Send(ctx context.Context, env Envelope, body io.Reader) (*Result, error) {
	pipe, err := c.usePipelining()
	if err != nil {
		res := &Result{TLS: c.info}
		res.fail(err)
		c.noteFail(StageMail, err)
		return res, err
	}
	var res *Result
	if pipe {
		results, _ := c.sendPipelined(ctx, []Envelope{env}, []io.Reader{body})
		res = results[0]
	} else {
		res, _ = c.sendPlain(ctx, env, body)
	}
	c.scrubResult(res)
	return res, res.Err
}

// bodyParams returns the MAIL parameters a body needs (SIZE, BODY) when the
// reader can tell its size, or a KindSize error when the server's SIZE
// limit is smaller.
func (c *Client) bodyParams(body io.Reader) ([]string, error) {
	_, sizeOffered := c.ext["SIZE"]
	tooLarge := func(size int64) error {
		return &Error{Stage: StageMail, Class: ClassPermanent, Kind: KindSize,
			Msg: fmt.Sprintf("the message is %d bytes and the server accepts at most %d (SIZE)", size, c.maxSize)}
	}
	// The size first, before the body is scanned: a body that is rendered
	// only when first read (it tells its Len before) is never rendered for
	// a message the server would refuse.
	if l, ok := body.(interface{ Len() int }); ok && sizeOffered && c.maxSize > 0 && int64(l.Len()) > c.maxSize {
		return nil, tooLarge(int64(l.Len()))
	}
	size, eightBit, known := c.messageFacts(body)
	if !known {
		return nil, nil
	}
	var extra []string
	if sizeOffered {
		if n := c.maxSize; n > 0 && size > n {
			return nil, tooLarge(size)
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
	return extra, nil
}

// sendPlain is Send one command at a time.
func (c *Client) sendPlain(ctx context.Context, env Envelope, body io.Reader) (*Result, error) {
	start := time.Now()
	extra, err := c.bodyParams(body)
	if err != nil {
		res := &Result{TLS: c.info}
		res.fail(err)
		c.noteFail(StageMail, err)
		return res, res.Err
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
		c.noteFail(res.Stage, err)
		res.Elapsed = time.Since(start)
		return res, err
	}
	r, err := c.cmd(StageData, "DATA")
	if err != nil {
		return fail(err)
	}
	if r.Code != 354 {
		err := replyError(StageData, "DATA refused", r)
		c.reset()
		return fail(err)
	}
	if err := c.writeBody(body); err != nil {
		return fail(err)
	}
	if err := c.flush(StageData, "send the message"); err != nil {
		// The final dot did not leave: the server cannot have accepted.
		return fail(err)
	}
	r, err = c.readReply(StageData)
	if err != nil {
		// Whatever happened after the final dot (a drop, a timeout, garbage),
		// the server may have taken the message.
		c.broken = true
		return fail(afterDataError(err))
	}
	if r.Code/100 != 2 {
		err := replyError(StageData, "message refused", r)
		return fail(err)
	}
	res.OK, res.Stage, res.Class = true, StageDone, ClassSent
	res.Code, res.EnhancedCode, res.QueuedAs = r.Code, r.Enhanced, r.Text()
	res.Elapsed = time.Since(start)
	return res, nil
}

// dataWriter is the session's body encoder: a DotWriter on the write
// buffer that sets the deadline before each write and sends what it holds
// every 16 KiB.
type dataWriter struct {
	c   *Client
	enc DotWriter
}

func (d *dataWriter) Write(p []byte) (int, error) {
	if err := d.c.arm(StageData); err != nil {
		return 0, err
	}
	n, err := d.enc.Write(p)
	if err == nil && d.c.bw.Buffered() >= 16<<10 {
		err = d.c.bw.Flush()
	}
	if err != nil {
		return 0, netError(d.c.ctx, StageData, "send the message", err)
	}
	return n, nil
}

// end ends the last line and writes the final dot, without flushing: in a
// pipelined batch the next message's commands follow in the same write.
func (d *dataWriter) end() error {
	if err := d.c.arm(StageData); err != nil {
		return err
	}
	// A failed write stays in the buffer: the flush that sends the dot
	// reports it.
	d.enc.Close()
	return nil
}

// writeBody writes body in DATA form and the final dot to the write buffer
// (not flushed), and records the summary and the dot. After an error the
// session is broken (and closed when the reader failed).
func (c *Client) writeBody(body io.Reader) error {
	c.dw = dataWriter{c: c, enc: DotWriter{w: c.bw}}
	dw := &c.dw
	if _, err := io.CopyBuffer(dw, struct{ io.Reader }{body}, c.scratch()); err != nil {
		c.broken = true
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		// The reader failed: the server has not seen the final dot, so it
		// will discard what it got. Drop the connection.
		c.Close()
		return &Error{Stage: StageData, Class: ClassTemporary, Kind: KindInput, Msg: "read the message", Err: err}
	}
	if err := dw.end(); err != nil {
		return err
	}
	if c.rec != nil {
		c.rec.Client(c.tls, fmt.Sprintf("[message: %d bytes in %d lines]", dw.enc.Bytes(), dw.enc.Lines()))
		c.rec.Client(c.tls, ".")
	}
	c.expect(".")
	return nil
}

// scratch is the session's reusable 32 KiB copy buffer.
func (c *Client) scratch() []byte {
	if c.buf == nil {
		c.buf = make([]byte, 32<<10)
	}
	return c.buf
}

// afterDataError is the error of a message whose final dot was sent but
// whose reply could not be read (err): the server may or may not have
// taken the message, so the class is ClassUnknown. A reply that does not
// fit the dot keeps its kind and says so.
func afterDataError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindUnexpectedReply {
		e.Class = ClassUnknown
		e.Msg += "; the message may or may not have been accepted"
		return e
	}
	return &Error{Stage: StageData, Class: ClassUnknown, Kind: KindUnknownAfterData,
		Msg: "the connection was lost after the message was sent, before the server answered: it may or may not have been accepted", Err: err}
}
