package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
)

// TestNoticesForPermanentFailureAndDrainedBatch runs the real runner
// against a sandbox that refuses every message for good: each message is
// told once as failed, and the batch once as drained when its last message
// has left the waiting states.
func TestNoticesForPermanentFailureAndDrainedBatch(t *testing.T) {
	c, err := Open(context.Background(), t.TempDir(), Options{Secrets: &memSecrets{m: map[string]string{}},
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone, Faults: []sandbox.Fault{{Stage: sandbox.StageData, Code: 554}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	notices := make(chan Notice, 16)
	stop := c.WatchNotices(context.Background(), func(n Notice) { notices <- n })
	defer stop()

	var msgs []queue.Message
	for _, to := range []string{"a@example.com", "b@example.com"} {
		msgs = append(msgs, queue.Message{Profile: SandboxProfile, Batch: "bulk-test", From: "me@example.com", To: []string{to},
			Subject: "to " + to, Body: []byte("Subject: hi\r\n\r\nhi\r\n")})
	}
	ids, err := c.Enqueue(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartRunner(RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		t.Fatal(err)
	}
	failed := map[int64]bool{}
	drained := 0
	deadline := time.After(15 * time.Second)
	for len(failed) < len(ids) || drained == 0 {
		select {
		case n := <-notices:
			switch n.Kind {
			case NoticeFailed:
				if failed[n.Item.ID] {
					t.Fatalf("message %d told twice", n.Item.ID)
				}
				failed[n.Item.ID] = true
				if n.Item.LastCode != 554 || len(n.Item.Recipients) != 1 {
					t.Fatalf("failed item = %+v", n.Item)
				}
			case NoticeBatchDrained:
				drained++
				if n.Batch != "bulk-test" || n.Counts[queue.Failed] != 2 {
					t.Fatalf("drained notice = %+v", n)
				}
			}
		case <-deadline:
			t.Fatalf("failed %v, drained %d", failed, drained)
		}
	}
	select {
	case n := <-notices:
		t.Fatalf("an extra notice: %+v", n)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestProbeLinesReachTheLiveLog checks that a connection test's session
// lines are published (the window's live log shows them).
func TestProbeLinesReachTheLiveLog(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	sub := c.Feed.Subscribe(1024, feed.Transcript, feed.Probe)
	defer sub.Close()
	c.Probe(context.Background(), diagnose.ProbeOptions{Config: c.SandboxConfig(), From: "ann@example.com"}, nil)
	e := waitFor(t, sub, "an EHLO line", func(e feed.Event) bool {
		return e.Topic == feed.Transcript && e.Line != nil && strings.HasPrefix(e.Line.Text, "EHLO")
	})
	if !strings.HasPrefix(e.Session, "probe-") {
		t.Fatalf("session = %q", e.Session)
	}
}
