// Package history is Herald's sent-mail history: every message sent, at once
// or by the outbox, with its envelope, profile, per-recipient outcome, the
// server's reply, timings, the message itself and the redacted transcript of
// the session that carried it. A session's transcript is stored once for all
// the messages it carried. Records are searchable by recipient, sender,
// subject, profile, state and date, kept under a retention policy, and
// summarised per day for charts.
package history

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// State is the final state of a recorded message.
type State string

const (
	// Sent: the server accepted the message for every recipient.
	Sent State = "sent"
	// Partial: accepted for some recipients, refused for others.
	Partial State = "partial"
	// Failed: not accepted, and nothing will retry it.
	Failed State = "failed"
	// Deferred: not accepted this time; the outbox retries it later.
	Deferred State = "deferred"
	// Unknown: the connection ended after the message with no reply.
	Unknown State = "unknown"
)

// States lists every state, for validating input.
var States = []State{Sent, Partial, Failed, Deferred, Unknown}

// ParseState returns the state named s (case-insensitive); "partially-sent"
// and "partially sent" are accepted for Partial.
func ParseState(s string) (State, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "partially-sent", "partially sent", "partially_sent":
		return Partial, nil
	}
	for _, st := range States {
		if string(st) == v {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q (sent, partial, failed, deferred or unknown)", s)
}

// ErrNotFound is wrapped by errors for records (or bodies) that do not exist.
var ErrNotFound = store.ErrNotFound

// Options configure a Log.
type Options struct {
	// Redact is a final scrub applied to every text field (and to the
	// message bytes and transcript lines) before anything is stored, in
	// addition to a SessionRecord's own Redact. Nil changes nothing.
	Redact func(string) string
	// Now tells the time, for retention; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of Daily's days; nil means time.Local.
	Location *time.Location
	// OnError receives errors of records written in the background by
	// RecordQueued; nil drops them.
	OnError func(error)
	// Backlog is how many sessions RecordQueued holds before it makes the
	// caller wait; 0 means 64.
	Backlog int
	// OnRecorded, when set, is told the record ids of each session
	// RecordQueued wrote (in the writer's goroutine), so that watchers can
	// be told; profile is the session's profile id.
	OnRecorded func(ids []int64, profile string)
}

// Log records sends and answers queries over the store. It is safe for
// concurrent use. Call Close when done if RecordQueued was used.
type Log struct {
	st   *store.Store
	o    Options
	once sync.Once
	ch   chan SessionRecord
	done chan struct{}
	// mu is held for reading while a record is handed to the writer and
	// for writing by Close, so that Close never closes ch under a sender.
	mu   sync.RWMutex
	shut bool
	// failuresOnly drops the transcript of a session whose every message
	// was sent, as it is recorded (see SetTranscriptsFailuresOnly).
	failuresOnly atomic.Bool
}

// SetTranscriptsFailuresOnly makes Record keep the transcript of a session
// only when one of its messages was not sent (or the session failed), or
// again every transcript. It applies to records written from now on;
// ApplyRetention forgets those already kept.
func (l *Log) SetTranscriptsFailuresOnly(on bool) { l.failuresOnly.Store(on) }

// TranscriptsFailuresOnly reports the setting of SetTranscriptsFailuresOnly.
func (l *Log) TranscriptsFailuresOnly() bool { return l.failuresOnly.Load() }

// New returns a Log over st.
func New(st *store.Store, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Backlog <= 0 {
		o.Backlog = 64
	}
	return &Log{st: st, o: o}
}

// SessionRecord is one finished SMTP session and the messages it carried.
type SessionRecord struct {
	// Started and Finished bound the session; zero Finished means now.
	Started, Finished time.Time
	// Profile is the profile id ("" for an ad-hoc server) and ProfileName
	// its name at the time.
	Profile, ProfileName string
	// Server is the host:port the session went to (the fallback used, if any).
	Server string
	// TLS is the connection's TLS, or nil.
	TLS *transport.TLSInfo
	// Err is a failure of the session before its messages (connect, TLS,
	// auth), or nil. Messages without a Result take their outcome from it.
	Err error
	// Transcript is the session's protocol log, already redacted by the
	// transcript recorder; nil records none.
	Transcript []transcript.Event
	// Redact is this session's own scrub (e.g. its password's forms),
	// applied with Options.Redact; nil changes nothing.
	Redact func(string) string
	// Messages are the messages the session carried or tried to.
	Messages []MessageRecord
}

// MessageRecord is one message of a session and its outcome.
type MessageRecord struct {
	// Queued is when the message was queued (or handed to the sender); zero
	// means Started. Started is when its send began; zero means the
	// session's start. Finished is when its outcome was known; zero means
	// the session's end.
	Queued, Started, Finished time.Time
	// MessageID and Subject describe the message; when empty they are read
	// from Body's header.
	MessageID, Subject string
	// From and To are the envelope.
	From string
	To   []string
	// Body is the complete message as sent; nil keeps none (then Export
	// has nothing to give), unless BodyFromOutbox is set.
	Body []byte
	// BodyFromOutbox, with Body nil and QueueItem set, copies the body from
	// the outbox's stored copy (for messages too large to be claimed with
	// their body). Record reads it while the outbox item still exists.
	BodyFromOutbox bool
	// Result is the transport's outcome for this message; nil when the
	// session failed before it (SessionRecord.Err then says why).
	Result *transport.Result
	// State overrides the state derived from Result (e.g. the outbox's
	// Deferred for a message it will retry); "" derives it.
	State State
	// Error overrides the error text derived from Result; "" derives it.
	Error string
	// Attempt numbers the delivery attempt; 0 means 1.
	Attempt int
	// QueueItem is the outbox item id, 0 for a direct send.
	QueueItem int64
}

// Recipient is one envelope recipient and the server's answer.
type Recipient struct {
	Addr     string `json:"addr"`
	Accepted bool   `json:"accepted"`
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced_code,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Record is one recorded message. Server, TLS, Recipients, Transcript and
// SessionMessages are filled by Get only.
type Record struct {
	ID              int64              `json:"id"`
	SessionID       int64              `json:"session_id"`
	Queued          time.Time          `json:"queued"`
	Started         time.Time          `json:"started"`
	Finished        time.Time          `json:"finished"`
	Duration        time.Duration      `json:"-"`
	DurationMs      float64            `json:"duration_ms"`
	Profile         string             `json:"profile,omitempty"`
	ProfileName     string             `json:"profile_name,omitempty"`
	MessageID       string             `json:"message_id"`
	From            string             `json:"from"`
	To              []string           `json:"to"`
	Accepted        int                `json:"accepted"`
	Subject         string             `json:"subject"`
	Size            int64              `json:"size"`
	State           State              `json:"state"`
	Stage           string             `json:"stage,omitempty"`
	Code            int                `json:"code,omitempty"`
	Enhanced        string             `json:"enhanced_code,omitempty"`
	Error           string             `json:"error,omitempty"`
	QueuedAs        string             `json:"queued_as,omitempty"`
	Attempt         int                `json:"attempt"`
	QueueItem       int64              `json:"queue_item,omitempty"`
	Server          string             `json:"server,omitempty"`
	TLS             string             `json:"tls,omitempty"`
	SessionError    string             `json:"session_error,omitempty"`
	SessionMessages int                `json:"session_messages,omitempty"`
	Recipients      []Recipient        `json:"recipients,omitempty"`
	Transcript      []transcript.Event `json:"transcript,omitempty"`
}

// Record stores one finished session and its messages in one transaction
// and returns the messages' record ids, in order.
func (l *Log) Record(ctx context.Context, s SessionRecord) ([]int64, error) {
	if err := l.loadOutboxBodies(ctx, &s); err != nil {
		return nil, err
	}
	sess, msgs := l.convert(s)
	if err := l.st.AddHistory(ctx, &sess, msgs); err != nil {
		return nil, fmt.Errorf("record history: %w", err)
	}
	ids := make([]int64, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	return ids, nil
}

// loadOutboxBodies fills in the bodies asked for with BodyFromOutbox, in a
// copy of the slice; a body the outbox no longer has stays nil.
func (l *Log) loadOutboxBodies(ctx context.Context, s *SessionRecord) error {
	copied := false
	for i := range s.Messages {
		if m := &s.Messages[i]; m.Body != nil || !m.BodyFromOutbox || m.QueueItem == 0 {
			continue
		}
		if !copied {
			s.Messages, copied = slices.Clone(s.Messages), true
		}
		m := &s.Messages[i]
		r, err := l.st.OpenQueueBody(ctx, m.QueueItem)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("record history: %w", err)
		}
		m.Body, err = io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("record history: read the body of outbox item %d: %w", m.QueueItem, err)
		}
	}
	return nil
}

// RecordSession is Record under the name front ends use for a direct send.
func (l *Log) RecordSession(ctx context.Context, s SessionRecord) ([]int64, error) {
	return l.Record(ctx, s)
}

// RecordQueued hands a finished outbox session to a background writer and
// returns at once, so that recording never holds up the outbox; it waits
// only when Options.Backlog sessions are already waiting to be written, or
// until ctx ends (then the record is lost and ctx's error returned). Write
// errors go to Options.OnError. Close writes what is pending.
//
// The outbox runner calls it once per session, after the session ended
// (also when Dial failed), with: Started (before Dial) and Finished; the
// profile's id and name; Server as "host:port" of the server finally used
// (after fallbacks); TLS from the client's TLSInfo; Err = the Dial error
// when the session never opened; Transcript = the session recorder's
// events (the runner must then always record a transcript, with the
// password added as a secret) and Redact = its own scrub. Messages: one per
// item that got an outcome (not the ones handed back untried), each with
// Queued = the item's creation time, Started = when its group went out,
// Finished = when its outcome was known, MessageID, Subject, From, To (the
// addresses sent to), Body = the claimed body (or BodyFromOutbox for a body
// too large to be claimed inline), Result = its transport result (nil when
// the session failed), State = QueueState(completion), Error = the
// completion's error, Attempt = attempts before this one + 1, QueueItem = the
// item id. The session slice must not be changed after the call.
func (l *Log) RecordQueued(ctx context.Context, s SessionRecord) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.shut {
		return errors.New("record history: the log is closed")
	}
	l.once.Do(func() {
		l.ch = make(chan SessionRecord, l.o.Backlog)
		l.done = make(chan struct{})
		go l.writer()
	})
	select {
	case l.ch <- s:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record history: %w", ctx.Err())
	}
}

