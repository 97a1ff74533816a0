// Package sandbox is Herald's built-in local SMTP capture server. It accepts
// mail like a real submission server (go-smtp underneath), stores every
// accepted message with its envelope and session transcript in the store,
// and can inject faults so that a client's handling of refusals, delays and
// dropped connections can be tried without a real server.
//
// # Listening
//
// With Config.Listen empty the server listens on 127.0.0.1:2525; when that
// port is taken it tries the next nine ports upward, then any free port
// (127.0.0.1:0). Server.Addr tells where it ended up. An address given
// explicitly in Config.Listen is used as is: if it is taken, Start fails,
// because clients were configured with that exact port.
//
// # TLS
//
// TLS "none" serves plain SMTP and allows AUTH without TLS (it is local).
// "starttls" advertises STARTTLS and, like real submission servers, offers
// AUTH only after it. "implicit" speaks TLS from the first byte (like port
// 465). Both TLS modes use a self-signed certificate for localhost,
// 127.0.0.1 and ::1 kept in Config.CertDir (see EnsureCert); TLS 1.2 is the
// minimum.
//
// # Authentication
//
// When Config.AuthUser is set, AUTH (PLAIN, LOGIN or CRAM-MD5) with exactly
// those credentials is required and MAIL before AUTH is refused with
// 530 5.7.0. When it is empty, the sandbox advertises no AUTH and answers
// an AUTH command with 503 5.5.1, like a real server without
// authentication (a client that insists on logging in learns that it would
// not be asked to); auth faults then never fire.
//
// # Fault syntax
//
// A fault specification is a comma-separated list of items (spaces around
// items are ignored); faults at the same stage are tried in the order given
// and the first that fires decides. STAGE is one of auth, mail, rcpt, data.
// PERCENT is an integer from 1 to 100 (a trailing % is allowed) and defaults
// to 100; each time the stage is reached the fault fires with that
// probability.
//
//	STAGE:CODE[:PERCENT]           reply CODE (4xx or 5xx) at STAGE
//	STAGE:CODE/X.Y.Z[:PERCENT]     same, with enhanced status code X.Y.Z
//	delay:DURATION[:PERCENT]       delay every reply from MAIL on
//	delay-STAGE:DURATION[:PERCENT] delay the reply at STAGE
//	drop-after-data[:PERCENT]      read the whole message, store it (marked
//	                               "reply dropped"), then close the
//	                               connection without replying
//
// DURATION is a Go duration such as 500ms, 2s or 1m30s (at most 1h). Without
// /X.Y.Z the enhanced code and text follow the code: 421 -> 4.4.2 (and the
// connection is closed), 450 -> 4.2.1, 451 -> 4.3.0, 452 -> 4.2.2, 454 ->
// 4.7.0, 530 -> 5.7.0, 535 -> 5.7.8, 550 -> 5.1.1 at rcpt (5.1.0 at mail,
// 5.7.1 at data), 551 -> 5.1.6, 552 -> 5.3.4, 553 -> 5.1.3, 554 -> 5.6.0;
// other codes get X.0.0. An auth fault replies after the client has sent its
// credentials, whether or not they are right. A data fault replies after the
// whole message was read and does not store it.
//
// Example: "rcpt:550:20,data:451:30,drop-after-data:10,delay-rcpt:2s"
// refuses about a fifth of the recipients with 550 5.1.1, answers 451 4.3.0
// to about 30% of the messages, drops the reply to about 10% of the rest,
// and waits two seconds before every RCPT reply. "rcpt:550" alone refuses
// every recipient.
//
// # Transcript
//
// Every connection gets a transcript.Recorder. Directions are from the
// server's point of view: C is what the client sent, S is what the sandbox
// replied, I is a note from the sandbox (connection, TLS handshake, faults,
// capture). The transcript is taken from the bytes go-smtp reads and writes
// above the TLS layer, so it includes everything after STARTTLS. Client
// lines appear when the server read them (a pipelined group shows before the
// replies to it). Message content after DATA and BDAT chunks are summarised
// in one line (the message itself is stored whole), and SASL data after AUTH
// is shown as [redacted].
package sandbox
