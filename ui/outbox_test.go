package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
)

// fakeOutbox is an OutboxCore in memory over a real feed.
type fakeOutbox struct {
	mu       sync.Mutex
	items    []queue.Item // id order
	feed     *feed.Feed
	runner   RunnerStatus
	changes  []string
	pages    int // Page calls
	notify   func(OutboxNotice)
	attempts map[int64][]OutboxAttempt
}

func newFakeOutbox(n int) *fakeOutbox {
	f := &fakeOutbox{feed: feed.New(), runner: RunnerStatus{Running: true}, attempts: map[int64][]OutboxAttempt{}}
	for i := 1; i <= n; i++ {
		f.add(queue.Item{Profile: []string{"id-w", "id-p"}[i%2], State: string(queue.Queued), Subject: fmt.Sprintf("Message %d", i)},
			fmt.Sprintf("user%d@example.com", i))
	}
	return f
}

func (f *fakeOutbox) add(it queue.Item, to ...string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	it.ID = int64(len(f.items) + 1)
	for _, a := range to {
		it.Recipients = append(it.Recipients, queue.Recipient{Addr: a, State: "pending"})
	}
	f.items = append(f.items, it)
	return it.ID
}

func (f *fakeOutbox) set(id int64, change func(*queue.Item)) {
	f.mu.Lock()
	change(&f.items[id-1])
	f.mu.Unlock()
}

func (f *fakeOutbox) matches(it *queue.Item, q OutboxQuery, states bool) bool {
	if states && len(q.States) > 0 && !slices.Contains(q.States, queue.State(it.State)) {
		return false
	}
	if (q.Profile != "" && it.Profile != q.Profile) || (q.Batch != "" && it.Batch != q.Batch) {
		return false
	}
	if q.Search != "" && !strings.Contains(strings.ToLower(it.Subject), strings.ToLower(q.Search)) {
		return false
	}
	return true
}

func (f *fakeOutbox) Page(_ context.Context, q OutboxQuery, offset, limit int) ([]queue.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	var out []queue.Item
	for i := len(f.items) - 1; i >= 0; i-- { // newest first
		if f.matches(&f.items[i], q, true) {
			out = append(out, f.items[i])
		}
	}
	if offset >= len(out) {
		return nil, nil
	}
	return slices.Clone(out[offset:min(len(out), offset+limit)]), nil
}

func (f *fakeOutbox) Counts(_ context.Context, q OutboxQuery) (map[queue.State]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[queue.State]int{}
	for i := range f.items {
		if f.matches(&f.items[i], q, false) {
			m[queue.State(f.items[i].State)]++
		}
	}
	return m, nil
}

func (f *fakeOutbox) ProfileNames(context.Context) map[string]string {
	return map[string]string{"id-w": "work", "id-p": "personal", "sandbox": "sandbox"}
}

func (f *fakeOutbox) Batches(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, it := range f.items {
		if it.Batch != "" && !slices.Contains(out, it.Batch) {
			out = append(out, it.Batch)
		}
	}
	return out, nil
}

func (f *fakeOutbox) Item(_ context.Context, id int64) (*queue.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.items) {
		return nil, queue.ErrNotFound
	}
	it := f.items[id-1]
	return &it, nil
}

func (f *fakeOutbox) Change(_ context.Context, op string, ids []int64, all *OutboxQuery) (int, []string, error) {
	f.mu.Lock()
	if all != nil {
		for i := range f.items {
			if f.matches(&f.items[i], *all, true) {
				ids = append(ids, f.items[i].ID)
			}
		}
	}
	to := map[string]queue.State{"retry": queue.Queued, "cancel": queue.Cancelled, "hold": queue.Held, "release": queue.Queued}[op]
	n := 0
	var problems []string
	for _, id := range ids {
		it := &f.items[id-1]
		if op == "release" && it.State != string(queue.Held) {
			problems = append(problems, fmt.Sprintf("message %d is %s", id, it.State))
			continue
		}
		it.State = string(to)
		n++
		f.changes = append(f.changes, fmt.Sprintf("%s %d", op, id))
	}
	f.mu.Unlock()
	f.feed.Publish(feed.Event{Topic: feed.Queue, Text: op})
	return n, problems, nil
}

