package ui

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transport"
)

// WizardCore is what the connection-test wizard needs from the core. Its
// types are the view's own (WizardStep, WizardFinding, …), so that the view
// does not depend on engine field names that change; app/ maps the engine's
// types onto them in one place (app/wizard_adapter.go).
//
// The long calls take a ctx the view cancels (Cancel button, leaving the
// view, the window closing); they must return soon after it ends. Their
// callbacks may be called from any goroutine, before the call returns; the
// view moves them onto the UI goroutine itself.
type WizardCore interface {
	// Discover finds the submission server for email. onSource is called as
	// each source answers; the result ranks the candidates.
	Discover(ctx context.Context, email string, onSource func(WizardSource)) (*WizardDiscovery, error)
	// Probe walks the connection of t step by step; onStep is called as each
	// step finishes. A cancelled ctx ends it early with the steps so far.
	Probe(ctx context.Context, t ProbeTarget, onStep func(WizardStep)) *WizardReport
	// Deliverability checks the sender domain of t (SPF, DKIM, DMARC, MX,
	// reverse DNS, blocklists, MTA-STS) for the server the probe reached
	// (rep gives its addresses and names; nil when there was no probe).
	Deliverability(ctx context.Context, t ProbeTarget, rep *WizardReport, onFinding func(WizardFinding)) []WizardFinding
	// ApplyFix returns t changed as fix says (implicit TLS on port 465, a
	// pinned certificate, a new password in fix.Value for hint.Password…),
	// following the same rules as the command line. Actions that are not
	// settings (discover, retry) are the view's own and never reach it.
	ApplyFix(t ProbeTarget, fix hint.Fix) (ProbeTarget, error)
	// SaveProfile stores t.Profile: added when its ID is empty, else updated;
	// t.Password, when set, goes to the keychain. It returns the stored
	// profile.
	SaveProfile(ctx context.Context, t ProbeTarget) (*account.Profile, error)
}

// ProbeTarget is what the wizard tests and saves: a profile's settings (a
// copy; ID set when it is a stored profile) and the password typed in the
// wizard ("" uses the stored one, or none).
type ProbeTarget struct {
	Profile  account.Profile
	Password string
	// SendTest sends a real test message to the sender as the last step.
	SendTest bool
	// Provider and SetupURL come from discovery: the provider's name and its
	// page about passwords (app passwords).
	Provider string
	SetupURL string
}

// Key identifies the target for comparing runs: the stored profile's ID, or
// its server and TLS mode.
func (t ProbeTarget) Key() string {
	if t.Profile.ID != "" {
		return "id:" + t.Profile.ID
	}
	return t.Server()
}

// Server is "host:port (tls)".
func (t ProbeTarget) Server() string {
	p := t.Profile
	port := p.Port
	if port == 0 {
		port = transport.DefaultPort(p.TLS)
	}
	return net.JoinHostPort(p.Host, strconv.Itoa(port)) + " (" + string(p.TLS) + ")"
}

// WizardSource is one discovery source's answer.
type WizardSource struct {
	// Source is preset, autoconfig, ispdb, srv, mx or guess.
	Source   string
	Query    string
	Found    int
	Error    string
	Duration time.Duration
}

// WizardCandidate is one server discovery proposes, with what its
// credential-free probe found.
type WizardCandidate struct {
	Host     string
	Port     int
	TLS      transport.TLSMode
	Auth     transport.AuthMethod
	Username string
	Provider string
	SetupURL string
	Source   string
	Detail   string
	Rank     int
	// Reachable is true when the server answered discovery's probe.
	Reachable bool
	// Summary says in a line what the probe found ("answered in 80 ms;
	// TLSv1.3, certificate verified; AUTH PLAIN LOGIN").
	Summary string
}

// WizardDiscovery is the outcome of Discover.
type WizardDiscovery struct {
	Email      string
	Domain     string
	Sources    []WizardSource
	Candidates []WizardCandidate
	// Best is the index in Candidates of the best server that answered, -1
	// when none did.
	Best     int
	Duration time.Duration
}

// CertInfo describes the server's certificate, for the TLS step and for
// pinning.
type CertInfo struct {
	Subject   string
	Issuer    string
	Names     []string
	NotBefore time.Time
	NotAfter  time.Time
	// Verified: a trusted CA vouches for it; Pinned: trusted only through
	// the profile's pin.
	Verified bool
	Pinned   bool
	// SHA256 is the hex fingerprint a profile pins.
	SHA256 string
}

// DaysLeft is the number of whole days until the certificate expires
// (negative once it has).
func (c *CertInfo) DaysLeft(now time.Time) int {
	return int(c.NotAfter.Sub(now).Hours() / 24)
}

// WizardStep is one step of the probe.
type WizardStep struct {
	// Name is dns, connect, banner, ehlo, tls, auth, envelope, send or
	// open-relay.
	Name     string
	Status   diagnose.Status
	Finding  string
	Duration time.Duration
	// Lines are the step's transcript lines, rendered.
	Lines []string
	// Hint explains a failure or warning and lists its fixes.
	Hint hint.Hint
	// Cert is the server's certificate (tls step), when known.
	Cert *CertInfo
	// Capabilities are the EHLO keywords (ehlo step).
	Capabilities []string
}

// WizardReport is the outcome of Probe.
type WizardReport struct {
	Target string
	Steps  []WizardStep
	OK     bool
	// Cancelled is true when the ctx ended before the probe finished.
	Cancelled   bool
	Addresses   []string
	ServerNames []string
	// CertificateSHA256 is the server certificate's fingerprint, also when
	// it was refused.
	CertificateSHA256 string
	Finished          time.Time
}

// WizardFinding is one deliverability finding with its explanation.
type WizardFinding struct {
	// Check is mx, spf, dkim, dmarc, rdns, dnsbl, mta-sts or tls-rpt.
	Check   string
	Status  diagnose.Status
	Finding string
	Hint    hint.Hint
	Records []string
}

// WizardSignIn is what the wizard's "Sign in with Google/Microsoft"
// buttons and its "Sign in again" fix need besides WizardCore; a core
// that implements it gets them.
type WizardSignIn interface {
	OAuthSignIner
	// PrepareOAuth stores a new profile for email that signs in with
	// OAuth2, made from the provider's preset and named after the address
	// (unique); the sign-in needs it stored, as its refresh token is kept
	// under its id.
	PrepareOAuth(ctx context.Context, email string, s OAuthSetup) (*account.Profile, error)
	// DiscardProfile removes a profile PrepareOAuth made whose sign-in did
	// not finish, with its keychain secrets.
	DiscardProfile(ctx context.Context, p *account.Profile) error
}

// OAuthSetup is what a sign-in with a built-in provider needs.
type OAuthSetup struct {
	// Provider is google or microsoft.
	Provider string
	// ClientID is the application registered with the provider;
	// ClientSecret is given where the provider issues one (Google).
	ClientID, ClientSecret string
	// Tenant is Microsoft's directory ("common": any account).
	Tenant string
}
