package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/ui"
)

// SandboxAdapter implements ui.SandboxCore over the core: the inbox in the
// store, the running server and its settings, and the checks.
type SandboxAdapter struct {
	c *core.Core
	// Offline skips DNS in the checks (tests, and machines without DNS).
	Offline bool
	// Resolver answers the checks' DNS; nil means the system's.
	Resolver sandbox.Resolver

	mu       sync.Mutex
	dnsOK    bool
	dnsAsked time.Time
}

var _ ui.SandboxCore = (*SandboxAdapter)(nil)

// NewSandboxAdapter returns the Sandbox view's adapter over c.
func NewSandboxAdapter(c *core.Core) *SandboxAdapter { return &SandboxAdapter{c: c} }

// SandboxPage implements ui.SandboxCore.
func (a *SandboxAdapter) SandboxPage(ctx context.Context, search string, offset, limit int) ([]ui.InboxItem, error) {
	msgs, err := a.c.Store.SearchSandboxMessages(ctx, store.SandboxQuery{Search: search, Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]ui.InboxItem, len(msgs))
	for i, m := range msgs {
		out[i] = ui.InboxItem{ID: m.ID, Received: m.Received, From: m.From, To: m.To, Subject: m.Subject, Size: m.Size}
	}
	return out, nil
}

// SandboxCount implements ui.SandboxCore.
func (a *SandboxAdapter) SandboxCount(ctx context.Context, search string) (int, error) {
	return a.c.Store.CountSandboxMessages(ctx, store.SandboxQuery{Search: search})
}

// SandboxDetail implements ui.SandboxCore: the message taken apart and its
// checks (DNS lookups bounded by their timeouts).
func (a *SandboxAdapter) SandboxDetail(ctx context.Context, id int64) (*ui.SandboxDetail, error) {
	m, err := a.c.Store.SandboxMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &ui.SandboxDetail{ID: m.ID, Raw: m.Raw}
	how := "without TLS"
	if m.TLS {
		how = "over TLS"
	}
	if m.AuthUser != "" {
		how += ", logged in as " + m.AuthUser
	}
	from := m.From
	if from == "" {
		from = "<> (null sender)"
	}
	d.Envelope = fmt.Sprintf("Message %d, %s: from %s to %s; %s from %s (EHLO %s), %s", m.ID, m.Received.Local().Format("2006-01-02 15:04:05"),
		from, strings.Join(m.To, ", "), how, m.Remote, m.Helo, humanBytes(m.Size))
	if m.ReplyDropped {
		d.Envelope += "; the reply was dropped (fault)"
	}
	p, _ := message.Parse(m.Raw)
	if p != nil {
		for _, h := range p.Headers {
			d.Headers = append(d.Headers, [2]string{h.Name, h.Value})
		}
		d.Text, d.HasText = p.Text, p.HasText
		if p.HasHTML {
			// The HTML formatted, with the message's own images; its text
			// for the "As text" view (nothing fetched, nothing run).
			d.HTMLDoc = message.HTMLDocument(p.HTML, message.HTMLOptions{Parts: p.Parts, MaxText: sandboxHTMLText, MaxBlocks: sandboxHTMLBlocks})
			d.HTML, d.HasHTML = d.HTMLDoc.Text(), true
		}
		for _, pt := range p.Parts {
			d.Parts = append(d.Parts, ui.SandboxPart{Name: pt.Name, Type: pt.Type, Inline: pt.Inline, Data: pt.Data})
		}
	}
	for _, e := range m.Transcript {
		d.Transcript = append(d.Transcript, e.String())
	}
	offline := a.Offline || !a.dnsReachable(ctx)
	checks, sentFound := a.c.SandboxChecks(ctx, m, core.SandboxCheckOptions{Offline: offline, Resolver: a.Resolver, Parsed: p})
	for _, c := range checks {
		d.Checks = append(d.Checks, ui.SandboxCheck{Name: c.Name, Status: string(c.Status), Text: c.Text})
	}
	// Just arrived, with a Message-ID and no sent copy yet: its sender may
	// still be recording it.
	d.Recheck = !sentFound && sandbox.MessageIDOf(m.Raw) != "" && time.Since(m.Received) < freshCapture
	return d, nil
}

// freshCapture is how long after its arrival a capture without a sent copy
// in the history is checked again (see ui.SandboxDetail.Recheck).
const freshCapture = 10 * time.Second

// Bounds of the HTML shown of a captured message (the Source tab has the
// rest).
const (
	sandboxHTMLText   = 1 << 20
	sandboxHTMLBlocks = 20000
)

// dnsReachable asks DNS briefly (diagnose.DNSReachable, as the domain
// checks of a connection test do), at most once a minute: without it the
// checks say "offline" at once instead of waiting for each lookup to time
// out.
func (a *SandboxAdapter) dnsReachable(ctx context.Context) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.dnsAsked) < time.Minute {
		return a.dnsOK
	}
	var r diagnose.TXTResolver
	if a.Resolver != nil {
		r = a.Resolver
	}
	a.dnsOK, a.dnsAsked = diagnose.DNSReachable(ctx, r, 2*time.Second) == nil, time.Now()
	return a.dnsOK
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// DeleteSandboxMessage implements ui.SandboxCore.
func (a *SandboxAdapter) DeleteSandboxMessage(ctx context.Context, id int64) error {
	if err := a.c.Store.DeleteSandboxMessage(ctx, id); err != nil {
		return err
	}
	a.c.Feed.Publish(feed.Event{Topic: feed.Sandbox, Text: "deleted"})
	return nil
}

