package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

// WizardAdapter implements ui.WizardCore over engine/diagnose and
// engine/account, the way app/cli/diagnose.go drives them for `herald test`.
// It maps the engine's types onto the wizard's in one place.
type WizardAdapter struct {
	// Book stores profiles and their keychain secrets.
	Book *account.Book
	// Discover, Probe and Deliverability carry the options the adapter does
	// not set itself (tests inject resolvers and dialers here).
	DiscoverOpts diagnose.DiscoverOptions
	ProbeOpts    diagnose.ProbeOptions
	DeliverOpts  diagnose.DeliverabilityOptions
}

// NewWizardAdapter returns the wizard's core over book.
func NewWizardAdapter(book *account.Book) *WizardAdapter {
	return &WizardAdapter{Book: book}
}

var _ ui.WizardCore = (*WizardAdapter)(nil)

// Discover implements ui.WizardCore.
func (a *WizardAdapter) Discover(ctx context.Context, email string, onSource func(ui.WizardSource)) (*ui.WizardDiscovery, error) {
	o := a.DiscoverOpts
	if o.Known == nil {
		o.Known = accountKnown{}
	}
	// TODO(lead): set o.OnSource once diagnose.DiscoverOptions has it, so
	// that sources show as they answer; until then they arrive at the end.
	d, err := diagnose.Discover(ctx, email, o)
	if err != nil {
		return nil, fmt.Errorf("discover the server for %s: %w", email, err)
	}
	out := &ui.WizardDiscovery{Email: d.Email, Domain: d.Domain, Best: -1, Duration: time.Duration(d.Ms) * time.Millisecond}
	for _, s := range d.Sources {
		ws := ui.WizardSource{Source: string(s.Source), Query: s.Query, Found: s.Found, Error: s.Error, Duration: time.Duration(s.Ms) * time.Millisecond}
		out.Sources = append(out.Sources, ws)
		if onSource != nil {
			onSource(ws)
		}
	}
	for i, c := range d.Candidates {
		out.Candidates = append(out.Candidates, ui.WizardCandidate{
			Host: c.Host, Port: c.Port, TLS: c.TLS, Auth: c.Auth, Username: c.Username, Provider: c.Provider, SetupURL: c.SetupURL,
			Source: string(c.Source), Detail: c.Detail, Rank: c.Rank, Reachable: c.Probe != nil && c.Probe.OK, Summary: reachSummary(c.Probe),
		})
		if d.Best != nil && out.Best < 0 && c.Host == d.Best.Host && c.Port == d.Best.Port && c.TLS == d.Best.TLS {
			out.Best = i
		}
	}
	return out, nil
}

// password returns the secret for a session with t: the typed one, else the
// stored profile's keychain password, else none.
func (a *WizardAdapter) password(t ui.ProbeTarget) (string, error) {
	p := &t.Profile
	if t.Password != "" || p.ID == "" || !p.PasswordAuth() || p.Secret == account.SecretAsk || a.Book == nil {
		return t.Password, nil
	}
	pw, err := a.Book.Secret(p, account.SecretPassword)
	if err != nil {
		return "", fmt.Errorf("read the password of profile %s: %w", p.Name, err)
	}
	return pw, nil
}

// Probe implements ui.WizardCore.
func (a *WizardAdapter) Probe(ctx context.Context, t ui.ProbeTarget, onStep func(ui.WizardStep)) *ui.WizardReport {
	pw, perr := a.password(t)
	cfg := t.Profile.TransportConfig(pw)
	if pw == "" {
		cfg.Username = "" // nothing to sign in with: AUTH is skipped, not failed
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second // as herald test: a probe should not wait 30 s on a dead port
	}
	o := a.ProbeOpts
	o.Config, o.From, o.Rcpt = cfg, t.Profile.FromAddress, ""
	if t.SendTest && o.From != "" {
		r, err := message.Render(message.Draft{From: o.From, To: []string{o.From}, Subject: "Herald test message",
			Text: "This message was sent by Herald's connection test to check that " + cfg.Host + " accepts mail from this account.\n"})
		if err == nil {
			o.TestMessage = r.Bytes
		}
	}
	// TODO(lead): set o.OnStep (called as each step finishes) once
	// diagnose.ProbeOptions has it, and map each step there; until then the
	// steps are delivered after Probe returns.
	rep := diagnose.Probe(ctx, o)
	out := &ui.WizardReport{Target: rep.Target, OK: rep.OK, Cancelled: ctx.Err() != nil, Addresses: rep.Addresses,
		ServerNames: rep.ServerNames, CertificateSHA256: rep.CertificateSHA256, Finished: time.Now()}
	for _, s := range rep.Steps {
		ws := wizardStep(s, rep, t)
		if s.Name == "auth" && perr != nil {
			ws.Finding += " (" + perr.Error() + ")"
		}
		out.Steps = append(out.Steps, ws)
		if onStep != nil {
			onStep(ws)
		}
	}
	return out
}

