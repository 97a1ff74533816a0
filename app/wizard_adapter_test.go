package app

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

func sandboxTarget(t *testing.T) (ui.ProbeTarget, *core.Core) {
	t.Helper()
	c, err := core.Open(context.Background(), t.TempDir(), core.Options{Secrets: newMemSecrets(), Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	host, port, _ := net.SplitHostPort(c.Sandbox().Addr())
	n, _ := strconv.Atoi(port)
	return ui.ProbeTarget{Profile: account.Profile{FromAddress: "me@example.com", Auth: transport.AuthAuto, Username: "me@example.com",
		Server: account.Server{Host: host, Port: n, TLS: transport.TLSNone}}}, c
}

func TestWizardAdapterProbesTheSandbox(t *testing.T) {
	tg, c := sandboxTarget(t)
	a := NewWizardAdapter(c)
	var live []string
	rep := a.Probe(context.Background(), tg, func(s ui.WizardStep) { live = append(live, s.Name) })
	if !rep.OK || rep.Cancelled {
		t.Fatalf("report %+v", rep)
	}
	if len(live) != len(rep.Steps) || len(live) < 6 {
		t.Errorf("steps delivered %v, report has %d", live, len(rep.Steps))
	}
	for _, s := range rep.Steps {
		switch s.Name {
		case "ehlo":
			if len(s.Capabilities) == 0 || len(s.Lines) == 0 {
				t.Errorf("ehlo: caps %v, lines %v", s.Capabilities, s.Lines)
			}
		case "tls":
			if s.Status != diagnose.StatusWarn || len(s.Hint.Fixes) == 0 {
				t.Errorf("tls without TLS: %s, fixes %v", s.Status, s.Hint.Fixes)
			}
		case "auth":
			if s.Status != diagnose.StatusSkipped {
				t.Errorf("auth without a password: %s %s", s.Status, s.Finding)
			}
		case "envelope":
			if s.Status != diagnose.StatusPass {
				t.Errorf("envelope: %s %s", s.Status, s.Finding)
			}
		}
	}
}

func TestWizardAdapterWrongPortHintsAndFix(t *testing.T) {
	tg, c := sandboxTarget(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.Profile.Port = l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	tg.Profile.TLS = transport.TLSStartTLS
	a := NewWizardAdapter(c)
	rep := a.Probe(context.Background(), tg, nil)
	if rep.OK {
		t.Fatal("a closed port passed")
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.Name != "connect" || last.Status != diagnose.StatusFail || len(last.Hint.Fixes) == 0 || last.Hint.Fixes[0].Setting != hint.TLS {
		t.Fatalf("last step %+v", last)
	}
	fixed, err := a.ApplyFix(tg, last.Hint.Fixes[0])
	if err != nil || fixed.Profile.TLS != transport.TLSImplicit || fixed.Profile.Port != tg.Profile.Port {
		t.Errorf("fix %v: %+v, %v", last.Hint.Fixes[0], fixed.Profile.Server, err)
	}
	tg.Profile.Port = 587
	if fixed, _ := a.ApplyFix(tg, hint.Fix{Setting: hint.TLS, Value: "implicit"}); fixed.Profile.Port != 465 {
		t.Errorf("implicit TLS from 587 went to port %d", fixed.Profile.Port)
	}
	if _, err := a.ApplyFix(tg, hint.Fix{Setting: hint.StartSandbox}); err == nil {
		t.Error("an action the wizard cannot apply was accepted")
	}
}

func TestWizardAdapterSavesAndUpdates(t *testing.T) {
	tg, c := sandboxTarget(t)
	book := c.Book
	a := NewWizardAdapter(c)
	tg.Profile.Name, tg.Password, tg.Profile.TLS = "sandbox", "pw1", transport.TLSStartTLS
	p, err := a.SaveProfile(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := book.Get(context.Background(), "sandbox")
	if err != nil || got.Port != tg.Profile.Port || got.FromAddress != "me@example.com" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if pw, _ := book.Secret(got, account.SecretPassword); pw != "pw1" {
		t.Errorf("password %q", pw)
	}
	// Update the tested profile: same ID, new pin, password kept.
	tg2 := ui.ProbeTarget{Profile: *p}
	tg2.Profile.PinnedSHA256 = strings.Repeat("AB:", 31) + "AB"
	if _, err := a.SaveProfile(context.Background(), tg2); err != nil {
		t.Fatal(err)
	}
	got, _ = book.Get(context.Background(), "sandbox")
	if got.ID != p.ID || got.PinnedSHA256 != strings.Repeat("ab", 32) {
		t.Errorf("updated %+v", got)
	}
	if pw, _ := book.Secret(got, account.SecretPassword); pw != "pw1" {
		t.Errorf("password after update %q", pw)
	}
	// A stored profile's password comes from the keychain for the probe.
	if pw, err := a.password(context.Background(), ui.ProbeTarget{Profile: *got}); pw != "pw1" || err != nil {
		t.Errorf("password for the probe %q, %v", pw, err)
	}
}

// nxResolver answers every DNS question with "no such name", at once, but
// for the well-known name that tells DNS works (diagnose.DNSReachable).
type nxResolver struct{}

func nx(name string) error { return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true} }

func (nxResolver) LookupTXT(_ context.Context, n string) ([]string, error) {
	if n == diagnose.DNSCheckName {
		return []string{"v=spf1 -all"}, nil
	}
	return nil, nx(n)
}
func (nxResolver) LookupMX(_ context.Context, n string) ([]*net.MX, error)        { return nil, nx(n) }
func (nxResolver) LookupIPAddr(_ context.Context, n string) ([]net.IPAddr, error) { return nil, nx(n) }
func (nxResolver) LookupAddr(_ context.Context, n string) ([]string, error)       { return nil, nx(n) }
func (nxResolver) LookupSRV(_ context.Context, s, p, n string) (string, []*net.SRV, error) {
	return "", nil, nx(n)
}

// TestWizardViewOverTheSandbox drives the real wizard over the real adapter:
// a stored profile is tested against the sandbox, its domain checked, and
// the profile updated in the store.
func TestWizardViewOverTheSandbox(t *testing.T) {
	tg, c := sandboxTarget(t)
	book := c.Book
	tg.Profile.Name, tg.Profile.Auth, tg.Profile.Username = "sandbox", transport.AuthNone, ""
	if err := book.Add(context.Background(), &tg.Profile); err != nil {
		t.Fatal(err)
	}
	ad := NewWizardAdapter(c)
	ad.DeliverOpts.Resolver = nxResolver{}
	test.NewTempApp(t)
	q := make(chan func(), 1024)
	v := ui.NewWizardView(ad, func(f func()) { q <- f }, func() fyne.Window { return nil })
	w := test.NewTempWindow(t, v.Content())
	w.Resize(fyne.NewSize(900, 600))
	v.Start(context.Background())
	defer v.Stop()

	var tested *ui.WizardReport
	v.OnTested = func(_ ui.ProbeTarget, r *ui.WizardReport) { tested = r }
	v.TestProfile(&tg.Profile)
	pump(t, q, "the probe", func() bool { return tested != nil })
	if !tested.OK {
		t.Fatalf("probe of the sandbox failed: %+v", tested.Steps)
	}
	if it, _ := v.Steps.Item("envelope"); it.State != "pass" {
		t.Errorf("envelope row %+v", it)
	}
	test.Tap(v.NextButton)
	pump(t, q, "the domain checks", func() bool { return len(v.Findings.Keys()) > 0 && v.CancelButton.Disabled() })
	test.Tap(v.NextButton)
	v.FromName.SetText("Me")
	test.Tap(v.SaveButton)
	pump(t, q, "saved", func() bool { return strings.HasPrefix(v.SaveStatus.Text, "Saved") })
	got, err := book.Get(context.Background(), "sandbox")
	if err != nil || got.ID != tg.Profile.ID || got.FromName != "Me" {
		t.Errorf("stored %+v, %v", got, err)
	}
}

// brokenDNS says "no such name" for every name, the well-known one too (an
// offline machine behind a resolver that answers anyway).
type brokenDNS struct{ nxResolver }

func (brokenDNS) LookupTXT(_ context.Context, n string) ([]string, error) { return nil, nx(n) }

// The wizard's Domain step with DNS unreachable says so for each check,
// never "no SPF record" or "no DMARC record"; with DNS working, a domain
// without records is still reported as missing them.
func TestWizardDomainStepOffline(t *testing.T) {
	tg, c := sandboxTarget(t)
	tg.Profile.FromAddress = "ann@herald.test"
	ad := NewWizardAdapter(c)
	ad.DeliverOpts.Resolver = brokenDNS{}
	var live int
	fs := ad.Deliverability(context.Background(), tg, nil, func(ui.WizardFinding) { live++ })
	if len(fs) == 0 || live != len(fs) {
		t.Fatalf("%d findings, %d live", len(fs), live)
	}
	for _, f := range fs {
		if f.Status != diagnose.StatusSkipped || f.Finding != "not checked: DNS is not reachable (offline?)" || f.Hint.Text == "" {
			t.Errorf("offline: %s is %s: %s", f.Check, f.Status, f.Finding)
		}
	}
	ad.DeliverOpts.Resolver = nxResolver{}
	fails := map[string]bool{}
	for _, f := range ad.Deliverability(context.Background(), tg, nil, nil) {
		if f.Status == diagnose.StatusFail {
			fails[f.Check] = true
		}
	}
	if !fails["spf"] || !fails["dmarc"] {
		t.Errorf("DNS working, no records: failed checks %v", fails)
	}
}
