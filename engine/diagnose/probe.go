package diagnose

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// Step is one stage of the step-by-step probe.
type Step struct {
	// Name is dns, connect, banner, ehlo, tls, auth, envelope, send or
	// open-relay.
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Ms      int64  `json:"ms"`
	Finding string `json:"finding"`
	// Hint says, on warn or fail, what is wrong and which settings fix it.
	Hint       hint.Hint          `json:"hint,omitzero"`
	Transcript []transcript.Event `json:"transcript,omitempty"`
}

// ProbeOptions say what to probe and how far to go.
type ProbeOptions struct {
	// Config is the connection to probe, with credentials when AUTH should
	// be tried. Its Transcript and hooks are set by Probe.
	Config transport.Config
	// From is the envelope sender for the dry run; empty skips it.
	From string
	// Rcpt is the recipient for the dry run and the test message; default
	// From.
	Rcpt string
	// TestMessage, when set, is sent to Rcpt as the last step.
	TestMessage []byte
	// OpenRelay checks that the server refuses to relay for a client that
	// has not authenticated (RCPT to OutsideRcpt, default
	// "relay-test@example.net").
	OpenRelay   bool
	OutsideRcpt string
	// Resolver answers the DNS step; nil means net.DefaultResolver. When it
	// is a *net.Resolver and Config.DialContext is nil, connections resolve
	// the host through it too, so the step and the session agree.
	Resolver Resolver
	// SlowBanner is when a greeting counts as slow; default 5 s.
	SlowBanner time.Duration
	// Now is the clock (certificate expiry); default time.Now.
	Now func() time.Time
	// OnStep, when set, is called with each step as it finishes, in the
	// order of Report.Steps, from the goroutine that called Probe and before
	// Probe returns (a connection wizard fills in live). A step is passed
	// once nothing will change it: the TLS step is graded (its certificate,
	// trust and expiry) only when the session's setup has ended, so it and
	// the steps after it in that setup (banner and EHLO under implicit TLS,
	// AUTH) arrive together then. OnStep must not block for long: the probe
	// waits for it.
	OnStep func(Step)
}

// Report is the outcome of Probe: the steps in order, and whether any failed.
type Report struct {
	Target string `json:"target"`
	Steps  []Step `json:"steps"`
	// OK is true when no step failed.
	OK bool `json:"ok"`
	// FailedStage is the transport stage of the first failed step, empty when
	// OK; the CLI maps it to an exit code. A failed DNS step counts as
	// connect, a failed open-relay check as rcpt.
	FailedStage transport.Stage `json:"failed_stage,omitempty"`
	// FailedClass is the class of the first failure.
	FailedClass transport.Class `json:"failed_class,omitempty"`
	// FailedCode is the server's reply code at the first failure, 0 when the
	// failure was not a reply.
	FailedCode int `json:"failed_code,omitempty"`
	// CertificateSHA256 is the hex SHA-256 of the server's leaf certificate,
	// for pinning a self-signed certificate in a profile. It is set also when
	// the certificate was refused.
	CertificateSHA256 string `json:"certificate_sha256,omitempty"`
	// Addresses are the server's IP addresses as the DNS step found them (or
	// the host itself when it is an address).
	Addresses []string `json:"addresses,omitempty"`
	// ServerNames are the names the server goes by: the host name probed and
	// the names it gave in its banner and EHLO reply.
	ServerNames []string `json:"server_names,omitempty"`
}

// certWarnDays is how close to its expiry a certificate draws a warning.
const certWarnDays = 14