func (f *fakeOutbox) Draft(_ context.Context, id int64) (message.Draft, error) {
	it, err := f.Item(context.Background(), id)
	if err != nil {
		return message.Draft{}, err
	}
	return message.Draft{To: []string{it.Recipients[0].Addr}, Subject: it.Subject, Text: "body of " + it.Subject}, nil
}

func (f *fakeOutbox) Attempts(_ context.Context, id int64) ([]OutboxAttempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id], nil
}

func (f *fakeOutbox) Runner() RunnerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runner
}

func (f *fakeOutbox) PauseRunner(p bool) {
	f.mu.Lock()
	f.runner.Paused = p
	f.mu.Unlock()
	f.feed.Publish(feed.Event{Topic: feed.Runner, Text: "paused"})
}

func (f *fakeOutbox) Events() *feed.Sub { return f.feed.Subscribe(4096, feed.Queue, feed.Runner) }

func (f *fakeOutbox) WatchNotices(_ context.Context, notify func(OutboxNotice)) func() {
	f.mu.Lock()
	f.notify = notify
	f.mu.Unlock()
	return func() {}
}

func (f *fakeOutbox) changed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

type notes struct {
	mu   sync.Mutex
	list []string
}

func (n *notes) Notify(title, body string) {
	n.mu.Lock()
	n.list = append(n.list, title+": "+body)
	n.mu.Unlock()
}

// outboxRig is a shell with Compose and the Outbox over fakes.
type outboxRig struct {
	*rig
	fake  *fakeOutbox
	view  *Outbox
	notes *notes
}

