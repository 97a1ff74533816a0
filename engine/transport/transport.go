// Package transport runs one SMTP session: dial, TLS (implicit or
// STARTTLS), EHLO, AUTH, and one or more messages, with every line on the
// wire written to a transcript.Recorder as it happens.
//
// The protocol is driven here, line by line, rather than through go-mail's
// client, because a complete transcript needs the banner, every reply line
// (multi-line EHLO, 4xx and 5xx replies) and the lines after STARTTLS, and
// because a rejected recipient must not abort the others. The SASL
// mechanisms are go-mail's (github.com/wneessen/go-mail/smtp).
//
// Policy (see DESIGN.md): TLS 1.2 or newer, certificates verified (an extra
// CA pool or a pinned leaf fingerprint may be given), no plaintext fallback
// from starttls, and no credentials on a connection without TLS unless
// Config.AllowInsecureAuth is set, for every host, loopback included.
package transport

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

// TLSMode says how a session is protected.
type TLSMode string

const (
	// TLSImplicit speaks TLS from the first byte (RFC 8314, port 465).
	TLSImplicit TLSMode = "implicit"
	// TLSStartTLS upgrades with STARTTLS and aborts when that is impossible.
	TLSStartTLS TLSMode = "starttls"
	// TLSNone never uses TLS.
	TLSNone TLSMode = "none"
)

// ParseTLSMode reads a TLS mode name.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(strings.ToLower(strings.TrimSpace(s))); m {
	case TLSImplicit, TLSStartTLS, TLSNone:
		return m, nil
	case "ssl", "tls":
		return TLSImplicit, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q (implicit, starttls or none)", s)
}

// DefaultPort is the usual port for a TLS mode: 465, 587 or 25.
func DefaultPort(m TLSMode) int {
	switch m {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	}
	return 587
}

// AuthMethod is how a session authenticates.
type AuthMethod string

const (
	// AuthAuto picks the strongest mechanism the server offers when a user
	// name is set, and skips AUTH otherwise. It never picks XOAUTH2.
	AuthAuto AuthMethod = "auto"
	// AuthNone never authenticates.
	AuthNone        AuthMethod = "none"
	AuthPlain       AuthMethod = "plain"
	AuthLogin       AuthMethod = "login"
	AuthCRAMMD5     AuthMethod = "cram-md5"
	AuthSCRAMSHA1   AuthMethod = "scram-sha-1"
	AuthSCRAMSHA256 AuthMethod = "scram-sha-256"
	// AuthXOAUTH2 sends an OAuth2 access token (Config.Password).
	AuthXOAUTH2 AuthMethod = "xoauth2"
	// AuthOAuthBearer sends an OAuth2 access token (Config.Password) with
	// OAUTHBEARER (RFC 7628).
	AuthOAuthBearer AuthMethod = "oauthbearer"
	// AuthOAuth2 sends an OAuth2 access token (Config.Password) with the
	// mechanism the server offers: OAUTHBEARER, else XOAUTH2.
	AuthOAuth2 AuthMethod = "oauth2"
)

// AuthMethods lists every method in the order the CLI documents them.
var authMethods = []AuthMethod{AuthAuto, AuthNone, AuthPlain, AuthLogin, AuthCRAMMD5, AuthSCRAMSHA1, AuthSCRAMSHA256, AuthXOAUTH2, AuthOAuthBearer, AuthOAuth2}

// ParseAuthMethod reads an auth method name; empty means auto.
func ParseAuthMethod(s string) (AuthMethod, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return AuthAuto, nil
	}
	for _, m := range authMethods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown auth method %q (auto, none, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer, oauth2)", s)
}

// saslName is the mechanism's name in EHLO and AUTH.
func (m AuthMethod) saslName() string {
	switch m {
	case AuthXOAUTH2:
		return "XOAUTH2"
	case AuthOAuth2:
		return "OAUTHBEARER or XOAUTH2"
	}
	return strings.ToUpper(string(m))
}

// Pipelining says whether a session pipelines its commands (RFC 2920).
// The zero value is PipeliningAuto.
type Pipelining int

