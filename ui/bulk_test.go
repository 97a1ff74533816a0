package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
)

// fakeBulk plans a fixed three-row CSV (row 2 invalid) and records what
// it is asked to queue and cancel.
type fakeBulk struct {
	mu        sync.Mutex
	requests  []BulkRequest
	queued    []*BulkPlan
	cancelled []string
	planErr   error
	gate      chan struct{} // when set, QueueBulk waits for it after half
}

func (f *fakeBulk) Profiles(context.Context) ([]account.Profile, error) {
	return []account.Profile{{Name: "news"}}, nil
}

func (f *fakeBulk) PlanBulk(_ context.Context, r BulkRequest, progress func(int)) (*BulkPlan, error) {
	progress(4)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if f.planErr != nil {
		return nil, f.planErr
	}
	return &BulkPlan{
		Columns:  []string{"email", "name"},
		Rows:     [][]string{{"ann@x.test", "Ann"}, {"not-an-address", "Bad"}, {"ann@x.test", "Ann again"}, {"bob@x.test", "Bob"}},
		Problems: map[int]string{2: "email: not an address"}, Duplicates: map[int]string{3: "ann@x.test is a duplicate of row 1: skipped"},
		Valid: 2,
		Previews: []BulkPreview{
			{Row: 1, To: "Ann <ann@x.test>", Subject: "Hi Ann", Text: "Dear Ann", HTML: "<p>Dear Ann</p>", Headers: []string{"List-Unsubscribe: <https://x.test/u?e=ann%40x.test>"}},
			{Row: 4, To: "Bob <bob@x.test>", Subject: "Hi Bob", Text: "Dear Bob"},
		},
		Handle: "plan",
	}, nil
}

func (f *fakeBulk) QueueBulk(_ context.Context, p *BulkPlan, progress func(done, total int)) (string, error) {
	progress(1, 2)
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.queued = append(f.queued, p)
	f.mu.Unlock()
	progress(2, 2)
	return "bulk-20261126-090000-ab12", nil
}

func (f *fakeBulk) CancelBatch(_ context.Context, batch string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, batch)
	return 2, nil
}

