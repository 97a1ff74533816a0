package cli

import (
	"errors"

	"github.com/herald-smtp/herald/engine/transport"
)

// Exit codes of the herald command. They are part of the CLI's contract and
// listed in README.md.
const (
	ExitOK        = 0  // success
	ExitFailure   = 1  // an error not covered below (internal error, unreadable data dir, ...)
	ExitUsage     = 2  // bad usage or invalid input (flags, addresses, header injection, files)
	ExitConnect   = 3  // could not open an SMTP session: DNS, TCP connect, banner or EHLO failed
	ExitTLS       = 4  // TLS failed: handshake, certificate, STARTTLS missing or refused
	ExitAuth      = 5  // authentication failed or was refused by Herald's policy
	ExitSender    = 6  // the sender (MAIL FROM) was rejected
	ExitRecipient = 7  // a recipient (RCPT TO) was rejected; with others accepted the message went to those
	ExitData      = 8  // the message was rejected: at DATA, or as larger than the server's SIZE limit
	ExitTemporary = 9  // the server answered with a temporary (4xx) error at any stage: try again later
	ExitUnknown   = 10 // the connection was lost after the message was sent: it may or may not have been accepted
)

// exitCode maps a transport result onto the CLI's exit codes.
func exitCode(r *transport.Result) int {
	if r.OK {
		for _, rc := range r.Recipients {
			if !rc.Accepted {
				return ExitRecipient
			}
		}
		return ExitOK
	}
	if r.Class == transport.ClassUnknown {
		return ExitUnknown
	}
	// A message too large for the server is the message's fault, not the
	// sender's, whether Herald refused it before MAIL (SIZE) or the server
	// did (552 / 5.3.4).
	var te *transport.Error
	if errors.As(r.Err, &te) && te.Kind == transport.KindSize || r.EnhancedCode == "5.3.4" || r.Code == 552 && r.Stage == transport.StageMail {
		return ExitData
	}
	if r.Code >= 400 && r.Code < 500 {
		return ExitTemporary
	}
	switch r.Stage {
	case transport.StageConnect, transport.StageBanner, transport.StageEHLO:
		return ExitConnect
	case transport.StageTLS:
		return ExitTLS
	case transport.StageAuth:
		return ExitAuth
	case transport.StageMail:
		return ExitSender
	case transport.StageRcpt:
		return ExitRecipient
	case transport.StageData:
		return ExitData
	}
	return ExitFailure
}
