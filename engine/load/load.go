// Package load is Herald's SMTP load generator, in the manner of Postfix's
// smtp-source: several concurrent sessions send generated messages to one
// server as fast as it takes them, pipelined where the server offers
// PIPELINING, and the run is summed up as throughput, latency percentiles,
// the reply codes seen and the errors. Nothing is stored and no transcript
// is kept.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-smtp/herald/engine/transport"
)

// Defaults of Options.
const (
	// DefaultSize is the approximate size of a generated message in bytes.
	DefaultSize = 1024
	// DefaultBatch is how many messages a session hands to
	// transport.Client.SendMany at once.
	DefaultBatch = 64
	// DefaultFrom is the envelope sender when Options.From is empty.
	DefaultFrom = "load@herald.test"
	// DefaultProgressEvery is the interval of Options.Progress calls.
	DefaultProgressEvery = time.Second
	// maxMessages bounds one run, so that a typo cannot start an endless
	// one.
	maxMessages = 100_000_000
)

// Options describe one load run.
type Options struct {
	// Transport is the session configuration (server, TLS, auth,
	// pipelining). Its Transcript is ignored: nothing is recorded.
	Transport transport.Config
	// Messages is the total number of messages to send (required).
	Messages int
	// Sessions is the number of concurrent sessions (default 1).
	Sessions int
	// PerSession is the number of messages a session sends before it quits
	// and reconnects; 0 means no limit.
	PerSession int
	// Size is the approximate size of each message in bytes (default
	// DefaultSize); a message is never smaller than its headers.
	Size int
	// Recipients is the number of recipients per message (default 1).
	Recipients int
	// From is the envelope and header sender (default DefaultFrom).
	From string
	// To is the recipient: with several recipients, user+1@domain,
	// user+2@domain, ...; empty means load-1@herald.test, load-2@..., ...
	To string
	// Batch is how many messages a session sends per SendMany call
	// (default DefaultBatch); a pipelining session drains its pipeline
	// once per batch.
	Batch int
	// Progress, when set, is called every ProgressEvery from another
	// goroutine with the counts so far, and once at the end.
	Progress func(Progress)
	// ProgressEvery is the interval of Progress calls (default
	// DefaultProgressEvery).
	ProgressEvery time.Duration
}

// Progress is a snapshot of a running load test.
type Progress struct {
	Elapsed time.Duration
	// Done counts messages with an outcome; Accepted those the server took.
	Done, Accepted, Failed int
	// Total is Options.Messages.
	Total int
	// Rate is Done per second since the start.
	Rate float64
}

// Latency sums up transaction times (from MAIL to the final reply), in
// milliseconds.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// ReplyCount is how often the server gave one reply code at one stage:
// rcpt (each RCPT TO), data (the reply to the message, after the final
// dot, or to a refused DATA), mail (a refused MAIL), or a session stage
// (banner, ehlo, tls, auth) that failed with a reply.
type ReplyCount struct {
	Stage string `json:"stage"`
	Code  int    `json:"code"`
	Count int    `json:"count"`
}

// ErrorCount groups the failures of one class, stage and kind.
type ErrorCount struct {
	Class string `json:"class"`
	Stage string `json:"stage"`
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// First is the first such error's message.
	First string `json:"first"`
}