// wizardStep maps an engine step onto the wizard's.
// TODO(lead): once diagnose.Step carries a hint.Hint, use it instead of
// stepHint's guesses from the step's text.
func wizardStep(s diagnose.Step, rep *diagnose.Report, t ui.ProbeTarget) ui.WizardStep {
	ws := ui.WizardStep{Name: s.Name, Status: s.Status, Finding: s.Finding, Duration: time.Duration(s.Ms) * time.Millisecond}
	for _, e := range s.Transcript {
		ws.Lines = append(ws.Lines, e.String())
	}
	if s.Name == "ehlo" {
		if _, caps, ok := strings.Cut(s.Finding, "capabilities: "); ok {
			ws.Capabilities = strings.Split(caps, ", ")
		}
	}
	ws.Hint = stepHint(s, rep, t)
	return ws
}

// stepHint is the interim hint of a failed or warning step: the engine's
// text and the fixes the step's outcome suggests.
func stepHint(s diagnose.Step, rep *diagnose.Report, t ui.ProbeTarget) hint.Hint {
	h := hint.Hint{Text: s.Hint}
	if s.Status == diagnose.StatusPass || s.Status == diagnose.StatusInfo {
		return h
	}
	p := t.Profile
	lf := strings.ToLower(s.Finding)
	switchTLS := func() {
		if p.TLS != transport.TLSImplicit {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.TLS, Value: string(transport.TLSImplicit), Label: "Use implicit TLS on port 465"})
		}
		if p.TLS != transport.TLSStartTLS {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.TLS, Value: string(transport.TLSStartTLS), Label: "Use STARTTLS on port 587"})
		}
	}
	switch {
	case s.Name == "dns" && s.Status == diagnose.StatusFail:
		h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Discover, Label: "Find the server from my address"}, hint.Fix{Setting: hint.Retry, Label: "Try again"})
	case s.Name == "tls" && s.Status == diagnose.StatusFail && rep.CertificateSHA256 != "" && strings.Contains(lf, "self-signed"):
		h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.PinCertificate, Value: rep.CertificateSHA256, Label: "Trust this certificate…"})
	case s.Name == "tls" && s.Status == diagnose.StatusWarn && strings.Contains(lf, "no tls"):
		if strings.Contains(lf, "offers starttls") {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.TLS, Value: string(transport.TLSStartTLS), Label: "Use STARTTLS"})
		} else {
			switchTLS()
		}
	case s.Name == "auth" && s.Status == diagnose.StatusFail:
		h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Password, Label: "Enter a new password"})
		h.Link = t.SetupURL
	case s.Name == "auth" && s.Status == diagnose.StatusSkipped && strings.Contains(lf, "no credentials"):
		h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Password, Label: "Enter the password to test signing in"})
	case s.Status == diagnose.StatusFail && (s.Name == "connect" || s.Name == "banner" || s.Name == "ehlo" || s.Name == "tls"):
		switchTLS()
		if strings.Contains(lf, "timeout") || strings.Contains(lf, "timed out") {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Retry, Label: "Try again"})
		}
	}
	return h
}

// Deliverability implements ui.WizardCore.
func (a *WizardAdapter) Deliverability(ctx context.Context, t ui.ProbeTarget, rep *ui.WizardReport, onFinding func(ui.WizardFinding)) []ui.WizardFinding {
	o := a.DeliverOpts
	from := t.Profile.FromAddress
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		o.Domain = from[i+1:]
	}
	if rep != nil {
		o.ServerNames = rep.ServerNames
		for _, s := range rep.Addresses {
			if ip := net.ParseIP(s); ip != nil {
				o.ServerIPs = append(o.ServerIPs, ip)
			}
		}
	}
	if d := t.Profile.DKIM; d != nil && d.Selector != "" && strings.EqualFold(d.Domain, o.Domain) && len(o.DKIMSelectors) == 0 {
		o.DKIMSelectors = []string{d.Selector}
	}
	// TODO(lead): a per-finding callback once the engine has one.
	var out []ui.WizardFinding
	for _, f := range diagnose.CheckDeliverability(ctx, o) {
		wf := ui.WizardFinding{Check: f.Check, Status: f.Status, Finding: f.Finding, Hint: hint.Hint{Text: f.Hint}, Records: f.Records}
		out = append(out, wf)
		if onFinding != nil {
			onFinding(wf)
		}
	}
	return out
}

