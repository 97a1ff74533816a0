package diagnose

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// Source names where a discovered candidate came from.
type Source string

// The discovery sources, in the order of trust.
const (
	SourcePreset     Source = "preset"
	SourceAutoconfig Source = "autoconfig"
	SourceISPDB      Source = "ispdb"
	SourceSRV        Source = "srv"
	SourceMX         Source = "mx"
	SourceGuess      Source = "guess"
)

func (s Source) trust() int {
	return slices.Index([]Source{SourcePreset, SourceAutoconfig, SourceISPDB, SourceSRV, SourceMX, SourceGuess}, s)
}

// Server is one set of submission settings a source proposes.
type Server struct {
	Host string               `json:"host"`
	Port int                  `json:"port"`
	TLS  transport.TLSMode    `json:"tls"`
	Auth transport.AuthMethod `json:"auth,omitempty"`
	// Username is the login with placeholders already filled in, e.g. the
	// full address for %EMAILADDRESS%.
	Username string `json:"username,omitempty"`
	// Provider is the provider's name when the source knows it.
	Provider string `json:"provider,omitempty"`
	// SetupURL points to the provider's page about passwords or API keys.
	SetupURL string `json:"setup_url,omitempty"`
}

// Candidate is a proposed server together with where it came from and what
// a probe found there.
type Candidate struct {
	Server
	Source Source `json:"source"`
	// Detail says more about the source ("autoconfig.example.com", "MX
	// aspmx.l.google.com").
	Detail string `json:"detail,omitempty"`
	// Rank orders candidates: 1 is the best. Unreachable ones rank last.
	Rank  int    `json:"rank"`
	Probe *Reach `json:"probe,omitempty"`
}

// Reach is what connecting to a candidate showed. A probe reads the banner,
// sends EHLO, starts TLS where the mode asks for it, and quits: it never
// sends credentials.
type Reach struct {
	OK bool `json:"ok"`
	// Skipped is set when discovery stopped waiting for this probe because a
	// better candidate had already answered.
	Skipped    bool               `json:"skipped,omitempty"`
	Ms         int64              `json:"ms"`
	Banner     string             `json:"banner,omitempty"`
	Extensions map[string]string  `json:"extensions,omitempty"`
	TLS        *transport.TLSInfo `json:"tls,omitempty"`
	Stage      transport.Stage    `json:"stage,omitempty"`
	// Kind says what went wrong, when the probe failed (dns, refused,
	// timeout, a certificate kind, starttls-missing, ...).
	Kind  transport.Kind `json:"kind,omitempty"`
	Error string         `json:"error,omitempty"`
	// AuthMechanisms are the mechanisms the server offers (after TLS).
	AuthMechanisms []string `json:"auth_mechanisms,omitempty"`
}

// SourceReport says what one discovery source was asked and what it gave.
type SourceReport struct {
	Source Source `json:"source"`
	Query  string `json:"query"`
	Found  int    `json:"found"`
	Error  string `json:"error,omitempty"`
	Ms     int64  `json:"ms"`
}

// Discovery is the outcome of Discover.
type Discovery struct {
	Email      string         `json:"email"`
	Domain     string         `json:"domain"`
	Sources    []SourceReport `json:"sources"`
	Candidates []Candidate    `json:"candidates"`
	// Best is the top-ranked candidate that answered, nil if none did.
	Best *Candidate `json:"best,omitempty"`
	Ms   int64      `json:"ms"`
}

// Known is what discovery can ask Herald's own data: the built-in presets
// and the autoconfig parser (both live in engine/account).
type Known interface {
	// PresetsFor returns the preset servers for a mail domain or an MX host's
	// registered domain, with the username filled in for email.
	PresetsFor(domain, email string) []Server
	// ParseAutoconfig reads a Thunderbird clientConfig document and returns
	// its SMTP servers, placeholders filled in for email.
	ParseAutoconfig(r io.Reader, email string) ([]Server, error)
}

