package queue

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// Target is how a profile sends: the session configuration (with its
// secret) and its limits.
type Target struct {
	// Name is the profile's name, recorded in the history with its id.
	Name   string
	Config transport.Config
	// Sessions is how many sessions run at once (default 2).
	Sessions int
	// PerSession is how many messages one session carries (default 100).
	PerSession int
	// PerMinute caps the sending rate (0: no cap).
	PerMinute int
	// Retry overrides the runner's policy for this profile when set.
	Retry *RetryPolicy
	// Fallbacks are tried in order when the server cannot be reached
	// (the connect stage fails); they share Config's other settings.
	Fallbacks []transport.Config
	// Secret, when set, gives each session its password (and its
	// fallbacks'), replacing Config.Password: an OAuth2 access token,
	// renewed before it expires, for a round that outlives one. An error
	// fails the session before it connects: one with a Hint method (a
	// sign-in to renew) holds the messages with that hint, a Temporary one
	// defers them.
	Secret func(ctx context.Context) (string, error)
}

// Resolver finds the Target of a profile id. An error holds the profile's
// due items (state held) with the error as the reason, until the user
// fixes the profile and releases them.
type Resolver func(ctx context.Context, profile string) (Target, error)

// EventKind says what an Event reports.
type EventKind string

const (
	// EventState: an item changed state (Item, State, Text say how).
	EventState EventKind = "state"
	// EventSession: a session opened or closed (Text).
	EventSession EventKind = "session"
	// EventLine: one transcript line of a session (Line).
	EventLine EventKind = "line"
	// EventWarning: a message has waited longer than the warning delay, or
	// the profile is slowed down (Text).
	EventWarning EventKind = "warning"
)

// Event is something the runner did, for the window and the CLI.
type Event struct {
	Time    time.Time
	Kind    EventKind
	Profile string
	Item    int64
	State   State
	Text    string
	Line    *transcript.Event
	// Session numbers the runner's SMTP sessions from 1 (EventLine and
	// EventSession), so that a window can tell them apart; 0 elsewhere.
	Session int64
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// Resolve gives each profile's Target; required.
	Resolve Resolver
	// Retry is the default retry policy.
	Retry RetryPolicy
	// Lease is how long a claim holds without renewal (default 2 min).
	Lease time.Duration
	// Owner names this runner in claims (default host, pid and a random tag).
	Owner string
	// Poll is how often the runner looks for due items when nothing wakes
	// it (default 1 s).
	Poll time.Duration
	// DueWithin is what "empty" means for Run with untilEmpty: it returns
	// once nothing is being sent and nothing queued, scheduled or deferred
	// is due within this long (0: nothing due now). A rate-limited bulk
	// batch whose next message is a second away is not empty.
	DueWithin time.Duration
	// History, when set, records every session in the sent-mail history
	// (through its background writer): each message that got an outcome,
	// with its envelope, per-recipient result, attempt and outbox item id,
	// and the session's redacted transcript. Sessions then always keep a
	// transcript; without History they keep one only while a subscriber
	// wants the lines.
	History *history.Log
}

// Runner sends due items: it claims them under a lease, groups them by
// profile, sends many per session within each profile's limits, records
// every outcome durably as it happens, and retries temporary failures.
type Runner struct {
	q     *Queue
	o     RunnerOptions
	kick  chan struct{}
	mu    sync.Mutex
	subs  map[chan Event]bool  // value: wants transcript lines
	busy  map[string]bool      // profiles being worked on
	slow  map[string]time.Time // profiles slowed down until
	pause bool
	// sessions counts the SMTP sessions opened (Event.Session).
	sessions atomic.Int64
	// fatal is what stopped the current Run (an outcome that could not be
	// recorded); stopRun cancels that Run.
	fatal   error
	stopRun context.CancelCauseFunc
}

// NewRunner returns a runner over q.
func NewRunner(q *Queue, o RunnerOptions) *Runner {
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	return &Runner{q: q, o: o, kick: make(chan struct{}, 1), subs: map[chan Event]bool{},
		busy: map[string]bool{}, slow: map[string]time.Time{}}
}

