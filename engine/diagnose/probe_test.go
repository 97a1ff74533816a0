package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/internal/dnstest"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transport"
)

const probePass = "Tr0ub4dor&3-probe"

// probeCfg is a session configuration for a local server.
func probeCfg(port int, mode transport.TLSMode, pool *x509.CertPool) transport.Config {
	return transport.Config{Host: "127.0.0.1", Port: port, TLS: mode, Auth: transport.AuthAuto,
		Timeout: 5 * time.Second, HeloName: "client.herald.test", RootCAs: pool}
}

// longCert is a certificate for 127.0.0.1 far from its expiry.
func longCert(t *testing.T, ca *smtptest.CA) tls.Certificate {
	return ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "127.0.0.1", "localhost")
}

func runProbe(t *testing.T, o ProbeOptions) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := Probe(ctx, o)
	if rep == nil {
		t.Fatal("Probe returned nil")
	}
	t.Log(dump(rep))
	return rep
}

func dump(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "report %s ok=%v failed=%s/%s/%d\n", rep.Target, rep.OK, rep.FailedStage, rep.FailedClass, rep.FailedCode)
	for _, s := range rep.Steps {
		fmt.Fprintf(&b, "  %-7s %-10s %4d ms  %s\n", s.Status, s.Name, s.Ms, s.Finding)
		if s.Hint.Text != "" {
			fmt.Fprintf(&b, "          hint: %s %+v\n", s.Hint.Text, s.Hint.Fixes)
		}
		for _, e := range s.Transcript {
			fmt.Fprintf(&b, "          %s\n", e.String())
		}
	}
	return b.String()
}

func names(rep *Report) string {
	var n []string
	for _, s := range rep.Steps {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

// wantStep checks the named step's status and that its finding and hint
// contain the given texts, and returns it.
func wantStep(t *testing.T, rep *Report, name string, status Status, finding, hint string) Step {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Name != name {
			continue
		}
		if s.Status != status {
			t.Errorf("step %s is %s, want %s\n%s", name, s.Status, status, dump(rep))
		}
		if !strings.Contains(s.Finding, finding) {
			t.Errorf("step %s finding %q lacks %q\n%s", name, s.Finding, finding, dump(rep))
		}
		if !strings.Contains(s.Hint.Text, hint) {
			t.Errorf("step %s hint %q lacks %q\n%s", name, s.Hint, hint, dump(rep))
		}
		if (status == StatusFail || status == StatusWarn) && s.Hint.Text == "" {
			t.Errorf("step %s is %s without a hint\n%s", name, status, dump(rep))
		}
		return s
	}
	t.Fatalf("no step %s\n%s", name, dump(rep))
	return Step{}
}

func wantFailed(t *testing.T, rep *Report, st transport.Stage, class transport.Class) {
	t.Helper()
	if rep.OK || rep.FailedStage != st || rep.FailedClass != class {
		t.Fatalf("ok=%v failed %s/%s, want %s/%s\n%s", rep.OK, rep.FailedStage, rep.FailedClass, st, class, dump(rep))
	}
}

func wantOK(t *testing.T, rep *Report) {
	t.Helper()
	if !rep.OK || rep.FailedStage != "" {
		t.Fatalf("probe failed at %s\n%s", rep.FailedStage, dump(rep))
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestProbePlainSessionEveryStepReported(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil), From: "ann@herald.test", Rcpt: "bob@herald.test"})
	wantOK(t, rep)
	if got := names(rep); got != "dns,connect,banner,ehlo,tls,auth,envelope" {
		t.Fatalf("steps %s\n%s", got, dump(rep))
	}
	wantStep(t, rep, "dns", StatusSkipped, "is an address", "")
	wantStep(t, rep, "connect", StatusPass, "connected to 127.0.0.1:", "")
	wantStep(t, rep, "banner", StatusPass, "greeting: 220 mx.herald.test", "")
	wantStep(t, rep, "ehlo", StatusPass, "capabilities: ", "")
	ehlo := wantStep(t, rep, "ehlo", StatusPass, "PIPELINING", "")
	if strings.Contains(ehlo.Finding, "mx.herald.test") {
		t.Errorf("the server's name is listed as a capability: %s", ehlo.Finding)
	}
	wantStep(t, rep, "tls", StatusWarn, "no TLS", "implicit TLS")
	wantStep(t, rep, "auth", StatusSkipped, "offers no AUTH", "")
	wantStep(t, rep, "envelope", StatusPass, "MAIL FROM:<ann@herald.test> and RCPT TO:<bob@herald.test> accepted", "")
	if len(s.Messages()) != 0 {
		t.Fatal("the dry run delivered a message")
	}
	if got := strings.Join(rep.ServerNames, ","); got != "127.0.0.1,mx.herald.test" {
		t.Errorf("server names %q", got)
	}
	if got := strings.Join(rep.Addresses, ","); got != "127.0.0.1" {
		t.Errorf("addresses %q", got)
	}

	// Every step reports its time (present, whatever its value) and the
	// steps that talked to the server carry their transcript lines.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Steps []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, st := range doc.Steps {
		if _, ok := st["ms"]; !ok {
			t.Errorf("step %v has no ms", st["name"])
		}
	}
	for _, st := range rep.Steps {
		if st.Ms < 0 {
			t.Errorf("step %s has negative ms", st.Name)
		}
		switch st.Name {
		case "connect", "banner", "ehlo", "envelope":
			if len(st.Transcript) == 0 {
				t.Errorf("step %s has no transcript", st.Name)
			}
		}
	}
	if tr := wantStep(t, rep, "ehlo", StatusPass, "", "").Transcript; !strings.HasPrefix(tr[0].Text, "EHLO client.herald.test") {
		t.Errorf("ehlo transcript starts with %q", tr[0].Text)
	}
}

