package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/transcript"
)

// How the transcript is taken
//
// Each connection is served by its own go-smtp Server value (cheap: a few
// fields) whose Debug writer is this connection's conn. go-smtp tees every
// byte it reads and writes above the TLS layer into Debug, including after
// STARTTLS (it re-wraps the new tls.Conn), so the transcript sees the
// decrypted session. Debug is a single io.Writer for both directions; the
// direction is recovered from the wire: a reply is always written to the
// network (wireConn.Write, which counts writes) immediately before go-smtp
// copies it to Debug, and replies always start with a three-digit code. A
// Debug chunk that follows a new network write and looks like a reply (or
// continues an unfinished reply line) is the server's; anything else is
// what the client sent.

// maxPartialLine bounds the bytes kept for an unfinished transcript line.
const maxPartialLine = 8 << 10

type clientMode int

const (
	modeCommand clientMode = iota
	modeData               // message content after DATA
	modeBDAT               // a BDAT chunk
)

// conn is one client connection.
type conn struct {
	s      *Server
	wire   *wireConn
	rec    *transcript.Recorder
	remote string

	tlsUp           atomic.Bool // TLS is established (implicit, or after STARTTLS)
	closeAfterReply atomic.Bool // a 421 fault: close once the reply is out
	delayArmed      atomic.Bool // MAIL was seen: "delay:" faults apply

	// Transcript parser state, used only from Debug writes, which go-smtp
	// makes on the connection's goroutine.
	lastWrites uint64
	serverBuf  []byte
	clientBuf  []byte
	mode       clientMode
	saslActive bool
	got354     bool // the 354 reply to DATA went out: content follows
	// pending holds the client's commands still waiting for a final reply,
	// in order, so that a reply is matched to its command even when the
	// client pipelines.
	pending         []string
	dataBytes       int
	dataLines       int
	dataAtLineStart bool
	bdatLeft        int64
	bdatSize        int64

	// mu orders appends to rec with the counters below, which DATA (that
	// may run on go-smtp's BDAT goroutine) reads to cut a message's
	// transcript.
	mu          sync.Mutex
	events      int // events added so far
	prologueEnd int // events before the first MAIL, or -1
	cut         int // events already attributed to an earlier message
}

func newConn(s *Server, raw net.Conn) *conn {
	c := &conn{s: s, rec: transcript.New(), remote: raw.RemoteAddr().String(), prologueEnd: -1}
	c.wire = &wireConn{Conn: raw, c: c, closed: make(chan struct{})}
	if s.cfg.AuthPass != "" {
		c.rec.AddSecret(s.cfg.AuthPass)
	}
	return c
}

// add records one transcript event.
func (c *conn) add(dir transcript.Dir, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.Add(dir, c.tlsUp.Load(), text)
	c.events++
}

func (c *conn) info(format string, args ...any) {
	c.add(transcript.Info, fmt.Sprintf(format, args...))
}

// Printf implements smtp.Logger: go-smtp's errors for this connection
// become transcript notes.
func (c *conn) Printf(format string, v ...any) { c.info("smtp server: "+format, v...) }

// Println implements smtp.Logger.
func (c *conn) Println(v ...any) {
	c.info("smtp server: %s", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// messageTranscript returns the transcript for the message being captured:
// the session's prologue (banner, EHLO, TLS, AUTH), a note for the lines of
// earlier messages left out, and everything since the previous message.
func (c *conn) messageTranscript() []transcript.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := c.rec.Events()
	var out []transcript.Event
	if c.prologueEnd >= 0 && c.cut > c.prologueEnd && c.cut <= len(all) {
		out = append(out, all[:c.prologueEnd]...)
		note := all[c.cut-1]
		note.Dir = transcript.Info
		note.Text = fmt.Sprintf("(%d lines of earlier messages in this session left out)", c.cut-c.prologueEnd)
		out = append(out, note)
		out = append(out, all[c.cut:]...)
	} else {
		out = all
	}
	c.cut = len(all)
	return out
}

func (c *conn) tlsConfig() *tls.Config {
	cfg := c.s.tlsConf.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		c.tlsUp.Store(true)
		c.info("TLS handshake: %s, %s, server name %q", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.ServerName)
		return nil
	}
	return cfg
}

// serve runs one go-smtp session on this connection and returns when it
// has ended.
func (c *conn) serve() {
	cfg := c.s.cfg
	c.info("connection from %s to %s (TLS mode %s)", c.remote, c.wire.LocalAddr(), cfg.TLS)
	var nc net.Conn = c.wire
	srv := smtp.NewServer(&backend{c: c})
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxSize
	srv.MaxRecipients = MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.EnableDSN = true
	srv.EnableBINARYMIME = false
	srv.Debug = c
	srv.ErrorLog = c
	switch cfg.TLS {
	case TLSNone:
		srv.AllowInsecureAuth = true
	case TLSStartTLS:
		srv.TLSConfig = c.tlsConfig()
	case TLSImplicit:
		nc = tls.Server(c.wire, c.tlsConfig())
	}
	l := &oneConnListener{conn: nc, done: c.wire.closed, closed: make(chan struct{})}
	srv.Serve(l) // returns once the connection is closed
	// Shutdown waits for go-smtp's handler goroutine to finish.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.WriteTimeout+cfg.ReadTimeout)
	srv.Shutdown(ctx)
	cancel()
	c.wire.Close()
	c.info("connection closed")
	c.rec.Finish()
}

