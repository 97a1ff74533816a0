package queue

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transport"
)

// signIn is an error that says what fixes it, like an OAuth2 grant gone.
type signIn struct{}

func (signIn) Error() string { return "sign in again" }
func (signIn) Hint() hint.Hint {
	return hint.Hint{Text: "Sign in again.", Fixes: []hint.Fix{{Setting: hint.OAuthSignIn, Label: "Sign in again"}}}
}

type unreachable struct{}

func (unreachable) Error() string   { return "token endpoint unreachable" }
func (unreachable) Temporary() bool { return true }

// TestTargetSecretPerSession: each session asks Target.Secret for its
// password (a renewed access token); an error with a hint holds the
// messages with it (once, no loop), a temporary one defers them, and the
// resolver's own error with a hint holds with that hint too.
func TestTargetSecretPerSession(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: "tok", AllowInsecureAuth: true})
	q, _ := openQueue(t, nil)
	ctx := context.Background()
	var calls atomic.Int32
	var mu sync.Mutex
	var failWith error
	setFail := func(err error) { mu.Lock(); failWith = err; mu.Unlock() }
	resolve := func(ctx context.Context, profile string) (Target, error) {
		if profile == "gone" {
			return Target{}, signIn{}
		}
		return Target{Config: transport.Config{Host: s.Host, Port: s.Port, TLS: transport.TLSNone, AllowInsecureAuth: true,
			Auth: transport.AuthPlain, Username: "ann", Password: "stale", Timeout: 5 * time.Second}, Sessions: 1, PerSession: 1,
			Secret: func(context.Context) (string, error) {
				calls.Add(1)
				mu.Lock()
				err := failWith
				mu.Unlock()
				if err != nil {
					return "", err
				}
				return "tok", nil
			}}, nil
	}
	if _, err := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "b@herald.test"), msgTo(t, "p1", "c@herald.test"), msgTo(t, "gone", "d@herald.test")}); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolve}))
	if len(s.Messages()) != 2 || calls.Load() < 2 {
		t.Fatalf("%d messages, %d secret calls: the sessions did not take the fresh secret", len(s.Messages()), calls.Load())
	}
	it, _ := q.Get(ctx, 3)
	if h := hint.Decode(it.Hint); State(it.State) != Held || len(h.Fixes) == 0 || h.Fixes[0].Setting != hint.OAuthSignIn {
		t.Fatalf("resolver error: %s %+v", it.State, h)
	}

	setFail(signIn{})
	ids, _ := q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "e@herald.test")})
	before := calls.Load()
	runUntilEmpty(t, NewRunner(q, RunnerOptions{Resolve: resolve}))
	it, _ = q.Get(ctx, ids[0])
	if h := hint.Decode(it.Hint); State(it.State) != Held || len(h.Fixes) == 0 || h.Fixes[0].Setting != hint.OAuthSignIn || calls.Load()-before != 1 {
		t.Fatalf("secret error: %s %+v, %d calls", it.State, h, calls.Load()-before)
	}

	setFail(unreachable{})
	ids, _ = q.EnqueueBatch(ctx, []Message{msgTo(t, "p1", "f@herald.test")})
	r := NewRunner(q, RunnerOptions{Resolve: resolve})
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	go r.Run(rctx, false)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if it, _ = q.Get(ctx, ids[0]); State(it.State) == Deferred {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if State(it.State) != Deferred {
		t.Fatalf("temporary: %s", it.State)
	}
}
