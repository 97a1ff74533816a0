package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
)

// CheckStatus is how one check of a captured message came out.
type CheckStatus string

// The statuses of a check.
const (
	CheckPass    CheckStatus = "pass"
	CheckWarn    CheckStatus = "warn"
	CheckFail    CheckStatus = "fail"
	CheckInfo    CheckStatus = "info"
	CheckSkipped CheckStatus = "skipped"
)

// Check is one finding about a captured message, in words.
type Check struct {
	// Name is the check: "dkim", "spf", "dmarc", "headers", "size",
	// "parts" or "sent".
	Name string `json:"name"`
	// Status is pass, warn, fail, info or skipped.
	Status CheckStatus `json:"status"`
	// Text says what was found.
	Text string `json:"text"`
}

// Resolver is the DNS the checks use; *net.Resolver satisfies it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// CheckOptions configure CheckMessage.
type CheckOptions struct {
	// DKIMKey answers a DKIM key query ("sel._domainkey.example.com") with
	// the TXT record of a key Herald knows (a sending profile's), ok false
	// when it knows none; DNS is asked then. Nil asks DNS only.
	DKIMKey func(name string) (record string, ok bool)
	// Resolver answers DNS; nil means net.DefaultResolver.
	Resolver Resolver
	// Offline skips every DNS lookup (the checks say so).
	Offline bool
	// Timeout bounds each DNS lookup; default 5 s.
	Timeout time.Duration
	// Sent is the message as Herald sent it (from the history), to compare
	// with the capture; nil when Herald did not send it.
	Sent []byte
	// SentKnown says whether Sent was looked for (false: no comparison is
	// reported at all).
	SentKnown bool
	// Parsed is the message already parsed (message.Parse of the raw
	// message), when the caller has it: a large message is then not
	// decoded twice. Nil: the checks parse it.
	Parsed *message.Content
}

// CheckMessage runs the checks a receiver (and a careful sender) would run
// on a captured message: its DKIM signatures verified, SPF and DMARC
// alignment as a receiver would judge them, header problems, size, the
// bodies present, and the differences from the copy Herald sent.
func CheckMessage(ctx context.Context, m *store.SandboxMessage, o CheckOptions) []Check {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	ck := &checker{ctx: ctx, o: o, m: m}
	var out []Check
	dk, signers := ck.dkim()
	out = append(out, dk...)
	spfCheck, spfPass := ck.spf()
	out = append(out, spfCheck)
	out = append(out, ck.dmarc(signers, spfPass, spfCheck.Status))
	out = append(out, HeaderProblems(m.Raw)...)
	out = append(out, sizeCheck(len(m.Raw)))
	out = append(out, partsCheck(m.Raw, o.Parsed))
	if o.SentKnown {
		out = append(out, CompareSent(o.Sent, m.Raw)...)
	}
	return out
}

type checker struct {
	ctx context.Context
	o   CheckOptions
	m   *store.SandboxMessage
}

var errOffline = errors.New("offline: DNS is not consulted")

