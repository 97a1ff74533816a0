package core

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// spoolOneShot sends d to srv's sandbox as a one-shot command does without
// a store: Deliver, then SpoolSend into dataDir.
func spoolOneShot(t *testing.T, srv *Core, dataDir string, d message.Draft) *SendResult {
	t.Helper()
	r, err := message.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	req := SendRequest{Config: srv.SandboxConfig(), Envelope: transport.Envelope{From: r.Envelope.From, To: r.Envelope.To},
		Message: r.Bytes, MessageID: r.MessageID, Subject: r.Subject}
	out := Deliver(context.Background(), req, nil)
	if !out.OK {
		t.Fatalf("send: %v", out.Err)
	}
	SpoolSend(dataDir, req, out)
	if out.HistoryErr != nil || out.HistoryID != 0 {
		t.Fatalf("spool: %d, %v", out.HistoryID, out.HistoryErr)
	}
	return out
}

// TestSpoolSendImportedAtOpen: a one-shot send spools its record without
// any SQLite file; the next Open moves it into the history, where it is
// the record Send would have made.
func TestSpoolSendImportedAtOpen(t *testing.T) {
	srv := openTest(t, t.TempDir(), true, false)
	dir := t.TempDir()
	d := message.Draft{From: "ann@herald.test", To: []string{"bob@herald.test"}, Subject: "spooled", Text: "hi"}
	spoolOneShot(t, srv, dir, d)
	if _, err := os.Stat(store.PathIn(dir)); !os.IsNotExist(err) {
		t.Errorf("the spooling send touched the store: %v", err)
	}
	if names, _ := history.SpoolPending(SpoolDir(dir)); len(names) != 1 {
		t.Fatalf("spool = %v, want one record", names)
	}
	c := openTest(t, dir, false, false)
	if names, _ := history.SpoolPending(SpoolDir(dir)); len(names) != 0 || c.SpoolError() != nil {
		t.Errorf("spool after Open = %v (%v), want empty", names, c.SpoolError())
	}
	ctx := context.Background()
	p, err := c.History.List(ctx, history.Query{})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("history = %+v, %v", p, err)
	}
	got, err := c.History.Get(ctx, p.Records[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// The same send recorded directly.
	direct, err := srv.SendDraft(ctx, nil, d, nil)
	if err != nil || direct.HistoryID == 0 {
		t.Fatalf("send: %v %+v", err, direct)
	}
	want, err := srv.History.Get(ctx, direct.HistoryID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != history.Sent || got.Subject != "spooled" || got.Server != want.Server || got.QueuedAs == "" ||
		len(got.Transcript) != len(want.Transcript) || len(got.Recipients) != 1 || !got.Recipients[0].Accepted {
		t.Errorf("spooled record = %s\nrecorded = %s", jsonText(got), jsonText(want))
	}
	var b1, b2 []byte
	b1, _ = c.Store.HistoryBody(ctx, got.ID)
	if len(b1) == 0 {
		t.Error("the spooled record has no message")
	}
	b2, _ = srv.Store.HistoryBody(ctx, want.ID)
	if len(b1) != len(b2) {
		t.Errorf("message sizes %d and %d", len(b1), len(b2))
	}
}

// TestWatchStoreImportsSpool: a running window (the store watcher) moves a
// one-shot send's record into the history and tells the feed.
func TestWatchStoreImportsSpool(t *testing.T) {
	srv := openTest(t, t.TempDir(), true, false)
	dir := t.TempDir()
	watcher := openTest(t, dir, false, true)
	sub := watcher.Feed.Subscribe(64, feed.History)
	defer sub.Close()
	spoolOneShot(t, srv, dir, message.Draft{From: "ann@herald.test", To: []string{"bob@herald.test"}, Subject: "live", Text: "hi"})
	e := waitFor(t, sub, "the spooled record", func(e feed.Event) bool { return e.ID > 0 })
	r, err := watcher.History.Get(context.Background(), e.ID)
	if err != nil || r.Subject != "live" || e.Profile != "" {
		t.Fatalf("record %d = %+v, %v (event %+v)", e.ID, r, err, e)
	}
	// A bad file is moved aside and reported once; the next record still
	// comes in.
	if err := os.WriteFile(filepath.Join(SpoolDir(dir), "0-bad.rec"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "the report of the bad file", func(e feed.Event) bool { return e.Text != "" && e.ID == 0 })
	spoolOneShot(t, srv, dir, message.Draft{From: "ann@herald.test", To: []string{"bob@herald.test"}, Subject: "next", Text: "hi"})
	e = waitFor(t, sub, "the next spooled record", func(e feed.Event) bool { return e.ID > 0 })
	if r, err := watcher.History.Get(context.Background(), e.ID); err != nil || r.Subject != "next" {
		t.Fatalf("record = %+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(SpoolDir(dir), "0-bad.rec"+history.SpoolBadSuffix)); err != nil {
		t.Errorf("the bad file was not moved aside: %v", err)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
