// Package smtptest gives tests real SMTP peers on loopback: a go-smtp server
// with every AUTH mechanism Herald speaks (PLAIN, LOGIN, CRAM-MD5,
// SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2), TLS from a CA made for the test,
// and per-stage refusals; and a scripted raw server for the misbehaviour a
// correct server never shows (garbage, stalls, drops, wrong banners).
package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// CA is a certificate authority made for one test.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// Pool trusts only this CA.
	Pool *x509.CertPool
	// PEM is the CA certificate in PEM form, for CA files.
	PEM []byte
}

// NewCA makes a CA valid for a day.
func NewCA(t testing.TB) *CA {
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
	var pemBuf bytes.Buffer
	pemBuf.WriteString("-----BEGIN CERTIFICATE-----\n")
	b64 := base64.StdEncoding.EncodeToString(der)
	for len(b64) > 64 {
		pemBuf.WriteString(b64[:64] + "\n")
		b64 = b64[64:]
	}
	pemBuf.WriteString(b64 + "\n-----END CERTIFICATE-----\n")
	return &CA{cert: cert, key: key, Pool: pool, PEM: pemBuf.Bytes()}
}

// Issue signs a server certificate for names (host names or IP addresses),
// valid from notBefore until notAfter.
func (ca *CA) Issue(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	return issue(t, ca.cert, ca.key, notBefore, notAfter, names...)
}

// SelfSigned makes a certificate for names that no CA vouches for.
func SelfSigned(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return issue(t, nil, nil, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), names...)
}

func issue(t testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Fingerprint is the hex SHA-256 of a certificate's leaf.
func Fingerprint(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// Options configure a Server.
type Options struct {
	// Implicit serves TLS from the first byte; StartTLS offers STARTTLS.
	// Both need Cert.
	Implicit, StartTLS bool
	Cert               *tls.Certificate
	// MinTLS is the server's lowest TLS version (default 1.2); MaxTLS its
	// highest (default the newest).
	MinTLS, MaxTLS uint16
	// User and Pass are the only credentials accepted; empty offers no AUTH.
	User, Pass string
	// Mechanisms offered (default all of PLAIN, LOGIN, CRAM-MD5,
	// SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2).
	Mechanisms []string
	// AllowInsecureAuth offers AUTH without TLS.
	AllowInsecureAuth bool
	// Refuse maps a stage (auth, mail, rcpt, data) to the error returned
	// there. For rcpt, RefuseRcpt refuses single addresses instead.
	Refuse     map[string]*smtp.SMTPError
	RefuseRcpt map[string]*smtp.SMTPError
	// MaxSize is the SIZE advertised (0: none).
	MaxSize int64
	// NoDSN hides the DSN extension; NoSMTPUTF8 hides SMTPUTF8.
	NoDSN, NoSMTPUTF8 bool
	// Addr is the listen address (default 127.0.0.1:0, any free port).
	Addr string
}

// Message is what the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	Mail smtp.MailOptions
	Rcpt []smtp.RcptOptions
	// User is the authenticated user ("" without AUTH).
	User string
}

// Server is a go-smtp server on loopback.
type Server struct {
	Addr string
	Host string
	Port int
	o    Options
	srv  *smtp.Server

	mu       sync.Mutex
	messages []Message
	auths    []string // mechanism of every AUTH attempt that reached the server
}

// Shutdown ends a go-smtp server at the end of a test: it stops accepting
// and waits (up to 2 s) for the sessions to end, instead of closing them
// under their feet. go-smtp's Close races with a STARTTLS handshake still in
// progress (it reads the connection that handleStartTLS replaces): the race
// detector failed CI on it. Sessions still open after 2 s are left to their
// read timeout.
func Shutdown(srv *smtp.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Mechanisms == nil {
		o.Mechanisms = []string{sasl.Plain, sasl.Login, "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2"}
	}
	s := &Server{o: o}
	srv := smtp.NewServer(&backend{s})
	srv.Domain = "mx.herald.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = o.AllowInsecureAuth
	srv.MaxMessageBytes = o.MaxSize
	srv.EnableSMTPUTF8 = !o.NoSMTPUTF8
	srv.EnableDSN = !o.NoDSN
	var tcfg *tls.Config
	if o.Cert != nil {
		tcfg = &tls.Config{Certificates: []tls.Certificate{*o.Cert}, MinVersion: tls.VersionTLS12}
		if o.MinTLS != 0 {
			tcfg.MinVersion = o.MinTLS
		}
		tcfg.MaxVersion = o.MaxTLS
	}
	if o.StartTLS {
		srv.TLSConfig = tcfg
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Implicit {
		l = tls.NewListener(l, tcfg)
		srv.TLSConfig = nil
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() { Shutdown(srv) })
	return s
}

// Close stops the server (as a crash or a restart would).
func (s *Server) Close() { s.srv.Close() }

// Messages returns what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// AuthAttempts returns the mechanism of every AUTH that reached the server.
func (s *Server) AuthAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

func (s *Server) refusal(stage string) *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.Refuse[stage]
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	msg  Message
	user string
}

func (se *session) AuthMechanisms() []string {
	if se.s.o.User == "" {
		return nil
	}
	return se.s.o.Mechanisms
}

var errBadCreds = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}