// startDNSRetry starts a DNS server, trying again when the TCP port that
// must match its UDP one happens to be taken.
func startDNSRetry(t *testing.T, z dnstest.Zone) *dnstest.Server {
	t.Helper()
	var err error
	for range 5 {
		var s *dnstest.Server
		if s, err = dnstest.Start(z); err == nil {
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	t.Fatal(err)
	return nil
}

func TestProbeDNS(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "smtp.herald.test", "dual.herald.test")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true})
	dns := startDNSRetry(t, dnstest.Zone{
		A: map[string][]string{
			"smtp.herald.test": {"127.0.0.1"},
			"dual.herald.test": {"127.0.0.1", "::1"},
		},
		Fail: map[string]dnsmessage.RCode{"broken.herald.test": dnsmessage.RCodeServerFailure},
	})
	cfg := func(host string) transport.Config {
		c := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
		c.Host = host
		return c
	}

	t.Run("resolves and the session uses the same resolver", func(t *testing.T) {
		rep := runProbe(t, ProbeOptions{Config: cfg("smtp.herald.test"), Resolver: dns.Resolver()})
		wantOK(t, rep)
		wantStep(t, rep, "dns", StatusPass, "smtp.herald.test has A 127.0.0.1; no AAAA", "")
		// The certificate is checked against the name, not the address.
		wantStep(t, rep, "tls", StatusPass, "matches smtp.herald.test", "")
	})
	t.Run("A and AAAA", func(t *testing.T) {
		rep := runProbe(t, ProbeOptions{Config: cfg("dual.herald.test"), Resolver: dns.Resolver()})
		wantStep(t, rep, "dns", StatusPass, "has A 127.0.0.1; AAAA ::1", "")
		if strings.Join(rep.Addresses, ",") != "127.0.0.1,::1" {
			t.Errorf("addresses %v", rep.Addresses)
		}
	})
	t.Run("no such name", func(t *testing.T) {
		rep := runProbe(t, ProbeOptions{Config: cfg("nope.herald.test"), Resolver: dns.Resolver()})
		wantFailed(t, rep, transport.StageConnect, transport.ClassPermanent)
		wantStep(t, rep, "dns", StatusFail, "nope.herald.test has no address", "Discovery can find it")
		if len(rep.Steps) != 1 {
			t.Errorf("steps after a failed lookup: %s", names(rep))
		}
	})
	t.Run("lookup failure", func(t *testing.T) {
		rep := runProbe(t, ProbeOptions{Config: cfg("broken.herald.test"), Resolver: dns.Resolver()})
		wantFailed(t, rep, transport.StageConnect, transport.ClassTemporary)
		wantStep(t, rep, "dns", StatusFail, "could not look up broken.herald.test", "DNS resolver")
	})
}

