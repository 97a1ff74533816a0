package diagnose

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/hint"
)

// Resolver is the DNS the checks use; *net.Resolver satisfies it, and tests
// pass one that asks a local server.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// Status is how a check or probe step came out.
type Status string

// The statuses of a check or step.
const (
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
	StatusInfo    Status = "info"
)

// Finding is the outcome of one deliverability check, put into words.
type Finding struct {
	Check   string `json:"check"` // "mx", "spf", "dkim", "dmarc", "rdns", "dnsbl", "mta-sts", "tls-rpt"
	Status  Status `json:"status"`
	Finding string `json:"finding"`
	// Hint says what to do about a warning or failure, and which settings
	// fix it.
	Hint hint.Hint `json:"hint,omitzero"`
	// Records are the DNS records the finding is based on, as found.
	Records []string `json:"records,omitempty"`
}

// say is a hint without fixes beyond those given.
func say(text string, fixes ...hint.Fix) hint.Hint { return hint.Hint{Text: text, Fixes: fixes} }

// DefaultBlocklists are the DNS blocklists checked when none are configured.
func DefaultBlocklists() []string {
	return []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"}
}

// CommonDKIMSelectors are the selectors tried when the user names none: the
// defaults of common providers and mail servers.
func CommonDKIMSelectors() []string {
	return []string{
		"default", "dkim", "mail", "selector1", "selector2", "google", "k1", "k2", "k3",
		"s1", "s2", "fm1", "fm2", "fm3", "zmail", "protonmail", "protonmail2", "protonmail3",
		"mxvault", "smtp", "sig1", "mandrill", "mailjet", "20230601", "pm", "key1",
	}
}

// DeliverabilityOptions configure CheckDeliverability.
type DeliverabilityOptions struct {
	// Domain is the sender's domain (the part after @ of the From address).
	Domain string
	// ServerIPs are the addresses mail leaves from: usually the SMTP server's.
	// SPF, reverse DNS and blocklists are checked for each public one.
	ServerIPs []net.IP
	// ServerNames are the names the server gave (banner, EHLO reply) and its
	// host name; reverse DNS is compared with them.
	ServerNames []string
	// DKIMSelectors to look up; empty means CommonDKIMSelectors (or only
	// the selectors of DKIMKeys when it is set).
	DKIMSelectors []string
	// DKIMKeys are the public keys the sender signs with, by selector: each
	// one's record is looked up and compared with the key, and what differs
	// is said (no record, another key, a k= mismatch, a revoked key, t=y).
	DKIMKeys map[string]crypto.PublicKey
	// Blocklists are DNSBL zones; nil means DefaultBlocklists, empty slice none.
	Blocklists []string
	// Resolver answers DNS; nil means net.DefaultResolver.
	Resolver Resolver
	// HTTPClient fetches the MTA-STS policy; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each lookup; default 5 s.
	Timeout time.Duration
	// OnFinding, when set, is called with each check's findings as that
	// check finishes (the checks run at once, so in the order they finish),
	// never at the same time and before CheckDeliverability returns: a
	// window fills in live. The returned list keeps the fixed order.
	OnFinding func(Finding)
}