// Probe walks a connection step by step: DNS, TCP connect, banner, EHLO,
// TLS, AUTH, an envelope dry run (MAIL, RCPT, RSET), an optional test
// message and an optional open-relay check. Each step has a status, a
// duration, the transcript lines it produced, a finding, and on warn or fail
// a hint with the fix. Credentials are sent only as the transport's policy
// allows (over TLS, or with the explicit opt-in).
func Probe(ctx context.Context, o ProbeOptions) *Report {
	cfg := o.Config
	if r, ok := o.Resolver.(*net.Resolver); ok && r != nil && cfg.DialContext == nil {
		d := &net.Dialer{Resolver: r}
		cfg.DialContext = d.DialContext
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.SlowBanner <= 0 {
		o.SlowBanner = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rcpt == "" {
		o.Rcpt = o.From
	}
	base := cfg // without the hooks: for the certificate peek and the relay check
	port := cfg.Port
	if port == 0 {
		port = transport.DefaultPort(cfg.TLS)
	}
	rep := &Report{Target: net.JoinHostPort(cfg.Host, strconv.Itoa(port)) + " (" + string(cfg.TLS) + ")"}
	if cfg.Host != "" {
		rep.ServerNames = []string{cfg.Host}
	}
	rec := transcript.New()
	p := &prober{o: o, rep: rep, rec: rec}

	// 1. DNS
	if !p.dns(ctx, cfg.Host) {
		return p.finish()
	}

	// 2-6. connect, banner, EHLO, TLS, AUTH through one transport session;
	// the stage hook cuts the transcript into steps as it goes.
	cfg.Transcript = rec
	mark := 0
	last := time.Now()
	cfg.OnStage = func(st transport.Stage, err error) {
		evs := rec.Events()
		lines := evs[mark:]
		mark = len(evs)
		now := time.Now()
		d := now.Sub(last)
		last = now
		p.stageStep(st, err, lines, d)
	}
	p.holdTLS = cfg.TLS != transport.TLSNone
	c, err := transport.Dial(ctx, cfg)
	if err != nil {
		// The hook has recorded the failed step; note it if it did not.
		if rep.FailedStage == "" {
			p.failStep(Step{Name: string(stageName(err)), Status: StatusFail, Finding: rec.Redact(err.Error()), Hint: transport.HintFor(err), Transcript: rec.Events()[mark:]}, err)
		}
		p.afterFailedDial(ctx, base, err)
		return p.finish()
	}
	defer c.Close()
	p.afterDial(base, c)
	p.holdTLS = false
	p.flush()

	// 7. envelope dry run, 8. optional test message
	if p.envelope(ctx, c, &mark) {
		p.send(ctx, c, &mark)
	}
	_ = c.Quit()

	// 9. open relay: a separate session that never authenticates.
	if o.OpenRelay {
		p.openRelay(ctx, base)
	}
	return p.finish()
}

type prober struct {
	o   ProbeOptions
	rep *Report
	rec *transcript.Recorder
	// emitted counts the steps passed to OnStep; holdTLS keeps the TLS step
	// (and those after it) back until its certificate is graded.
	emitted int
	holdTLS bool
}

// add appends a step; a failed one records the first failure's stage and
// class (st empty: the step's name).
func (p *prober) add(s Step, st transport.Stage, class transport.Class) {
	p.rep.Steps = append(p.rep.Steps, s)
	defer p.flush()
	if s.Status == StatusFail && p.rep.FailedStage == "" {
		if st == "" {
			st = transport.Stage(s.Name)
		}
		p.rep.FailedStage, p.rep.FailedClass = st, class
	}
}

// failStep appends a failed step whose cause is a session error.
func (p *prober) failStep(s Step, err error) {
	first := p.rep.FailedStage == ""
	p.add(s, stageName(err), classOf(err))
	var te *transport.Error
	if first && errors.As(err, &te) {
		p.rep.FailedCode = te.Code
	}
}

func (p *prober) finish() *Report {
	p.rep.OK = p.rep.FailedStage == ""
	p.holdTLS = false
	p.flush()
	return p.rep
}

// flush passes the steps that are final, in order, to OnStep.
func (p *prober) flush() {
	if p.o.OnStep == nil {
		return
	}
	for p.emitted < len(p.rep.Steps) {
		s := p.rep.Steps[p.emitted]
		if p.holdTLS && s.Name == "tls" {
			return
		}
		p.emitted++
		p.o.OnStep(s)
	}
}

func (p *prober) step(name string) *Step {
	for i := range p.rep.Steps {
		if p.rep.Steps[i].Name == name {
			return &p.rep.Steps[i]
		}
	}
	return nil
}

func stageName(err error) transport.Stage {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Stage
	}
	return transport.StageConnect
}

func classOf(err error) transport.Class {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Class
	}
	return transport.ClassTemporary
}

