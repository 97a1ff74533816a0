// Package transcript records the live protocol log of one SMTP session: every
// line sent and received, TLS and other informational notes, with timings. It
// redacts secrets before they are stored or delivered, and fans events out to
// subscribers without ever blocking the session that produces them.
package transcript

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dir tells who produced a transcript line.
type Dir string

const (
	// Client marks a line Herald sent to the server.
	Client Dir = "C"
	// Server marks a line the server sent.
	Server Dir = "S"
	// Info marks a note from Herald itself (TLS details, timings, errors).
	Info Dir = "I"
)

// Redacted replaces every secret in transcript text.
const Redacted = "[redacted]"

// Event is one line of a session transcript.
type Event struct {
	Time    time.Time     `json:"time"`
	Elapsed time.Duration `json:"-"`
	// Ms is Elapsed in milliseconds since the session started, for JSON readers.
	Ms  float64 `json:"ms"`
	Dir Dir     `json:"dir"`
	// TLS is true when the line travelled inside a TLS connection.
	TLS  bool   `json:"tls"`
	Text string `json:"text"`
}

// String renders the event the way the CLI prints it: "+12ms S* 250 OK".
func (e Event) String() string {
	mark := " "
	if e.TLS {
		mark = "*"
	}
	return "+" + formatMs(e.Elapsed) + " " + string(e.Dir) + mark + " " + e.Text
}

func formatMs(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// Recorder collects the events of one session. It is safe for concurrent use.
// The zero value is not usable: call New.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	now     func() time.Time
	events  []Event
	secrets *Secrets
	subs    map[*Subscription]struct{}
}

// New returns a recorder whose elapsed times count from now.
func New() *Recorder {
	return &Recorder{start: time.Now(), now: time.Now, secrets: NewSecrets(), subs: map[*Subscription]struct{}{}}
}

// AddSecret registers a value that must never appear in the transcript:
// every form SecretForms derives from it is redacted, by the rule of this
// package (see Secrets), in every later event and in Redact, whatever the
// value's length. An empty value is ignored.
func (r *Recorder) AddSecret(secret string) { r.secrets.Add(secret) }

// Secrets is the recorder's set of secret forms: what is added to it is
// redacted from every later event and by Redact.
func (r *Recorder) Secrets() *Secrets { return r.secrets }

// Redact returns s with every registered secret form replaced (the full
// rule: long forms anywhere, short ones as whole words).
func (r *Recorder) Redact(s string) string { return r.secrets.Redact(s) }

// redactEvent redacts one event's text by its direction: a line Herald
// wrote gets the long forms only (its credentials were replaced wholesale
// by the caller), a server line the full rule after its reply code, a note
// the full rule.
func (r *Recorder) redactEvent(dir Dir, text string) string {
	switch dir {
	case Client:
		return r.secrets.RedactOwn(text)
	case Server:
		return r.secrets.RedactReply(text, replyCodeLen(text))
	}
	return r.secrets.Redact(text)
}

// replyCodeLen is the length of the "NNN-" or "NNN " (or bare "NNN") that
// starts a reply line, 0 when there is none.
func replyCodeLen(s string) int {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return 0
	}
	if len(s) == 3 {
		return 3
	}
	if s[3] == ' ' || s[3] == '-' {
		return 4
	}
	return 0
}

// Add records one line. Text is redacted of registered secrets, and any CR or
// LF in it is shown escaped so one event is always one line (redaction runs
// before and after the escaping, so neither can reveal a form).
func (r *Recorder) Add(dir Dir, tls bool, text string) {
	text = r.redactEvent(dir, text)
	if strings.ContainsAny(text, "\r\n") {
		text = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(text)
		text = r.redactEvent(dir, text)
	}
	r.mu.Lock()
	now := r.now()
	e := Event{Time: now, Elapsed: now.Sub(r.start), Dir: dir, TLS: tls, Text: text}
	e.Ms = float64(e.Elapsed.Microseconds()) / 1000
	r.events = append(r.events, e)
	for s := range r.subs {
		s.deliver(e)
	}
	r.mu.Unlock()
}

// Client records a line sent by Herald.
func (r *Recorder) Client(tls bool, text string) { r.Add(Client, tls, text) }

// Server records a line received from the server.
func (r *Recorder) Server(tls bool, text string) { r.Add(Server, tls, text) }

// Info records a note from Herald.
func (r *Recorder) Info(tls bool, text string) { r.Add(Info, tls, text) }

// Events returns a copy of all events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Subscription delivers a recorder's events on a channel.
type Subscription struct {
	r       *Recorder
	ch      chan Event
	dropped int
	closed  bool
}

// Subscribe returns a subscription that receives every event recorded from
// now on, in order. Delivery never blocks the recorder: when the buffer of
// size buf is full the event is dropped for this subscriber and counted.
// With replay, the events already recorded are delivered first (as far as the
// buffer holds them).
func (r *Recorder) Subscribe(buf int, replay bool) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{r: r, ch: make(chan Event, buf)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if replay {
		for _, e := range r.events {
			s.deliver(e)
		}
	}
	r.subs[s] = struct{}{}
	return s
}

// deliver is called with r.mu held.
func (s *Subscription) deliver(e Event) {
	if s.closed {
		return
	}
	select {
	case s.ch <- e:
	default:
		s.dropped++
	}
}

// C is the channel of events. It is closed by Close or by Recorder.Finish.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped reports how many events were dropped because the subscriber was slow.
func (s *Subscription) Dropped() int {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes its channel. It is idempotent.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.r.subs, s)
	close(s.ch)
}

// Finish closes every subscription: the session is over. Events added after
// Finish are still recorded but delivered to no one.
func (r *Recorder) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		s.closeLocked()
	}
}
