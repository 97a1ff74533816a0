package core

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
)

// TestRedirectAndResendDraft sends a message to the sandbox, then redirects
// the recorded copy to a new recipient and turns it back into a draft.
func TestRedirectAndResendDraft(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	ctx := context.Background()
	d := message.Draft{From: "Ann <ann@herald.test>", To: []string{"bob@herald.test"}, Cc: []string{"cy@herald.test"}, Subject: "Plans",
		Text: "See you at noon.", HTML: "<p>See you <b>at noon</b>.</p><script>alert(1)</script><img src=\"http://tracker.test/x.png\">",
		Attachments: []message.Attachment{{Name: "notes.txt", Data: []byte("abc")}}}
	res, err := c.SendDraft(ctx, nil, d, nil)
	if err != nil || !res.OK || res.HistoryID == 0 {
		t.Fatalf("send: %v %+v", err, res)
	}
	got, err := c.HistoryDraft(ctx, res.HistoryID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.From, "ann@herald.test") || len(got.To) != 1 || !strings.Contains(got.To[0], "bob@herald.test") ||
		len(got.Cc) != 1 || got.Subject != "Plans" || !strings.Contains(got.Text, "See you at noon.") {
		t.Errorf("draft %+v", got)
	}
	raw, _ := c.Store.HistoryBody(ctx, res.HistoryID)
	p, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if h := message.HTMLText(p.HTML); !strings.Contains(h, "See you at noon") || strings.Contains(h, "alert") || strings.Contains(h, "x.png") ||
		!strings.Contains(h, "[remote image not loaded: tracker.test]") {
		t.Errorf("HTML preview %q", h)
	}
	if len(p.Parts) != 1 || p.Parts[0].Name != "notes.txt" || p.Parts[0].Size() != 3 {
		t.Errorf("attachments %+v", p.Parts)
	}

	rr := c.Redirect(ctx, res.HistoryID, nil, []string{"dora@herald.test"})
	if rr.Err != nil || !rr.OK {
		t.Fatalf("redirect: %v %+v", rr.Err, rr.SendResult)
	}
	r, err := c.History.Get(ctx, rr.HistoryID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.To) != 1 || r.To[0] != "dora@herald.test" || r.Subject != "Plans" {
		t.Errorf("redirect record %+v", r)
	}
	var eml strings.Builder
	if err := c.History.Export(ctx, rr.HistoryID, &eml); err != nil || !strings.Contains(eml.String(), "Resent-To: <dora@herald.test>") {
		t.Errorf("redirected message: %v\n%s", err, eml.String())
	}
	if rr := c.Redirect(ctx, res.HistoryID, nil, []string{"dora@"}); rr.Err == nil {
		t.Error("a bad address was redirected to")
	}
}

// TestRetentionSettings: kept in the settings, applied at once and on Open.
func TestRetentionSettings(t *testing.T) {
	dir := t.TempDir()
	c := openTest(t, dir, true, false)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.SendDraft(ctx, nil, message.Draft{From: "a@herald.test", To: []string{"b@herald.test"}, Subject: "s", Text: "x"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := c.HistoryRetention(ctx); err != nil || r != (history.Retention{}) {
		t.Fatalf("default retention %+v %v", r, err)
	}
	p, err := c.SetHistoryRetention(ctx, history.Retention{KeepMessages: 2, TranscriptsFailuresOnly: true})
	if err != nil || p.Records != 1 || p.Transcripts != 2 {
		t.Fatalf("applied %+v %v", p, err)
	}
	if !c.History.TranscriptsFailuresOnly() {
		t.Error("failures-only not applied to new records")
	}
	if _, err := c.SetHistoryRetention(ctx, history.Retention{KeepDays: -1}); err == nil {
		t.Error("negative days accepted")
	}
	c.Close()
	c2 := openTest(t, dir, false, false)
	if r, _ := c2.HistoryRetention(ctx); r.KeepMessages != 2 || !r.TranscriptsFailuresOnly || !c2.History.TranscriptsFailuresOnly() {
		t.Errorf("after reopening: %+v", r)
	}
}
