package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestRunnerRecordsHistory sends queued messages through a real SMTP
// server and checks each attempt in the history: the envelope, the
// per-recipient outcome, the outbox item, the transcript; a deferred
// attempt and its retry are two records.
func TestRunnerRecordsHistory(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"gone@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@herald.test": {Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	}})
	clock := newFakeClock()
	q, _ := openQueue(t, clock)
	hist := history.New(q.st, history.Options{OnError: func(err error) { t.Error(err) }})
	ctx := context.Background()
	okID, err := q.Enqueue(ctx, msgTo(t, "p1", "ok@herald.test"))
	if err != nil {
		t.Fatal(err)
	}
	mixID, err := q.Enqueue(ctx, msgTo(t, "p1", "ok@herald.test", "gone@herald.test", "busy@herald.test"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s), History: hist})
	runUntilEmpty(t, r)
	s.SetRefuseRcpt("busy@herald.test", nil)
	clock.Advance(time.Minute)
	runUntilEmpty(t, r)
	hist.Close() // writes what is pending

	page, err := hist.List(ctx, history.Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	byItem := map[int64][]history.Record{}
	for _, rec := range page.Records {
		byItem[rec.QueueItem] = append(byItem[rec.QueueItem], rec)
	}
	if len(page.Records) != 3 || len(byItem[okID]) != 1 || len(byItem[mixID]) != 2 {
		t.Fatalf("records %+v", page.Records)
	}
	sent, err := hist.Get(ctx, byItem[okID][0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if sent.State != history.Sent || sent.Attempt != 1 || sent.ProfileName != "" && sent.Profile != "p1" || sent.Profile != "p1" ||
		sent.Server != s.Addr || len(sent.Recipients) != 1 || !sent.Recipients[0].Accepted || sent.Size == 0 {
		t.Errorf("sent record %+v", sent)
	}
	if !hasLine(sent, "MAIL FROM:<a@herald.test>") || !hasLine(sent, "QUIT") {
		t.Errorf("transcript of the sent message: %v", sent.Transcript)
	}
	// Newest first: the retry, then the first attempt.
	retry, first := byItem[mixID][0], byItem[mixID][1]
	if first.State != history.Deferred || first.Attempt != 1 || retry.State != history.Sent || retry.Attempt != 2 {
		t.Fatalf("attempts: first %s #%d, retry %s #%d", first.State, first.Attempt, retry.State, retry.Attempt)
	}
	f, err := hist.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[string]history.Recipient{}
	for _, rc := range f.Recipients {
		outcome[rc.Addr] = rc
	}
	if !outcome["ok@herald.test"].Accepted || outcome["gone@herald.test"].Code != 550 || outcome["busy@herald.test"].Code != 450 ||
		!strings.Contains(outcome["busy@herald.test"].Message, "mailbox busy") {
		t.Errorf("first attempt's recipients %+v", f.Recipients)
	}
	if !hasLine(f, "RCPT TO:<busy@herald.test>") {
		t.Errorf("first attempt's transcript: %v", f.Transcript)
	}
	rt, err := hist.Get(ctx, retry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.To) != 1 || rt.To[0] != "busy@herald.test" || !rt.Recipients[0].Accepted || rt.QueueItem != mixID {
		t.Errorf("retry %+v", rt)
	}
	var eml strings.Builder
	if err := hist.Export(ctx, retry.ID, &eml); err != nil || !strings.Contains(eml.String(), "Subject: queued") {
		t.Errorf("export: %v %q", err, eml.String())
	}
}

func hasLine(r *history.Record, text string) bool {
	for _, e := range r.Transcript {
		if strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

// TestRunnerRecordsSessionFailure: a refused password holds the messages
// and the history says why, with the session's transcript; with
// transcripts kept for failures only, a session that sent everything keeps
// none.
func TestRunnerRecordsSessionFailure(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{User: "u", Pass: "right-password", AllowInsecureAuth: true})
	q, _ := openQueue(t, newFakeClock())
	hist := history.New(q.st, history.Options{})
	hist.SetTranscriptsFailuresOnly(true)
	ctx := context.Background()
	pass := "wrong-password-123"
	resolve := func(ctx context.Context, profile string) (Target, error) {
		return Target{Name: "Work", Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, Auth: transport.AuthPlain,
			Username: "u", Password: pass, AllowInsecureAuth: true, Timeout: 5 * time.Second}}, nil
	}
	id, err := q.Enqueue(ctx, msgTo(t, "p1", "bob@herald.test"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolve, History: hist})
	runUntilEmpty(t, r)
	if it, _ := q.Get(ctx, id); State(it.State) != Held {
		t.Fatalf("state %s", it.State)
	}
	pass = "right-password"
	if err := q.Release(ctx, id); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, r)
	hist.Close()
	page, err := hist.List(ctx, history.Query{QueueItem: id, Limit: -1})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("records %+v %v", page.Records, err)
	}
	failed, err := hist.Get(ctx, page.Records[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if failed.State != history.Failed || failed.ProfileName != "Work" || failed.SessionError == "" || failed.Transcript == nil {
		t.Errorf("failed attempt %+v", failed)
	}
	if failed.Recipients[0].Accepted {
		t.Errorf("recipients %+v", failed.Recipients)
	}
	ok, err := hist.Get(ctx, page.Records[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok.State != history.Sent || ok.Transcript != nil {
		t.Errorf("sent after release: %s (%s %s), transcript kept: %v", ok.State, ok.Error, ok.SessionError, ok.Transcript != nil)
	}
	// The password is nowhere in the file.
	for _, p := range []string{"wrong-password-123", "right-password"} {
		if n, err := q.st.CountHistory(ctx, store.HistoryFilter{Search: p}); err != nil || n != 0 {
			t.Errorf("%q found in %d records (%v)", p, n, err)
		}
	}
}
