package transport

import (
	"errors"
	"strconv"
	"strings"
)

// hintRule gives the plain-language hint for the failures it matches. Empty
// fields match anything; Code 4 or 5 matches the whole class. Rules are
// tried in order, so the specific ones come first. In Text, {port} and
// {offered} are filled in from the error.
type hintRule struct {
	Kind     Kind
	Stage    Stage
	Code     int
	Enhanced string
	// Port, when set, limits the rule to that server port.
	Port int
	Text string
}

// hintRules is the table behind Hint; each row has a test in hints_test.go.
var hintRules = []hintRule{
	// Herald's own policy and TLS.
	{Kind: KindInsecureAuth, Text: "Herald does not send a password over a connection without TLS. Use TLS (--tls starttls on port 587, --tls implicit on port 465); only for a test server you trust, opt in with --allow-insecure-auth (in a profile: \"I understand: plaintext\")."},
	{Kind: KindStartTLSMissing, Text: "The server did not offer STARTTLS, so Herald stopped before sending anything private. Try port 465 with --tls implicit; if this server really has no TLS, use --tls none (and never a password over it). On a network you do not trust, a missing STARTTLS can also mean someone stripped it."},
	{Kind: KindCertUnknownAuth, Text: "The server's certificate is self-signed or from an authority this machine does not trust. For a test server, trust its certificate with --ca-file FILE (the sandbox prints its certificate's path), or pin it in the connection wizard; otherwise ask the server's admin for a certificate from a public CA."},
	{Kind: KindCertExpired, Text: "The server's certificate has expired (or the clock of this machine is wrong): the admin must renew it. Check this machine's date first."},
	{Kind: KindCertName, Text: "The certificate is not issued for this host name. Use the name the certificate covers (often the provider's smtp. name, not your own domain or an IP address)."},
	{Kind: KindCertInvalid, Text: "The server's certificate is not valid for a mail server (wrong usage, not yet valid, or malformed): the admin must fix it."},
	{Kind: KindTLSVersion, Text: "The server offers only TLS older than 1.2, which Herald refuses: those versions are broken. The server must be updated."},
	{Kind: KindTLSNotTLS, Text: "The server answered in plain text where TLS was expected: this port speaks plain SMTP. Use --tls starttls (ports 587 and 25), or port 465 for implicit TLS."},
	{Kind: KindTLSHandshake, Text: "The TLS handshake failed. Check the port and the TLS mode (465: implicit, 587: starttls); the transcript shows where it stopped."},
	// Authentication on Herald's side.
	{Kind: KindAuthNotOffered, Text: "The server offers no AUTH here. Many servers offer it only after STARTTLS, and port 25 is usually for server-to-server mail: use port 587 with --tls starttls or 465 with --tls implicit."},
	{Kind: KindMechNotOffered, Text: "The server does not offer this auth method; it offers {offered}. Choose one of those, or --auth auto."},
	{Kind: KindAuthExchange, Text: "The authentication exchange failed before the server could judge the credentials; the transcript shows the server's challenge."},
	// Replies to AUTH, most specific first.
	{Stage: StageAuth, Code: 535, Enhanced: "5.7.139", Text: "Microsoft 365 refused: SMTP AUTH is disabled for this mailbox or the whole tenant (or security defaults block it). An admin enables \"Authenticated SMTP\" for the mailbox in the Microsoft 365 admin center, or use OAuth2 (--auth xoauth2)."},
	{Stage: StageAuth, Code: 535, Enhanced: "5.7.3", Text: "Microsoft refused the login: SMTP AUTH may be disabled for the mailbox or tenant, or the password is wrong. Check \"Authenticated SMTP\" in the admin center, or use OAuth2."},
	{Stage: StageAuth, Code: 534, Enhanced: "5.7.9", Text: "The provider requires an application-specific password: create an app password in your account's security settings (Gmail, Yahoo, iCloud) and use it instead of your normal password."},
	{Stage: StageAuth, Code: 534, Text: "The provider wants a stronger sign-in: an app password or OAuth2 (--auth xoauth2). Sign in to the web mail once; the provider may also have blocked a suspicious login."},
	{Stage: StageAuth, Code: 535, Text: "Wrong user name or password. Check the user name (often the full address); Gmail, Yahoo and iCloud accept only an app password here, not your normal password."},
	{Stage: StageAuth, Code: 538, Text: "The server requires encryption for this auth method: use --tls starttls or --tls implicit."},
	{Stage: StageAuth, Code: 530, Text: "The server wants TLS before authentication: use --tls starttls or --tls implicit."},
	{Stage: StageAuth, Code: 454, Text: "Authentication failed temporarily on the server's side (e.g. its password backend is unavailable): try again in a few minutes."},
	{Stage: StageAuth, Code: 504, Text: "The server does not support this auth method after all: choose another (--auth auto picks from what it offers)."},
	{Stage: StageAuth, Code: 5, Text: "The server refused the login; the reply above says why."},
	// Replies to MAIL, RCPT and DATA.
	{Code: 530, Enhanced: "5.7.0", Text: "The server requires authentication (or TLS) before it accepts mail: give --user and a password, and use TLS."},
	{Code: 530, Text: "The server requires authentication before it accepts mail: give --user and a password."},
	{Stage: StageMail, Enhanced: "5.7.60", Text: "This account may not send as this From address. Use your own address, or have the admin grant \"Send As\" for it."},
	{Stage: StageMail, Code: 553, Text: "The server does not accept this sender address: it is malformed or not one this account owns. Use your account's own address as --from."},
	{Stage: StageMail, Code: 550, Text: "The server refused the sender: the address is not allowed for this account or this client. Use your account's own address, and authenticate."},
	{Stage: StageRcpt, Enhanced: "5.7.1", Text: "Relaying denied: the server does not deliver to outside domains for an unauthenticated client. Authenticate (--user), or send through your own provider's submission server."},
	{Stage: StageRcpt, Code: 554, Text: "Relaying denied or recipient refused by policy: authenticate, or check the server's relay rules."},
	{Stage: StageRcpt, Enhanced: "5.1.1", Text: "The recipient's mailbox does not exist: check the address for typos."},
	{Stage: StageRcpt, Enhanced: "5.1.10", Text: "The recipient's domain accepts no mail (null MX): check the address."},
	{Stage: StageRcpt, Code: 550, Text: "The server refused this recipient; the reply says why (unknown user, relaying denied, policy)."},
	{Stage: StageRcpt, Code: 452, Text: "The server accepts no more recipients for this message now (too many recipients or storage full): send to the rest in another message, or later."},
	{Enhanced: "5.7.26", Text: "The receiving side rejected the message as unauthenticated: the sender's domain fails DMARC (SPF and DKIM both fail or do not align). Publish SPF for this server and sign with DKIM (herald test checks both)."},
	{Enhanced: "5.7.27", Text: "The sender's domain SPF does not authorise this server: add it to the domain's SPF record."},
	{Code: 552, Text: "The message is too large for the server: shrink attachments or send a link."},
	{Enhanced: "5.3.4", Text: "The message is too large for the server: shrink attachments or send a link."},
	{Stage: StageData, Code: 554, Text: "The server rejected the message content (spam or virus filter, or policy): the reply says which."},
	{Stage: StageData, Code: 550, Text: "The server rejected the message by policy (spam filter, blocklist, authentication): the reply says why."},
	{Code: 421, Text: "The server closed the session (busy, rate limit, or shutting down): try again later, with fewer messages per minute."},
	{Code: 451, Text: "The server had a temporary problem (greylisting, local error): try again in a few minutes; greylisting accepts the retry."},
	{Code: 450, Text: "The mailbox is temporarily unavailable (greylisting, busy): try again in a few minutes."},
	{Code: 4, Text: "A temporary failure on the server's side: try again later."},
	{Code: 5, Text: "The server refused for good; the reply says why. Retrying as is will not help."},
	// The connection.
	{Kind: KindUnknownAfterData, Text: "The connection was lost after the whole message was sent and before the server answered: it may or may not have been accepted. Check the recipient's mailbox or the server's log before sending again, or it may arrive twice."},
	{Kind: KindNotSent, Text: "This message was not sent: an earlier failure ended the session before its turn. The server cannot have accepted it; send it again."},
	{Kind: KindPipeliningMissing, Text: "The server does not advertise PIPELINING, and pipelining was required (--pipelining on). Use --pipelining auto to send without it where it is missing."},
	{Kind: KindSize, Text: "The message is larger than the server accepts (its SIZE limit): shrink attachments or send a link."},
	{Kind: KindSMTPUTF8, Text: "An address has non-ASCII characters but the server does not support SMTPUTF8: use an ASCII address (e.g. the punycode form of the domain)."},
	{Kind: KindDNS, Text: "The server's name does not resolve: check it for typos (smtp. or mail. prefix?). `herald discover ADDRESS` can find the right server."},
	{Kind: KindRefused, Text: "Nothing listens on port {port} there: check the port (465 implicit TLS, 587 STARTTLS). For the sandbox, start it with `herald sandbox` or the window."},
	{Kind: KindTimeout, Stage: StageConnect, Port: 25, Text: "Nothing answered on port 25 in time: many ISPs and cloud hosts block outgoing port 25. Use port 587 (starttls) or 465 (implicit)."},
	{Kind: KindTimeout, Stage: StageConnect, Text: "Nothing answered on port {port} in time: a firewall drops the connection, or the host or port is wrong."},
	{Kind: KindTimeout, Stage: StageBanner, Port: 465, Text: "The server sent no greeting: port 465 expects TLS from the first byte, use --tls implicit."},
	{Kind: KindTimeout, Stage: StageBanner, Text: "The server accepted the connection but sent no greeting in time: it may expect TLS first (--tls implicit), or be overloaded."},
	{Kind: KindTimeout, Text: "The server did not answer in time: it may be overloaded, or a firewall is in the way. Try again, or raise --timeout."},
	{Kind: KindDropped, Text: "The server closed the connection: it may be overloaded, rate-limiting you, or refusing this client. Try again later; the transcript shows the last thing it said."},
	{Kind: KindProtocol, Text: "The server's answer is not SMTP: is this the right port? (Web servers, IMAP or POP3 on this port give this.)"},
	{Kind: KindReplyTooLong, Text: "The server's answer is not SMTP: is this the right port?"},
	{Kind: KindNetwork, Text: "The network connection failed: check the network and try again."},
	// Certificate kinds added by the protocol-honesty work
	{Kind: KindCertSelfSigned, Text: "The server's certificate is self-signed: no authority vouches for it. For a test server you run yourself, trust that certificate (as a CA file) or pin its fingerprint; for any other server, ask its admin for a certificate from a public CA."},
	{Kind: KindCertNotYetValid, Text: "The server's certificate is not valid yet: check this machine's date and time first; if they are right, the admin installed a certificate too early."},
	{Kind: KindCertWeakKey, Text: "The server's certificate chain uses an RSA key shorter than 2048 bits, which can be broken: Herald refuses it. The admin must issue a certificate with a stronger key."},
	{Kind: KindUnexpectedReply, Text: "The server's replies are out of step with the commands (an extra reply, or a reply that does not fit the command): a broken server, or something on the path tampering with the connection. Herald ended the session and sent nothing more; the transcript shows what arrived."},
}

func (r hintRule) matches(e *Error) bool {
	if r.Kind != "" && r.Kind != e.Kind {
		return false
	}
	if r.Stage != "" && r.Stage != e.Stage {
		return false
	}
	switch {
	case r.Code == 0:
	case r.Code < 10:
		if e.Code/100 != r.Code {
			return false
		}
	default:
		if e.Code != r.Code {
			return false
		}
	}
	if r.Enhanced != "" && e.EnhancedCode != r.Enhanced {
		return false
	}
	if r.Port != 0 && r.Port != e.Port {
		return false
	}
	return true
}

// Hint returns a plain-language explanation of err with what to try, or ""
// when there is none (or err is not a session error).
func Hint(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return ""
	}
	for _, r := range hintRules {
		if r.matches(e) {
			return strings.NewReplacer("{port}", strconv.Itoa(e.Port), "{offered}", offered(e.Offered)).Replace(r.Text)
		}
	}
	return ""
}

func offered(m []string) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, ", ")
}