func (l *Log) writer() {
	defer close(l.done)
	for s := range l.ch {
		// What piled up while the last batch was written goes in one
		// transaction (one sync), so the outbox's drain is not held back
		// by a sync per session.
		batch := []SessionRecord{s}
	more:
		for len(batch) < maxBatch {
			select {
			case n, ok := <-l.ch:
				if !ok {
					break more
				}
				batch = append(batch, n)
			default:
				break more
			}
		}
		ids, err := l.recordMany(context.Background(), batch)
		if err != nil && l.o.OnError != nil {
			l.o.OnError(err)
		}
		if err == nil && l.o.OnRecorded != nil {
			for i, s := range batch {
				if len(ids[i]) > 0 {
					l.o.OnRecorded(ids[i], s.Profile)
				}
			}
		}
	}
}

// maxBatch is the most sessions the background writer puts in one
// transaction.
const maxBatch = 32

// recordMany records sessions in one transaction; ids holds each session's
// message ids.
func (l *Log) recordMany(ctx context.Context, ss []SessionRecord) ([][]int64, error) {
	batch := make([]store.HistoryBatch, len(ss))
	for i := range ss {
		if err := l.loadOutboxBodies(ctx, &ss[i]); err != nil {
			return nil, err
		}
		sess, msgs := l.convert(ss[i])
		batch[i] = store.HistoryBatch{Session: &sess, Messages: msgs}
	}
	if err := l.st.AddHistories(ctx, batch); err != nil {
		return nil, fmt.Errorf("record history: %w", err)
	}
	ids := make([][]int64, len(batch))
	for i, b := range batch {
		ids[i] = make([]int64, len(b.Messages))
		for j := range b.Messages {
			ids[i][j] = b.Messages[j].ID
		}
	}
	return ids, nil
}