func (c *checker) txt(name string) ([]string, error) {
	if c.o.Offline {
		return nil, errOffline
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
	defer cancel()
	return c.o.Resolver.LookupTXT(ctx, name)
}

// dkim verifies each signature; it returns the checks and the domains whose
// signatures verified.
func (c *checker) dkim() ([]Check, []string) {
	if !hasHeader(c.m.Raw, "DKIM-Signature") {
		return []Check{{Name: "dkim", Status: CheckWarn, Text: "no DKIM signature: receivers cannot tie the message to the sender's domain (DMARC then rests on SPF alone)"}}, nil
	}
	var source = map[string]string{}
	lookup := func(name string) ([]string, error) {
		if c.o.DKIMKey != nil {
			if rec, ok := c.o.DKIMKey(name); ok {
				source[name] = "the sending profile's key"
				return []string{rec}, nil
			}
		}
		source[name] = "DNS"
		txt, err := c.txt(name)
		if errors.Is(err, errOffline) {
			source[name] = "offline"
		}
		return txt, err
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(c.m.Raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: 5})
	if err != nil && len(vs) == 0 {
		return []Check{{Name: "dkim", Status: CheckFail, Text: "the DKIM signature could not be read: " + err.Error()}}, nil
	}
	var out []Check
	var ok []string
	for _, v := range vs {
		sel := selectorOf(c.m.Raw, v.Domain)
		from := source[sel+"._domainkey."+v.Domain]
		if from == "" {
			from = "DNS"
		}
		switch {
		case v.Err == nil:
			ok = append(ok, strings.ToLower(v.Domain))
			out = append(out, Check{Name: "dkim", Status: CheckPass, Text: fmt.Sprintf("DKIM signature of %s (selector %s) verified with %s; it covers %s", v.Domain, sel, from, strings.Join(v.HeaderKeys, ", "))})
		case from == "offline":
			out = append(out, Check{Name: "dkim", Status: CheckSkipped, Text: fmt.Sprintf("DKIM signature of %s (selector %s) not verified: offline, and Herald holds no key for it", v.Domain, sel)})
		case dkim.IsTempFail(v.Err):
			out = append(out, Check{Name: "dkim", Status: CheckWarn, Text: fmt.Sprintf("DKIM signature of %s (selector %s) not verified: the key could not be fetched (%v)", v.Domain, sel, v.Err)})
		default:
			out = append(out, Check{Name: "dkim", Status: CheckFail, Text: fmt.Sprintf("DKIM signature of %s (selector %s) does not verify with %s: %v — a receiver treats the message as unsigned", v.Domain, sel, from, v.Err)})
		}
	}
	return out, ok
}

// selectorOf finds the s= tag of the DKIM-Signature whose d= is domain.
func selectorOf(raw []byte, domain string) string {
	hs, _ := message.SplitHeader(raw)
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "DKIM-Signature") {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(h.Raw, ";") {
			k, v, _ := strings.Cut(kv, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		if strings.EqualFold(tags["d"], domain) {
			return tags["s"]
		}
	}
	return "?"
}

func hasHeader(raw []byte, name string) bool {
	hs, _ := message.SplitHeader(raw)
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
	}
	return ""
}

// headerFromDomain returns the domain of the (single) From header.
func headerFromDomain(raw []byte) string {
	hs, _ := message.SplitHeader(raw)
	for _, h := range hs {
		if strings.EqualFold(h.Name, "From") {
			v := h.Value
			if i := strings.LastIndexByte(v, '<'); i >= 0 {
				v = v[i:]
			}
			return domainOf(v)
		}
	}
	return ""
}

// spf judges the envelope sender's SPF as a receiver would, from the
// address the message came from. It reports whether SPF passed.
func (c *checker) spf() (Check, bool) {
	dom := domainOf(c.m.From)
	if dom == "" {
		return Check{Name: "spf", Status: CheckInfo, Text: "null sender (MAIL FROM:<>): a receiver checks SPF for the HELO name instead"}, false
	}
	if c.o.Offline {
		return Check{Name: "spf", Status: CheckSkipped, Text: "SPF of " + dom + " not checked: offline"}, false
	}
	host, _, _ := net.SplitHostPort(c.m.Remote)
	ip := net.ParseIP(host)
	local := ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
	check := ip
	if local {
		check = net.ParseIP("192.0.2.1") // a documentation address: judges the record itself
	}
	ctx, cancel := context.WithTimeout(c.ctx, 3*c.o.Timeout)
	defer cancel()
	res, err := spf.CheckHostWithSender(check, dom, c.m.From, spf.WithResolver(c.o.Resolver), spf.WithContext(ctx))
	switch {
	case res == spf.None:
		return Check{Name: "spf", Status: CheckWarn, Text: "no SPF record for " + dom + ": a receiver cannot tell which servers may send for it"}, false
	case res == spf.PermError:
		return Check{Name: "spf", Status: CheckFail, Text: "the SPF record of " + dom + " is invalid (" + errString(err) + "): receivers treat it like none"}, false
	case res == spf.TempError:
		return Check{Name: "spf", Status: CheckSkipped, Text: "SPF of " + dom + " not checked: DNS did not answer (" + errString(err) + ")"}, false
	case local:
		return Check{Name: "spf", Status: CheckInfo, Text: fmt.Sprintf("SPF record of %s found and valid; this capture came from %s (this computer), so a receiver would judge the address of the server that delivers it", dom, host)}, false
	case res == spf.Pass:
		return Check{Name: "spf", Status: CheckPass, Text: fmt.Sprintf("SPF of %s authorises %s", dom, ip)}, true
	}
	return Check{Name: "spf", Status: CheckFail, Text: fmt.Sprintf("SPF of %s does not authorise %s (%s)", dom, ip, res)}, false
}

func errString(err error) string {
	if err == nil {
		return "no detail"
	}
	return err.Error()
}

// aligned reports whether a and b align in mode (relaxed: the same
// organisational domain).
func aligned(a, b string, strict bool) bool {
	if a == "" || b == "" {
		return false
	}
	if strict || strings.EqualFold(a, b) {
		return strings.EqualFold(a, b)
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && strings.EqualFold(oa, ob)
}

// dmarc judges DMARC as a receiver would: a verified, aligned DKIM
// signature or an SPF pass for an aligned envelope domain.
func (c *checker) dmarc(signers []string, spfPass bool, spfStatus CheckStatus) Check {
	from := headerFromDomain(c.m.Raw)
	if from == "" {
		return Check{Name: "dmarc", Status: CheckFail, Text: "no domain in the From header: DMARC cannot be evaluated and receivers may reject the message"}
	}
	var rec *dmarc.Record
	var err error
	policyNote := ""
	if !c.o.Offline {
		lookup := func(d string) (*dmarc.Record, error) {
			return dmarc.LookupWithOptions(d, &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return c.txt(name) }})
		}
		rec, err = lookup(from)
		if errors.Is(err, dmarc.ErrNoPolicy) {
			if org, e := publicsuffix.EffectiveTLDPlusOne(from); e == nil && org != from {
				rec, err = lookup(org)
			}
		}
	}
	strictD, strictS := false, false
	switch {
	case c.o.Offline:
		policyNote = "the policy was not looked up (offline)"
	case errors.Is(err, dmarc.ErrNoPolicy):
		policyNote = "no DMARC record for " + from
	case err != nil:
		policyNote = "the DMARC record could not be read (" + err.Error() + ")"
	default:
		strictD, strictS = rec.DKIMAlignment == dmarc.AlignmentStrict, rec.SPFAlignment == dmarc.AlignmentStrict
		policyNote = "policy p=" + string(rec.Policy)
	}
	dkimOK := slices.ContainsFunc(signers, func(d string) bool { return aligned(d, from, strictD) })
	spfOK := spfPass && aligned(domainOf(c.m.From), from, strictS)
	switch {
	case dkimOK:
		return Check{Name: "dmarc", Status: CheckPass, Text: "DMARC passes by DKIM: a verified signature aligns with the From domain " + from + "; " + policyNote}
	case spfOK:
		return Check{Name: "dmarc", Status: CheckPass, Text: "DMARC passes by SPF: the envelope domain aligns with the From domain " + from + "; " + policyNote}
	}
	var why []string
	if len(signers) == 0 {
		why = append(why, "no verified DKIM signature")
	} else {
		why = append(why, "the verified DKIM signature ("+strings.Join(signers, ", ")+") does not align with "+from)
	}
	if !aligned(domainOf(c.m.From), from, strictS) {
		why = append(why, "the envelope sender's domain ("+domainOf(c.m.From)+") does not align with "+from)
	} else if spfStatus == CheckSkipped {
		why = append(why, "SPF was not checked")
	} else if !spfPass {
		why = append(why, "SPF does not pass for the address this capture came from")
	}
	st := CheckWarn
	if rec != nil && rec.Policy != dmarc.PolicyNone {
		st = CheckFail
		policyNote += ": a receiver would " + map[dmarc.Policy]string{dmarc.PolicyQuarantine: "put it in spam", dmarc.PolicyReject: "refuse it"}[rec.Policy]
	}
	return Check{Name: "dmarc", Status: st, Text: "DMARC would not pass: " + strings.Join(why, "; ") + "; " + policyNote}
}

