package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
)

// RetryPolicy says when a temporarily failed message is tried again. RFC 5321
// 4.5.4.1 asks for at least 30 minutes between retries and 4-5 days before
// giving up for a relay; an interactive client whose user is waiting retries
// sooner and gives up earlier, so the defaults are 1 minute, doubling, capped
// at 1 hour, giving up after 2 days.
type RetryPolicy struct {
	// Initial is the delay before the first retry.
	Initial time.Duration `json:"initial"`
	// Factor multiplies the delay after each attempt (at least 1).
	Factor float64 `json:"factor"`
	// Max caps the delay.
	Max time.Duration `json:"max"`
	// GiveUpAfter fails a message still undelivered this long after it was queued.
	GiveUpAfter time.Duration `json:"give_up_after"`
	// WarnAfter emits a delay warning once a message waits this long (0: never).
	WarnAfter time.Duration `json:"warn_after"`
}

// DefaultRetryPolicy returns the interactive-client defaults: 1 min,
// doubling, capped at 1 h, giving up after 2 days, warning after 4 hours.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Initial: time.Minute, Factor: 2, Max: time.Hour, GiveUpAfter: 48 * time.Hour, WarnAfter: 4 * time.Hour}
}

// normalized fills zero fields from the defaults.
func (p RetryPolicy) normalized() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Factor < 1 {
		p.Factor = d.Factor
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = d.GiveUpAfter
	}
	return p
}

// Backoff returns the delay after the given number of failed attempts
// (1 for the first failure).
func (p RetryPolicy) Backoff(attempts int) time.Duration {
	p = p.normalized()
	d := float64(p.Initial)
	for i := 1; i < attempts && d < float64(p.Max); i++ {
		d *= p.Factor
	}
	if d > float64(p.Max) {
		return p.Max
	}
	return time.Duration(d)
}

// Class classifies a failure.
type Class string

// Failure classes, as engine/transport reports them.
const (
	ClassSent      Class = "sent"
	ClassTemporary Class = "temporary"
	ClassPermanent Class = "permanent"
	ClassUnknown   Class = "unknown"
)

// isRateLimit reports a reply that asks the client to slow down: 421 (the
// server closes the session, often for too many connections or messages) or
// a 4.7.x status, or 4xx words about rates and limits.
func isRateLimit(code int, enhanced, msg string) bool {
	if code == 421 {
		return true
	}
	if code >= 400 && code < 500 {
		if strings.HasPrefix(enhanced, "4.7.") {
			return true
		}
		m := strings.ToLower(msg)
		for _, w := range []string{"rate", "too many", "throttl", "slow down"} {
			if strings.Contains(m, w) {
				return true
			}
		}
	}
	return false
}

// meaning explains a reply code in plain language.
func meaning(it *Item) string {
	switch st := State(it.State); {
	case st == Unknown:
		return "the connection was lost after the message was sent: the server may or may not have accepted it; retry only if the recipient did not get it"
	case it.LastCode == 0 && it.LastError != "":
		return "Herald could not complete the SMTP session (network or local error)"
	case it.LastCode == 421:
		return "the server is closing the connection, often because of too many connections or messages: Herald slows this profile down and retries"
	case it.LastCode >= 400 && it.LastCode < 500:
		return "the server refused for now (temporary failure): Herald retries with growing delays"
	case it.LastCode >= 500:
		return "the server refused for good (permanent failure): sending the same again will fail the same way"
	}
	return ""
}

// Report is a plain-language failure report for an item: what the server
// said, what it means, what to try, and the per-recipient outcomes that
// were not successes. It is empty for an item without a failure.
func Report(it *Item) string {
	var b strings.Builder
	// A sent item's last reply is the server's acceptance, not a failure.
	if (it.LastError != "" && State(it.State) != Sent) || State(it.State) == Unknown {
		said := it.LastError
		if it.LastCode != 0 && !strings.Contains(said, strconv.Itoa(it.LastCode)) {
			said = strings.TrimSpace(fmt.Sprintf("%d %s %s", it.LastCode, it.LastEnhanced, it.LastError))
		}
		if it.LastStage != "" {
			fmt.Fprintf(&b, "The server said (at %s): %s\n", it.LastStage, said)
		} else {
			fmt.Fprintf(&b, "The server said: %s\n", said)
		}
		if m := meaning(it); m != "" {
			fmt.Fprintf(&b, "What it means: %s\n", m)
		}
		if h := hint.Decode(it.Hint); h.Text != "" {
			fmt.Fprintf(&b, "What to try: %s\n", h.Text)
		}
	}
	for _, r := range it.Recipients {
		switch {
		case r.State == "rejected":
			fmt.Fprintf(&b, "Recipient %s rejected for good: %d %s %s\n", r.Addr, r.Code, r.Enhanced, r.Message)
		case r.State == "pending" && r.Code != 0:
			fmt.Fprintf(&b, "Recipient %s deferred: %d %s %s\n", r.Addr, r.Code, r.Enhanced, r.Message)
		}
	}
	return b.String()
}
