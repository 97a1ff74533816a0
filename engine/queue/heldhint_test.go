package queue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestHeldHintsAreData checks what the runner stores for held messages: a
// hint whose text names no command and whose fixes say what to change and
// that the messages must then be released.
func TestHeldHintsAreData(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, User: "ann", Pass: "right-pass"})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	ids, err := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "b@herald.test"), msgTo(t, "ghost", "d@herald.test")})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(ctx context.Context, profile string) (Target, error) {
		if profile != "p1" {
			return Target{}, errors.New("profile ghost does not exist")
		}
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSImplicit, RootCAs: ca.Pool,
			Auth: transport.AuthPlain, Username: "ann", Password: "wrong-pass", Timeout: 5 * time.Second}}, nil
	}
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolve}))
	has := func(h hint.Hint, s hint.Setting) bool {
		return slices.ContainsFunc(h.Fixes, func(f hint.Fix) bool { return f.Setting == s })
	}
	for i, want := range []hint.Setting{hint.Password, hint.Profile} {
		it, err := q.Get(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		h := hint.Decode(it.Hint)
		if State(it.State) != Held || h.Text == "" || !has(h, hint.ReleaseHeld) || !has(h, want) {
			t.Errorf("item %d: %s, hint %+v: want held with fixes %s and %s", ids[i], it.State, h, want, hint.ReleaseHeld)
		}
		if strings.Contains(h.Text, "herald ") || strings.Contains(h.Text, "--") {
			t.Errorf("item %d: the stored hint names a command: %q", ids[i], h.Text)
		}
		if rep := Report(it); strings.Contains(rep, "{") || !strings.Contains(rep, "What to try: "+h.Text) {
			t.Errorf("item %d: report shows the hint as %q", ids[i], rep)
		}
	}
}