func kindOf(err error) transport.Kind {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Kind
	}
	return ""
}

func (p *prober) dns(ctx context.Context, host string) bool {
	if host == "" {
		// The session reports the missing host.
		return true
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		p.rep.Addresses = []string{a.String()}
		p.add(Step{Name: "dns", Status: StatusSkipped, Finding: host + " is an address: nothing to look up"}, "", "")
		return true
	}
	start := time.Now()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := p.o.Resolver.LookupIPAddr(c, host)
	ms := time.Since(start).Milliseconds()
	if err != nil || len(addrs) == 0 {
		s := Step{Name: "dns", Status: StatusFail, Ms: ms}
		class := transport.ClassTemporary
		switch {
		case notFound(err) || (err == nil && len(addrs) == 0):
			class = transport.ClassPermanent
			s.Finding = fmt.Sprintf("the name %s has no address (no A or AAAA record)", host)
			s.Hint = say("Check the server name for typos (smtp. or mail. prefix?); your provider's setup page gives the exact name. Discovery can find it from your address.",
				hint.Fix{Setting: hint.Server, Label: "Correct the server name"}, hint.Fix{Setting: hint.Discover, Label: "Find the server from your address"})
		default:
			s.Finding = fmt.Sprintf("could not look up %s: %v", host, err)
			s.Hint = say("The DNS lookup failed (not the same as 'no such name'): check the network connection and the DNS resolver, then try again.",
				hint.Fix{Setting: hint.Retry, Label: "Try again"})
		}
		p.add(s, transport.StageConnect, class)
		return false
	}
	var v4, v6 []string
	for _, a := range addrs {
		if a.IP.To4() != nil {
			v4 = append(v4, a.IP.String())
		} else {
			v6 = append(v6, a.IP.String())
		}
	}
	p.rep.Addresses = append(append([]string{}, v4...), v6...)
	list := func(rr string, ips []string) string {
		if len(ips) == 0 {
			return "no " + rr
		}
		return rr + " " + strings.Join(ips, ", ")
	}
	p.add(Step{Name: "dns", Status: StatusPass, Ms: ms, Finding: fmt.Sprintf("%s has %s; %s", host, list("A", v4), list("AAAA", v6))}, "", "")
	return true
}

// stageStep turns one completed (or failed) transport stage into a step.
func (p *prober) stageStep(st transport.Stage, err error, lines []transcript.Event, d time.Duration) {
	s := Step{Name: string(st), Ms: d.Milliseconds(), Transcript: lines}
	if err != nil {
		s.Status, s.Finding, s.Hint = StatusFail, p.rec.Redact(err.Error()), transport.HintFor(err)
		p.failStep(s, err)
		return
	}
	s.Status = StatusPass
	switch st {
	case transport.StageConnect:
		s.Finding = lastInfo(lines, "connected")
	case transport.StageBanner:
		b := serverText(lines)
		s.Finding = "greeting: " + strings.Join(b, " / ")
		if len(b) > 0 {
			p.addName(firstWord(strings.TrimPrefix(strings.TrimPrefix(b[0], "220-"), "220 ")))
		}
		if d >= p.o.SlowBanner {
			s.Status = StatusWarn
			s.Finding += fmt.Sprintf(" (after %d ms)", d.Milliseconds())
			s.Hint = say("The server is slow to greet: it may be tarpitting unknown clients or waiting on a reverse-DNS lookup of your address. Mail still works, but each connection costs this delay.")
		}
	case transport.StageEHLO:
		name, caps := ehloReply(lines)
		p.addName(name)
		s.Finding = "capabilities: " + joinOr(caps, "none advertised")
		if p.o.Config.TLS == transport.TLSNone {
			// No TLS step follows: the warning about it does, at once.
			p.add(s, "", "")
			p.add(noTLSStep(slices.ContainsFunc(caps, func(c string) bool { return strings.EqualFold(firstWord(c), "STARTTLS") })), "", "")
			return
		}
	case transport.StageTLS:
		s.Finding = lastInfo(lines, "TLS started")
	case transport.StageAuth:
		s.Finding = lastInfo(lines, "authenticated")
	}
	p.add(s, "", "")
}

