package diagnose

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/dnstest"
	"golang.org/x/net/dns/dnsmessage"
)

func rsaKeyRecord(t *testing.T, bits int) string {
	t.Helper()
	var pub *rsa.PublicKey
	if bits >= 2048 {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	} else {
		// Go refuses to generate small keys; a public key of the right size
		// is all a key record needs.
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		n.Add(n, big.NewInt(12345))
		pub = &rsa.PublicKey{N: n, E: 65537}
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

// startDNS serves z, with the record DNSReachable asks for (DNS works)
// unless z says otherwise about DNSCheckName.
func startDNS(t *testing.T, z dnstest.Zone) *dnstest.Server {
	t.Helper()
	if _, ok := z.TXT[DNSCheckName]; !ok && z.Fail[DNSCheckName] == 0 && !z.Stall[DNSCheckName] {
		txt := map[string][]string{DNSCheckName: {"v=spf1 -all"}}
		for k, v := range z.TXT {
			txt[k] = v
		}
		z.TXT = txt
	}
	s, err := dnstest.Start(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mtaSTSClient returns an HTTP client that sends every request to srv.
func mtaSTSClient(srv *httptest.Server) *http.Client {
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ServerName = "example.com" // the name in httptest's certificate
	c.Transport = tr
	c.Timeout = 5 * time.Second
	return c
}

func byCheck(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func wantStatus(t *testing.T, fs []Finding, check string, want Status, contains string) Finding {
	t.Helper()
	got := byCheck(fs, check)
	for _, f := range got {
		if f.Status == want && strings.Contains(f.Finding, contains) {
			return f
		}
	}
	t.Errorf("%s: no finding with status %s containing %q; got %+v", check, want, contains, got)
	return Finding{}
}

func TestDeliverabilityHealthyDomain(t *testing.T) {
	policy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.good.test" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmax_age: 86400\r\n")
	}))
	defer policy.Close()
	dns := startDNS(t, dnstest.Zone{
		A: map[string][]string{"mail.good.test": {"203.0.113.5"}},
		TXT: map[string][]string{
			"good.test":                   {"google-site-verification=abc", "v=spf1 ip4:203.0.113.0/24 -all"},
			"s1._domainkey.good.test":     {rsaKeyRecord(t, 2048)},
			"_dmarc.good.test":            {"v=DMARC1; p=reject; rua=mailto:dmarc@good.test; adkim=s"},
			"_mta-sts.good.test":          {"v=STSv1; id=20240101"},
			"_smtp._tls.good.test":        {"v=TLSRPTv1; rua=mailto:tls@good.test"},
			"ed._domainkey.good.test":     {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(make(ed25519.PublicKey, 32))},
			"unrelated._domainkey.x.test": {"v=DKIM1; p="},
		},
		MX:  map[string][]net.MX{"good.test": {{Host: "mx.good.test", Pref: 10}}},
		PTR: map[string][]string{"203.0.113.5": {"mail.good.test"}},
	})
	fs := CheckDeliverability(context.Background(), DeliverabilityOptions{
		Domain:        "Good.Test",
		ServerIPs:     []net.IP{net.ParseIP("203.0.113.5"), net.ParseIP("127.0.0.1")},
		ServerNames:   []string{"mail.good.test."},
		DKIMSelectors: []string{"s1", "ed", "missing"},
		Blocklists:    []string{"zen.spamhaus.test"},
		Resolver:      dns.Resolver(),
		HTTPClient:    mtaSTSClient(policy),
	})
	for _, f := range fs {
		if f.Status != StatusPass {
			t.Errorf("healthy domain: %s is %s: %s (%s)", f.Check, f.Status, f.Finding, f.Hint)
		}
	}
	wantStatus(t, fs, "spf", StatusPass, "203.0.113.5")
	wantStatus(t, fs, "dkim", StatusPass, "RSA key of 2048 bits")
	wantStatus(t, fs, "dkim", StatusPass, "ED25519")
	wantStatus(t, fs, "dmarc", StatusPass, "p=reject")
	wantStatus(t, fs, "rdns", StatusPass, "mail.good.test")
	wantStatus(t, fs, "dnsbl", StatusPass, "not listed")
	wantStatus(t, fs, "mta-sts", StatusPass, "enforce")
	if n := len(byCheck(fs, "dnsbl")); n != 1 {
		t.Errorf("dnsbl findings = %d, want 1 (loopback address skipped)", n)
	}
}

func TestDeliverabilityProblems(t *testing.T) {
	dns := startDNS(t, dnstest.Zone{
		A: map[string][]string{
			"elsewhere.bad.test":            {"198.51.100.99"},
			"9.113.0.203.zen.spamhaus.test": {"127.0.0.2"},
			"9.113.0.203.refusing.test":     {"127.255.255.254"},
		},
		TXT: map[string][]string{
			"bad.test":                      {"v=spf1 ip4:192.0.2.1 -all", "v=spf1 +all"},
			"weak._domainkey.bad.test":      {rsaKeyRecord(t, 1024)},
			"tiny._domainkey.bad.test":      {rsaKeyRecord(t, 512)},
			"gone._domainkey.bad.test":      {"v=DKIM1; k=rsa; p="},
			"junk._domainkey.bad.test":      {"v=DKIM1; k=rsa; p=!!!notbase64"},
			"9.113.0.203.zen.spamhaus.test": {"Listed in SBL, see https://check.spamhaus.test/"},
		},
		PTR: map[string][]string{"203.0.113.9": {"elsewhere.bad.test"}},
	})
	fs := CheckDeliverability(context.Background(), DeliverabilityOptions{
		Domain:        "bad.test",
		ServerIPs:     []net.IP{net.ParseIP("203.0.113.9"), net.ParseIP("203.0.113.10")},
		DKIMSelectors: []string{"weak", "tiny", "gone", "junk"},
		Blocklists:    []string{"zen.spamhaus.test", "refusing.test"},
		Resolver:      dns.Resolver(),
		HTTPClient:    &http.Client{Timeout: time.Second},
	})
	wantStatus(t, fs, "mx", StatusWarn, "no MX")
	f := wantStatus(t, fs, "spf", StatusFail, "2 SPF records")
	if !strings.Contains(f.Hint.Text, "Merge") {
		t.Errorf("spf hint = %q", f.Hint)
	}
	wantStatus(t, fs, "dkim", StatusWarn, "RSA key of 1024 bits")
	wantStatus(t, fs, "dkim", StatusFail, "RSA key of 512 bits")
	wantStatus(t, fs, "dkim", StatusWarn, "revoked")
	wantStatus(t, fs, "dkim", StatusFail, "cannot be parsed")
	f = wantStatus(t, fs, "dmarc", StatusFail, "no DMARC record")
	if !strings.Contains(f.Hint.Text, "v=DMARC1; p=none") {
		t.Errorf("dmarc hint = %q", f.Hint)
	}
	wantStatus(t, fs, "rdns", StatusWarn, "does not resolve back")
	wantStatus(t, fs, "rdns", StatusFail, "203.0.113.10 has no reverse DNS")
	f = wantStatus(t, fs, "dnsbl", StatusFail, "203.0.113.9 is listed on zen.spamhaus.test")
	if !strings.Contains(f.Finding, "Listed in SBL") {
		t.Errorf("dnsbl finding lacks the list's reason: %q", f.Finding)
	}
	wantStatus(t, fs, "dnsbl", StatusWarn, "refused the query")
	wantStatus(t, fs, "dnsbl", StatusPass, "203.0.113.10 is not listed on zen.spamhaus.test")
	wantStatus(t, fs, "mta-sts", StatusInfo, "no MTA-STS")
	wantStatus(t, fs, "tls-rpt", StatusInfo, "no TLS-RPT")
}

func TestDeliverabilitySPFVerdicts(t *testing.T) {
	cases := []struct {
		name, record string
		status       Status
		contains     string
	}{
		{"plus-all", "v=spf1 +all", StatusFail, "+all"},
		{"neutral-all", "v=spf1 ip4:203.0.113.7 ?all", StatusWarn, "neutral"},
		{"softfail", "v=spf1 ip4:192.0.2.0/24 ~all", StatusWarn, "does not authorise 203.0.113.7"},
		{"permerror", "v=spf1 ip4:not-an-ip -all", StatusFail, "invalid"},
		{"include-pass", "v=spf1 include:_spf.provider.test -all", StatusPass, "authorises 203.0.113.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dns := startDNS(t, dnstest.Zone{TXT: map[string][]string{
				"spf.test":           {c.record},
				"_spf.provider.test": {"v=spf1 ip4:203.0.113.0/28 -all"},
			}})
			fs := CheckDeliverability(context.Background(), DeliverabilityOptions{
				Domain: "spf.test", ServerIPs: []net.IP{net.ParseIP("203.0.113.7")},
				Blocklists: []string{}, Resolver: dns.Resolver(), DKIMSelectors: []string{"x"},
			})
			wantStatus(t, fs, "spf", c.status, c.contains)
		})
	}
}

