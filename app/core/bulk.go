package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/engine/bulk"
	"github.com/herald-smtp/herald/engine/feed"
)

// NewBatchID returns a bulk batch id such as "bulk-20261124-223000-ab12":
// when it was queued, and a random tag.
func NewBatchID(now time.Time) (string, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("batch id: %w", err)
	}
	return "bulk-" + now.Format("20060102-150405") + "-" + hex.EncodeToString(b[:]), nil
}

// EnqueueBulk queues a mail merge's messages for profile as one batch, in
// one transaction (all of them or none), reporting progress on the feed
// (Topic Progress, Session: the batch; a last event, Text "queued",
// once all of them are) and to progress (when set).
func (c *Core) EnqueueBulk(ctx context.Context, profile, batch string, msgs []bulk.Message, progress func(done int)) ([]int64, error) {
	ids, err := bulk.Enqueue(ctx, c.Queue, profile, batch, msgs, func(done int) {
		c.Feed.Publish(feed.Event{Topic: feed.Progress, Session: batch, Done: done, Total: len(msgs)})
		if progress != nil {
			progress(done)
		}
	})
	if err != nil {
		return nil, err
	}
	// The last word: every message is queued (a batch under a thousand
	// messages has no other progress event).
	c.Feed.Publish(feed.Event{Topic: feed.Progress, Session: batch, Done: len(msgs), Total: len(msgs), Text: "queued"})
	c.Feed.Publish(feed.Event{Topic: feed.Queue, Text: "batch queued: " + batch})
	c.kickRunner()
	return ids, nil
}
