package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/herald-smtp/herald/engine/store"
)

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errStoreFailed  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error: the sandbox could not store the message"}
	errShutdown     = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "The sandbox is shutting down"}
)

type backend struct{ c *conn }

// NewSession is called by go-smtp at the first EHLO/HELO and again after
// STARTTLS, so the TLS state read here holds for the whole session.
func (b *backend) NewSession(sc *smtp.Conn) (smtp.Session, error) {
	_, isTLS := sc.TLSConnectionState()
	return &session{c: b.c, sc: sc, tls: isTLS}, nil
}

// session is one SMTP session of a connection. Its fields are guarded by mu
// because go-smtp runs Data on a separate goroutine for BDAT.
type session struct {
	c   *conn
	sc  *smtp.Conn
	tls bool

	mu       sync.Mutex
	authUser string
	helo     string
	from     string
	to       []string
}

func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from, s.to = "", nil
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.c.delayArmed.Store(true)
	if !s.c.stageDelay(StageMail) {
		return errShutdown
	}
	s.mu.Lock()
	authed := s.authUser != ""
	s.mu.Unlock()
	if s.c.s.cfg.AuthUser != "" && !authed {
		return errAuthRequired
	}
	if f, ok := s.c.fire(StageMail); ok {
		return s.c.faultReply(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from = from
	s.to = nil
	s.helo = s.sc.Hostname()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !s.c.stageDelay(StageRcpt) {
		return errShutdown
	}
	if f, ok := s.c.fire(StageRcpt); ok {
		return s.c.faultReply(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	srv := s.c.s
	if !srv.enter() {
		return errShutdown
	}
	defer srv.leave()
	raw, err := io.ReadAll(r)
	if err != nil {
		// ErrDataTooLarge is go-smtp's 552 5.3.4; other errors mean the
		// transfer broke off.
		if errors.Is(err, smtp.ErrDataTooLarge) {
			s.c.info("message refused: larger than the limit of %d bytes", srv.cfg.MaxSize)
		}
		return err
	}
	if !s.c.stageDelay(StageData) {
		return errShutdown
	}
	f, fired := s.c.fire(StageData)
	drop := fired && f.Drop
	if fired && !drop {
		s.c.info("the message (%d bytes) is not stored", len(raw))
		return s.c.faultReply(f)
	}
	s.mu.Lock()
	m := &store.SandboxMessage{
		Received:     srv.cfg.Now(),
		Remote:       s.c.remote,
		Helo:         s.helo,
		TLS:          s.tls,
		AuthUser:     s.authUser,
		From:         s.from,
		To:           append([]string(nil), s.to...),
		Subject:      subjectOf(raw),
		Size:         len(raw),
		Raw:          raw,
		ReplyDropped: drop,
	}
	s.mu.Unlock()
	if drop {
		s.c.info("fault %s fired: message stored, closing the connection without a reply", f)
	} else {
		s.c.info("message accepted (%d bytes); the reply 250 2.0.0 OK: queued follows", len(raw))
	}
	m.Transcript = s.c.messageTranscript()
	ctx, cancel := context.WithTimeout(srv.ctx, storeTimeout)
	defer cancel()
	id, err := srv.st.AddSandboxMessage(ctx, m)
	if err != nil {
		s.c.info("storing the message failed: %v", err)
		return errStoreFailed
	}
	s.c.info("stored as sandbox message %d", id)
	srv.notify(id)
	if drop {
		s.c.wire.Close()
		return errShutdown // never reaches the client: the connection is closed
	}
	return nil
}

// errAuthNotEnabled answers AUTH when the sandbox requires none: like a
// real server without AUTH, it neither offers nor accepts it.
var errAuthNotEnabled = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Authentication not enabled: this sandbox requires no AUTH"}

// AuthMechanisms lists the SASL mechanisms offered: none when no AUTH is
// required (go-smtp then advertises no AUTH in the EHLO reply).
func (s *session) AuthMechanisms() []string {
	if s.c.s.cfg.AuthUser == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login, "CRAM-MD5"}
}

// Auth returns the SASL server for mech.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.c.s.cfg.AuthUser == "" {
		return nil, errAuthNotEnabled
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return s.finishAuth(user, false)
			}
			return s.finishAuth(user, s.c.s.credentialsMatch(user, pass))
		}), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error {
			return s.finishAuth(user, s.c.s.credentialsMatch(user, pass))
		}}, nil
	case "CRAM-MD5":
		challenge, err := cramChallenge(s.c.s.cfg.Hostname)
		if err != nil {
			return nil, err
		}
		return &cramServer{challenge: challenge, check: func(user string, digest []byte) error {
			return s.finishAuth(user, s.c.s.cramMatch(user, challenge, digest))
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// finishAuth applies auth faults and the credential check once the client
// has sent its credentials.
func (s *session) finishAuth(user string, ok bool) error {
	if !s.c.stageDelay(StageAuth) {
		return errShutdown
	}
	if f, fired := s.c.fire(StageAuth); fired {
		return s.c.faultReply(f)
	}
	if s.c.s.cfg.AuthUser != "" && !ok {
		s.c.info("authentication failed for user %q", user)
		return smtp.ErrAuthFailed
	}
	s.mu.Lock()
	s.authUser = user
	s.mu.Unlock()
	return nil
}

// credentialsMatch compares in constant time (lengths are hidden by
// hashing first). Without configured credentials anything matches.
func (srv *Server) credentialsMatch(user, pass string) bool {
	if srv.cfg.AuthUser == "" {
		return true
	}
	u, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(srv.cfg.AuthUser))
	p, wp := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(srv.cfg.AuthPass))
	return subtle.ConstantTimeCompare(u[:], wu[:])&subtle.ConstantTimeCompare(p[:], wp[:]) == 1
}