func TestDeliverabilityDMARCOrganisationalFallbackAndPolicies(t *testing.T) {
	dns := startDNS(t, dnstest.Zone{TXT: map[string][]string{
		"_dmarc.org.test":     {"v=DMARC1; p=quarantine; pct=50; rua=mailto:r@org.test"},
		"_dmarc.monitor.test": {"v=DMARC1; p=none; rua=mailto:r@monitor.test"},
		"_dmarc.broken.test":  {"v=DMARC1; p=sometimes"},
	}})
	run := func(domain string) []Finding {
		return CheckDeliverability(context.Background(), DeliverabilityOptions{
			Domain: domain, Blocklists: []string{}, Resolver: dns.Resolver(), DKIMSelectors: []string{"x"},
		})
	}
	f := wantStatus(t, run("news.mail.org.test"), "dmarc", StatusPass, "organisational domain")
	if !strings.Contains(f.Finding, "50%") {
		t.Errorf("pct not reported: %q", f.Finding)
	}
	wantStatus(t, run("monitor.test"), "dmarc", StatusWarn, "p=none")
	wantStatus(t, run("broken.test"), "dmarc", StatusFail, "invalid")
}

func TestDeliverabilityDNSFailureIsNotMissingRecord(t *testing.T) {
	dns := startDNS(t, dnstest.Zone{
		Fail: map[string]dnsmessage.RCode{
			"flaky.test":        dnsmessage.RCodeServerFailure,
			"_dmarc.flaky.test": dnsmessage.RCodeServerFailure,
		},
	})
	fs := CheckDeliverability(context.Background(), DeliverabilityOptions{
		Domain: "flaky.test", Blocklists: []string{}, Resolver: dns.Resolver(), DKIMSelectors: []string{"x"},
	})
	for _, check := range []string{"mx", "spf", "dmarc"} {
		f := wantStatus(t, fs, check, StatusWarn, "could not look up")
		if strings.Contains(f.Finding, "no ") {
			t.Errorf("%s: a DNS failure reported as a missing record: %q", check, f.Finding)
		}
	}
}

