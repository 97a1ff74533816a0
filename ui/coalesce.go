package ui

import (
	"context"
	"time"
)

// coalesce calls fn once per burst of events on ch, so a burst of 10,000
// changes is one reload, not 10,000: after the first event of a burst it
// waits d (0: not at all), drops what else arrived meanwhile, then calls fn
// on the calling goroutine (fn goes through the dispatcher for widgets). It
// returns when ctx ends or ch closes.
func coalesce[T any](ctx context.Context, ch <-chan T, d time.Duration, fn func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
		}
		if d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		for len(ch) > 0 {
			<-ch
		}
		fn()
	}
}