// DiscoverOptions configure Discover. Every way out to the network is
// injectable so that tests run against local servers.
type DiscoverOptions struct {
	Known      Known
	Resolver   Resolver
	HTTPClient *http.Client
	// Dial opens probe connections; default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs replaces the system pool for probes (tests).
	RootCAs *x509.CertPool
	// ISPDB is the base URL of the Thunderbird ISPDB; the domain is appended.
	// Default https://autoconfig.thunderbird.net/v1.1/. "-" turns it off.
	ISPDB string
	// Timeout bounds the whole discovery; default 10 s.
	Timeout time.Duration
	// ProbeTimeout bounds each probe step; default 4 s.
	ProbeTimeout time.Duration
	// Grace is how long discovery keeps waiting for better candidates once
	// one answered; default 1 s.
	Grace time.Duration
	// NoGuess skips the host and port guesses.
	NoGuess bool
	// HeloName is sent in probes' EHLO; default "localhost".
	HeloName string
	// OnSource, when set, is called with each source's report as that
	// source answers (or gives up), in the order they answer; the guesses,
	// which ask nothing, come last. OnCandidate, when set, is called with
	// each candidate as its probe ends (or is cut short once a better one
	// answered), in the order they end; its Rank is 0 then, as ranking
	// waits for all probes. Every source is reported before any candidate.
	// Both are called from the goroutine that called Discover, never at
	// the same time, and before Discover returns; they must not block for
	// long: discovery waits for them.
	OnSource    func(SourceReport)
	OnCandidate func(Candidate)
}

func (o *DiscoverOptions) defaults() {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 4 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.ISPDB == "" {
		o.ISPDB = "https://autoconfig.thunderbird.net/v1.1/"
	}
	if o.HeloName == "" {
		o.HeloName = "localhost"
	}
}

// Discover finds the submission server for an email address the way
// Thunderbird's account setup does, but explained: presets, the domain's
// autoconfig, the ISPDB, SRV records (RFC 6186/8314), the MX host's
// provider, then guessed hosts and ports probed in parallel. Candidates are
// probed (banner, EHLO, TLS; never credentials) and ranked implicit TLS >
// STARTTLS > plain, then by the trust of their source.
func Discover(ctx context.Context, email string, o DiscoverOptions) (*Discovery, error) {
	o.defaults()
	start := time.Now()
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \r\n\t<>") {
		return nil, fmt.Errorf("discover: %q is not an email address", email)
	}
	domain := strings.ToLower(strings.TrimSuffix(email[at+1:], "."))
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	d := &Discovery{Email: email, Domain: domain}
	dc := &discoverer{o: o, email: email, domain: domain}

	// Phase 1: ask every source at once.
	type result struct {
		rep   SourceReport
		cands []Candidate
	}
	lookups := []func(context.Context) []result{
		func(ctx context.Context) []result {
			r, c := dc.presets(domain, SourcePreset, "")
			return []result{{r, c}}
		},
		func(ctx context.Context) []result { r, c := dc.autoconfig(ctx); return []result{{r, c}} },
		func(ctx context.Context) []result {
			r, c := dc.ispdb(ctx, domain, SourceISPDB, "")
			return []result{{r, c}}
		},
		func(ctx context.Context) []result { r, c := dc.srv(ctx); return []result{{r, c}} },
		func(ctx context.Context) []result {
			out := []result{}
			rs, cs := dc.mx(ctx)
			for i := range rs {
				out = append(out, result{rs[i], cs[i]})
			}
			return out
		},
	}
	results := make([][]result, len(lookups))
	type answer struct {
		i  int
		rs []result
	}
	answers := make(chan answer, len(lookups))
	for i, l := range lookups {
		go func() { answers <- answer{i, l(ctx)} }()
	}
	for range lookups {
		a := <-answers // each lookup ends by ctx's deadline at the latest
		results[a.i] = a.rs
		if o.OnSource != nil {
			for _, r := range a.rs {
				o.OnSource(r.rep)
			}
		}
	}
	var cands []Candidate
	for _, rs := range results {
		for _, r := range rs {
			d.Sources = append(d.Sources, r.rep)
			cands = append(cands, r.cands...)
		}
	}
	if !o.NoGuess {
		g := dc.guesses()
		d.Sources = append(d.Sources, SourceReport{Source: SourceGuess, Query: fmt.Sprintf("smtp.%s, mail.%s, %s on 465, 587, 25, 2525", domain, domain, domain), Found: len(g)})
		if o.OnSource != nil {
			o.OnSource(d.Sources[len(d.Sources)-1])
		}
		cands = append(cands, g...)
	}
	cands = dedupe(cands)

	// Phase 2: probe them all in parallel; stop early once the best one that
	// answered cannot be beaten, or Grace after the first answer.
	dc.probeAll(ctx, cands)
	rank(cands)
	d.Candidates = cands
	for i := range cands {
		if cands[i].Probe != nil && cands[i].Probe.OK {
			d.Best = &cands[i]
			break
		}
	}
	d.Ms = time.Since(start).Milliseconds()
	return d, nil
}

