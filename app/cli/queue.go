package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
)

const queueUsage = `Usage:
  herald queue list [--state S[,S]] [--profile NAME] [--batch B] [--limit N] [--json]
  herald queue show ID [--json]
  herald queue retry ID...|--all [--state S[,S]]      due now again (default --state: failed,deferred,unknown,held)
  herald queue cancel ID...|--batch B|--all
  herald queue hold ID...|--all
  herald queue release ID...|--all
  herald queue run [--until-empty [--due-within D]] [--verbose] [--retry-initial D] [--retry-max D] [--give-up-after D] [--warn-after D]
  herald queue purge [--state S[,S]] [--older-than DURATION]   (default: sent,cancelled)
`

// SandboxProfile is the profile id of queued messages for the built-in
// sandbox when no stored profile has that id.
const SandboxProfile = core.SandboxProfile

func runQueue(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(env.Stdout, queueUsage)
		if len(args) == 0 {
			return ExitUsage, usagef("queue needs a sub-command")
		}
		return ExitOK, nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return queueList(ctx, rest, env, dataDir)
	case "show":
		return queueShow(ctx, rest, env, dataDir)
	case "retry", "cancel", "hold", "release":
		return queueChange(ctx, sub, rest, env, dataDir)
	case "run":
		return queueRun(ctx, rest, env, dataDir)
	case "purge":
		return queuePurge(ctx, rest, env, dataDir)
	}
	return ExitUsage, usagef("unknown queue sub-command %q (try 'herald queue help')", sub)
}

func parseStates(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		st, err := queue.ParseState(strings.TrimSpace(p))
		if err != nil {
			return nil, usagef("--state: %v", err)
		}
		out = append(out, string(st))
	}
	return out, nil
}

