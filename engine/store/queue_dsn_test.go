package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestQueueDSNStoredPerItem: each item keeps its own notification request
// through enqueue, listing, claim, state changes and reopening the file.
func TestQueueDSNStoredPerItem(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	want := QueueDSN{Notify: "SUCCESS,FAILURE", Return: "hdrs", EnvID: "env+1"}
	ids, err := s.EnqueueQueueItems(ctx, now, []NewQueueItem{
		{Profile: "p", From: "a@x.test", To: []string{"b@x.test"}, Body: []byte("x"), DSN: want},
		{Profile: "p", From: "a@x.test", To: []string{"c@x.test"}, Body: []byte("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		it, err := s.QueueItem(ctx, ids[0])
		if err != nil || it.DSN != want {
			t.Fatalf("%s: item DSN %+v, %v; want %+v", when, it.DSN, err, want)
		}
		if it, err := s.QueueItem(ctx, ids[1]); err != nil || !it.DSN.IsZero() {
			t.Fatalf("%s: second item DSN %+v, %v; want none", when, it.DSN, err)
		}
		list, err := s.ListQueueItems(ctx, QueueFilter{})
		if err != nil || len(list) != 2 || list[0].DSN != want || !list[1].DSN.IsZero() {
			t.Fatalf("%s: listing %+v, %v", when, list, err)
		}
	}
	check("enqueued")
	if err := s.SetQueueState(ctx, ids[0], []string{QueueQueued}, QueueHeld, time.Time{}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SetQueueState(ctx, ids[0], []string{QueueHeld}, "release", time.Time{}, now); err != nil {
		t.Fatal(err)
	}
	check("held and released")
	claimed, err := s.ClaimQueueItems(ctx, QueueClaim{Owner: "o", Now: now.Add(time.Second), LeaseUntil: now.Add(time.Minute), Limit: 10})
	if err != nil || len(claimed) != 2 || claimed[0].DSN != want || !claimed[1].DSN.IsZero() {
		t.Fatalf("claim: %+v, %v", claimed, err)
	}
	if _, err := s.CompleteQueueItems(ctx, "o", now, []QueueCompletion{{ID: ids[0], State: QueueDeferred, Next: now.Add(time.Hour), Attempted: true},
		{ID: ids[1], State: QueueSent, Attempted: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetQueueState(ctx, ids[0], []string{QueueDeferred}, QueueQueued, now, now); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("deferred, retried and reopened")
}

// TestQueueDSNMigration: a file written before the outbox kept
// notification requests opens, its items read as asking for none and keep
// being sent, and new items keep theirs.
func TestQueueDSNMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	ctx := context.Background()
	var before []migration
	for _, m := range migrations {
		if m.name == "queue DSN options" {
			break
		}
		before = append(before, m)
	}
	if len(before) == len(migrations) {
		t.Fatal("no queue DSN migration")
	}
	old, err := openWith(path, before)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := old.DB().Exec(`INSERT INTO queue_items (profile, state, mail_from, message_id, subject, size, smtputf8, batch, created_ns, updated_ns, next_ns)
		VALUES ('p', 'queued', 'a@x.test', 'm@x', 'old', 1, 0, '', ?1, ?1, ?1)`, now.UnixNano()); err != nil {
		t.Fatal(err)
	}
	if _, err := old.DB().Exec(`INSERT INTO queue_bodies (item_id, body) VALUES (1, 'x'); INSERT INTO queue_rcpts (item_id, idx, addr, state) VALUES (1, 0, 'b@x.test', 'pending')`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer s.Close()
	it, err := s.QueueItem(ctx, 1)
	if err != nil || it.Subject != "old" || !it.DSN.IsZero() || len(it.Recipients) != 1 {
		t.Fatalf("old item after upgrade: %+v, %v", it, err)
	}
	claimed, err := s.ClaimQueueItems(ctx, QueueClaim{Owner: "o", Now: now.Add(time.Second), LeaseUntil: now.Add(time.Minute), Limit: 10})
	if err != nil || len(claimed) != 1 || string(claimed[0].Body) != "x" {
		t.Fatalf("claim the old item: %+v, %v", claimed, err)
	}
	want := QueueDSN{Notify: "NEVER", EnvID: "new"}
	ids, err := s.EnqueueQueueItems(ctx, now, []NewQueueItem{{Profile: "p", From: "a@x.test", To: []string{"b@x.test"}, Body: []byte("x"), DSN: want}})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := s.QueueItem(ctx, ids[0]); err != nil || it.DSN != want {
		t.Fatalf("new item: %+v, %v", it, err)
	}
}
