package feed

import (
	"sync"
	"testing"
)

func TestPublishFiltersByTopicAndNeverBlocks(t *testing.T) {
	f := New()
	q := f.Subscribe(2, Queue)
	all := f.Subscribe(100)
	for i := 0; i < 5; i++ {
		f.Publish(Event{Topic: Queue, ID: int64(i)})
	}
	f.Publish(Event{Topic: Sandbox, ID: 9})
	if got := len(q.C()); got != 2 {
		t.Fatalf("queue subscriber holds %d events, want its buffer of 2", got)
	}
	if q.Dropped() != 3 {
		t.Fatalf("dropped = %d, want 3", q.Dropped())
	}
	if len(all.C()) != 6 || all.Dropped() != 0 {
		t.Fatalf("all-topics subscriber: %d events, %d dropped; want 6, 0", len(all.C()), all.Dropped())
	}
	e := <-q.C()
	if e.ID != 0 || e.Time.IsZero() {
		t.Fatalf("first event = %+v, want ID 0 with a time", e)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	f := New()
	a, b := f.Subscribe(1), f.Subscribe(1)
	a.Close()
	a.Close()
	if _, ok := <-a.C(); ok {
		t.Fatal("closed subscription still open")
	}
	f.Close()
	if _, ok := <-b.C(); ok {
		t.Fatal("feed Close left a subscription open")
	}
	f.Publish(Event{Topic: Queue}) // no panic on closed channels
}

func TestNilFeedDropsEverything(t *testing.T) {
	var f *Feed
	f.Publish(Event{Topic: Queue})
	s := f.Subscribe(1)
	if _, ok := <-s.C(); ok {
		t.Fatal("a nil feed's subscription should be closed")
	}
	s.Close()
	f.Close()
}

func TestConcurrentPublishSubscribe(t *testing.T) {
	f := New()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				f.Publish(Event{Topic: Transcript})
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				s := f.Subscribe(8)
				s.Close()
			}
		}()
	}
	wg.Wait()
}
