package transport

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind names what went wrong when no reply code says it: the hints are keyed
// on it.
type Kind string

const (
	KindReply           Kind = "reply"            // the server answered 4xx/5xx
	KindDNS             Kind = "dns"              // the host name does not resolve
	KindRefused         Kind = "refused"          // nothing listens on the port
	KindTimeout         Kind = "timeout"          // a step took longer than the timeout
	KindNetwork         Kind = "network"          // the connection failed or was reset
	KindDropped         Kind = "dropped"          // the server closed the connection
	KindProtocol        Kind = "protocol"         // the server sent something that is not SMTP
	KindStartTLSMissing Kind = "starttls-missing" // starttls mode, STARTTLS not offered
	KindCertUnknownAuth Kind = "cert-unknown-authority"
	KindCertExpired     Kind = "cert-expired"
	// KindCertNotYetValid: the certificate's validity starts in the future
	// (or this machine's clock is behind).
	KindCertNotYetValid Kind = "cert-not-yet-valid"
	// KindCertSelfSigned: the certificate is signed by its own key and no
	// trusted authority vouches for it.
	KindCertSelfSigned Kind = "cert-self-signed"
	// KindCertWeakKey: a certificate of the server's chain has an RSA key
	// shorter than MinRSABits (leaf or intermediate, pinned ones too).
	KindCertWeakKey Kind = "cert-weak-key"
	KindCertName    Kind = "cert-name-mismatch"
	KindCertInvalid Kind = "cert-invalid"
	// KindCertPinMismatch: no authority vouches for the certificate, and
	// its SHA-256 differs from the one pinned for the server.
	KindCertPinMismatch Kind = "cert-pin-mismatch"
	KindTLSVersion      Kind = "tls-version"   // the server offers no TLS 1.2+
	KindTLSHandshake    Kind = "tls-handshake" // the handshake failed otherwise
	KindTLSNotTLS       Kind = "tls-not-tls"   // the server answered in plain text
	KindInsecureAuth    Kind = "insecure-auth" // Herald refused AUTH without TLS
	KindAuthNotOffered  Kind = "auth-not-offered"
	KindMechNotOffered  Kind = "mechanism-not-offered"
	KindAuthExchange    Kind = "auth-exchange" // the SASL exchange failed on our side
	// KindOAuthToken: the server refused the OAuth2 access token (invalid,
	// expired or revoked). Class as the reply's.
	KindOAuthToken Kind = "oauth-token"
	// KindOAuthScope: the OAuth2 access token lacks the permission (scope)
	// to send mail.
	KindOAuthScope        Kind = "oauth-scope"
	KindSize              Kind = "size"     // the message exceeds the server's SIZE
	KindSMTPUTF8          Kind = "smtputf8" // non-ASCII address, no SMTPUTF8
	KindNoRecipients      Kind = "no-recipients"
	KindUnknownAfterData  Kind = "unknown-after-data"
	KindCanceled          Kind = "canceled"
	KindInput             Kind = "input" // bad envelope given by the caller
	KindReplyTooLong      Kind = "reply-too-long"
	KindServerNameInvalid Kind = "server-name"
	// KindPipeliningMissing: Config.Pipelining is PipeliningOn and the
	// server does not advertise PIPELINING.
	KindPipeliningMissing Kind = "pipelining-missing"
	// KindUnexpectedReply: the server's reply does not fit the command it
	// answers (354 to MAIL, 250 to DATA), or it sent data no command asked
	// for (an extra reply line): the replies are out of step, so the
	// session ends. Class permanent.
	KindUnexpectedReply Kind = "unexpected-reply"
	// KindNotSent: an earlier failure ended the session of a batch before
	// this message was sent; the server cannot have accepted it.
	KindNotSent Kind = "not-sent"
)

