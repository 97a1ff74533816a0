package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// The window's words about a send redact every text from the session.
func TestOutcomeRedactsEveryText(t *testing.T) {
	const pw = "s3cret-Pass"
	rec := transcript.New()
	rec.AddSecret(pw)
	for _, res := range []*transport.Result{
		{OK: true, Stage: transport.StageDone, QueuedAs: "queued " + pw,
			Recipients: []transport.RecipientResult{{Addr: "a@b.test", Accepted: true}, {Addr: "c@d.test", Code: 550, Message: "no " + pw}}},
		{Stage: transport.StageData, Class: transport.ClassPermanent, Err: errors.New("refused " + pw)},
	} {
		o := Outcome(res, "<id@x>", rec)
		if text := o.Summary + " " + o.Hint; strings.Contains(text, pw) || !strings.Contains(text, transcript.Redacted) {
			t.Errorf("not redacted: %q", text)
		}
	}
}
