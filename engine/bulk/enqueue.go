package bulk

import (
	"context"
	"fmt"

	"github.com/herald-smtp/herald/engine/queue"
)

// Enqueue puts the planned messages in the outbox as one batch, for profile
// id profile, tagged with batch. The batch is queued whole or not at all:
// one durable transaction holds every message, so a crash or a kill while
// it runs leaves none of them queued, and running it again cannot send
// any twice. progress, when set, is called with the number of messages
// written so far (every 1,000), before the commit that makes them queued.
func Enqueue(ctx context.Context, q *queue.Queue, profile, batch string, msgs []Message, progress func(done int)) ([]int64, error) {
	ms := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		if m.Rendered == nil {
			return nil, fmt.Errorf("bulk enqueue: row %d was not rendered", m.Row)
		}
		ms[i] = queue.FromRendered(profile, m.Rendered, m.SendAt)
		ms[i].Batch = batch
		ms[i].DSN = m.DSN
	}
	ids, err := q.EnqueueBatchProgress(ctx, ms, progress)
	if err != nil {
		return nil, fmt.Errorf("bulk enqueue of %d messages in batch %s: %w", len(ms), batch, err)
	}
	return ids, nil
}