// Error is a failed session step.
type Error struct {
	Stage Stage
	Class Class
	Kind  Kind
	// Code and EnhancedCode are the server's reply, when there was one.
	Code         int
	EnhancedCode string
	// Reply is the server's reply text (lines joined with " / ").
	Reply string
	// Msg says what Herald was doing or found.
	Msg string
	// Offered lists what the server offered (auth mechanisms), for hints.
	Offered []string
	// Port is the server port, for hints.
	Port int
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if e.Code > 0 {
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(e.Code))
		if e.Reply != "" {
			b.WriteString(" ")
			b.WriteString(e.Reply)
		}
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary tells whether trying again later may help.
func (e *Error) IsTemporary() bool { return e.Class == ClassTemporary }

// classOfCode maps a reply code onto a class.
func classOfCode(code int) Class {
	switch code / 100 {
	case 2, 3:
		return ClassSent
	case 4:
		return ClassTemporary
	}
	return ClassPermanent
}

// splitEnhanced separates an RFC 3463 enhanced status code ("X.Y.Z" with
// X the reply's class, Y and Z of one to three digits, then a word
// boundary) from the text of a reply line. It runs for every reply, so it
// is a hand-written scanner rather than a regular expression.
func splitEnhanced(code int, text string) (string, string) {
	n := enhancedLen(text)
	if n == 0 || int(text[0]-'0') != code/100 {
		return "", text
	}
	return text[:n], strings.TrimSpace(text[n:])
}

// enhancedLen is the length of the enhanced status code that starts text,
// or 0: the same as matching `^([245])\.(\d{1,3})\.(\d{1,3})\b`.
func enhancedLen(text string) int {
	if len(text) < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.' {
		return 0
	}
	i := 2
	digits := func() int {
		start := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		return i - start
	}
	if d := digits(); d < 1 || d > 3 || i >= len(text) || text[i] != '.' {
		return 0
	}
	i++
	if d := digits(); d < 1 || d > 3 {
		return 0
	}
	if i < len(text) && isWordByte(text[i]) {
		return 0
	}
	return i
}

// isWordByte reports whether b is a regexp word character [0-9A-Za-z_].
func isWordByte(b byte) bool {
	return b == '_' || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

// replyError builds the error for an unexpected reply.
func replyError(st Stage, msg string, r *Reply) *Error {
	return &Error{Stage: st, Class: classOfCode(r.Code), Kind: KindReply, Code: r.Code, EnhancedCode: r.Enhanced, Reply: r.Text(), Msg: msg}
}

// netError classifies a failure of the connection itself.
func netError(ctx context.Context, st Stage, msg string, err error) *Error {
	e := &Error{Stage: st, Class: ClassTemporary, Kind: KindNetwork, Msg: msg, Err: err}
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case ctx != nil && ctx.Err() != nil:
		e.Kind, e.Err = KindCanceled, context.Cause(ctx)
	case errors.As(err, &dnsErr):
		e.Kind = KindDNS
		if dnsErr.IsNotFound {
			e.Class = ClassPermanent
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind = KindRefused
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		e.Kind = KindTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE):
		e.Kind = KindDropped
	}
	return e
}