// Subscribe returns a channel of events (with lines, the sessions'
// transcript lines too); a slow reader loses events, it never slows the
// runner. cancel ends the subscription.
func (r *Runner) Subscribe(buf int, lines bool) (<-chan Event, func()) {
	ch := make(chan Event, max(buf, 1))
	r.mu.Lock()
	r.subs[ch] = lines
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
		r.mu.Unlock()
	}
}

func (r *Runner) emit(e Event) {
	e.Time = r.q.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch, lines := range r.subs {
		if e.Kind == EventLine && !lines {
			continue
		}
		select {
		case ch <- e:
		default:
		}
	}
}

func (r *Runner) wantsLines() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, lines := range r.subs {
		if lines {
			return true
		}
	}
	return false
}

// Kick wakes the runner at once (after an enqueue or a retry).
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Pause stops claiming new items (sessions finish what they hold); Resume
// starts again.
func (r *Runner) Pause() {
	r.mu.Lock()
	r.pause = true
	r.mu.Unlock()
}

// Resume undoes Pause.
func (r *Runner) Resume() {
	r.mu.Lock()
	r.pause = false
	r.mu.Unlock()
	r.Kick()
}

// Run sends until ctx ends. It first returns to queued what a crash left
// in sending. With untilEmpty it returns once nothing is being sent and
// nothing is due within RunnerOptions.DueWithin
// (scheduled and deferred items due later stay for a later run).
func (r *Runner) Run(ctx context.Context, untilEmpty bool) error {
	if r.o.Resolve == nil {
		return errors.New("queue runner: no resolver")
	}
	if _, err := r.q.Recover(ctx, r.o.Owner); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.mu.Lock()
	r.fatal, r.stopRun = nil, cancel
	r.mu.Unlock()
	com := newCommitter(r.q.st, r.o.Owner, r.q.clock)
	defer com.close()
	var wg sync.WaitGroup
	done := make(chan struct{}, 16)
	defer wg.Wait()
	for {
		if err := r.failure(); err != nil {
			wg.Wait()
			return err
		}
		started, err := r.dispatch(ctx, &wg, done, com)
		if err != nil {
			return err
		}
		if untilEmpty && !started && r.idle() {
			next, ok, err := r.q.st.NextQueueDue(ctx)
			if err != nil || !ok || next.Sub(r.q.clock.Now()) > r.o.DueWithin {
				return r.failure()
			}
		}
		wait := r.o.Poll
		if next, ok, err := r.q.st.NextQueueDue(ctx); err == nil && ok {
			if d := next.Sub(r.q.clock.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return r.failure()
		case <-r.kick:
		case <-done:
		case <-r.q.clock.After(wait):
		}
	}
}

// fail stops the current Run because err makes further sending unsafe.
func (r *Runner) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = fmt.Errorf("%w; stopped sending to avoid duplicates", err)
	}
	stop := r.stopRun
	r.mu.Unlock()
	if stop != nil {
		stop(err)
	}
}

// failure returns what stopped the current Run, or nil.
func (r *Runner) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *Runner) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.busy) == 0
}

// dispatch starts a worker for every profile with due items that has none.
func (r *Runner) dispatch(ctx context.Context, wg *sync.WaitGroup, done chan<- struct{}, com *committer) (bool, error) {
	r.mu.Lock()
	paused := r.pause
	r.mu.Unlock()
	if paused {
		return false, nil
	}
	now := r.q.clock.Now()
	profiles, err := r.q.st.DueQueueProfiles(ctx, now)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	started := false
	for _, p := range profiles {
		r.mu.Lock()
		if r.busy[p] || r.slow[p].After(now) {
			r.mu.Unlock()
			continue
		}
		r.busy[p] = true
		r.mu.Unlock()
		started = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx, p, com)
			r.mu.Lock()
			delete(r.busy, p)
			r.mu.Unlock()
			select {
			case done <- struct{}{}:
			default:
			}
		}()
	}
	return started, nil
}