const (
	// PipeliningAuto pipelines where the server advertises PIPELINING and
	// sends one command at a time elsewhere.
	PipeliningAuto Pipelining = iota
	// PipeliningOn requires PIPELINING: a message fails at the mail stage
	// (KindPipeliningMissing) on a server that does not advertise it.
	PipeliningOn
	// PipeliningOff always waits for each reply before the next command.
	PipeliningOff
)

// String returns the name ParsePipelining reads: auto, on or off.
func (p Pipelining) String() string {
	switch p {
	case PipeliningAuto:
		return "auto"
	case PipeliningOn:
		return "on"
	case PipeliningOff:
		return "off"
	}
	return "Pipelining(" + strconv.Itoa(int(p)) + ")"
}

// ParsePipelining reads a pipelining mode: auto (or empty), on or off.
func ParsePipelining(s string) (Pipelining, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return PipeliningAuto, nil
	case "on", "yes", "true":
		return PipeliningOn, nil
	case "off", "no", "false":
		return PipeliningOff, nil
	}
	return 0, fmt.Errorf("unknown pipelining mode %q (auto, on or off)", s)
}

// Stage is how far a session got.
type Stage string

const (
	StageConnect Stage = "connect"
	StageBanner  Stage = "banner"
	StageEHLO    Stage = "ehlo"
	StageTLS     Stage = "tls"
	StageAuth    Stage = "auth"
	StageMail    Stage = "mail"
	StageRcpt    Stage = "rcpt"
	StageData    Stage = "data"
	// StageDone means the message was accepted (or the session ended
	// cleanly where it was asked to).
	StageDone Stage = "done"
)

var stageOrder = []Stage{StageConnect, StageBanner, StageEHLO, StageTLS, StageAuth, StageMail, StageRcpt, StageData, StageDone}

// ParseStage reads a stage name for QuitAfter: connect, banner, ehlo, tls,
// auth, mail or rcpt.
func ParseStage(s string) (Stage, error) {
	st := Stage(strings.ToLower(strings.TrimSpace(s)))
	switch st {
	case StageConnect, StageBanner, StageEHLO, StageTLS, StageAuth, StageMail, StageRcpt:
		return st, nil
	case "helo":
		return StageEHLO, nil
	case "from":
		return StageMail, nil
	case "to":
		return StageRcpt, nil
	}
	return "", fmt.Errorf("unknown stage %q (connect, banner, ehlo, tls, auth, mail or rcpt)", s)
}

// Class sorts an outcome by what the sender should do next.
type Class string

const (
	// ClassSent: the server accepted the message (2xx after the data).
	ClassSent Class = "sent"
	// ClassTemporary: a 4xx reply, or the network failed before the
	// message was complete. Retry later.
	ClassTemporary Class = "temporary"
	// ClassPermanent: a 5xx reply, a TLS or certificate failure, or
	// Herald's own policy. Retrying as is will not help.
	ClassPermanent Class = "permanent"
	// ClassUnknown: the connection was lost after the final dot with no
	// reply; the message may or may not have been accepted.
	ClassUnknown Class = "unknown"
)

// DSN asks for delivery status notifications (RFC 3461) where the server
// offers the DSN extension.
type DSN struct {
	// Notify holds SUCCESS, FAILURE, DELAY or NEVER.
	Notify []string
	// Return is "full" or "hdrs" (empty: the server's default).
	Return string
	// EnvID identifies the envelope in the reports.
	EnvID string
}