// ClassifyTLSError turns a failed TLS handshake into a StageTLS *Error
// with msg: the kind names the cause (an unknown authority, a self-signed
// certificate, an expired or not yet valid one, a name mismatch, a weak
// key, no TLS 1.2, a server that is not speaking TLS...), the class is
// permanent except for a timeout or a dropped connection. For a
// certificate, the error's text says in plain words what is wrong with
// which certificate; Go's x509 error stays reachable with errors.As.
func ClassifyTLSError(msg string, err error) *Error {
	e := &Error{Stage: StageTLS, Class: ClassPermanent, Kind: KindTLSHandshake, Msg: msg, Err: err}
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var weak *WeakKeyError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var verr *tls.CertificateVerificationError
	plain := func(k Kind, format string, args ...any) {
		e.Kind, e.Err = k, &certError{text: fmt.Sprintf(format, args...), err: err}
	}
	var pinned *PinMismatchError
	switch {
	case errors.As(err, &pinned):
		e.Kind, e.Err = KindCertPinMismatch, &certError{text: pinned.Error(), err: err}
	case errors.As(err, &weak):
		e.Kind = KindCertWeakKey
	case errors.As(err, &unknown):
		c := unknown.Cert
		switch {
		case c == nil:
			plain(KindCertUnknownAuth, "the server's certificate is signed by an authority this machine does not trust")
		case selfSigned(c):
			plain(KindCertSelfSigned, "the server's certificate (%s) is self-signed: no authority vouches for it", certName(c))
		default:
			plain(KindCertUnknownAuth, "the server's certificate (%s) is issued by %s, an authority this machine does not trust", certName(c), issuerName(c))
		}
	case errors.As(err, &hostErr):
		names := certNames(hostErr.Certificate)
		what := "no host name"
		if len(names) > 0 {
			what = strings.Join(names, ", ")
		}
		plain(KindCertName, "the server's certificate is for %s, not for %s", what, Printable([]byte(hostErr.Host)))
	case errors.As(err, &invalid):
		c := invalid.Cert
		switch {
		case invalid.Reason == x509.Expired && c != nil && time.Now().Before(c.NotBefore):
			plain(KindCertNotYetValid, "the server's certificate (%s) is not valid before %s (this machine's clock says %s)", certName(c), c.NotBefore.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
		case invalid.Reason == x509.Expired && c != nil:
			plain(KindCertExpired, "the server's certificate (%s) expired at %s (this machine's clock says %s)", certName(c), c.NotAfter.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
		case invalid.Reason == x509.Expired:
			plain(KindCertExpired, "the server's certificate has expired or is not valid yet")
		default:
			e.Kind = KindCertInvalid
			if c != nil {
				plain(KindCertInvalid, "the server's certificate (%s) is not valid for a mail server: %s", certName(c), strings.TrimPrefix(invalid.Error(), "x509: "))
			}
		}
	case errors.As(err, &verr):
		e.Kind = KindCertInvalid
	case errors.As(err, &recErr):
		e.Kind = KindTLSNotTLS
	case errors.As(err, &alert) && (alert == 70 || alert == 71): // protocol_version, insufficient_security
		e.Kind = KindTLSVersion
	case strings.Contains(err.Error(), "protocol version"):
		e.Kind = KindTLSVersion
	case errors.Is(err, os.ErrDeadlineExceeded):
		e.Kind, e.Class = KindTimeout, ClassTemporary
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		e.Kind, e.Class = KindDropped, ClassTemporary
	}
	return e
}

// MinRSABits is the shortest RSA key Herald accepts in a server's
// certificate chain.
const MinRSABits = 2048

// WeakKeyError is what the TLS verification of TLSClientConfig returns for
// a certificate whose RSA key is shorter than MinRSABits: the handshake
// fails with it, and ClassifyTLSError makes it KindCertWeakKey.
type WeakKeyError struct {
	// Subject names the certificate; Bits is its key's length.
	Subject string
	Bits    int
	// Leaf is true for the server's own certificate, false for an
	// authority of its chain.
	Leaf bool
}

func (w *WeakKeyError) Error() string {
	which := "the server's certificate"
	if !w.Leaf {
		which = "an authority of the server's certificate chain"
	}
	return fmt.Sprintf("%s (%s) has a %d-bit RSA key; Herald refuses RSA keys shorter than %d bits, which can be broken", which, w.Subject, w.Bits, MinRSABits)
}

// checkKeys returns a *WeakKeyError for the first certificate of chain
// (leaf first) with an RSA key shorter than MinRSABits.
func checkKeys(chain []*x509.Certificate) error {
	for i, c := range chain {
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < MinRSABits {
			return &WeakKeyError{Subject: certName(c), Bits: k.N.BitLen(), Leaf: i == 0}
		}
	}
	return nil
}

// certError is a certificate failure told in plain words; it unwraps to
// Go's x509 error.
type certError struct {
	text string
	err  error
}

func (c *certError) Error() string { return c.text }
func (c *certError) Unwrap() error { return c.err }

// selfSigned reports whether c is signed by its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// certName names a certificate by its subject's common name, or its whole
// subject, or its first DNS name, made safe for a terminal (the server
// chose these bytes).
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return Printable([]byte("CN=" + c.Subject.CommonName))
	case len(c.Subject.String()) > 0:
		return Printable([]byte(c.Subject.String()))
	case len(c.DNSNames) > 0:
		return Printable([]byte(c.DNSNames[0]))
	}
	return "no subject"
}

// issuerName names a certificate's issuer, made safe for a terminal.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return Printable([]byte("CN=" + c.Issuer.CommonName))
	}
	if s := c.Issuer.String(); s != "" {
		return Printable([]byte(s))
	}
	return "an unnamed authority"
}

// certNames lists the DNS names and IP addresses a certificate covers.
func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	var names []string
	for _, n := range c.DNSNames {
		names = append(names, Printable([]byte(n)))
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

func errorf(st Stage, class Class, kind Kind, format string, args ...any) *Error {
	return &Error{Stage: st, Class: class, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