func TestProbeConnectFailures(t *testing.T) {
	t.Run("nothing listening", func(t *testing.T) {
		port := closedPort(t)
		rep := runProbe(t, ProbeOptions{Config: probeCfg(port, transport.TLSStartTLS, nil)})
		wantFailed(t, rep, transport.StageConnect, transport.ClassTemporary)
		wantStep(t, rep, "connect", StatusFail, "connect to 127.0.0.1:", fmt.Sprintf("Nothing listens on port %d", port))
		if names(rep) != "dns,connect" {
			t.Errorf("steps %s", names(rep))
		}
	})
	// A filtered port drops the SYN: the dial hangs until the timeout.
	filtered := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	t.Run("port 25 filtered", func(t *testing.T) {
		cfg := probeCfg(25, transport.TLSStartTLS, nil)
		cfg.Host, cfg.Timeout, cfg.DialContext = "192.0.2.25", 200*time.Millisecond, filtered
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantFailed(t, rep, transport.StageConnect, transport.ClassTemporary)
		wantStep(t, rep, "connect", StatusFail, "192.0.2.25:25", "block outgoing port 25")
	})
	t.Run("other port filtered", func(t *testing.T) {
		cfg := probeCfg(587, transport.TLSStartTLS, nil)
		cfg.Host, cfg.Timeout, cfg.DialContext = "192.0.2.25", 200*time.Millisecond, filtered
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantStep(t, rep, "connect", StatusFail, "", "Nothing answered on port 587 in time: a firewall")
	})
}

func TestProbeSlowBanner(t *testing.T) {
	slow := startSMTP(t, serverOpts{greetDelay: 250 * time.Millisecond})
	_, port, _ := net.SplitHostPort(slow.Addr)
	var p int
	fmt.Sscan(port, &p)
	rep := runProbe(t, ProbeOptions{Config: probeCfg(p, transport.TLSNone, nil), SlowBanner: 100 * time.Millisecond})
	// Slow is a warning, not a failure.
	wantOK(t, rep)
	wantStep(t, rep, "banner", StatusWarn, "greeting: 220 mx.test", "slow to greet")

	fast := smtptest.Start(t, smtptest.Options{})
	rep = runProbe(t, ProbeOptions{Config: probeCfg(fast.Port, transport.TLSNone, nil)})
	wantStep(t, rep, "banner", StatusPass, "greeting: 220", "")
}

func TestProbeTLSPasses(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := longCert(t, ca)
	for _, mode := range []transport.TLSMode{transport.TLSImplicit, transport.TLSStartTLS} {
		t.Run(string(mode), func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: mode == transport.TLSImplicit, StartTLS: mode == transport.TLSStartTLS, User: "ann", Pass: probePass})
			cfg := probeCfg(s.Port, mode, ca.Pool)
			cfg.Auth, cfg.Username, cfg.Password = transport.AuthPlain, "ann", probePass
			rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
			wantOK(t, rep)
			want := "dns,connect,banner,ehlo,tls,auth,envelope"
			if mode == transport.TLSImplicit {
				want = "dns,connect,tls,banner,ehlo,auth,envelope" // TLS comes first
			}
			if got := names(rep); got != want {
				t.Fatalf("steps %s, want %s\n%s", got, want, dump(rep))
			}
			tlsStep := wantStep(t, rep, "tls", StatusPass, "TLS 1.3, TLS_", "")
			for _, w := range []string{"certificate for CN=127.0.0.1", "issued by CN=Herald Test CA", "days left", "verified", smtptest.Fingerprint(cert)} {
				if !strings.Contains(tlsStep.Finding, w) {
					t.Errorf("tls finding lacks %q: %s", w, tlsStep.Finding)
				}
			}
			if rep.CertificateSHA256 != smtptest.Fingerprint(cert) {
				t.Errorf("CertificateSHA256 = %q", rep.CertificateSHA256)
			}
			wantStep(t, rep, "auth", StatusPass, "authenticated as ann with PLAIN", "")
			wantStep(t, rep, "envelope", StatusPass, "RCPT TO:<ann@herald.test>", "") // Rcpt defaults to From
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages delivered by a dry run", n)
			}
			if b, _ := json.Marshal(rep); strings.Contains(string(b), probePass) {
				t.Fatal("the password appears in the report")
			}
		})
	}
}