// Close writes the sessions RecordQueued still holds and stops its writer.
// It does not close the store.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return nil
	}
	l.shut = true
	started := l.ch != nil
	l.mu.Unlock()
	if started {
		close(l.ch)
		<-l.done
	}
	return nil
}

// convert applies the defaults and the scrub, and derives states.
func (l *Log) convert(s SessionRecord) (store.HistorySession, []store.HistoryEntry) {
	return convertRecord(s, l.o.Now(), l.o.Redact, l.failuresOnly.Load())
}

// convertRecord turns s into what the store keeps: the defaults applied
// (now for a zero Finished), every text scrubbed by redact (nil: none) and
// by s.Redact, the states derived. With failuresOnly the transcript of a
// session whose every message was sent is dropped.
func convertRecord(s SessionRecord, now time.Time, redact func(string) string, failuresOnly bool) (store.HistorySession, []store.HistoryEntry) {
	red := func(v string) string {
		if v == "" {
			return v
		}
		if redact != nil {
			v = redact(v)
		}
		if s.Redact != nil {
			v = s.Redact(v)
		}
		return v
	}
	if s.Finished.IsZero() {
		s.Finished = now
	}
	if s.Started.IsZero() {
		s.Started = s.Finished
	}
	sess := store.HistorySession{
		Started: s.Started, Finished: s.Finished, Profile: s.Profile, ProfileName: red(s.ProfileName),
		Server: red(s.Server), TLS: red(tlsSummary(s.TLS)),
	}
	if s.Err != nil {
		sess.Error = red(s.Err.Error())
	}
	msgs := make([]store.HistoryEntry, len(s.Messages))
	for i, m := range s.Messages {
		e := store.HistoryEntry{
			Queued: m.Queued, Started: m.Started, Finished: m.Finished,
			Profile: s.Profile, ProfileName: sess.ProfileName, Attempt: m.Attempt, QueueItem: m.QueueItem,
			Size: int64(len(m.Body)),
		}
		if e.Started.IsZero() {
			e.Started = s.Started
		}
		if e.Finished.IsZero() {
			e.Finished = s.Finished
		}
		if e.Queued.IsZero() {
			e.Queued = e.Started
		}
		if e.Attempt == 0 {
			e.Attempt = 1
		}
		msgID, subject := m.MessageID, m.Subject
		if (msgID == "" || subject == "") && len(m.Body) > 0 {
			hid, hsub := headerFacts(m.Body)
			if msgID == "" {
				msgID = hid
			}
			if subject == "" {
				subject = hsub
			}
		}
		e.MessageID, e.Subject, e.From = red(msgID), red(subject), red(m.From)
		e.To = make([]string, len(m.To))
		for j, a := range m.To {
			e.To[j] = red(a)
		}
		if m.Body != nil {
			if redact != nil || s.Redact != nil {
				e.Body = []byte(red(string(m.Body)))
			} else {
				e.Body = m.Body
			}
			if len(e.Body) > 0 && e.Body[len(e.Body)-1] != '\n' {
				// The wire ends the last line as SMTP requires; keep what went.
				e.Body = append(e.Body[:len(e.Body):len(e.Body)], '\r', '\n')
			}
			e.Size = int64(len(e.Body))
		}
		state, errText := m.State, m.Error
		if r := m.Result; r != nil {
			e.Stage, e.Code, e.Enhanced, e.QueuedAs = string(r.Stage), r.Code, r.EnhancedCode, red(r.QueuedAs)
			if errText == "" && r.Err != nil {
				errText = r.Err.Error()
			}
			byAddr := make(map[string]transport.RecipientResult, len(r.Recipients))
			for _, rr := range r.Recipients {
				byAddr[rr.Addr] = rr
			}
			for j, a := range m.To {
				rr, ok := byAddr[a]
				hr := store.HistoryRcpt{Addr: e.To[j]}
				if ok {
					hr.Accepted = rr.Accepted && r.OK
					hr.Code, hr.Enhanced, hr.Message = rr.Code, rr.EnhancedCode, red(rr.Message)
				}
				e.Recipients = append(e.Recipients, hr)
			}
			if state == "" {
				state = stateOf(r)
			}
			if r.OK && r.Stage == transport.StageDone {
				e.Stage = ""
			}
		} else {
			for _, a := range e.To {
				e.Recipients = append(e.Recipients, store.HistoryRcpt{Addr: a})
			}
			var te *transport.Error
			if errors.As(s.Err, &te) {
				e.Stage, e.Code, e.Enhanced = string(te.Stage), te.Code, te.EnhancedCode
			}
			if errText == "" && s.Err != nil {
				errText = s.Err.Error()
			}
			if state == "" {
				state = Failed
				if te != nil && te.Class == transport.ClassUnknown {
					state = Unknown
				}
			}
		}
		e.State, e.Error = string(state), red(errText)
		e.Search = searchText(&e)
		msgs[i] = e
	}
	// The transcript is scrubbed only when it is kept.
	if s.Transcript != nil && !(failuresOnly && allSent(sess, msgs)) {
		sess.Transcript = make([]transcript.Event, len(s.Transcript))
		for i, e := range s.Transcript {
			e.Text = red(e.Text)
			sess.Transcript[i] = e
		}
	}
	return sess, msgs
}

