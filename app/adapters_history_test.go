package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/ui"
)

// TestHistoryAdapterOverTheCore: a direct send and a queued one, both to
// the sandbox, seen through the History view's adapter.
func TestHistoryAdapterOverTheCore(t *testing.T) {
	g, c, _ := openGUICore(t)
	a := NewHistoryAdapter(g)
	ctx := context.Background()
	sub := a.WatchHistory()
	defer sub.Close()
	d := message.Draft{From: "ann@herald.test", To: []string{"bob@herald.test"}, Subject: "Direct", Text: strings.Repeat("a line of text\n", 20000)}
	if out := g.Send(ctx, ui.SendSpec{}, d, nil); !out.OK {
		t.Fatalf("send: %+v", out)
	}
	if _, _, err := c.QueueDraft(ctx, nil, message.Draft{From: "ann@herald.test", To: []string{"cy@herald.test"}, Subject: "Queued", Text: "hi"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.RunQueue(ctx, core.RunOptions{Retry: queue.DefaultRetryPolicy(), UntilEmpty: true}); err != nil {
		t.Fatal(err)
	}
	c.History.Close() // the outbox's records are written in the background
	page, err := a.HistoryList(ctx, history.Query{Limit: 10})
	if err != nil || len(page.Records) != 2 || page.Records[0].Subject != "Queued" || page.Records[0].QueueItem == 0 {
		t.Fatalf("list %+v %v", page.Records, err)
	}
	if n, _ := a.HistoryCount(ctx, history.Query{Search: "bob@"}); n != 1 {
		t.Errorf("count bob@: %d", n)
	}
	q, err := a.HistoryRecord(ctx, page.Records[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := a.HistoryAttempts(ctx, q)
	if err != nil || len(atts) != 1 || len(atts[0].Transcript) == 0 {
		t.Fatalf("attempts %+v %v", atts, err)
	}
	direct := page.Records[1].ID
	src, size, err := a.HistorySource(ctx, direct, 0, 1024)
	if err != nil || len(src) != 1024 || size < 300000 || !strings.Contains(src, "Subject: Direct") {
		t.Fatalf("source: %d of %d, %v", len(src), size, err)
	}
	rest, _, _ := a.HistorySource(ctx, direct, size-10, 1024)
	if len(rest) != 10 {
		t.Errorf("the last part: %q", rest)
	}
	parts, err := a.HistoryParts(ctx, direct)
	if err != nil || !strings.Contains(parts.Text, "a line of text") || len(parts.Text) > maxPart+200 || !strings.Contains(parts.Text, "see the Source tab") {
		t.Errorf("parts: %d bytes of text, %v", len(parts.Text), err)
	}
	var eml bytes.Buffer
	if err := a.HistoryExport(ctx, direct, &eml); err != nil || eml.Len() != size {
		t.Errorf("export %d bytes, %v", eml.Len(), err)
	}
	dr, err := a.HistoryDraft(ctx, direct)
	if err != nil || dr.Subject != "Direct" || len(dr.To) != 1 {
		t.Errorf("draft %+v %v", dr, err)
	}
	if names, _ := a.ProfileNames(ctx); names["sandbox"] == "" {
		t.Errorf("profile names %v", names)
	}
	days, err := a.Daily(ctx, time.Now().AddDate(0, 0, -30), "")
	sent := 0
	for _, d := range days {
		sent += d.Sent
	}
	if err != nil || sent != 2 {
		t.Errorf("daily %+v %v", days, err)
	}
	got := false
	for !got {
		select {
		case e := <-sub.C():
			got = e.Topic == feed.History && e.ID != 0
		case <-time.After(5 * time.Second):
			t.Fatal("no history event")
		}
	}
}
