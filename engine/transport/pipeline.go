package transport

import (
	"context"
	"io"
	"time"
)

// Pipelining (RFC 2920). A message's MAIL, every RCPT and DATA leave in one
// write; then every reply is read, in order, and mapped onto the result
// exactly as the plain path does. In a batch, the message's body and final
// dot leave in one write with the next message's MAIL, RCPT and DATA, so
// that each message costs one round trip. DATA always ends a group (RFC
// 2920 3.1): the body goes only after its 354.
//
// The transcript shows every command when it is written to the connection's
// buffer and every reply line when it is read, so a pipelined group shows
// as its commands followed by their replies.

// usePipelining tells whether the sending path pipelines on this session;
// it fails when PipeliningOn meets a server that does not offer it.
func (c *Client) usePipelining() (bool, error) {
	_, offered := c.ext["PIPELINING"]
	switch c.cfg.Pipelining {
	case PipeliningOff:
		return false, nil
	case PipeliningOn:
		if !offered {
			return false, &Error{Stage: StageMail, Class: ClassPermanent, Kind: KindPipeliningMissing,
				Msg: "pipelining is required but the server does not advertise PIPELINING; nothing was sent"}
		}
	}
	return offered, nil
}

// Pipelined reports whether messages sent on this session are pipelined:
// the server offers PIPELINING and Config.Pipelining allows it.
func (c *Client) Pipelined() bool {
	p, _ := c.usePipelining()
	return p
}

// txn is one message of a pipelined batch, from the write of its MAIL to
// its final reply.
type txn struct {
	env     Envelope
	body    io.Reader
	mail    string // the MAIL FROM command
	rparams string // the parameters of every RCPT TO
	res     *Result
	start   time.Time
	done    bool // res holds the outcome
}

// SendMany sends several messages on the open session and returns one
// Result per message, in order (never nil). Where the session pipelines,
// each message's body and final dot travel in one write with the next
// message's MAIL, RCPT and DATA, so a message costs one round trip;
// otherwise it is Send in a loop. A refused message (or recipient) does not
// stop the others. When the session breaks, the messages not yet sent fail
// with KindNotSent (the server cannot have accepted them). err is nil when
// every message had its turn; otherwise it is what stopped the batch: the
// error that broke the session, the context's end, PipeliningOn on a server
// without PIPELINING, or len(envs) != len(bodies).
func (c *Client) SendMany(ctx context.Context, envs []Envelope, bodies []io.Reader) ([]*Result, error) {
	results := make([]*Result, len(envs))
	failAll := func(err error) ([]*Result, error) {
		for i := range results {
			results[i] = &Result{TLS: c.info}
			results[i].fail(err)
		}
		c.noteFail(StageMail, err)
		return results, err
	}
	if len(bodies) != len(envs) {
		return failAll(errorf(StageMail, ClassPermanent, KindInput, "%d envelopes but %d message bodies", len(envs), len(bodies)))
	}
	pipe, err := c.usePipelining()
	if err != nil {
		return failAll(err)
	}
	if pipe {
		return c.sendPipelined(ctx, envs, bodies)
	}
	var stopped error
	for i := range envs {
		if stopped == nil && ctx.Err() != nil {
			stopped = &Error{Stage: StageMail, Class: ClassTemporary, Kind: KindCanceled, Msg: "canceled", Err: context.Cause(ctx)}
		}
		if stopped != nil {
			results[i] = notSent(c, stopped)
			continue
		}
		results[i], err = c.sendPlain(ctx, envs[i], bodies[i])
		if err != nil && !c.Usable() {
			stopped = err
		}
	}
	return results, stopped
}

// notSent is the result of a message that a broken session never sent.
func notSent(c *Client, cause error) *Result {
	res := &Result{TLS: c.info}
	res.fail(&Error{Stage: StageMail, Class: ClassTemporary, Kind: KindNotSent,
		Msg: "not sent: the session ended before this message's turn", Err: cause})
	return res
}

