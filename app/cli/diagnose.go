package cli

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
)

const testSynopsis = `herald test [--email ADDR | --profile NAME | --server HOST[:PORT] [--tls MODE] [--auth METHOD]]
       [--user U --password-env VAR|--password-stdin] [--allow-insecure-auth] [--ca-file F] [--helo NAME] [--timeout D]
       [--discover] [--from ADDR] [--rcpt ADDR] [--send-test] [--open-relay] [--no-dns-checks] [--dkim-selector S] [--json]

Walks the connection step by step (DNS, connect, banner, EHLO, TLS, AUTH, a
MAIL/RCPT dry run), then checks the sender domain's DNS (SPF, DKIM, DMARC,
MX, reverse DNS, blocklists, MTA-STS, TLS-RPT). Without --server or
--profile the server is found by discovery from --email. Exit 0 when nothing
failed; otherwise the code of the first failed stage (see README.md), or 1
when only a deliverability check failed.`

const discoverSynopsis = `herald discover ADDRESS [--json] [--timeout 10s]

Finds the submission server for ADDRESS: built-in presets, the domain's
autoconfig, the Thunderbird ISPDB, SRV records, the MX host's provider and
guessed hosts, each probed without credentials. Exit 0 when a server
answered, 3 when none did.`

// runDiagnose runs the verbs of this file: test and discover.
func runDiagnose(ctx context.Context, verb string, args []string, env Env, dataDir string) (int, error) {
	if verb == "discover" {
		return runDiscover(ctx, args, env)
	}
	return runTest(ctx, args, env, dataDir)
}

// testFlags are the flags of herald test. The connection flags are send's
// own (parsed into conn), so that both verbs read them the same way.
type testFlags struct {
	conn                                         sendFlags
	email, rcpt                                  string
	discover, sendTest, openRelay, noDNS, asJSON bool
	dkimSelectors                                listFlag
}

// sharedSendFlags are the send flags herald test takes, with the usage text
// they have here ("" keeps send's).
var sharedSendFlags = []struct{ name, usage string }{
	{"profile", "test the account profile `name` (its server, TLS, auth and keychain password); other flags override it"},
	{"server", "SMTP server `host[:port]` to test (default: found by discovery from --email)"},
	{"tls", "TLS `mode`: implicit, starttls or none (default: implicit on port 465, starttls on other ports, or what discovery found)"},
	{"auth", ""},
	{"user", "user name for AUTH (default with a password and discovery: the --email address)"},
	{"password-env", ""},
	{"password-stdin", ""},
	{"allow-insecure-auth", ""},
	{"ca-file", ""},
	{"helo", ""},
	{"timeout", ""},
	{"from", "sender `address` for the MAIL/RCPT dry run and the domain checks (default: --email, or the profile's)"},
	{"data-dir", ""},
}

func (f *testFlags) register(fs *flag.FlagSet) {
	all := flag.NewFlagSet("send", flag.ContinueOnError)
	f.conn.register(all)
	f.conn.timeout = 15 * time.Second // a probe should not wait 30 s on a dead port
	for _, sf := range sharedSendFlags {
		fl := all.Lookup(sf.name)
		usage := sf.usage
		if usage == "" {
			usage = fl.Usage
		}
		fs.Var(fl.Value, sf.name, usage)
	}
	fs.StringVar(&f.email, "email", "", "your email `address`: discovery finds its server; it is also the default --from")
	fs.StringVar(&f.rcpt, "rcpt", "", "recipient `address` for the dry run and the test message (default: the sender)")
	fs.BoolVar(&f.discover, "discover", false, "run discovery and show it even with --server or --profile")
	fs.BoolVar(&f.sendTest, "send-test", false, "send a real test message to --rcpt as the last step")
	fs.BoolVar(&f.openRelay, "open-relay", false, "check, in a session without AUTH, that the server refuses to relay to an outside domain")
	fs.BoolVar(&f.noDNS, "no-dns-checks", false, "skip the deliverability checks of the sender's domain")
	f.dkimSelectors.split = true
	fs.Var(&f.dkimSelectors, "dkim-selector", "DKIM `selector` to look up (the s= of your DKIM-Signature); repeatable, comma lists allowed (default: common selectors)")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as one JSON object")
}