// CheckDeliverability runs the DNS checks of a sender's domain: MX, SPF,
// DKIM, DMARC, reverse DNS and blocklists for the server IPs, MTA-STS and
// TLS-RPT. The checks run in parallel; findings come back in a fixed order.
// When DNS is not reachable (DNSReachable) each check is "not checked"
// instead: a missing record would say nothing about the domain.
func CheckDeliverability(ctx context.Context, o DeliverabilityOptions) []Finding {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Blocklists == nil {
		o.Blocklists = DefaultBlocklists()
	}
	o = o.withDKIMSelectors()
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	o.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o.Domain), "."))
	if o.Domain == "" {
		return []Finding{{Check: "domain", Status: StatusSkipped, Finding: "no sender domain given", Hint: say("Give the sender's address to check its domain.", hint.Fix{Setting: hint.From, Label: "Give the sender address"})}}
	}
	// Without DNS every record would look missing: say so instead.
	if err := DNSReachable(ctx, o.Resolver, o.Timeout); err != nil {
		return offlineFindings(deliverabilityChecks, err, o.OnFinding)
	}
	d := &deliv{o: o}
	checks := []func(context.Context) []Finding{d.mx, d.spf, d.dkim, d.dmarc, d.rdns, d.dnsbl, d.mtaSTS, d.tlsRPT}
	results := make([][]Finding, len(checks))
	var wg sync.WaitGroup
	var mu sync.Mutex // one OnFinding call at a time
	for i, c := range checks {
		wg.Go(func() {
			results[i] = c(ctx)
			if o.OnFinding != nil {
				mu.Lock()
				for _, f := range results[i] {
					o.OnFinding(f)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var out []Finding
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

type deliv struct{ o DeliverabilityOptions }

// withDKIMSelectors adds the selectors of DKIMKeys to DKIMSelectors, or
// the common ones when there are none.
func (o DeliverabilityOptions) withDKIMSelectors() DeliverabilityOptions {
	sels := slices.Clone(o.DKIMSelectors)
	for _, s := range slices.Sorted(maps.Keys(o.DKIMKeys)) {
		if !slices.Contains(sels, s) {
			sels = append(sels, s)
		}
	}
	if len(sels) == 0 {
		sels = CommonDKIMSelectors()
	}
	o.DKIMSelectors = sels
	return o
}

// CheckDKIM runs only the DKIM check of CheckDeliverability: each selector's
// key record, compared with DKIMKeys where given ("not checked" when DNS is
// not reachable).
func CheckDKIM(ctx context.Context, o DeliverabilityOptions) []Finding {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	o = o.withDKIMSelectors()
	o.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o.Domain), "."))
	if o.Domain == "" {
		return []Finding{{Check: "dkim", Status: StatusSkipped, Finding: "no signing domain given"}}
	}
	if err := DNSReachable(ctx, o.Resolver, o.Timeout); err != nil {
		return offlineFindings([]string{"dkim"}, err, nil)
	}
	d := &deliv{o: o}
	return d.dkim(ctx)
}

// dkimMatch compares the records found under a selector with the key the
// sender signs with.
func dkimMatch(sel, name string, recs []string, pub crypto.PublicKey) []Finding {
	typ := strings.ToUpper(dkimkey.TypeOf(pub))
	if len(recs) == 0 {
		return []Finding{{Check: "dkim", Status: StatusFail,
			Finding: fmt.Sprintf("selector %s: no key record at %s: this sender's %s signatures cannot be verified", sel, name, typ),
			Hint:    say("Publish the key's TXT record at your DNS provider (name " + name + "), then check again; new records can take a while to appear.")}}
	}
	var out []Finding
	for _, rec := range recs {
		v := dkimkey.Compare(rec, pub)
		f := Finding{Check: "dkim", Records: []string{name + ": " + rec}}
		switch {
		case !v.Match:
			f.Status, f.Finding = StatusFail, fmt.Sprintf("selector %s: the published record does not match the signing key: %s", sel, v.Problem)
			f.Hint = say("Receivers check signatures against the published record, so they fail. Publish the record of the key the profile signs with (replace the old value; a value over 255 characters is split into several quoted strings, not cut).")
		case v.Testing:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("selector %s: the record matches the signing %s key, in testing mode (t=y)", sel, typ)
			f.Hint = say("Receivers may treat signatures as unsigned while t=y is set; remove it when you are done testing.")
		default:
			f.Status, f.Finding = StatusPass, fmt.Sprintf("selector %s: the record matches the signing %s key", sel, typ)
		}
		out = append(out, f)
	}
	return out
}

func (d *deliv) lookupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.o.Timeout)
}

// notFound reports whether err says the name or record does not exist, as
// opposed to a failure to ask.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func (d *deliv) txt(ctx context.Context, name string) ([]string, error) {
	c, cancel := d.lookupCtx(ctx)
	defer cancel()
	return d.o.Resolver.LookupTXT(c, name)
}

func lookupFailed(check, name string, err error) Finding {
	return Finding{Check: check, Status: StatusWarn,
		Finding: fmt.Sprintf("could not look up %s: %v", name, err),
		Hint:    say("The DNS lookup failed (not the same as 'no record'); check your network or DNS resolver and run the test again.")}
}

