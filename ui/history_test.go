package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
)

// fakeHistory is an in-memory HistoryCore.
type fakeHistory struct {
	mu        sync.Mutex
	recs      []history.Record // newest first
	bodies    map[int64][]byte
	feed      *feed.Feed
	redirects []string
	lists     int
	queries   []history.Query
}

func newFakeHistory(n int) *fakeHistory {
	f := &fakeHistory{bodies: map[int64][]byte{}, feed: feed.New()}
	now := time.Now()
	for i := n; i >= 1; i-- {
		st := history.Sent
		if i%5 == 0 {
			st = history.Failed
		}
		f.recs = append(f.recs, history.Record{ID: int64(i), Finished: now.Add(-time.Duration(n-i) * time.Minute), State: st,
			Profile: "p1", ProfileName: "Work", From: "ann@herald.test", To: []string{fmt.Sprintf("user%d@example.com", i)},
			Subject: fmt.Sprintf("Invoice %d", i), MessageID: fmt.Sprintf("<%d@herald.test>", i)})
	}
	return f
}

func (f *fakeHistory) match(r history.Record, q history.Query) bool {
	s := strings.ToLower(q.Search)
	if s != "" && !strings.Contains(strings.ToLower(r.Subject+" "+strings.Join(r.To, " ")+" "+r.From), s) {
		return false
	}
	if len(q.States) > 0 && q.States[0] != r.State {
		return false
	}
	if q.Profile != "" && q.Profile != r.Profile {
		return false
	}
	if q.QueueItem != 0 && q.QueueItem != r.QueueItem {
		return false
	}
	return (q.Since.IsZero() || !r.Finished.Before(q.Since)) && (q.Until.IsZero() || r.Finished.Before(q.Until))
}

func (f *fakeHistory) HistoryList(ctx context.Context, q history.Query) (history.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	f.queries = append(f.queries, q)
	start := 0
	if q.Cursor != "" {
		start, _ = strconv.Atoi(q.Cursor)
	}
	var out []history.Record
	for _, r := range f.recs {
		if f.match(r, q) {
			out = append(out, r)
		}
	}
	out = out[min(start, len(out)):]
	var p history.Page
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
		p.Next = strconv.Itoa(start + q.Limit)
	}
	p.Records = out
	return p, nil
}

func (f *fakeHistory) HistoryCount(ctx context.Context, q history.Query) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.recs {
		if f.match(r, q) {
			n++
		}
	}
	return n, nil
}

func (f *fakeHistory) HistoryRecord(ctx context.Context, id int64) (*history.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.recs {
		if r.ID == id {
			r.Recipients = []history.Recipient{{Addr: r.To[0], Accepted: r.State == history.Sent, Code: 250, Message: "OK"}}
			r.Transcript = []transcript.Event{{Dir: transcript.Client, Text: "MAIL FROM:<ann@herald.test>"}, {Dir: transcript.Server, Text: "250 OK"}}
			return &r, nil
		}
	}
	return nil, history.ErrNotFound
}

func (f *fakeHistory) HistoryAttempts(ctx context.Context, r *history.Record) ([]*history.Record, error) {
	first := *r
	first.Attempt, first.State = 1, history.Deferred
	first.Transcript = []transcript.Event{{Dir: transcript.Server, Text: "451 try later"}}
	second := *r
	second.Attempt = 2
	return []*history.Record{&first, &second}, nil
}

func (f *fakeHistory) body(id int64) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.bodies[id]; ok {
		return b
	}
	return []byte("From: ann@herald.test\r\nTo: someone@example.com\r\nSubject: Invoice " + fmt.Sprint(id) + "\r\n\r\nHello.\r\n")
}

func (f *fakeHistory) HistoryParts(ctx context.Context, id int64) (MessageParts, error) {
	if b := f.body(id); bytes.Contains(b, []byte("text/html")) {
		// As the adapter does: the message taken apart, its HTML converted
		// with its own parts.
		c, _ := message.Parse(b)
		doc := message.HTMLDocument(c.HTML, message.HTMLOptions{Parts: c.Parts, MaxText: 256 << 10})
		return MessageParts{Text: c.Text, HTML: doc, HTMLText: doc.Text()}, nil
	}
	if b := f.body(id); len(b) > 1<<20 {
		// As the adapter does: the text part bounded to 256 KB.
		return MessageParts{Headers: [][2]string{{"Subject", "Big"}}, Text: string(b[:256<<10])}, nil
	}
	return MessageParts{Headers: [][2]string{{"Subject", "Invoice " + fmt.Sprint(id)}}, Text: "Hello.", HTMLText: "Hello in bold", Attachments: []string{"a.pdf (application/pdf, 10 bytes)"}}, nil
}

