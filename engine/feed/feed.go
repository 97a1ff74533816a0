// Package feed is Herald's one event feed: whoever owns a piece of state (the
// outbox, the profile book, the sandbox, a probe, a session's transcript)
// publishes a small Event when it changes, and the front ends watch the feed
// instead of polling. Publishing never blocks: a slow subscriber loses events
// (counted), never stalls a sender.
package feed

import (
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

// Topic says what an event is about.
type Topic string

// The topics published.
const (
	Queue      Topic = "queue"      // an outbox item changed (ID; 0: several or unknown)
	Profiles   Topic = "profiles"   // a profile was added, changed or removed (Profile)
	Sandbox    Topic = "sandbox"    // the sandbox captured a message (ID) or its inbox changed (ID 0)
	History    Topic = "history"    // a history record was written (ID)
	Transcript Topic = "transcript" // one line of an SMTP session (Session, Line)
	Probe      Topic = "probe"      // a connection-test step finished (Session, Text: the step's name)
	Progress   Topic = "progress"   // progress of a long job (Session, Done, Total)
	Runner     Topic = "runner"     // the outbox runner started, paused, resumed or stopped (Text)
	Drafts     Topic = "drafts"     // a draft was saved or deleted (ID)
	Settings   Topic = "settings"   // a setting changed (Text: its name)
)

// Event is one change. Only the fields its Topic names are set.
type Event struct {
	Topic Topic     `json:"topic"`
	Time  time.Time `json:"time"`
	// ID is the record concerned (an outbox item, a capture, a history record).
	ID int64 `json:"id,omitempty"`
	// Profile is the profile id concerned.
	Profile string `json:"profile,omitempty"`
	// Session groups the lines, steps and progress of one session or job.
	Session string `json:"session,omitempty"`
	// Line is a transcript line (Topic Transcript), already redacted.
	Line *transcript.Event `json:"line,omitempty"`
	// Text is a short description: a state, a step name, a runner state.
	Text string `json:"text,omitempty"`
	// Done and Total measure progress.
	Done  int `json:"done,omitempty"`
	Total int `json:"total,omitempty"`
	// External marks a change seen in the store, made by another process.
	External bool `json:"external,omitempty"`
}

// Feed fans events out to subscribers without ever blocking the publisher.
// The zero value is not usable: call New. A nil *Feed accepts and drops
// every event, so publishers need not check.
type Feed struct {
	mu   sync.Mutex
	subs map[*Sub]struct{}
	now  func() time.Time
}

// New returns an empty feed.
func New() *Feed { return &Feed{subs: map[*Sub]struct{}{}, now: time.Now} }

// Sub is one subscription: a bounded channel of the events of its topics.
type Sub struct {
	f       *Feed
	ch      chan Event
	topics  map[Topic]bool
	dropped int
	closed  bool
}

// Subscribe returns a subscription to the given topics (all of them when
// none is given) with a buffer of buf events. Events that do not fit are
// dropped for this subscriber and counted.
func (f *Feed) Subscribe(buf int, topics ...Topic) *Sub {
	if buf < 1 {
		buf = 1
	}
	s := &Sub{f: f, ch: make(chan Event, buf)}
	if len(topics) > 0 {
		s.topics = map[Topic]bool{}
		for _, t := range topics {
			s.topics[t] = true
		}
	}
	if f == nil {
		close(s.ch)
		s.closed = true
		return s
	}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Publish delivers e to every subscriber of its topic that has room. It sets
// e.Time when it is zero. It never blocks.
func (f *Feed) Publish(e Event) {
	if f == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = f.now()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if s.topics != nil && !s.topics[e.Topic] {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped++
		}
	}
}

// Close ends every subscription (their channels close).
func (f *Feed) Close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.closeLocked()
	}
}

// C is the subscription's channel; it closes when the subscription or the
// feed is closed.
func (s *Sub) C() <-chan Event { return s.ch }

// Dropped reports how many events this subscriber lost because it was slow.
func (s *Sub) Dropped() int {
	if s.f == nil {
		return s.dropped
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.dropped
}

// Close ends the subscription. It is idempotent.
func (s *Sub) Close() {
	if s.f == nil {
		return
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.closeLocked()
}

func (s *Sub) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.f.subs, s)
	close(s.ch)
}
