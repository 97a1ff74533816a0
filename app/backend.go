// Package app is Herald's composition root for the window: it opens the
// shared core (app/core) with the sandbox, adapts it to the views'
// interfaces, and runs the Fyne app.
package app

import (
	"strings"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

// Outcome puts a send result into words for the window, through the one
// wording both front ends share (core.Describe): every text from the
// session (the server's words, the error, the hint) redacted by the
// recorder's rule, as in the CLI's output.
func Outcome(res *transport.Result, msgID string, rec *transcript.Recorder) ui.Outcome {
	s := core.Describe(res, msgID, rec)
	line := strings.ToUpper(s.Line[:1]) + s.Line[1:]
	if len(s.Rejected) > 0 {
		line += "; " + strings.Join(s.Rejected, "; ")
	}
	return ui.Outcome{OK: s.OK, Summary: line, Hint: s.Hint.Text}
}
