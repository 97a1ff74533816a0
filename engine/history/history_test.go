package history_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

func openLog(t *testing.T, o history.Options) (*history.Log, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := history.New(st, o)
	t.Cleanup(func() { l.Close(); st.Close() })
	return l, st
}

func msg(subject, to string) []byte {
	return []byte("From: ann@herald.test\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" +
		strings.ReplaceAll(subject, " ", "-") + "@herald.test>\r\n\r\nHello.\r\n")
}

// TestRecordRealSession sends over a real SMTP session (go-smtp) with one
// recipient refused and records it as a direct send would.
func TestRecordRealSession(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"gone@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
	}})
	l, _ := openLog(t, history.Options{})
	ctx := context.Background()
	rec := transcript.New()
	cfg := transport.Config{Host: srv.Host, Port: srv.Port, TLS: transport.TLSNone, Auth: transport.AuthNone, Timeout: 5 * time.Second, Transcript: rec}
	body := msg("Quarterly report", "bob@herald.test, gone@herald.test")
	envl := transport.Envelope{From: "ann@herald.test", To: []string{"bob@herald.test", "gone@herald.test"}}
	start := time.Now()
	res := transport.Send(ctx, cfg, envl, bytes.NewReader(body))
	rec.Finish()
	ids, err := l.RecordSession(ctx, history.SessionRecord{Started: start, Profile: "p1", ProfileName: "Work", Server: srv.Addr,
		Transcript: rec.Events(), Messages: []history.MessageRecord{{From: envl.From, To: envl.To, Body: body, Result: res}}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("record: %v %v", ids, err)
	}
	r, err := l.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.State != history.Partial || r.Subject != "Quarterly report" || r.MessageID != "<Quarterly-report@herald.test>" ||
		r.Profile != "p1" || r.ProfileName != "Work" || r.Server != srv.Addr || r.Accepted != 1 || r.Attempt != 1 {
		t.Errorf("record = %+v", r)
	}
	if len(r.Recipients) != 2 || !r.Recipients[0].Accepted || r.Recipients[1].Accepted || r.Recipients[1].Code != 550 ||
		r.Recipients[1].Enhanced != "5.1.1" || !strings.Contains(r.Recipients[1].Message, "No such user") {
		t.Errorf("recipients = %+v", r.Recipients)
	}
	if len(r.Transcript) != len(rec.Events()) || len(r.Transcript) == 0 {
		t.Errorf("transcript has %d events, the session had %d", len(r.Transcript), len(rec.Events()))
	}
	if r.QueuedAs == "" || r.Finished.Before(r.Started) {
		t.Errorf("queued-as %q, started %v, finished %v", r.QueuedAs, r.Started, r.Finished)
	}
	var out bytes.Buffer
	if err := l.Export(ctx, ids[0], &out); err != nil || !bytes.Equal(out.Bytes(), body) {
		t.Errorf("export = %q, %v", out.String(), err)
	}
	if got := srv.Messages(); len(got) != 1 || !bytes.Equal(got[0].Data, out.Bytes()) {
		t.Errorf("the server received something else than the export")
	}
	if _, err := l.Get(ctx, 999); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("Get(999) = %v, want ErrNotFound", err)
	}
	if err := l.Export(ctx, 999, &out); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("Export(999) = %v, want ErrNotFound", err)
	}
}