func TestParseDKIMKeyAndMTASTSPolicy(t *testing.T) {
	if _, err := ParseDKIMKey("v=DKIM1; k=rsa"); err == nil || !strings.Contains(err.Error(), "p=") {
		t.Errorf("missing p=: err = %v", err)
	}
	if _, err := ParseDKIMKey("v=DKIM2; p=abc"); err == nil {
		t.Error("v=DKIM2 accepted")
	}
	k, err := ParseDKIMKey("v=DKIM1; t=y:s; p=")
	if err != nil || !k.Revoked || !k.Testing {
		t.Errorf("revoked testing key = %+v, %v", k, err)
	}
	if _, err := ParseMTASTSPolicy("version: STSv1\nmode: enforce\n"); err == nil {
		t.Error("enforce policy without mx accepted")
	}
	if _, err := ParseMTASTSPolicy("mode: enforce\nmx: a\n"); err == nil {
		t.Error("policy without version accepted")
	}
	p, err := ParseMTASTSPolicy("version: STSv1\nmode: testing\nmx: *.example.test\nmx: mx.example.test\nmax_age: 604800\n")
	if err != nil || p.Mode != "testing" || len(p.MX) != 2 || p.MaxAge != 604800 {
		t.Errorf("policy = %+v, %v", p, err)
	}
}