// jsonTestStep is one probe step in herald test's JSON.
type jsonTestStep struct {
	Name       string      `json:"name"`
	Status     string      `json:"status"`
	Ms         int64       `json:"ms"`
	Finding    string      `json:"finding"`
	Hint       string      `json:"hint"`
	Fixes      []hint.Fix  `json:"fixes"`
	Transcript []jsonEvent `json:"transcript"`
}

// jsonFinding is one deliverability check in herald test's JSON: the
// engine's finding with its hint in command-line words, and the fixes.
type jsonFinding struct {
	Check   string     `json:"check"`
	Status  string     `json:"status"`
	Finding string     `json:"finding"`
	Hint    string     `json:"hint,omitempty"`
	Fixes   []hint.Fix `json:"fixes,omitempty"`
	Records []string   `json:"records,omitempty"`
}

// jsonTest is herald test's JSON report.
type jsonTest struct {
	Discovery         *diagnose.Discovery `json:"discovery"`
	Target            string              `json:"target"`
	Steps             []jsonTestStep      `json:"steps"`
	Deliverability    []jsonFinding       `json:"deliverability"`
	OK                bool                `json:"ok"`
	FailedStage       string              `json:"failed_stage"`
	FailedClass       string              `json:"failed_class,omitempty"`
	ExitCode          int                 `json:"exit_code"`
	CertificateSHA256 string              `json:"certificate_sha256,omitempty"`
}

