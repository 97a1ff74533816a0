package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/load"
	"github.com/herald-smtp/herald/engine/transport"
)

const loadSynopsis = `herald load --server HOST[:PORT] [--tls MODE] [--auth METHOD --user U --password-env VAR|--password-stdin]
       --messages N [--sessions C] [--per-session M] [--size BYTES] [--rcpts R]
       [--from ADDR] [--to ADDR] [--pipelining auto|on|off] [--json]

Sends N generated messages (each about BYTES long, with its own
Message-ID) over C concurrent sessions, like Postfix's smtp-source, and
prints messages/s, bytes/s, latency percentiles per transaction (MAIL to
the final reply), the reply codes seen and the errors. Nothing is stored.
Exit 0 when every message was accepted for every recipient, 9 when the
only failures were temporary, 1 otherwise, 2 for bad usage.`

// loadFlags are the flags of herald load; the connection flags are the
// same as herald send's.
type loadFlags struct {
	conn                           sendFlags
	messages, sessions, perSession int
	size, rcpts, batch             int
	from, to, pipelining           string
	jsonOut                        bool
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	c := &f.conn
	fs.StringVar(&c.profile, "profile", "", "connect as the account profile `name` (its server, TLS, auth and keychain password); other flags override it")
	fs.StringVar(&c.server, "server", "", "SMTP server `host[:port]` (required without --profile)")
	fs.StringVar(&c.tls, "tls", "", "TLS `mode`: implicit, starttls or none (default: implicit on port 465, starttls on other ports)")
	fs.StringVar(&c.auth, "auth", "auto", "auth `method`: auto, none, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2")
	fs.StringVar(&c.user, "user", "", "user name for AUTH")
	fs.StringVar(&c.passwordEnv, "password-env", "", "read the password (or xoauth2 token) from environment `VAR`")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password (or xoauth2 token) from the first line of standard input")
	fs.BoolVar(&c.allowInsecureAuth, "allow-insecure-auth", false, "allow AUTH over a connection without TLS (the password travels in clear)")
	fs.StringVar(&c.caFile, "ca-file", "", "extra CA certificate(s) to trust, PEM `file`")
	fs.StringVar(&c.helo, "helo", "", "`name` to send in EHLO (default: this host's name)")
	durationVar(fs, &c.timeout, "timeout", 30*time.Second, "timeout for each step of a session: seconds or a `duration` (30, 500ms, 2m)")
	fs.StringVar(&c.dataDir, "data-dir", "", "Herald's data `directory` (for --profile)")
	fs.IntVar(&f.messages, "messages", 100, "send `N` messages in total")
	fs.IntVar(&f.sessions, "sessions", 1, "run `C` sessions at once")
	fs.IntVar(&f.perSession, "per-session", 0, "reconnect after `M` messages per session (0: never)")
	fs.IntVar(&f.size, "size", load.DefaultSize, "make each message about `BYTES` long")
	fs.IntVar(&f.rcpts, "rcpts", 1, "send each message to `R` recipients")
	fs.StringVar(&f.from, "from", load.DefaultFrom, "sender `address`")
	fs.StringVar(&f.to, "to", "", "recipient `address` (with --rcpts R > 1: user+1@domain ... user+R@domain; default load-1@herald.test ...)")
	fs.StringVar(&f.pipelining, "pipelining", "auto", "`mode`: auto (pipeline where the server offers PIPELINING), on (require it), off")
	fs.IntVar(&f.batch, "batch", load.DefaultBatch, "messages a session pipelines back to back before it waits for all replies")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as one JSON object on standard output (no progress line)")
}

func runLoad(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f loadFlags
	fs := newFlagSet("load", loadSynopsis, env)
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("load takes no arguments, got %q", pos)
	}
	f.conn.set = setFlags(fs)
	if f.conn.server == "" && f.conn.profile == "" {
		return ExitUsage, usagef("load needs --server HOST[:PORT] (or --profile NAME)")
	}
	if f.conn.profile != "" {
		hc, err := env.core(ctx, f.conn.dataDir)
		if err != nil {
			return ExitFailure, err
		}
		if f.conn.prof, err = hc.Book.Get(ctx, f.conn.profile); err != nil {
			return profileErrCode(err), err
		}
		f.conn.core = hc
	}
	cfg, err := f.conn.transportConfig(env)
	if err != nil {
		return ExitUsage, err
	}
	if cfg.Pipelining, err = transport.ParsePipelining(f.pipelining); err != nil {
		return ExitUsage, usagef("--pipelining: %v", err)
	}
	for name, v := range map[string]int{"--messages": f.messages, "--sessions": f.sessions, "--size": f.size, "--rcpts": f.rcpts, "--batch": f.batch} {
		if v < 1 {
			return ExitUsage, usagef("%s must be at least 1, got %d", name, v)
		}
	}
	if f.perSession < 0 {
		return ExitUsage, usagef("--per-session must not be negative (0: no limit), got %d", f.perSession)
	}
	opts := load.Options{
		Transport: cfg, Messages: f.messages, Sessions: f.sessions, PerSession: f.perSession,
		Size: f.size, Recipients: f.rcpts, From: f.from, To: f.to, Batch: f.batch,
	}
	var finish func()
	if !f.jsonOut {
		opts.Progress, opts.ProgressEvery, finish = loadProgress(env.Stderr)
	}
	rep, err := load.Run(ctx, opts)
	if finish != nil {
		finish()
	}
	if err != nil {
		return ExitUsage, usagef("%v", err)
	}
	code := loadExitCode(rep)
	if f.jsonOut {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return ExitFailure, fmt.Errorf("write the report: %w", err)
		}
		return code, nil
	}
	printLoadReport(env.Stdout, rep)
	return code, nil
}