// singletons are the header fields RFC 5322 3.6 allows at most once.
var singletons = []string{"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To", "References", "Subject"}

// HeaderProblems finds what receivers and filters hold against a message's
// form: missing Date, From or Message-ID, repeated singleton fields, lines
// over 998 characters, bare LF or CR line endings, and 8-bit header text
// without RFC 2047 encoding. A clean message yields one pass.
func HeaderProblems(raw []byte) []Check {
	var out []Check
	bad := func(st CheckStatus, text string) { out = append(out, Check{Name: "headers", Status: st, Text: text}) }
	hs, _ := message.SplitHeader(raw)
	count := map[string]int{}
	for _, h := range hs {
		count[textprotoCanon(h.Name)]++
	}
	for _, need := range []string{"Date", "From", "Message-ID"} {
		if count[textprotoCanon(need)] == 0 {
			bad(CheckFail, "no "+need+" header: RFC 5322 requires it and spam filters penalise its absence")
		}
	}
	for _, s := range singletons {
		if n := count[textprotoCanon(s)]; n > 1 {
			bad(CheckFail, fmt.Sprintf("%d %s headers: it may appear only once (RFC 5322 3.6); receivers may reject the message", n, s))
		}
	}
	long, bareLF, bareCR := 0, 0, 0
	for i, line := range bytes.SplitAfter(raw, []byte("\n")) {
		_ = i
		body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(body) > 998 {
			long++
		}
		if bytes.HasSuffix(line, []byte("\n")) && !bytes.HasSuffix(line, []byte("\r\n")) {
			bareLF++
		}
		bareCR += bytes.Count(body, []byte("\r"))
	}
	if long > 0 {
		bad(CheckFail, fmt.Sprintf("%d line(s) longer than 998 characters: servers may break or refuse them (RFC 5322 2.1.1); use quoted-printable or base64", long))
	}
	if bareLF > 0 {
		bad(CheckFail, fmt.Sprintf("%d line(s) end in a bare LF instead of CR LF: many servers refuse such messages (SMTP smuggling defences)", bareLF))
	}
	if bareCR > 0 {
		bad(CheckFail, fmt.Sprintf("%d bare CR character(s) inside lines", bareCR))
	}
	var eight []string
	for _, h := range hs {
		if strings.ContainsFunc(h.Raw, func(r rune) bool { return r > 0x7e || (r < 0x20 && r != '\t') }) {
			eight = append(eight, h.Name)
		}
	}
	if len(eight) > 0 {
		bad(CheckWarn, "non-ASCII text without RFC 2047 encoding in "+strings.Join(eight, ", ")+": only servers that offer SMTPUTF8 accept it")
	}
	if len(out) == 0 {
		bad(CheckPass, fmt.Sprintf("headers well-formed: Date, From and Message-ID present, no repeated fields, no long lines, CR LF line endings (%d fields)", len(hs)))
	}
	return out
}

