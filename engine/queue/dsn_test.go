package queue

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestRunnerSendsEachItemsDSN: three queued messages of one profile, each
// with its own notification request (one with none), go out in one session
// each with its own parameters; a deferred one retried keeps its request.
func TestRunnerSendsEachItemsDSN(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	one := msgTo(t, "p1", "one@herald.test")
	one.DSN = &transport.DSN{Notify: []string{"success", "failure"}, Return: "HDRS", EnvID: "id+1=2"}
	two := msgTo(t, "p1", "two@herald.test")
	two.DSN = &transport.DSN{Notify: []string{"NEVER"}, EnvID: "second"}
	three := msgTo(t, "p1", "three@herald.test")
	ids, err := q.EnqueueBatch(ctx, []Message{one, two, three})
	if err != nil {
		t.Fatal(err)
	}
	it, err := q.Get(ctx, ids[0])
	if err != nil || it.DSN != (store.QueueDSN{Notify: "SUCCESS,FAILURE", Return: "hdrs", EnvID: "id+1=2"}) {
		t.Fatalf("stored %+v, %v", it.DSN, err)
	}
	s.SetRefuseRcpt("two@herald.test", &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "try later"})
	cfg := transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, Auth: transport.AuthNone, Timeout: 5 * time.Second}
	r := NewRunner(q, RunnerOptions{Resolve: func(ctx context.Context, profile string) (Target, error) {
		return Target{Config: cfg, Sessions: 1, PerSession: 10}, nil
	}})
	events, cancel := r.Subscribe(10000, true)
	defer cancel()
	runUntilEmpty(t, r)
	var lines []string
	sessions := map[int64]bool{}
	for len(events) > 0 {
		e := <-events
		if e.Kind == EventLine {
			lines = append(lines, e.Line.Text)
			sessions[e.Session] = true
		}
	}
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	wire := strings.Join(lines, "\n")
	for _, want := range []string{" RET=HDRS ENVID=id+2B1+3D2\n", "RCPT TO:<one@herald.test> NOTIFY=SUCCESS,FAILURE\n",
		" ENVID=second\n", "RCPT TO:<two@herald.test> NOTIFY=NEVER\n", "RCPT TO:<three@herald.test>\n"} {
		if !strings.Contains(wire+"\n", want) {
			t.Errorf("the wire lacks %q:\n%s", want, wire)
		}
	}
	got := s.Messages()
	if len(got) != 2 || got[0].Mail.EnvelopeID != "id+1=2" || got[0].Mail.Return != smtp.DSNReturnHeaders ||
		len(got[0].Rcpt) != 1 || len(got[0].Rcpt[0].Notify) != 2 || got[1].Mail.EnvelopeID != "" || got[1].Rcpt[0].Notify != nil {
		t.Fatalf("server got %+v", got)
	}
	if it, _ := q.Get(ctx, ids[1]); it.State != string(Deferred) {
		t.Fatalf("second item %s, want deferred", it.State)
	}
	s.SetRefuseRcpt("two@herald.test", nil)
	for _, op := range []func(context.Context, int64) error{q.Hold, q.Release, q.Retry} {
		if err := op(ctx, ids[1]); err != nil {
			t.Fatal(err)
		}
	}
	runUntilEmpty(t, r)
	got = s.Messages()
	if len(got) != 3 || got[2].Mail.EnvelopeID != "second" || len(got[2].Rcpt) != 1 || fmt.Sprint(got[2].Rcpt[0].Notify) != "[NEVER]" {
		t.Fatalf("retried message: %+v", got[len(got)-1])
	}
}

// TestEnqueueRefusesABadDSN: a request ParseDSN refuses stores nothing, not
// even the valid messages of the same batch.
func TestEnqueueRefusesABadDSN(t *testing.T) {
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	good := msgTo(t, "p1", "a@herald.test")
	good.DSN = &transport.DSN{Notify: []string{"FAILURE"}}
	for _, d := range []*transport.DSN{
		{Notify: []string{"NEVER", "FAILURE"}},
		{Return: "body"},
		{EnvID: "has space"},
		{Notify: []string{"FAILURE\r\nDATA"}},
	} {
		bad := msgTo(t, "p1", "b@herald.test")
		bad.DSN = d
		if _, err := q.EnqueueBatch(ctx, []Message{good, bad}); err == nil || !strings.Contains(err.Error(), "DSN") {
			t.Fatalf("%+v: err %v", d, err)
		}
		if _, err := q.EnqueueBatchProgress(ctx, []Message{good, bad}, nil); err == nil {
			t.Fatalf("%+v: batch with progress stored", d)
		}
	}
	if n, _ := q.Counts(ctx); len(n) != 0 {
		t.Fatalf("stored %v", n)
	}
}