// TestOutboxSessionTranscriptStoredOnce records a session of many messages:
// each message refers to the one transcript, which is stored once.
func TestOutboxSessionTranscriptStoredOnce(t *testing.T) {
	l, st := openLog(t, history.Options{})
	ctx := context.Background()
	s := outboxSession(0, 300, "bulk", time.Now(), benchState)
	s.Transcript = append([]transcript.Event{{Time: s.Started, Dir: transcript.Client, Text: "EHLO herald"}}, s.Transcript...)
	ids, err := l.Record(ctx, s)
	if err != nil || len(ids) != 300 {
		t.Fatalf("record: %d ids, %v", len(ids), err)
	}
	var sessions int
	if err := st.DB().QueryRow(`SELECT count(*) FROM history_sessions`).Scan(&sessions); err != nil || sessions != 1 {
		t.Fatalf("%d session rows (%v), want 1", sessions, err)
	}
	var blob int
	if err := st.DB().QueryRow(`SELECT length(transcript) FROM history_sessions`).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	a, err := l.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Get(ctx, ids[299])
	if err != nil {
		t.Fatal(err)
	}
	if a.SessionID != b.SessionID || len(a.Transcript) != 1801 || len(b.Transcript) != 1801 || a.SessionMessages != 300 {
		t.Errorf("session %d/%d, transcripts %d/%d events, %d messages", a.SessionID, b.SessionID, len(a.Transcript), len(b.Transcript), a.SessionMessages)
	}
	own := ""
	for _, e := range b.OwnTranscript() {
		own += e.Text + "\n"
	}
	if !strings.HasPrefix(own, "EHLO herald\n") || !strings.Contains(own, "RCPT TO:<rcpt299@") || strings.Contains(own, "rcpt200@") || len(b.OwnTranscript()) > 13 {
		t.Errorf("message 299's own transcript:\n%s", own)
	}
	if a.Transcript[5].Text != s.Transcript[5].Text || !a.Transcript[5].Time.Equal(s.Transcript[5].Time) {
		t.Errorf("transcript event 5 = %+v, want %+v", a.Transcript[5], s.Transcript[5])
	}
	if raw := len(s.Transcript) * 40; blob > raw/3 {
		t.Errorf("the transcript takes %d bytes: not compressed", blob)
	}
	// Bodies over a kilobyte are compressed and come back whole.
	var out bytes.Buffer
	if err := l.Export(ctx, ids[7], &out); err != nil || !bytes.Equal(out.Bytes(), s.Messages[7].Body) {
		t.Errorf("export of a compressed body: %d bytes, %v", out.Len(), err)
	}
	if a.QueueItem != 1 || a.Queued.After(a.Started) || a.State != history.Sent || b.State != history.Sent {
		t.Errorf("first record %+v", a)
	}
	if r, _ := l.Get(ctx, ids[7]); r.State != history.Failed || r.Code != 554 || r.Stage != "data" || r.Error == "" {
		t.Errorf("failed record = %+v", r)
	}
}

func TestQueries(t *testing.T) {
	l, _ := openLog(t, history.Options{})
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	add := func(at time.Time, profile, from, to, subject string, st history.State) int64 {
		t.Helper()
		ids, err := l.Record(ctx, history.SessionRecord{Started: at, Finished: at, Profile: profile, Server: "mx:25",
			Messages: []history.MessageRecord{{From: from, To: []string{to}, Subject: subject, State: st, Body: msg(subject, to)}}})
		if err != nil {
			t.Fatal(err)
		}
		return ids[0]
	}
	add(base, "work", "ann@work.test", "Bob@Example.com", "Budget 100% final", history.Sent)
	add(base.Add(time.Hour), "work", "ann@work.test", "carol@example.org", "Lunch", history.Failed)
	add(base.Add(2*time.Hour), "home", "me@home.test", "dan_x@example.net", "Photos", history.Sent)
	add(base.Add(24*time.Hour), "home", "me@home.test", "bob@example.com", "More photos", history.Deferred)
	count := func(q history.Query) int {
		t.Helper()
		n, err := l.Count(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != n {
			t.Fatalf("%+v: list gives %d, count %d", q, len(p.Records), n)
		}
		return n
	}
	for name, c := range map[string]struct {
		q    history.Query
		want int
	}{
		"all":                 {history.Query{}, 4},
		"search any case":     {history.Query{Search: "BOB@example"}, 2},
		"search subject":      {history.Query{Search: "photos"}, 2},
		"search message id":   {history.Query{Search: "<lunch@"}, 1},
		"percent is literal":  {history.Query{Search: "100%"}, 1},
		"underscore literal":  {history.Query{Search: "n_x"}, 1},
		"percent alone":       {history.Query{Search: "%"}, 1},
		"recipient only":      {history.Query{Recipient: "bob@"}, 2},
		"recipient not from":  {history.Query{Recipient: "ann@"}, 0},
		"sender":              {history.Query{Sender: "me@home"}, 2},
		"subject":             {history.Query{Subject: "budget"}, 1},
		"profile":             {history.Query{Profile: "work"}, 2},
		"states":              {history.Query{States: []history.State{history.Failed, history.Deferred}}, 2},
		"profile+state":       {history.Query{Profile: "home", States: []history.State{history.Sent}}, 1},
		"date range":          {history.Query{Since: base.Add(30 * time.Minute), Until: base.Add(3 * time.Hour)}, 2},
		"range+profile+state": {history.Query{Profile: "work", States: []history.State{history.Sent}, Since: base, Until: base.Add(time.Minute)}, 1},
		"no match":            {history.Query{Search: "zebra"}, 0},
		"search+profile":      {history.Query{Search: "example", Profile: "home"}, 2},
		"search+state+range":  {history.Query{Search: "example", States: []history.State{history.Sent}, Since: base.Add(time.Minute)}, 1},
		"search+recipient":    {history.Query{Search: "photos", Recipient: "bob"}, 1},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("%s: %d records, want %d", name, got, c.want)
		}
	}
	// Newest first; pages follow each other without gaps or repeats.
	var seen []string
	q := history.Query{Limit: 3}
	for pages := 0; ; pages++ {
		p, err := l.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen = append(seen, r.Subject)
		}
		if p.Next == "" {
			break
		}
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		q.Cursor = p.Next
	}
	if got := strings.Join(seen, "|"); got != "More photos|Photos|Lunch|Budget 100% final" {
		t.Errorf("pages gave %s", got)
	}
	// The same through the search table.
	seen = nil
	q = history.Query{Search: "example", Limit: 1}
	for pages := 0; ; pages++ {
		p, err := l.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen = append(seen, r.Subject)
		}
		if p.Next == "" || pages > 5 {
			break
		}
		q.Cursor = p.Next
	}
	if got := strings.Join(seen, "|"); got != "More photos|Photos|Lunch|Budget 100% final" {
		t.Errorf("search pages gave %s", got)
	}
	if _, err := l.List(ctx, history.Query{Cursor: "nonsense"}); err == nil {
		t.Error("a bad cursor was accepted")
	}
}