// ClearSandbox implements ui.SandboxCore.
func (a *SandboxAdapter) ClearSandbox(ctx context.Context) error {
	if err := a.c.Store.DeleteSandboxMessages(ctx); err != nil {
		return err
	}
	a.c.Feed.Publish(feed.Event{Topic: feed.Sandbox, Text: "cleared"})
	return nil
}

// SandboxUpdates implements ui.SandboxCore: every event of the feed's
// Sandbox topic.
func (a *SandboxAdapter) SandboxUpdates() (<-chan struct{}, func()) {
	sub := a.c.Feed.Subscribe(256, feed.Sandbox)
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		for range sub.C() {
			select {
			case ch <- struct{}{}:
			default: // one pending signal is enough: the view reloads
			}
		}
	}()
	return ch, sub.Close
}

// SandboxStatus implements ui.SandboxCore.
func (a *SandboxAdapter) SandboxStatus() ui.SandboxStatus {
	st := a.c.SandboxState()
	if !st.Running {
		return ui.SandboxStatus{Summary: "Start it, or change its settings."}
	}
	var parts []string
	switch st.TLS {
	case sandbox.TLSStartTLS:
		parts = append(parts, "STARTTLS (self-signed certificate)")
	case sandbox.TLSImplicit:
		parts = append(parts, "implicit TLS (self-signed certificate)")
	default:
		parts = append(parts, "no TLS")
	}
	if st.AuthUser != "" {
		parts = append(parts, "AUTH required as "+st.AuthUser)
	} else {
		parts = append(parts, "no AUTH (none offered)")
	}
	parts = append(parts, "limit "+humanBytes(int(st.MaxSize)))
	if len(st.Faults) == 0 {
		parts = append(parts, "no faults")
	} else {
		var fs []string
		for _, f := range st.Faults {
			fs = append(fs, f.String())
		}
		parts = append(parts, "faults "+strings.Join(fs, ","))
	}
	if err := a.c.SandboxStartErr(); err != nil {
		parts = append(parts, err.Error())
	}
	return ui.SandboxStatus{Running: true, Addr: st.Addr, Summary: strings.Join(parts, " · ")}
}

// SandboxSettings implements ui.SandboxCore.
func (a *SandboxAdapter) SandboxSettings(ctx context.Context) (ui.SandboxForm, error) {
	s, err := a.c.SandboxSettings(ctx)
	if err != nil {
		return ui.SandboxForm{}, err
	}
	f := ui.SandboxForm{Listen: s.Listen, TLS: string(s.TLS), AuthUser: s.AuthUser, AuthPass: s.AuthPass, Faults: s.Faults, Stopped: s.Stopped}
	if s.MaxSize > 0 {
		f.MaxSize = strconv.FormatInt(s.MaxSize, 10)
	}
	return f, nil
}

// ApplySandbox implements ui.SandboxCore.
func (a *SandboxAdapter) ApplySandbox(ctx context.Context, f ui.SandboxForm) error {
	s := core.SandboxSettings{Listen: f.Listen, TLS: sandbox.TLSMode(f.TLS), AuthUser: f.AuthUser, AuthPass: f.AuthPass, Faults: f.Faults, Stopped: f.Stopped}
	if f.MaxSize != "" {
		n, err := ParseSize(f.MaxSize)
		if err != nil {
			return fmt.Errorf("size limit: %w", err)
		}
		s.MaxSize = n
	}
	return a.c.ApplySandbox(ctx, s)
}

// ParseSize reads a size in bytes, with an optional KB, MB, GB (powers of
// 1000), KiB, MiB, GiB or K, M, G (powers of 1024) suffix.
func ParseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size (e.g. 1048576, 500KB, 25MB)", s)
	}
	return n * mult, nil
}

// DescribeFaults implements ui.SandboxCore.
func (a *SandboxAdapter) DescribeFaults(spec string) ([]string, error) {
	fs, err := sandbox.ParseFaults(spec)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.String()+": "+f.Describe())
	}
	return out, nil
}

// FaultExamples implements ui.SandboxCore.
func (a *SandboxAdapter) FaultExamples() [][2]string {
	var out [][2]string
	for _, e := range sandbox.FaultExamples() {
		out = append(out, [2]string{e.Spec, e.Label})
	}
	return out
}

// newSandboxView is the Sandbox view over gc's core (gc nil: a view only
// named, for checking `--view`).
func newSandboxView(gc *GUICore, do ui.Dispatcher) ui.View {
	if gc == nil {
		return ui.NewSandbox(nil, do)
	}
	return ui.NewSandbox(NewSandboxAdapter(gc.c), do)
}