func runTest(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f testFlags
	fs := newFlagSet("test", testSynopsis, env)
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("test takes no arguments, got %q (give the address with --email)", pos)
	}
	c := &f.conn
	c.set = setFlags(fs)
	if f.email != "" {
		if f.email, err = message.ParseAddress("email", f.email); err != nil {
			return ExitUsage, usagef("%v", err)
		}
	}
	if c.profile == "" && c.server == "" && f.email == "" {
		return ExitUsage, usagef("test needs --email ADDR, --profile NAME or --server HOST[:PORT]")
	}
	if c.profile != "" {
		hc, err := env.core(ctx, c.dataDir)
		if err != nil {
			return ExitFailure, err
		}
		if c.prof, err = hc.Book.Get(ctx, c.profile); err != nil {
			return profileErrCode(err), err
		}
		c.core = hc
	}
	from := firstNonEmpty(c.from, f.email)
	if from == "" && c.prof != nil {
		from = c.prof.FromAddress
	}
	if from != "" {
		if from, err = message.ParseAddress("from", from); err != nil {
			return ExitUsage, usagef("%v", err)
		}
	}
	rcpt := f.rcpt
	if rcpt != "" {
		if rcpt, err = message.ParseAddress("rcpt", rcpt); err != nil {
			return ExitUsage, usagef("%v", err)
		}
	}
	if f.sendTest && from == "" {
		return ExitUsage, usagef("--send-test needs a sender: --from, --email or a profile")
	}

	out := jsonTest{Steps: []jsonTestStep{}, Deliverability: []jsonFinding{}}
	var findings []diagnose.Finding
	if (c.profile == "" && c.server == "") || f.discover {
		addr := firstNonEmpty(f.email, from)
		if addr == "" {
			return ExitUsage, usagef("--discover needs an address: --email or --from")
		}
		d, err := diagnose.Discover(ctx, addr, diagnose.DiscoverOptions{Known: core.Known()})
		if err != nil {
			return ExitUsage, usagef("%v", err)
		}
		out.Discovery = d
		if c.profile == "" && c.server == "" {
			if err := useDiscovered(c, d, addr); err != nil {
				if f.asJSON {
					out.FailedStage, out.ExitCode = string(transport.StageConnect), ExitConnect
					if werr := writeJSON(env.Stdout, out); werr != nil {
						return ExitFailure, werr
					}
				} else {
					printDiscovery(env.Stdout, d)
				}
				return ExitConnect, err
			}
		}
	}
	cfg, err := c.transportConfig(env)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return ExitUsage, err
		}
		return ExitFailure, err
	}
	var testMsg []byte
	if f.sendTest {
		r, err := message.Render(message.Draft{
			From: from, To: []string{firstNonEmpty(rcpt, from)}, Subject: "Herald test message",
			Text: "This message was sent by `herald test --send-test` to check that " + cfg.Host + " accepts mail from this account.\n",
		})
		if err != nil {
			return ExitUsage, usagef("test message: %v", err)
		}
		testMsg = r.Bytes
	}

	rep := diagnose.Probe(ctx, diagnose.ProbeOptions{Config: cfg, From: from, Rcpt: rcpt, TestMessage: testMsg, OpenRelay: f.openRelay})
	if c.prof != nil && c.core != nil && !c.set["server"] && ctx.Err() == nil {
		// The profile's own settings were tested: its latest test (the
		// window's Accounts view and `profile show` show it).
		if err := c.core.RecordTest(ctx, c.prof.ID, rep); err != nil {
			fmt.Fprintln(env.Stderr, "herald: the test was not recorded:", err)
		}
	}
	if !f.noDNS {
		selectors := f.dkimSelectors.values
		var dkimKeys map[string]crypto.PublicKey
		if p := c.prof; len(selectors) == 0 && p != nil && p.DKIM != nil && p.DKIM.Selector != "" && strings.EqualFold(p.DKIM.Domain, domainOf(from)) {
			selectors = p.DKIM.Selectors() // the profile signs with them
			// Its keys, when stored: each record is compared with its key.
			dkimKeys, _ = c.core.DKIMPublicKeys(p)
		}
		var ips []net.IP
		for _, a := range rep.Addresses {
			if ip := net.ParseIP(a); ip != nil {
				ips = append(ips, ip)
			}
		}
		findings = diagnose.CheckDeliverability(ctx, diagnose.DeliverabilityOptions{
			Domain: domainOf(from), ServerIPs: ips, ServerNames: rep.ServerNames, DKIMSelectors: selectors, DKIMKeys: dkimKeys,
		})
	}
	code := testExitCode(rep, findings)
	wc := c.ctxOf(cfg.Host, firstNonEmpty(f.email, from))

	if f.asJSON {
		out.Target, out.OK, out.FailedStage, out.FailedClass = rep.Target, code == ExitOK, string(rep.FailedStage), string(rep.FailedClass)
		out.ExitCode, out.CertificateSHA256 = code, rep.CertificateSHA256
		out.Steps = jsonSteps(rep, wc)
		for _, fd := range findings {
			out.Deliverability = append(out.Deliverability, jsonFinding{Check: fd.Check, Status: string(fd.Status), Finding: fd.Finding,
				Hint: wordHint(fd.Hint, wc), Fixes: fd.Hint.Fixes, Records: fd.Records})
		}
		if err := writeJSON(env.Stdout, out); err != nil {
			return ExitFailure, err
		}
		return code, nil
	}
	if out.Discovery != nil {
		printDiscovery(env.Stdout, out.Discovery)
		fmt.Fprintln(env.Stdout)
	}
	printSteps(env.Stdout, rep, wc)
	offerPin(env.Stdout, rep, c.profile)
	if !f.noDNS {
		fmt.Fprintln(env.Stdout)
		printDeliverability(env.Stdout, domainOf(from), findings, wc)
	}
	return code, nil
}

// jsonSteps are the probe's steps for JSON, their hints in command-line
// words along with the fixes as data.
func jsonSteps(rep *diagnose.Report, wc wordCtx) []jsonTestStep {
	out := []jsonTestStep{}
	for _, s := range rep.Steps {
		js := jsonTestStep{Name: s.Name, Status: string(s.Status), Ms: s.Ms, Finding: s.Finding, Hint: wordHint(s.Hint, wc), Fixes: hintFixes(s.Hint), Transcript: []jsonEvent{}}
		for _, e := range s.Transcript {
			js.Transcript = append(js.Transcript, jsonEvent{e.Time, e.Ms, string(e.Dir), e.TLS, e.Text})
		}
		out = append(out, js)
	}
	return out
}

