package core

import (
	"context"
	"errors"
	"testing"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
)

func TestDraftsSaveListLoadDelete(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	sub := c.Feed.Subscribe(64, feed.Drafts)
	defer sub.Close()
	d := &SavedDraft{Profile: "work", Priority: "high", DSNNotify: "failure", SendAt: "+30m",
		Message: message.Draft{From: "me@work.example", To: []string{"ann@example.com", "bob@example.com"}, Cc: []string{"cy@example.com"}, Subject: "Plans", Text: "hello", HTML: "<p>hello</p>",
			Attachments: []message.Attachment{{Path: "/tmp/report.pdf"}}, Headers: []message.Header{{Name: "X-Campaign", Value: "7"}}}}
	id, err := c.SaveDraft(ctx, d)
	if err != nil || id == 0 || d.ID != id {
		t.Fatalf("save: %d, %v (d.ID %d)", id, err, d.ID)
	}
	if e := waitFor(t, sub, "the saved event", func(e feed.Event) bool { return true }); e.ID != id || e.Text != "saved" {
		t.Fatalf("event %+v", e)
	}
	d.Message.Subject = "Plans, v2"
	if id2, err := c.SaveDraft(ctx, d); err != nil || id2 != id {
		t.Fatalf("save again: %d, %v: want the same draft", id2, err)
	}
	list, err := c.ListDrafts(ctx, 50, 0)
	if err != nil || len(list) != 1 || list[0].Subject != "Plans, v2" || list[0].Recipients != "ann@example.com and 2 more" || list[0].Profile != "work" {
		t.Fatalf("list %+v, %v", list, err)
	}
	got, err := c.LoadDraft(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Priority != "high" || got.DSNNotify != "failure" || got.SendAt != "+30m" || got.Message.HTML != "<p>hello</p>" ||
		len(got.Message.Attachments) != 1 || got.Message.Headers[0].Name != "X-Campaign" || len(got.Message.Cc) != 1 {
		t.Fatalf("loaded %+v", got)
	}
	if err := c.DeleteDraft(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadDraft(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted draft: %v", err)
	}
	if err := c.DeleteDraft(ctx, id); err != nil {
		t.Fatalf("deleting a deleted draft: %v", err)
	}
}

func TestPriorityHeaders(t *testing.T) {
	if h := message.PriorityHeaders("high"); len(h) != 2 || h[0].Value != "1 (Highest)" || h[1].Value != "high" {
		t.Fatalf("high: %+v", h)
	}
	if h := message.PriorityHeaders("normal"); h != nil {
		t.Fatalf("normal: %+v", h)
	}
	if _, err := message.Render(message.Draft{From: "a@b.example", To: []string{"c@d.example"}, Headers: message.PriorityHeaders("low")}); err != nil {
		t.Fatalf("the priority headers do not render: %v", err)
	}
}

func TestKnownSizeLimitFromTheLastTest(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	p := &account.Profile{Name: "work", FromAddress: "me@work.example", Server: account.Server{Host: "smtp.work.example"}}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if n := c.KnownSizeLimit(ctx, p); n != 0 {
		t.Fatalf("untested profile: %d", n)
	}
	rep := &diagnose.Report{OK: true, Steps: []diagnose.Step{{Name: "ehlo", Transcript: []transcript.Event{
		{Dir: transcript.Server, Text: "250-smtp.work.example"},
		{Dir: transcript.Server, Text: "250-SIZE 1000000"},
		{Dir: transcript.Client, Text: "250-SIZE 5"},
		{Dir: transcript.Server, Text: "250 SIZE 2000000"},
	}}}}
	if err := c.RecordTest(ctx, p.ID, rep); err != nil {
		t.Fatal(err)
	}
	if n := c.KnownSizeLimit(ctx, p); n != 2000000 {
		t.Fatalf("limit %d, want the last EHLO's 2000000", n)
	}
	if n := c.KnownSizeLimit(ctx, nil); n != 0 {
		t.Fatalf("sandbox: %d", n)
	}
}
