package ui

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/transcript"
)

// fakeLogCore is a LiveLogCore over a real feed the test publishes on.
type fakeLogCore struct {
	feed  *feed.Feed
	names map[string]string
}

func (f *fakeLogCore) Lines() *feed.Sub { return f.feed.Subscribe(1<<17, feed.Transcript) }
func (f *fakeLogCore) ProfileNames(context.Context) map[string]string {
	return f.names
}

type logRig struct {
	t    testing.TB
	core *fakeLogCore
	view *LiveLog
	win  fyne.Window
	q    chan func()
}

func newLogRig(t testing.TB, o LiveLogOptions) *logRig {
	t.Helper()
	r := &logRig{t: t, core: &fakeLogCore{feed: feed.New(), names: map[string]string{"id-w": "work", "id-p": "personal"}}, q: make(chan func(), 1<<16)}
	if o.Interval == 0 {
		o.Interval = 10 * time.Millisecond
	}
	test.NewTempApp(t)
	r.view = NewLiveLog(r.core, func(f func()) { r.q <- f }, o)
	r.win = test.NewTempWindow(t, r.view.Content())
	r.win.Resize(fyne.NewSize(1280, 800))
	r.view.Start(context.Background())
	if tt, ok := t.(*testing.T); ok {
		tt.Cleanup(r.view.Stop)
	}
	return r
}

func (r *logRig) pump(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case f := <-r.q:
			f()
		case <-deadline:
			r.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *logRig) line(session, profile string, dir transcript.Dir, tls bool, text string) {
	r.core.feed.Publish(feed.Event{Topic: feed.Transcript, Session: session, Profile: profile, Line: &transcript.Event{Dir: dir, TLS: tls, Text: text}})
}

func TestLiveLogShowsBatchesFiltersAndCopies(t *testing.T) {
	r := newLogRig(t, LiveLogOptions{Interval: 50 * time.Millisecond})
	v := r.view
	for i := range 500 {
		r.line("send-1", "id-w", transcript.Client, false, fmt.Sprintf("EHLO line %d", i))
		r.line("send-1", "id-w", transcript.Server, i > 100, fmt.Sprintf("250 ok %d", i))
		r.line("outbox-id-p", "id-p", transcript.Info, false, fmt.Sprintf("note %d", i))
	}
	r.pump("1,500 lines", func() bool { return v.Kept() == 1500 })
	if v.Redraws > 30 {
		t.Fatalf("1,500 lines took %d redraws: appends are not batched", v.Redraws)
	}
	if got := v.Line(0); !strings.Contains(got, "send-1 (work)") || !strings.Contains(got, "C→  EHLO line 0") {
		t.Fatalf("first line = %q", got)
	}
	if got := v.Line(3 * 200); !strings.Contains(got, "C→  EHLO line 200") {
		t.Fatalf("line 600 = %q", got)
	}
	if got := v.Line(3*200 + 1); !strings.Contains(got, "S←* 250 ok 200") {
		t.Fatalf("a line inside TLS lacks its marker: %q", got)
	}
	if got := v.Line(2); !strings.Contains(got, "I·  note 0") {
		t.Fatalf("a note = %q", got)
	}
	r.pump("the profile names", func() bool { return len(v.Profile.Options) == 3 })
	if !containsAll(v.Profile.Options, "All", "work", "personal") || !containsAll(v.Session.Options, "All", "send-1 (work)", "outbox-personal") {
		t.Fatalf("filters offer %v and %v", v.Profile.Options, v.Session.Options)
	}

	v.Profile.SetSelected("personal")
	if v.Len() != 500 || !strings.Contains(v.Line(0), "note 0") {
		t.Fatalf("profile filter: %d lines, first %q", v.Len(), v.Line(0))
	}
	v.Profile.SetSelected("All")
	v.Session.SetSelected("send-1 (work)")
	test.Type(v.Search, "ehlo LINE 49")
	if v.Len() != 11 { // 49, 490..499
		t.Fatalf("search in the session: %d lines", v.Len())
	}
	// New lines matching the filters join the shown ones.
	r.line("send-1", "id-w", transcript.Client, false, "EHLO line 4900")
	r.line("send-2", "id-w", transcript.Client, false, "EHLO line 4901")
	r.pump("the new line", func() bool { return v.Kept() == 1502 })
	if v.Len() != 12 || !strings.Contains(v.Line(11), "4900") {
		t.Fatalf("after new lines: %d shown, last %q", v.Len(), v.Line(v.Len()-1))
	}
	if !strings.Contains(v.Count.Text, "12 of 1,502 lines match") {
		t.Fatalf("count = %q", v.Count.Text)
	}

	v.SelectRows(1, 3)
	if v.Follow.Checked {
		// Selecting stops following, so the selection stays in view.
		t.Log("follow still on after a selection by rows (only clicks pause it)")
	}
	sel := v.Selection()
	if strings.Count(sel, "\n") != 3 || !strings.Contains(sel, "EHLO line 490") {
		t.Fatalf("selection = %q", sel)
	}
	v.CopySelection()
	if got := fyne.CurrentApp().Clipboard().Content(); got != sel {
		t.Fatalf("clipboard = %q", got)
	}
	var b strings.Builder
	if _, err := v.WriteTo(&b); err != nil || strings.Count(b.String(), "\n") != 12 {
		t.Fatalf("saved %q, %v", b.String(), err)
	}
	v.Search.SetText("")
	v.Session.SetSelected("All")
	if v.Len() != 1502 {
		t.Fatalf("without filters: %d lines", v.Len())
	}
}