func (d *deliv) mx(ctx context.Context) []Finding {
	c, cancel := d.lookupCtx(ctx)
	defer cancel()
	mxs, err := d.o.Resolver.LookupMX(c, d.o.Domain)
	if err != nil && !notFound(err) {
		return []Finding{lookupFailed("mx", d.o.Domain, err)}
	}
	var recs []string
	for _, m := range mxs {
		recs = append(recs, fmt.Sprintf("%d %s", m.Pref, m.Host))
	}
	if len(mxs) == 0 {
		return []Finding{{Check: "mx", Status: StatusWarn, Finding: "no MX record for " + d.o.Domain,
			Hint: say("Replies and bounces to this domain have nowhere to go, and some receivers reject senders whose domain cannot receive mail. Publish an MX record.")}}
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return []Finding{{Check: "mx", Status: StatusWarn, Finding: d.o.Domain + " publishes a null MX (it accepts no mail)", Records: recs,
			Hint: say("A domain that declares it receives no mail (RFC 7505) is a poor sender domain: receivers may reject it. Send from a domain that can receive replies.")}}
	}
	return []Finding{{Check: "mx", Status: StatusPass, Finding: fmt.Sprintf("%d MX record(s) for %s", len(mxs), d.o.Domain), Records: recs}}
}

func (d *deliv) spf(ctx context.Context) []Finding {
	txts, err := d.txt(ctx, d.o.Domain)
	if err != nil && !notFound(err) {
		return []Finding{lookupFailed("spf", d.o.Domain, err)}
	}
	var recs []string
	for _, t := range txts {
		if f := strings.Fields(strings.ToLower(t)); len(f) > 0 && f[0] == "v=spf1" {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return []Finding{{Check: "spf", Status: StatusFail, Finding: "no SPF record for " + d.o.Domain,
			Hint: say("Receivers cannot tell which servers may send for this domain. Publish a TXT record such as \"v=spf1 include:<your provider's SPF domain> -all\" (your provider's setup page names the include).")}}
	case 1:
	default:
		return []Finding{{Check: "spf", Status: StatusFail, Finding: fmt.Sprintf("%d SPF records for %s: SPF fails with permerror when there is more than one", len(recs), d.o.Domain), Records: recs,
			Hint: say("Merge them into one TXT record that starts with v=spf1 (RFC 7208 section 4.5).")}}
	}
	rec := recs[0]
	var out []Finding
	all := ""
	for _, term := range strings.Fields(strings.ToLower(rec))[1:] {
		if strings.TrimLeft(term, "+-~?") == "all" {
			all = term
		}
	}
	switch all {
	case "+all", "all":
		out = append(out, Finding{Check: "spf", Status: StatusFail, Finding: "the SPF record ends in +all: it authorises every server on the internet", Records: recs,
			Hint: say("Replace +all with -all (or ~all while you test) so that only your servers are authorised.")})
	case "?all":
		out = append(out, Finding{Check: "spf", Status: StatusWarn, Finding: "the SPF record ends in ?all (neutral): it asserts nothing about other servers", Records: recs,
			Hint: say("Use ~all or -all once the record lists all your sending services.")})
	case "":
		out = append(out, Finding{Check: "spf", Status: StatusWarn, Finding: "the SPF record has no 'all' term and no redirect: mail from other servers is neutral", Records: recs,
			Hint: say("End the record with -all (or ~all).")})
	}
	ips := publicIPs(d.o.ServerIPs)
	if len(ips) == 0 {
		// Still evaluate with a documentation address to catch syntax errors
		// and lookup-limit violations.
		c, cancel := context.WithTimeout(ctx, 3*d.o.Timeout)
		res, err := spf.CheckHostWithSender(net.ParseIP("192.0.2.1"), d.o.Domain, "postmaster@"+d.o.Domain,
			spf.WithResolver(d.o.Resolver), spf.WithContext(c))
		cancel()
		if res == spf.PermError {
			return append(out, Finding{Check: "spf", Status: StatusFail, Finding: "the SPF record is invalid: " + errText(err), Records: recs,
				Hint: say("Receivers treat an invalid record like none at all. Fix the syntax; keep to at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect).")})
		}
		return append(out, Finding{Check: "spf", Status: StatusPass, Finding: "SPF record found and valid (the server's address was not checked against it)", Records: recs})
	}
	for _, ip := range ips {
		c, cancel := context.WithTimeout(ctx, 3*d.o.Timeout)
		res, err := spf.CheckHostWithSender(ip, d.o.Domain, "postmaster@"+d.o.Domain,
			spf.WithResolver(d.o.Resolver), spf.WithContext(c))
		cancel()
		f := Finding{Check: "spf", Records: recs}
		switch res {
		case spf.Pass:
			f.Status, f.Finding = StatusPass, fmt.Sprintf("SPF authorises %s to send for %s", ip, d.o.Domain)
		case spf.Fail, spf.SoftFail:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("SPF does not authorise %s to send for %s (%s)", ip, d.o.Domain, res)
			f.Hint = say(fmt.Sprintf("If mail leaves from this server, add it to the record (ip4:%s, or your provider's include:). Providers often relay through other addresses than the submission server's: then this is expected.", ip))
		case spf.Neutral, spf.None:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("SPF says nothing definite about %s (%s)", ip, res)
			f.Hint = say("Add the server or your provider's include: to the record and end it with -all.")
		case spf.TempError:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("SPF check for %s hit a DNS error: %s", ip, errText(err))
			f.Hint = say("A temporary DNS failure; run the test again.")
		default:
			f.Status, f.Finding = StatusFail, "the SPF record is invalid: "+errText(err)
			f.Hint = say("Receivers treat an invalid record like none at all. Fix the syntax; keep to at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect).")
		}
		out = append(out, f)
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return "no detail"
	}
	return err.Error()
}

// publicIPs drops loopback, private and unspecified addresses: the internet
// never sees them, so SPF, rDNS and blocklists say nothing about them.
func publicIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ip)
	}
	return out
}