// addName records a name the server gave, when it looks like a host name
// ("Hello" and "ESMTP" do not).
func (p *prober) addName(n string) {
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	if !strings.Contains(n, ".") || strings.ContainsAny(n, "[]()<>@,;:") || slices.Contains(p.rep.ServerNames, n) {
		return
	}
	p.rep.ServerNames = append(p.rep.ServerNames, n)
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// lastInfo returns the text of the last informational transcript line, or
// def when there is none.
func lastInfo(lines []transcript.Event, def string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].Dir == transcript.Info && !strings.HasPrefix(lines[i].Text, "failed at") {
			return lines[i].Text
		}
	}
	return def
}

func serverText(lines []transcript.Event) []string {
	var out []string
	for _, e := range lines {
		if e.Dir == transcript.Server {
			out = append(out, e.Text)
		}
	}
	return out
}

// ehloReply returns the server's name and its capabilities from the last
// 250 reply in lines.
func ehloReply(lines []transcript.Event) (string, []string) {
	var reply []string
	inReply := false
	for _, e := range lines {
		if e.Dir != transcript.Server {
			continue
		}
		if !strings.HasPrefix(e.Text, "250") {
			inReply = false
			continue
		}
		if !inReply {
			reply = nil
		}
		reply = append(reply, strings.TrimSpace(e.Text[min(4, len(e.Text)):]))
		inReply = len(e.Text) > 3 && e.Text[3] == '-'
	}
	if len(reply) == 0 {
		return "", nil
	}
	return firstWord(reply[0]), reply[1:]
}

func joinOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

// noTLSStep is the warning for a session without TLS.
func noTLSStep(offersStartTLS bool) Step {
	s := Step{Name: "tls", Status: StatusWarn, Finding: "no TLS (TLS mode none): the session, and any password, travels in clear",
		Hint: say("Use implicit TLS (port 465) or STARTTLS (port 587) if the server offers it.",
			hint.Fix{Setting: hint.TLS, Value: "implicit", Label: "Use implicit TLS on port 465", Also: []hint.Change{{Setting: hint.Port, Value: "465"}}},
			hint.Fix{Setting: hint.TLS, Value: "starttls", Label: "Use STARTTLS on port 587", Also: []hint.Change{{Setting: hint.Port, Value: "587"}}})}
	if offersStartTLS {
		s.Finding += "; the server offers STARTTLS"
		s.Hint = say("The server offers STARTTLS: use it so that the session is encrypted.",
			hint.Fix{Setting: hint.TLS, Value: "starttls", Label: "Use STARTTLS"})
	}
	return s
}

// afterDial adds the step a successful Dial did not run (AUTH without
// credentials) and grades the certificate.
func (p *prober) afterDial(cfg transport.Config, c *transport.Client) {
	ext := c.Extensions()
	if s := p.step("tls"); s != nil && cfg.TLS != transport.TLSNone {
		p.checkCertificate(s, cfg, c.TLSInfo())
	}
	if p.step("auth") == nil {
		offered := strings.Fields(ext["AUTH"])
		s := Step{Name: "auth", Status: StatusSkipped}
		if cfg.Auth == transport.AuthNone {
			s.Finding = "not tried (auth method none)"
		} else {
			s.Finding = "no credentials given"
		}
		if len(offered) > 0 {
			s.Finding += "; the server offers " + strings.Join(offered, " ")
		} else {
			s.Finding += "; the server offers no AUTH on this connection"
		}
		p.add(s, "", "")
	}
}