// Report is the outcome of a load run.
type Report struct {
	Server string `json:"server"`
	// Requested is Options.Messages; Messages counts those with an
	// outcome (fewer when the run was interrupted).
	Requested int `json:"requested"`
	Messages  int `json:"messages"`
	// Accepted counts messages the server took (for at least one
	// recipient); Temporary, Permanent and Unknown count the others by
	// class (Unknown: the connection was lost after the final dot).
	Accepted  int `json:"accepted"`
	Temporary int `json:"temporary"`
	Permanent int `json:"permanent"`
	Unknown   int `json:"unknown"`
	// NotSent counts messages never tried (the run was interrupted); they
	// count as temporary failures for OnlyTemporary.
	NotSent int `json:"not_sent"`
	// RecipientsRefused counts refused recipients of accepted messages;
	// RecipientsRefusedTemporary those refused with 4xx.
	RecipientsRefused          int `json:"recipients_refused"`
	RecipientsRefusedTemporary int `json:"recipients_refused_temporary"`
	// Sessions is the concurrency; Connections counts the sessions opened
	// (more with PerSession, or after failures).
	Sessions    int `json:"sessions"`
	Connections int `json:"connections"`
	// Pipelined counts the sessions that pipelined.
	Pipelined int `json:"pipelined_sessions"`
	// MessageBytes is the size of each generated message, RecipientsPer
	// the recipients of each.
	MessageBytes  int `json:"message_bytes"`
	RecipientsPer int `json:"recipients_per_message"`
	// Seconds is the wall time of the run.
	Seconds float64 `json:"seconds"`
	// MessagesPerSec is Messages per second; AcceptedPerSec only the
	// accepted ones; BytesPerSec the accepted messages' bytes.
	MessagesPerSec float64      `json:"messages_per_sec"`
	AcceptedPerSec float64      `json:"accepted_per_sec"`
	BytesPerSec    float64      `json:"bytes_per_sec"`
	Latency        Latency      `json:"latency"`
	Replies        []ReplyCount `json:"replies"`
	Errors         []ErrorCount `json:"errors"`
	// Stopped says why the run ended before every message had its turn
	// when a failure no retry can mend ended it (a permanent refusal of the
	// login, or of TLS, is the same for every session); "" otherwise.
	Stopped string `json:"stopped,omitempty"`
}

// AllAccepted reports whether every requested message was accepted for
// every recipient.
func (r *Report) AllAccepted() bool {
	return r.Accepted == r.Requested && r.RecipientsRefused == 0
}

// OnlyTemporary reports whether every failure of the run was temporary:
// 4xx replies, network failures before the final dot, messages not sent.
func (r *Report) OnlyTemporary() bool {
	return r.Permanent == 0 && r.Unknown == 0 && r.RecipientsRefused == r.RecipientsRefusedTemporary
}

func (o *Options) withDefaults() (Options, error) {
	v := *o
	if v.Messages <= 0 || v.Messages > maxMessages {
		return v, fmt.Errorf("the number of messages must be from 1 to %d, got %d", maxMessages, v.Messages)
	}
	if v.Sessions == 0 {
		v.Sessions = 1
	}
	if v.Sessions < 0 || v.Sessions > 10_000 {
		return v, fmt.Errorf("the number of sessions must be from 1 to 10000, got %d", v.Sessions)
	}
	if v.PerSession < 0 {
		return v, fmt.Errorf("messages per session must not be negative, got %d", v.PerSession)
	}
	if v.Size == 0 {
		v.Size = DefaultSize
	}
	if v.Size < 0 || v.Size > 1<<30 {
		return v, fmt.Errorf("the message size must be from 1 byte to 1 GiB, got %d", v.Size)
	}
	if v.Recipients == 0 {
		v.Recipients = 1
	}
	if v.Recipients < 0 || v.Recipients > 1000 {
		return v, fmt.Errorf("the recipients per message must be from 1 to 1000, got %d", v.Recipients)
	}
	if v.From == "" {
		v.From = DefaultFrom
	}
	if v.Batch <= 0 {
		v.Batch = DefaultBatch
	}
	if v.ProgressEvery <= 0 {
		v.ProgressEvery = DefaultProgressEvery
	}
	for _, a := range []string{v.From, v.To} {
		if strings.ContainsAny(a, "\r\n\x00<> \t") || (a != "" && !strings.Contains(a, "@")) {
			return v, fmt.Errorf("%q is not an address", a)
		}
	}
	v.Transport.Transcript = nil
	v.Sessions = min(v.Sessions, v.Messages)
	// Share small runs among the sessions rather than let the first
	// session take a whole batch.
	v.Batch = min(v.Batch, (v.Messages+v.Sessions-1)/v.Sessions)
	return v, nil
}

// Recipients returns the recipients of every message: to itself for one,
// user+1@domain ... for several, load-1@herald.test ... without to.
func Recipients(to string, n int) []string {
	out := make([]string, n)
	if to != "" && n == 1 {
		out[0] = to
		return out
	}
	user, domain := "load", "herald.test"
	sep := "-"
	if to != "" {
		i := strings.LastIndexByte(to, '@')
		user, domain, sep = to[:i], to[i+1:], "+"
	}
	for i := range out {
		out[i] = user + sep + strconv.Itoa(i+1) + "@" + domain
	}
	return out
}

