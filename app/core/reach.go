package core

import (
	"fmt"
	"strings"

	"github.com/herald-smtp/herald/engine/diagnose"
)

// ReachSummary says in one line what a discovery candidate's probe found:
// how fast it answered, its TLS and certificate trust, and the AUTH
// mechanisms offered; or why it was not usable.
func ReachSummary(r *diagnose.Reach) string {
	switch {
	case r == nil:
		return "not probed"
	case r.Skipped:
		return r.Error
	case !r.OK:
		return fmt.Sprintf("failed at %s after %d ms: %s", r.Stage, r.Ms, r.Error)
	}
	parts := []string{fmt.Sprintf("answered in %d ms", r.Ms)}
	if t := r.TLS; t != nil {
		trust := "certificate verified"
		if !t.Verified {
			trust = "certificate NOT verified"
		}
		parts = append(parts, t.Version+", "+trust)
	}
	if len(r.AuthMechanisms) > 0 {
		parts = append(parts, "AUTH "+strings.Join(r.AuthMechanisms, " "))
	} else {
		parts = append(parts, "no AUTH offered")
	}
	return strings.Join(parts, "; ")
}
