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
// challenges; the caller sends and reads. Every encoded response is
// registered with the recorder as a secret, and the lines after the
// mechanism name are meant to be recorded as transcript.Redacted, so no
// credential can surface in a transcript.
type SASL struct {
	auth gmsmtp.Auth
	rec  *transcript.Recorder
	host string
	mech string
	// sent holds every encoded response and the secret's own forms, for
	// Redact.
	sent []string
}

// NewSASL prepares an exchange with mechanism m (not AuthAuto or AuthNone)
// for user with secret (the password, or the access token for
// AuthXOAUTH2) on host. rec (nil for none) receives the encoded
// responses as secrets; registering the secret itself is the caller's.
func NewSASL(m AuthMethod, user, secret, host string, rec *transcript.Recorder) (*SASL, error) {
	s := &SASL{rec: rec, host: host}
	if len(secret) >= 4 {
		s.sent = transcript.SecretForms(secret)
	}
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
// caller cancels the exchange by sending "*" (RFC 4954 4).
func (s *SASL) Next(challenge string) (string, error) {
	c, err := base64.StdEncoding.DecodeString(strings.TrimSpace(challenge))
	if err != nil {
		return "", err
	}
	next, err := s.auth.Next(c, true)
	if err != nil {
		return "", err
	}
	return s.encode(next), nil
}

// encode is base64 of b, registered as a secret.
func (s *SASL) encode(b []byte) string {
	e := base64.StdEncoding.EncodeToString(b)
	if s.rec != nil {
		s.rec.AddSecret(e)
	}
	if len(e) >= 4 {
		s.sent = append(s.sent, e)
	}
	return e
}

// Redact replaces in text every response this exchange sent and every form
// of the secret: a server may echo them in its refusal, and that text ends
// up in errors, reports and the outbox.
func (s *SASL) Redact(text string) string {
	for _, f := range s.sent {
		text = strings.ReplaceAll(text, f, transcript.Redacted)
	}
	return text
}
