package core

import (
	"context"

	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
)

// Probe walks a connection step by step (the wizard's test): each step is
// published on the feed (Topic Probe, the session's id, the step's name) and
// handed to onStep (when set) as it finishes, so a window fills in live.
// Discovery and the deliverability checks are separate calls.
func (c *Core) Probe(ctx context.Context, o diagnose.ProbeOptions, onStep func(diagnose.Step)) *diagnose.Report {
	session := newSession("probe")
	prev := o.OnStep
	o.OnStep = func(s diagnose.Step) {
		c.Feed.Publish(feed.Event{Topic: feed.Probe, Session: session, Text: s.Name})
		if prev != nil {
			prev(s)
		}
		if onStep != nil {
			onStep(s)
		}
	}
	return diagnose.Probe(ctx, o)
}

// Discover finds the submission servers for an email address with Herald's
// presets and autoconfig parser, publishing each source as it answers
// (Topic Progress, Text: the source) and handing it to onSource (when set).
func (c *Core) Discover(ctx context.Context, email string, o diagnose.DiscoverOptions, onSource func(diagnose.SourceReport)) (*diagnose.Discovery, error) {
	session := newSession("discover")
	if o.Known == nil {
		o.Known = Known()
	}
	prev := o.OnSource
	o.OnSource = func(r diagnose.SourceReport) {
		c.Feed.Publish(feed.Event{Topic: feed.Progress, Session: session, Text: string(r.Source)})
		if prev != nil {
			prev(r)
		}
		if onSource != nil {
			onSource(r)
		}
	}
	return diagnose.Discover(ctx, email, o)
}