func (se *session) check(user, pass string) error {
	if r := se.s.refusal("auth"); r != nil {
		return r
	}
	if user != se.s.o.User || pass != se.s.o.Pass {
		return errBadCreds
	}
	se.user = user
	return nil
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	se.s.mu.Lock()
	se.s.auths = append(se.s.auths, mech)
	se.s.mu.Unlock()
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return se.check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: se.check}, nil
	case "CRAM-MD5":
		return &cramServer{se: se}, nil
	case "SCRAM-SHA-1":
		return &scramServer{se: se, h: sha1.New}, nil
	case "SCRAM-SHA-256":
		return &scramServer{se: se, h: sha256.New}, nil
	case "XOAUTH2":
		return &xoauth2Server{se: se}, nil
	}
	return nil, errors.New("unsupported mechanism")
}

func (se *session) Mail(from string, o *smtp.MailOptions) error {
	if r := se.s.refusal("mail"); r != nil {
		return r
	}
	if se.s.o.User != "" && se.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	se.msg = Message{From: from, User: se.user}
	if o != nil {
		se.msg.Mail = *o
	}
	return nil
}

func (se *session) Rcpt(to string, o *smtp.RcptOptions) error {
	if r := se.s.refusal("rcpt"); r != nil {
		return r
	}
	se.s.mu.Lock()
	r := se.s.o.RefuseRcpt[to]
	se.s.mu.Unlock()
	if r != nil {
		return r
	}
	se.msg.To = append(se.msg.To, to)
	if o != nil {
		se.msg.Rcpt = append(se.msg.Rcpt, *o)
	}
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if r := se.s.refusal("data"); r != nil {
		return r
	}
	se.msg.Data = b
	se.s.mu.Lock()
	se.s.messages = append(se.s.messages, se.msg)
	se.s.mu.Unlock()
	return nil
}

func (se *session) Reset()        { se.msg = Message{} }
func (se *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN.
type loginServer struct {
	check      func(user, pass string) error
	step       int
	user, pass string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		l.pass = string(resp)
		return nil, true, l.check(l.user, l.pass)
	}
}

// cramServer is the server side of CRAM-MD5 (RFC 2195).
type cramServer struct {
	se        *session
	challenge []byte
}

func (c *cramServer) Next(resp []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		c.challenge = []byte(fmt.Sprintf("<%d.%d@mx.herald.test>", time.Now().UnixNano(), 42))
		return c.challenge, false, nil
	}
	user, digest, ok := strings.Cut(string(resp), " ")
	if !ok {
		return nil, true, errBadCreds
	}
	m := hmac.New(md5.New, []byte(c.se.s.o.Pass))
	m.Write(c.challenge)
	if user != c.se.s.o.User || !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(digest)) {
		return nil, true, c.se.check(user, "\x00wrong")
	}
	return nil, true, c.se.check(user, c.se.s.o.Pass)
}

// scramServer is the server side of SCRAM (RFC 5802), without channel
// binding.
type scramServer struct {
	se                           *session
	h                            func() hash.Hash
	step                         int
	clientFirstBare, serverFirst string
	nonce                        string
	salt                         []byte
}