// afterFailedDial completes the report of a session that stopped early: the
// grade of a certificate that was accepted, or what a refused one is.
func (p *prober) afterFailedDial(ctx context.Context, cfg transport.Config, err error) {
	s := p.step("tls")
	if s == nil || cfg.TLS == transport.TLSNone {
		return
	}
	if s.Status != StatusFail {
		// TLS worked and a later stage (AUTH) failed: Dial gave no client to
		// ask about the certificate, so grade it through a session that
		// stops after TLS and sends no credentials.
		if info := tlsInfoAgain(ctx, cfg); info != nil {
			p.checkCertificate(s, cfg, info)
		}
		return
	}
	switch kindOf(err) {
	case transport.KindCertUnknownAuth, transport.KindCertSelfSigned, transport.KindCertExpired, transport.KindCertNotYetValid,
		transport.KindCertName, transport.KindCertWeakKey, transport.KindCertInvalid, transport.KindCertPinMismatch:
	default:
		return
	}
	s.Finding = certProblem(kindOf(err), cfg.Host) + ": " + s.Finding
	leaf, perr := peekCertificate(ctx, cfg)
	if perr != nil {
		s.Finding += "; (could not fetch the certificate again to describe it: " + perr.Error() + ")"
		return
	}
	fp := CertificateFingerprint(leaf.Raw)
	p.rep.CertificateSHA256 = fp
	for i := range s.Hint.Fixes {
		if s.Hint.Fixes[i].Setting == hint.PinCertificate {
			s.Hint.Fixes[i].Value = fp
		}
	}
	// The fingerprint is in the report (CertificateSHA256) and the pin fix,
	// for the front end to show once.
	s.Finding += fmt.Sprintf("; the server presents a certificate for %s (names %s) issued by %s, valid %s to %s",
		leaf.Subject, joinOr(certNames(leaf), "none"), leaf.Issuer, leaf.NotBefore.UTC().Format("2006-01-02"), leaf.NotAfter.UTC().Format("2006-01-02"))
}

// tlsInfoAgain opens a session without credentials, which ends after TLS,
// and returns what its TLS connection was; nil when it fails.
func tlsInfoAgain(ctx context.Context, cfg transport.Config) *transport.TLSInfo {
	cfg.Auth, cfg.Username, cfg.Password = transport.AuthNone, "", ""
	cfg.OnStage, cfg.Transcript = nil, nil
	c, err := transport.Dial(ctx, cfg)
	if err != nil {
		return nil
	}
	defer c.Quit()
	return c.TLSInfo()
}

func certProblem(k transport.Kind, host string) string {
	switch k {
	case transport.KindCertUnknownAuth:
		return "the certificate is from an authority this machine does not trust"
	case transport.KindCertSelfSigned:
		return "the certificate is self-signed"
	case transport.KindCertExpired:
		return "the certificate has expired"
	case transport.KindCertNotYetValid:
		return "the certificate is not valid yet"
	case transport.KindCertWeakKey:
		return "the certificate's RSA key is too short (under 2048 bits)"
	case transport.KindCertName:
		return "the certificate is not issued for " + host
	case transport.KindCertPinMismatch:
		return "the certificate differs from the one pinned for this server"
	}
	return "the certificate is not valid for a mail server"
}