// run is the shared state of one load run.
type run struct {
	o        Options
	tpl      *template
	env      transport.Envelope
	claimed  atomic.Int64
	done     atomic.Int64
	accepted atomic.Int64

	// stop ends the run early; stopped is why (guarded by mu).
	stop    context.CancelCauseFunc
	mu      sync.Mutex
	stats   stats
	stopped string
}

// stopOn ends the whole run when err, the failure of a session's setup,
// would be the same for every session: a permanent failure of TLS or
// authentication (a wrong password must not be tried once per message).
// It reports whether it did.
func (r *run) stopOn(err error) bool {
	var e *transport.Error
	if !errors.As(err, &e) || e.Class != transport.ClassPermanent || (e.Stage != transport.StageAuth && e.Stage != transport.StageTLS) {
		return false
	}
	r.mu.Lock()
	if r.stopped == "" {
		r.stopped = fmt.Sprintf("the run stopped at the first permanent %s failure, which every session would meet: %v", stageWord(e.Stage), err)
	}
	r.mu.Unlock()
	r.stop(err)
	return true
}

// stageWord names a session stage in the stop message.
func stageWord(st transport.Stage) string {
	if st == transport.StageAuth {
		return "authentication"
	}
	return string(st)
}

// claim takes up to n messages from the pool and returns how many it got.
func (r *run) claim(n int) int {
	for {
		cur := r.claimed.Load()
		left := int64(r.o.Messages) - cur
		if left <= 0 || n <= 0 {
			return 0
		}
		k := min(int64(n), left)
		if r.claimed.CompareAndSwap(cur, cur+k) {
			return int(k)
		}
	}
}

// Run sends Options.Messages messages over Options.Sessions concurrent
// sessions and reports what happened. It returns an error only for
// invalid options; every failure of the server or the network is in the
// report. A permanent failure of authentication or TLS stops the run
// (Report.Stopped says so; the messages not tried count as NotSent). Canceling ctx ends the run early (the report counts the messages
// not tried as NotSent).
func Run(ctx context.Context, o Options) (*Report, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	r := &run{o: opts, tpl: newTemplate(opts), env: transport.Envelope{From: opts.From, To: Recipients(opts.To, opts.Recipients)}}
	r.stats.init()
	ctx, r.stop = context.WithCancelCause(ctx)
	defer r.stop(nil)

	start := time.Now()
	stopProgress := r.progress(ctx, start)
	var wg sync.WaitGroup
	for w := 0; w < opts.Sessions; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	return r.report(elapsed), nil
}

// progress calls Options.Progress every interval until stopped, and once
// more when stopped.
func (r *run) progress(ctx context.Context, start time.Time) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	snap := func() Progress {
		el := time.Since(start)
		d, a := int(r.done.Load()), int(r.accepted.Load())
		p := Progress{Elapsed: el, Done: d, Accepted: a, Failed: d - a, Total: r.o.Messages}
		if s := el.Seconds(); s > 0 {
			p.Rate = float64(d) / s
		}
		return p
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.o.Progress(snap())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		r.o.Progress(snap())
	}
}