type discoverer struct {
	o             DiscoverOptions
	email, domain string
}

func withSource(servers []Server, src Source, detail string) []Candidate {
	out := make([]Candidate, 0, len(servers))
	for _, s := range servers {
		out = append(out, Candidate{Server: s, Source: src, Detail: detail})
	}
	return out
}

func (dc *discoverer) presets(domain string, src Source, detail string) (SourceReport, []Candidate) {
	rep := SourceReport{Source: src, Query: "built-in presets for " + domain}
	if dc.o.Known == nil {
		rep.Error = "no presets available"
		return rep, nil
	}
	c := withSource(dc.o.Known.PresetsFor(domain, dc.email), src, detail)
	rep.Found = len(c)
	return rep, c
}

// fetchAutoconfig GETs one clientConfig URL and parses it.
func (dc *discoverer) fetchAutoconfig(ctx context.Context, u string) ([]Server, error) {
	if dc.o.Known == nil {
		return nil, errors.New("no autoconfig parser")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := dc.o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return dc.o.Known.ParseAutoconfig(io.LimitReader(resp.Body, 1<<20), dc.email)
}

func (dc *discoverer) autoconfig(ctx context.Context) (SourceReport, []Candidate) {
	start := time.Now()
	urls := []string{
		"https://autoconfig." + dc.domain + "/mail/config-v1.1.xml?emailaddress=" + url.QueryEscape(dc.email),
		"https://" + dc.domain + "/.well-known/autoconfig/mail/config-v1.1.xml",
	}
	rep := SourceReport{Source: SourceAutoconfig, Query: strings.Join(urls, " then ")}
	var errs []string
	for _, u := range urls {
		servers, err := dc.fetchAutoconfig(ctx, u)
		if err != nil {
			errs = append(errs, shortURL(u)+": "+shortErr(err))
			continue
		}
		rep.Found, rep.Ms = len(servers), time.Since(start).Milliseconds()
		return rep, withSource(servers, SourceAutoconfig, shortURL(u))
	}
	rep.Error, rep.Ms = strings.Join(errs, "; "), time.Since(start).Milliseconds()
	return rep, nil
}

func (dc *discoverer) ispdb(ctx context.Context, domain string, src Source, detail string) (SourceReport, []Candidate) {
	start := time.Now()
	rep := SourceReport{Source: src, Query: "ISPDB " + domain}
	if dc.o.ISPDB == "-" {
		rep.Error = "ISPDB lookups turned off"
		return rep, nil
	}
	u := dc.o.ISPDB + url.PathEscape(domain)
	rep.Query = u
	servers, err := dc.fetchAutoconfig(ctx, u)
	rep.Ms = time.Since(start).Milliseconds()
	if err != nil {
		rep.Error = shortErr(err)
		return rep, nil
	}
	if detail == "" {
		detail = "ISPDB " + domain
	}
	rep.Found = len(servers)
	return rep, withSource(servers, src, detail)
}

func shortURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host + p.Path
	}
	return u
}