// work sends the due items of one profile over its sessions.
func (r *Runner) work(ctx context.Context, profile string, com *committer) {
	t, err := r.o.Resolve(ctx, profile)
	if err != nil {
		r.holdAll(ctx, profile, err)
		return
	}
	if t.Sessions <= 0 {
		t.Sessions = 2
	}
	if t.PerSession <= 0 {
		t.PerSession = 100
	}
	policy := r.o.Retry
	if t.Retry != nil {
		policy = *t.Retry
	}
	p := &profileRun{r: r, com: com, profile: profile, t: t, policy: policy.normalized(), sec: profileSecrets(t)}
	if t.PerMinute > 0 {
		p.interval = time.Minute / time.Duration(t.PerMinute)
	}
	var wg sync.WaitGroup
	for i := 0; i < t.Sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p.session(ctx) {
			}
		}()
	}
	wg.Wait()
}

// holdAll holds every due item of a profile that cannot be resolved.
func (r *Runner) holdAll(ctx context.Context, profile string, cause error) {
	for {
		now := r.q.clock.Now()
		items, err := r.q.st.ClaimQueueItems(ctx, store.QueueClaim{Owner: r.o.Owner, Profile: profile, Now: now, LeaseUntil: now.Add(r.o.Lease), Limit: 500})
		if err != nil || len(items) == 0 {
			return
		}
		outs := make([]store.QueueCompletion, len(items))
		h := hint.Hint{Text: "The profile could not be used: correct its settings (server, password), then release the held messages.",
			Fixes: []hint.Fix{{Setting: hint.Profile, Label: "Review the profile"}, {Setting: hint.ReleaseHeld, Label: "Release the held messages"}}}
		// An error may say itself what fixes it (an OAuth2 sign-in).
		var hinter interface{ Hint() hint.Hint }
		if errors.As(cause, &hinter) {
			h = hinter.Hint()
		}
		// A temporary cause (the OAuth2 token endpoint unreachable) defers
		// instead of holding.
		var temp interface{ Temporary() bool }
		temporary := errors.As(cause, &temp) && temp.Temporary()
		for i, it := range items {
			outs[i] = store.QueueCompletion{ID: it.ID, State: string(Held), Stage: "profile", Error: cause.Error(), Hint: h.Encode()}
			if temporary {
				outs[i].State, outs[i].Next, outs[i].Hint = string(Deferred), now.Add(r.o.Retry.normalized().Backoff(it.Attempts+1)), "Could not reach the sign-in service: trying again later."
			}
			r.emit(Event{Kind: EventState, Profile: profile, Item: it.ID, State: State(outs[i].State), Text: cause.Error()})
		}
		if _, err := r.q.st.CompleteQueueItems(ctx, r.o.Owner, now, outs); err != nil {
			return
		}
	}
}

// pipelineGroup is how many messages a session pipelines at once. It
// bounds what a crash can make go out twice: at most two groups per
// session (the one on the wire and the one whose outcomes are being
// committed).
const pipelineGroup = 32

// profileRun is the state shared by one profile's sessions in one round.
type profileRun struct {
	r        *Runner
	com      *committer
	profile  string
	t        Target
	policy   RetryPolicy
	interval time.Duration       // between messages, for PerMinute
	sec      *transcript.Secrets // the profile's secrets, for redact

	mu       sync.Mutex
	nextSlot time.Time
	stopped  bool // a session-level failure or a slow-down ended the round
}

// slot waits for the profile's rate limit.
func (p *profileRun) slot(ctx context.Context) error {
	if p.interval <= 0 {
		return nil
	}
	clock := p.r.q.clock
	p.mu.Lock()
	now := clock.Now()
	at := p.nextSlot
	if at.Before(now) {
		at = now
	}
	p.nextSlot = at.Add(p.interval)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(d):
		}
	}
	return nil
}

func (p *profileRun) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