// ApplyFix implements ui.WizardCore.
func (a *WizardAdapter) ApplyFix(t ui.ProbeTarget, f hint.Fix) (ui.ProbeTarget, error) {
	p := &t.Profile
	switch f.Setting {
	case hint.TLS:
		m, err := transport.ParseTLSMode(f.Value)
		if err != nil {
			return t, fmt.Errorf("TLS mode %q: %w", f.Value, err)
		}
		old := transport.DefaultPort(p.TLS)
		p.TLS = m
		if p.Port == 0 || p.Port == old || p.Port == 465 || p.Port == 587 {
			p.Port = transport.DefaultPort(m)
		}
	case hint.Port:
		n, err := strconv.Atoi(f.Value)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("port %q: must be from 1 to 65535", f.Value)
		}
		p.Port = n
	case hint.Server:
		if f.Value == "" {
			return t, errors.New("no server name suggested: enter it by hand")
		}
		p.Host = f.Value
	case hint.Auth:
		p.Auth = transport.AuthMethod(f.Value)
	case hint.User:
		p.Username = f.Value
	case hint.Password:
		t.Password = f.Value
	case hint.AllowInsecureAuth:
		p.AllowInsecureAuth = true
	case hint.CAFile:
		p.CAFile = f.Value
	case hint.PinCertificate:
		p.PinnedSHA256 = strings.ToLower(strings.ReplaceAll(f.Value, ":", ""))
	case hint.Timeout:
		d, err := time.ParseDuration(f.Value)
		if err != nil {
			return t, fmt.Errorf("timeout %q: %w", f.Value, err)
		}
		p.Timeout = account.Duration(d)
	case hint.From:
		if f.Value != "" {
			p.FromAddress = f.Value
		}
	default:
		return t, fmt.Errorf("%q is not a setting the connection test can change", f.Setting)
	}
	return t, nil
}

// SaveProfile implements ui.WizardCore.
func (a *WizardAdapter) SaveProfile(ctx context.Context, t ui.ProbeTarget) (*account.Profile, error) {
	if a.Book == nil {
		return nil, errors.New("save profile: no profile book")
	}
	p := t.Profile
	var err error
	if p.ID == "" {
		err = a.Book.Add(ctx, &p)
	} else {
		err = a.Book.Update(ctx, &p)
	}
	if err != nil {
		return nil, err
	}
	if t.Password != "" && p.Secret != account.SecretAsk {
		if err := a.Book.SetSecret(&p, account.SecretPassword, t.Password); err != nil {
			return &p, fmt.Errorf("profile %s saved, but its password was not stored: %w", p.Name, err)
		}
	}
	return &p, nil
}

// reachSummary says in a line what a candidate's probe found (as herald
// discover prints it).
func reachSummary(r *diagnose.Reach) string {
	switch {
	case r == nil:
		return "not probed"
	case r.Skipped:
		return r.Error
	case !r.OK:
		return fmt.Sprintf("failed at %s after %d ms: %s", r.Stage, r.Ms, r.Error)
	}
	parts := []string{fmt.Sprintf("answered in %d ms", r.Ms)}
	if t := r.TLS; t != nil {
		trust := "certificate verified"
		if !t.Verified {
			trust = "certificate NOT verified"
		}
		parts = append(parts, t.Version+", "+trust)
	}
	if len(r.AuthMechanisms) > 0 {
		parts = append(parts, "AUTH "+strings.Join(r.AuthMechanisms, " "))
	} else {
		parts = append(parts, "no AUTH offered")
	}
	return strings.Join(parts, "; ")
}

// accountKnown gives discovery Herald's built-in presets and autoconfig
// parser. TODO(lead): app/cli has the same type (accountKnown); one could
// move to engine/account so both share it.
type accountKnown struct{}

// PresetsFor returns the presets serving domain (and their fallback ports).
func (accountKnown) PresetsFor(domain, email string) []diagnose.Server {
	var out []diagnose.Server
	for _, p := range account.PresetsFor(domain) {
		prof := p.Apply(email)
		s := serverOf(&prof, p.Name, p.SetupURL)
		out = append(out, s)
		for _, fb := range prof.Fallbacks {
			s.Host, s.Port, s.TLS = fb.Host, fb.Port, fb.TLS
			out = append(out, s)
		}
	}
	return out
}

// ParseAutoconfig reads a Thunderbird clientConfig document.
func (accountKnown) ParseAutoconfig(r io.Reader, email string) ([]diagnose.Server, error) {
	profs, err := account.ParseAutoconfig(r, email)
	if err != nil {
		return nil, err
	}
	out := make([]diagnose.Server, 0, len(profs))
	for i := range profs {
		out = append(out, serverOf(&profs[i], profs[i].Name, ""))
	}
	return out, nil
}

func serverOf(p *account.Profile, provider, setupURL string) diagnose.Server {
	auth := p.Auth
	if auth == account.AuthOAuth2 {
		auth = transport.AuthXOAUTH2
	}
	return diagnose.Server{Host: p.Host, Port: p.Port, TLS: p.TLS, Auth: auth, Username: p.Username, Provider: provider, SetupURL: setupURL}
}
