package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/platform/browser"
	"github.com/herald-smtp/herald/ui"
)

// WizardAdapter implements ui.WizardCore over the core's probe, discovery
// and profile book. It maps the engine's types onto the wizard's in one
// place.
type WizardAdapter struct {
	// Core runs the probes (publishing them on the feed) and stores
	// profiles with their keychain secrets.
	Core *core.Core
	// Discover, Probe and Deliverability carry the options the adapter does
	// not set itself (tests inject resolvers and dialers here).
	DiscoverOpts diagnose.DiscoverOptions
	ProbeOpts    diagnose.ProbeOptions
	DeliverOpts  diagnose.DeliverabilityOptions
	// OpenBrowser opens the OAuth2 sign-in page (nil: the system browser).
	OpenBrowser func(ctx context.Context, url string) error
}

// NewWizardAdapter returns the wizard's core over c.
func NewWizardAdapter(c *core.Core) *WizardAdapter {
	return &WizardAdapter{Core: c}
}

var (
	_ ui.WizardCore   = (*WizardAdapter)(nil)
	_ ui.WizardSignIn = (*WizardAdapter)(nil)
)

// Discover implements ui.WizardCore.
func (a *WizardAdapter) Discover(ctx context.Context, email string, onSource func(ui.WizardSource)) (*ui.WizardDiscovery, error) {
	o := a.DiscoverOpts
	var mapSource func(diagnose.SourceReport)
	if onSource != nil {
		mapSource = func(s diagnose.SourceReport) { onSource(wizardSource(s)) }
	}
	d, err := a.Core.Discover(ctx, email, o, mapSource)
	if err != nil {
		return nil, fmt.Errorf("discover the server for %s: %w", email, err)
	}
	out := &ui.WizardDiscovery{Email: d.Email, Domain: d.Domain, Best: -1, Duration: time.Duration(d.Ms) * time.Millisecond}
	for _, s := range d.Sources {
		out.Sources = append(out.Sources, wizardSource(s))
	}
	for i, c := range d.Candidates {
		out.Candidates = append(out.Candidates, ui.WizardCandidate{
			Host: c.Host, Port: c.Port, TLS: c.TLS, Auth: c.Auth, Username: c.Username, Provider: c.Provider, SetupURL: c.SetupURL,
			Source: string(c.Source), Detail: c.Detail, Rank: c.Rank, Reachable: c.Probe != nil && c.Probe.OK, Summary: core.ReachSummary(c.Probe),
		})
		if d.Best != nil && out.Best < 0 && c.Host == d.Best.Host && c.Port == d.Best.Port && c.TLS == d.Best.TLS {
			out.Best = i
		}
	}
	return out, nil
}

func wizardSource(s diagnose.SourceReport) ui.WizardSource {
	return ui.WizardSource{Source: string(s.Source), Query: s.Query, Found: s.Found, Error: s.Error, Duration: time.Duration(s.Ms) * time.Millisecond}
}

// password returns the secret for a session with t: the typed one, else the
// stored profile's keychain password (or OAuth2 access token), else none.
func (a *WizardAdapter) password(ctx context.Context, t ui.ProbeTarget) (string, error) {
	p := &t.Profile
	if p.Auth == account.AuthOAuth2 {
		if p.ID == "" {
			return "", errors.New("save the profile, then sign in with OAuth2")
		}
		return a.Core.SecretContext(ctx, p, "")
	}
	if t.Password != "" || p.ID == "" || !p.PasswordAuth() || p.Secret == account.SecretAsk {
		return t.Password, nil
	}
	pw, err := a.Core.Book.Secret(p, account.SecretPassword)
	if err != nil {
		return "", fmt.Errorf("read the password of profile %s: %w", p.Name, err)
	}
	return pw, nil
}

// Probe implements ui.WizardCore.
func (a *WizardAdapter) Probe(ctx context.Context, t ui.ProbeTarget, onStep func(ui.WizardStep)) *ui.WizardReport {
	pw, perr := a.password(ctx, t)
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
	rep := a.Core.Probe(ctx, o, func(s diagnose.Step) {
		if onStep == nil {
			return
		}
		onStep(authProblem(wizardStep(s, t), t, perr))
	})
	if t.Profile.ID != "" && ctx.Err() == nil {
		// A stored profile's test is its latest (the Accounts view shows it).
		_ = a.Core.RecordTest(context.WithoutCancel(ctx), t.Profile.ID, rep)
	}
	out := &ui.WizardReport{Target: rep.Target, OK: rep.OK, Cancelled: ctx.Err() != nil, Addresses: rep.Addresses,
		ServerNames: rep.ServerNames, CertificateSHA256: rep.CertificateSHA256, Finished: time.Now()}
	for _, s := range rep.Steps {
		ws := authProblem(wizardStep(s, t), t, perr)
		if ws.Status == diagnose.StatusFail {
			out.OK = false
		}
		out.Steps = append(out.Steps, ws)
	}
	return out
}

