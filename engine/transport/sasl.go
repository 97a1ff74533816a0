package transport

import (
	"encoding/base64"
	"fmt"
	"strings"

	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/herald-smtp/herald/engine/transcript"
)

// SASL is the client side of one AUTH exchange (RFC 4954) with go-mail's
// mechanisms: it makes the lines to send and answers the server's
// challenges; the caller sends and reads. The secret and every response
// sent are registered, in every form transcript.SecretForms and
// transcript.PayloadForms list, in the exchange's secret set (the
// recorder's when there is one), and the lines after the mechanism name
// are meant to be recorded as transcript.Redacted, so no credential can
// surface in a transcript, an error or a result.
type SASL struct {
	auth gmsmtp.Auth
	sec  *transcript.Secrets
	user string
	host string
	mech string
}

// NewSASL prepares an exchange with mechanism m (not AuthAuto or AuthNone)
// for user with secret (the password, or the access token for
// AuthXOAUTH2) on host. The secret and each response are registered with
// rec (nil for none; Redact works either way).
func NewSASL(m AuthMethod, user, secret, host string, rec *transcript.Recorder) (*SASL, error) {
	sec := transcript.NewSecrets()
	if rec != nil {
		sec = rec.Secrets()
	}
	return newSASL(m, user, secret, host, sec)
}

// newSASL is NewSASL registering with sec.
func newSASL(m AuthMethod, user, secret, host string, sec *transcript.Secrets) (*SASL, error) {
	s := &SASL{sec: sec, user: user, host: host}
	sec.Add(secret)
	switch m {
	case AuthPlain:
		s.auth = gmsmtp.PlainAuth("", user, secret, host, true)
	case AuthLogin:
		s.auth = gmsmtp.LoginAuth(user, secret, host, true)
	case AuthCRAMMD5:
		s.auth = gmsmtp.CRAMMD5Auth(user, secret)
	case AuthSCRAMSHA1:
		s.auth = gmsmtp.ScramSHA1Auth(user, secret)
	case AuthSCRAMSHA256:
		s.auth = gmsmtp.ScramSHA256Auth(user, secret)
	case AuthXOAUTH2:
		s.auth = gmsmtp.XOAuth2Auth(user, secret)
	default:
		return nil, fmt.Errorf("%q is not a SASL mechanism", string(m))
	}
	return s, nil
}

// Start begins the exchange; tls tells whether the connection is under
// TLS and offered lists the mechanisms of the EHLO reply. line is the AUTH
// command to send ("AUTH PLAIN AGJv..."), shown what the transcript
// records ("AUTH PLAIN [redacted]"). An error comes from the mechanism;
// nothing is to be sent then. Herald's own policy on credentials without
// TLS is the caller's to apply before.
func (s *SASL) Start(tls bool, offered []string) (line, shown string, err error) {
	mech, resp, err := s.auth.Start(&gmsmtp.ServerInfo{Name: s.host, TLS: tls, Auth: offered})
	if err != nil {
		return "", "", err
	}
	s.mech = mech
	line, shown = "AUTH "+mech, "AUTH "+mech
	if resp != nil {
		b := s.encode(resp)
		if b == "" {
			b = "="
		}
		line, shown = line+" "+b, shown+" "+transcript.Redacted
	}
	return line, shown, nil
}

// Mech is the mechanism's name as sent in AUTH, once Start has run.
func (s *SASL) Mech() string { return s.mech }

// Next answers a 334 challenge, given as the reply's text (base64): the
// line to send, to be recorded as transcript.Redacted. After an error the
// caller cancels the exchange by sending "*" (RFC 4954 4); the error's
// text is redacted (a mechanism may quote the challenge, which a server
// can make an echo).
func (s *SASL) Next(challenge string) (string, error) {
	c, err := base64.StdEncoding.DecodeString(strings.TrimSpace(challenge))
	if err != nil {
		return "", err
	}
	next, err := s.auth.Next(c, true)
	if err != nil {
		return "", redactErr(s.sec, err)
	}
	return s.encode(next), nil
}

// encode is base64 of b, registered with every form of the response: the
// base64 text, and the response itself unless it is the user name (LOGIN
// sends that alone, and redacting it would blank every address of the
// user); with CRAM-MD5 also the digest alone, with SCRAM the proof.
func (s *SASL) encode(b []byte) string {
	e := base64.StdEncoding.EncodeToString(b)
	forms := transcript.PayloadForms(b)
	if string(b) == s.user {
		forms = forms[:0]
		for _, f := range transcript.PayloadForms(b) {
			if f != s.user {
				forms = append(forms, f)
			}
		}
	}
	s.sec.AddForms(forms...)
	switch strings.ToUpper(s.mech) {
	case "CRAM-MD5":
		if i := strings.LastIndexByte(string(b), ' '); i >= 0 {
			s.sec.AddForms(string(b[i+1:]))
		}
	case "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS":
		for _, attr := range strings.Split(string(b), ",") {
			if v, ok := strings.CutPrefix(attr, "p="); ok {
				s.sec.AddForms(v)
			}
		}
	}
	return e
}

// Redact replaces in text every response this exchange sent and every form
// of the secret: a server may echo them in its refusal, and that text ends
// up in errors, reports and the outbox.
func (s *SASL) Redact(text string) string { return s.sec.Redact(text) }

// redactedError is an error whose text is redacted; it unwraps to the
// original, so errors.Is and errors.As still see through it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err with its text redacted by sec, or err itself when
// there is nothing to redact.
func redactErr(sec *transcript.Secrets, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*redactedError); ok {
		return err
	}
	msg := err.Error()
	if r := sec.Redact(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}
