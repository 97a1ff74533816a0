package diagnose

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
)

// testCA is the shared test CA of engine/internal/smtptest.
type testCA struct{ *smtptest.CA }

func newCA(t *testing.T) *testCA { return &testCA{smtptest.NewCA(t)} }

// issue signs a server certificate for names, valid until notAfter.
func (ca *testCA) issue(t *testing.T, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	return ca.Issue(t, time.Now().Add(-48*time.Hour), notAfter, names...)
}

// smtpServer is an in-process go-smtp server for the tests.
type smtpServer struct {
	Addr string
	srv  *smtp.Server
	mu   sync.Mutex
	// Received holds the data of each accepted message.
	Received [][]byte
	// Auths counts AUTH attempts that reached the server.
	Auths int
	// RejectRcpt, when set, is returned for every RCPT.
	RejectRcpt *smtp.SMTPError
	// RejectAuth, when set, is returned for every AUTH.
	RejectAuth *smtp.SMTPError
	user, pass string
}

type serverOpts struct {
	implicit   bool
	starttls   bool
	cert       *tls.Certificate
	user       string
	pass       string
	greetDelay time.Duration
}

func startSMTP(t *testing.T, o serverOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{user: o.user, pass: o.pass}
	srv := smtp.NewServer(&backend{s})
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = false
	var tcfg *tls.Config
	if o.cert != nil {
		tcfg = &tls.Config{Certificates: []tls.Certificate{*o.cert}, MinVersion: tls.VersionTLS12}
	}
	if o.starttls {
		srv.TLSConfig = tcfg
	}
	var l net.Listener
	var err error
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.greetDelay > 0 {
		l = &slowListener{Listener: l, delay: o.greetDelay}
	}
	if o.implicit {
		l = tls.NewListener(l, tcfg)
	}
	s.Addr = l.Addr().String()
	s.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() { smtptest.Shutdown(srv) })
	return s
}

// slowListener delays every accepted connection, so the greeting is late.
type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		time.Sleep(l.delay)
	}
	return c, err
}

type backend struct{ s *smtpServer }

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s  *smtpServer
	to []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		se.s.mu.Lock()
		se.s.Auths++
		rej := se.s.RejectAuth
		se.s.mu.Unlock()
		if rej != nil {
			return rej
		}
		if username != se.s.user || password != se.s.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error { return nil }

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.s.mu.Lock()
	rej := se.s.RejectRcpt
	se.s.mu.Unlock()
	if rej != nil {
		return rej
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	se.s.mu.Lock()
	se.s.Received = append(se.s.Received, b.Bytes())
	se.s.mu.Unlock()
	return nil
}

func (se *session) Reset()        { se.to = nil }
func (se *session) Logout() error { return nil }
