package transport

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/herald-smtp/herald/engine/hint"
)

// hintRule gives the plain-language hint for the failures it matches. Empty
// fields match anything; Code 4 or 5 matches the whole class. Rules are
// tried in order, so the specific ones come first. In Text, {port} and
// {offered} are filled in from the error. Text names settings in words,
// never a flag or a command: Fixes say which settings fix the failure, and
// each front end words them.
type hintRule struct {
	Kind     Kind
	Stage    Stage
	Code     int
	Enhanced string
	// Port, when set, limits the rule to that server port.
	Port  int
	Text  string
	Fixes []hint.Fix
	// Link is a page that explains more.
	Link string
}

// The remedies the hint table names.
var (
	fixImplicit465 = hint.Fix{Setting: hint.TLS, Value: "implicit", Label: "Use implicit TLS on port 465", Also: []hint.Change{{Setting: hint.Port, Value: "465"}}}
	fixStartTLS587 = hint.Fix{Setting: hint.TLS, Value: "starttls", Label: "Use STARTTLS on port 587", Also: []hint.Change{{Setting: hint.Port, Value: "587"}}}
	fixImplicit    = hint.Fix{Setting: hint.TLS, Value: "implicit", Label: "Use implicit TLS"}
	fixStartTLS    = hint.Fix{Setting: hint.TLS, Value: "starttls", Label: "Use STARTTLS"}
	fixNoTLS       = hint.Fix{Setting: hint.TLS, Value: "none", Label: "Connect without TLS (never with a password)"}
	fixInsecure    = hint.Fix{Setting: hint.AllowInsecureAuth, Label: "Allow the password without TLS (trusted test servers only)"}
	fixCAFile      = hint.Fix{Setting: hint.CAFile, Label: "Trust the server's CA certificate file"}
	fixPin         = hint.Fix{Setting: hint.PinCertificate, Label: "Pin this server's certificate"}
	fixPassword    = hint.Fix{Setting: hint.Password, Label: "Enter the password again"}
	fixAppPassword = hint.Fix{Setting: hint.Password, Label: "Use an app password"}
	fixOAuth       = hint.Fix{Setting: hint.OAuthSignIn, Label: "Sign in with OAuth2"}
	fixOAuthAgain  = hint.Fix{Setting: hint.OAuthSignIn, Label: "Sign in again"}
	fixAuthAuto    = hint.Fix{Setting: hint.Auth, Value: "auto", Label: "Let Herald choose the auth method"}
	fixUser        = hint.Fix{Setting: hint.User, Label: "Log in with a user name and password", Also: []hint.Change{{Setting: hint.Password}}}
	fixFrom        = hint.Fix{Setting: hint.From, Label: "Send from your account's own address"}
	fixServer      = hint.Fix{Setting: hint.Server, Label: "Correct the server name"}
	fixDiscover    = hint.Fix{Setting: hint.Discover, Label: "Find the server from your address"}
	fixSandbox     = hint.Fix{Setting: hint.StartSandbox, Label: "Start the sandbox"}
	fixTimeout     = hint.Fix{Setting: hint.Timeout, Value: "60s", Label: "Wait longer for the server"}
	fixPipeAuto    = hint.Fix{Setting: hint.Pipelining, Value: "auto", Label: "Pipeline only where the server offers it"}
	fixRetry       = hint.Fix{Setting: hint.Retry, Label: "Try again later"}
	fixCheckDomain = hint.Fix{Setting: hint.CheckDomain, Label: "Check the sender domain's SPF, DKIM and DMARC"}
)

// microsoftSMTPAuth is Microsoft's page on enabling authenticated SMTP.
const microsoftSMTPAuth = "https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission"

func fixes(f ...hint.Fix) []hint.Fix { return f }

