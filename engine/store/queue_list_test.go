package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestQueueListingPagesSearchesAndCounts checks what the window's outbox
// table reads: a page at a time in the chosen order, searched over subject
// and recipients, with per-state counts of the same selection and the
// recipients of the page.
func TestQueueListingPagesSearchesAndCounts(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	var items []NewQueueItem
	for i := range 10 {
		it := NewQueueItem{Profile: "p1", From: "me@example.com", To: []string{fmt.Sprintf("user%d@example.net", i)},
			MessageID: fmt.Sprintf("m%d@x", i), Subject: fmt.Sprintf("Subject %d", i), Body: []byte("x"), Batch: "b1"}
		if i%2 == 1 {
			it.Profile, it.Batch = "p2", ""
			it.SendAt = now.Add(time.Duration(10-i) * time.Hour) // scheduled, the later ids due sooner
		}
		items = append(items, it)
	}
	items[3].Subject = "100% off_sale"
	items[4].To = append(items[4].To, "needle@example.org")
	if _, err := s.EnqueueQueueItems(ctx, now, items); err != nil {
		t.Fatal(err)
	}
	ids := func(its []QueueItem) []int64 {
		var out []int64
		for _, it := range its {
			out = append(out, it.ID)
		}
		return out
	}
	page, err := s.ListQueueItems(ctx, QueueFilter{Order: QueueOrderNewest, Offset: 2, Limit: 3, WithRecipients: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page); !reflect.DeepEqual(got, []int64{8, 7, 6}) {
		t.Fatalf("newest page = %v", got)
	}
	if len(page[0].Recipients) != 1 || page[0].Recipients[0].Addr != "user7@example.net" {
		t.Fatalf("recipients of item 8 = %+v", page[0].Recipients)
	}
	next, err := s.ListQueueItems(ctx, QueueFilter{Order: QueueOrderNext, States: []string{QueueScheduled}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(next); !reflect.DeepEqual(got, []int64{10, 8, 6, 4, 2}) {
		t.Fatalf("by next try = %v", got)
	}
	for search, want := range map[string][]int64{"needle": {5}, "100%": {4}, "off_": {4}, "SUBJECT 9": {10}, "%": {4}} {
		got, err := s.ListQueueItems(ctx, QueueFilter{Search: search})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), want) {
			t.Errorf("search %q = %v, want %v", search, ids(got), want)
		}
	}
	counts, err := s.CountQueueFiltered(ctx, QueueFilter{Batch: "b1", States: []string{QueueHeld}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(counts, map[string]int{QueueQueued: 5}) {
		t.Fatalf("counts of batch b1 = %v", counts)
	}
	counts, _ = s.CountQueueFiltered(ctx, QueueFilter{Profile: "p2"})
	if !reflect.DeepEqual(counts, map[string]int{QueueScheduled: 5}) {
		t.Fatalf("counts of p2 = %v", counts)
	}
	if b, err := s.QueueBatches(ctx); err != nil || !reflect.DeepEqual(b, []string{"b1"}) {
		t.Fatalf("batches = %v, %v", b, err)
	}
	if _, err := s.ListQueueItems(ctx, QueueFilter{Order: "sideways"}); err == nil {
		t.Fatal("an unknown order was accepted")
	}
	var plan string
	if err := s.DB().QueryRow(`EXPLAIN QUERY PLAN SELECT count(*) FROM queue_items WHERE batch = 'b1' AND state = 'queued'`).Scan(new(int), new(int), new(int), &plan); err != nil {
		t.Fatal(err)
	}
	if plan == "" || !strings.Contains(plan, "queue_items_batch") {
		t.Fatalf("the batch count does not use the batch index: %s", plan)
	}
}