func TestProbeCertificateFailures(t *testing.T) {
	ca := smtptest.NewCA(t)
	cases := []struct {
		name    string
		cert    tls.Certificate
		finding string
		hint    string
	}{
		{"expired", ca.Issue(t, time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour), "127.0.0.1"), "has expired", "has expired"},
		{"self-signed", smtptest.SelfSigned(t, "127.0.0.1"), "self-signed", "pin its fingerprint"},
		{"not yet valid", ca.Issue(t, time.Now().Add(time.Hour), time.Now().Add(72*time.Hour), "127.0.0.1"), "not valid yet", "not valid yet"},
		{"wrong name", ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "smtp.elsewhere.test"), "not issued for 127.0.0.1", "not issued for this host name"},
	}
	for _, mode := range []transport.TLSMode{transport.TLSImplicit, transport.TLSStartTLS} {
		hints := map[string]string{}
		for _, c := range cases {
			t.Run(string(mode)+"/"+c.name, func(t *testing.T) {
				var port int
				var afterTLS func() int64
				if mode == transport.TLSImplicit {
					s := smtptest.Start(t, smtptest.Options{Cert: &c.cert, Implicit: true, User: "ann", Pass: probePass})
					port = s.Port
					afterTLS = func() int64 { return int64(len(s.AuthAttempts())) }
				} else {
					port, afterTLS = startTLSScript(t, c.cert)
				}
				cfg := probeCfg(port, mode, ca.Pool)
				cfg.Username, cfg.Password = "ann", probePass
				rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
				wantFailed(t, rep, transport.StageTLS, transport.ClassPermanent)
				st := wantStep(t, rep, "tls", StatusFail, c.finding, c.hint)
				// The refused certificate is described, and can be pinned; its
				// fingerprint is in the report, for the front end to show once.
				fp := smtptest.Fingerprint(c.cert)
				if rep.CertificateSHA256 != fp || strings.Contains(st.Finding, fp) || !strings.Contains(st.Finding, "the server presents a certificate for") {
					t.Errorf("certificate not described: sha256 %q\n%s", rep.CertificateSHA256, dump(rep))
				}
				hints[c.name] = st.Hint.Text
				if c.name == "self-signed" && !slices.ContainsFunc(st.Hint.Fixes, func(f hint.Fix) bool { return f.Setting == hint.PinCertificate && f.Value == fp }) {
					t.Errorf("the self-signed certificate's hint offers no pin with its fingerprint: %+v", st.Hint.Fixes)
				}
				if n := afterTLS(); n != 0 {
					t.Errorf("%d AUTH attempts or bytes sent after a refused certificate", n)
				}
				if strings.Contains(names(rep), "auth") {
					t.Errorf("steps after the TLS failure: %s", names(rep))
				}
			})
		}
		if len(hints) == len(cases) && (hints["expired"] == hints["self-signed"] || hints["expired"] == hints["wrong name"] || hints["self-signed"] == hints["wrong name"]) {
			t.Errorf("%s: certificate failures share a hint: %v", mode, hints)
		}
	}
}