func (p *profileRun) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// session claims a batch, sends it over one session and records each
// outcome; it reports whether another batch may follow.
func (p *profileRun) session(ctx context.Context) bool {
	r := p.r
	if ctx.Err() != nil || p.isStopped() {
		return false
	}
	r.mu.Lock()
	paused := r.pause
	r.mu.Unlock()
	if paused {
		return false
	}
	clock := r.q.clock
	now := clock.Now()
	items, err := r.q.st.ClaimQueueItems(ctx, store.QueueClaim{Owner: r.o.Owner, Profile: p.profile, Now: now,
		LeaseUntil: now.Add(r.o.Lease), Limit: p.t.PerSession})
	if errors.Is(err, store.ErrReplaced) {
		r.fail(err)
	}
	if err != nil || len(items) == 0 {
		return false
	}
	sid := r.sessions.Add(1)
	pending := make(map[int64]bool, len(items))
	for _, it := range items {
		pending[it.ID] = true
	}
	var pmu sync.Mutex
	stopRenew := p.renew(ctx, pending, &pmu)
	defer stopRenew()
	// Outcomes are recorded one pipelined group at a time, by the run's
	// committer (one durable commit per message would cap a session at the
	// disk's fsync rate). A group's outcomes are committed while the next
	// group is on the wire, and group N+2 is never sent before group N is
	// durable: a crash makes at most the last two groups of each session
	// go out again (at least once, never lost).
	var buf []store.QueueCompletion
	var unsettled []*commit
	// hist collects the session's messages for the history; started is
	// when the current group went out.
	var hist []history.MessageRecord
	sessStart := clock.Now()
	groupStart := sessStart
	finish := func(it *store.ClaimedQueueItem, out store.QueueCompletion, res *transport.Result) {
		buf = append(buf, out)
		if r.o.History != nil {
			hist = p.historyMessage(hist, it, out, res, groupStart)
		}
	}
	// submit hands the group's outcomes to the committer.
	submit := func() {
		if len(buf) > 0 {
			unsettled = append(unsettled, p.com.submit(buf))
			buf = nil
		}
	}
	// settle waits until at most keep commits are outstanding; false means
	// one failed and the run is stopping.
	settle := func(keep int) bool {
		ok := true
		for len(unsettled) > keep {
			cm := unsettled[0]
			unsettled = unsettled[1:]
			<-cm.done
			if cm.err != nil {
				r.fail(cm.err)
				ok = false
				continue
			}
			pmu.Lock()
			for _, o := range cm.outs {
				delete(pending, o.ID)
			}
			pmu.Unlock()
			for _, o := range cm.outs {
				r.emit(Event{Kind: EventState, Profile: p.profile, Item: o.ID, State: State(o.State), Text: stateText(o)})
			}
		}
		return ok
	}
	// sessErr, server and tlsInfo describe the session for the history.
	var sessErr error
	var server string
	var tlsInfo *transport.TLSInfo
	var rec *transcript.Recorder
	defer func() {
		submit()
		settle(0)
		if r.o.History != nil && len(hist) > 0 {
			p.record(ctx, rec, history.SessionRecord{Started: sessStart, Finished: clock.Now(), Server: server, TLS: tlsInfo, Err: sessErr, Messages: hist})
		}
	}()
	// release hands claimed items back untouched (no attempt, last failure
	// kept): due at next, or now.
	release := func(its []*store.ClaimedQueueItem, next time.Time) {
		if len(its) == 0 {
			return
		}
		state := Queued
		if now := clock.Now(); next.After(now) {
			state = Deferred
		} else {
			next = now
		}
		ids := make([]int64, len(its))
		for k, it := range its {
			ids[k] = it.ID
		}
		if err := r.q.st.ReleaseQueueClaims(context.WithoutCancel(ctx), r.o.Owner, ids, string(state), next, clock.Now()); err != nil {
			r.emit(Event{Kind: EventWarning, Profile: p.profile, Text: "could not hand back " + strconv.Itoa(len(ids)) + " message(s): " + err.Error()})
		}
		pmu.Lock()
		for _, id := range ids {
			delete(pending, id)
		}
		pmu.Unlock()
	}
	giveBack := func(from int, next time.Time) {
		var its []*store.ClaimedQueueItem
		for i := from; i < len(items); i++ {
			its = append(its, &items[i])
		}
		release(its, next)
	}

	cfg := p.t.Config
	fallbacks := p.t.Fallbacks
	if p.t.Secret != nil {
		pw, err := p.t.Secret(ctx)
		if err != nil {
			if ctx.Err() != nil {
				giveBack(0, time.Time{}) // shutting down: nothing was tried
				return false
			}
			p.sessionFailed(ctx, items, err, finish)
			return false
		}
		p.sec.Add(pw)
		cfg.Password = pw
		fallbacks = slices.Clone(fallbacks)
		for i := range fallbacks {
			fallbacks[i].Password = pw
		}
	}
	if lines := r.wantsLines(); lines || r.o.History != nil {
		// The history keeps every session's transcript; without it, a
		// transcript is kept only while someone watches the sessions live,
		// which keeps bulk sending cheap.
		rec = transcript.New()
		cfg.Transcript = rec
		if cfg.Password != "" {
			rec.AddSecret(cfg.Password)
		}
		if lines {
			sub := rec.Subscribe(1024, false)
			go func() {
				for e := range sub.C() {
					r.emit(Event{Kind: EventLine, Profile: p.profile, Line: &e, Session: sid})
				}
			}()
		}
		defer rec.Finish()
	}
	dial := func(cfg transport.Config) (*transport.Client, error) { return transport.Dial(ctx, cfg) }
	c, cfg, err := transport.WithFallbacks(ctx, cfg, fallbacks, dial, func(from, to transport.Config, err error) {
		r.emit(Event{Kind: EventSession, Profile: p.profile, Session: sid, Text: fmt.Sprintf("%s:%d unreachable (%v): trying the fallback %s:%d", from.Host, from.Port, err, to.Host, to.Port)})
	})
	server = net.JoinHostPort(cfg.Host, strconv.Itoa(cmp.Or(cfg.Port, transport.DefaultPort(cfg.TLS))))
	if err != nil {
		sessErr = err
		var te *transport.Error
		if errors.As(err, &te) && te.Kind == transport.KindCanceled {
			giveBack(0, time.Time{}) // shutting down: nothing was tried
			return false
		}
		p.sessionFailed(ctx, items, err, finish)
		return false
	}
	r.emit(Event{Kind: EventSession, Profile: p.profile, Session: sid, Text: fmt.Sprintf("session to %s:%d open for %d message(s)", cfg.Host, cfg.Port, len(items))})
	defer c.Quit()
	tlsInfo = c.TLSInfo()
	// Without a per-minute limit, messages go in groups that the session
	// pipelines (each body and final dot with the next message's commands);
	// with one, one at a time.
	group := pipelineGroup
	if p.interval > 0 {
		group = 1
	}
	for i := 0; i < len(items); {
		if ctx.Err() != nil {
			giveBack(i, time.Time{})
			return false
		}
		if err := p.slot(ctx); err != nil {
			giveBack(i, time.Time{})
			return false
		}
		var envs []transport.Envelope
		var bodies []io.Reader
		var sent []*store.ClaimedQueueItem
		for ; i < len(items) && len(sent) < group; i++ {
			it := &items[i]
			if len(it.Recipients) == 0 {
				finish(it, store.QueueCompletion{ID: it.ID, State: string(Sent)}, nil)
				continue
			}
			var body io.Reader
			if it.Body != nil {
				body = bytes.NewReader(it.Body)
			} else {
				b, err := r.q.st.OpenQueueBody(ctx, it.ID)
				if err != nil {
					finish(it, store.QueueCompletion{ID: it.ID, State: string(Queued), Next: clock.Now().Add(time.Minute), Error: err.Error()}, nil)
					continue
				}
				body = b
			}
			to := make([]string, len(it.Recipients))
			for j, rc := range it.Recipients {
				to[j] = rc.Addr
			}
			envs, bodies, sent = append(envs, transport.Envelope{From: it.From, To: to, DSN: ItemDSN(it.DSN)}), append(bodies, body), append(sent, it)
		}
		submit()
		if len(sent) == 0 {
			continue
		}
		// Group N+2 goes out only once group N is durable.
		if !settle(1) {
			release(sent, time.Time{})
			giveBack(i, time.Time{})
			return false
		}
		groupStart = clock.Now()
		results, _ := c.SendMany(ctx, envs, bodies)
		var slowed time.Time
		var notSent []*store.ClaimedQueueItem
		for k, it := range sent {
			res := results[k]
			var te *transport.Error
			if errors.As(res.Err, &te) && (te.Kind == transport.KindNotSent || te.Kind == transport.KindCanceled) {
				// Never reached the server: back to the queue as it was.
				notSent = append(notSent, it)
				continue
			}
			out := p.outcome(it, res)
			if !res.OK && isRateLimit(res.Code, res.EnhancedCode, errText(res.Err)) {
				// Not the message's fault: wait without counting an attempt.
				if slowed.IsZero() {
					slowed = p.slowDown(res)
				}
				out.State, out.Next, out.Attempted = string(Deferred), slowed, false
			}
			finish(it, out, res)
		}
		submit()
		release(notSent, slowed)
		if !slowed.IsZero() {
			giveBack(i, slowed)
			return false
		}
		if !c.Usable() {
			giveBack(i, time.Time{})
			return true
		}
	}
	r.emit(Event{Kind: EventSession, Profile: p.profile, Session: sid, Text: "session closed"})
	return true
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// renew extends the leases of the items still pending until stopped.
func (p *profileRun) renew(ctx context.Context, pending map[int64]bool, mu *sync.Mutex) func() {
	stop := make(chan struct{})
	go func() {
		clock := p.r.q.clock
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-clock.After(p.r.o.Lease / 3):
			}
			mu.Lock()
			ids := make([]int64, 0, len(pending))
			for id := range pending {
				ids = append(ids, id)
			}
			mu.Unlock()
			p.r.q.st.RenewQueueLeases(ctx, p.r.o.Owner, ids, clock.Now().Add(p.r.o.Lease))
		}
	}()
	return func() { close(stop) }
}