// authProblem adds to the auth step why there was no secret to sign in
// with (perr). An OAuth2 profile without a valid sign-in fails there, with
// the sign-in as the fix.
func authProblem(ws ui.WizardStep, t ui.ProbeTarget, perr error) ui.WizardStep {
	if ws.Name != "auth" || perr == nil {
		return ws
	}
	ws.Finding += " (" + perr.Error() + ")"
	if t.Profile.Auth != account.AuthOAuth2 {
		return ws
	}
	ws.Status = diagnose.StatusFail
	h := ws.Hint
	var hr interface{ Hint() hint.Hint }
	if errors.As(perr, &hr) {
		h = hr.Hint()
	}
	// The sign-in releases the held messages itself: no button for that.
	h.Fixes = slices.DeleteFunc(slices.Clone(h.Fixes), func(f hint.Fix) bool {
		return f.Setting == hint.ReleaseHeld || f.Setting == hint.Password
	})
	if !slices.ContainsFunc(h.Fixes, func(f hint.Fix) bool { return f.Setting == hint.OAuthSignIn }) {
		h.Fixes = append([]hint.Fix{{Setting: hint.OAuthSignIn, Label: "Sign in again"}}, h.Fixes...)
	}
	if h.Text == "" {
		h.Text = "This profile signs in with OAuth2 and has no valid sign-in: sign in, then test again."
	}
	ws.Hint = h
	return ws
}

// wizardStep maps an engine step onto the wizard's.
func wizardStep(s diagnose.Step, t ui.ProbeTarget) ui.WizardStep {
	ws := ui.WizardStep{Name: s.Name, Status: s.Status, Finding: s.Finding, Duration: time.Duration(s.Ms) * time.Millisecond}
	for _, e := range s.Transcript {
		ws.Lines = append(ws.Lines, e.String())
	}
	if s.Name == "ehlo" {
		if _, caps, ok := strings.Cut(s.Finding, "capabilities: "); ok {
			ws.Capabilities = strings.Split(caps, ", ")
		}
	}
	ws.Hint = stepHint(s, t)
	return ws
}

// stepHint is the engine's hint of a step, with what only the wizard can
// add: the provider's setup page on a refused login, and a password to
// type where the test had none.
func stepHint(s diagnose.Step, t ui.ProbeTarget) hint.Hint {
	h := s.Hint
	h.Fixes = append([]hint.Fix(nil), h.Fixes...)
	switch {
	case s.Name == "auth" && s.Status == diagnose.StatusFail && t.Profile.Auth == account.AuthOAuth2:
		// A refused access token: the sign-in, not a password, is the fix.
		if !slices.ContainsFunc(h.Fixes, func(f hint.Fix) bool { return f.Setting == hint.OAuthSignIn }) {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.OAuthSignIn, Label: "Sign in again"})
		}
	case s.Name == "auth" && s.Status == diagnose.StatusFail:
		if !slices.ContainsFunc(h.Fixes, func(f hint.Fix) bool { return f.Setting == hint.Password }) {
			h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Password, Label: "Enter a new password"})
		}
		if h.Link == "" {
			h.Link = t.SetupURL
		}
	case s.Name == "auth" && s.Status == diagnose.StatusSkipped && strings.Contains(strings.ToLower(s.Finding), "no credentials"):
		h.Fixes = append(h.Fixes, hint.Fix{Setting: hint.Password, Label: "Enter the password to test signing in"})
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
		o.DKIMSelectors = d.Selectors()
		// A stored profile's keys: each published record is compared with its key.
		if t.Profile.ID != "" && o.DKIMKeys == nil {
			o.DKIMKeys, _ = a.Core.DKIMPublicKeys(&t.Profile)
		}
	}
	wizardFinding := func(f diagnose.Finding) ui.WizardFinding {
		return ui.WizardFinding{Check: f.Check, Status: f.Status, Finding: f.Finding, Hint: f.Hint, Records: f.Records}
	}
	if onFinding != nil {
		// Each check's findings as it finishes: the view fills in live.
		o.OnFinding = func(f diagnose.Finding) { onFinding(wizardFinding(f)) }
	}
	var out []ui.WizardFinding
	for _, f := range diagnose.CheckDeliverability(ctx, o) {
		out = append(out, wizardFinding(f))
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
	p := t.Profile
	secrets := map[account.SecretKind]string{}
	if t.Password != "" && p.Secret != account.SecretAsk {
		secrets[account.SecretPassword] = t.Password
	}
	var err error
	if p.ID == "" {
		err = a.Core.AddProfile(ctx, &p, secrets)
	} else {
		err = a.Core.UpdateProfile(ctx, &p, secrets)
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PrepareOAuth implements ui.WizardSignIn: it stores the profile the
// sign-in needs (core.AddOAuthProfile).
func (a *WizardAdapter) PrepareOAuth(ctx context.Context, email string, s ui.OAuthSetup) (*account.Profile, error) {
	return a.Core.AddOAuthProfile(ctx, email, core.OAuthSetup{Provider: s.Provider, ClientID: s.ClientID, ClientSecret: s.ClientSecret, Tenant: s.Tenant})
}

// DiscardProfile implements ui.WizardSignIn. The profile goes even when
// the keychain cannot be reached (force): a sign-in that did not finish
// stored no token, and a profile left half-made is worse.
func (a *WizardAdapter) DiscardProfile(ctx context.Context, p *account.Profile) error {
	return a.Core.RemoveProfile(ctx, p.Name, true)
}

// OAuthSignIn implements ui.OAuthSignIner: the system browser (or
// OpenBrowser), or the device code, signs the profile in.
func (a *WizardAdapter) OAuthSignIn(ctx context.Context, name string, device bool, show func(ui.SignInPrompt)) (string, error) {
	open := a.OpenBrowser
	if open == nil {
		open = browser.Open
	}
	return oauthSignIn(ctx, a.Core, open, name, device, show)
}
