// Package queue is Herald's durable outbox: it stores rendered messages in
// engine/store before saying "queued", tracks each message (and each of its
// recipients) through the states below, retries temporary failures with
// exponential backoff, and runs the sender (Runner) that claims due items,
// groups them by profile and sends many messages per SMTP session within the
// profile's limits.
//
// States: queued (waiting, due now), scheduled (waiting for its send time),
// sending (claimed by a runner under a lease), deferred (a temporary failure;
// waits for its next retry), sent, failed (permanent), unknown (the
// connection was lost after the final dot: the server may or may not have
// taken it; the user decides), cancelled, held (paused by the user).
package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// State is the state of a queue item.
type State string

// The states of a queue item.
const (
	Queued    State = store.QueueQueued
	Scheduled State = store.QueueScheduled
	Sending   State = store.QueueSending
	Deferred  State = store.QueueDeferred
	Sent      State = store.QueueSent
	Failed    State = store.QueueFailed
	Unknown   State = store.QueueUnknown
	Cancelled State = store.QueueCancelled
	Held      State = store.QueueHeld
)

// AllStates lists every state, in the order a listing shows them.
var AllStates = []State{Queued, Scheduled, Sending, Deferred, Held, Unknown, Failed, Sent, Cancelled}

// ParseState checks a state name.
func ParseState(s string) (State, error) {
	for _, st := range AllStates {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown queue state %q", s)
}

// Item is one message in the outbox (without its body).
type Item = store.QueueItem

// Recipient is one recipient of an item and its outcome.
type Recipient = store.QueueRecipient

// ErrNotFound is wrapped by errors about items that do not exist.
var ErrNotFound = store.ErrNotFound

// ErrState is wrapped when an item is not in a state an operation applies to.
var ErrState = store.ErrQueueState

// Clock tells the time and waits; tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock returns the real clock.
func SystemClock() Clock { return systemClock{} }

// Message is a rendered message to enqueue.
type Message struct {
	// Profile names the sending profile.
	Profile string
	// From is the envelope sender.
	From string
	// To lists the envelope recipients.
	To []string
	// MessageID is the Message-ID header value.
	MessageID string
	// Subject is the decoded subject, for listings.
	Subject string
	// Body is the complete RFC 5322 message with CRLF line endings.
	Body []byte
	// SMTPUTF8 is true when the server must offer SMTPUTF8.
	SMTPUTF8 bool
	// SendAt schedules the message; zero means now.
	SendAt time.Time
	// Batch groups the messages of one bulk run; may be "".
	Batch string
	// DSN is the message's delivery status notification request, kept
	// with it in the outbox and sent with it; nil asks for none. Enqueue
	// refuses a request transport.ParseDSN would refuse.
	DSN *transport.DSN
}

// FromRendered turns a rendered message into a Message for profile.
func FromRendered(profile string, r *message.Rendered, sendAt time.Time) Message {
	return Message{
		Profile: profile, From: r.Envelope.From, To: append([]string(nil), r.Envelope.To...),
		MessageID: r.MessageID, Subject: r.Subject, Body: r.Bytes, SMTPUTF8: r.NeedsSMTPUTF8, SendAt: sendAt,
	}
}

// Queue is the outbox over a store. It is safe for concurrent use.
type Queue struct {
	st    *store.Store
	clock Clock
}

// New returns the outbox over st; a nil clock means the system clock.
func New(st *store.Store, clock Clock) *Queue {
	if clock == nil {
		clock = SystemClock()
	}
	return &Queue{st: st, clock: clock}
}

func toNew(m Message) (store.NewQueueItem, error) {
	d, err := StoredDSN(m.DSN)
	if err != nil {
		return store.NewQueueItem{}, err
	}
	return store.NewQueueItem{Profile: m.Profile, From: m.From, To: m.To, MessageID: m.MessageID,
		Subject: m.Subject, Body: m.Body, SMTPUTF8: m.SMTPUTF8, SendAt: m.SendAt, Batch: m.Batch, DSN: d}, nil
}

// toNewAll converts ms; one invalid message stores none.
func toNewAll(ms []Message) ([]store.NewQueueItem, error) {
	items := make([]store.NewQueueItem, len(ms))
	for i, m := range ms {
		it, err := toNew(m)
		if err != nil {
			return nil, fmt.Errorf("enqueue: item %d: %w", i+1, err)
		}
		items[i] = it
	}
	return items, nil
}

// StoredDSN checks a delivery status notification request as
// transport.ParseDSN does and returns it as the outbox stores it
// (normalised; nil or a request without values is the zero value).
func StoredDSN(d *transport.DSN) (store.QueueDSN, error) {
	if d == nil {
		return store.QueueDSN{}, nil
	}
	p, err := transport.ParseDSN(strings.Join(d.Notify, ","), d.Return, d.EnvID)
	if err != nil {
		return store.QueueDSN{}, err
	}
	return store.QueueDSN{Notify: strings.Join(p.Notify, ","), Return: p.Return, EnvID: p.EnvID}, nil
}

// ItemDSN returns the delivery status notification request an item keeps,
// or nil when it asks for none.
func ItemDSN(d store.QueueDSN) *transport.DSN {
	if d.IsZero() {
		return nil
	}
	out := &transport.DSN{Return: d.Return, EnvID: d.EnvID}
	if d.Notify != "" {
		out.Notify = strings.Split(d.Notify, ",")
	}
	return out
}

// Enqueue stores m durably (committed with synchronous=FULL) and returns its id.
func (q *Queue) Enqueue(ctx context.Context, m Message) (int64, error) {
	ids, err := q.EnqueueBatch(ctx, []Message{m})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// EnqueueBatch stores all messages in one durable transaction (all or none)
// and returns their ids in order.
func (q *Queue) EnqueueBatch(ctx context.Context, ms []Message) ([]int64, error) {
	items, err := toNewAll(ms)
	if err != nil {
		return nil, err
	}
	return q.st.EnqueueQueueItems(ctx, q.clock.Now(), items)
}

// EnqueueBatchProgress is EnqueueBatch for large batches (a bulk run): all
// messages in one durable transaction, so a crash leaves all of them queued
// or none; progress, when set, is called with the number written so far
// every 1,000 messages, before the commit.
func (q *Queue) EnqueueBatchProgress(ctx context.Context, ms []Message, progress func(done int)) ([]int64, error) {
	items, err := toNewAll(ms)
	if err != nil {
		return nil, err
	}
	return q.st.EnqueueQueueItemsProgress(ctx, q.clock.Now(), items, progress)
}

// Filter selects items to list.
type Filter = store.QueueFilter

// List returns the items matching f, in id order.
func (q *Queue) List(ctx context.Context, f Filter) ([]Item, error) {
	return q.st.ListQueueItems(ctx, f)
}

// The orders of a listing (Filter.Order).
const (
	OrderID     = store.QueueOrderID
	OrderNewest = store.QueueOrderNewest
	OrderNext   = store.QueueOrderNext
)

// CountBy returns how many items f selects in each state (f.States is
// ignored: the counts cover every state).
func (q *Queue) CountBy(ctx context.Context, f Filter) (map[State]int, error) {
	m, err := q.st.CountQueueFiltered(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make(map[State]int, len(m))
	for k, v := range m {
		out[State(k)] = v
	}
	return out, nil
}

// Batches returns the bulk run ids that have items, newest first.
func (q *Queue) Batches(ctx context.Context) ([]string, error) {
	return q.st.QueueBatches(ctx)
}

// Counts returns how many items are in each state.
func (q *Queue) Counts(ctx context.Context) (map[State]int, error) {
	m, err := q.st.CountQueueItems(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[State]int, len(m))
	for k, v := range m {
		out[State(k)] = v
	}
	return out, nil
}

// Get returns item id with its recipients.
func (q *Queue) Get(ctx context.Context, id int64) (*Item, error) {
	return q.st.QueueItem(ctx, id)
}

// Body opens a streaming reader over item id's message.
func (q *Queue) Body(ctx context.Context, id int64) (*store.QueueBody, error) {
	return q.st.OpenQueueBody(ctx, id)
}

func strs(states ...State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// Retry makes item id due now ("retry now"): deferred, failed, unknown, held,
// scheduled and cancelled items return to queued. Recipients already
// accepted, or rejected permanently one by one, are not sent to again.
func (q *Queue) Retry(ctx context.Context, id int64) error {
	now := q.clock.Now()
	return q.st.SetQueueState(ctx, id, strs(Deferred, Failed, Unknown, Held, Scheduled, Cancelled, Queued), string(Queued), now, now)
}

// Cancel stops item id from being sent. Items being sent cannot be cancelled.
func (q *Queue) Cancel(ctx context.Context, id int64) error {
	now := q.clock.Now()
	return q.st.SetQueueState(ctx, id, strs(Queued, Scheduled, Deferred, Held, Unknown, Failed), string(Cancelled), time.Time{}, now)
}

// Hold pauses item id until Release.
func (q *Queue) Hold(ctx context.Context, id int64) error {
	now := q.clock.Now()
	return q.st.SetQueueState(ctx, id, strs(Queued, Scheduled, Deferred), string(Held), time.Time{}, now)
}

// Release resumes a held item: it becomes queued, or scheduled or deferred
// when its time has not come.
func (q *Queue) Release(ctx context.Context, id int64) error {
	now := q.clock.Now()
	return q.st.SetQueueState(ctx, id, strs(Held), "release", time.Time{}, now)
}

// Purge deletes items in the given states (default: sent and cancelled)
// whose last change is older than olderThan (0: any), and returns how many.
func (q *Queue) Purge(ctx context.Context, states []State, olderThan time.Duration) (int64, error) {
	if len(states) == 0 {
		states = []State{Sent, Cancelled}
	}
	var before time.Time
	if olderThan > 0 {
		before = q.clock.Now().Add(-olderThan)
	}
	return q.st.PurgeQueueItems(ctx, strs(states...), before)
}

// Recover returns to queued the items a crashed runner left in sending: those
// whose lease expired and those owned by owner (this process's previous
// run). Call it on start-up; it returns how many it recovered.
func (q *Queue) Recover(ctx context.Context, owner string) (int64, error) {
	n, err := q.st.RecoverQueue(ctx, owner, q.clock.Now())
	if err != nil {
		return n, err
	}
	// Runners of this machine that died (crash, kill -9) hold leases that
	// have not expired yet: their items need not wait for the expiry.
	owners, err := q.st.QueueOwners(ctx)
	if err != nil {
		return n, err
	}
	host, _ := os.Hostname()
	for _, o := range owners {
		h, pid, ok := parseOwner(o)
		if !ok || h != host || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		m, err := q.st.RecoverQueue(ctx, o, q.clock.Now())
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// parseOwner splits a runner name "host/pid/tag".
func parseOwner(o string) (host string, pid int, ok bool) {
	parts := strings.Split(o, "/")
	if len(parts) != 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return parts[0], pid, err == nil && pid > 0
}

// processAlive reports whether a process with pid runs on this machine.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess found it
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// errEmpty reports an item with no recipient left to send to.
var errEmpty = errors.New("no recipient left to send to")