func (s *scramServer) Next(resp []byte) ([]byte, bool, error) {
	const iter = 4096
	switch s.step {
	case 0:
		s.step++
		if len(resp) == 0 {
			return []byte{}, false, nil
		}
		fallthrough
	case 1:
		s.step = 2
		msg := string(resp)
		if !strings.HasPrefix(msg, "n,,") {
			return nil, true, errors.New("channel binding not supported")
		}
		s.clientFirstBare = msg[3:]
		attrs := scramAttrs(s.clientFirstBare)
		s.nonce = attrs["r"] + "srvnonce" + fmt.Sprint(time.Now().UnixNano())
		s.salt = []byte("herald-salt")
		s.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(s.salt), iter)
		return []byte(s.serverFirst), false, nil
	case 2:
		s.step++
		msg := string(resp)
		i := strings.LastIndex(msg, ",p=")
		if i < 0 {
			return nil, true, errBadCreds
		}
		withoutProof, proof64 := msg[:i], msg[i+3:]
		attrs := scramAttrs(s.clientFirstBare)
		user := attrs["n"]
		if scramAttrs(withoutProof)["r"] != s.nonce {
			return nil, true, errBadCreds
		}
		salted, _ := pbkdf2.Key(s.h, s.se.s.o.Pass, s.salt, iter, s.h().Size())
		mac := func(key []byte, data string) []byte {
			m := hmac.New(s.h, key)
			m.Write([]byte(data))
			return m.Sum(nil)
		}
		clientKey := mac(salted, "Client Key")
		hh := s.h()
		hh.Write(clientKey)
		storedKey := hh.Sum(nil)
		authMsg := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
		sig := mac(storedKey, authMsg)
		want := make([]byte, len(sig))
		subtle.XORBytes(want, clientKey, sig)
		proof, err := base64.StdEncoding.DecodeString(proof64)
		if err != nil || !hmac.Equal(proof, want) || user != s.se.s.o.User {
			return nil, true, s.se.check(user, "\x00wrong")
		}
		if err := s.se.check(user, s.se.s.o.Pass); err != nil {
			return nil, true, err
		}
		serverSig := mac(mac(salted, "Server Key"), authMsg)
		return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), false, nil
	default:
		return nil, true, nil
	}
}

func scramAttrs(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// xoauth2Server is the server side of XOAUTH2: the password is the token.
type xoauth2Server struct {
	se     *session
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, errBadCreds
	}
	var user, token string
	for _, part := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(part, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(part, "auth=Bearer "); ok {
			token = v
		}
	}
	if err := x.se.check(user, token); err != nil {
		// Like Gmail: a JSON error as a challenge, then 535 after the
		// client's empty reply.
		x.failed = true
		return []byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	return nil, true, nil
}

// Script is a raw TCP server whose every connection runs Handle. It is for
// behaviour a correct SMTP server never shows.
type Script struct {
	Addr string
	Port int
}

// Conn is the server's side of one scripted connection.
type Conn struct {
	net.Conn
	R *bufio.Reader
}

// Line writes one line with CRLF.
func (c *Conn) Line(s string) { io.WriteString(c.Conn, s+"\r\n") }

// Read reads one line from the client without its line ending.
func (c *Conn) Read() (string, error) {
	l, err := c.R.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}

// Expect reads lines until one starts with prefix (case-insensitive) and
// returns it.
func (c *Conn) Expect(prefix string) (string, error) {
	for {
		l, err := c.Read()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(prefix)) {
			return l, nil
		}
	}
}

// ReadData reads a DATA body up to the final dot, undoing dot-stuffing.
func (c *Conn) ReadData() ([]byte, error) {
	var b bytes.Buffer
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			return b.Bytes(), err
		}
		if l == ".\r\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

// StartScript runs handle for every connection until the test ends.
func StartScript(t testing.TB, handle func(c *Conn)) *Script {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	// The accept loop counts in wg too: a connection accepted while the
	// test ends is added while the loop's own count holds wg above zero,
	// never concurrently with a Wait that could already return (a race).
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				go func() { <-done; nc.Close() }()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				handle(&Conn{Conn: nc, R: bufio.NewReader(nc)})
			}()
		}
	}()
	return &Script{Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port}
}

// Greet answers banner and EHLO like a plain server offering exts.
func (c *Conn) Greet(exts ...string) error {
	c.Line("220 script.herald.test ESMTP")
	if _, err := c.Expect("EHLO"); err != nil {
		return err
	}
	if len(exts) == 0 {
		c.Line("250 script.herald.test")
		return nil
	}
	c.Line("250-script.herald.test")
	for i, e := range exts {
		sep := "-"
		if i == len(exts)-1 {
			sep = " "
		}
		c.Line("250" + sep + e)
	}
	return nil
}

// SetRefuse changes the refusal at a stage (auth, mail, rcpt, data); nil
// removes it.
func (s *Server) SetRefuse(stage string, e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*smtp.SMTPError{}
	for k, v := range s.o.Refuse {
		m[k] = v
	}
	if e == nil {
		delete(m, stage)
	} else {
		m[stage] = e
	}
	s.o.Refuse = m
}

// SetRefuseRcpt changes the refusal of one recipient; nil removes it.
func (s *Server) SetRefuseRcpt(addr string, e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*smtp.SMTPError{}
	for k, v := range s.o.RefuseRcpt {
		m[k] = v
	}
	if e == nil {
		delete(m, addr)
	} else {
		m[addr] = e
	}
	s.o.RefuseRcpt = m
}
