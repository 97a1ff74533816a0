package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// benchRig is a Compose over the fake core in a 1280x800 window.
func benchRig(b *testing.B) *rig {
	r := &rig{core: newFakeCore(), q: make(chan func(), 1<<16)}
	a := test.NewApp()
	b.Cleanup(func() { a.Quit() })
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.shell.Quit = func() {}
	r.compose = NewCompose(r.core, do)
	r.compose.debounce = time.Millisecond
	r.shell.Register(r.compose)
	_ = r.shell.Open("compose", nil)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	b.Cleanup(r.shell.Stop)
	return r
}

// drain runs the queued UI updates and returns the longest one.
func (r *rig) drain(until func() bool) (longest time.Duration) {
	deadline := time.After(30 * time.Second)
	for !until() {
		select {
		case f := <-r.q:
			st := time.Now()
			f()
			longest = max(longest, time.Since(st))
		case <-deadline:
			panic("drain: timed out")
		}
	}
	return longest
}

func recipients(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "person%04d@example.com", i)
	}
	return b.String()
}

// BenchmarkComposeTypeIntoThousandRecipients types one key into a To field
// holding 1,000 recipients (pasted, so kept aside as a list, and a few
// typed), then lets the debounced check run: the time
// reported is the UI goroutine's (the keystroke, plus the longest
// dispatched update as "max-ui-ms").
func BenchmarkComposeTypeIntoThousandRecipients(b *testing.B) {
	r := benchRig(b)
	c := r.compose
	c.To.SetText(recipients(1000) + ", ") // a paste: the list goes aside
	r.drain(func() bool { return c.Count.Text == "1000 recipients" && c.To.Text == "" })
	test.Type(c.To, "ann@example.com, bob@")
	var key, upd, sum time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := c.checks
		st := time.Now()
		test.Type(c.To, "x")
		sum += time.Since(st)
		key = max(key, time.Since(st))
		upd = max(upd, r.drain(func() bool { return c.checks > n }))
	}
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(b.N), "avg-key-ms")
	b.ReportMetric(float64(key.Microseconds())/1000, "max-key-ms")
	b.ReportMetric(float64(upd.Microseconds())/1000, "max-update-ms")
}

// BenchmarkComposeSetMegabyteBody sets a 1 MB message text (a paste or an
// opened draft) on the UI goroutine.
func BenchmarkComposeSetMegabyteBody(b *testing.B) {
	r := benchRig(b)
	c := r.compose
	body := strings.Repeat("A line of a long message body, seventy characters or so, and more.\n", (1<<20)/68)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := time.Now()
		c.Body.SetText(body)
		worst = max(worst, time.Since(st))
		c.Body.SetText("")
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ui-ms")
}

// BenchmarkComposeThousandRecipientSendStatus sends to 1,000 recipients
// through the fake core (2,001 log lines) and measures the longest update
// the UI goroutine runs: the batched log appends and the final status.
func BenchmarkComposeThousandRecipientSendStatus(b *testing.B) {
	r := benchRig(b)
	c := r.compose
	c.To.SetText(recipients(1000))
	c.Subject.SetText("To many")
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Send()
		worst = max(worst, r.drain(func() bool { return !c.Busy() }))
	}
	b.StopTimer()
	if c.Log.Len() < 2000 || !strings.HasPrefix(c.Status.Text, "Sent") {
		b.Fatalf("log %d lines, status %q", c.Log.Len(), c.Status.Text)
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ui-ms")
}

// BenchmarkComposePasteThousandRecipients pastes 1,000 addresses into an
// empty To field: the entry takes the text once, then the list moves
// aside. The longest of the two frames is reported.
func BenchmarkComposePasteThousandRecipients(b *testing.B) {
	r := benchRig(b)
	c := r.compose
	list := recipients(1000)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := time.Now()
		c.To.SetText(list)
		worst = max(worst, time.Since(st))
		worst = max(worst, r.drain(func() bool { return c.To.Text == "" }))
		c.aside[c.To].set(nil)
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ui-ms")
}