// worker is one session slot: it connects, sends batches until its
// session's quota or the pool is exhausted, and reconnects as needed.
func (r *run) worker(ctx context.Context) {
	var st stats
	st.init()
	defer func() {
		r.mu.Lock()
		r.stats.merge(&st)
		r.mu.Unlock()
	}()
	var (
		c       *transport.Client
		inSess  int // messages sent on this session
		envs    = make([]transport.Envelope, r.o.Batch)
		readers = make([]*msgReader, r.o.Batch)
		bodies  = make([]io.Reader, r.o.Batch)
	)
	for i := range envs {
		envs[i] = r.env
		readers[i] = r.tpl.reader()
		bodies[i] = readers[i]
	}
	defer func() {
		if c != nil {
			c.Quit()
		}
	}()
	for ctx.Err() == nil {
		held := 0
		if c == nil {
			// One message is at stake in every connection attempt, so that
			// a server that refuses every session ends the run.
			if r.claim(1) == 0 {
				return
			}
			held = 1
			var err error
			st.connections++
			c, err = transport.Dial(ctx, r.o.Transport)
			if err != nil {
				res := &transport.Result{}
				var e *transport.Error
				if errors.As(err, &e) {
					res.Stage, res.Class, res.Code, res.EnhancedCode = e.Stage, e.Class, e.Code, e.EnhancedCode
				} else {
					res.Class = transport.ClassTemporary
				}
				res.Err = err
				r.record(&st, res)
				c = nil
				if r.stopOn(err) {
					return
				}
				continue
			}
			if c.Pipelined() {
				st.pipelined++
			}
			inSess = 0
		}
		want := r.o.Batch
		if r.o.PerSession > 0 {
			want = min(want, r.o.PerSession-inSess)
		}
		n := held + r.claim(want-held)
		if n == 0 {
			return
		}
		for i := range n {
			readers[i].reset(r.tpl.nextID())
		}
		results, _ := c.SendMany(ctx, envs[:n], bodies[:n])
		back := 0
		for _, res := range results {
			var e *transport.Error
			if errors.As(res.Err, &e) && e.Kind == transport.KindNotSent {
				// An earlier message broke the session: this one was not
				// tried. It goes back to the pool for the next session
				// (this worker goes on, so it cannot be orphaned).
				back++
				continue
			}
			r.record(&st, res)
		}
		if back > 0 {
			r.claimed.Add(-int64(back))
		}
		inSess += n
		switch {
		case !c.Usable():
			c.Close()
			c = nil
		case r.o.PerSession > 0 && inSess >= r.o.PerSession:
			c.Quit()
			c = nil
		}
	}
}

// record counts one message's outcome.
func (r *run) record(st *stats, res *transport.Result) {
	st.add(res, r.tpl.size)
	r.done.Add(1)
	if res.OK {
		r.accepted.Add(1)
	}
}

// report turns the merged statistics into a Report.
func (r *run) report(elapsed time.Duration) *Report {
	s := &r.stats
	o := r.o
	rep := &Report{
		Server:                     net.JoinHostPort(o.Transport.Host, strconv.Itoa(port(o.Transport))),
		Requested:                  o.Messages,
		Messages:                   s.messages,
		Accepted:                   s.accepted,
		Temporary:                  s.temporary,
		Permanent:                  s.permanent,
		Unknown:                    s.unknown,
		NotSent:                    o.Messages - s.messages,
		RecipientsRefused:          s.rcptRefused,
		RecipientsRefusedTemporary: s.rcptRefusedTemp,
		Sessions:                   o.Sessions,
		Connections:                s.connections,
		Pipelined:                  s.pipelined,
		MessageBytes:               r.tpl.size,
		RecipientsPer:              o.Recipients,
		Seconds:                    elapsed.Seconds(),
		Replies:                    []ReplyCount{},
		Errors:                     []ErrorCount{},
	}
	if sec := elapsed.Seconds(); sec > 0 {
		rep.MessagesPerSec = float64(rep.Messages) / sec
		rep.AcceptedPerSec = float64(rep.Accepted) / sec
		rep.BytesPerSec = float64(s.acceptedBytes) / sec
	}
	rep.Latency = summarize(s.latencies)
	for k, n := range s.replies {
		rep.Replies = append(rep.Replies, ReplyCount{Stage: k.stage, Code: k.code, Count: n})
	}
	slices.SortFunc(rep.Replies, func(a, b ReplyCount) int {
		if c := stageRank(a.Stage) - stageRank(b.Stage); c != 0 {
			return c
		}
		return a.Code - b.Code
	})
	for k, e := range s.errors {
		rep.Errors = append(rep.Errors, ErrorCount{Class: k.class, Stage: k.stage, Kind: k.kind, Count: e.count, First: e.first})
	}
	slices.SortFunc(rep.Errors, func(a, b ErrorCount) int { return b.Count - a.Count })
	rep.Stopped = r.stopped
	return rep
}

func port(c transport.Config) int {
	if c.Port > 0 {
		return c.Port
	}
	return transport.DefaultPort(c.TLS)
}

