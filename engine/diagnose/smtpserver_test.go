package diagnose

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCA is a certificate authority made for one test, and the server
// certificates it signs.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	Pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Herald Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, Pool: pool}
}

// issue signs a server certificate for names, valid until notAfter.
func (ca *testCA) issue(t *testing.T, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter, DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
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
	t.Cleanup(func() { srv.Close() })
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