// sessionFailed records a failure before any message could be sent: a
// temporary one defers the whole batch, a permanent one (wrong password,
// certificate, policy) holds it for the user to fix and release.
func (p *profileRun) sessionFailed(ctx context.Context, items []store.ClaimedQueueItem, err error, finish func(*store.ClaimedQueueItem, store.QueueCompletion, *transport.Result)) {
	p.stop()
	res := &transport.Result{}
	var te *transport.Error
	if errors.As(err, &te) {
		res.Stage, res.Class, res.Code, res.EnhancedCode, res.Err = te.Stage, te.Class, te.Code, te.EnhancedCode, err
	} else {
		res.Class, res.Err = transport.ClassTemporary, err
	}
	// An error that says itself what fixes it (an OAuth2 sign-in) holds,
	// unless it is temporary.
	var hinter interface{ Hint() hint.Hint }
	var temp interface{ Temporary() bool }
	own := te == nil && errors.As(err, &hinter)
	if own && !(errors.As(err, &temp) && temp.Temporary()) {
		res.Class = transport.ClassPermanent
	}
	var slowUntil time.Time
	if isRateLimit(res.Code, res.EnhancedCode, err.Error()) {
		slowUntil = p.slowDown(res)
	}
	for i := range items {
		it := &items[i]
		out := p.outcome(it, res)
		if !slowUntil.IsZero() {
			out.State, out.Next, out.Attempted = string(Deferred), slowUntil, false
		}
		if res.Class == transport.ClassPermanent && own {
			out.State, out.Hint = string(Held), hinter.Hint().Encode()
		} else if res.Class == transport.ClassPermanent {
			out.State = string(Held)
			h := transport.HintFor(err)
			h.Text = p.redact(strings.TrimSpace(h.Text + " Then release the held messages."))
			out.Hint = hint.Hint{Text: h.Text, Fixes: append(h.Fixes, hint.Fix{Setting: hint.ReleaseHeld, Label: "Release the held messages"}), Link: h.Link}.Encode()
		}
		finish(it, out, nil) // the history takes the session's error
	}
}