// Config describes one SMTP session.
type Config struct {
	Host string
	// Port defaults to DefaultPort(TLS).
	Port int
	TLS  TLSMode
	Auth AuthMethod
	// Username and Password are the credentials; for XOAUTH2, OAUTHBEARER
	// and AuthOAuth2 Password is the access token.
	Username, Password string
	// AllowInsecureAuth lets credentials travel on a connection without
	// TLS. Without it, AUTH without TLS is refused before anything is sent.
	AllowInsecureAuth bool
	// CAFile names a PEM file whose certificates are trusted in addition to
	// the system's.
	CAFile string
	// RootCAs, when set, replaces the system pool (tests, profiles with
	// their own CA).
	RootCAs *x509.CertPool
	// PinnedSHA256 is the hex SHA-256 of a leaf certificate accepted even
	// when no CA vouches for it (a self-signed server the user pinned).
	PinnedSHA256 string
	// HeloName is sent in EHLO; default this host's name.
	HeloName string
	// Timeout bounds each step (connect, each reply, each write); default
	// 30 s.
	Timeout time.Duration
	// QuitAfter ends the session cleanly with QUIT after this stage.
	QuitAfter Stage
	// DSN requests delivery status notifications for every message of
	// the session whose Envelope.DSN is nil.
	DSN *DSN
	// Transcript receives every line; nil records nothing (the cheap path
	// for bulk sending).
	Transcript *transcript.Recorder
	// Pipelining says whether MAIL, RCPT and DATA (and the end of one
	// message with the next MAIL) travel in one write (RFC 2920); the
	// default, PipeliningAuto, pipelines where the server offers it.
	Pipelining Pipelining
	// OnStage, when set, is called after each stage of Dial completes
	// (err nil) or fails.
	OnStage func(st Stage, err error)
	// DialContext opens the TCP connection; default a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// EHLOName is the name cfg's sessions give in EHLO (or HELO): HeloName,
// else this host's name when a command line can carry it, else
// "localhost".
func EHLOName(cfg Config) string {
	if cfg.HeloName != "" {
		return cfg.HeloName
	}
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \t\r\n<>") {
		return "localhost"
	}
	return h
}

func (c Config) port() int {
	if c.Port > 0 {
		return c.Port
	}
	return DefaultPort(c.TLS)
}

func (c Config) addr() string {
	return net.JoinHostPort(c.Host, fmt.Sprint(c.port()))
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 30 * time.Second
}

// Envelope is the SMTP envelope: MAIL FROM and RCPT TO, separate from the
// message headers.
type Envelope struct {
	From string
	To   []string
	// DSN, when not nil, is this message's delivery status notification
	// request; it takes precedence over Config.DSN, so one session can
	// carry messages that ask for different notifications.
	DSN *DSN
}

// RecipientResult is the server's answer to one RCPT TO.
type RecipientResult struct {
	Addr         string `json:"addr"`
	Accepted     bool   `json:"accepted"`
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code,omitempty"`
	Message      string `json:"message,omitempty"`
}

// TLSInfo describes an established TLS connection.
type TLSInfo struct {
	Version   string    `json:"version"`
	Cipher    string    `json:"cipher"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Verified is true when a trusted CA vouches for the certificate and
	// it matches the host name.
	Verified bool `json:"verified"`
	// Pinned is true when the certificate was accepted only because its
	// fingerprint matched Config.PinnedSHA256.
	Pinned bool `json:"pinned,omitempty"`
	// LeafSHA256 is the hex SHA-256 of the server's certificate.
	LeafSHA256 string `json:"leaf_sha256"`
	// Chain lists the certificates the server sent, leaf first.
	Chain []CertInfo `json:"chain,omitempty"`
}

// CertInfo is one certificate of a chain.
type CertInfo struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
}

// Result is the outcome of sending one message (or of a session ended by
// QuitAfter).
type Result struct {
	// OK is true when the message was accepted for at least one recipient,
	// or the session ended cleanly at QuitAfter.
	OK bool
	// Stage is StageDone on success, the QuitAfter stage when the session
	// stopped there, or the stage that failed.
	Stage Stage
	Class Class
	// Code and EnhancedCode are the last reply's (0 and "" when there was
	// none).
	Code         int
	EnhancedCode string
	// Err says what failed; it is a *Error when the session produced it.
	Err error
	// QueuedAs is the server's reply to the final dot ("250 2.0.0 Ok:
	// queued as 4F1A2").
	QueuedAs   string
	Recipients []RecipientResult
	TLS        *TLSInfo
	Elapsed    time.Duration
}