func newBulkRig(t *testing.T) (*rig, *fakeBulk, *Bulk) {
	r := newRig(t)
	f := &fakeBulk{}
	v := NewBulk(f, func(fn func()) { r.q <- fn })
	r.shell.Register(v)
	r.shell.Start(context.Background())
	if err := r.shell.Open("bulk", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the profile", func() bool { return v.Profile.Selected == "news" })
	return r, f, v
}

func fillBulk(v *Bulk) {
	v.CSV.SetText("/data/list.csv")
	v.Subject.SetText("Hi {{.name}}")
	v.Text.SetText("Dear {{.name}}")
	v.Rate.SetText("60/min")
	v.UnsubURL.SetText("https://x.test/u?e={{.email}}")
}

func TestBulkPreviewMarksBadRowsAndShowsMessages(t *testing.T) {
	r, f, v := newBulkRig(t)
	test.Tap(v.PreviewButton)
	if !strings.Contains(v.Status.Text, "recipients CSV") {
		t.Fatalf("status %q", v.Status.Text)
	}
	fillBulk(v)
	test.Tap(v.PreviewButton)
	r.pump("the plan", func() bool { return v.Plan != nil })
	if got := f.requests[0]; got.Profile != "news" || got.CSV != "/data/list.csv" || got.Rate != "60/min" || got.UnsubscribeURL == "" || got.Subject != "Hi {{.name}}" {
		t.Fatalf("request %+v", got)
	}
	if v.Summary.Text != "list.csv: 4 rows, 2 valid, 1 invalid, 1 duplicates skipped" {
		t.Fatalf("summary %q", v.Summary.Text)
	}
	// The table: row, status in words, the cells, the problem.
	rows, cols := v.tableSize()
	if rows != 4 || cols != 5 {
		t.Fatalf("table %dx%d", rows, cols)
	}
	for _, c := range []struct {
		row, col int
		want     string
	}{{0, 1, "OK"}, {1, 1, "Invalid"}, {1, 3, "not-an-address"}, {1, 2, "email: not an address"}, {2, 1, "Skipped"}, {3, 4, "Bob"}} {
		if got := v.CellText(c.row, c.col); got != c.want {
			t.Errorf("cell %d,%d = %q, want %q", c.row, c.col, got, c.want)
		}
	}
	test.Tap(v.OnlyBad)
	if rows, _ := v.tableSize(); rows != 2 || v.CellText(0, 0) != "2" || v.CellText(1, 0) != "3" {
		t.Fatalf("only bad rows: %d rows, first %q", rows, v.CellText(0, 0))
	}
	// Invalid rows block queueing until the user chooses to skip them.
	if !v.QueueButton.Disabled() || !strings.Contains(v.Status.Text, "1 of 4 rows are invalid") {
		t.Fatalf("queue enabled with an invalid row; status %q", v.Status.Text)
	}
	test.Tap(v.SkipInvalid)
	if v.QueueButton.Disabled() || v.QueueButton.Text != "Queue 2 messages" {
		t.Fatalf("queue button %q disabled=%v", v.QueueButton.Text, v.QueueButton.Disabled())
	}
	// The preview: the first merged message, then the next.
	if v.PreviewTo.Text != "Ann <ann@x.test>" || v.PreviewSubject.Text != "Hi Ann" || v.PreviewText.Text != "Dear Ann" || !strings.Contains(v.PreviewHeaders.Text, "List-Unsubscribe") {
		t.Fatalf("preview: %q %q %q", v.PreviewTo.Text, v.PreviewSubject.Text, v.PreviewText.Text)
	}
	v.PreviewPick.SetSelectedIndex(1)
	if v.PreviewSubject.Text != "Hi Bob" || v.PreviewHTML.Text != "(no HTML part)" {
		t.Fatalf("second preview: %q %q", v.PreviewSubject.Text, v.PreviewHTML.Text)
	}
	// Changing the form drops the plan.
	v.Subject.SetText("Hello {{.name}}")
	if v.Plan != nil || !v.QueueButton.Disabled() {
		t.Fatal("a changed form can still queue the old plan")
	}
}

func TestBulkQueueShowsProgressAndCancelsTheBatch(t *testing.T) {
	r, f, v := newBulkRig(t)
	fillBulk(v)
	test.Tap(v.SkipInvalid)
	test.Tap(v.PreviewButton)
	r.pump("the plan", func() bool { return v.Plan != nil })
	f.gate = make(chan struct{})
	test.Tap(v.QueueButton)
	if !v.Busy() || !v.Progress.Visible() || !v.QueueButton.Disabled() {
		t.Fatal("queueing does not show progress or keeps the button")
	}
	r.pump("half the progress", func() bool { return v.Progress.Value == 0.5 })
	close(f.gate)
	r.pump("the batch", func() bool { return v.Batch != "" })
	if v.Progress.Value != 1 || !strings.Contains(v.Status.Text, "Queued 2 messages as batch bulk-20261126-090000-ab12") {
		t.Fatalf("status %q, progress %v", v.Status.Text, v.Progress.Value)
	}
	if !strings.Contains(r.shell.Status(), "bulk-20261126-090000-ab12") {
		t.Fatalf("shell status %q", r.shell.Status())
	}
	if len(f.queued) != 1 || f.queued[0].Handle != "plan" || !v.QueueButton.Disabled() {
		t.Fatal("not queued once")
	}
	if !v.CancelButton.Visible() || !v.OutboxButton.Visible() {
		t.Fatal("no cancel or outbox button after queueing")
	}
	// Without an Outbox view the button says so.
	test.Tap(v.OutboxButton)
	if !strings.Contains(v.Status.Text, "Outbox") {
		t.Fatalf("status %q", v.Status.Text)
	}
	test.Tap(v.CancelButton)
	pressDialogButton(t, r.shell.Window().Canvas(), "Yes")
	r.pump("the cancellation", func() bool { return strings.HasPrefix(v.Status.Text, "Cancelled 2 messages") })
	if len(f.cancelled) != 1 || f.cancelled[0] != "bulk-20261126-090000-ab12" || v.CancelButton.Visible() {
		t.Fatalf("cancelled %q", f.cancelled)
	}
}

func TestBulkPlanErrorIsShownAndCSVDrops(t *testing.T) {
	r, f, v := newBulkRig(t)
	fillBulk(v)
	f.planErr = errors.New(`subject template: no column "nme" in the recipients (columns: email, name)`)
	test.Tap(v.PreviewButton)
	r.pump("the error", func() bool { return strings.HasPrefix(v.Status.Text, "Cannot merge") })
	if !strings.Contains(v.Status.Text, `no column "nme"`) || !v.QueueButton.Disabled() {
		t.Fatalf("status %q", v.Status.Text)
	}
	u := storage.NewFileURI("/tmp/people.csv")
	if !v.AcceptsDrop(uris(u)) || v.AcceptsDrop(uris(storage.NewFileURI("/tmp/x.json"))) {
		t.Fatal("drop acceptance")
	}
	v.Dropped(uris(u))
	if v.CSV.Text != "/tmp/people.csv" {
		t.Fatalf("dropped: %q", v.CSV.Text)
	}
}

func uris(u ...fyne.URI) []fyne.URI { return u }

func TestBulkTemplatesNeverTakeATab(t *testing.T) {
	_, _, v := newBulkRig(t)
	if v.Text.AcceptsTab() || v.HTML.AcceptsTab() {
		t.Fatal("a template accepts Tab: it would insert a tab instead of moving on")
	}
	test.Type(v.Text, "a\tb")
	if strings.Contains(v.Text.Text, "\t") {
		t.Fatalf("a tab reached the template: %q", v.Text.Text)
	}
}
