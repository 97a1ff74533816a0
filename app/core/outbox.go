package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
)

// QueueOp is an action on outbox items.
type QueueOp string

// The outbox actions.
const (
	OpRetry   QueueOp = "retry"
	OpCancel  QueueOp = "cancel"
	OpHold    QueueOp = "hold"
	OpRelease QueueOp = "release"
)

// DefaultStates lists the states an action applies to when it is asked for
// every item (or a whole batch) without naming states.
func DefaultStates(op QueueOp) []string {
	switch op {
	case OpRetry:
		return []string{"failed", "deferred", "unknown", "held"}
	case OpCancel:
		return []string{"queued", "scheduled", "deferred", "held", "unknown", "failed"}
	case OpHold:
		return []string{"queued", "scheduled", "deferred"}
	case OpRelease:
		return []string{"held"}
	}
	return nil
}

// Selection names outbox items: by id, or every item (All) or every item
// of a batch in the given states (DefaultStates when none).
type Selection struct {
	IDs    []int64
	All    bool
	Batch  string
	States []string
}

// ItemError is an action that did not apply to one item.
type ItemError struct {
	ID  int64
	Err error
}

func (e ItemError) Error() string { return fmt.Sprintf("message %d: %v", e.ID, e.Err) }

// Unwrap returns the cause.
func (e ItemError) Unwrap() error { return e.Err }

// Change applies op to the selected items and tells the feed. It returns how
// many changed and, per item, why the others did not.
func (c *Core) Change(ctx context.Context, op QueueOp, sel Selection) (int, []ItemError, error) {
	apply := map[QueueOp]func(context.Context, int64) error{
		OpRetry: c.Queue.Retry, OpCancel: c.Queue.Cancel, OpHold: c.Queue.Hold, OpRelease: c.Queue.Release,
	}[op]
	if apply == nil {
		return 0, nil, fmt.Errorf("unknown outbox action %q", op)
	}
	ids := append([]int64(nil), sel.IDs...)
	if sel.All || sel.Batch != "" {
		states := sel.States
		if len(states) == 0 {
			states = DefaultStates(op)
		}
		items, err := c.Queue.List(ctx, queue.Filter{States: states, Batch: sel.Batch})
		if err != nil {
			return 0, nil, err
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
	}
	changed := 0
	var errs []ItemError
	for _, id := range ids {
		if err := apply(ctx, id); err != nil {
			errs = append(errs, ItemError{id, err})
			continue
		}
		changed++
		c.Feed.Publish(feed.Event{Topic: feed.Queue, ID: id, Text: string(op)})
	}
	if changed > 0 && (op == OpRetry || op == OpRelease) {
		c.kickRunner()
	}
	return changed, errs, nil
}

// Purge deletes finished items in the given states (default sent and
// cancelled) last changed before olderThan ago, and tells the feed.
func (c *Core) Purge(ctx context.Context, states []queue.State, olderThan Duration) (int64, error) {
	if len(states) == 0 {
		states = []queue.State{queue.Sent, queue.Cancelled}
	}
	n, err := c.Queue.Purge(ctx, states, olderThan)
	if err == nil && n > 0 {
		c.Feed.Publish(feed.Event{Topic: feed.Queue, Text: "purged"})
	}
	return n, err
}

// ErrRunnerRunning is returned when the outbox runner already runs in this
// process.
var ErrRunnerRunning = errors.New("the outbox runner is already running")