// startTLSScript runs a server that offers STARTTLS with cert and then only
// counts what the client sends over TLS. (go-smtp's own STARTTLS races with
// its Close when a client drops the connection right after the handshake,
// as a client refusing the certificate does; a script ends cleanly.)
func startTLSScript(t *testing.T, cert tls.Certificate) (port int, sentOverTLS func() int64) {
	t.Helper()
	var n atomic.Int64
	srv := smtptest.StartScript(t, func(c *smtptest.Conn) {
		if c.Greet("STARTTLS") != nil {
			return
		}
		if _, err := c.Expect("STARTTLS"); err != nil {
			return
		}
		c.Line("220 2.0.0 Ready to start TLS")
		tc := tls.Server(c.Conn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if tc.Handshake() != nil {
			return
		}
		got, _ := io.Copy(io.Discard, tc)
		n.Add(got)
	})
	return srv.Port, n.Load
}

func TestProbeCertificateWarnings(t *testing.T) {
	ca := smtptest.NewCA(t)
	t.Run("expires soon", func(t *testing.T) {
		cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(5*24*time.Hour+time.Hour), "127.0.0.1")
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSImplicit, ca.Pool)})
		wantOK(t, rep)
		wantStep(t, rep, "tls", StatusWarn, "(5 days left)", "expires in 5 days")
	})
	t.Run("clock decides", func(t *testing.T) {
		cert := longCert(t, ca)
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSImplicit, ca.Pool), Now: func() time.Time { return time.Now().Add(80 * 24 * time.Hour) }})
		wantStep(t, rep, "tls", StatusWarn, "days left", "Renew it")
	})
	t.Run("pinned self-signed", func(t *testing.T) {
		cert := smtptest.SelfSigned(t, "127.0.0.1")
		cert2 := cert
		s := smtptest.Start(t, smtptest.Options{Cert: &cert2, StartTLS: true})
		cfg := probeCfg(s.Port, transport.TLSStartTLS, x509.NewCertPool())
		cfg.PinnedSHA256 = smtptest.Fingerprint(cert)
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantOK(t, rep)
		wantStep(t, rep, "tls", StatusWarn, "pinned", "pinned")
		if rep.CertificateSHA256 != smtptest.Fingerprint(cert) {
			t.Errorf("CertificateSHA256 = %q", rep.CertificateSHA256)
		}
	})
}

func TestProbeStartTLSProblems(t *testing.T) {
	t.Run("not offered", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: probePass, AllowInsecureAuth: true})
		cfg := probeCfg(s.Port, transport.TLSStartTLS, nil)
		cfg.Username, cfg.Password = "ann", probePass
		rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
		wantFailed(t, rep, transport.StageTLS, transport.ClassPermanent)
		wantStep(t, rep, "ehlo", StatusPass, "AUTH", "")
		wantStep(t, rep, "tls", StatusFail, "does not offer STARTTLS", "did not offer STARTTLS")
		if a := s.AuthAttempts(); len(a) != 0 {
			t.Fatalf("AUTH sent without STARTTLS: %v", a)
		}
	})
	t.Run("refused with 454", func(t *testing.T) {
		srv := smtptest.StartScript(t, func(c *smtptest.Conn) {
			if c.Greet("STARTTLS", "AUTH PLAIN") != nil {
				return
			}
			if _, err := c.Expect("STARTTLS"); err == nil {
				c.Line("454 4.7.0 TLS not available due to temporary reason")
			}
			c.Expect("QUIT")
			c.Line("221 bye")
		})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(srv.Port, transport.TLSStartTLS, nil)})
		wantFailed(t, rep, transport.StageTLS, transport.ClassTemporary)
		if rep.FailedCode != 454 {
			t.Errorf("FailedCode = %d", rep.FailedCode)
		}
		wantStep(t, rep, "tls", StatusFail, "refused it: 454", "try again later")
	})
	t.Run("plain text after 220", func(t *testing.T) {
		srv := smtptest.StartScript(t, func(c *smtptest.Conn) {
			if c.Greet("STARTTLS") != nil {
				return
			}
			if _, err := c.Expect("STARTTLS"); err != nil {
				return
			}
			c.Line("220 go ahead")
			c.R.ReadByte() // the ClientHello has begun
			c.Line("500 5.5.1 what is this?")
		})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(srv.Port, transport.TLSStartTLS, nil)})
		wantFailed(t, rep, transport.StageTLS, transport.ClassPermanent)
		wantStep(t, rep, "tls", StatusFail, "TLS handshake", "answered in plain text")
	})
	t.Run("implicit TLS on a plain port", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{})
		cfg := probeCfg(s.Port, transport.TLSImplicit, nil)
		cfg.Timeout = 2 * time.Second
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantFailed(t, rep, transport.StageTLS, transport.ClassPermanent)
		wantStep(t, rep, "tls", StatusFail, "", "plain text where TLS was expected")
	})
	t.Run("none warns", func(t *testing.T) {
		ca := smtptest.NewCA(t)
		cert := longCert(t, ca)
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil)})
		wantOK(t, rep)
		wantStep(t, rep, "tls", StatusWarn, "the server offers STARTTLS", "offers STARTTLS: use it")
	})
}

