// Package hostile is a scriptable, misbehaving SMTP peer for tests: a
// loopback server that runs a Handler on every connection and records every
// byte and every command line it received, so a test can assert what
// reached the peer (no credential, no command after a refusal) as well as
// what the client reported.
//
// A Handler drives a Session by hand (Reply, Write, ReadLine, StartTLS,
// Trickle, Silence...); Serve turns a Script, a mostly correct SMTP server
// whose every answer can be overridden, into a Handler. Certificates for
// every failure a client must refuse (expired, not yet valid, wrong name,
// self-signed, unknown CA, 1024-bit RSA) come from Certs.
package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Handler runs the server's side of one connection. When it returns, the
// connection is closed.
type Handler func(s *Session)

// Peer is a hostile server on loopback, running until the test ends.
type Peer struct {
	// Addr is host:port; Host is 127.0.0.1; Port the listening port.
	Addr string
	Host string
	Port int

	mu       sync.Mutex
	received bytes.Buffer
	commands []string
	conns    int
}

// Start listens on 127.0.0.1 and runs h for every connection until the test
// ends; every connection also ends after 20 seconds.
func Start(t testing.TB, h Handler) *Peer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen: %v", err)
	}
	p := &Peer{Addr: l.Addr().String(), Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				stop := context.AfterFunc(ctx, func() { nc.Close() })
				defer stop()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				s := &Session{p: p, raw: nc, conn: nc, ctx: ctx}
				s.r = bufio.NewReader(recorder{nc, p})
				h(s)
			}()
		}
	}()
	return p
}

// Received returns every byte the peer received on all its connections, in
// the order read; after a TLS handshake, the decrypted bytes (the handshake
// itself is not included).
func (p *Peer) Received() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.received.Bytes())
}

// Commands returns every line a handler read with ReadLine or Expect
// (commands and SASL responses, not message bodies), without CRLF.
func (p *Peer) Commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.commands...)
}

// Conns counts the connections accepted so far.
func (p *Peer) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// recorder appends every byte read to the peer's record.
type recorder struct {
	r io.Reader
	p *Peer
}

func (r recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.p.mu.Lock()
		r.p.received.Write(b[:n])
		r.p.mu.Unlock()
	}
	return n, err
}

// Session is the server's side of one connection.
type Session struct {
	p    *Peer
	raw  net.Conn
	conn net.Conn // raw, or the TLS connection over it
	r    *bufio.Reader
	ctx  context.Context
	out  bytes.Buffer // replies held back by Hold
	hold bool

	// TLS is true once a handshake succeeded.
	TLS bool
}

// Write sends text as is (no CRLF added), at once or, while held, with the
// next flush.
func (s *Session) Write(text string) error {
	if s.hold {
		s.out.WriteString(text)
		return nil
	}
	_, err := io.WriteString(s.conn, text)
	return err
}

// Reply sends lines, each ended with CRLF, in one write.
func (s *Session) Reply(lines ...string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return s.Write(b.String())
}

// Hold makes later writes wait for Flush, so that several replies leave in
// one write (as a server answering a pipelined group does).
func (s *Session) Hold() { s.hold = true }

// Flush sends what Hold kept back and ends holding.
func (s *Session) Flush() error {
	s.hold = false
	if s.out.Len() == 0 {
		return nil
	}
	_, err := s.conn.Write(s.out.Bytes())
	s.out.Reset()
	return err
}

// Pending reports whether client input is already waiting to be read (a
// pipelined command after the one just read).
func (s *Session) Pending() bool { return s.r.Buffered() > 0 }

// ReadLine reads one line from the client, recorded in Peer.Commands, and
// returns it without CRLF.
func (s *Session) ReadLine() (string, error) {
	l, err := s.r.ReadString('\n')
	l = strings.TrimRight(l, "\r\n")
	if l != "" || err == nil {
		s.p.mu.Lock()
		s.p.commands = append(s.p.commands, l)
		s.p.mu.Unlock()
	}
	return l, err
}

// Expect reads one line and fails unless it starts with verb (case
// ignored).
func (s *Session) Expect(verb string) (string, error) {
	l, err := s.ReadLine()
	if err != nil {
		return l, err
	}
	if !strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(verb)) {
		return l, errors.New("hostile: expected " + verb + ", got " + l)
	}
	return l, nil
}

// ReadData reads a message body up to the final dot, undoing the
// dot-stuffing.
func (s *Session) ReadData() ([]byte, error) {
	var b bytes.Buffer
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return b.Bytes(), err
		}
		if l == ".\r\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

// StartTLS runs the server side of a TLS handshake with conf; what follows
// is read and written over TLS (and recorded decrypted).
func (s *Session) StartTLS(conf *tls.Config) error {
	var under net.Conn = s.raw
	if n := s.r.Buffered(); n > 0 {
		// Bytes read ahead belong to the handshake.
		early, _ := s.r.Peek(n)
		under = &prefixConn{Conn: s.raw, r: io.MultiReader(bytes.NewReader(bytes.Clone(early)), s.raw)}
	}
	tc := tls.Server(under, conf)
	hctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return err
	}
	s.conn, s.TLS = tc, true
	s.r = bufio.NewReader(recorder{tc, s.p})
	return nil
}

// prefixConn reads r (bytes already read ahead, then the connection).
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// Trickle writes text one byte at a time, gap apart, until it is all sent
// or a write fails.
func (s *Session) Trickle(text string, gap time.Duration) error {
	if err := s.Flush(); err != nil {
		return err
	}
	for i := 0; i < len(text); i++ {
		if _, err := s.conn.Write([]byte{text[i]}); err != nil {
			return err
		}
		select {
		case <-time.After(gap):
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	return nil
}

// Endless writes line (with CRLF) again and again until a write fails or
// the test ends: "250-x" makes a reply that never ends.
func (s *Session) Endless(line string) {
	s.Flush()
	chunk := strings.Repeat(line+"\r\n", 64)
	for s.ctx.Err() == nil {
		if _, err := io.WriteString(s.conn, chunk); err != nil {
			return
		}
	}
}

// Silence reads (and records) what the client sends, answering nothing,
// until the client closes the connection or the test ends.
func (s *Session) Silence() {
	s.Flush()
	io.Copy(io.Discard, s.r)
}

// StopReading neither reads nor writes until the client closes the
// connection or the test ends: the client's writes fill the socket buffers
// and block.
func (s *Session) StopReading() {
	s.Flush()
	<-s.ctx.Done()
}

// Close closes the connection at once.
func (s *Session) Close() { s.conn.Close() }
