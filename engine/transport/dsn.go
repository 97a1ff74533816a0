package transport

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ParseDSN checks and builds the delivery status notification request of
// RFC 3461: notify is a comma-separated list of success, failure and delay,
// or never alone; ret is full or hdrs; envID is at most 100 printable ASCII
// characters. Empty values are left to the server's defaults.
func ParseDSN(notify, ret, envID string) (*DSN, error) {
	d := &DSN{}
	switch r := strings.ToLower(strings.TrimSpace(ret)); r {
	case "", "full", "hdrs":
		d.Return = r
	default:
		return nil, fmt.Errorf("DSN return must be full or hdrs, got %q", ret)
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(notify, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		switch n {
		case "":
			continue
		case "success", "failure", "delay", "never":
		default:
			return nil, fmt.Errorf("DSN notify: unknown value %q (success, failure, delay, or never alone)", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("DSN notify: %q is given twice", n)
		}
		seen[n] = true
		d.Notify = append(d.Notify, strings.ToUpper(n))
	}
	if seen["never"] && len(d.Notify) > 1 {
		return nil, errors.New("DSN notify: never excludes success, failure and delay (RFC 3461 section 4.1)")
	}
	if len(envID) > 100 {
		return nil, fmt.Errorf("DSN envelope id is %d characters; at most 100 are allowed (RFC 3461 section 4.4)", len(envID))
	}
	for _, r := range envID {
		if r < 0x21 || r > 0x7e {
			return nil, fmt.Errorf("DSN envelope id %q: only printable ASCII without spaces is allowed", envID)
		}
	}
	d.EnvID = envID
	return d, nil
}

// ValidHeloName checks a name to send in EHLO/HELO (RFC 5321 section
// 4.1.1.1): a domain name or an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]). Empty means the default and is valid.
func ValidHeloName(name string) error {
	if name == "" {
		return nil
	}
	if strings.ContainsAny(name, " \t\r\n") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%q holds spaces or control characters (a line break would inject a command)", name)
	}
	if lit, ok := strings.CutPrefix(name, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		if v6, isV6 := strings.CutPrefix(lit, "IPv6:"); isV6 {
			lit = v6
		}
		if !ok || net.ParseIP(lit) == nil {
			return fmt.Errorf("%q is not an address literal such as [192.0.2.1]", name)
		}
		return nil
	}
	if len(name) > 255 {
		return fmt.Errorf("%q is longer than a domain name may be", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("%q is not a domain name", name)
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 0x7f) {
				return fmt.Errorf("%q is not a domain name (%q is not allowed)", name, r)
			}
		}
	}
	return nil
}
