package queue

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

func benchMessages(b *testing.B, n int) []Message {
	b.Helper()
	body := []byte("From: a@herald.test\r\nTo: b@herald.test\r\nSubject: bench\r\nMessage-ID: <x@herald.test>\r\n\r\n" +
		"A short message of about five hundred bytes, like a transactional notification.\r\n")
	for len(body) < 500 {
		body = append(body, "filler filler filler filler filler filler filler filler\r\n"...)
	}
	ms := make([]Message, n)
	for i := range ms {
		ms[i] = Message{Profile: "p1", From: "a@herald.test", To: []string{fmt.Sprintf("r%d@herald.test", i)}, MessageID: fmt.Sprintf("<%d@herald.test>", i), Subject: "bench", Body: body}
	}
	return ms
}

// BenchmarkEnqueue10k enqueues 10,000 messages in batches of 1,000 (one
// durable transaction each) and reports messages per second.
func BenchmarkEnqueue10k(b *testing.B) {
	ms := benchMessages(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		q, _ := openQueueB(b)
		b.StartTimer()
		start := time.Now()
		for i := 0; i < len(ms); i += 1000 {
			if _, err := q.EnqueueBatch(ctx, ms[i:i+1000]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(ms))/time.Since(start).Seconds(), "msgs/s")
	}
}

// BenchmarkEnqueue10kWhole enqueues 10,000 messages as one batch (one
// transaction, as a bulk run does) and reports messages per second.
func BenchmarkEnqueue10kWhole(b *testing.B) {
	ms := benchMessages(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		q, _ := openQueueB(b)
		b.StartTimer()
		start := time.Now()
		if _, err := q.EnqueueBatchProgress(ctx, ms, nil); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ms))/time.Since(start).Seconds(), "msgs/s")
	}
}

// sinkTarget returns a server to drain to: Postfix's smtp-sink when it is
// installed (as in .ci/bench), else an in-process go-smtp server.
func sinkTarget(b *testing.B) (string, int) {
	b.Helper()
	if path, err := exec.LookPath("smtp-sink"); err == nil || fileExists("/usr/sbin/smtp-sink") {
		if path == "" {
			path = "/usr/sbin/smtp-sink"
		}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(path, "-c", "-u", "nobody", "127.0.0.1:"+strconv.Itoa(port), "1000")
		if err := cmd.Start(); err == nil {
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			for i := 0; i < 100; i++ {
				if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					c.Close()
					return "127.0.0.1", port
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	s := smtptest.Start(b, smtptest.Options{})
	return s.Host, s.Port
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// BenchmarkDrain10k drains 10,000 queued messages to a sink, recording
// every session in the history with its transcript as the app does, and
// reports messages sent per second (msgs/s, until the runner is done) and
// recorded per second (until the history's writer has written them all).
func BenchmarkDrain10k(b *testing.B) { benchDrain(b, true) }

// BenchmarkDrain10kNoHistory is BenchmarkDrain10k without the history (and
// so without transcripts): the runner's own cost.
func BenchmarkDrain10kNoHistory(b *testing.B) { benchDrain(b, false) }

func benchDrain(b *testing.B, withHistory bool) {
	host, port := sinkTarget(b)
	ms := benchMessages(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		q, _ := openQueueB(b)
		for i := 0; i < len(ms); i += 1000 {
			if _, err := q.EnqueueBatch(ctx, ms[i:i+1000]); err != nil {
				b.Fatal(err)
			}
		}
		var hist *history.Log
		if withHistory {
			hist = history.New(q.st, history.Options{OnError: func(err error) { b.Error(err) }})
		}
		r := NewRunner(q, RunnerOptions{Poll: 10 * time.Millisecond, History: hist, Resolve: func(ctx context.Context, p string) (Target, error) {
			return Target{Config: transport.Config{Host: host, Port: port, TLS: transport.TLSNone, Timeout: 10 * time.Second}, Sessions: 4, PerSession: 1000}, nil
		}})
		b.StartTimer()
		start := time.Now()
		if err := r.Run(ctx, true); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ms))/time.Since(start).Seconds(), "msgs/s")
		if hist != nil {
			hist.Close() // every record written
			b.ReportMetric(float64(len(ms))/time.Since(start).Seconds(), "recorded-msgs/s")
		}
		if hist != nil {
			b.StopTimer()
			if n, err := hist.Count(ctx, history.Query{}); err != nil || n != len(ms) {
				b.Fatalf("history holds %d records (%v), want %d", n, err, len(ms))
			}
			b.StartTimer()
		}
		b.StopTimer()
		if c, _ := q.Counts(ctx); c[Sent] != len(ms) {
			b.Fatalf("counts %v", c)
		}
		b.StartTimer()
	}
}

// BenchmarkStartAndList100k measures what start-up and `herald queue list`
// do with 100,000 messages waiting: open the store, recover, count by
// state, list the first page, find the due profiles.
func BenchmarkStartAndList100k(b *testing.B) {
	q, dir := openQueueB(b)
	ctx := context.Background()
	ms := benchMessages(b, 1000)
	for i := 0; i < 100; i++ {
		if _, err := q.EnqueueBatch(ctx, ms); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		st, err := store.Open(store.PathIn(dir))
		if err != nil {
			b.Fatal(err)
		}
		q2 := New(st, nil)
		if _, err := q2.Recover(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		if c, err := q2.Counts(ctx); err != nil || c[Queued] != 100000 {
			b.Fatal(err, c)
		}
		if items, err := q2.List(ctx, Filter{Limit: 100}); err != nil || len(items) != 100 {
			b.Fatal(err)
		}
		if _, err := st.DueQueueProfiles(ctx, time.Now()); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