// useDiscovered points the connection flags at discovery's best candidate,
// or at its first when none answered (the probe then shows why). The
// candidate's user name is taken only when a password was given, so that a
// run without one skips AUTH instead of failing for want of a password.
func useDiscovered(c *sendFlags, d *diagnose.Discovery, addr string) error {
	cand := d.Best
	if cand == nil && len(d.Candidates) > 0 {
		cand = &d.Candidates[0]
	}
	if cand == nil {
		return fmt.Errorf("discovery found no submission server for %s: give --server HOST[:PORT]", d.Domain)
	}
	c.server = net.JoinHostPort(cand.Host, strconv.Itoa(cand.Port))
	if !c.set["tls"] {
		c.tls = string(cand.TLS)
	}
	if !c.set["user"] && (c.passwordEnv != "" || c.passwordStdin) {
		c.user = firstNonEmpty(cand.Username, addr)
	}
	return nil
}

// printSteps writes the probe report a line per step (status, name, time,
// finding), with the hint under a failing or warning step.
func printSteps(w io.Writer, rep *diagnose.Report, wc wordCtx) {
	fmt.Fprintf(w, "Testing %s\n", rep.Target)
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-7s %-10s %5d ms  %s\n", strings.ToUpper(string(s.Status)), s.Name, s.Ms, s.Finding)
		if h := wordHint(withoutPin(s.Hint), wc); h != "" && (s.Status == diagnose.StatusFail || s.Status == diagnose.StatusWarn) {
			fmt.Fprintf(w, "          hint: %s\n", h)
		}
	}
	if rep.OK {
		fmt.Fprintln(w, "All steps passed.")
	} else {
		fmt.Fprintf(w, "Failed at %s.\n", rep.FailedStage)
	}
}

// withoutPin is h without a pin that names its fingerprint: offerPin words
// that one, with the care it needs.
func withoutPin(h hint.Hint) hint.Hint {
	h.Fixes = slices.DeleteFunc(slices.Clone(h.Fixes), func(f hint.Fix) bool { return f.Setting == hint.PinCertificate && f.Value != "" })
	return h
}

// offerPin tells how to pin a certificate no CA vouches for: the only
// place Herald offers it, and per profile.
func offerPin(w io.Writer, rep *diagnose.Report, profile string) {
	if rep.CertificateSHA256 == "" || rep.OK || rep.FailedStage != transport.StageTLS {
		return
	}
	name := "NAME"
	if profile != "" {
		name = quoteArg(profile)
	}
	fmt.Fprintf(w, "If this is your own server and you have checked the certificate's SHA-256 fingerprint below out of band (e.g. on the server: openssl x509 -noout -fingerprint -sha256 -in CERT), you can trust this one certificate for one profile:\n  herald profile edit %s --pin-sha256 %s\nA pinned connection is never shown as fully secure, and the pin breaks when the certificate changes.\n", name, rep.CertificateSHA256)
}

