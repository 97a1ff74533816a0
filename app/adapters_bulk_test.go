package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

func bulkOver(t *testing.T, c *core.Core) (*ui.Bulk, chan func()) {
	t.Helper()
	a := test.NewTempApp(t)
	q := make(chan func(), 4096)
	s := BuildShell(a, NewGUICore(c), func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	s.Start(context.Background())
	if err := s.Open("bulk", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Views() {
		if v, ok := v.(*ui.Bulk); ok {
			return v, q
		}
	}
	t.Fatal("no bulk view")
	return nil, nil
}

// The window's mail merge over the real core: rows checked as the CLI
// checks them, the preview merged, the batch queued whole with progress on
// the feed, then cancelled as a whole.
func TestBulkViewQueuesAndCancelsABatch(t *testing.T) {
	ctx := context.Background()
	c := openTestCore(t, newMemSecrets())
	cfg := c.SandboxConfig()
	p := &account.Profile{Name: "news", Server: account.Server{Host: cfg.Host, Port: cfg.Port, TLS: transport.TLSNone}, Auth: transport.AuthNone,
		FromAddress: "news@herald.test", FromName: "Herald News"}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(t.TempDir(), "people.csv")
	os.WriteFile(csvPath, []byte("\ufeffemail,name,city\nann@herald.test,Ann,Oslo\nnot-an-address,Bad,Rome\nbob@herald.test,Bob,Lima\nANN@herald.test,Ann twice,Oslo\n"), 0o600)

	v, q := bulkOver(t, c)
	pump(t, q, "the profile", func() bool { return v.Profile.Selected == "news" })
	v.CSV.SetText(csvPath)
	v.Subject.SetText("News for {{.city}}")
	v.Text.SetText("Dear {{.name}},\nthe news.")
	v.HTML.SetText("<p>Dear {{.name}}</p>")
	v.Rate.SetText("60/min")
	v.StartAt.SetText("+1h")
	v.UnsubURL.SetText("https://herald.test/u?e={{.email}}")
	test.Tap(v.PreviewButton)
	pump(t, q, "the plan", func() bool { return v.Plan != nil || strings.HasPrefix(v.Status.Text, "Cannot") })
	if v.Plan == nil {
		t.Fatal(v.Status.Text)
	}
	if v.Summary.Text != "people.csv: 4 rows, 2 valid, 1 invalid, 1 duplicates skipped" {
		t.Fatalf("summary %q", v.Summary.Text)
	}
	if v.CellText(1, 1) != "Invalid" || !strings.Contains(v.CellText(1, 2), "email") || v.CellText(3, 1) != "Skipped" || v.CellText(2, 5) != "Lima" {
		t.Fatalf("table row 2: %q %q; row 4: %q", v.CellText(1, 1), v.CellText(1, 5), v.CellText(3, 1))
	}
	if v.PreviewSubject.Text != "News for Oslo" || !strings.HasPrefix(v.PreviewText.Text, "Dear Ann,") || v.PreviewHTML.Text != "<p>Dear Ann</p>" ||
		!strings.Contains(v.PreviewHeaders.Text, "List-Unsubscribe: <https://herald.test/u?e=ann%40herald.test>") {
		t.Fatalf("preview: %q / %q / %q / %q", v.PreviewSubject.Text, v.PreviewText.Text, v.PreviewHTML.Text, v.PreviewHeaders.Text)
	}
	if len(v.PreviewPick.Options) != 2 || v.PreviewWhen.Text == "at once, when queued" {
		t.Fatalf("picks %q, due %q", v.PreviewPick.Options, v.PreviewWhen.Text)
	}
	if !v.QueueButton.Disabled() {
		t.Fatal("queue enabled with an invalid row")
	}
	test.Tap(v.SkipInvalid)

	sub := c.Feed.Subscribe(64, feed.Progress)
	defer sub.Close()
	test.Tap(v.QueueButton)
	pump(t, q, "the batch", func() bool { return v.Batch != "" || strings.HasPrefix(v.Status.Text, "Nothing") })
	if v.Batch == "" {
		t.Fatal(v.Status.Text)
	}
	select {
	case e := <-sub.C():
		if e.Session != v.Batch || e.Total != 2 {
			t.Fatalf("progress event %+v", e)
		}
	default:
		t.Fatal("no progress on the feed")
	}
	items, err := c.Queue.List(ctx, queue.Filter{Batch: v.Batch})
	if err != nil || len(items) != 2 {
		t.Fatalf("batch holds %d items (%v)", len(items), err)
	}
	for _, it := range items {
		if it.Profile != p.ID || it.State != "scheduled" {
			t.Fatalf("item %+v", it)
		}
	}

	v.CancelBatch()
	pump(t, q, "the cancellation", func() bool { return strings.HasPrefix(v.Status.Text, "Cancelled") })
	items, _ = c.Queue.List(ctx, queue.Filter{Batch: v.Batch})
	for _, it := range items {
		if it.State != "cancelled" {
			t.Fatalf("after cancel: %s", it.State)
		}
	}
}

func TestBulkPlanErrorsConcerningEveryRow(t *testing.T) {
	ctx := context.Background()
	c := openTestCore(t, newMemSecrets())
	p := &account.Profile{Name: "news", Server: account.Server{Host: "smtp.herald.test", Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthNone, FromAddress: "news@herald.test"}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(t.TempDir(), "people.csv")
	os.WriteFile(csvPath, []byte("email,name\nann@herald.test,Ann\n"), 0o600)
	a := NewBulkAdapter(c)
	for what, r := range map[string]ui.BulkRequest{
		`no column "nme"`: {Profile: "news", CSV: csvPath, Subject: "Hi {{.nme}}", Text: "x"},
		"rate":            {Profile: "news", CSV: csvPath, Subject: "Hi", Text: "x", Rate: "fast"},
		"start":           {Profile: "news", CSV: csvPath, Subject: "Hi", Text: "x", Start: "yesterday"},
		"no such file":    {Profile: "news", CSV: csvPath + ".missing", Subject: "Hi", Text: "x"},
	} {
		if _, err := a.PlanBulk(ctx, r, nil); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: %v", what, err)
		}
	}
}
