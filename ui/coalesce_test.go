package ui

import (
	"context"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/feed"
)

func TestCoalesceMakesABurstOneCall(t *testing.T) {
	f := feed.New()
	sub := f.Subscribe(2048)
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() { coalesce(ctx, sub.C(), 50*time.Millisecond, func() { calls <- struct{}{} }); close(done) }()
	for i := 0; i < 1000; i++ {
		f.Publish(feed.Event{Topic: feed.Queue})
	}
	<-calls
	select {
	case <-calls:
		t.Fatal("a burst of 1,000 events gave more than one call")
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-done
}