func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func (dc *discoverer) srv(ctx context.Context) (SourceReport, []Candidate) {
	start := time.Now()
	rep := SourceReport{Source: SourceSRV, Query: "_submissions._tcp." + dc.domain + ", _submission._tcp." + dc.domain}
	var cands []Candidate
	var errs []string
	for _, q := range []struct {
		service string
		mode    transport.TLSMode
	}{{"submissions", transport.TLSImplicit}, {"submission", transport.TLSStartTLS}} {
		_, srvs, err := dc.o.Resolver.LookupSRV(ctx, q.service, "tcp", dc.domain)
		if err != nil {
			if !notFound(err) {
				errs = append(errs, "_"+q.service+": "+err.Error())
			}
			continue
		}
		for _, s := range srvs {
			host := strings.TrimSuffix(s.Target, ".")
			if host == "" { // "." means: service not offered (RFC 2782)
				continue
			}
			cands = append(cands, Candidate{
				Server: Server{Host: host, Port: int(s.Port), TLS: q.mode, Auth: transport.AuthAuto, Username: dc.email},
				Source: SourceSRV, Detail: fmt.Sprintf("_%s._tcp priority %d", q.service, s.Priority),
			})
		}
	}
	rep.Found, rep.Error, rep.Ms = len(cands), strings.Join(errs, "; "), time.Since(start).Milliseconds()
	return rep, cands
}

// mx looks up the domain's MX and, when the MX host belongs to a known
// provider (e.g. aspmx.l.google.com -> google.com), that provider's presets
// and ISPDB entry.
func (dc *discoverer) mx(ctx context.Context) ([]SourceReport, [][]Candidate) {
	start := time.Now()
	rep := SourceReport{Source: SourceMX, Query: "MX " + dc.domain}
	mxs, err := dc.o.Resolver.LookupMX(ctx, dc.domain)
	if err != nil || len(mxs) == 0 {
		if err != nil && !notFound(err) {
			rep.Error = err.Error()
		}
		rep.Ms = time.Since(start).Milliseconds()
		return []SourceReport{rep}, [][]Candidate{nil}
	}
	host := strings.ToLower(strings.TrimSuffix(mxs[0].Host, "."))
	org, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil || org == dc.domain {
		// The domain runs its own MX: nothing to learn about a provider.
		rep.Ms = time.Since(start).Milliseconds()
		rep.Error = "MX " + host + " is the domain's own"
		return []SourceReport{rep}, [][]Candidate{nil}
	}
	detail := "MX " + host
	prep, pc := dc.presets(org, SourceMX, detail)
	rep.Found = len(pc)
	rep.Query = "MX " + dc.domain + " -> " + host + " (" + org + ")"
	if len(pc) > 0 {
		rep.Ms = time.Since(start).Milliseconds()
		_ = prep
		return []SourceReport{rep}, [][]Candidate{pc}
	}
	irep, ic := dc.ispdb(ctx, org, SourceMX, detail)
	rep.Found = len(ic)
	if irep.Error != "" {
		rep.Error = "ISPDB " + org + ": " + irep.Error
	}
	rep.Ms = time.Since(start).Milliseconds()
	return []SourceReport{rep}, [][]Candidate{ic}
}

func (dc *discoverer) guesses() []Candidate {
	var out []Candidate
	for _, host := range []string{"smtp." + dc.domain, "mail." + dc.domain, dc.domain} {
		for _, p := range []struct {
			port int
			mode transport.TLSMode
		}{{465, transport.TLSImplicit}, {587, transport.TLSStartTLS}, {25, transport.TLSStartTLS}, {2525, transport.TLSStartTLS}} {
			out = append(out, Candidate{
				Server: Server{Host: host, Port: p.port, TLS: p.mode, Auth: transport.AuthAuto, Username: dc.email},
				Source: SourceGuess,
			})
		}
	}
	return out
}

