package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
)

// TestRunnerNumbersItsSessions: every line and session event carries the
// number of its SMTP session, so a live log can tell the sessions apart.
func TestRunnerNumbersItsSessions(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	q, _ := openQueue(t, nil)
	var ms []Message
	for i := range 25 {
		ms = append(ms, msgTo(t, "p1", fmt.Sprintf("r%d@herald.test", i)))
	}
	if _, err := q.EnqueueBatch(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	r := NewRunner(q, RunnerOptions{Resolve: resolverFor(s)})
	events, cancel := r.Subscribe(10000, true)
	defer cancel()
	runUntilEmpty(t, r)
	lines := map[int64]int{}
	opened := map[int64]bool{}
	for len(events) > 0 {
		e := <-events
		switch e.Kind {
		case EventLine:
			if e.Session == 0 {
				t.Fatalf("a line without its session: %+v", e.Line)
			}
			lines[e.Session]++
		case EventSession:
			if e.Session == 0 {
				t.Fatalf("a session event without its number: %s", e.Text)
			}
			opened[e.Session] = true
		}
	}
	if len(lines) < 3 || len(opened) != len(lines) {
		t.Fatalf("lines per session %v, sessions seen %v", lines, opened)
	}
	for sid, n := range lines {
		if n < 10 {
			t.Fatalf("session %d has %d lines", sid, n)
		}
	}
}