func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// checkCertificate grades a certificate the handshake accepted: how it is
// trusted, the days it has left, the version and the names it covers.
func (p *prober) checkCertificate(s *Step, cfg transport.Config, info *transport.TLSInfo) {
	if info == nil {
		return
	}
	p.rep.CertificateSHA256 = info.LeafSHA256
	left := info.NotAfter.Sub(p.o.Now())
	days := int(left.Hours() / 24)
	validity := fmt.Sprintf("%d days left", days)
	if left < 0 {
		validity = fmt.Sprintf("expired %d days ago", -days)
	}
	trust := "verified: a trusted CA vouches for it and it matches " + cfg.Host
	if info.Pinned {
		trust = "NOT verified by a CA: trusted only because its fingerprint is pinned"
	}
	how := "implicit TLS"
	if cfg.TLS == transport.TLSStartTLS {
		how = "STARTTLS"
	}
	s.Finding = fmt.Sprintf("%s: %s, %s; certificate for %s (names %s) issued by %s, valid until %s (%s); %s; SHA-256 %s",
		how, info.Version, info.Cipher, info.Subject, joinOr(info.DNSNames, "none"), info.Issuer,
		info.NotAfter.UTC().Format("2006-01-02"), validity, trust, info.LeafSHA256)
	var hints []string
	if info.Pinned {
		s.Status = StatusWarn
		hints = append(hints, "The certificate is pinned, not vouched for by a CA: that is safe only as long as it does not change. Replace it with a CA-issued one if you can.")
	}
	if days < certWarnDays {
		s.Status = StatusWarn
		if left < 0 {
			hints = append(hints, "The certificate has expired; it is accepted only because it is pinned. Renew it.")
		} else {
			in := fmt.Sprintf("in %d days", days)
			if days == 0 {
				in = "within a day"
			}
			hints = append(hints, fmt.Sprintf("The certificate expires %s (%s); once it has, clients will refuse the connection. Renew it now.", in, info.NotAfter.UTC().Format("2006-01-02 15:04 MST")))
		}
	}
	s.Hint = say(strings.Join(hints, " "))
}

// envelope runs the MAIL/RCPT/RSET dry run and reports whether it passed.
func (p *prober) envelope(ctx context.Context, c *transport.Client, mark *int) bool {
	if p.o.From == "" {
		p.add(Step{Name: "envelope", Status: StatusSkipped, Finding: "no sender address given: the MAIL FROM / RCPT TO dry run was skipped"}, "", "")
		return false
	}
	start := time.Now()
	_, err := c.TryEnvelope(ctx, transport.Envelope{From: p.o.From, To: []string{p.o.Rcpt}})
	s := Step{Name: "envelope", Ms: time.Since(start).Milliseconds(), Transcript: p.lines(mark)}
	if err != nil {
		s.Status, s.Finding, s.Hint = StatusFail, "the server refused the envelope: "+p.rec.Redact(err.Error()), transport.HintFor(err)
		p.failStep(s, err)
		return false
	}
	s.Status, s.Finding = StatusPass, fmt.Sprintf("MAIL FROM:<%s> and RCPT TO:<%s> accepted, then RSET: nothing was sent", p.o.From, p.o.Rcpt)
	p.add(s, "", "")
	return true
}

// send sends the test message, when there is one.
func (p *prober) send(ctx context.Context, c *transport.Client, mark *int) {
	if len(p.o.TestMessage) == 0 {
		return
	}
	start := time.Now()
	res, err := c.Send(ctx, transport.Envelope{From: p.o.From, To: []string{p.o.Rcpt}}, bytes.NewReader(p.o.TestMessage))
	s := Step{Name: "send", Ms: time.Since(start).Milliseconds(), Transcript: p.lines(mark)}
	if err != nil {
		s.Status, s.Finding, s.Hint = StatusFail, "the test message was not accepted: "+p.rec.Redact(err.Error()), transport.HintFor(err)
		p.failStep(s, err)
		return
	}
	s.Status, s.Finding = StatusPass, fmt.Sprintf("test message to %s accepted: %d %s", p.o.Rcpt, res.Code, p.rec.Redact(res.QueuedAs))
	p.add(s, "", "")
}

// lines returns the transcript since *mark and moves the mark.
func (p *prober) lines(mark *int) []transcript.Event {
	evs := p.rec.Events()
	out := evs[min(*mark, len(evs)):]
	*mark = len(evs)
	return out
}