func TestLiveLogIsBoundedAndResizes(t *testing.T) {
	r := newLogRig(t, LiveLogOptions{Capacity: 100})
	v := r.view
	for i := range 250 {
		r.line("send-1", "", transcript.Client, false, fmt.Sprintf("line %d", i))
	}
	r.pump("the lines", func() bool { return v.Kept() == 100 && strings.HasSuffix(v.Line(99), "line 249") })
	if !strings.HasSuffix(v.Line(0), "line 150") {
		t.Fatalf("oldest kept = %q", v.Line(0))
	}
	test.Type(v.Search, "line 1")
	if v.Len() != 50 { // 150..199
		t.Fatalf("filtered in the ring: %d", v.Len())
	}
	v.SetCapacity(10)
	if v.Kept() != 10 || v.Len() != 0 || !strings.Contains(v.Count.Text, "0 of 10 lines") {
		t.Fatalf("after resize: kept %d, shown %d, %q", v.Kept(), v.Len(), v.Count.Text)
	}
	v.Search.SetText("")
	if !strings.HasSuffix(v.Line(0), "line 240") || !strings.HasSuffix(v.Line(9), "line 249") {
		t.Fatalf("after resize: %q … %q", v.Line(0), v.Line(9))
	}
	v.SetCapacity(1000)
	for i := range 20 {
		r.line("send-2", "", transcript.Server, false, fmt.Sprintf("more %d", i))
	}
	r.pump("more lines", func() bool { return v.Kept() == 30 })
	if !strings.HasSuffix(v.Line(29), "more 19") || !strings.HasSuffix(v.Line(0), "line 240") {
		t.Fatalf("after growing: %q … %q", v.Line(0), v.Line(29))
	}
	v.Clear()
	if v.Kept() != 0 || len(v.Session.Options) != 1 {
		t.Fatalf("after clear: %d lines, sessions %v", v.Kept(), v.Session.Options)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, s := range list {
			found = found || s == w
		}
		if !found {
			return false
		}
	}
	return true
}

func benchLines(n int, from int) []logLine {
	out := make([]logLine, n)
	now := time.Now()
	for i := range out {
		dir := []transcript.Dir{transcript.Client, transcript.Server, transcript.Info}[i%3]
		out[i] = logLine{at: now, session: fmt.Sprintf("send-%d", (from+i)/40), profile: "id-w", dir: dir, tls: i%2 == 0,
			text: fmt.Sprintf("250-%d 2.0.0 a line of an SMTP session as a server might say it", from+i)}
	}
	return out
}

// BenchmarkLiveLogAppend10k measures the UI goroutine's work for one batch
// of 10,000 new lines (the view draws a batch at most every 200 ms), on a
// 1280x800 window whose log already holds 50,000 lines.
func BenchmarkLiveLogAppend10k(b *testing.B) {
	r := newLogRig(b, LiveLogOptions{Capacity: 100_000})
	r.view.AppendBatch(benchLines(50_000, 0))
	batches := make([][]logLine, 8)
	for i := range batches {
		batches[i] = benchLines(10_000, 50_000+i*10_000)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.view.AppendBatch(batches[i%len(batches)])
	}
}

// BenchmarkLiveLogAppend10kFiltered is the same with a search on, at
// 100,000 lines kept (the ring full, the oldest dropped each batch).
func BenchmarkLiveLogAppend10kFiltered(b *testing.B) {
	r := newLogRig(b, LiveLogOptions{Capacity: 100_000})
	r.view.AppendBatch(benchLines(100_000, 0))
	r.view.Search.SetText("2.0.0 A LINE")
	batches := make([][]logLine, 8)
	for i := range batches {
		batches[i] = benchLines(10_000, 100_000+i*10_000)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.view.AppendBatch(batches[i%len(batches)])
	}
}