// testExitCode is herald test's exit code: the first failed step's, else 1
// when a deliverability check failed, else 0.
func testExitCode(rep *diagnose.Report, findings []diagnose.Finding) int {
	if !rep.OK {
		return exitCode(&transport.Result{Stage: rep.FailedStage, Class: rep.FailedClass, Code: rep.FailedCode})
	}
	for _, f := range findings {
		if f.Status == diagnose.StatusFail {
			return ExitFailure
		}
	}
	return ExitOK
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// printDeliverability writes the domain checks a line each, with the hint
// under a failing or warning one.
func printDeliverability(w io.Writer, domain string, fs []diagnose.Finding, wc wordCtx) {
	if domain == "" {
		domain = "the sender's domain"
	}
	fmt.Fprintf(w, "Deliverability of %s\n", domain)
	failed := 0
	for _, f := range fs {
		fmt.Fprintf(w, "  %-7s %-10s %s\n", strings.ToUpper(string(f.Status)), f.Check, f.Finding)
		if h := wordHint(f.Hint, wc); h != "" && (f.Status == diagnose.StatusFail || f.Status == diagnose.StatusWarn || f.Status == diagnose.StatusSkipped) {
			fmt.Fprintf(w, "          hint: %s\n", h)
		}
		if f.Status == diagnose.StatusFail {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "%d deliverability check(s) failed.\n", failed)
	}
}

func runDiscover(ctx context.Context, args []string, env Env) (int, error) {
	fs := newFlagSet("discover", discoverSynopsis, env)
	asJSON := fs.Bool("json", false, "print the discovery as one JSON object")
	timeout := new(time.Duration)
	durationVar(fs, timeout, "timeout", 10*time.Second, "how long discovery may take in all: seconds or a `duration`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) != 1 {
		return ExitUsage, usagef("discover needs one email address, got %d arguments", len(pos))
	}
	addr, err := message.ParseAddress("address", pos[0])
	if err != nil {
		return ExitUsage, usagef("%v", err)
	}
	if *timeout <= 0 {
		return ExitUsage, usagef("--timeout must be positive")
	}
	d, err := diagnose.Discover(ctx, addr, diagnose.DiscoverOptions{Known: core.Known(), Timeout: *timeout})
	if err != nil {
		return ExitUsage, usagef("%v", err)
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, d); err != nil {
			return ExitFailure, err
		}
	} else {
		printDiscovery(env.Stdout, d)
	}
	if d.Best == nil {
		return ExitConnect, nil
	}
	return ExitOK, nil
}

// printDiscovery writes what discovery asked, every candidate with its
// source, rank and what its probe found, and the best one.
func printDiscovery(w io.Writer, d *diagnose.Discovery) {
	fmt.Fprintf(w, "Discovery for %s (domain %s), %d ms\n", d.Email, d.Domain, d.Ms)
	fmt.Fprintln(w, "Sources asked:")
	for _, s := range d.Sources {
		fmt.Fprintf(w, "  %-10s %3d found  %s (%d ms)\n", s.Source, s.Found, s.Query, s.Ms)
		if s.Error != "" {
			fmt.Fprintf(w, "  %-10s            %s\n", "", s.Error)
		}
	}
	cs := core.SortCandidates(d)
	row := func(tw io.Writer, c diagnose.Candidate) {
		src := string(c.Source)
		if c.Detail != "" {
			src += " (" + c.Detail + ")"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", c.Rank, src, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.TLS, core.ReachSummary(c.Probe))
	}
	table := func(title string, list []diagnose.Candidate) {
		if len(list) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  RANK\tSOURCE\tSERVER\tTLS\tPROBE")
		for _, c := range list {
			row(tw, c)
		}
		tw.Flush()
	}
	if len(d.Candidates) == 0 {
		fmt.Fprintln(w, "No candidates.")
	}
	table("Usable:", cs.Usable)
	table("Answered, but not usable:", cs.Unusable)
	if len(cs.Unreachable) > 0 {
		fmt.Fprintln(w, "Not reachable:")
		for _, u := range cs.Unreachable {
			fmt.Fprintf(w, "  %s: %s\n", u.Why, strings.Join(u.Servers, ", "))
		}
	}
	if len(cs.NotNeeded) > 0 {
		fmt.Fprintf(w, "Not needed (a better candidate answered first): %d\n", len(cs.NotNeeded))
	}
	b := d.Best
	if b == nil {
		if len(cs.Unusable) > 0 {
			fmt.Fprintf(w, "Best: none usable. %d server(s) answered but could not be used (see why above): fix that on the server, or test one with 'herald test --server HOST:PORT' for the details.\n", len(cs.Unusable))
			return
		}
		fmt.Fprintln(w, "Best: none answered. Check the network, or ask your provider for its SMTP settings.")
		return
	}
	fmt.Fprintf(w, "Best: %s, %s TLS, from %s", net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), b.TLS, b.Source)
	if b.Provider != "" {
		fmt.Fprintf(w, " (%s)", b.Provider)
	}
	if b.Username != "" {
		fmt.Fprintf(w, "; user name %s", b.Username)
	}
	fmt.Fprintln(w)
	if b.SetupURL != "" {
		fmt.Fprintf(w, "Provider's setup page: %s\n", b.SetupURL)
	}
}