func TestRetentionAndPurge(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l, st := openLog(t, history.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	ev := []transcript.Event{{Time: now, Dir: transcript.Client, Text: "EHLO x"}}
	for d := 0; d < 10; d++ {
		at := now.AddDate(0, 0, -d)
		state := history.Sent
		if d%3 == 0 {
			state = history.Failed
		}
		if _, err := l.Record(ctx, history.SessionRecord{Started: at, Finished: at, Transcript: ev,
			Messages: []history.MessageRecord{{From: "a@b.test", To: []string{"c@d.test"}, State: state, Body: msg(fmt.Sprint("day ", d), "c@d.test")}}}); err != nil {
			t.Fatal(err)
		}
	}
	total := func() int {
		n, err := l.Count(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows := func(table string) int {
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Days 9 and 8 are older than 7.5 days.
	n, err := l.Purge(ctx, now.Add(-180*time.Hour))
	if err != nil || n != 2 || total() != 8 {
		t.Fatalf("purge: %d, %v; %d left", n, err, total())
	}
	for _, tb := range []string{"history_sessions", "history_bodies", "history_rcpts", "history_search"} {
		if got := rows(tb); got != 8 {
			t.Errorf("%s has %d rows after the purge, want 8", tb, got)
		}
	}
	// Days 7 and 6 are older than 5 days; day 5 is on the boundary and stays.
	p, err := l.ApplyRetention(ctx, history.Retention{KeepDays: 5})
	if err != nil || p.Records != 2 || total() != 6 {
		t.Fatalf("keep 5 days: %+v, %v; %d left", p, err, total())
	}
	p, err = l.ApplyRetention(ctx, history.Retention{KeepMessages: 3, TranscriptsFailuresOnly: true})
	if err != nil || p.Records != 3 || total() != 3 {
		t.Fatalf("keep 3 messages: %+v, %v; %d left", p, err, total())
	}
	for _, tb := range []string{"history_sessions", "history_bodies", "history_rcpts", "history_search"} {
		if got := rows(tb); got != 3 {
			t.Errorf("%s has %d rows after the trim, want 3", tb, got)
		}
	}
	if n, err := l.Count(ctx, history.Query{Search: "c@d.test"}); err != nil || n != 3 {
		t.Errorf("search after the trim counts %d, %v; want 3", n, err)
	}
	// Left: days 0 (failed), 1 and 2 (sent); only the failure keeps its transcript.
	if p.Transcripts != 2 {
		t.Errorf("%d transcripts dropped, want 2", p.Transcripts)
	}
	page, _ := l.List(ctx, history.Query{})
	for _, r := range page.Records {
		full, err := l.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if kept := full.Transcript != nil; kept != (r.State == history.Failed) {
			t.Errorf("%s (%s): transcript kept %v", r.Subject, r.State, kept)
		}
	}
	if p, err := l.ApplyRetention(ctx, history.Retention{KeepMessages: 5}); err != nil || p.Records != 0 || total() != 3 {
		t.Errorf("keeping more than there is removed %+v, %v", p, err)
	}
	if _, err := l.ApplyRetention(ctx, history.Retention{KeepDays: -1}); err == nil {
		t.Error("a negative retention was accepted")
	}
}

func TestDaily(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	l, _ := openLog(t, history.Options{Location: loc})
	ctx := context.Background()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, loc)
	add := func(at time.Time, profile string, st history.State, wait time.Duration) {
		t.Helper()
		if _, err := l.Record(ctx, history.SessionRecord{Started: at, Finished: at, Profile: profile, ProfileName: "P " + profile,
			Messages: []history.MessageRecord{{Queued: at.Add(-wait), From: "a@b.test", To: []string{"c@d.test"}, State: st}}}); err != nil {
			t.Fatal(err)
		}
	}
	add(day.Add(1*time.Hour), "a", history.Sent, 1*time.Second)
	add(day.Add(2*time.Hour), "a", history.Sent, 3*time.Second)
	add(day.Add(3*time.Hour), "a", history.Sent, 10*time.Second)
	add(day.Add(4*time.Hour), "a", history.Failed, time.Hour)
	add(day.Add(5*time.Hour), "b", history.Deferred, 0)
	add(day.Add(23*time.Hour+30*time.Minute), "a", history.Partial, 2*time.Second) // still the 20th in UTC+2
	add(day.Add(25*time.Hour), "a", history.Sent, 4*time.Second)
	add(day.Add(-time.Hour), "a", history.Sent, 0) // before since
	days, err := l.Daily(ctx, day, "")
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, d := range days {
		got += fmt.Sprintf("%s %s %s s%d p%d d%d f%d m%s; ", d.Day.Format("01-02"), d.Profile, d.ProfileName, d.Sent, d.Partial, d.Deferred, d.Failed, d.MedianToSend)
	}
	want := "11-20 a P a s3 p1 d0 f1 m2.5s; 11-20 b P b s0 p0 d1 f0 m0s; 11-21 a P a s1 p0 d0 f0 m4s; "
	if got != want {
		t.Errorf("daily:\n got %s\nwant %s", got, want)
	}
	days, err = l.Daily(ctx, day.Add(90*time.Minute), "a")
	if err != nil || len(days) != 2 || !days[0].Day.Equal(day) || days[0].Sent != 2 || days[0].MedianToSend != 3*time.Second {
		t.Errorf("daily from 01:30: %+v, %v", days, err)
	}
	days, err = l.Daily(ctx, day, "b")
	if err != nil || len(days) != 1 || days[0].Deferred != 1 {
		t.Errorf("daily for b: %+v, %v", days, err)
	}
}

func TestSessionFailureAndScrub(t *testing.T) {
	l, st := openLog(t, history.Options{Redact: func(s string) string { return strings.ReplaceAll(s, "hunter22", "[gone]") }})
	ctx := context.Background()
	authErr := &transport.Error{Stage: transport.StageAuth, Class: transport.ClassPermanent, Kind: transport.KindReply,
		Code: 535, EnhancedCode: "5.7.8", Reply: "bad credentials for hunter22", Msg: "authentication failed"}
	lost := &transport.Error{Stage: transport.StageData, Class: transport.ClassUnknown, Kind: transport.KindUnknownAfterData, Msg: "connection lost"}
	ids, err := l.Record(ctx, history.SessionRecord{Server: "mx:587", Err: authErr, ProfileName: "hunter22's",
		Transcript: []transcript.Event{{Dir: transcript.Server, Text: "535 5.7.8 bad credentials for hunter22"}},
		Redact:     func(s string) string { return strings.ReplaceAll(s, "swordfish", "[gone]") },
		Messages: []history.MessageRecord{
			{From: "hunter22@a.test", To: []string{"b@c.test"}, Subject: "swordfish and hunter22", Body: msg("hunter22 swordfish", "b@c.test")},
			{From: "a@a.test", To: []string{"b@c.test"}, Result: &transport.Result{Stage: transport.StageData, Class: transport.ClassUnknown, Err: lost}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.State != history.Failed || r.Stage != "auth" || r.Code != 535 || r.Enhanced != "5.7.8" || r.SessionError == "" {
		t.Errorf("record after a failed session = %+v", r)
	}
	if r.Recipients[0].Accepted || r.Recipients[0].Code != 0 {
		t.Errorf("recipient = %+v, want not tried", r.Recipients[0])
	}
	if r2, _ := l.Get(ctx, ids[1]); r2.State != history.Unknown {
		t.Errorf("connection lost after data: state %s, want unknown", r2.State)
	}
	if r.From != "[gone]@a.test" || r.Subject != "[gone] and [gone]" || strings.Contains(r.Error, "hunter22") || r.ProfileName != "[gone]'s" ||
		strings.Contains(r.Transcript[0].Text, "hunter22") {
		t.Errorf("not scrubbed: %+v", r)
	}
	if l, err := l.Count(ctx, history.Query{Search: "hunter22"}); err != nil || l != 0 {
		t.Errorf("the search text keeps the secret: %d, %v", l, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(st.Path()), "h.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range []string{"hunter22", "swordfish"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains %q", f, s)
			}
		}
	}
}

func TestRecordQueuedWritesInTheBackground(t *testing.T) {
	var errs []error
	l, _ := openLog(t, history.Options{Backlog: 2, OnError: func(err error) { errs = append(errs, err) }})
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := l.RecordQueued(ctx, outboxSession(i*50, 50, "q", time.Now(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Count(ctx, history.Query{}); err != nil || n != 500 || len(errs) != 0 {
		t.Fatalf("after Close: %d records, %v, errors %v", n, err, errs)
	}
	if err := l.RecordQueued(ctx, outboxSession(0, 1, "q", time.Now(), nil)); err == nil {
		t.Error("RecordQueued after Close succeeded")
	}
}

func TestParseState(t *testing.T) {
	for in, want := range map[string]history.State{"sent": history.Sent, "FAILED": history.Failed, "partially-sent": history.Partial, " deferred ": history.Deferred} {
		if got, err := history.ParseState(in); err != nil || got != want {
			t.Errorf("ParseState(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := history.ParseState("queued"); err == nil {
		t.Error(`ParseState("queued") succeeded`)
	}
}

func TestBodyFromOutbox(t *testing.T) {
	l, st := openLog(t, history.Options{})
	ctx := context.Background()
	body := append(msg("Big one", "b@c.test"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 8000)...)
	ids, err := st.EnqueueQueueItems(ctx, time.Now(), []store.NewQueueItem{{Profile: "p", From: "a@b.test", To: []string{"b@c.test"},
		MessageID: "<Big-one@herald.test>", Subject: "Big one", Body: body}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Record(ctx, history.SessionRecord{Profile: "p", Messages: []history.MessageRecord{
		{From: "a@b.test", To: []string{"b@c.test"}, QueueItem: ids[0], BodyFromOutbox: true, State: history.Sent},
		{From: "a@b.test", To: []string{"b@c.test"}, QueueItem: ids[0] + 1, BodyFromOutbox: true, State: history.Sent},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.Export(ctx, rec[0], &out); err != nil || !bytes.Equal(out.Bytes(), body) {
		t.Fatalf("export of a body copied from the outbox: %d bytes, %v; want %d", out.Len(), err, len(body))
	}
	if r, _ := l.Get(ctx, rec[0]); r.Subject != "Big one" || r.Size != int64(len(body)) {
		t.Errorf("record = %+v", r)
	}
	if err := l.Export(ctx, rec[1], &out); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("export of a message whose outbox item is gone: %v, want ErrNotFound", err)
	}
}

func TestQueueState(t *testing.T) {
	for _, c := range []struct {
		out  store.QueueCompletion
		want history.State
		ok   bool
	}{
		{store.QueueCompletion{State: store.QueueSent, Attempted: true}, history.Sent, true},
		{store.QueueCompletion{State: store.QueueSent, Attempted: true, Rcpts: []store.RcptUpdate{{State: store.RcptAccepted}, {State: store.RcptRejected}}}, history.Partial, true},
		{store.QueueCompletion{State: store.QueueDeferred, Attempted: true}, history.Deferred, true},
		{store.QueueCompletion{State: store.QueueDeferred, Code: 421}, history.Deferred, true}, // rate limited: tried, no attempt counted
		{store.QueueCompletion{State: store.QueueFailed, Attempted: true}, history.Failed, true},
		{store.QueueCompletion{State: store.QueueUnknown, Attempted: true}, history.Unknown, true},
		{store.QueueCompletion{State: store.QueueQueued}, "", false},
	} {
		if st, ok := history.QueueState(c.out); st != c.want || ok != c.ok {
			t.Errorf("QueueState(%+v) = %q, %v; want %q, %v", c.out, st, ok, c.want, c.ok)
		}
	}
}

// TestRecordQueuedRacesClose: sessions handed over while Close runs are
// either written or refused, never lost or a panic.
func TestRecordQueuedRacesClose(t *testing.T) {
	l, _ := openLog(t, history.Options{Backlog: 1})
	ctx := context.Background()
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := l.RecordQueued(ctx, outboxSession(i, 2, "q", time.Now(), nil)); err != nil {
					return
				}
				accepted.Add(2)
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n, err := l.Count(ctx, history.Query{}); err != nil || int64(n) != accepted.Load() {
		t.Fatalf("%d records written, %d accepted (%v)", n, accepted.Load(), err)
	}
}