// stageRank orders stages as a session meets them.
func stageRank(s string) int {
	for i, v := range []string{"connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done"} {
		if v == s {
			return i
		}
	}
	return 99
}

// summarize computes the latency percentiles (nearest rank).
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return math.Round(float64(x)/1e3) / 1e3 }
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latency{Count: len(d), Mean: ms(sum / time.Duration(len(d))), P50: ms(rank(0.50)), P95: ms(rank(0.95)), P99: ms(rank(0.99)), Max: ms(d[len(d)-1])}
}

type replyKey struct {
	stage string
	code  int
}

type errorKey struct{ class, stage, kind string }

type errorAgg struct {
	count int
	first string
}

// stats are one worker's counts, merged at the end.
type stats struct {
	messages, accepted, temporary, permanent, unknown int
	rcptRefused, rcptRefusedTemp                      int
	connections, pipelined                            int
	acceptedBytes                                     int64
	latencies                                         []time.Duration
	replies                                           map[replyKey]int
	errors                                            map[errorKey]*errorAgg
}

func (s *stats) init() {
	s.replies = map[replyKey]int{}
	s.errors = map[errorKey]*errorAgg{}
}

func (s *stats) addError(class, stage, kind, msg string) {
	k := errorKey{class, stage, kind}
	if e := s.errors[k]; e != nil {
		e.count++
		return
	}
	s.errors[k] = &errorAgg{count: 1, first: msg}
}

// add counts one message's result.
func (s *stats) add(res *transport.Result, size int) {
	s.messages++
	for _, rc := range res.Recipients {
		s.replies[replyKey{"rcpt", rc.Code}]++
		if res.OK && !rc.Accepted {
			s.rcptRefused++
			class := "permanent"
			if rc.Code/100 == 4 {
				s.rcptRefusedTemp++
				class = "temporary"
			}
			msg := "recipient <" + rc.Addr + "> refused: " + strconv.Itoa(rc.Code)
			if rc.EnhancedCode != "" {
				msg += " " + rc.EnhancedCode
			}
			if rc.Message != "" {
				msg += " " + rc.Message
			}
			s.addError(class, "rcpt", string(transport.KindReply), msg)
		}
	}
	if res.OK {
		s.accepted++
		s.acceptedBytes += int64(size)
		s.replies[replyKey{"data", res.Code}]++
		s.latencies = append(s.latencies, res.Elapsed)
		return
	}
	switch res.Class {
	case transport.ClassUnknown:
		s.unknown++
	case transport.ClassPermanent:
		s.permanent++
	default:
		s.temporary++
	}
	if res.Code > 0 {
		// A reply decided: a transaction with a latency. Refusals at rcpt
		// are already counted recipient by recipient.
		if res.Stage != transport.StageRcpt {
			s.replies[replyKey{string(res.Stage), res.Code}]++
		}
		switch res.Stage {
		case transport.StageMail, transport.StageRcpt, transport.StageData:
			s.latencies = append(s.latencies, res.Elapsed)
		}
	}
	kind := ""
	var e *transport.Error
	if errors.As(res.Err, &e) {
		kind = string(e.Kind)
	}
	msg := ""
	if res.Err != nil {
		msg = res.Err.Error()
	}
	stage := string(res.Stage)
	if stage == "" {
		stage = string(transport.StageConnect)
	}
	s.addError(string(res.Class), stage, kind, msg)
}

func (s *stats) merge(o *stats) {
	s.messages += o.messages
	s.accepted += o.accepted
	s.temporary += o.temporary
	s.permanent += o.permanent
	s.unknown += o.unknown
	s.rcptRefused += o.rcptRefused
	s.rcptRefusedTemp += o.rcptRefusedTemp
	s.connections += o.connections
	s.pipelined += o.pipelined
	s.acceptedBytes += o.acceptedBytes
	s.latencies = append(s.latencies, o.latencies...)
	for k, n := range o.replies {
		s.replies[k] += n
	}
	for k, e := range o.errors {
		if have := s.errors[k]; have != nil {
			have.count += e.count
			continue
		}
		s.errors[k] = &errorAgg{count: e.count, first: e.first}
	}
}
