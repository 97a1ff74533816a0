package core

import (
	"fmt"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// Summary is a send result put into one line for any front end.
type Summary struct {
	// OK is true when the message went to every recipient (or the session
	// stopped cleanly where it was asked to).
	OK bool
	// Line says what happened: "sent <id> to 2 of 2 recipients: 250 ...",
	// "stopped cleanly after tls", "failed at rcpt (permanent): ...".
	Line string
	// Rejected lists the refused recipients, one line each.
	Rejected []string
	// Hint explains a failure and its remedies.
	Hint hint.Hint
}

// Describe words a send result, every server text redacted by rec.
func Describe(r *transport.Result, msgID string, rec *transcript.Recorder) Summary {
	redact := func(s string) string { return s }
	if rec != nil {
		redact = rec.Redact
	}
	if r.OK {
		if r.Stage != transport.StageDone {
			return Summary{OK: true, Line: fmt.Sprintf("stopped cleanly after %s", r.Stage)}
		}
		accepted := 0
		var rejected []string
		for _, rc := range r.Recipients {
			if rc.Accepted {
				accepted++
				continue
			}
			rejected = append(rejected, fmt.Sprintf("rejected %s: %d %s %s", rc.Addr, rc.Code, rc.EnhancedCode, redact(rc.Message)))
		}
		return Summary{OK: len(rejected) == 0, Rejected: rejected,
			Line: fmt.Sprintf("sent %s to %d of %d recipients: %s", msgID, accepted, len(r.Recipients), redact(r.QueuedAs))}
	}
	msg := "unknown error"
	if r.Err != nil {
		msg = redact(r.Err.Error())
	}
	return Summary{Line: fmt.Sprintf("failed at %s (%s): %s", r.Stage, r.Class, msg), Hint: redactHint(transport.HintFor(r.Err), redact)}
}

func redactHint(h hint.Hint, redact func(string) string) hint.Hint {
	h.Text = redact(h.Text)
	return h
}
