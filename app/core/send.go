package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// SendRequest is one message to send at once, over one session.
type SendRequest struct {
	// Profile is the stored profile sending it, nil for a session set up by
	// hand (or the sandbox); it is recorded with the send.
	Profile *account.Profile
	// Config is the session: from ProfileConfig or built by the front end.
	Config transport.Config
	// Fallbacks are tried in order while the server is unreachable.
	Fallbacks []transport.Config
	// Envelope is MAIL FROM and RCPT TO.
	Envelope transport.Envelope
	// Message is the whole RFC 5322 message (nil when Config.QuitAfter ends
	// the session before DATA).
	Message []byte
	// Body, when set, is used instead of Message: it returns a fresh reader
	// of the message for each try (a fallback server reads it again). A
	// reader with a Len method (bytes.Reader, message.LazyReader) lets the
	// server's SIZE be checked before anything is rendered or sent.
	Body func() io.Reader
	// MessageID and Subject describe the message for history and listings.
	MessageID, Subject string
	// Transcript records the session; nil makes one. Its subscribers see
	// every line live (already redacted).
	Transcript *transcript.Recorder
}

// SendResult is what happened to one send.
type SendResult struct {
	*transport.Result
	// MessageID is the message's Message-ID.
	MessageID string
	// Transcript holds the whole session, redacted.
	Transcript *transcript.Recorder
	// Server is "host:port" of the server that carried (or refused) it.
	Server string
	// Session ids the session on the feed's Transcript topic.
	Session string
	// HistoryID is the send's history record (0 when it was not recorded:
	// a session stopped early on purpose, or HistoryErr).
	HistoryID int64
	// HistoryErr says why the send could not be recorded; the send itself
	// is not affected.
	HistoryErr error

	started, finished time.Time
	quitAfter         bool
}

var sessionSeq atomic.Int64

// newSession returns an id for a session or job on the feed, unique in this
// process.
func newSession(kind string) string {
	return kind + "-" + strconv.FormatInt(sessionSeq.Add(1), 10)
}

// Send runs one session for req: connect, TLS, AUTH, envelope, DATA, with
// the fallbacks while the server is unreachable. Every line goes to the
// transcript and, live, to the feed; the send is recorded in the history
// (unless it stopped early on purpose). It never returns nil.
func (c *Core) Send(ctx context.Context, req SendRequest) *SendResult {
	out := Deliver(ctx, req, c.Feed)
	c.RecordSend(ctx, req, out)
	return out
}

// Deliver is Send without the history: it needs no store, so a one-shot
// command can send without opening one and then SpoolSend (or RecordSend
// with a Core). The transcript's lines are published on f (nil: nowhere)
// as they happen.
func Deliver(ctx context.Context, req SendRequest, f *feed.Feed) *SendResult {
	rec := req.Transcript
	if rec == nil {
		rec = transcript.New()
	}
	cfg := req.Config
	if (cfg.TLS != transport.TLSNone || len(req.Fallbacks) > 0) && cfg.CAFile == "" && cfg.PinnedSHA256 == "" && cfg.RootCAs == nil {
		// The system's CAs will be needed: they load while the session
		// connects. (A CA file or a pin may vouch alone: then they are
		// loaded only if that fails, never in the way.)
		transport.WarmRoots()
	}
	cfg.Transcript = rec
	if cfg.Password != "" {
		rec.AddSecret(cfg.Password)
	}
	out := &SendResult{MessageID: req.MessageID, Transcript: rec, Session: newSession("send"), quitAfter: cfg.QuitAfter != ""}
	profileID := SandboxProfile
	if req.Profile != nil {
		profileID = req.Profile.ID
	}
	stop := func() {}
	if f != nil {
		stop = forwardLines(f, rec, out.Session, profileID)
	}
	try := func(cfg transport.Config) (*transport.Result, error) {
		var body io.Reader
		if req.Body != nil {
			body = req.Body()
		} else {
			body = bytes.NewReader(req.Message)
		}
		r := transport.Send(ctx, cfg, req.Envelope, body)
		if r.OK {
			return r, nil
		}
		return r, r.Err
	}
	note := func(from, to transport.Config, err error) {
		rec.Info(false, fmt.Sprintf("%s:%d unreachable: trying the fallback %s:%d (%s)", from.Host, from.Port, to.Host, to.Port, to.TLS))
	}
	out.started = time.Now()
	res, used, _ := transport.WithFallbacks(ctx, cfg, req.Fallbacks, try, note)
	out.finished = time.Now()
	rec.Finish()
	stop()
	out.Result = res
	port := used.Port
	if port == 0 {
		port = transport.DefaultPort(used.TLS)
	}
	out.Server = net.JoinHostPort(used.Host, strconv.Itoa(port))
	return out
}

