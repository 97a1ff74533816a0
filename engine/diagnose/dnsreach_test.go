package diagnose

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/dnstest"
)

// offlineResolver is a machine without network: every lookup fails to
// reach the server.
func offlineResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ENETUNREACH}
	}}
}

// nxEverywhere is a broken resolver that says "no such name" for every name.
func nxEverywhere(t *testing.T) *net.Resolver {
	t.Helper()
	s, err := dnstest.Start(dnstest.Zone{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Resolver()
}

func TestDNSReachable(t *testing.T) {
	ctx := context.Background()
	if err := DNSReachable(ctx, startDNS(t, dnstest.Zone{}).Resolver(), time.Second); err != nil {
		t.Fatalf("working DNS: %v", err)
	}
	for name, r := range map[string]*net.Resolver{"offline": offlineResolver(), "nxdomain everywhere": nxEverywhere(t)} {
		err := DNSReachable(ctx, r, time.Second)
		if err == nil || !strings.Contains(err.Error(), "DNS is not reachable") {
			t.Errorf("%s: %v", name, err)
		}
		var de *net.DNSError
		if !errors.As(err, &de) {
			t.Errorf("%s: the lookup's error is not wrapped: %v", name, err)
		}
	}
}

// Offline, or with a resolver that knows no name at all, every check says
// "not checked" (live too), never "no SPF record".
func TestDeliverabilityOfflineIsNotChecked(t *testing.T) {
	for name, r := range map[string]*net.Resolver{"offline": offlineResolver(), "nxdomain everywhere": nxEverywhere(t)} {
		var live []Finding
		fs := CheckDeliverability(context.Background(), DeliverabilityOptions{Domain: "herald.test", Resolver: r, Timeout: time.Second,
			ServerIPs: []net.IP{net.ParseIP("203.0.113.5")}, OnFinding: func(f Finding) { live = append(live, f) }})
		if len(fs) != len(deliverabilityChecks) || len(live) != len(fs) {
			t.Fatalf("%s: %d findings, %d live: %+v", name, len(fs), len(live), fs)
		}
		for _, c := range []string{"mx", "spf", "dkim", "dmarc", "rdns", "dnsbl", "mta-sts", "tls-rpt"} {
			f := wantStatus(t, fs, c, StatusSkipped, "not checked: DNS is not reachable (offline?)")
			if !strings.Contains(f.Hint.Text, "network") {
				t.Errorf("%s: %s hint %q", name, c, f.Hint.Text)
			}
		}
		dk := CheckDKIM(context.Background(), DeliverabilityOptions{Domain: "herald.test", DKIMSelectors: []string{"s1"}, Resolver: r, Timeout: time.Second})
		if len(dk) != 1 {
			t.Fatalf("%s: dkim %+v", name, dk)
		}
		wantStatus(t, dk, "dkim", StatusSkipped, "not checked: DNS is not reachable")
	}
}

// With DNS working, a domain that does not exist is still reported as
// missing its records.
func TestDeliverabilityNXDomainWithWorkingDNSIsMissing(t *testing.T) {
	dns := startDNS(t, dnstest.Zone{})
	fs := CheckDeliverability(context.Background(), DeliverabilityOptions{Domain: "nowhere.test", Resolver: dns.Resolver(), Timeout: time.Second,
		Blocklists: []string{}, DKIMSelectors: []string{"s1"}})
	wantStatus(t, fs, "spf", StatusFail, "no SPF record for nowhere.test")
	wantStatus(t, fs, "dmarc", StatusFail, "no DMARC record")
	wantStatus(t, fs, "mx", StatusWarn, "no MX record")
	for _, f := range fs {
		if strings.Contains(f.Finding, "not checked") {
			t.Errorf("%s: %s", f.Check, f.Finding)
		}
	}
}
