package queue

import (
	"context"
	"fmt"
	"sync"

	"github.com/herald-smtp/herald/engine/store"
)

// committer records the outcomes of all the sessions of one Run in group
// commits: what sessions hand it while a commit is being written goes into
// the next one, so four sessions cost about one fsync per round instead of
// four, and a session can put its next group on the wire while the
// previous group's outcomes are being made durable.
//
// After a failed commit nothing more is recorded: the runner stops sending,
// because every message it sent from then on could go out again.
type committer struct {
	st    *store.Store
	owner string
	clock Clock

	mu     sync.Mutex
	queue  []*commit
	failed error
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// commit is one session's hand-over: its outcomes and, once done is
// closed, whether they are durable (err nil).
type commit struct {
	outs []store.QueueCompletion
	done chan struct{}
	err  error
}

func newCommitter(st *store.Store, owner string, clock Clock) *committer {
	c := &committer{st: st, owner: owner, clock: clock, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// submit hands outcomes over; the returned commit's done channel closes
// once they are durable or could not be recorded.
func (c *committer) submit(outs []store.QueueCompletion) *commit {
	cm := &commit{outs: outs, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, cm)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return cm
}

// close records what is still queued and stops the loop.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		stopping := false
		select {
		case <-c.wake:
		case <-c.stop:
			stopping = true
		}
		for c.flush() {
		}
		if stopping {
			return
		}
	}
}

// flush writes everything queued in one transaction; it reports whether
// there was anything.
func (c *committer) flush() bool {
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	err := c.failed
	c.mu.Unlock()
	if len(batch) == 0 {
		return false
	}
	n := 0
	for _, cm := range batch {
		n += len(cm.outs)
	}
	if err == nil {
		all := make([]store.QueueCompletion, 0, n)
		for _, cm := range batch {
			all = append(all, cm.outs...)
		}
		// The messages went out: record their outcomes whatever happens to
		// the run's context.
		if _, err = c.st.CompleteQueueItems(context.Background(), c.owner, c.clock.Now(), all); err != nil {
			err = fmt.Errorf("could not record the outcome of %d message(s): %w", n, err)
			c.mu.Lock()
			c.failed = err
			c.mu.Unlock()
		}
	}
	for _, cm := range batch {
		cm.err = err
		close(cm.done)
	}
	return true
}