// openRelay connects without credentials and tries to relay to an outside
// domain; the server must refuse.
func (p *prober) openRelay(ctx context.Context, cfg transport.Config) {
	cfg.Auth, cfg.Username, cfg.Password = transport.AuthNone, "", ""
	cfg.OnStage = nil
	rec := transcript.New()
	cfg.Transcript = rec
	outside := p.o.OutsideRcpt
	if outside == "" {
		outside = "relay-test@example.net"
	}
	const from = "relay-test@example.org"
	start := time.Now()
	s := Step{Name: "open-relay"}
	c, err := transport.Dial(ctx, cfg)
	if err != nil {
		s.Status, s.Finding = StatusSkipped, "could not open an unauthenticated session: "+err.Error()
	} else {
		_, err := c.TryEnvelope(ctx, transport.Envelope{From: from, To: []string{outside}})
		_ = c.Quit()
		switch {
		case err == nil:
			s.Status = StatusFail
			s.Finding = fmt.Sprintf("the server accepted mail from %s to %s without authentication: it is an open relay", from, outside)
			s.Hint = say("Spammers find open relays within hours and the server's address ends up on blocklists. Require AUTH for relaying (Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination).")
		case stageName(err) == transport.StageMail:
			s.Status, s.Finding = StatusPass, "an unauthenticated client may not even start a message: "+err.Error()
		default:
			s.Status, s.Finding = StatusPass, "relaying to an outside domain without authentication is refused: "+err.Error()
		}
	}
	s.Ms, s.Transcript = time.Since(start).Milliseconds(), rec.Events()
	p.add(s, transport.StageRcpt, transport.ClassPermanent)
}

// peekCertificate connects once more only to read the certificate the server
// presents, so that a refused certificate can still be described (and
// pinned). It verifies nothing because it sends nothing over the connection
// but EHLO and STARTTLS before the handshake: never credentials or mail.
func peekCertificate(ctx context.Context, cfg transport.Config) (*x509.Certificate, error) {
	timeout := cfg.Timeout
	if timeout <= 0 || timeout > 10*time.Second {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := cfg.DialContext
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	port := cfg.Port
	if port == 0 {
		port = transport.DefaultPort(cfg.TLS)
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if cfg.TLS == transport.TLSStartTLS {
		br := bufio.NewReaderSize(conn, 4096)
		helo := cfg.HeloName
		if helo == "" {
			helo = "localhost"
		}
		if err := expectReply(br, 220); err != nil {
			return nil, fmt.Errorf("banner: %w", err)
		}
		if _, err := io.WriteString(conn, "EHLO "+helo+"\r\n"); err != nil {
			return nil, fmt.Errorf("EHLO: %w", err)
		}
		if err := expectReply(br, 250); err != nil {
			return nil, fmt.Errorf("EHLO: %w", err)
		}
		if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
		if err := expectReply(br, 220); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	var leaf *x509.Certificate
	tc := tls.Client(conn, &tls.Config{
		ServerName: cfg.Host,
		MinVersion: tls.VersionTLS12,
		// Only to read the certificate: nothing is sent over this connection.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				leaf = cs.PeerCertificates[0]
			}
			return nil
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil && leaf == nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if leaf == nil {
		return nil, errors.New("the server sent no certificate")
	}
	return leaf, nil
}

// expectReply reads one (possibly multi-line) reply and checks its code.
func expectReply(br *bufio.Reader, want int) error {
	for n := 0; n < 100; n++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		s := strings.TrimRight(string(line), "\r\n")
		if len(s) < 3 {
			return fmt.Errorf("not an SMTP reply: %q", s)
		}
		code, err := strconv.Atoi(s[:3])
		if err != nil {
			return fmt.Errorf("not an SMTP reply: %q", s)
		}
		if len(s) > 3 && s[3] == '-' {
			continue
		}
		if code != want {
			return fmt.Errorf("the server replied %q", s)
		}
		return nil
	}
	return errors.New("reply too long")
}

// CertificateFingerprint returns the hex SHA-256 of a DER certificate, the
// form profiles pin.
func CertificateFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
