package core

import (
	"context"
	"strconv"
	"time"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
)

// Duration is a time.Duration (an alias, so callers need not convert).
type Duration = time.Duration

// runnerState is the outbox runner this process runs in the background.
type runnerState struct {
	r      *queue.Runner
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	paused bool // guarded by Core.mu
}

// RunOptions configure a run of the outbox.
type RunOptions struct {
	// Retry is the global retry policy (each profile may override it).
	Retry queue.RetryPolicy
	// UntilEmpty stops the run once nothing is being sent and nothing is
	// due within DueWithin.
	UntilEmpty bool
	// DueWithin is what "empty" means for UntilEmpty (0: nothing due now).
	DueWithin Duration
	// Lines also publishes every session's transcript lines (and hands
	// them to OnEvent).
	Lines bool
	// OnEvent, when set, sees every runner event (on the runner's event
	// goroutine; it must not block long).
	OnEvent func(queue.Event)
}

// newRunner builds a runner whose events are published on the feed (and
// handed to o.OnEvent). The returned stop ends the forwarding after the run.
func (c *Core) newRunner(o RunOptions) (*queue.Runner, func()) {
	r := queue.NewRunner(c.Queue, queue.RunnerOptions{Resolve: c.Resolver(o.Retry), Retry: o.Retry, DueWithin: o.DueWithin, History: c.History})
	events, cancel := r.Subscribe(4096, o.Lines)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range events {
			switch e.Kind {
			case queue.EventState:
				c.Feed.Publish(feed.Event{Topic: feed.Queue, Time: e.Time, ID: e.Item, Profile: e.Profile, Text: string(e.State)})
			case queue.EventLine:
				// One id per SMTP session of the runner: "outbox-<profile>-<n>".
				c.Feed.Publish(feed.Event{Topic: feed.Transcript, Time: e.Time, Profile: e.Profile, Session: "outbox-" + e.Profile + "-" + strconv.FormatInt(e.Session, 10), Line: e.Line})
			case queue.EventSession, queue.EventWarning:
				c.Feed.Publish(feed.Event{Topic: feed.Runner, Time: e.Time, Profile: e.Profile, Text: e.Text})
			}
			if o.OnEvent != nil {
				o.OnEvent(e)
			}
		}
	}()
	return r, func() { cancel(); <-done }
}

// RunQueue runs the outbox in the calling goroutine until ctx ends (or,
// with UntilEmpty, nothing is due). Items left in "sending" by a crashed
// runner are recovered first.
func (c *Core) RunQueue(ctx context.Context, o RunOptions) error {
	r, stop := c.newRunner(o)
	c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "running"})
	err := r.Run(ctx, o.UntilEmpty)
	stop()
	c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "stopped"})
	return err
}

// StartRunner runs the outbox in the background (the window does, while it
// is open) until StopRunner or Close.
func (c *Core) StartRunner(o RunOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runner != nil {
		return ErrRunnerRunning
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, stop := c.newRunner(o)
	st := &runnerState{r: r, cancel: cancel, done: make(chan struct{})}
	c.runner = st
	c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "running"})
	go func() {
		defer close(st.done)
		st.err = r.Run(ctx, false)
		stop()
		c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "stopped"})
	}()
	return nil
}

// StopRunner stops the background runner and waits for it (claims in
// flight are finished or handed back).
func (c *Core) StopRunner() {
	c.mu.Lock()
	st := c.runner
	c.runner = nil
	c.mu.Unlock()
	if st != nil {
		st.cancel()
		<-st.done
	}
}

// PauseRunner stops the background runner from starting new sessions, or
// resumes it.
func (c *Core) PauseRunner(pause bool) {
	c.mu.Lock()
	st := c.runner
	if st != nil {
		st.paused = pause
	}
	c.mu.Unlock()
	if st == nil {
		return
	}
	if pause {
		st.r.Pause()
		c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "paused"})
	} else {
		st.r.Resume()
		c.Feed.Publish(feed.Event{Topic: feed.Runner, Text: "running"})
	}
}

// RunnerRunning reports whether the background runner runs.
func (c *Core) RunnerRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runner != nil
}

// RunnerPaused reports whether the background runner runs but is paused.
func (c *Core) RunnerPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runner != nil && c.runner.paused
}

// kickRunner wakes the background runner, if any, to look for due items.
func (c *Core) kickRunner() {
	c.mu.Lock()
	st := c.runner
	c.mu.Unlock()
	if st != nil {
		st.r.Kick()
	}
}