// dedupe keeps the first (most trusted) candidate for each host, port and
// TLS mode.
func dedupe(cands []Candidate) []Candidate {
	slices.SortStableFunc(cands, func(a, b Candidate) int { return cmp.Compare(a.Source.trust(), b.Source.trust()) })
	seen := map[string]bool{}
	var out []Candidate
	for _, c := range cands {
		k := fmt.Sprintf("%s|%d|%s", strings.ToLower(c.Host), c.Port, c.TLS)
		if seen[k] || c.Host == "" || c.Port <= 0 || c.Port > 65535 {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	return out
}

func tlsScore(m transport.TLSMode) int {
	switch m {
	case transport.TLSImplicit:
		return 0
	case transport.TLSStartTLS:
		return 1
	}
	return 2
}

// better reports whether a ranks before b.
func better(a, b *Candidate) int {
	aOK, bOK := a.Probe != nil && a.Probe.OK, b.Probe != nil && b.Probe.OK
	if aOK != bOK {
		if aOK {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(tlsScore(a.TLS), tlsScore(b.TLS)); c != 0 {
		return c
	}
	return cmp.Compare(a.Source.trust(), b.Source.trust())
}

func rank(cands []Candidate) {
	slices.SortStableFunc(cands, func(a, b Candidate) int { return better(&a, &b) })
	for i := range cands {
		cands[i].Rank = i + 1
	}
}

// probeAll probes every candidate concurrently and fills in Probe. It
// returns once all are done, or once an answering candidate cannot be beaten
// by those still pending, or Grace after the first answer.
func (dc *discoverer) probeAll(ctx context.Context, cands []Candidate) {
	if len(cands) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type done struct {
		i int
		p *Reach
	}
	ch := make(chan done, len(cands))
	for i := range cands {
		go func() { ch <- done{i, dc.probe(ctx, cands[i].Server)} }()
	}
	pending := map[int]bool{}
	for i := range cands {
		pending[i] = true
	}
	var grace <-chan time.Time
	var best *Candidate
	finish := func() {
		cancel()
		for len(pending) > 0 {
			r := <-ch
			delete(pending, r.i)
			if !r.p.OK {
				// Cut short by the cancel: say so rather than show the
				// cancellation as the server's fault.
				r.p = &Reach{Skipped: true, Error: "not needed: a better candidate answered first"}
			}
			cands[r.i].Probe = r.p
			dc.probed(cands[r.i])
		}
	}
	for len(pending) > 0 {
		select {
		case r := <-ch:
			delete(pending, r.i)
			cands[r.i].Probe = r.p
			dc.probed(cands[r.i])
			if r.p.OK && (best == nil || better(&cands[r.i], best) < 0) {
				best = &cands[r.i]
			}
			if best != nil {
				if grace == nil {
					t := time.NewTimer(dc.o.Grace)
					defer t.Stop()
					grace = t.C
				}
				unbeatable := true
				for j := range pending {
					hypo := cands[j]
					hypo.Probe = &Reach{OK: true}
					if better(&hypo, best) < 0 {
						unbeatable = false
						break
					}
				}
				if unbeatable {
					finish()
					return
				}
			}
		case <-grace:
			finish()
			return
		}
	}
}

// probed reports a candidate whose probe ended to OnCandidate.
func (dc *discoverer) probed(c Candidate) {
	if dc.o.OnCandidate != nil {
		dc.o.OnCandidate(c)
	}
}

// probe connects to s without credentials: banner, EHLO, TLS as the mode
// says, EHLO again, QUIT.
func (dc *discoverer) probe(ctx context.Context, s Server) *Reach {
	start := time.Now()
	rec := transcript.New()
	cfg := transport.Config{
		Host: s.Host, Port: s.Port, TLS: s.TLS, Auth: transport.AuthNone,
		RootCAs: dc.o.RootCAs, HeloName: dc.o.HeloName, Timeout: dc.o.ProbeTimeout,
		Transcript: rec, DialContext: dc.o.Dial,
	}
	c, err := transport.Dial(ctx, cfg)
	p := &Reach{Ms: time.Since(start).Milliseconds()}
	for _, e := range rec.Events() {
		if e.Dir == "S" && strings.HasPrefix(e.Text, "220") && p.Banner == "" {
			p.Banner = e.Text
		}
	}
	if err != nil {
		p.Error = rec.Redact(err.Error())
		var te *transport.Error
		if errors.As(err, &te) {
			p.Stage, p.Kind = te.Stage, te.Kind
		}
		return p
	}
	defer c.Close()
	p.OK = true
	p.Extensions = c.Extensions()
	p.TLS = c.TLSInfo()
	if a, ok := p.Extensions["AUTH"]; ok {
		p.AuthMechanisms = strings.Fields(a)
	}
	_ = c.Quit()
	return p
}