// hintRules is the table behind HintFor; each row has a test in hints_test.go.
var hintRules = []hintRule{
	// Herald's own policy and TLS.
	{Kind: KindInsecureAuth, Text: "Herald does not send a password over a connection without TLS. Use TLS (STARTTLS on port 587, or implicit TLS on port 465); only for a test server you trust, allow the password without TLS.",
		Fixes: fixes(fixStartTLS587, fixImplicit465, fixInsecure)},
	{Kind: KindStartTLSMissing, Text: "The server did not offer STARTTLS, so Herald stopped before sending anything private. Use implicit TLS on port 465; if this server really has no TLS, connect without TLS (and never with a password). On a network you do not trust, a missing STARTTLS can also mean someone stripped it.",
		Fixes: fixes(fixImplicit465, fixNoTLS)},
	{Kind: KindCertUnknownAuth, Text: "The server's certificate is self-signed or from an authority this machine does not trust. For a test server, trust its CA certificate file (the sandbox shows its certificate's path), or pin the certificate in a profile; otherwise ask the server's admin for a certificate from a public CA.",
		Fixes: fixes(fixCAFile, fixPin)},
	{Kind: KindCertExpired, Text: "The server's certificate has expired (or the clock of this machine is wrong): the admin must renew it. Check this machine's date first."},
	{Kind: KindCertName, Text: "The certificate is not issued for this host name. Use the name the certificate covers (often the provider's smtp. name, not your own domain or an IP address).",
		Fixes: fixes(fixServer)},
	{Kind: KindCertInvalid, Text: "The server's certificate is not valid for a mail server (wrong usage, not yet valid, or malformed): the admin must fix it."},
	{Kind: KindTLSVersion, Text: "The server offers only TLS older than 1.2, which Herald refuses: those versions are broken. The server must be updated."},
	{Kind: KindTLSNotTLS, Text: "The server answered in plain text where TLS was expected: this port speaks plain SMTP. Use the TLS mode starttls (ports 587 and 25), or port 465 for implicit TLS.",
		Fixes: fixes(fixStartTLS, fixImplicit465)},
	{Kind: KindTLSHandshake, Text: "The TLS handshake failed. Check the port and the TLS mode (465: implicit, 587: starttls); the transcript shows where it stopped.",
		Fixes: fixes(fixImplicit465, fixStartTLS587)},
	// Authentication on Herald's side.
	{Kind: KindAuthNotOffered, Text: "The server offers no AUTH here. Many servers offer it only after STARTTLS, and port 25 is usually for server-to-server mail: use STARTTLS on port 587 or implicit TLS on port 465.",
		Fixes: fixes(fixStartTLS587, fixImplicit465)},
	{Kind: KindMechNotOffered, Text: "The server does not offer this auth method; it offers {offered}. Choose one of those, or let Herald choose (auth method auto).",
		Fixes: fixes(fixAuthAuto)},
	{Kind: KindAuthExchange, Text: "The authentication exchange failed before the server could judge the credentials; the transcript shows the server's challenge."},
	// Replies to AUTH, most specific first.
	{Kind: KindOAuthScope, Text: "The server refused the OAuth2 access token: it lacks the permission (scope) to send mail. Sign in again and grant mail sending; for a custom provider, check the scopes.",
		Fixes: fixes(fixOAuthAgain)},
	{Kind: KindOAuthToken, Code: 4, Text: "The server could not check the OAuth2 access token just now: try again in a few minutes.",
		Fixes: fixes(fixRetry)},
	{Kind: KindOAuthToken, Text: "The server refused the OAuth2 access token: it expired or was revoked, or this account may not send with SMTP AUTH. Sign in again.",
		Fixes: fixes(fixOAuthAgain)},
	{Stage: StageAuth, Code: 535, Enhanced: "5.7.139", Text: "Microsoft 365 refused: SMTP AUTH is disabled for this mailbox or the whole tenant (or security defaults block it). An admin enables \"Authenticated SMTP\" for the mailbox in the Microsoft 365 admin center, or sign in with OAuth2.",
		Fixes: fixes(fixOAuth), Link: microsoftSMTPAuth},
	{Stage: StageAuth, Code: 535, Enhanced: "5.7.3", Text: "Microsoft refused the login: SMTP AUTH may be disabled for the mailbox or tenant, or the password is wrong. Check \"Authenticated SMTP\" in the admin center, or sign in with OAuth2.",
		Fixes: fixes(fixPassword, fixOAuth), Link: microsoftSMTPAuth},
	{Stage: StageAuth, Code: 534, Enhanced: "5.7.9", Text: "The provider requires an application-specific password: create an app password in your account's security settings (Gmail, Yahoo, iCloud) and use it instead of your normal password.",
		Fixes: fixes(fixAppPassword)},
	{Stage: StageAuth, Code: 534, Text: "The provider wants a stronger sign-in: an app password or OAuth2. Sign in to the web mail once; the provider may also have blocked a suspicious login.",
		Fixes: fixes(fixAppPassword, fixOAuth)},
	{Stage: StageAuth, Code: 535, Text: "Wrong user name or password. Check the user name (often the full address); Gmail, Yahoo and iCloud accept only an app password here, not your normal password.",
		Fixes: fixes(fixPassword, fixUser)},
	{Stage: StageAuth, Code: 538, Text: "The server requires encryption for this auth method: use STARTTLS or implicit TLS.",
		Fixes: fixes(fixStartTLS, fixImplicit465)},
	{Stage: StageAuth, Code: 530, Text: "The server wants TLS before authentication: use STARTTLS or implicit TLS.",
		Fixes: fixes(fixStartTLS, fixImplicit465)},
	{Stage: StageAuth, Code: 454, Text: "Authentication failed temporarily on the server's side (e.g. its password backend is unavailable): try again in a few minutes.",
		Fixes: fixes(fixRetry)},
	{Stage: StageAuth, Code: 504, Text: "The server does not support this auth method after all: choose another (auth method auto picks from what it offers).",
		Fixes: fixes(fixAuthAuto)},
	{Stage: StageAuth, Code: 5, Text: "The server refused the login; the reply above says why.",
		Fixes: fixes(fixPassword)},
	// Replies to MAIL, RCPT and DATA.
	{Code: 530, Enhanced: "5.7.0", Text: "The server requires authentication (or TLS) before it accepts mail: log in with a user name and password, and use TLS.",
		Fixes: fixes(fixUser, fixStartTLS587)},
	{Code: 530, Text: "The server requires authentication before it accepts mail: log in with a user name and password.",
		Fixes: fixes(fixUser)},
	{Stage: StageMail, Enhanced: "5.7.60", Text: "This account may not send as this From address. Use your own address, or have the admin grant \"Send As\" for it.",
		Fixes: fixes(fixFrom)},
	{Stage: StageMail, Code: 553, Text: "The server does not accept this sender address: it is malformed or not one this account owns. Send from your account's own address.",
		Fixes: fixes(fixFrom)},
	{Stage: StageMail, Code: 550, Text: "The server refused the sender: the address is not allowed for this account or this client. Use your account's own address, and authenticate.",
		Fixes: fixes(fixFrom, fixUser)},
	{Stage: StageRcpt, Enhanced: "5.7.1", Text: "Relaying denied: the server does not deliver to outside domains for an unauthenticated client. Log in with a user name and password, or send through your own provider's submission server.",
		Fixes: fixes(fixUser, fixDiscover)},
	{Stage: StageRcpt, Code: 554, Text: "Relaying denied or recipient refused by policy: authenticate, or check the server's relay rules.",
		Fixes: fixes(fixUser)},
	{Stage: StageRcpt, Enhanced: "5.1.1", Text: "The recipient's mailbox does not exist: check the address for typos."},
	{Stage: StageRcpt, Enhanced: "5.1.10", Text: "The recipient's domain accepts no mail (null MX): check the address."},
	{Stage: StageRcpt, Code: 550, Text: "The server refused this recipient; the reply says why (unknown user, relaying denied, policy)."},
	{Stage: StageRcpt, Code: 452, Text: "The server accepts no more recipients for this message now (too many recipients or storage full): send to the rest in another message, or later.",
		Fixes: fixes(fixRetry)},
	{Enhanced: "5.7.26", Text: "The receiving side rejected the message as unauthenticated: the sender's domain fails DMARC (SPF and DKIM both fail or do not align). Publish SPF for this server and sign with DKIM (Herald's connection test checks both).",
		Fixes: fixes(fixCheckDomain)},
	{Enhanced: "5.7.27", Text: "The sender's domain SPF does not authorise this server: add it to the domain's SPF record.",
		Fixes: fixes(fixCheckDomain)},
	{Code: 552, Text: "The message is too large for the server: shrink attachments or send a link."},
	{Enhanced: "5.3.4", Text: "The message is too large for the server: shrink attachments or send a link."},
	{Stage: StageData, Code: 554, Text: "The server rejected the message content (spam or virus filter, or policy): the reply says which."},
	{Stage: StageData, Code: 550, Text: "The server rejected the message by policy (spam filter, blocklist, authentication): the reply says why.",
		Fixes: fixes(fixCheckDomain)},
	{Code: 421, Text: "The server closed the session (busy, rate limit, or shutting down): try again later, with fewer messages per minute.",
		Fixes: fixes(fixRetry)},
	{Code: 451, Text: "The server had a temporary problem (greylisting, local error): try again in a few minutes; greylisting accepts the retry.",
		Fixes: fixes(fixRetry)},
	{Code: 450, Text: "The mailbox is temporarily unavailable (greylisting, busy): try again in a few minutes.",
		Fixes: fixes(fixRetry)},
	{Code: 4, Text: "A temporary failure on the server's side: try again later.",
		Fixes: fixes(fixRetry)},
	{Code: 5, Text: "The server refused for good; the reply says why. Retrying as is will not help."},
	// The connection.
	{Kind: KindUnknownAfterData, Text: "The connection was lost after the whole message was sent and before the server answered: it may or may not have been accepted. Check the recipient's mailbox or the server's log before sending again, or it may arrive twice."},
	{Kind: KindNotSent, Text: "This message was not sent: an earlier failure ended the session before its turn. The server cannot have accepted it; send it again."},
	{Kind: KindPipeliningMissing, Text: "The server does not advertise PIPELINING, and pipelining was required. Set pipelining to auto to send without it where it is missing.",
		Fixes: fixes(fixPipeAuto)},
	{Kind: KindSize, Text: "The message is larger than the server accepts (its SIZE limit): shrink attachments or send a link."},
	{Kind: KindSMTPUTF8, Text: "An address has non-ASCII characters but the server does not support SMTPUTF8: use an ASCII address (e.g. the punycode form of the domain)."},
	{Kind: KindDNS, Text: "The server's name does not resolve: check it for typos (smtp. or mail. prefix?). Discovery can find the right server from your address.",
		Fixes: fixes(fixServer, fixDiscover)},
	{Kind: KindRefused, Text: "Nothing listens on port {port} there: check the port (465 implicit TLS, 587 STARTTLS). For the sandbox, start it first.",
		Fixes: fixes(fixImplicit465, fixStartTLS587, fixSandbox)},
	{Kind: KindTimeout, Stage: StageConnect, Port: 25, Text: "Nothing answered on port 25 in time: many ISPs and cloud hosts block outgoing port 25. Use port 587 (STARTTLS) or 465 (implicit TLS).",
		Fixes: fixes(fixStartTLS587, fixImplicit465)},
	{Kind: KindTimeout, Stage: StageConnect, Text: "Nothing answered on port {port} in time: a firewall drops the connection, or the host or port is wrong.",
		Fixes: fixes(fixServer)},
	{Kind: KindTimeout, Stage: StageBanner, Port: 465, Text: "The server sent no greeting: port 465 expects TLS from the first byte, use implicit TLS.",
		Fixes: fixes(fixImplicit)},
	{Kind: KindTimeout, Stage: StageBanner, Text: "The server accepted the connection but sent no greeting in time: it may expect TLS first (implicit TLS), or be overloaded.",
		Fixes: fixes(fixImplicit)},
	{Kind: KindTimeout, Text: "The server did not answer in time: it may be overloaded, or a firewall is in the way. Try again, or wait longer for each step.",
		Fixes: fixes(fixRetry, fixTimeout)},
	{Kind: KindDropped, Text: "The server closed the connection: it may be overloaded, rate-limiting you, or refusing this client. Try again later; the transcript shows the last thing it said.",
		Fixes: fixes(fixRetry)},
	{Kind: KindProtocol, Text: "The server's answer is not SMTP: is this the right port? (Web servers, IMAP or POP3 on this port give this.)",
		Fixes: fixes(fixImplicit465, fixStartTLS587)},
	{Kind: KindReplyTooLong, Text: "The server's answer is not SMTP: is this the right port?",
		Fixes: fixes(fixImplicit465, fixStartTLS587)},
	{Kind: KindNetwork, Text: "The network connection failed: check the network and try again.",
		Fixes: fixes(fixRetry)},
	{Kind: KindCertPinMismatch, Text: "The server's certificate is not the one pinned for this server: its fingerprint differs. Either the server got a new certificate (check the new fingerprint with its admin, then pin it) or someone is in the middle of the connection. Nothing private was sent.",
		Fixes: fixes(fixPin)},
	// Certificate kinds added by the protocol-honesty work
	{Kind: KindCertSelfSigned, Text: "The server's certificate is self-signed: no authority vouches for it. For a test server you run yourself, trust that certificate (as a CA file) or pin its fingerprint; for any other server, ask its admin for a certificate from a public CA.",
		Fixes: fixes(fixPin, fixCAFile)},
	{Kind: KindCertNotYetValid, Text: "The server's certificate is not valid yet: check this machine's date and time first; if they are right, the admin installed a certificate too early."},
	{Kind: KindCertWeakKey, Text: "The server's certificate chain uses an RSA key shorter than 2048 bits, which can be broken: Herald refuses it. The admin must issue a certificate with a stronger key."},
	{Kind: KindUnexpectedReply, Text: "The server's replies are out of step with the commands (an extra reply, or a reply that does not fit the command): a broken server, or something on the path tampering with the connection. Herald ended the session and sent nothing more; the transcript shows what arrived.",
		Fixes: fixes(fixRetry)},
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

// HintFor returns what went wrong with err in plain language and the
// settings that fix it, or the empty Hint when there is none (or err is not
// a session error). The text names no flag or command: front ends word the
// Fixes.
func HintFor(err error) hint.Hint {
	var e *Error
	if !errors.As(err, &e) {
		return hint.Hint{}
	}
	for _, r := range hintRules {
		if r.matches(e) {
			return hint.Hint{
				Text:  strings.NewReplacer("{port}", strconv.Itoa(e.Port), "{offered}", offered(e.Offered)).Replace(r.Text),
				Fixes: slices.Clone(r.Fixes),
				Link:  r.Link,
			}
		}
	}
	return hint.Hint{}
}

// Hint returns the text of HintFor(err): what went wrong and what to try,
// without the fixes, or "" when there is none.
func Hint(err error) string { return HintFor(err).Text }

func offered(m []string) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, ", ")
}