// DKIMKey is a parsed DKIM key record.
type DKIMKey struct {
	Type    string // "rsa" or "ed25519"
	Bits    int    // key size; 256 for ed25519
	Revoked bool   // p= is empty
	Testing bool   // t=y
}

// ParseDKIMKey parses a DKIM key record ("v=DKIM1; k=rsa; p=...", RFC 6376
// section 3.6.1) and reports the key's type and size.
func ParseDKIMKey(rec string) (DKIMKey, error) {
	tags := map[string]string{}
	for _, part := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if strings.TrimSpace(part) != "" {
				return DKIMKey{}, fmt.Errorf("malformed tag %q", strings.TrimSpace(part))
			}
			continue
		}
		tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return DKIMKey{}, fmt.Errorf("unsupported version v=%s", v)
	}
	key := DKIMKey{Type: "rsa"}
	if k, ok := tags["k"]; ok {
		key.Type = strings.ToLower(k)
	}
	if slices.Contains(strings.Split(tags["t"], ":"), "y") {
		key.Testing = true
	}
	p, ok := tags["p"]
	if !ok {
		return DKIMKey{}, errors.New("no p= tag (public key)")
	}
	if p == "" {
		key.Revoked = true
		return key, nil
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return DKIMKey{}, fmt.Errorf("p= is not valid base64: %w", err)
	}
	switch key.Type {
	case "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			if pk, err2 := x509.ParsePKCS1PublicKey(der); err2 == nil {
				pub, err = pk, nil
			}
		}
		if err != nil {
			return DKIMKey{}, fmt.Errorf("p= is not an RSA public key: %w", err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return DKIMKey{}, fmt.Errorf("k=rsa but the key is a %T", pub)
		}
		key.Bits = rk.N.BitLen()
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return DKIMKey{}, fmt.Errorf("ed25519 key is %d bytes, want %d", len(der), ed25519.PublicKeySize)
		}
		key.Bits = 256
	default:
		return DKIMKey{}, fmt.Errorf("unknown key type k=%s", key.Type)
	}
	return key, nil
}

