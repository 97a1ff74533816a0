package core

import (
	"context"
	"time"

	"github.com/herald-smtp/herald/engine/feed"
)

// watchInterval is how often the store is asked whether another connection
// (another Herald process, or this one's other connections) committed.
const watchInterval = 300 * time.Millisecond

// watchStore publishes an External event on each topic whose data may have
// changed whenever SQLite's data_version says the file was written through
// another connection. It costs one tiny query per interval on a connection
// of its own. At the same cadence it reads the history spool's directory and
// imports what one-shot sends spooled (left: the files Open's import left).
func (c *Core) watchStore(ctx context.Context, left []string) {
	conn, err := c.Store.DB().Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	version := func() (int64, bool) {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return 0, false
		}
		return v, true
	}
	last, ok := version()
	if !ok {
		return
	}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.watchSpool(ctx, &left)
		v, ok := version()
		if !ok || v == last {
			continue
		}
		last = v
		for _, topic := range []feed.Topic{feed.Queue, feed.Profiles, feed.Sandbox, feed.History} {
			c.Feed.Publish(feed.Event{Topic: topic, External: true, Text: "store changed"})
		}
	}
}
