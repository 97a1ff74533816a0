package history_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// benchBody is a small rendered message, like a bulk mail's.
func benchBody(i int) []byte {
	return []byte(fmt.Sprintf("From: news@example.com\r\nTo: rcpt%d@customer%d.example.org\r\nSubject: Your invoice %d\r\n"+
		"Message-ID: <%d.bench@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Dear customer %d,\r\n\r\nplease find your invoice for November below.\r\n%s\r\n", i, i%1000, i, i, i,
		strings.Repeat("Line of the invoice with an amount of 12.34 EUR.\r\n", 8)))
}

// outboxSession builds a session of n messages numbered from first, as the
// outbox would hand it over: each with its result, and a transcript of six
// lines per message.
func outboxSession(first, n int, profile string, end time.Time, states func(int) history.State) history.SessionRecord {
	start := end.Add(-time.Duration(n) * time.Millisecond)
	s := history.SessionRecord{Started: start, Finished: end, Profile: profile, ProfileName: "Profile " + profile,
		Server: "smtp.example.com:587", TLS: &transport.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Verified: true}}
	for k := 0; k < n; k++ {
		i := first + k
		to := fmt.Sprintf("rcpt%d@customer%d.example.org", i, i%1000)
		fin := start.Add(time.Duration(k+1) * time.Millisecond)
		st := history.Sent
		if states != nil {
			st = states(i)
		}
		res := &transport.Result{OK: st == history.Sent, Stage: transport.StageDone, Class: transport.ClassSent,
			Code: 250, EnhancedCode: "2.0.0", QueuedAs: fmt.Sprintf("250 2.0.0 Ok: queued as Q%d", i),
			Recipients: []transport.RecipientResult{{Addr: to, Accepted: st == history.Sent, Code: 250, EnhancedCode: "2.1.5", Message: "OK"}}}
		if st != history.Sent {
			res.Stage, res.Class, res.Code, res.EnhancedCode = transport.StageData, transport.ClassPermanent, 554, "5.7.1"
			res.Err = &transport.Error{Stage: transport.StageData, Class: transport.ClassPermanent, Kind: transport.KindReply, Code: 554, EnhancedCode: "5.7.1", Reply: "rejected", Msg: "message refused"}
		}
		s.Messages = append(s.Messages, history.MessageRecord{
			Queued: fin.Add(-time.Minute), Started: fin.Add(-time.Millisecond), Finished: fin,
			MessageID: fmt.Sprintf("<%d.bench@example.com>", i), Subject: fmt.Sprintf("Your invoice %d", i),
			From: "news@example.com", To: []string{to}, Body: benchBody(i), Result: res, State: st,
			Attempt: 1, QueueItem: int64(i + 1),
		})
		for _, line := range []string{"MAIL FROM:<news@example.com>", "RCPT TO:<" + to + ">", "DATA", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as Q" + fmt.Sprint(i)} {
			s.Transcript = append(s.Transcript, transcript.Event{Time: fin, Elapsed: fin.Sub(start), Dir: transcript.Client, TLS: true, Text: line})
		}
	}
	return s
}

func benchState(i int) history.State {
	switch i % 100 {
	case 7, 17, 27, 37, 47:
		return history.Failed
	case 8, 18, 28:
		return history.Deferred
	}
	return history.Sent
}

// BenchmarkHistorySearch100k searches 100,000 records (10 profiles, 30
// days). Target: under 100 ms per search.
func BenchmarkHistorySearch100k(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(b.TempDir(), "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := history.New(st, history.Options{})
	now := time.Now()
	const total, per = 100_000, 1000
	t0 := time.Now()
	for s := 0; s < total/per; s++ {
		end := now.Add(-time.Duration(total/per-s) * 7 * time.Hour)
		if _, err := log.Record(ctx, outboxSession(s*per, per, fmt.Sprintf("p%d", s%10), end, benchState)); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("inserted %d records in %s", total, time.Since(t0).Round(time.Millisecond))
	cases := []struct {
		name string
		q    history.Query
		want int // records expected in the page, -1 to skip the check
	}{
		{"recipient-substring", history.Query{Search: "rcpt77777@"}, 1},
		{"recipient-domain-page", history.Query{Search: "@customer512.example"}, 50},
		{"no-match", history.Query{Search: "nobody-at-all"}, 0},
		{"matches-all-page", history.Query{Search: "example.org"}, 50},
		{"matches-half-profile", history.Query{Search: "invoice", Profile: "p3"}, 50},
		{"profile-state-range", history.Query{Profile: "p3", States: []history.State{history.Failed},
			Since: now.AddDate(0, 0, -20), Until: now.AddDate(0, 0, -10)}, 50},
		{"profile-state-range-search", history.Query{Profile: "p3", States: []history.State{history.Failed},
			Since: now.AddDate(0, 0, -20), Until: now.AddDate(0, 0, -10), Search: "customer"}, 50},
		{"newest-page", history.Query{}, 50},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := log.List(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if c.want >= 0 && len(p.Records) != c.want {
					b.Fatalf("%d records, want %d", len(p.Records), c.want)
				}
			}
		})
	}
	b.Run("count-recipient-substring", func(b *testing.B) {
		for b.Loop() {
			n, err := log.Count(ctx, history.Query{Search: "@customer512.example"})
			if err != nil || n != 100 {
				b.Fatalf("count = %d, %v; want 100", n, err)
			}
		}
	})
	b.Run("daily-30-days-all-profiles", func(b *testing.B) {
		for b.Loop() {
			if _, err := log.Daily(ctx, now.AddDate(0, 0, -30), ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("daily-30-days", func(b *testing.B) {
		for b.Loop() {
			if _, err := log.Daily(ctx, now.AddDate(0, 0, -30), "p3"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHistoryRecordSession1000 records outbox-sized sessions: 1,000
// messages (each with its ~1 KB body and result) and a 6,000-line
// transcript per session. msgs/s is the recording rate.
func BenchmarkHistoryRecordSession1000(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(b.TempDir(), "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := history.New(st, history.Options{})
	sess := outboxSession(0, 1000, "p1", time.Now(), benchState)
	n := 0
	for b.Loop() {
		if _, err := log.Record(ctx, sess); err != nil {
			b.Fatal(err)
		}
		n += len(sess.Messages)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