func (d *deliv) dkim(ctx context.Context) []Finding {
	type hit struct {
		sel  string
		recs []string
		err  error
	}
	hits := make([]hit, len(d.o.DKIMSelectors))
	var wg sync.WaitGroup
	for i, sel := range d.o.DKIMSelectors {
		wg.Go(func() {
			txts, err := d.txt(ctx, sel+"._domainkey."+d.o.Domain)
			if notFound(err) {
				err = nil
			}
			// The record may be a CNAME to the provider: the resolver
			// follows it. Keep only key records.
			var recs []string
			for _, t := range txts {
				if strings.Contains(t, "p=") {
					recs = append(recs, t)
				}
			}
			hits[i] = hit{sel, recs, err}
		})
	}
	wg.Wait()
	var out []Finding
	var failed []string
	for _, h := range hits {
		if _, mine := d.o.DKIMKeys[h.sel]; mine && h.err != nil {
			out = append(out, lookupFailed("dkim", h.sel+"._domainkey."+d.o.Domain, h.err))
			continue
		}
		if h.err != nil {
			failed = append(failed, h.sel)
			continue
		}
		if pub, ok := d.o.DKIMKeys[h.sel]; ok {
			out = append(out, dkimMatch(h.sel, h.sel+"._domainkey."+d.o.Domain, h.recs, pub)...)
			continue
		}
		for _, rec := range h.recs {
			name := h.sel + "._domainkey." + d.o.Domain
			key, err := ParseDKIMKey(rec)
			f := Finding{Check: "dkim", Records: []string{name + ": " + rec}}
			switch {
			case err != nil:
				f.Status, f.Finding = StatusFail, fmt.Sprintf("selector %s: the key record cannot be parsed: %v", h.sel, err)
				f.Hint = say("Signatures made with this selector cannot be verified. Copy the record again from your provider or signer; TXT values over 255 characters must be split into several strings, not cut.")
			case key.Revoked:
				f.Status, f.Finding = StatusWarn, fmt.Sprintf("selector %s: the key is revoked (empty p=)", h.sel)
				f.Hint = say("Mail still signed with this selector fails DKIM. Sign with a current selector.")
			case key.Type == "rsa" && key.Bits < 1024:
				f.Status, f.Finding = StatusFail, fmt.Sprintf("selector %s: RSA key of %d bits", h.sel, key.Bits)
				f.Hint = say("Receivers ignore RSA keys under 1024 bits (RFC 8301). Generate a 2048-bit key.")
			case key.Type == "rsa" && key.Bits < 2048:
				f.Status, f.Finding = StatusWarn, fmt.Sprintf("selector %s: RSA key of %d bits", h.sel, key.Bits)
				f.Hint = say("1024-bit keys still verify but are weak; rotate to a 2048-bit key.")
			default:
				f.Status, f.Finding = StatusPass, fmt.Sprintf("selector %s: %s key of %d bits", h.sel, strings.ToUpper(key.Type), key.Bits)
				if key.Testing {
					f.Status = StatusWarn
					f.Finding += ", in testing mode (t=y)"
					f.Hint = say("Receivers may treat signatures as unsigned while t=y is set; remove it when you are done testing.")
				}
			}
			out = append(out, f)
		}
	}
	if len(out) > 0 {
		return out
	}
	if len(failed) > 0 {
		return []Finding{{Check: "dkim", Status: StatusWarn, Finding: "could not look up DKIM selectors " + strings.Join(failed, ", "),
			Hint: say("The DNS lookups failed (not the same as 'no record'); run the test again.")}}
	}
	return []Finding{{Check: "dkim", Status: StatusWarn,
		Finding: fmt.Sprintf("no DKIM key found for %s under the selectors tried (%s)", d.o.Domain, strings.Join(d.o.DKIMSelectors, ", ")),
		Hint: say("If you sign, give your DKIM selector (the s= of a DKIM-Signature header you sent). If you do not, turn on DKIM at your provider: Gmail and Yahoo require it for bulk senders.",
			hint.Fix{Setting: hint.DKIMSelector, Label: "Give the DKIM selector"})}}
}