func (f *fakeHistory) HistorySource(ctx context.Context, id int64, offset, n int) (string, int, error) {
	b := f.body(id)
	offset = min(offset, len(b))
	return string(b[offset:min(len(b), offset+n)]), len(b), nil
}

func (f *fakeHistory) HistoryExport(ctx context.Context, id int64, w io.Writer) error {
	_, err := w.Write(f.body(id))
	return err
}

func (f *fakeHistory) HistoryDraft(ctx context.Context, id int64) (message.Draft, error) {
	return message.Draft{From: "ann@herald.test", To: []string{"again@example.com"}, Subject: "Invoice " + fmt.Sprint(id), Text: "Hello."}, nil
}

func (f *fakeHistory) Redirect(ctx context.Context, id int64, profile string, to []string) Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redirects = append(f.redirects, fmt.Sprintf("%d via %q to %s", id, profile, strings.Join(to, ",")))
	return Outcome{OK: true, Summary: "Redirect: sent"}
}

func (f *fakeHistory) ProfileNames(ctx context.Context) (map[string]string, error) {
	return map[string]string{"p1": "Work", "sandbox": "sandbox"}, nil
}

func (f *fakeHistory) Daily(ctx context.Context, since time.Time, profile string) ([]history.Day, error) {
	return []history.Day{
		{Day: since.AddDate(0, 0, 28), Profile: "p1", Sent: 7, Deferred: 2, Failed: 1, MedianToSend: 1500 * time.Millisecond},
		{Day: since.AddDate(0, 0, 29), Profile: "p1", Sent: 3, Failed: 2, MedianToSend: 500 * time.Millisecond},
	}, nil
}

func (f *fakeHistory) WatchHistory() *feed.Sub { return f.feed.Subscribe(64, feed.History) }

// historyRig is a shell with Compose and History over fakes.
type historyRig struct {
	*rig
	hist *fakeHistory
	view *History
}

func newHistoryRig(t *testing.T, n int) *historyRig {
	t.Helper()
	r := &rig{t: t, core: newFakeCore(), q: make(chan func(), 1<<16)}
	a := test.NewTempApp(t)
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.shell.Quit = func() {}
	r.compose = NewCompose(r.core, do)
	h := &historyRig{rig: r, hist: newFakeHistory(n)}
	h.view = NewHistory(h.hist, do)
	r.shell.Register(r.compose)
	r.shell.Register(h.view)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	t.Cleanup(r.shell.Stop)
	r.shell.Start(context.Background())
	if err := r.shell.Open("history", nil); err != nil {
		t.Fatal(err)
	}
	r.pump("the first page", func() bool { return len(h.view.Records) > 0 })
	return h
}

func TestHistoryListsPagesAndSearches(t *testing.T) {
	old := reloadDelay
	reloadDelay = time.Millisecond
	defer func() { reloadDelay = old }()
	r := newHistoryRig(t, 250)
	v := r.view
	r.pump("the count", func() bool { return v.CountLabel.Text == "250 message(s)" })
	if len(v.Records) != historyPage || v.Records[0].Subject != "Invoice 250" {
		t.Fatalf("first page: %d records, first %q", len(v.Records), v.Records[0].Subject)
	}
	// Scrolling to the end reads the next page, never the whole history.
	v.List.ScrollToBottom()
	r.pump("the second page", func() bool { return len(v.Records) == 2*historyPage })
	// Ctrl+F focuses the search field.
	r.shortcut(ctrl(fyne.KeyF))
	if r.shell.Window().Canvas().Focused() != v.Search {
		t.Fatal("Ctrl+F did not focus the search field")
	}
	test.Type(v.Search, "invoice 12")
	r.pump("the search", func() bool { return v.CountLabel.Text == "11 message(s)" })
	if v.Records[0].Subject != "Invoice 129" {
		t.Errorf("search result %q", v.Records[0].Subject)
	}
	v.State.SetSelected("Failed")
	r.pump("the failed ones", func() bool { return v.CountLabel.Text == "2 message(s)" })
	if v.Records[0].Subject != "Invoice 125" {
		t.Errorf("failed: %q", v.Records[0].Subject)
	}
	v.Search.SetText("")
	v.State.SetSelected("Any outcome")
	r.pump("all again", func() bool { return v.CountLabel.Text == "250 message(s)" })
	// A date range.
	v.Since.SetText(time.Now().AddDate(0, 0, 1).Format("2006-01-02"))
	r.pump("nothing since tomorrow", func() bool { return v.CountLabel.Text == "0 message(s)" })
	v.Since.SetText("yesterday")
	r.pump("a bad date", func() bool { return strings.Contains(v.CountLabel.Text, "is not a date") })
	v.Since.SetText("")
	r.pump("all again", func() bool { return v.CountLabel.Text == "250 message(s)" })
	// Profiles fill the filter; choosing one filters by its id.
	r.pump("the profiles", func() bool { return len(v.Profile.Options) == 3 })
	v.Profile.SetSelected("Work")
	r.pump("a search by Work's id", func() bool {
		r.hist.mu.Lock()
		defer r.hist.mu.Unlock()
		last := r.hist.queries[len(r.hist.queries)-1]
		return last.Profile == "p1"
	})
}

