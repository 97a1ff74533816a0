package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// DNSCheckName is the well-known name DNSReachable looks up: it has TXT
// records wherever DNS works (IANA's reserved example domain).
const DNSCheckName = "example.com"

// TXTResolver is the part of a resolver DNSReachable needs (Resolver and
// *net.Resolver satisfy it).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// DNSReachable reports whether r (nil: the system's resolver) answers DNS:
// it asks for the TXT records of DNSCheckName within timeout (0: 2 s). An
// error (the lookup's, wrapped) means DNS is unreachable (offline) or
// broken (a resolver that says "no such name" even for that name): a
// record found missing then says nothing about the domain checked.
func DNSReachable(ctx context.Context, r TXTResolver, timeout time.Duration) error {
	if r == nil {
		r = net.DefaultResolver
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	txts, err := r.LookupTXT(ctx, DNSCheckName)
	if err != nil {
		return fmt.Errorf("DNS is not reachable: %w", err)
	}
	if len(txts) == 0 {
		return fmt.Errorf("DNS is not reachable: no TXT record for %s, which has some", DNSCheckName)
	}
	return nil
}

// NotCheckedOffline is the wording of a check skipped because DNS is not
// reachable (err from DNSReachable).
func NotCheckedOffline(check string, err error) Finding {
	return Finding{Check: check, Status: StatusSkipped, Finding: "not checked: DNS is not reachable (offline?)",
		Hint: say(fmt.Sprintf("Herald asked DNS for a name that exists everywhere and got no answer (%v), so it cannot tell whether the domain's records exist. Check the network connection and the DNS resolver, then run the test again.", cause(err)))}
}

// cause is err's wrapped error, or err.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// deliverabilityChecks names the checks CheckDeliverability runs, in the
// order of its findings.
var deliverabilityChecks = []string{"mx", "spf", "dkim", "dmarc", "rdns", "dnsbl", "mta-sts", "tls-rpt"}

// offlineFindings are the findings of checks when DNS is not reachable:
// each one "not checked", handed to onFinding (when set) too.
func offlineFindings(checks []string, err error, onFinding func(Finding)) []Finding {
	out := make([]Finding, 0, len(checks))
	for _, c := range checks {
		f := NotCheckedOffline(c, err)
		if onFinding != nil {
			onFinding(f)
		}
		out = append(out, f)
	}
	return out
}