func (d *deliv) dmarc(ctx context.Context) []Finding {
	lookup := func(domain string) (*dmarc.Record, string, error) {
		var raw string
		rec, err := dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
			txts, err := d.txt(ctx, name)
			for _, t := range txts {
				if strings.HasPrefix(t, "v=DMARC1") {
					raw = name + ": " + t
				}
			}
			return txts, err
		}})
		return rec, raw, err
	}
	rec, raw, err := lookup(d.o.Domain)
	where := d.o.Domain
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org, e := publicsuffix.EffectiveTLDPlusOne(d.o.Domain); e == nil && org != d.o.Domain {
			rec, raw, err = lookup(org)
			where = org + " (the organisational domain)"
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		return []Finding{{Check: "dmarc", Status: StatusFail, Finding: "no DMARC record at _dmarc." + d.o.Domain,
			Hint: say("Gmail and Yahoo require DMARC for bulk senders. Start with a TXT record at _dmarc." + d.o.Domain + ": \"v=DMARC1; p=none; rua=mailto:dmarc@" + d.o.Domain + "\", read the reports, then move to p=quarantine or p=reject.")}}
	case dmarc.IsTempFail(err):
		return []Finding{lookupFailed("dmarc", "_dmarc."+d.o.Domain, err)}
	case err != nil:
		return []Finding{{Check: "dmarc", Status: StatusFail, Finding: "the DMARC record is invalid: " + err.Error(), Records: nonEmpty(raw),
			Hint: say("Receivers ignore an invalid record. It must start with v=DMARC1; and have a p= tag (none, quarantine or reject).")}}
	}
	f := Finding{Check: "dmarc", Records: nonEmpty(raw)}
	var notes []string
	notes = append(notes, "policy p="+string(rec.Policy))
	if rec.SubdomainPolicy != "" {
		notes = append(notes, "sp="+string(rec.SubdomainPolicy))
	}
	align := func(m dmarc.AlignmentMode) string {
		if m == dmarc.AlignmentStrict {
			return "strict"
		}
		return "relaxed"
	}
	notes = append(notes, "DKIM alignment "+align(rec.DKIMAlignment), "SPF alignment "+align(rec.SPFAlignment))
	if rec.Percent != nil && *rec.Percent < 100 {
		notes = append(notes, fmt.Sprintf("applied to %d%% of failing mail", *rec.Percent))
	}
	if len(rec.ReportURIAggregate) > 0 {
		notes = append(notes, "aggregate reports to "+strings.Join(rec.ReportURIAggregate, ", "))
	}
	if len(rec.ReportURIFailure) > 0 {
		notes = append(notes, "failure reports to "+strings.Join(rec.ReportURIFailure, ", "))
	}
	f.Finding = "DMARC record for " + where + ": " + strings.Join(notes, "; ")
	switch rec.Policy {
	case dmarc.PolicyNone:
		f.Status = StatusWarn
		f.Hint = say("p=none only monitors: receivers take no action on mail that fails. Once the reports show your mail passes, move to p=quarantine, then p=reject.")
	default:
		f.Status = StatusPass
	}
	if len(rec.ReportURIAggregate) == 0 && f.Status == StatusPass {
		f.Status = StatusWarn
		f.Hint = say("No rua= address: you will not learn who sends mail in your name or whether your own mail fails. Add rua=mailto:...")
	}
	return []Finding{f}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (d *deliv) rdns(ctx context.Context) []Finding {
	ips := publicIPs(d.o.ServerIPs)
	if len(ips) == 0 {
		return []Finding{{Check: "rdns", Status: StatusSkipped, Finding: "no public server address to check"}}
	}
	var out []Finding
	for _, ip := range ips {
		c, cancel := d.lookupCtx(ctx)
		names, err := d.o.Resolver.LookupAddr(c, ip.String())
		cancel()
		if err != nil && !notFound(err) {
			out = append(out, lookupFailed("rdns", ip.String(), err))
			continue
		}
		if len(names) == 0 {
			out = append(out, Finding{Check: "rdns", Status: StatusFail, Finding: fmt.Sprintf("%s has no reverse DNS (PTR) name", ip),
				Hint: say("Many receivers reject or junk mail from addresses without reverse DNS. Ask whoever owns the address (your hosting provider) to set a PTR record to the server's name.")})
			continue
		}
		name := strings.TrimSuffix(names[0], ".")
		f := Finding{Check: "rdns", Records: []string{ip.String() + " PTR " + strings.Join(names, " ")}}
		// Forward-confirm: the name must resolve back to the address.
		c, cancel = d.lookupCtx(ctx)
		addrs, err := d.o.Resolver.LookupIPAddr(c, name)
		cancel()
		confirmed := false
		for _, a := range addrs {
			if a.IP.Equal(ip) {
				confirmed = true
			}
		}
		matches := false
		for _, n := range d.o.ServerNames {
			if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
				matches = true
			}
		}
		switch {
		case !confirmed:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("%s reverses to %s, but %s does not resolve back to %s", ip, name, name, ip)
			f.Hint = say("Receivers check forward-confirmed reverse DNS; add an A/AAAA record for the PTR name, or change the PTR. " + errTextIf(err))
		case len(d.o.ServerNames) > 0 && !matches:
			f.Status, f.Finding = StatusWarn, fmt.Sprintf("%s reverses to %s, which differs from the name the server gives (%s)", ip, name, strings.Join(d.o.ServerNames, ", "))
			f.Hint = say("Set the server's banner and EHLO name to its reverse-DNS name: some receivers compare them.")
		default:
			f.Status, f.Finding = StatusPass, fmt.Sprintf("%s reverses to %s and back", ip, name)
		}
		out = append(out, f)
	}
	return out
}