// historyMessage appends item it's outcome to the session's history
// records, when it was a delivery attempt (or a server's slow-down reply);
// started is when its group went out.
func (p *profileRun) historyMessage(hist []history.MessageRecord, it *store.ClaimedQueueItem, out store.QueueCompletion, res *transport.Result, started time.Time) []history.MessageRecord {
	st, ok := history.QueueState(out)
	if !ok || (!out.Attempted && out.Code == 0) {
		return hist
	}
	to := make([]string, len(it.Recipients))
	for j, rc := range it.Recipients {
		to[j] = rc.Addr
	}
	m := history.MessageRecord{Queued: it.Created, Started: started, Finished: p.r.q.clock.Now(),
		MessageID: it.MessageID, Subject: it.Subject, From: it.From, To: to, Body: it.Body, Result: res,
		State: st, Error: out.Error, Attempt: it.Attempts + 1, QueueItem: it.ID}
	if it.Body == nil {
		m.BodyFromOutbox = true
	}
	return append(hist, m)
}

// record hands a finished session to the history's background writer,
// with its transcript (when rec kept one) scrubbed of the profile's
// secrets. A transcript the history would drop (every message sent, and
// transcripts kept for failures only) is not copied.
func (p *profileRun) record(ctx context.Context, rec *transcript.Recorder, s history.SessionRecord) {
	s.Profile, s.ProfileName = p.profile, p.t.Name
	s.Redact = p.redact
	if rec != nil {
		keep := true
		if p.r.o.History.TranscriptsFailuresOnly() && s.Err == nil {
			keep = false
			for _, m := range s.Messages {
				if m.State != history.Sent {
					keep = true
					break
				}
			}
		}
		if keep {
			s.Transcript = rec.Events()
			s.Redact = func(text string) string { return rec.Redact(p.redact(text)) }
		}
	}
	if err := p.r.o.History.RecordQueued(context.WithoutCancel(ctx), s); err != nil {
		p.r.emit(Event{Kind: EventWarning, Profile: p.profile, Text: "not recorded in the history: " + err.Error()})
	}
}

