package transport

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	// token is the OAuth2 mechanism's state (XOAUTH2, OAUTHBEARER), nil for
	// the others.
	token *tokenAuth
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
	return newSASL(m, user, secret, host, 0, sec)
}

// newSASL is NewSASL registering with sec; port (0: unknown) goes into the
// OAUTHBEARER request.
func newSASL(m AuthMethod, user, secret, host string, port int, sec *transcript.Secrets) (*SASL, error) {
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
	case AuthXOAUTH2, AuthOAuthBearer, AuthOAuth2:
		s.token = &tokenAuth{method: m, user: user, token: secret, host: host, port: port}
		s.auth = s.token
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

// OAuthFailure is the error the server sent as a challenge during an
// XOAUTH2 or OAUTHBEARER exchange (RFC 7628 3.2.2), nil when there was none.
func (s *SASL) OAuthFailure() *OAuthFailure {
	if s.token == nil {
		return nil
	}
	return s.token.failure
}

// encode is base64 of b, registered with every form of the response: the
// base64 text, and the response itself unless it is the user name (LOGIN
// sends that alone, and redacting it would blank every address of the
// user); with CRAM-MD5 also the digest alone, with SCRAM the proof.
func (s *SASL) encode(b []byte) string {
	e := base64.StdEncoding.EncodeToString(b)
	if s.token != nil && s.token.failure != nil && len(b) <= 1 {
		// The empty (XOAUTH2) or %x01 (OAUTHBEARER) response that ends a
		// failed exchange carries nothing secret.
		return e
	}
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

// OAuthFailure is the JSON error a server sends as a challenge when it
// refuses an OAuth2 access token (RFC 7628 3.2.2; Google's XOAUTH2 sends
// the same shape).
type OAuthFailure struct {
	// Status is the error: invalid_token, insufficient_scope,
	// invalid_request, or an HTTP-like code ("401", "400") from XOAUTH2
	// servers.
	Status string `json:"status"`
	// Scope is the scope the server needs, when it says.
	Scope string `json:"scope,omitempty"`
	// Schemes are the token schemes it accepts.
	Schemes string `json:"schemes,omitempty"`
}

// Insufficient reports whether the token lacks a permission (scope) rather
// than being invalid.
func (f *OAuthFailure) Insufficient() bool {
	return f.Status == "insufficient_scope" || f.Status == "403"
}

// tokenAuth is XOAUTH2 and OAUTHBEARER (RFC 7628): the access token as the
// initial response; a challenge is the server's JSON error, which is kept
// and answered with the response that lets the server finish (empty for
// XOAUTH2, %x01 for OAUTHBEARER), so that the final reply arrives.
type tokenAuth struct {
	method      AuthMethod
	user, token string
	host        string
	port        int
	bearer      bool
	failure     *OAuthFailure
}

// Start picks the mechanism (for AuthOAuth2 OAUTHBEARER where the server
// offers it, else XOAUTH2) and gives the initial response.
func (a *tokenAuth) Start(info *gmsmtp.ServerInfo) (string, []byte, error) {
	switch a.method {
	case AuthOAuthBearer:
		a.bearer = true
	case AuthOAuth2:
		a.bearer = info == nil || slicesContainsFold(info.Auth, "OAUTHBEARER") || !slicesContainsFold(info.Auth, "XOAUTH2")
	}
	if !a.bearer {
		return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
	}
	// gs2-header "n,a=USER," then the key-value pairs (RFC 7628 3.1); a
	// comma or '=' in the authzid is escaped (RFC 5801).
	var b strings.Builder
	b.WriteString("n,")
	if a.user != "" {
		b.WriteString("a=" + strings.NewReplacer("=", "=3D", ",", "=2C").Replace(a.user))
	}
	b.WriteString(",")
	if a.host != "" {
		b.WriteString("\x01host=" + a.host)
	}
	if a.port > 0 {
		b.WriteString("\x01port=" + strconv.Itoa(a.port))
	}
	b.WriteString("\x01auth=Bearer " + a.token + "\x01\x01")
	return "OAUTHBEARER", []byte(b.String()), nil
}

// Next keeps the server's error and answers so the exchange can end.
func (a *tokenAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	f := &OAuthFailure{}
	if err := json.Unmarshal(challenge, f); err != nil || f.Status == "" {
		f = &OAuthFailure{Status: "unknown"}
	}
	if a.failure != nil {
		// A second challenge: the server is not following RFC 7628.
		return nil, errors.New("the server sent another challenge after its error")
	}
	a.failure = f
	if a.bearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

func slicesContainsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