func TestProbeAuthReplies(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := longCert(t, ca)
	cases := []struct {
		name  string
		reply *smtp.SMTPError // nil: the real wrong-password reply
		code  int
		class transport.Class
		hint  string
	}{
		{"wrong password", nil, 535, transport.ClassPermanent, "Wrong user name or password"},
		{"app password", &smtp.SMTPError{Code: 534, EnhancedCode: smtp.EnhancedCode{5, 7, 9}, Message: "Application-specific password required"}, 534, transport.ClassPermanent, "application-specific password"},
		{"microsoft smtp auth disabled", &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant"}, 535, transport.ClassPermanent, "Microsoft 365"},
		{"temporary", &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}, 454, transport.ClassTemporary, "temporarily"},
		{"tls required", &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}, 530, transport.ClassPermanent, "wants TLS before authentication"},
		{"encryption required", &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required for requested authentication mechanism"}, 538, transport.ClassPermanent, "requires encryption"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: probePass}
			pw := probePass
			if c.reply == nil {
				pw = "not-the-password"
			} else {
				o.Refuse = map[string]*smtp.SMTPError{"auth": c.reply}
			}
			s := smtptest.Start(t, o)
			cfg := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
			cfg.Auth, cfg.Username, cfg.Password = transport.AuthPlain, "ann", pw
			rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
			wantFailed(t, rep, transport.StageAuth, c.class)
			if rep.FailedCode != c.code {
				t.Errorf("FailedCode = %d, want %d", rep.FailedCode, c.code)
			}
			wantStep(t, rep, "auth", StatusFail, fmt.Sprint(c.code), c.hint)
			// The certificate is graded although the session ended early.
			wantStep(t, rep, "tls", StatusPass, "verified", "")
			wantStep(t, rep, "tls", StatusPass, "days left", "")
			if rep.CertificateSHA256 != smtptest.Fingerprint(cert) {
				t.Errorf("CertificateSHA256 = %q", rep.CertificateSHA256)
			}
			if strings.Contains(names(rep), "envelope") {
				t.Errorf("the dry run ran after AUTH failed: %s", names(rep))
			}
			if b, _ := json.Marshal(rep); strings.Contains(string(b), pw) {
				t.Fatal("the password appears in the report")
			}
		})
	}

	t.Run("mechanism not offered", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: probePass, Mechanisms: []string{"LOGIN", "CRAM-MD5"}})
		cfg := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
		cfg.Auth, cfg.Username, cfg.Password = transport.AuthPlain, "ann", probePass
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantFailed(t, rep, transport.StageAuth, transport.ClassPermanent)
		wantStep(t, rep, "auth", StatusFail, "does not offer PLAIN", "it offers LOGIN, CRAM-MD5")
		if a := s.AuthAttempts(); len(a) != 0 {
			t.Errorf("AUTH attempted: %v", a)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: probePass, Mechanisms: []string{"PLAIN", "LOGIN"}})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)})
		wantOK(t, rep)
		wantStep(t, rep, "auth", StatusSkipped, "no credentials given; the server offers PLAIN LOGIN", "")
		wantStep(t, rep, "envelope", StatusSkipped, "no sender", "")
	})
	t.Run("never in clear without the opt-in", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: probePass, AllowInsecureAuth: true})
		cfg := probeCfg(s.Port, transport.TLSNone, nil)
		cfg.Username, cfg.Password = "ann", probePass
		rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
		wantFailed(t, rep, transport.StageAuth, transport.ClassPermanent)
		if got := names(rep); got != "dns,connect,banner,ehlo,tls,auth" {
			t.Errorf("steps %s", got)
		}
		wantStep(t, rep, "tls", StatusWarn, "no TLS", "")
		wantStep(t, rep, "auth", StatusFail, "nothing was sent", "allow the password without TLS")
		if a := s.AuthAttempts(); len(a) != 0 {
			t.Fatalf("credentials sent in clear: %v", a)
		}

		cfg.AllowInsecureAuth = true
		rep = runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test"})
		wantOK(t, rep)
		wantStep(t, rep, "auth", StatusPass, "authenticated as ann", "")
		if a := s.AuthAttempts(); len(a) != 1 {
			t.Fatalf("auth attempts with the opt-in: %v", a)
		}
	})
}