// RecordSend keeps a delivered send in the history (setting HistoryID or
// HistoryErr on out); a session stopped early on purpose is a probe, not a
// send, and is not kept.
func (c *Core) RecordSend(ctx context.Context, req SendRequest, out *SendResult) {
	var te *transport.Error
	if req.Profile != nil && req.Profile.Auth == account.AuthOAuth2 && errors.As(out.Result.Err, &te) && te.Kind == transport.KindOAuthToken {
		// The server refused the access token: the next send refreshes.
		c.invalidateToken(req.Profile.ID)
	}
	if out.quitAfter {
		return
	}
	out.HistoryID, out.HistoryErr = c.recordSend(ctx, req, out, out.started)
}

// maxHistoryBody is the largest message the history keeps a copy of.
const maxHistoryBody = 32 << 20

// recordSend keeps a direct send in the history: the message, envelope,
// outcome per recipient, the server's reply and the whole (redacted)
// transcript. A session stopped on purpose early is a probe, not a send.
func (c *Core) recordSend(ctx context.Context, req SendRequest, out *SendResult, started time.Time) (int64, error) {
	ids, err := c.History.RecordSession(context.WithoutCancel(ctx), sendRecord(req, out, started))
	if err != nil {
		return 0, fmt.Errorf("not recorded in the history: %w", err)
	}
	for _, id := range ids {
		c.Feed.Publish(feed.Event{Topic: feed.History, ID: id, Profile: ProfileID(req.Profile)})
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// sendRecord is the history's record of a direct send, as recordSend keeps
// it and SpoolSend spools it.
func sendRecord(req SendRequest, out *SendResult, started time.Time) history.SessionRecord {
	body := req.Message
	if body == nil && req.Body != nil {
		// Kept for export and resending, failed sends too; a message too
		// large to keep is recorded without its body.
		r := req.Body()
		if l, ok := r.(interface{ Len() int }); !ok || l.Len() <= maxHistoryBody {
			body, _ = io.ReadAll(r)
		}
	}
	s := history.SessionRecord{
		Started: started, Finished: out.finished, Server: out.Server, TLS: out.Result.TLS,
		Transcript: out.Transcript.Events(), Redact: out.Transcript.Redact,
		Messages: []history.MessageRecord{{MessageID: req.MessageID, Subject: req.Subject, From: req.Envelope.From, To: req.Envelope.To, Body: body, Result: out.Result}},
	}
	if p := req.Profile; p != nil {
		s.Profile, s.ProfileName = p.ID, p.Name
	}
	return s
}

// SpoolSend is RecordSend for a process that has not opened the store (a
// one-shot send): the record goes to the history spool in dataDir (see
// SpoolDir), which the next Core opened on dataDir moves into the history
// (a running window within a second). It sets out.HistoryErr when the
// record could not be written; out.HistoryID stays 0. A session stopped
// early on purpose is not kept, as with RecordSend.
func SpoolSend(dataDir string, req SendRequest, out *SendResult) {
	if out.quitAfter {
		return
	}
	if _, err := history.WriteSpool(SpoolDir(dataDir), sendRecord(req, out, out.started)); err != nil {
		out.HistoryErr = fmt.Errorf("not recorded in the history: %w", err)
	}
}

// forwardLines publishes rec's lines on f until stop is called (after
// rec.Finish, so that every line is delivered).
func forwardLines(f *feed.Feed, rec *transcript.Recorder, session, profile string) (stop func()) {
	sub := rec.Subscribe(4096, true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range sub.C() {
			e := e
			f.Publish(feed.Event{Topic: feed.Transcript, Time: e.Time, Session: session, Profile: profile, Line: &e})
		}
	}()
	return wg.Wait
}

// ProfileConfig is the session configuration of a stored profile with its
// secret (given, or from the keychain), or of the sandbox when p is nil.
func (c *Core) ProfileConfig(p *account.Profile, given string) (transport.Config, error) {
	if p == nil {
		return c.SandboxConfig(), nil
	}
	pw, err := c.Secret(p, given)
	if err != nil {
		return transport.Config{}, err
	}
	return p.TransportConfig(pw), nil
}

// Compose merges profile p (nil: the sandbox, which adds nothing) into d and
// renders it with opts. It does not sign: Core.Render adds the profile's
// DKIM signer.
func Compose(p *account.Profile, d message.Draft, opts ...message.Option) (*message.Rendered, error) {
	if p != nil {
		p.ApplyTo(&d)
	}
	return message.Render(d, opts...)
}

// SendDraft composes d with p (nil: the sandbox), signed when p signs, and
// sends it at once.
// rec, when not nil, receives the session live.
func (c *Core) SendDraft(ctx context.Context, p *account.Profile, d message.Draft, rec *transcript.Recorder) (*SendResult, error) {
	r, err := c.Render(p, d)
	if err != nil {
		return nil, err
	}
	cfg, err := c.ProfileConfig(p, "")
	if err != nil {
		return nil, err
	}
	req := SendRequest{Profile: p, Config: cfg, Envelope: transport.Envelope{From: r.Envelope.From, To: r.Envelope.To},
		Message: r.Bytes, MessageID: r.MessageID, Subject: r.Subject, Transcript: rec}
	if p != nil {
		req.Fallbacks = Fallbacks(p, cfg)
	}
	return c.Send(ctx, req), nil
}

// ProfileID is the outbox's id for p: its id, or the sandbox's for nil.
func ProfileID(p *account.Profile) string {
	if p == nil {
		return SandboxProfile
	}
	return p.ID
}

// Enqueue puts messages in the outbox in one durable transaction and tells
// the feed. Each message keeps its delivery status notification request
// (Message.DSN); one that transport.ParseDSN refuses stores none of them.
func (c *Core) Enqueue(ctx context.Context, ms ...queue.Message) ([]int64, error) {
	for i, m := range ms {
		if _, err := queue.StoredDSN(m.DSN); err != nil {
			if len(ms) == 1 {
				return nil, fmt.Errorf("delivery notifications: %w; nothing was queued", err)
			}
			return nil, fmt.Errorf("message %d: delivery notifications: %w; nothing was queued", i+1, err)
		}
	}
	ids, err := c.Queue.EnqueueBatch(ctx, ms)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		c.Feed.Publish(feed.Event{Topic: feed.Queue, ID: id, Text: "queued"})
	}
	c.kickRunner()
	return ids, nil
}

// QueueDraft composes d with p (nil: the sandbox), signed when p signs (the
// outbox keeps the rendered, signed message), and puts it in the outbox,
// due at sendAt (zero: now), asking for no delivery notification.
func (c *Core) QueueDraft(ctx context.Context, p *account.Profile, d message.Draft, sendAt time.Time) (int64, *message.Rendered, error) {
	return c.QueueDraftWith(ctx, p, d, QueueOptions{SendAt: sendAt})
}

// QueueOptions are how a draft waits in the outbox and is sent from it.
type QueueOptions struct {
	// SendAt is when it is due (zero: now).
	SendAt time.Time
	// DSN is its delivery status notification request (RFC 3461), kept
	// with it in the outbox; nil asks for none.
	DSN *transport.DSN
}

// QueueDraftWith is QueueDraft with the outbox options o. A DSN request
// that transport.ParseDSN refuses is an error and nothing is queued.
func (c *Core) QueueDraftWith(ctx context.Context, p *account.Profile, d message.Draft, o QueueOptions) (int64, *message.Rendered, error) {
	if _, err := queue.StoredDSN(o.DSN); err != nil {
		return 0, nil, fmt.Errorf("delivery notifications: %w; nothing was queued", err)
	}
	r, err := c.Render(p, d)
	if err != nil {
		return 0, nil, err
	}
	m := queue.FromRendered(ProfileID(p), r, o.SendAt)
	m.DSN = o.DSN
	ids, err := c.Enqueue(ctx, m)
	if err != nil {
		return 0, nil, err
	}
	return ids[0], r, nil
}