func errTextIf(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

func (d *deliv) dnsbl(ctx context.Context) []Finding {
	if len(d.o.Blocklists) == 0 {
		return []Finding{{Check: "dnsbl", Status: StatusSkipped, Finding: "no blocklists configured"}}
	}
	var v4 []net.IP
	for _, ip := range publicIPs(d.o.ServerIPs) {
		if ip.To4() != nil {
			v4 = append(v4, ip.To4())
		}
	}
	if len(v4) == 0 {
		return []Finding{{Check: "dnsbl", Status: StatusSkipped, Finding: "no public IPv4 server address to check against blocklists"}}
	}
	type job struct {
		ip   net.IP
		zone string
	}
	var jobs []job
	for _, ip := range v4 {
		for _, z := range d.o.Blocklists {
			jobs = append(jobs, job{ip, z})
		}
	}
	out := make([]Finding, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { out[i] = d.dnsblOne(ctx, j.ip, j.zone) })
	}
	wg.Wait()
	return out
}

func (d *deliv) dnsblOne(ctx context.Context, ip net.IP, zone string) Finding {
	name := fmt.Sprintf("%d.%d.%d.%d.%s", ip[3], ip[2], ip[1], ip[0], zone)
	c, cancel := d.lookupCtx(ctx)
	addrs, err := d.o.Resolver.LookupIPAddr(c, name)
	cancel()
	switch {
	case notFound(err):
		return Finding{Check: "dnsbl", Status: StatusPass, Finding: fmt.Sprintf("%s is not listed on %s", ip, zone)}
	case err != nil:
		return lookupFailed("dnsbl", name, err)
	}
	var codes []string
	for _, a := range addrs {
		codes = append(codes, a.IP.String())
		// 127.255.255.x: the list refused the query (public resolver,
		// over quota), not a listing.
		if a4 := a.IP.To4(); a4 != nil && a4[0] == 127 && a4[1] == 255 && a4[2] == 255 {
			return Finding{Check: "dnsbl", Status: StatusWarn, Finding: fmt.Sprintf("%s refused the query (%s)", zone, a.IP),
				Hint: say("Blocklists such as Spamhaus refuse queries from public DNS resolvers; run the check with your own resolver.")}
		}
	}
	reason := ""
	if txts, err := d.txt(ctx, name); err == nil && len(txts) > 0 {
		reason = ": " + strings.Join(txts, " ")
	}
	return Finding{Check: "dnsbl", Status: StatusFail, Finding: fmt.Sprintf("%s is listed on %s (%s)%s", ip, zone, strings.Join(codes, ", "), reason),
		Records: []string{name + " A " + strings.Join(codes, " ")},
		Hint:    say("Receivers that use this list will reject or junk mail from this address. Find out why it was listed (the list's lookup page), fix the cause, then request delisting; with a shared provider address, tell the provider.")}
}

// MTASTSPolicy is a parsed MTA-STS policy file (RFC 8461 section 3.2).
type MTASTSPolicy struct {
	Mode   string
	MX     []string
	MaxAge int
}