func TestProbeEnvelopeRefusals(t *testing.T) {
	cases := []struct {
		name   string
		stage  string
		reply  *smtp.SMTPError
		failed transport.Stage
		hint   string
	}{
		{"relay denied", "rcpt", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied"}, transport.StageRcpt, "Relaying denied"},
		{"sender not owned", "mail", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 60}, Message: "SendAsDenied; not allowed to send as bob@other.test"}, transport.StageMail, "may not send as this From address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Refuse: map[string]*smtp.SMTPError{c.stage: c.reply}})
			rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil), From: "bob@other.test", Rcpt: "carol@elsewhere.test",
				TestMessage: []byte("Subject: t\r\n\r\nt\r\n")})
			wantFailed(t, rep, c.failed, transport.ClassPermanent)
			if rep.FailedCode != c.reply.Code {
				t.Errorf("FailedCode = %d", rep.FailedCode)
			}
			wantStep(t, rep, "envelope", StatusFail, fmt.Sprint(c.reply.Code), c.hint)
			if strings.Contains(names(rep), "send") {
				t.Errorf("the test message was tried after the envelope failed: %s", names(rep))
			}
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages delivered", n)
			}
		})
	}
}

func TestProbeSendsOneTestMessage(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := longCert(t, ca)
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: probePass})
	cfg := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
	cfg.Username, cfg.Password = "ann", probePass
	body := []byte("From: ann@herald.test\r\nTo: bob@herald.test\r\nSubject: Herald test\r\n\r\nIt works.\r\n")
	rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test", Rcpt: "bob@herald.test", TestMessage: body})
	wantOK(t, rep)
	if got := names(rep); got != "dns,connect,banner,ehlo,tls,auth,envelope,send" {
		t.Fatalf("steps %s", got)
	}
	st := wantStep(t, rep, "send", StatusPass, "250 2.0.0 OK: queued", "")
	if len(st.Transcript) == 0 {
		t.Error("send step has no transcript")
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages received, want exactly 1", len(msgs))
	}
	if msgs[0].From != "ann@herald.test" || len(msgs[0].To) != 1 || msgs[0].To[0] != "bob@herald.test" || !strings.Contains(string(msgs[0].Data), "It works.") || msgs[0].User != "ann" {
		t.Fatalf("received %+v", msgs[0])
	}
}

