package smtptest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EchoChallenge is the CRAM-MD5 challenge of an echoing server.
const EchoChallenge = "<1896.697170952@echo.herald.test>"

// EchoOptions configure an echoing server (StartEcho).
type EchoOptions struct {
	// Implicit serves TLS from the first byte; StartTLS offers STARTTLS.
	// Both need Cert.
	Implicit, StartTLS bool
	Cert               *tls.Certificate
	// Mechanisms offered (default PLAIN, LOGIN and CRAM-MD5); every
	// exchange succeeds unless RefuseAuth.
	Mechanisms []string
	// GreetDelay is how long the server waits before its greeting (after
	// the handshake on implicit TLS); what the client sends meanwhile is
	// recorded in Early.
	GreetDelay time.Duration
	// RefuseAuth answers the end of every AUTH exchange with 535 and the
	// echo; RefuseRcpt answers every RCPT with 550 and the echo.
	RefuseAuth, RefuseRcpt bool
	// Extra are more texts echoed in every reply (e.g. the hex of the
	// password, which a server cannot know but a test may want echoed).
	Extra []string
}

// Echo is a scripted SMTP server that echoes credentials: every reply after
// AUTH repeats each SASL response it received, as sent (base64), without
// its padding and decoded, plus EchoOptions.Extra. It records every line
// the client sent.
type Echo struct {
	Addr string
	Port int
	o    EchoOptions

	mu    sync.Mutex
	lines []string
	early []string
}

// Lines returns every line the clients sent, in order.
func (e *Echo) Lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.lines...)
}

// Early returns what clients sent before the greeting.
func (e *Echo) Early() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.early...)
}

// StartEcho runs an echoing server until the test ends.
func StartEcho(t testing.TB, o EchoOptions) *Echo {
	t.Helper()
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5"}
	}
	e := &Echo{o: o}
	sc := StartScript(t, e.serve)
	e.Addr, e.Port = sc.Addr, sc.Port
	return e
}

func (e *Echo) record(l string) {
	e.mu.Lock()
	e.lines = append(e.lines, l)
	e.mu.Unlock()
}

func (e *Echo) serve(c *Conn) {
	conn, r := net.Conn(c.Conn), c.R
	secure := false
	upgrade := func() bool {
		tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*e.o.Cert}})
		if tc.Handshake() != nil {
			return false
		}
		conn, r, secure = tc, bufio.NewReader(tc), true
		return true
	}
	if e.o.Implicit && !upgrade() {
		return
	}
	if e.o.GreetDelay > 0 {
		conn.SetReadDeadline(time.Now().Add(e.o.GreetDelay))
		if b, err := r.Peek(1); len(b) > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			n := r.Buffered()
			p, _ := r.Peek(n)
			e.mu.Lock()
			e.early = append(e.early, string(p))
			e.mu.Unlock()
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	}
	line := func(s string) { conn.Write([]byte(s + "\r\n")) }
	read := func() (string, bool) {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		l = strings.TrimRight(l, "\r\n")
		e.record(l)
		return l, true
	}
	var got []string // the SASL responses received, as sent
	echo := func() string {
		var parts []string
		for _, g := range got {
			parts = append(parts, g, strings.TrimRight(g, "="))
			if d, err := base64.StdEncoding.DecodeString(g); err == nil && len(d) > 0 {
				parts = append(parts, strings.NewReplacer("\r", " ", "\n", " ").Replace(string(d)))
			}
		}
		parts = append(parts, e.o.Extra...)
		return strings.Join(parts, " ")
	}
	line("220 echo.herald.test ESMTP")
	for {
		l, ok := read()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(l, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			line("250-echo.herald.test")
			if e.o.StartTLS && !secure {
				line("250-STARTTLS")
			}
			line("250 AUTH " + strings.Join(e.o.Mechanisms, " "))
		case "STARTTLS":
			line("220 go ahead")
			if !upgrade() {
				return
			}
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			var steps []string // challenges, base64
			switch strings.ToUpper(mech) {
			case "LOGIN":
				steps = []string{"VXNlcm5hbWU6", "UGFzc3dvcmQ6"}
			case "CRAM-MD5":
				steps = []string{base64.StdEncoding.EncodeToString([]byte(EchoChallenge))}
			default:
				if initial == "" {
					steps = []string{""}
				}
			}
			if initial != "" && initial != "=" {
				got = append(got, initial)
			}
			for _, ch := range steps {
				line("334 " + ch)
				resp, ok := read()
				if !ok {
					return
				}
				got = append(got, resp)
			}
			if e.o.RefuseAuth {
				line("535 5.7.8 credentials " + echo() + " rejected")
			} else {
				line("235 2.7.0 welcome " + echo())
			}
		case "MAIL":
			line("250 2.1.0 sender ok " + echo())
		case "RCPT":
			if e.o.RefuseRcpt {
				line("550 5.1.1 no such user " + echo())
			} else {
				line("250 2.1.5 recipient ok " + echo())
			}
		case "DATA":
			line("354 go on")
			for {
				d, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if d == ".\r\n" {
					break
				}
			}
			line("250 2.0.0 queued as " + echo())
		case "RSET", "NOOP":
			line("250 ok")
		case "QUIT":
			line("221 bye")
			return
		default:
			line("500 unknown command")
		}
	}
}
