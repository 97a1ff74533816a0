package core

import (
	"context"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
)

// NoticeKind says what a Notice reports.
type NoticeKind string

// The notices WatchNotices gives.
const (
	// NoticeFailed: a message failed permanently (Item).
	NoticeFailed NoticeKind = "failed"
	// NoticeBatchDrained: no message of a bulk batch waits or is being
	// sent any more (Batch, Counts).
	NoticeBatchDrained NoticeKind = "batch-drained"
)

// Notice is an outbox event worth telling a person who is not looking (a
// desktop notification).
type Notice struct {
	Kind NoticeKind
	// Item is the failed message, with its recipients (NoticeFailed).
	Item *queue.Item
	// Batch is the drained batch (NoticeBatchDrained).
	Batch string
	// Counts are the batch's messages by state (NoticeBatchDrained).
	Counts map[queue.State]int
}

// waitingStates are the states of a message that has not finished.
var waitingStates = []queue.State{queue.Queued, queue.Scheduled, queue.Sending, queue.Deferred}

// WatchNotices calls notify, on a goroutine of its own, for each message
// of this process's outbox that fails permanently and each bulk batch whose
// last message left the queued, scheduled, sending and deferred states. It
// watches until ctx ends or the returned stop is called.
func (c *Core) WatchNotices(ctx context.Context, notify func(Notice)) (stop func()) {
	sub := c.Feed.Subscribe(1024, feed.Queue)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		announced := map[string]bool{}
		touched := map[string]bool{}
		for {
			var e feed.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case e, ok = <-sub.C():
				if !ok {
					return
				}
			}
			c.noticeFor(ctx, e, touched, notify)
			if len(sub.C()) > 0 {
				continue // check the batches once the burst is read
			}
			for b := range touched {
				delete(touched, b)
				counts, err := c.Queue.CountBy(ctx, queue.Filter{Batch: b})
				if err != nil {
					continue
				}
				waiting := 0
				for _, st := range waitingStates {
					waiting += counts[st]
				}
				switch {
				case waiting > 0:
					delete(announced, b)
				case !announced[b] && len(counts) > 0:
					announced[b] = true
					notify(Notice{Kind: NoticeBatchDrained, Batch: b, Counts: counts})
				}
			}
		}
	}()
	return func() {
		cancel()
		sub.Close()
		<-done
	}
}

// noticeFor handles one outbox event: a permanent failure is told at once;
// the item's batch is marked for a drain check.
func (c *Core) noticeFor(ctx context.Context, e feed.Event, touched map[string]bool, notify func(Notice)) {
	if e.ID <= 0 {
		return
	}
	it, err := c.Queue.Get(ctx, e.ID)
	if err != nil {
		return
	}
	if e.Text == string(queue.Failed) && it.State == string(queue.Failed) {
		notify(Notice{Kind: NoticeFailed, Item: it})
	}
	if it.Batch != "" {
		touched[it.Batch] = true
	}
}