func TestHistoryOpensARecordAndActs(t *testing.T) {
	r := newHistoryRig(t, 10)
	v := r.view
	v.List.Select(1)
	r.pump("the record", func() bool { return v.selected != nil && len(v.Transcript.Lines) > 0 })
	if !strings.Contains(v.Summary.Text, "Sent via Work") || !strings.Contains(v.Summary.Text, "ann@herald.test") {
		t.Errorf("summary %q", v.Summary.Text)
	}
	if len(v.Recipients.Lines) != 1 || !strings.HasPrefix(v.Recipients.Lines[0], "Accepted: user9@example.com") {
		t.Errorf("recipients %q", v.Recipients.Lines)
	}
	tr := strings.Join(v.Transcript.Lines, "\n")
	if !strings.Contains(tr, "Attempt 1, Deferred") || !strings.Contains(tr, "451 try later") || !strings.Contains(tr, "Attempt 2, Sent") || !strings.Contains(tr, "250 OK") {
		t.Errorf("transcripts of every attempt:\n%s", tr)
	}
	msg := strings.Join(v.Message.Lines, "\n")
	if !strings.Contains(msg, "Subject: Invoice 9") || !strings.Contains(msg, "a.pdf") || !strings.Contains(msg, "Hello in bold") {
		t.Errorf("message:\n%s", msg)
	}
	if v.Source.Lines[0] != "From: ann@herald.test" || !v.SourceMore.Disabled() || !strings.Contains(v.SourceInfo.Text, "whole message") {
		t.Errorf("source %q, more enabled %v, %q", v.Source.Lines, !v.SourceMore.Disabled(), v.SourceInfo.Text)
	}
	// Resend opens Compose filled in.
	test.Tap(v.Resend)
	r.pump("compose", func() bool { return r.shell.Current() == "compose" })
	if r.compose.Subject.Text != "Invoice 9" || r.compose.To.Text != "again@example.com" {
		t.Errorf("compose: to %q subject %q", r.compose.To.Text, r.compose.Subject.Text)
	}
	_ = r.shell.Open("history", nil)
	v.RedirectTo(10, SandboxChoice, []string{"new@example.com"})
	r.pump("the redirect", func() bool { return v.CountLabel.Text == "Redirect: sent" })
	if r.hist.redirects[0] != `10 via "" to new@example.com` {
		t.Errorf("redirects %q", r.hist.redirects)
	}
	v.RedirectTo(10, "Work", nil)
	if !strings.Contains(v.Summary.Text, "at least one recipient") {
		t.Errorf("redirect without recipients: %q", v.Summary.Text)
	}
}

func TestHistoryChartAndLiveUpdates(t *testing.T) {
	r := newHistoryRig(t, 3)
	v := r.view
	r.pump("the chart", func() bool { return v.Chart.Summary != "" })
	if v.Chart.Summary != "10 sent, 2 deferred, 3 failed in 30 days; typical time to send 1.5 s" {
		t.Errorf("chart %q", v.Chart.Summary)
	}
	last := v.Chart.Days[29]
	if last.Sent != 3 || last.Failed != 2 || last.Median != 500*time.Millisecond {
		t.Errorf("last day %+v", last)
	}
	// The chart renders (bars, line, labels) at both sizes people use.
	for _, sz := range []fyne.Size{{Width: 1280, Height: 800}, {Width: 900, Height: 600}} {
		r.shell.Window().Resize(sz)
		if n := len(test.WidgetRenderer(v.Chart).Objects()); n < 20 {
			t.Errorf("%v: the chart draws %d objects", sz, n)
		}
	}
	// A burst of new records is one reload.
	r.hist.mu.Lock()
	r.hist.recs = append([]history.Record{{ID: 99, Finished: time.Now(), State: history.Unknown, To: []string{"x@example.com"}, Subject: "Just now"}}, r.hist.recs...)
	before := r.hist.lists
	r.hist.mu.Unlock()
	for i := 0; i < 500; i++ {
		r.hist.feed.Publish(feed.Event{Topic: feed.History, ID: int64(i)})
	}
	r.pump("the new record", func() bool { return len(v.Records) == 4 && v.Records[0].Subject == "Just now" })
	r.settle()
	r.hist.mu.Lock()
	reloads := r.hist.lists - before
	r.hist.mu.Unlock()
	if reloads > 3 {
		t.Errorf("%d reloads for one burst", reloads)
	}
}