// searchText is the lower-cased text a search matches for e.
func searchText(e *store.HistoryEntry) string {
	return strings.ToLower(e.From + "\n" + strings.Join(e.To, "\n") + "\n" + e.Subject + "\n" + e.MessageID)
}

// allSent reports whether a session succeeded for every message it carried.
func allSent(sess store.HistorySession, msgs []store.HistoryEntry) bool {
	if sess.Error != "" || len(msgs) == 0 {
		return false
	}
	for _, m := range msgs {
		if m.State != string(Sent) {
			return false
		}
	}
	return true
}

// QueueState maps the outbox's outcome of one attempt onto a history state:
// a message sent with some recipients refused for good is Partial. ok is
// false when the completion is no delivery attempt (an item handed back
// untried), which is not recorded.
func QueueState(out store.QueueCompletion) (st State, ok bool) {
	switch out.State {
	case store.QueueSent:
		for _, r := range out.Rcpts {
			if r.State == store.RcptRejected {
				return Partial, true
			}
		}
		return Sent, true
	case store.QueueDeferred:
		return Deferred, out.Attempted || out.Code != 0
	case store.QueueFailed:
		return Failed, true
	case store.QueueUnknown:
		return Unknown, true
	case store.QueueHeld:
		// The attempt failed in a way the user must fix (a refused
		// password); nothing retries it until they release it.
		return Failed, out.Attempted
	}
	return "", false
}