func textprotoCanon(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func sizeCheck(n int) Check {
	text := humanSize(n)
	if n >= 1<<10 {
		text += fmt.Sprintf(" (%d bytes)", n)
	}
	switch {
	case n > 25<<20:
		return Check{Name: "size", Status: CheckFail, Text: text + ": larger than most providers accept (25 MB; attachments grow by a third in base64)"}
	case n > 10<<20:
		return Check{Name: "size", Status: CheckWarn, Text: text + ": some providers refuse messages over 10 MB"}
	case n > 102<<10:
		return Check{Name: "size", Status: CheckInfo, Text: text + ": Gmail clips message bodies over about 102 KB"}
	}
	return Check{Name: "size", Status: CheckPass, Text: text}
}

func humanSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func partsCheck(raw []byte, parsed *message.Content) Check {
	p, err := parsed, error(nil)
	if p == nil {
		p, err = message.Parse(raw)
	}
	if err != nil && p == nil {
		return Check{Name: "parts", Status: CheckFail, Text: "the MIME structure could not be read: " + err.Error()}
	}
	var have []string
	if p.HasText {
		have = append(have, "a text part")
	}
	if p.HasHTML {
		have = append(have, "an HTML part")
	}
	att, inl := 0, 0
	for _, pt := range p.Parts {
		if pt.Inline {
			inl++
		} else {
			att++
		}
	}
	if att > 0 {
		have = append(have, fmt.Sprintf("%d attachment(s)", att))
	}
	if inl > 0 {
		have = append(have, fmt.Sprintf("%d inline part(s)", inl))
	}
	text := "the message has " + strings.Join(have, ", ")
	switch {
	case err != nil:
		return Check{Name: "parts", Status: CheckWarn, Text: text + "; its MIME structure is broken: " + err.Error()}
	case p.HasHTML && !p.HasText:
		return Check{Name: "parts", Status: CheckWarn, Text: text + " but no plain-text alternative: spam filters score HTML-only mail higher, and text-only readers see nothing"}
	case !p.HasHTML && !p.HasText:
		return Check{Name: "parts", Status: CheckWarn, Text: "the message has no text or HTML body"}
	}
	return Check{Name: "parts", Status: CheckPass, Text: text}
}

// CompareSent compares the copy Herald sent with the capture: header fields
// added, removed or changed on the way, and whether the body is the same.
// A nil sent says that Herald did not send this message (or kept no copy).
func CompareSent(sent, captured []byte) []Check {
	if sent == nil {
		return []Check{{Name: "sent", Status: CheckInfo, Text: "no copy in Herald's history with this Message-ID: nothing to compare"}}
	}
	sh, sbody := message.SplitHeader(sent)
	ch, cbody := message.SplitHeader(captured)
	key := func(h message.Field) string { return textprotoCanon(h.Name) }
	values := func(hs []message.Field) map[string][]string {
		m := map[string][]string{}
		for _, h := range hs {
			m[key(h)] = append(m[key(h)], h.Raw)
		}
		return m
	}
	sv, cv := values(sh), values(ch)
	var added, removed, changed []string
	seen := map[string]bool{}
	for _, h := range ch {
		k := key(h)
		if seen[k] {
			continue
		}
		seen[k] = true
		switch {
		case len(sv[k]) == 0:
			added = append(added, h.Name)
		case !slices.Equal(sv[k], cv[k]):
			changed = append(changed, h.Name)
		}
	}
	for _, h := range sh {
		if len(cv[key(h)]) == 0 && !slices.Contains(removed, h.Name) {
			removed = append(removed, h.Name)
		}
	}
	var out []Check
	if len(added)+len(removed)+len(changed) == 0 {
		out = append(out, Check{Name: "sent", Status: CheckPass, Text: "headers exactly as Herald sent them"})
	} else {
		var parts []string
		if len(added) > 0 {
			parts = append(parts, "added on the way: "+strings.Join(added, ", "))
		}
		if len(changed) > 0 {
			parts = append(parts, "changed: "+strings.Join(changed, ", "))
		}
		if len(removed) > 0 {
			parts = append(parts, "removed: "+strings.Join(removed, ", "))
		}
		out = append(out, Check{Name: "sent", Status: CheckInfo, Text: "headers compared with the copy Herald sent: " + strings.Join(parts, "; ")})
	}
	norm := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
	switch {
	case bytes.Equal(sbody, cbody):
		out = append(out, Check{Name: "sent", Status: CheckPass, Text: fmt.Sprintf("body identical to the copy Herald sent (%d bytes)", len(cbody))})
	case bytes.Equal(norm(sbody), norm(cbody)):
		out = append(out, Check{Name: "sent", Status: CheckWarn, Text: "body the same text as sent, but its line endings changed on the way"})
	default:
		out = append(out, Check{Name: "sent", Status: CheckFail, Text: fmt.Sprintf("body differs from the copy Herald sent (%d bytes sent, %d captured): a signature over it breaks", len(sbody), len(cbody))})
	}
	return out
}

// MessageIDOf returns the Message-ID of raw, with its angle brackets, or "".
func MessageIDOf(raw []byte) string {
	hs, _ := message.SplitHeader(raw)
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Message-ID") {
			return strings.TrimSpace(h.Raw)
		}
	}
	return ""
}