// Write is go-smtp's Debug writer; see "How the transcript is taken".
func (c *conn) Write(p []byte) (int, error) {
	w := c.wire.writes.Load()
	// go-smtp flushes each reply line on its own, so a chunk holding more
	// than one line (or a line break before its end) is the client's.
	oneLine := bytes.IndexByte(p, '\n') < 0 || bytes.IndexByte(p, '\n') == len(p)-1
	fromServer := w != c.lastWrites && oneLine && (len(c.serverBuf) > 0 || looksLikeReply(p))
	c.lastWrites = w
	if fromServer {
		c.feedServer(p)
	} else {
		c.feedClient(p)
	}
	return len(p), nil
}

func looksLikeReply(p []byte) bool {
	return len(p) >= 4 && p[0] >= '2' && p[0] <= '5' && isDigit(p[1]) && isDigit(p[2]) && (p[3] == ' ' || p[3] == '-')
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func trimEOL(b []byte) string {
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

func (c *conn) feedServer(p []byte) {
	c.serverBuf = append(c.serverBuf, p...)
	for {
		i := bytes.IndexByte(c.serverBuf, '\n')
		if i < 0 {
			if len(c.serverBuf) > maxPartialLine {
				c.serverLine(trimEOL(c.serverBuf) + "…")
				c.serverBuf = c.serverBuf[:0]
			}
			return
		}
		line := trimEOL(c.serverBuf[:i+1])
		c.serverBuf = append(c.serverBuf[:0], c.serverBuf[i+1:]...)
		c.serverLine(line)
	}
}

func (c *conn) serverLine(line string) {
	code := line
	if len(code) > 3 {
		code = code[:3]
	}
	last := len(line) < 4 || line[3] != '-'
	if last && len(c.pending) > 0 {
		cmd := c.pending[0]
		if cmd != "AUTH" || code != "334" { // a 334 continues the AUTH exchange
			c.pending = c.pending[1:]
		}
		switch {
		case cmd == "AUTH" && code != "334":
			c.saslActive = false
		case cmd == "DATA" && code != "354" && c.mode == modeData:
			c.mode = modeCommand // DATA refused: no content follows
		}
	}
	if code == "354" {
		c.got354 = true
	}
	if c.tlsUp.Load() && c.s.cfg.TLS == TLSStartTLS && strings.HasPrefix(line, "550 5.0.0 Handshake error") {
		c.tlsUp.Store(false)
		c.info("TLS handshake failed; the session continues without TLS")
	}
	c.add(transcript.Server, line)
	if last && c.closeAfterReply.Load() {
		c.info("closing the connection after the 421 reply")
		c.wire.Close()
	}
}

func (c *conn) feedClient(p []byte) {
	for len(p) > 0 {
		if c.mode == modeBDAT {
			n := min(int64(len(p)), c.bdatLeft)
			c.bdatLeft -= n
			p = p[n:]
			if c.bdatLeft == 0 {
				c.add(transcript.Client, fmt.Sprintf("<BDAT chunk: %d bytes>", c.bdatSize))
				c.mode = modeCommand
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		// Content after DATA is the message only once the 354 went out: a
		// client that sends it with the DATA command has it read as
		// commands when DATA is refused.
		if c.mode == modeCommand || (c.mode == modeData && !c.got354) {
			if i < 0 {
				scrubCommand(p, false)
			} else {
				scrubCommand(p[:i+1], true)
			}
		}
		if i < 0 {
			c.clientBuf = append(c.clientBuf, p...)
			if len(c.clientBuf) > maxPartialLine {
				if c.mode == modeData {
					c.dataBytes += len(c.clientBuf)
					c.dataAtLineStart = false
				} else {
					c.clientLine(append(c.clientBuf, "…"...), true)
				}
				c.clientBuf = c.clientBuf[:0]
			}
			return
		}
		line := append(c.clientBuf, p[:i+1]...)
		p = p[i+1:]
		c.clientLine(line, false)
		c.clientBuf = line[:0]
	}
}

// scrubCommand replaces, in place, the control characters of command text
// the client sent (all but tab and the line's ending CR LF) with '?'.
//
// go-smtp echoes parts of a command in its replies ("250-Hello NAME",
// "500 … VERB command unrecognized"); a bare CR or another control
// character there would break the reply stream. The transcript's Debug
// writer sees each chunk go-smtp reads, in go-smtp's own read buffer,
// before the command is parsed, and above any TLS layer: this is the one
// place to filter what can be echoed, since go-smtp replaces the
// connection itself after STARTTLS. Message content (DATA after its 354,
// BDAT chunks) is never touched. A CR that ends a chunk without its LF is left alone: the LF may
// be in the next read.
func scrubCommand(p []byte, complete bool) {
	for j, b := range p {
		switch {
		case b == '\t' || b == '\n':
		case b == '\r' && j+1 < len(p) && p[j+1] == '\n':
		case b == '\r' && j == len(p)-1 && !complete:
		case b < 0x20 || b == 0x7f:
			p[j] = '?'
		}
	}
}

func (c *conn) clientLine(line []byte, partial bool) {
	if c.mode == modeData {
		atStart := c.dataAtLineStart
		c.dataAtLineStart = bytes.HasSuffix(line, []byte("\r\n"))
		if atStart && string(line) == ".\r\n" {
			c.add(transcript.Client, fmt.Sprintf("<message data: %d bytes in %d lines>", c.dataBytes, c.dataLines))
			c.add(transcript.Client, ".")
			c.mode = modeCommand
			c.expectReply(".")
			return
		}
		c.dataBytes += len(line)
		c.dataLines++
		return
	}
	text := trimEOL(line)
	if c.saslActive {
		if text != "*" {
			text = transcript.Redacted
		}
		c.add(transcript.Client, text)
		return
	}
	fields := strings.Fields(text)
	verb := ""
	if len(fields) > 0 {
		verb = strings.ToUpper(fields[0])
	}
	if !partial {
		c.expectReply(verb)
	}
	switch {
	case partial:
	case verb == "AUTH":
		if len(fields) > 2 {
			text = fields[0] + " " + fields[1] + " " + transcript.Redacted
		}
		c.saslActive = true
	case verb == "DATA" && len(fields) == 1:
		c.mode = modeData
		c.got354 = false
		c.dataBytes, c.dataLines = 0, 0
		c.dataAtLineStart = true
	case verb == "MAIL":
		c.mu.Lock()
		if c.prologueEnd < 0 {
			c.prologueEnd = c.events
		}
		c.mu.Unlock()
	case verb == "BDAT" && len(fields) >= 2:
		if n, err := strconv.ParseUint(fields[1], 10, 32); err == nil && n > 0 {
			c.add(transcript.Client, text)
			c.mode = modeBDAT
			c.bdatLeft, c.bdatSize = int64(n), int64(n)
			return
		}
	}
	c.add(transcript.Client, text)
}

// expectReply queues a command that will get a final reply. The queue is
// bounded: a client that floods commands without reading replies only
// loses the pairing, never memory.
func (c *conn) expectReply(cmd string) {
	if len(c.pending) < 1000 {
		c.pending = append(c.pending, cmd)
	}
}

// sleep waits d or until the connection is closed; it reports whether the
// full delay passed.
func (c *conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.wire.closed:
		return false
	}
}

// stageDelay applies the delay-STAGE faults; it reports false when the
// connection closed meanwhile.
func (c *conn) stageDelay(stage string) bool {
	for _, f := range c.s.cfg.Faults {
		if f.Delay > 0 && f.Stage == stage && c.s.roll(f.percent()) {
			c.info("fault %s: delaying the %s reply by %s", f, stage, f.Delay)
			if !c.sleep(f.Delay) {
				return false
			}
		}
	}
	return true
}

// fire returns the first reply or drop fault at stage that fires.
func (c *conn) fire(stage string) (Fault, bool) {
	for _, f := range c.s.cfg.Faults {
		if f.Delay > 0 {
			continue
		}
		if (f.Drop && stage == StageData) || (!f.Drop && f.Stage == stage) {
			if c.s.roll(f.percent()) {
				return f, true
			}
		}
	}
	return Fault{}, false
}

// faultReply turns a fired reply fault into the error go-smtp sends.
func (c *conn) faultReply(f Fault) error {
	e := f.reply()
	c.info("fault %s fired: replying %d %d.%d.%d", f, e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2])
	if e.Code == 421 {
		c.closeAfterReply.Store(true)
	}
	return e
}

// wireConn is the network connection under go-smtp (and under TLS). It
// counts writes for the transcript, applies "delay:" faults to replies and
// signals its closing.
type wireConn struct {
	net.Conn
	c         *conn
	writes    atomic.Uint64
	closeOnce sync.Once
	closed    chan struct{}
}

func (w *wireConn) Write(p []byte) (int, error) {
	if w.c.delayArmed.Load() {
		for _, f := range w.c.s.cfg.Faults {
			if f.Delay > 0 && f.Stage == "" && w.c.s.roll(f.percent()) {
				w.c.info("fault %s: delaying the reply by %s", f, f.Delay)
				if !w.c.sleep(f.Delay) {
					return 0, net.ErrClosed
				}
			}
		}
	}
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// Close closes the network connection once and wakes everything waiting on
// it.
func (w *wireConn) Close() error {
	err := net.ErrClosed
	w.closeOnce.Do(func() {
		err = w.Conn.Close()
		close(w.closed)
	})
	return err
}

// oneConnListener hands go-smtp a single connection, then blocks until that
// connection or the listener is closed.
type oneConnListener struct {
	conn      net.Conn
	done      <-chan struct{}
	mu        sync.Mutex
	used      bool
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.used {
		l.used = true
		l.mu.Unlock()
		return l.conn, nil
	}
	l.mu.Unlock()
	select {
	case <-l.done:
	case <-l.closed:
	}
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