// loadExitCode is 0 when everything was accepted, 9 when the only failures
// were temporary, 1 otherwise.
func loadExitCode(r *load.Report) int {
	switch {
	case r.AllAccepted():
		return ExitOK
	case r.OnlyTemporary():
		return ExitTemporary
	}
	return ExitFailure
}

// loadIsTerminal reports whether w is a terminal.
func loadIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// loadProgress returns the progress callback: a line rewritten in place on
// a terminal (five times a second), otherwise one line a second.
func loadProgress(w io.Writer) (func(load.Progress), time.Duration, func()) {
	term := loadIsTerminal(w)
	var mu sync.Mutex
	wrote := false
	line := func(p load.Progress) string {
		return fmt.Sprintf("%d/%d done, %d accepted, %d failed, %.0f msg/s, %.1f s", p.Done, p.Total, p.Accepted, p.Failed, p.Rate, p.Elapsed.Seconds())
	}
	report := func(p load.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if term {
			fmt.Fprintf(w, "\r\033[K%s", line(p))
		} else {
			fmt.Fprintln(w, line(p))
		}
		wrote = true
	}
	every := time.Second
	if term {
		every = 200 * time.Millisecond
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if term && wrote {
			fmt.Fprintln(w)
		}
	}
	return report, every, finish
}

func printLoadReport(w io.Writer, r *load.Report) {
	rcpts := "1 recipient"
	if r.RecipientsPer != 1 {
		rcpts = fmt.Sprintf("%d recipients", r.RecipientsPer)
	}
	fmt.Fprintf(w, "herald load: %d messages (%d bytes, %s each) to %s over %d sessions (%d opened, %d pipelined)\n",
		r.Requested, r.MessageBytes, rcpts, r.Server, r.Sessions, r.Connections, r.Pipelined)
	if r.Stopped != "" {
		fmt.Fprintf(w, "  STOPPED     %s\n", r.Stopped)
	}
	pct := 0.0
	if r.Requested > 0 {
		pct = 100 * float64(r.Accepted) / float64(r.Requested)
	}
	fmt.Fprintf(w, "  throughput  %.0f msg/s, %s/s (%d messages in %.2f s; accepted %.0f msg/s)\n",
		r.MessagesPerSec, loadBytes(r.BytesPerSec), r.Messages, r.Seconds, r.AcceptedPerSec)
	fmt.Fprintf(w, "  outcome     %d accepted (%.1f%%), %d temporary, %d permanent, %d unknown, %d not sent",
		r.Accepted, pct, r.Temporary, r.Permanent, r.Unknown, r.NotSent)
	if r.RecipientsRefused > 0 {
		fmt.Fprintf(w, "; %d recipients of accepted messages refused", r.RecipientsRefused)
	}
	fmt.Fprintln(w)
	l := r.Latency
	if l.Count > 0 {
		fmt.Fprintf(w, "  latency     p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (mean %.2f ms over %d transactions, MAIL to final reply)\n",
			l.P50, l.P95, l.P99, l.Max, l.Mean, l.Count)
	}
	if len(r.Replies) > 0 {
		var parts []string
		for _, rc := range r.Replies {
			parts = append(parts, fmt.Sprintf("%s %d x%d", rc.Stage, rc.Code, rc.Count))
		}
		fmt.Fprintf(w, "  replies     %s\n", strings.Join(parts, ", "))
	}
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "  errors      none")
		return
	}
	fmt.Fprintln(w, "  errors      class      stage    count  first")
	for _, e := range r.Errors {
		fmt.Fprintf(w, "              %-10s %-8s %5d  %s\n", e.Class, e.Stage, e.Count, e.First)
	}
}

// loadBytes formats a byte rate.
func loadBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