// BenchmarkLiveLogMemory100k reports what the log costs with 100,000
// lines: the Go heap it holds (MB-heap, after a GC), the process's
// resident set with them (MB-rss, Linux), and the time to search them all
// on the UI goroutine (ms-search, in steps of 25,000 lines; the longest
// step: ms-longest-step). The log is filled once; b.N repeats the search.
func BenchmarkLiveLogMemory100k(b *testing.B) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := newLogRig(b, LiveLogOptions{Capacity: 100_000})
	for k := 0; k < 10; k++ {
		r.view.AppendBatch(benchLines(10_000, k*10_000))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap, rss := float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), vmRSS()
	var search, step time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r.view.Search.SetText(fmt.Sprintf("%05d", 99999-i))
		d := time.Since(start)
		search, step = search+d, max(step, d)
		for r.view.Searching() { // the next steps, as the UI goroutine runs them
			f := <-r.q
			start := time.Now()
			f()
			d := time.Since(start)
			search, step = search+d, max(step, d)
		}
		if r.view.Len() != 1 {
			b.Fatalf("search %05d: %d lines", 99999-i, r.view.Len())
		}
	}
	b.ReportMetric(float64(search.Microseconds())/1000/float64(b.N), "ms-search")
	b.ReportMetric(float64(step.Microseconds())/1000, "ms-longest-step")
	// Reported after the loop: ResetTimer clears metrics.
	b.ReportMetric(heap, "MB-heap")
	if rss > 0 {
		b.ReportMetric(rss, "MB-rss")
	}
	if r.view.Kept() != 100_000 {
		b.Fatalf("kept %d lines", r.view.Kept())
	}
}

// vmRSS returns the process's resident set in MB, or 0 where /proc is not.
func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb / 1024
		}
	}
	return 0
}

// TestLiveLogSearchesALongLogInSteps: a search of 60,000 lines runs in
// steps (the window draws in between), and lines that arrive meanwhile are
// searched too, once each.
func TestLiveLogSearchesALongLogInSteps(t *testing.T) {
	r := newLogRig(t, LiveLogOptions{Capacity: 100_000})
	v := r.view
	v.AppendBatch(benchLines(60_000, 0))
	v.Search.SetText("250-4") // 4, 40-49, 400-499, 4000-4999, 40000-49999
	if !v.Searching() {
		t.Fatal("a search of 60,000 lines ran in one step")
	}
	v.AppendBatch(benchLines(10, 60_000)) // no match
	v.AppendBatch([]logLine{{session: "x", dir: transcript.Server, text: "250-4 late"}})
	r.pump("the search", func() bool { return !v.Searching() })
	if want := 1 + 10 + 100 + 1000 + 10000 + 1; v.Len() != want {
		t.Fatalf("%d lines match, want %d", v.Len(), want)
	}
	if !strings.HasSuffix(v.Line(v.Len()-1), "250-4 late") {
		t.Fatalf("last match = %q", v.Line(v.Len()-1))
	}
	// After the search, new lines are matched as they come.
	v.AppendBatch([]logLine{{session: "x", dir: transcript.Server, text: "250-4 later"}})
	if !strings.HasSuffix(v.Line(v.Len()-1), "250-4 later") {
		t.Fatalf("new match = %q", v.Line(v.Len()-1))
	}
}

// TestLiveLogHiddenDrawsNothingUntilShown keeps a live log that was never
// shown (it records from the start, in the background) from drawing its
// list: drawing would load the monospace font, megabytes, for a view the
// user may never open. Shown later, it has every line.
func TestLiveLogHiddenDrawsNothingUntilShown(t *testing.T) {
	test.NewTempApp(t)
	core := &fakeLogCore{feed: feed.New(), names: map[string]string{"id-w": "work"}}
	q := make(chan func(), 1024)
	v := NewLiveLog(core, func(f func()) { q <- f }, LiveLogOptions{Interval: 5 * time.Millisecond})
	v.Content()
	v.Start(context.Background())
	t.Cleanup(v.Stop)
	for i := 0; i < 3; i++ {
		core.feed.Publish(feed.Event{Topic: feed.Transcript, Session: "s1", Profile: "id-w", Line: &transcript.Event{Dir: transcript.Server, Text: fmt.Sprintf("250 line %d", i)}})
	}
	deadline := time.After(10 * time.Second)
	for v.Len() < 3 {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatalf("the hidden log took %d of 3 lines", v.Len())
		}
	}
	if v.rendered {
		t.Fatal("the hidden log drew its list")
	}
	w := test.NewTempWindow(t, v.Content())
	w.Resize(fyne.NewSize(900, 600))
	if !v.rendered {
		t.Fatal("shown, the log did not draw its list")
	}
	if got := v.List.Length(); got != 3 {
		t.Fatalf("shown, the list has %d rows, want 3", got)
	}
}