// stateOf derives a message's state from a transport result. A temporary
// failure of a direct send is Failed: nothing retries it.
func stateOf(r *transport.Result) State {
	switch {
	case r.OK:
		for _, rc := range r.Recipients {
			if !rc.Accepted {
				return Partial
			}
		}
		return Sent
	case r.Class == transport.ClassUnknown:
		return Unknown
	}
	return Failed
}

// tlsSummary describes a connection's TLS in one line.
func tlsSummary(t *transport.TLSInfo) string {
	if t == nil {
		return ""
	}
	parts := []string{t.Version, t.Cipher}
	switch {
	case t.Pinned:
		parts = append(parts, "pinned certificate")
	case t.Verified:
		parts = append(parts, "verified")
	default:
		parts = append(parts, "not verified")
	}
	if t.Subject != "" {
		parts = append(parts, "subject "+t.Subject)
	}
	return strings.Join(parts, ", ")
}

// headerFacts reads the Message-ID and the decoded Subject from a message's
// header; missing or unreadable values are "".
func headerFacts(body []byte) (msgID, subject string) {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		if end = bytes.Index(body, []byte("\n\n")); end < 0 {
			end = len(body)
		}
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body[:end:end], "\r\n\r\n"...)))).ReadMIMEHeader()
	if err != nil && h == nil {
		return "", ""
	}
	msgID = strings.TrimSpace(h.Get("Message-Id"))
	subject = strings.TrimSpace(h.Get("Subject"))
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	return msgID, subject
}