func TestProbeOpenRelay(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil), From: "ann@herald.test", OpenRelay: true})
		wantFailed(t, rep, transport.StageRcpt, transport.ClassPermanent)
		st := wantStep(t, rep, "open-relay", StatusFail, "open relay", "blocklists")
		if len(st.Transcript) == 0 || !strings.Contains(dump(rep), "RCPT TO:<relay-test@example.net>") {
			t.Errorf("no relay attempt in the transcript\n%s", dump(rep))
		}
		if n := len(s.Messages()); n != 0 {
			t.Fatalf("the relay check delivered %d messages", n)
		}
	})
	t.Run("refuses outside recipients", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
			"outside@relay.test": {Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}}})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil), OpenRelay: true, OutsideRcpt: "outside@relay.test"})
		wantOK(t, rep)
		wantStep(t, rep, "open-relay", StatusPass, "Relay access denied", "")
	})
	t.Run("requires auth", func(t *testing.T) {
		ca := smtptest.NewCA(t)
		cert := longCert(t, ca)
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, User: "ann", Pass: probePass})
		cfg := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
		cfg.Username, cfg.Password = "ann", probePass
		rep := runProbe(t, ProbeOptions{Config: cfg, From: "ann@herald.test", OpenRelay: true})
		wantOK(t, rep)
		st := wantStep(t, rep, "open-relay", StatusPass, "530", "")
		for _, e := range st.Transcript {
			if strings.HasPrefix(e.Text, "AUTH") {
				t.Fatalf("the relay check authenticated: %s", e.Text)
			}
		}
		if a := s.AuthAttempts(); len(a) != 1 {
			t.Fatalf("auth attempts %v, want only the probe's own", a)
		}
	})
}

func TestProbeMoreFailures(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := longCert(t, ca)
	t.Run("TLS older than 1.2", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, MinTLS: tls.VersionTLS10, MaxTLS: tls.VersionTLS11})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSImplicit, ca.Pool)})
		wantFailed(t, rep, transport.StageTLS, transport.ClassPermanent)
		wantStep(t, rep, "tls", StatusFail, "TLS handshake", "older than 1.2")
		if rep.CertificateSHA256 != "" {
			t.Errorf("a certificate was described for a version failure: %s", rep.CertificateSHA256)
		}
	})
	t.Run("no greeting", func(t *testing.T) {
		srv := smtptest.StartScript(t, func(c *smtptest.Conn) { c.Read() })
		cfg := probeCfg(srv.Port, transport.TLSStartTLS, nil)
		cfg.Timeout = 300 * time.Millisecond
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantFailed(t, rep, transport.StageBanner, transport.ClassTemporary)
		wantStep(t, rep, "banner", StatusFail, "banner", "sent no greeting in time")
	})
	t.Run("greeting refuses", func(t *testing.T) {
		srv := smtptest.StartScript(t, func(c *smtptest.Conn) {
			c.Line("554 5.7.1 mx.herald.test: your address is on our blocklist")
			c.Read()
		})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(srv.Port, transport.TLSStartTLS, nil)})
		wantFailed(t, rep, transport.StageBanner, transport.ClassPermanent)
		if rep.FailedCode != 554 {
			t.Errorf("FailedCode = %d", rep.FailedCode)
		}
		wantStep(t, rep, "banner", StatusFail, "blocklist", "refused for good")
	})
	t.Run("AUTH not offered", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true})
		cfg := probeCfg(s.Port, transport.TLSStartTLS, ca.Pool)
		cfg.Username, cfg.Password = "ann", probePass
		rep := runProbe(t, ProbeOptions{Config: cfg})
		wantFailed(t, rep, transport.StageAuth, transport.ClassPermanent)
		wantStep(t, rep, "auth", StatusFail, "offers no AUTH", "offers no AUTH here")
	})
	t.Run("test message refused", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{Refuse: map[string]*smtp.SMTPError{"data": {Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message looks like spam"}}})
		rep := runProbe(t, ProbeOptions{Config: probeCfg(s.Port, transport.TLSNone, nil), From: "ann@herald.test", TestMessage: []byte("Subject: t\r\n\r\nt\r\n")})
		wantFailed(t, rep, transport.StageData, transport.ClassPermanent)
		wantStep(t, rep, "envelope", StatusPass, "", "")
		wantStep(t, rep, "send", StatusFail, "554", "rejected the message content")
	})
}
