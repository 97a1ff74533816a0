package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/store"
)

// Probe walks a connection step by step (the wizard's test): each step is
// published on the feed (Topic Probe, the session's id, the step's name,
// after its session lines on Topic Transcript) and
// handed to onStep (when set) as it finishes, so a window fills in live.
// Discovery and the deliverability checks are separate calls.
func (c *Core) Probe(ctx context.Context, o diagnose.ProbeOptions, onStep func(diagnose.Step)) *diagnose.Report {
	session := newSession("probe")
	prev := o.OnStep
	o.OnStep = func(s diagnose.Step) {
		// The step's session lines, for the live log (one step is a few
		// lines, published as it finishes).
		for i := range s.Transcript {
			e := s.Transcript[i]
			c.Feed.Publish(feed.Event{Topic: feed.Transcript, Time: e.Time, Session: session, Line: &e})
		}
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

// TestSummary words a probe report in a few words: "passed", or "failed at
// auth" (the first failed step).
func TestSummary(rep *diagnose.Report) string {
	if rep.OK {
		return "passed"
	}
	for _, s := range rep.Steps {
		if s.Status == diagnose.StatusFail {
			return "failed at " + s.Name
		}
	}
	return "failed"
}

// RecordTest keeps rep as the latest connection test of profile id (the
// Accounts view shows it) and tells the feed.
func (c *Core) RecordTest(ctx context.Context, id string, rep *diagnose.Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode the test report: %w", err)
	}
	if err := c.Store.SetProfileTest(ctx, store.ProfileTest{Profile: id, Tested: time.Now(), OK: rep.OK, Summary: TestSummary(rep), Report: b}); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: id, Text: "tested"})
	return nil
}

// LastTest returns the latest recorded connection test of profile id, or
// an error wrapping store.ErrNotFound.
func (c *Core) LastTest(ctx context.Context, id string) (*store.ProfileTest, error) {
	return c.Store.ProfileTest(ctx, id)
}

// TestProfile runs the connection test of a stored profile (its secret
// given, or from the keychain), publishing each step, and records the
// result as the profile's latest test.
func (c *Core) TestProfile(ctx context.Context, p *account.Profile, given string, o diagnose.ProbeOptions, onStep func(diagnose.Step)) (*diagnose.Report, error) {
	pw, err := c.Secret(p, given)
	if err != nil {
		return nil, err
	}
	o.Config = p.TransportConfig(pw)
	if o.From == "" {
		o.From = p.FromAddress
	}
	rep := c.Probe(ctx, o, onStep)
	if ctx.Err() == nil {
		if err := c.RecordTest(context.WithoutCancel(ctx), p.ID, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