// cramMatch checks a CRAM-MD5 digest (RFC 2195) in constant time.
func (srv *Server) cramMatch(user string, challenge, digest []byte) bool {
	if srv.cfg.AuthUser == "" {
		return true
	}
	mac := hmac.New(md5.New, []byte(srv.cfg.AuthPass))
	mac.Write(challenge)
	want := mac.Sum(nil)
	u, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(srv.cfg.AuthUser))
	userOK := subtle.ConstantTimeCompare(u[:], wu[:]) == 1
	return hmac.Equal(digest, want) && userOK
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login): it asks for the user name and the password,
// accepting the user name as the initial response.
type loginServer struct {
	state int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.state {
	case 0:
		l.state = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		l.user = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// cramServer is the server side of CRAM-MD5 (RFC 2195).
type cramServer struct {
	challenge []byte
	sent      bool
	check     func(user string, digest []byte) error
}

func (c *cramServer) Next(response []byte) (challenge []byte, done bool, err error) {
	if !c.sent {
		c.sent = true
		return c.challenge, false, nil
	}
	user, hexDigest, ok := strings.Cut(string(response), " ")
	if !ok {
		return nil, false, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "CRAM-MD5 response must be: user SP digest"}
	}
	digest, err := hex.DecodeString(strings.ToLower(hexDigest))
	if err != nil || len(digest) != md5.Size {
		digest = nil // fails the comparison like a wrong password
	}
	return nil, true, c.check(user, digest)
}

// cramChallenge returns "<random.hex@hostname>" from crypto/rand.
func cramChallenge(host string) ([]byte, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("CRAM-MD5 challenge: %w", err)
	}
	return []byte("<" + hex.EncodeToString(b[:]) + "@" + host + ">"), nil
}

// subjectOf returns the decoded Subject header of raw, or "" when the
// header block cannot be parsed. Undecodable encoded words are left as they
// are.
func subjectOf(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	subj := msg.Header.Get("Subject")
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	if d, err := dec.DecodeHeader(subj); err == nil {
		return d
	}
	return subj
}

// charsetReader decodes the charsets mime.WordDecoder does not know itself
// (it handles UTF-8, US-ASCII and ISO-8859-1).
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q: %w", charset, err)
	}
	return enc.NewDecoder().Reader(input), nil
}