func queueList(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue list", "herald queue list [--state S] [--profile NAME] [--batch B] [--limit N] [--json]", env)
	state := fs.String("state", "", "only these `states` (comma-separated)")
	profile := fs.String("profile", "", "only this profile's `name`")
	batch := fs.String("batch", "", "only this bulk `batch`")
	limit := fs.Int("limit", 100, "at most `N` items (0: all)")
	after := fs.Int64("after", 0, "items with an id above `ID` (paging)")
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	states, err := parseStates(*state)
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	q, b := c.Queue, c.Book
	f := queue.Filter{States: states, Batch: *batch, AfterID: *after, Limit: *limit}
	if *profile != "" {
		p, err := b.Get(ctx, *profile)
		if err != nil {
			return profileErrCode(err), err
		}
		f.Profile = p.ID
	}
	items, err := q.List(ctx, f)
	if err != nil {
		return ExitFailure, err
	}
	names := c.ProfileNames(ctx)
	if *jsonOut {
		type listed struct {
			queue.Item
			ProfileName string `json:"profile_name"`
		}
		out := make([]listed, 0, len(items))
		for _, it := range items {
			out = append(out, listed{it, names[it.Profile]})
		}
		return ExitOK, writeJSON(env.Stdout, out)
	}
	counts, err := q.Counts(ctx)
	if err != nil {
		return ExitFailure, err
	}
	var parts []string
	for _, s := range queue.AllStates {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		fmt.Fprintln(env.Stdout, "the queue is empty")
		return ExitOK, nil
	}
	fmt.Fprintln(env.Stdout, "Queue: "+strings.Join(parts, ", "))
	now := time.Now()
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROFILE\tTRIES\tNEXT\tSUBJECT\tLAST REPLY")
	for _, it := range items {
		next := ""
		if s := queue.State(it.State); s == queue.Deferred || s == queue.Scheduled {
			next = relativeTime(it.Next, now)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", it.ID, it.State, names[it.Profile], it.Attempts, next, truncate(it.Subject, 40), truncate(it.LastError, 60))
	}
	if err := tw.Flush(); err != nil {
		return ExitFailure, err
	}
	if *limit > 0 && len(items) == *limit {
		fmt.Fprintf(env.Stdout, "(first %d shown: --after %d for more, --limit 0 for all)\n", *limit, items[len(items)-1].ID)
	}
	return ExitOK, nil
}

// relativeTime says when t is, seen from now: "now", "in 3 min", "in 2 h
// 5 min", "5 min ago"; a day or more away, the date: "Jan 02 15:04" this
// year, "2030-01-01 09:00" another year.
func relativeTime(t, now time.Time) string {
	d := t.Sub(now)
	ago := d < 0
	if ago {
		d = -d
	}
	var s string
	switch {
	case d < 30*time.Second:
		return "now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int((d+30*time.Second)/time.Minute))
	case d < 24*time.Hour:
		s = fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		lt := t.Local()
		if lt.Year() == now.Local().Year() {
			return lt.Format("Jan 02 15:04")
		}
		return lt.Format("2006-01-02 15:04")
	}
	if ago {
		return s + " ago"
	}
	return "in " + s
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func queueShow(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue show", "herald queue show ID [--json]", env)
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	arg, err := nameAndFlags(fs, args, "queue show")
	if err != nil {
		return ExitUsage, err
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return ExitUsage, usagef("queue show: %q is not an id", arg)
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	q := c.Queue
	it, err := q.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ExitUsage, err
	}
	if err != nil {
		return ExitFailure, err
	}
	name := c.ProfileNames(ctx)[it.Profile]
	h := hint.Decode(it.Hint)
	wc := wordCtx{profile: name, email: it.From}
	if it.Profile == SandboxProfile {
		wc.profile = ""
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, struct {
			*queue.Item
			Hint   string     `json:"hint,omitempty"`
			Fixes  []hint.Fix `json:"fixes,omitempty"`
			Report string     `json:"report,omitempty"`
		}{it, wordHint(h, wc), h.Fixes, queue.Report(it)})
	}
	w := env.Stdout
	fmt.Fprintf(w, "Message %d: %s\n", it.ID, it.State)
	fmt.Fprintf(w, "Profile:   %s\n", name)
	fmt.Fprintf(w, "Subject:   %s\nMessage-ID: %s\nFrom:      %s\nSize:      %d bytes\n", it.Subject, it.MessageID, it.From, it.Size)
	fmt.Fprintf(w, "Queued:    %s\nAttempts:  %d\n", it.Created.Local().Format(time.DateTime), it.Attempts)
	if s := queue.State(it.State); s == queue.Deferred || s == queue.Scheduled {
		fmt.Fprintf(w, "Next try:  %s (%s)\n", it.Next.Local().Format(time.DateTime), relativeTime(it.Next, time.Now()))
	}
	if it.Batch != "" {
		fmt.Fprintf(w, "Batch:     %s\n", it.Batch)
	}
	if !it.DSN.IsZero() {
		fmt.Fprintf(w, "DSN:       %s\n", it.DSN.String())
	}
	for _, r := range it.Recipients {
		line := fmt.Sprintf("  %-9s %s", r.State, r.Addr)
		if r.Code != 0 {
			line += fmt.Sprintf("  (%d %s %s)", r.Code, r.Enhanced, r.Message)
		}
		fmt.Fprintln(w, line)
	}
	if rep := queue.Report(it); rep != "" {
		fmt.Fprint(w, rep)
		if ways := wordHint(hint.Hint{Fixes: h.Fixes, Link: h.Link}, wc); ways != "" {
			fmt.Fprintln(w, ways)
		}
	}
	return ExitOK, nil
}

func queueChange(ctx context.Context, verb string, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue "+verb, "herald queue "+verb+" ID...|--all", env)
	all := fs.Bool("all", false, "every item the command applies to")
	state := fs.String("state", "", "with --all: only items in these `states`")
	batch := fs.String("batch", "", "every item of this bulk `batch`")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) == 0 && !*all && *batch == "" {
		return ExitUsage, usagef("queue %s needs item ids, --all or --batch", verb)
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	sel := core.Selection{All: *all, Batch: *batch}
	for _, p := range pos {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return ExitUsage, usagef("%q is not an item id", p)
		}
		sel.IDs = append(sel.IDs, id)
	}
	if sel.States, err = parseStates(*state); err != nil {
		return ExitUsage, err
	}
	changed, failed, err := c.Change(ctx, core.QueueOp(verb), sel)
	if err != nil {
		return ExitFailure, err
	}
	code := ExitOK
	for _, e := range failed {
		fmt.Fprintln(env.Stderr, "herald:", e.Err)
		code = ExitUsage
	}
	fmt.Fprintf(env.Stdout, "%s: %d item(s)\n", verb, changed)
	return code, nil
}

