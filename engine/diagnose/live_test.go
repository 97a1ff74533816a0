package diagnose

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/dnstest"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestProbeOnStepLive checks that OnStep sees every step of the report, in
// its order and in its final form, and that the early steps arrive while
// the session is still going (before the server saw AUTH).
func TestProbeOnStepLive(t *testing.T) {
	ca := newCA(t)
	cert := ca.issue(t, time.Now().Add(90*24*time.Hour), "127.0.0.1")
	cases := []struct {
		name     string
		opts     serverOpts
		mode     transport.TLSMode
		password string
		steps    string
	}{
		{"plain without auth", serverOpts{}, transport.TLSNone, "", "dns,connect,banner,ehlo,tls,auth,envelope"},
		{"starttls with auth", serverOpts{starttls: true, cert: &cert, user: "ann", pass: probePass}, transport.TLSStartTLS, probePass, "dns,connect,banner,ehlo,tls,auth,envelope"},
		{"implicit with auth", serverOpts{implicit: true, cert: &cert, user: "ann", pass: probePass}, transport.TLSImplicit, probePass, "dns,connect,tls,banner,ehlo,auth,envelope"},
		{"wrong password", serverOpts{starttls: true, cert: &cert, user: "ann", pass: probePass}, transport.TLSStartTLS, "wrong-password", "dns,connect,banner,ehlo,tls,auth"},
		{"untrusted certificate", serverOpts{implicit: true, cert: &cert}, transport.TLSImplicit, "", "dns,connect,tls"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startSMTP(t, c.opts)
			_, portStr, _ := net.SplitHostPort(srv.Addr)
			port, _ := strconv.Atoi(portStr)
			pool := ca.Pool
			if c.name == "untrusted certificate" {
				pool = nil // the system pool does not know the test CA
			}
			cfg := probeCfg(port, c.mode, pool)
			if c.password != "" {
				cfg.Auth, cfg.Username, cfg.Password = transport.AuthPlain, "ann", c.password
			}
			var got []Step
			authsAt := map[string]int{}
			rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test", OnStep: func(s Step) {
				got = append(got, s)
				srv.mu.Lock()
				authsAt[s.Name] = srv.Auths
				srv.mu.Unlock()
			}})
			if n := names(rep); n != c.steps {
				t.Fatalf("steps %s, want %s\n%s", n, c.steps, dump(rep))
			}
			if !reflect.DeepEqual(got, rep.Steps) {
				t.Fatalf("OnStep saw %d steps, not the report's %d in order and final:\n%+v\n%s", len(got), len(rep.Steps), got, dump(rep))
			}
			if c.password != "" && c.mode == transport.TLSStartTLS && authsAt["ehlo"] != 0 {
				t.Errorf("the ehlo step arrived only after the server saw AUTH")
			}
		})
	}
}

// TestDiscoverReportsLive checks that OnSource sees every source's report
// and OnCandidate every candidate with its probe, sources first, from one
// goroutine at a time (the race detector checks that: the callbacks share
// unguarded state).
func TestDiscoverReportsLive(t *testing.T) {
	ca := newCA(t)
	cert := ca.issue(t, time.Now().Add(24*time.Hour), "smtp.small.test", "mail.small.test")
	starttls := startSMTP(t, serverOpts{starttls: true, cert: &cert})
	dns := startDNS(t, dnstest.Zone{})
	nw := &network{routes: map[string]string{"smtp.small.test:587": starttls.Addr}}
	var sources []SourceReport
	var cands []Candidate
	var order []string
	d, err := Discover(context.Background(), "bob@small.test", DiscoverOptions{
		Known: xmlKnown{}, Resolver: dns.Resolver(), HTTPClient: &http.Client{Transport: refuseAll{}},
		Dial: nw.dial, RootCAs: ca.Pool, ISPDB: "-", ProbeTimeout: 3 * time.Second,
		OnSource: func(s SourceReport) {
			sources = append(sources, s)
			order = append(order, "source")
		},
		OnCandidate: func(c Candidate) {
			cands = append(cands, c)
			order = append(order, "candidate")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != len(d.Sources) {
		t.Fatalf("OnSource saw %d sources, the discovery has %d", len(sources), len(d.Sources))
	}
	for _, s := range d.Sources {
		found := false
		for _, g := range sources {
			found = found || reflect.DeepEqual(g, s)
		}
		if !found {
			t.Errorf("source %+v never reported", s)
		}
	}
	if len(cands) != len(d.Candidates) {
		t.Fatalf("OnCandidate saw %d candidates, the discovery has %d", len(cands), len(d.Candidates))
	}
	for _, c := range d.Candidates {
		found := false
		for _, g := range cands {
			if g.Host == c.Host && g.Port == c.Port && g.TLS == c.TLS {
				found = g.Probe != nil && reflect.DeepEqual(g.Probe, c.Probe)
			}
		}
		if !found {
			t.Errorf("candidate %s:%d %s never reported with its probe", c.Host, c.Port, c.TLS)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] == "source" && order[i-1] == "candidate" {
			t.Fatalf("a source was reported after a candidate: %v", order)
		}
	}
	if d.Best == nil || d.Best.Host != "smtp.small.test" {
		t.Fatalf("best = %+v", d.Best)
	}
}

// TestDeliverabilityFindingsArriveAsChecksFinish: OnFinding sees every
// finding of the returned list, before CheckDeliverability returns.
func TestDeliverabilityFindingsArriveAsChecksFinish(t *testing.T) {
	dns := startDNS(t, dnstest.Zone{TXT: map[string][]string{"live.test": {"v=spf1 -all"}}})
	var seen []Finding
	got := CheckDeliverability(context.Background(), DeliverabilityOptions{Domain: "live.test", Resolver: dns.Resolver(), Blocklists: []string{},
		Timeout: time.Second, OnFinding: func(f Finding) { seen = append(seen, f) }})
	if len(seen) != len(got) || len(got) == 0 {
		t.Fatalf("OnFinding saw %d findings, the result has %d", len(seen), len(got))
	}
	for _, f := range got {
		if !slices.ContainsFunc(seen, func(s Finding) bool { return s.Check == f.Check && s.Finding == f.Finding }) {
			t.Errorf("finding %s (%s) never reached OnFinding", f.Check, f.Finding)
		}
	}
}