// ParseMTASTSPolicy parses the text of an MTA-STS policy file.
func ParseMTASTSPolicy(s string) (MTASTSPolicy, error) {
	var p MTASTSPolicy
	seenVersion := false
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return p, fmt.Errorf("line %q is not key: value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			if v != "STSv1" {
				return p, fmt.Errorf("version %q, want STSv1", v)
			}
			seenVersion = true
		case "mode":
			if v != "enforce" && v != "testing" && v != "none" {
				return p, fmt.Errorf("mode %q, want enforce, testing or none", v)
			}
			p.Mode = v
		case "mx":
			p.MX = append(p.MX, v)
		case "max_age":
			if _, err := fmt.Sscanf(v, "%d", &p.MaxAge); err != nil {
				return p, fmt.Errorf("max_age %q is not a number", v)
			}
		}
	}
	if !seenVersion || p.Mode == "" {
		return p, errors.New("version and mode are required")
	}
	if p.Mode != "none" && len(p.MX) == 0 {
		return p, errors.New("no mx: lines")
	}
	return p, nil
}

func (d *deliv) mtaSTS(ctx context.Context) []Finding {
	name := "_mta-sts." + d.o.Domain
	txts, err := d.txt(ctx, name)
	if err != nil && !notFound(err) {
		return []Finding{lookupFailed("mta-sts", name, err)}
	}
	var rec string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			rec = t
		}
	}
	if rec == "" {
		return []Finding{{Check: "mta-sts", Status: StatusInfo, Finding: "no MTA-STS record (" + name + ")",
			Hint: say("Optional: MTA-STS makes senders to your domain insist on TLS. It protects mail you receive, not mail you send.")}}
	}
	f := Finding{Check: "mta-sts", Records: []string{name + ": " + rec}}
	url := "https://mta-sts." + d.o.Domain + "/.well-known/mta-sts.txt"
	c, cancel := d.lookupCtx(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodGet, url, nil)
	resp, err := d.o.HTTPClient.Do(req)
	if err != nil {
		f.Status, f.Finding = StatusWarn, "MTA-STS record found, but the policy could not be fetched: "+err.Error()
		f.Hint = say("Senders ignore MTA-STS without a policy served over valid HTTPS at " + url + ".")
		return []Finding{f}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		f.Status, f.Finding = StatusWarn, fmt.Sprintf("MTA-STS record found, but %s answered %s", url, resp.Status)
		f.Hint = say("Serve the policy file at that address.")
		return []Finding{f}
	}
	pol, err := ParseMTASTSPolicy(string(body))
	if err != nil {
		f.Status, f.Finding = StatusWarn, "MTA-STS policy is invalid: "+err.Error()
		f.Hint = say("See RFC 8461 section 3.2 for the format.")
		return []Finding{f}
	}
	f.Status = StatusPass
	f.Finding = fmt.Sprintf("MTA-STS policy mode %s for %s (max_age %d s)", pol.Mode, strings.Join(pol.MX, ", "), pol.MaxAge)
	if pol.Mode == "testing" {
		f.Status = StatusInfo
		f.Hint = say("In testing mode senders only report failures; switch to enforce when TLS-RPT reports are clean.")
	}
	return []Finding{f}
}

func (d *deliv) tlsRPT(ctx context.Context) []Finding {
	name := "_smtp._tls." + d.o.Domain
	txts, err := d.txt(ctx, name)
	if err != nil && !notFound(err) {
		return []Finding{lookupFailed("tls-rpt", name, err)}
	}
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1") {
			if !strings.Contains(t, "rua=") {
				return []Finding{{Check: "tls-rpt", Status: StatusWarn, Finding: "TLS-RPT record has no rua= address", Records: []string{name + ": " + t},
					Hint: say("Add rua=mailto:... so that senders can report TLS failures.")}}
			}
			return []Finding{{Check: "tls-rpt", Status: StatusPass, Finding: "TLS-RPT reports requested", Records: []string{name + ": " + t}}}
		}
	}
	return []Finding{{Check: "tls-rpt", Status: StatusInfo, Finding: "no TLS-RPT record (" + name + ")",
		Hint: say("Optional: TLS-RPT asks other servers to report TLS problems delivering to you.")}}
}