// sendPipelined is SendMany on a session that pipelines.
func (c *Client) sendPipelined(ctx context.Context, envs []Envelope, bodies []io.Reader) ([]*Result, error) {
	results := make([]*Result, len(envs))
	stop := c.watch(ctx)
	defer stop()

	var stopped error // what ended the batch early
	i := 0
	// next prepares the next message that can be sent; messages that
	// cannot (bad envelope, too large) fail here without a command.
	next := func() *txn {
		for i < len(envs) && stopped == nil {
			k := i
			i++
			res := &Result{TLS: c.info}
			results[k] = res
			t := &txn{env: envs[k], body: bodies[k], res: res, start: time.Now()}
			extra, err := c.bodyParams(t.body)
			if err == nil {
				t.mail, t.rparams, err = c.buildEnvelope(t.env, extra)
			}
			if err != nil {
				c.failTxn(t, err)
				continue
			}
			return t
		}
		return nil
	}
	// broke records what ended the session, once.
	broke := func(err error) {
		if stopped == nil {
			stopped = err
		}
	}
	// queueGroup writes MAIL, every RCPT and DATA of t to the buffer.
	queueGroup := func(t *txn) error {
		if err := c.arm(StageMail); err != nil {
			return err
		}
		t.start = time.Now()
		c.queue(t.mail)
		for _, to := range t.env.To {
			c.queue("RCPT TO:<" + to + ">" + t.rparams)
		}
		c.queue("DATA")
		return nil
	}

	cur := next()
	if cur != nil {
		err := queueGroup(cur)
		if err == nil {
			err = c.flush(StageMail, "send MAIL")
		}
		if err != nil {
			c.failTxn(cur, err)
			broke(err)
			cur = nil
		}
	}
	var dot *txn // the message whose final dot was sent, its reply pending
	for {
		if dot != nil {
			c.readDotReply(dot)
			if !c.Usable() {
				broke(dot.res.Err)
			}
			dot = nil
		}
		if cur == nil || stopped != nil {
			break
		}
		if !c.readGroup(cur) {
			if !c.Usable() {
				broke(cur.res.Err)
				break
			}
			if cur = next(); cur != nil {
				err := queueGroup(cur)
				if err == nil {
					err = c.flush(StageMail, "send MAIL")
				}
				if err != nil {
					c.failTxn(cur, err)
					broke(err)
					break
				}
			}
			continue
		}
		// 354: the body and its final dot, then the next message's
		// commands, in one write.
		if err := c.writeBody(cur.body); err != nil {
			c.failTxn(cur, err)
			broke(err)
			break
		}
		dot = cur
		if ctx.Err() == nil {
			cur = next()
		} else {
			cur = nil
		}
		var err error
		if cur != nil {
			err = queueGroup(cur)
		}
		if ferr := c.flush(StageData, "send the message"); err == nil {
			err = ferr
		}
		if err != nil {
			// The final dot did not leave: the server cannot have accepted.
			c.failTxn(dot, err)
			broke(err)
			dot = nil
			break
		}
	}
	if stopped == nil && ctx.Err() != nil && i < len(envs) {
		stopped = &Error{Stage: StageMail, Class: ClassTemporary, Kind: KindCanceled, Msg: "canceled", Err: context.Cause(ctx)}
	}
	if cur != nil && !cur.done {
		// Its commands may have reached the server, but not its body.
		cur.res.fail(notSent(c, stopped).Err)
		cur.done = true
	}
	for k := range results {
		if results[k] == nil {
			results[k] = notSent(c, stopped)
		}
	}
	return results, stopped
}

// failTxn records a message's failure.
func (c *Client) failTxn(t *txn, err error) {
	t.res.fail(err)
	t.res.Elapsed = time.Since(t.start)
	t.done = true
	c.noteFail(t.res.Stage, err)
}

// readGroup reads the replies to a message's MAIL, every RCPT and DATA, in
// order, and fills the result as the plain path would. It reports whether
// the server is waiting for the body (354 with at least one recipient
// accepted); otherwise the message has failed and, where the session still
// works, the transaction was reset.
func (c *Client) readGroup(t *txn) bool {
	res := t.res
	r, err := c.readReply(StageMail)
	if err != nil {
		c.failTxn(t, err)
		return false
	}
	var envErr error // the first refusal of the envelope
	if r.Code != 250 {
		envErr = replyError(StageMail, "sender <"+t.env.From+"> refused", r)
		if r.Code == 421 {
			c.broken = true
			c.failTxn(t, envErr)
			return false
		}
	} else {
		res.Code, res.EnhancedCode = r.Code, r.Enhanced
	}
	accepted := 0
	var lastRefusal *Reply
	var lastAddr string
	for _, to := range t.env.To {
		r, err := c.readReply(StageRcpt)
		if err != nil {
			c.failTxn(t, firstErr(envErr, err))
			return false
		}
		if envErr != nil {
			// MAIL was refused: these are "bad sequence" replies, not
			// answers about the recipients.
			if r.Code == 421 {
				c.broken = true
				c.failTxn(t, envErr)
				return false
			}
			continue
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
			c.failTxn(t, replyError(StageRcpt, "recipient <"+to+"> refused", r))
			return false
		}
	}
	if envErr == nil && accepted == 0 {
		msg := "recipient <" + lastAddr + "> refused"
		if len(t.env.To) > 1 {
			msg = "every recipient was refused; the last, <" + lastAddr + ">"
		}
		envErr = replyError(StageRcpt, msg, lastRefusal)
	}
	r, err = c.readReply(StageData)
	if err != nil {
		c.failTxn(t, firstErr(envErr, err))
		return false
	}
	if r.Code == 421 {
		c.broken = true
		c.failTxn(t, firstErr(envErr, replyError(StageData, "DATA refused", r)))
		return false
	}
	if envErr != nil {
		if r.Code == 354 {
			// RFC 2920 3.1: the server took DATA although no recipient
			// was accepted; end that empty message with a lone dot.
			c.note("the server accepted DATA although the envelope was refused: ending the empty message with a lone dot (RFC 2920 3.1)")
			if err := c.arm(StageData); err == nil {
				c.queue(".")
				if c.flush(StageData, "send the final dot") == nil {
					c.readReply(StageData)
				}
			}
		}
		c.reset()
		c.failTxn(t, envErr)
		return false
	}
	if r.Code != 354 {
		err := replyError(StageData, "DATA refused", r)
		c.reset()
		c.failTxn(t, err)
		return false
	}
	return true
}

// readDotReply reads the reply to a message's final dot and completes its
// result.
func (c *Client) readDotReply(t *txn) {
	r, err := c.readReply(StageData)
	if err != nil {
		// Whatever happened after the final dot (a drop, a timeout,
		// garbage), the server may have taken the message.
		c.broken = true
		c.failTxn(t, afterDataError(err))
		return
	}
	if r.Code/100 != 2 {
		if r.Code == 421 {
			c.broken = true
		}
		c.failTxn(t, replyError(StageData, "message refused", r))
		return
	}
	res := t.res
	res.OK, res.Stage, res.Class = true, StageDone, ClassSent
	res.Code, res.EnhancedCode, res.QueuedAs = r.Code, r.Enhanced, r.Text()
	res.Elapsed = time.Since(t.start)
	t.done = true
}

// firstErr returns the first error that is not nil.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