// TestHistoryLargeSourceIsPaged: a 10 MB message shows its first part; more
// comes on demand, a part at a time.
func TestHistoryLargeSourceIsPaged(t *testing.T) {
	r := newHistoryRig(t, 1)
	r.hist.bodies[1] = bigMessage(10 << 20)
	v := r.view
	v.List.Select(0)
	r.pump("the source", func() bool { return v.srcLen > 0 })
	if v.sourceShown != sourceChunk || v.SourceMore.Disabled() || !strings.Contains(v.SourceInfo.Text, "of 10.0 MB") {
		t.Fatalf("shown %d, more disabled %v, %q", v.sourceShown, v.SourceMore.Disabled(), v.SourceInfo.Text)
	}
	n := len(v.Source.Lines)
	test.Tap(v.SourceMore)
	r.pump("more source", func() bool { return v.sourceShown == 2*sourceChunk })
	if len(v.Source.Lines) <= n || strings.Join(v.Source.Lines, "\n") != strings.ReplaceAll(string(r.hist.bodies[1][:len(strings.Join(v.Source.Lines, "\n"))+countCR(v.Source.Lines)]), "\r\n", "\n") {
		t.Errorf("the source parts do not join up")
	}
}

func countCR(lines []string) int { return len(lines) - 1 }

func bigMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: ann@herald.test\r\nTo: bob@example.com\r\nSubject: Big\r\n\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %d of a large message, with some text to make it longer than a word\r\n", i)
	}
	return []byte(b.String())
}

// BenchmarkHistoryOpen10MB opens a 10 MB message and shows more of its
// source, timing every update on the UI goroutine: none may take 50 ms.
func BenchmarkHistoryOpen10MB(b *testing.B) {
	q := make(chan func(), 1<<16)
	a := test.NewTempApp(b)
	do := func(f func()) { q <- f }
	hist := newFakeHistory(1)
	hist.bodies[1] = bigMessage(10 << 20)
	s := NewShell(a, ShellOptions{Dispatch: do})
	v := NewHistory(hist, do)
	s.Register(v)
	s.Window().Resize(fyne.NewSize(1280, 800))
	s.Start(context.Background())
	defer s.Stop()
	_ = s.Open("history", nil)
	var worst time.Duration
	run := func(f func()) {
		start := time.Now()
		f()
		worst = max(worst, time.Since(start))
	}
	pump := func(cond func() bool) {
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case f := <-q:
				run(f)
			case <-deadline:
				b.Fatal(errors.New("timed out"))
			}
		}
	}
	pump(func() bool { return len(v.Records) > 0 })
	for b.Loop() {
		v.selected, v.srcLen = nil, 0
		run(func() { v.List.UnselectAll(); v.List.Select(0) })
		pump(func() bool { return v.srcLen > 0 })
		run(func() { v.moreSource() })
		pump(func() bool { return v.sourceShown == 2*sourceChunk })
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-frame-ms")
	if worst > 50*time.Millisecond {
		b.Errorf("an update took %s on the UI goroutine (limit 50 ms)", worst)
	}
}

// TestHistoryShowsHTMLFormatted: the HTML tab shows a recorded message's
// HTML formatted, with its own image and without its script or remote
// image; the Message tab keeps it as text.
func TestHistoryShowsHTMLFormatted(t *testing.T) {
	h := newHistoryRig(t, 3)
	v := h.view
	h.hist.mu.Lock()
	h.hist.bodies[3] = rawHTMLMessage(t)
	h.hist.mu.Unlock()
	v.List.Select(0)
	h.pump("the image", func() bool { return len(factsOf(v.HTML).images) == 1 })
	checkSample(t, factsOf(v.HTML))
	if all := strings.Join(v.Message.Lines, "\n"); !strings.Contains(all, "• first") || strings.Contains(all, "zzq") {
		t.Errorf("message tab:\n%s", all)
	}
	v.List.Select(1)
	h.pump("message 2", func() bool { return strings.Contains(factsOf(v.HTML).text, "in the Message tab") })
}
