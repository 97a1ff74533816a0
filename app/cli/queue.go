package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

const queueUsage = `Usage:
  herald queue list [--state S[,S]] [--profile NAME] [--batch B] [--limit N] [--json]
  herald queue show ID [--json]
  herald queue retry ID...|--all [--state S[,S]]      due now again (default --state: failed,deferred,unknown,held)
  herald queue cancel ID...|--batch B|--all
  herald queue hold ID...|--all
  herald queue release ID...|--all
  herald queue run [--until-empty] [--verbose] [--retry-initial D] [--retry-max D] [--give-up-after D] [--warn-after D]
  herald queue purge [--state S[,S]] [--older-than DURATION]   (default: sent,cancelled)
`

// SandboxProfile is the profile id of queued messages for the built-in
// sandbox (127.0.0.1:2525) when no stored profile has that id.
const SandboxProfile = "sandbox"

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

// openQueue opens the store, the queue and the profile book.
func openQueue(global, local string, env Env) (*queue.Queue, *account.Book, func(), error) {
	st, _, err := openStore(global, local, env)
	if err != nil {
		return nil, nil, nil, err
	}
	return queue.New(st, nil), account.NewBook(st, env.secrets()), func() { st.Close() }, nil
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

// profileNames maps profile ids to names for listings.
func profileNames(ctx context.Context, b *account.Book) map[string]string {
	names := map[string]string{SandboxProfile: SandboxProfile}
	if ps, err := b.List(ctx); err == nil {
		for _, p := range ps {
			names[p.ID] = p.Name
		}
	}
	return names
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
	q, b, done, err := openQueue(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer done()
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
	if *jsonOut {
		if items == nil {
			items = []queue.Item{}
		}
		return ExitOK, writeJSON(env.Stdout, items)
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
	names := profileNames(ctx, b)
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROFILE\tTRIES\tNEXT\tSUBJECT\tLAST ERROR")
	for _, it := range items {
		next := ""
		if s := queue.State(it.State); s == queue.Deferred || s == queue.Scheduled {
			next = it.Next.Local().Format("01-02 15:04:05")
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
	q, b, done, err := openQueue(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer done()
	it, err := q.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ExitUsage, err
	}
	if err != nil {
		return ExitFailure, err
	}
	name := profileNames(ctx, b)[it.Profile]
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
		fmt.Fprintf(w, "Next try:  %s\n", it.Next.Local().Format(time.DateTime))
	}
	if it.Batch != "" {
		fmt.Fprintf(w, "Batch:     %s\n", it.Batch)
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
	q, _, done, err := openQueue(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer done()
	var ids []int64
	for _, p := range pos {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return ExitUsage, usagef("%q is not an item id", p)
		}
		ids = append(ids, id)
	}
	if *all || *batch != "" {
		states, err := parseStates(*state)
		if err != nil {
			return ExitUsage, err
		}
		if states == nil {
			states = map[string][]string{
				"retry":   {"failed", "deferred", "unknown", "held"},
				"cancel":  {"queued", "scheduled", "deferred", "held", "unknown", "failed"},
				"hold":    {"queued", "scheduled", "deferred"},
				"release": {"held"},
			}[verb]
		}
		items, err := q.List(ctx, queue.Filter{States: states, Batch: *batch})
		if err != nil {
			return ExitFailure, err
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
	}
	op := map[string]func(context.Context, int64) error{"retry": q.Retry, "cancel": q.Cancel, "hold": q.Hold, "release": q.Release}[verb]
	changed, code := 0, ExitOK
	for _, id := range ids {
		if err := op(ctx, id); err != nil {
			fmt.Fprintln(env.Stderr, "herald:", err)
			code = ExitUsage
			continue
		}
		changed++
	}
	fmt.Fprintf(env.Stdout, "%s: %d item(s)\n", verb, changed)
	return code, nil
}

// resolver turns profile ids into sending targets: the stored profile with
// its keychain secret and its retry settings over the global policy, or the
// built-in sandbox.
func resolver(b *account.Book, env Env, global queue.RetryPolicy) queue.Resolver {
	return func(ctx context.Context, id string) (queue.Target, error) {
		p, err := b.GetByID(ctx, id)
		if errors.Is(err, account.ErrNotFound) && id == SandboxProfile {
			host, port, _ := splitHostPort(DefaultServer)
			return queue.Target{Config: transport.Config{Host: host, Port: port, TLS: transport.TLSNone, Auth: transport.AuthNone}}, nil
		}
		if err != nil {
			return queue.Target{}, fmt.Errorf("the profile of these messages is gone: %w", err)
		}
		if p.Secret == account.SecretAsk && p.PasswordAuth() {
			return queue.Target{}, fmt.Errorf("profile %q asks for its password each time, so queued messages cannot be sent unattended: store it with 'herald profile set-password %s'", p.Name, quoteArg(p.Name))
		}
		pw, err := profileSecret(b, p, "", env)
		if err != nil {
			return queue.Target{}, err
		}
		t := queue.Target{Config: p.TransportConfig(pw), Sessions: p.Limits.Sessions, PerSession: p.Limits.PerSession, PerMinute: p.Limits.PerMinute}
		for _, fb := range p.Fallbacks {
			c := t.Config
			c.Host, c.Port, c.TLS = fb.Host, fb.Port, fb.TLS
			t.Fallbacks = append(t.Fallbacks, c)
		}
		if r := p.Retry; r != nil {
			pol := global
			if r.Initial > 0 {
				pol.Initial = time.Duration(r.Initial)
			}
			if r.Max > 0 {
				pol.Max = time.Duration(r.Max)
			}
			if r.GiveUpAfter > 0 {
				pol.GiveUpAfter = time.Duration(r.GiveUpAfter)
			}
			if r.WarnAfter > 0 {
				pol.WarnAfter = time.Duration(r.WarnAfter)
			}
			t.Retry = &pol
		}
		return t, nil
	}
}

func queueRun(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("queue run", "herald queue run [--until-empty] [--verbose]", env)
	untilEmpty := fs.Bool("until-empty", false, "stop once nothing is due (scheduled and deferred messages due later stay queued)")
	verbose := fs.Bool("verbose", false, "show every SMTP line of every session")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	var rf retryFlags
	rf.register(fs, "for every profile that sets none")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	policy := queue.DefaultRetryPolicy()
	rf.apply(&policy, setFlags(fs))
	if policy.Initial <= 0 || policy.Max < policy.Initial || policy.GiveUpAfter < policy.Initial || policy.WarnAfter < 0 {
		return ExitUsage, usagef("retry settings: need 0 < --retry-initial <= --retry-max, --give-up-after >= --retry-initial, --warn-after >= 0")
	}
	q, b, done, err := openQueue(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer done()
	r := queue.NewRunner(q, queue.RunnerOptions{Resolve: resolver(b, env, policy), Retry: policy})
	events, stop := r.Subscribe(4096, *verbose)
	printed := make(chan struct{})
	names := profileNames(ctx, b)
	go func() {
		defer close(printed)
		for e := range events {
			switch e.Kind {
			case queue.EventLine:
				fmt.Fprintf(env.Stderr, "[%s] %s\n", names[e.Profile], e.Line.String())
			case queue.EventState:
				fmt.Fprintf(env.Stdout, "%s  message %d: %s %s\n", e.Time.Local().Format(time.TimeOnly), e.Item, e.State, stateSuffix(e))
			case queue.EventWarning, queue.EventSession:
				fmt.Fprintf(env.Stderr, "%s  [%s] %s\n", e.Time.Local().Format(time.TimeOnly), names[e.Profile], e.Text)
			}
		}
	}()
	err = r.Run(ctx, *untilEmpty)
	stop()
	<-printed
	if err != nil {
		return ExitFailure, err
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
	older := fs.Duration("older-than", 0, "only items last changed longer ago than this `duration` (e.g. 168h)")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if _, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	}
	states, err := parseStates(*state)
	if err != nil {
		return ExitUsage, err
	}
	q, _, done, err := openQueue(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer done()
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
