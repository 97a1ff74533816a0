package core

import (
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/transcript"
)

// PublishConsole publishes the lines of a console session (typed by hand,
// the window's Console) recorded in rec on the feed, as the live log shows
// every SMTP session of the process: Topic Transcript, one session id
// ("console-<n>", returned) and the profile's id when the session uses
// profile p (nil: a server typed in). The lines are those rec holds, so
// redacted of every secret rec knows (the auth helper registers its
// password and SASL payloads before anything is sent). Lines recorded
// before the call are published too; publishing ends when rec.Finish is
// called, which the caller must do once the session is over.
func (c *Core) PublishConsole(rec *transcript.Recorder, p *account.Profile) string {
	session := newSession("console")
	profile := ""
	if p != nil {
		profile = p.ID
	}
	forwardLines(c.Feed, rec, session, profile)
	return session
}