func queueRun(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue run", "herald queue run [--until-empty] [--verbose]", env)
	untilEmpty := fs.Bool("until-empty", false, "stop once nothing is being sent and nothing queued, scheduled or deferred is due within --due-within (later ones stay queued)")
	dueWithin := new(time.Duration)
	durationVar(fs, dueWithin, "due-within", time.Minute, "with --until-empty: keep running while a message is due within this `duration` (a rate-limited batch, a retry soon)")
	verbose := fs.Bool("verbose", false, "show every SMTP line of every session")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	var rf retryFlags
	rf.register(fs, "for every profile that sets none")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	settings := rf.over(nil, setFlags(fs))
	if settings != nil {
		if err := settings.Validate(); err != nil {
			return ExitUsage, usagef("retry settings: %v", err)
		}
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	// The global policy kept in the settings (the window's Settings view),
	// with the flags given over it.
	policy := core.ApplyRetry(c.GlobalRetryPolicy(ctx), settings)
	if policy.Max < policy.Initial || policy.GiveUpAfter < policy.Initial {
		return ExitUsage, usagef("retry settings: --retry-max and --give-up-after must not be less than --retry-initial (defaults: 1m, 1h, 48h)")
	}
	q := c.Queue
	names := c.ProfileNames(ctx)
	sent := 0
	print := func(e queue.Event) {
		if e.Kind == queue.EventState && e.State == queue.Sent {
			sent++
		}
		switch e.Kind {
		case queue.EventLine:
			fmt.Fprintf(env.Stderr, "[%s] %s\n", names[e.Profile], e.Line.String())
		case queue.EventState:
			fmt.Fprintf(env.Stdout, "%s  message %d: %s %s\n", e.Time.Local().Format(time.TimeOnly), e.Item, e.State, stateSuffix(e))
		case queue.EventWarning, queue.EventSession:
			fmt.Fprintf(env.Stderr, "%s  [%s] %s\n", e.Time.Local().Format(time.TimeOnly), names[e.Profile], e.Text)
		}
	}
	err = c.RunQueue(ctx, core.RunOptions{Retry: policy, UntilEmpty: *untilEmpty, DueWithin: *dueWithin, Lines: *verbose, OnEvent: print})
	interrupted := ctx.Err() != nil
	if err != nil && !interrupted {
		return ExitFailure, err
	}
	// An interrupt is a clean stop: the runner handed its claims back.
	ctx = context.WithoutCancel(ctx)
	if interrupted {
		fmt.Fprintf(env.Stdout, "interrupted: %d message(s) sent in this run; the rest stay queued\n", sent)
	}
	counts, err := q.Counts(ctx)
	if err != nil {
		return ExitFailure, err
	}
	fmt.Fprintf(env.Stdout, "queue: %d sent, %d deferred, %d scheduled, %d failed, %d unknown, %d held\n",
		counts[queue.Sent], counts[queue.Deferred], counts[queue.Scheduled], counts[queue.Failed], counts[queue.Unknown], counts[queue.Held])
	return ExitOK, nil
}

func stateSuffix(e queue.Event) string {
	if e.State == queue.Sent || e.Text == "" {
		return ""
	}
	return "(" + e.Text + ")"
}

func queuePurge(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue purge", "herald queue purge [--state S[,S]] [--older-than DURATION]", env)
	state := fs.String("state", "sent,cancelled", "purge items in these `states`")
	older := new(time.Duration)
	durationVar(fs, older, "older-than", 0, "only items last changed longer ago than this `duration` (e.g. 7d or 168h)")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	states, err := parseStates(*state)
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	q := c.Queue
	ss := make([]queue.State, len(states))
	for i, s := range states {
		ss[i] = queue.State(s)
	}
	n, err := q.Purge(ctx, ss, *older)
	if err != nil {
		return ExitUsage, err
	}
	fmt.Fprintf(env.Stdout, "purged %d item(s)\n", n)
	return ExitOK, nil
}