// Query selects records. Empty fields do not filter.
type Query struct {
	// Search matches, case-insensitively, a substring of the sender, any
	// recipient, the subject or the Message-ID.
	Search string
	// Recipient, Sender and Subject match a substring of that field only.
	Recipient, Sender, Subject string
	// Profile is a profile id.
	Profile string
	// States lists the states wanted.
	States []State
	// Since and Until bound the finish time: Since <= finished < Until.
	Since, Until time.Time
	// QueueItem selects one outbox item's attempts.
	QueueItem int64
	// Limit is the page size; 0 means 50, negative means no limit.
	Limit int
	// Cursor continues after an earlier page (its Page.Next); "" starts at
	// the newest record.
	Cursor string
}

// Page is one page of records, newest first.
type Page struct {
	Records []Record `json:"records"`
	// Next continues with the following page; "" when this was the last.
	Next string `json:"next,omitempty"`
}

func (q Query) filter() (store.HistoryFilter, error) {
	f := store.HistoryFilter{
		Search: strings.ToLower(q.Search), Recipient: q.Recipient, Sender: q.Sender, Subject: q.Subject,
		Profile: q.Profile, Since: q.Since, Until: q.Until, QueueItem: q.QueueItem, Limit: q.Limit,
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	for _, s := range q.States {
		f.States = append(f.States, string(s))
	}
	if q.Cursor != "" {
		a, b, ok := strings.Cut(q.Cursor, ".")
		fin, err1 := strconv.ParseInt(a, 10, 64)
		id, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return f, fmt.Errorf("invalid history cursor %q", q.Cursor)
		}
		f.Before = &store.HistoryCursor{FinishedNs: fin, ID: id}
	}
	return f, nil
}

// List returns one page of the records q selects, newest first.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	f, err := q.filter()
	if err != nil {
		return Page{}, err
	}
	limit := f.Limit
	if limit > 0 {
		f.Limit = limit + 1 // one more tells whether a next page exists
	}
	es, err := l.st.ListHistory(ctx, f)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if limit > 0 && len(es) > limit {
		es = es[:limit]
		last := es[limit-1]
		p.Next = fmt.Sprintf("%d.%d", last.Finished.UnixNano(), last.ID)
	}
	p.Records = make([]Record, len(es))
	for i := range es {
		p.Records[i] = recordOf(&es[i])
	}
	return p, nil
}

// Count returns how many records q selects (its Limit and Cursor ignored).
func (l *Log) Count(ctx context.Context, q Query) (int, error) {
	q.Cursor = ""
	f, err := q.filter()
	if err != nil {
		return 0, err
	}
	return l.st.CountHistory(ctx, f)
}

func recordOf(e *store.HistoryEntry) Record {
	r := Record{
		ID: e.ID, SessionID: e.SessionID, Queued: e.Queued, Started: e.Started, Finished: e.Finished,
		Duration: e.Finished.Sub(e.Started), Profile: e.Profile, ProfileName: e.ProfileName,
		MessageID: e.MessageID, From: e.From, To: e.To, Accepted: e.Accepted, Subject: e.Subject, Size: e.Size,
		State: State(e.State), Stage: e.Stage, Code: e.Code, Enhanced: e.Enhanced, Error: e.Error,
		QueuedAs: e.QueuedAs, Attempt: e.Attempt, QueueItem: e.QueueItem,
	}
	if r.To == nil {
		r.To = []string{}
	}
	r.DurationMs = float64(r.Duration.Microseconds()) / 1000
	return r
}