// profileSecrets is the set of the target's secrets (its own and its
// fallbacks' passwords or tokens), in every form.
func profileSecrets(t Target) *transcript.Secrets {
	sec := transcript.NewSecrets()
	sec.Add(t.Config.Password)
	for _, fb := range t.Fallbacks {
		sec.Add(fb.Password)
	}
	return sec
}

// redact removes the profile's secrets, in every form Herald derives from
// them and by the rule of transcript.Secrets (short ones as whole words),
// from text that will be stored (a server may echo what it was sent). The
// transport has already redacted its results of these and of every SASL
// payload it sent; this is the store's own guard.
func (p *profileRun) redact(text string) string {
	return p.sec.Redact(text)
}

// slowDown pauses the profile after a 421 or a rate-limit reply.
func (p *profileRun) slowDown(res *transport.Result) time.Time {
	p.stop()
	d := 30 * time.Second
	r := p.r
	r.mu.Lock()
	until := r.q.clock.Now().Add(d)
	r.slow[p.profile] = until
	r.mu.Unlock()
	r.emit(Event{Kind: EventWarning, Profile: p.profile, Text: fmt.Sprintf("the server asked to slow down (%d %s): pausing this profile for %s", res.Code, res.EnhancedCode, d)})
	return until
}

// outcome turns a send result into the item's new state and recipients.
func (p *profileRun) outcome(it *store.ClaimedQueueItem, res *transport.Result) store.QueueCompletion {
	now := p.r.q.clock.Now()
	out := store.QueueCompletion{ID: it.ID, Attempted: true}
	byAddr := map[string]transport.RecipientResult{}
	for _, rr := range res.Recipients {
		byAddr[rr.Addr] = rr
	}
	pendingLeft := 0
	for _, rc := range it.Recipients {
		rr, ok := byAddr[rc.Addr]
		switch {
		case ok && rr.Accepted && res.OK:
			out.Rcpts = append(out.Rcpts, store.RcptUpdate{Addr: rc.Addr, State: store.RcptAccepted, Code: rr.Code, Enhanced: rr.EnhancedCode, Message: p.redact(rr.Message)})
		case ok && !rr.Accepted && rr.Code >= 500:
			out.Rcpts = append(out.Rcpts, store.RcptUpdate{Addr: rc.Addr, State: store.RcptRejected, Code: rr.Code, Enhanced: rr.EnhancedCode, Message: p.redact(rr.Message)})
		case ok && !rr.Accepted:
			out.Rcpts = append(out.Rcpts, store.RcptUpdate{Addr: rc.Addr, State: store.RcptPending, Code: rr.Code, Enhanced: rr.EnhancedCode, Message: p.redact(rr.Message)})
			pendingLeft++
		default:
			pendingLeft++ // not tried, or the attempt failed before RCPT
		}
	}
	if res.Err != nil {
		out.Stage, out.Code, out.Enhanced = string(res.Stage), res.Code, res.EnhancedCode
		out.Error, out.Hint = p.redact(res.Err.Error()), p.redact(transport.Hint(res.Err))
	}
	retryAt := func() time.Time { return now.Add(p.policy.Backoff(it.Attempts + 1)) }
	switch {
	case res.OK && pendingLeft == 0:
		// The last reply is the server's to the final dot ("250 2.0.0 Ok:
		// queued as 4F1A2"), kept as a failure's reply is (the outbox shows
		// it); Report tells a sent item's reply from a failure by the state.
		out.State = string(Sent)
		out.Stage, out.Code, out.Enhanced, out.Error, out.Hint = "", res.Code, res.EnhancedCode, p.redact(res.QueuedAs), ""
		if anyRejected(out.Rcpts) {
			out.Error = strings.TrimSpace(out.Error + " (some recipients were rejected)")
		}
	case res.OK:
		// Accepted for some; the others got a 4xx: retry only those.
		out.State, out.Next = string(Deferred), retryAt()
		out.Error = "some recipients were deferred"
	case res.Class == transport.ClassUnknown:
		out.State = string(Unknown)
	case res.Class == transport.ClassPermanent && !(res.Stage == transport.StageRcpt && pendingLeft > 0):
		out.State = string(Failed)
	case pendingLeft == 0:
		// Every recipient was refused for good at RCPT.
		out.State = string(Failed)
	default:
		out.State, out.Next = string(Deferred), retryAt()
	}
	if out.State == string(Deferred) {
		if now.Sub(it.Created) >= p.policy.GiveUpAfter {
			out.State, out.Next = string(Failed), time.Time{}
			out.Error = fmt.Sprintf("gave up after %s of retries; last error: %s", p.policy.GiveUpAfter, out.Error)
		} else if p.policy.WarnAfter > 0 && !it.Warned && now.Sub(it.Created) >= p.policy.WarnAfter {
			out.Warned = true
			p.r.emit(Event{Kind: EventWarning, Profile: p.profile, Item: it.ID,
				Text: fmt.Sprintf("message %d (%s) is delayed: not delivered after %s; Herald keeps trying until %s", it.ID, it.Subject, now.Sub(it.Created).Round(time.Minute), it.Created.Add(p.policy.GiveUpAfter).Format(time.DateTime))})
		}
	}
	return out
}

func anyRejected(rs []store.RcptUpdate) bool {
	for _, r := range rs {
		if r.State == store.RcptRejected {
			return true
		}
	}
	return false
}

func stateText(out store.QueueCompletion) string {
	switch State(out.State) {
	case Sent:
		return "sent"
	case Deferred:
		return fmt.Sprintf("deferred until %s: %s", out.Next.Format(time.TimeOnly), out.Error)
	}
	return out.Error
}