func newOutboxRig(t *testing.T, n int) *outboxRig {
	r := &outboxRig{rig: newRig(t), fake: newFakeOutbox(n), notes: &notes{}}
	do := func(f func()) { r.q <- f }
	r.view = NewOutbox(r.fake, do, OutboxOptions{Notifier: r.notes, Interval: 10 * time.Millisecond, PageSize: 50})
	r.shell.Register(r.view)
	r.shell.Start(context.Background())
	if err := r.shell.Open("outbox", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the first page", func() bool { return r.view.Refreshes > 0 && r.view.Cell(0, 3) != "" })
	return r
}

func TestOutboxListsPagesCountsAndBadge(t *testing.T) {
	r := newOutboxRig(t, 120)
	v := r.view
	r.fake.set(3, func(it *queue.Item) {
		it.State = string(queue.Failed)
		it.LastCode = 550
		it.LastError = "5.1.1 no such user"
	})
	r.fake.set(4, func(it *queue.Item) { it.State = string(queue.Sent) })
	r.fake.feed.Publish(feed.Event{Topic: feed.Queue, ID: 3, Text: "failed"})
	r.pump("the failure", func() bool { return v.Badge() == "118 !1" })
	if got := r.shell.sidebar.Length(); got != 3 {
		t.Fatalf("sidebar has %d views", got)
	}
	if v.Cell(0, 3) != "Message 120" || v.Cell(0, 1) != "work" || v.Cell(0, 2) != "user120@example.com" {
		t.Fatalf("first row = %q %q %q", v.Cell(0, 0), v.Cell(0, 1), v.Cell(0, 2))
	}
	if !strings.Contains(v.CountsLabel.Text, "118 queued · 1 failed · 1 sent") {
		t.Fatalf("counts = %q", v.CountsLabel.Text)
	}
	if v.Cell(117, 0) != "Failed" || v.Cell(117, 6) != "550 5.1.1 no such user" {
		r.pump("the last page", func() bool { return v.Cell(117, 0) != "" })
	}
	if v.Cell(117, 0) != "Failed" || v.Cell(117, 6) != "550 5.1.1 no such user" {
		t.Fatalf("row of message 3 = %q %q", v.Cell(117, 0), v.Cell(117, 6))
	}
	// A burst of events is one refresh.
	before := v.Refreshes
	for i := range 500 {
		r.fake.feed.Publish(feed.Event{Topic: feed.Queue, ID: int64(i%120 + 1), Text: "sent"})
	}
	r.pump("the burst", func() bool { return v.Refreshes > before })
	r.settle()
	if v.Refreshes-before > 5 {
		t.Fatalf("500 events took %d refreshes", v.Refreshes-before)
	}
	// Messages another process queued appear (External events).
	r.fake.add(queue.Item{Profile: "id-w", State: string(queue.Queued), Subject: "From the CLI", Batch: "bulk-1"}, "cli@example.com")
	r.fake.feed.Publish(feed.Event{Topic: feed.Queue, External: true, Text: "store changed"})
	r.pump("the CLI's message", func() bool { return v.Cell(0, 3) == "From the CLI" })
	r.pump("the batch choice", func() bool { return slices.Contains(v.BatchFilter.Options, "bulk-1") })
}

func TestOutboxFiltersAndSearch(t *testing.T) {
	r := newOutboxRig(t, 30)
	v := r.view
	r.fake.set(5, func(it *queue.Item) { it.State = string(queue.Held) })
	r.fake.set(6, func(it *queue.Item) { it.State = string(queue.Failed) })
	v.StateFilter.SetSelected("Needs you (failed, unknown, held)")
	r.pump("the problems", func() bool { return v.total == 2 })
	if v.Cell(0, 3) != "Message 6" || v.Cell(1, 3) != "Message 5" {
		t.Fatalf("problems = %q, %q", v.Cell(0, 3), v.Cell(1, 3))
	}
	v.StateFilter.SetSelected("All states")
	v.ProfileFilter.SetSelected("work") // even ids
	r.pump("the work profile", func() bool { return v.total == 15 })
	test.Type(v.Search, "message 1")
	r.pump("the search", func() bool { return v.total == 5 }) // 10, 12, 14, 16, 18
	if v.Cell(0, 3) != "Message 18" {
		t.Fatalf("first match = %q", v.Cell(0, 3))
	}
}

func TestOutboxActionsOnOneAndMany(t *testing.T) {
	r := newOutboxRig(t, 10)
	v := r.view
	if !v.RetryButton.Disabled() {
		t.Fatal("actions are enabled with nothing selected")
	}
	v.SelectRow(0, 0)                       // message 10
	v.SelectRow(2, fyne.KeyModifierShift)   // 10, 9, 8
	v.SelectRow(5, fyne.KeyModifierControl) // + 5
	if got := v.Selected(); !slices.Equal(got, []int64{5, 8, 9, 10}) {
		t.Fatalf("selected %v", got)
	}
	if !v.EditButton.Disabled() {
		t.Fatal("Edit is enabled with four selected")
	}
	test.Tap(v.HoldButton)
	r.pump("the hold", func() bool { return strings.HasPrefix(v.Status.Text, "Hold: 4") })
	r.pump("the held rows", func() bool { return v.Cell(0, 0) == "Held" })
	v.SelectRow(0, 0)
	test.Tap(v.ReleaseButton)
	r.pump("the release", func() bool { return strings.HasPrefix(v.Status.Text, "Release: 1") })
	// All shown: cancel every queued one.
	v.StateFilter.SetSelected("Queued")
	r.pump("the queued", func() bool { return v.total == 7 })
	test.Tap(v.SelectAll)
	test.Tap(v.CancelButton)
	r.pump("the cancel", func() bool { return strings.HasPrefix(v.Status.Text, "Cancel: 7") })
	r.pump("an empty list", func() bool { return v.total == 0 })
	if n := len(r.fake.changed()); n != 4+1+7 {
		t.Fatalf("changes = %v", r.fake.changed())
	}
}

func TestOutboxDetailFixesAttemptsAndEdit(t *testing.T) {
	r := newOutboxRig(t, 2)
	v := r.view
	h := hint.Hint{Text: "the password was refused", Fixes: []hint.Fix{{Setting: hint.Password, Label: "Store a new password"}, {Setting: hint.ReleaseHeld, Label: "Release the held messages"}}}
	r.fake.set(2, func(it *queue.Item) {
		it.State, it.LastStage, it.LastCode, it.LastError, it.Hint = string(queue.Held), "auth", 535, "5.7.8 authentication failed", h.Encode()
	})
	r.fake.set(1, func(it *queue.Item) { it.State = string(queue.Held) })
	r.fake.attempts[2] = []OutboxAttempt{{When: time.Now(), Summary: "failed at auth", Lines: []string{"C  AUTH PLAIN ****", "S  535 5.7.8 authentication failed"}}}
	r.fake.feed.Publish(feed.Event{Topic: feed.Queue, ID: 2})
	r.pump("the held state", func() bool { return v.Cell(0, 0) == "Held" })
	v.SelectRow(0, 0)
	r.pump("the report", func() bool { return strings.Contains(v.Detail.Text, "The server said (at auth): 535") })
	for _, want := range []string{"What to try: the password was refused", "user2@example.com: pending"} {
		if !strings.Contains(v.Detail.Text, want) {
			t.Errorf("detail lacks %q:\n%s", want, v.Detail.Text)
		}
	}
	if got := v.FixLabels(); !slices.Equal(got, []string{"Edit the account work", "Release the held messages of work"}) {
		t.Fatalf("fixes = %v", got)
	}
	// The fix releases every held message of the profile: here, the one.
	v.TapFix("Release the held messages of work")
	r.pump("the release", func() bool { return strings.HasPrefix(v.Status.Text, "Released 1 held message(s) of work") })

	test.Tap(v.TranscriptButton)
	r.pump("the attempts", func() bool { return len(v.LastAttempts) == 3 })
	if !strings.Contains(v.LastAttempts[0], "Attempt 1") || v.LastAttempts[2] != "S  535 5.7.8 authentication failed" {
		t.Fatalf("attempts = %q", v.LastAttempts)
	}
	v.SelectRow(1, 0)
	test.Tap(v.TranscriptButton)
	r.pump("no attempts", func() bool { return len(v.LastAttempts) == 3 && !strings.HasPrefix(v.LastAttempts[0], "—") })
	if !strings.Contains(v.LastAttempts[0], "has no session for message 1") {
		t.Fatalf("no attempts: %q", v.LastAttempts)
	}

	test.Tap(v.EditButton)
	r.pump("Compose", func() bool { return r.shell.Current() == "compose" && r.compose.Subject.Text == "Message 1" })
	if r.compose.To.Text != "user1@example.com" || r.compose.Body.Text() != "body of Message 1" {
		t.Fatalf("compose = %q %q", r.compose.To.Text, r.compose.Body.Text())
	}
}

func TestOutboxRunnerSwitchAndNotices(t *testing.T) {
	r := newOutboxRig(t, 1)
	v := r.view
	if !strings.Contains(v.RunnerText(), "sending what is due") || !strings.Contains(v.statusLabel.Text, "sending what is due") {
		t.Fatalf("runner = %q / %q", v.RunnerText(), v.statusLabel.Text)
	}
	test.Tap(v.statusButton)
	r.pump("paused", func() bool { return strings.Contains(v.RunnerText(), "paused") })
	if v.statusButton.Text != "Resume" || !r.fake.Runner().Paused {
		t.Fatalf("after pause: button %q, runner %+v", v.statusButton.Text, r.fake.Runner())
	}
	test.Tap(v.PauseButton)
	r.pump("resumed", func() bool { return !strings.Contains(v.RunnerText(), "paused") })

	r.fake.mu.Lock()
	notify := r.fake.notify
	r.fake.mu.Unlock()
	notify(OutboxNotice{Title: "Message failed", Body: "Message 1 to user1@example.com"})
	r.pump("the notification", func() bool { return strings.HasPrefix(v.Status.Text, "Message failed") })
	if len(r.notes.list) != 1 || r.notes.list[0] != "Message failed: Message 1 to user1@example.com" {
		t.Fatalf("notifications = %v", r.notes.list)
	}
}

// BenchmarkOutboxRefresh10k measures refreshing the outbox with 10,000
// items: the store work (counts and the page in view, off the UI
// goroutine) and the redraw on the UI goroutine, on a 1280x800 window.
func BenchmarkOutboxRefresh10k(b *testing.B) {
	test.NewTempApp(b)
	f := newFakeOutbox(10_000)
	q := make(chan func(), 1024)
	v := NewOutbox(f, func(fn func()) { q <- fn }, OutboxOptions{})
	w := test.NewTempWindow(b, v.Content())
	w.Resize(fyne.NewSize(1280, 800))
	v.ctx = context.Background()
	var ui time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := v.Refreshes + 1
		v.Refresh()
		for v.Refreshes < want {
			fn := <-q
			start := time.Now()
			fn()
			ui += time.Since(start)
		}
	}
	b.ReportMetric(float64(ui.Microseconds())/1000/float64(b.N), "ms-ui/op")
}