// Get returns record id with its recipients, server, TLS and the transcript
// of the session that carried it (nil when not kept). An unknown id yields
// an error wrapping ErrNotFound.
func (l *Log) Get(ctx context.Context, id int64) (*Record, error) {
	e, err := l.st.HistoryEntry(ctx, id)
	if err != nil {
		return nil, err
	}
	r := recordOf(e)
	for _, rc := range e.Recipients {
		r.Recipients = append(r.Recipients, Recipient(rc))
	}
	s, err := l.st.HistorySession(ctx, e.SessionID)
	if err != nil {
		return nil, err
	}
	r.Server, r.TLS, r.SessionError, r.SessionMessages, r.Transcript = s.Server, s.TLS, s.Error, s.Messages, s.Transcript
	return &r, nil
}

// OwnTranscript returns the part of the session transcript that concerns
// this record: the session's opening (up to its first MAIL command) and the
// lines between the record's start and finish. For a session that carried
// one message it is the whole transcript.
func (r *Record) OwnTranscript() []transcript.Event {
	if r.SessionMessages <= 1 {
		return r.Transcript
	}
	var out []transcript.Event
	opening := true
	for _, e := range r.Transcript {
		if opening && e.Dir == transcript.Client && len(e.Text) >= 10 && strings.EqualFold(e.Text[:10], "MAIL FROM:") {
			opening = false
		}
		if opening || (!e.Time.Before(r.Started) && !e.Time.After(r.Finished)) {
			out = append(out, e)
		}
	}
	return out
}

// Export writes record id's message, as sent, to w (an .eml file). A record
// kept without its message yields an error wrapping ErrNotFound.
func (l *Log) Export(ctx context.Context, id int64, w io.Writer) error {
	b, err := l.st.HistoryBody(ctx, id)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("export history message %d: %w", id, err)
	}
	return nil
}

// Purge removes the records that finished before olderThan and returns how
// many went.
func (l *Log) Purge(ctx context.Context, olderThan time.Time) (int64, error) {
	return l.st.DeleteHistoryBefore(ctx, olderThan)
}

// Retention is how much history to keep. Zero fields keep everything.
type Retention struct {
	// KeepDays removes records that finished more than this many days ago.
	KeepDays int `json:"keep_days,omitempty"`
	// KeepMessages keeps only the newest this many records.
	KeepMessages int `json:"keep_messages,omitempty"`
	// TranscriptsFailuresOnly forgets the transcripts of sessions whose
	// every message was sent.
	TranscriptsFailuresOnly bool `json:"transcripts_failures_only,omitempty"`
}

// Pruned says what ApplyRetention removed.
type Pruned struct {
	// Records counts the records removed.
	Records int64 `json:"records"`
	// Transcripts counts the sessions whose transcript was forgotten.
	Transcripts int64 `json:"transcripts"`
}

// ApplyRetention enforces r once.
func (l *Log) ApplyRetention(ctx context.Context, r Retention) (Pruned, error) {
	var p Pruned
	if r.KeepDays < 0 || r.KeepMessages < 0 {
		return p, fmt.Errorf("retention: negative value (%d days, %d messages)", r.KeepDays, r.KeepMessages)
	}
	if r.KeepDays > 0 {
		n, err := l.st.DeleteHistoryBefore(ctx, l.o.Now().AddDate(0, 0, -r.KeepDays))
		if err != nil {
			return p, err
		}
		p.Records += n
	}
	if r.KeepMessages > 0 {
		n, err := l.st.TrimHistory(ctx, r.KeepMessages)
		if err != nil {
			return p, err
		}
		p.Records += n
	}
	if r.TranscriptsFailuresOnly {
		n, err := l.st.DropHistoryTranscripts(ctx, true)
		if err != nil {
			return p, err
		}
		p.Transcripts = n
	}
	return p, nil
}
