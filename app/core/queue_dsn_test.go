package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestQueuedDraftKeepsItsDSN: a saved draft's notification options go into
// the outbox with it and reach the server when the runner sends it.
func TestQueuedDraftKeepsItsDSN(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	ctx := context.Background()
	sub := c.Feed.Subscribe(4096, feed.Queue, feed.Sandbox)
	defer sub.Close()
	d := &SavedDraft{Message: message.Draft{From: "ann@example.com", To: []string{"bob@example.com"}, Subject: "dsn", Text: "hi"},
		DSNNotify: "failure, delay", DSNReturn: "hdrs", DSNEnvID: "env=1"}
	id, _, err := c.QueueSavedDraft(ctx, nil, d, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := store.QueueDSN{Notify: "FAILURE,DELAY", Return: "hdrs", EnvID: "env=1"}
	if it, err := c.Queue.Get(ctx, id); err != nil || it.DSN != want {
		t.Fatalf("stored %+v, %v; want %+v", it.DSN, err, want)
	}
	// Scheduled: kept as well.
	later, _, err := c.QueueDraftWith(ctx, nil, d.Message, QueueOptions{SendAt: time.Now().Add(time.Hour), DSN: &transport.DSN{Notify: []string{"NEVER"}}})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := c.Queue.Get(ctx, later); err != nil || it.State != string(queue.Scheduled) || it.DSN != (store.QueueDSN{Notify: "NEVER"}) {
		t.Fatalf("scheduled %+v, %v", it, err)
	}
	if err := c.StartRunner(RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		t.Fatal(err)
	}
	defer c.StopRunner()
	capture := waitFor(t, sub, "the sandbox capture", func(e feed.Event) bool { return e.Topic == feed.Sandbox && e.ID > 0 })
	m, err := c.Store.SandboxMessage(ctx, capture.ID)
	if err != nil {
		t.Fatal(err)
	}
	var wire strings.Builder
	for _, e := range m.Transcript {
		wire.WriteString(e.Text + "\n")
	}
	for _, w := range []string{" RET=HDRS ENVID=env+3D1\n", "RCPT TO:<bob@example.com> NOTIFY=FAILURE,DELAY\n"} {
		if !strings.Contains(wire.String(), w) {
			t.Errorf("the sandbox saw no %q:\n%s", w, wire.String())
		}
	}
}

// TestQueueRefusesBadDSN: options transport.ParseDSN refuses are a clear
// error, and nothing is queued.
func TestQueueRefusesBadDSN(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	msg := message.Draft{From: "ann@example.com", To: []string{"bob@example.com"}, Subject: "dsn", Text: "hi"}
	if _, _, err := c.QueueSavedDraft(ctx, nil, &SavedDraft{Message: msg, DSNNotify: "never,success"}, time.Time{}); err == nil ||
		!strings.Contains(err.Error(), "never excludes") || !strings.Contains(err.Error(), "nothing was queued") {
		t.Fatalf("never with success: %v", err)
	}
	if _, _, err := c.QueueSavedDraft(ctx, nil, &SavedDraft{Message: msg, DSNReturn: "body"}, time.Now().Add(time.Hour)); err == nil ||
		!strings.Contains(err.Error(), "full or hdrs") {
		t.Fatalf("bad return: %v", err)
	}
	if _, _, err := c.QueueDraftWith(ctx, nil, msg, QueueOptions{DSN: &transport.DSN{EnvID: "a b"}}); err == nil {
		t.Fatal("an envelope id with a space was queued")
	}
	good := queue.Message{Profile: SandboxProfile, From: "a@example.com", To: []string{"b@example.com"}, Body: []byte("Subject: x\r\n\r\nx\r\n")}
	bad := good
	bad.DSN = &transport.DSN{Notify: []string{"SOMETIMES"}}
	if _, err := c.Enqueue(ctx, good, bad); err == nil || !strings.Contains(err.Error(), "message 2") {
		t.Fatalf("enqueue with a bad request: %v", err)
	}
	if n, err := c.Queue.Counts(ctx); err != nil || len(n) != 0 {
		t.Fatalf("queued %v, %v", n, err)
	}
}
