package oauthtest

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
)

// Mail is a go-smtp server on loopback, without TLS (AUTH allowed in
// clear), whose XOAUTH2 and OAUTHBEARER accept only the access tokens the
// authorization server says are current. A refused token gets the JSON
// error challenge of RFC 7628, then 535 after the client's response.
type Mail struct {
	Host string
	Port int
	srv  *smtp.Server
	as   *Server
	mech []string

	mu       sync.Mutex
	messages []string
	auths    []string
	tokens   []string
}

// StartMail runs a mail server over the tokens of as, offering mechs
// (default OAUTHBEARER and XOAUTH2).
func StartMail(t testing.TB, as *Server, mechs ...string) *Mail {
	t.Helper()
	if len(mechs) == 0 {
		mechs = []string{"OAUTHBEARER", "XOAUTH2"}
	}
	m := &Mail{as: as, mech: mechs}
	srv := smtp.NewServer(mailBackend{m})
	srv.Domain = "mx.oauth.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Host, m.Port, m.srv = "127.0.0.1", l.Addr().(*net.TCPAddr).Port, srv
	go srv.Serve(l)
	t.Cleanup(func() { smtptest.Shutdown(srv) })
	return m
}

// Messages returns the accepted messages.
func (m *Mail) Messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.messages...)
}

// Auths returns "MECH ok" or "MECH refused" for every AUTH.
func (m *Mail) Auths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.auths...)
}

// Tokens returns the access tokens presented.
func (m *Mail) Tokens() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.tokens...)
}

func (m *Mail) note(mech, token string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens = append(m.tokens, token)
	m.auths = append(m.auths, mech+map[bool]string{true: " ok", false: " refused"}[ok])
}

type mailBackend struct{ m *Mail }

func (b mailBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: b.m}, nil }

type mailSession struct {
	m      *Mail
	authed bool
}

var errRefused = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Username and Password not accepted"}

func (s *mailSession) AuthMechanisms() []string { return s.m.mech }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case "OAUTHBEARER":
		return bearerServer{sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			ok := s.m.as.ValidAccess(o.Token)
			s.m.note(mech, o.Token, ok)
			if !ok {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer", Scope: "https://outlook.office.com/SMTP.Send"}
			}
			s.authed = true
			return nil
		})}, nil
	case "XOAUTH2":
		return &xoauth2Server{s: s}, nil
	}
	return nil, errors.New("unsupported mechanism")
}

// bearerServer ends a refused OAUTHBEARER exchange with 535, as Gmail
// does (go-sasl's error would become a 454).
type bearerServer struct{ sasl.Server }

func (b bearerServer) Next(resp []byte) ([]byte, bool, error) {
	c, done, err := b.Server.Next(resp)
	if err != nil {
		return nil, true, errRefused
	}
	return c, done, nil
}

// xoauth2Server is the server side of XOAUTH2 (as Gmail answers it).
type xoauth2Server struct {
	s      *mailSession
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		if len(resp) != 0 {
			return nil, true, errors.New("expected the empty response after the error")
		}
		return nil, true, errRefused
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	var token string
	for _, part := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(part, "auth=Bearer "); ok {
			token = v
		}
	}
	ok := x.s.m.as.ValidAccess(token)
	x.s.m.note("XOAUTH2", token, ok)
	if !ok {
		x.failed = true
		b, _ := json.Marshal(map[string]string{"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"})
		return b, false, nil
	}
	x.s.authed = true
	return nil, true, nil
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return nil
}

func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.messages = append(s.m.messages, string(b))
	s.m.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }
