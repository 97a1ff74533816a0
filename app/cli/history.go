package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/transcript"
)

const historyUsage = `Usage:
  herald history list [--search TEXT] [--to|--from|--subject TEXT] [--profile NAME] [--state S[,S]]
                      [--since D] [--until D] [--limit N] [--page CURSOR] [--json]
  herald history show ID [--full] [--json]   one record with its recipients and the session transcript
  herald history export ID [-o FILE]         the message as sent (.eml) to standard output or FILE
  herald history purge --older-than D        remove records older than D
  herald history stats [--since D] [--profile NAME] [--json]   per-day counts per profile
  herald history retention [--keep-days N] [--keep-messages N] [--transcripts all|failures] [--json]
                                             show (no flags) or set how much history is kept (0: no limit)

States: sent, partial, failed, deferred, unknown.
D is a duration back from now (30d, 12h, 90m) or a date (2026-11-01, 2026-11-01 09:00, RFC 3339).
`

func runHistory(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(env.Stdout, historyUsage)
		if len(args) == 0 {
			return ExitUsage, usagef("history needs a sub-command")
		}
		return ExitOK, nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls", "search":
		return historyList(ctx, rest, env, dataDir)
	case "show":
		return historyShow(ctx, rest, env, dataDir)
	case "export":
		return historyExport(ctx, rest, env, dataDir)
	case "purge":
		return historyPurge(ctx, rest, env, dataDir)
	case "stats":
		return historyStats(ctx, rest, env, dataDir)
	case "retention":
		return historyRetention(ctx, rest, env, dataDir)
	}
	return ExitUsage, usagef("unknown history sub-command %q (try 'herald history help')", sub)
}

// parseWhen reads a point in the past: a duration back from now ("30d",
// "12h") or a local date/time.
func parseWhen(flagName, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.AddDate(0, 0, -d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--%s %q: give a duration back from now (30d, 12h) or a date (2026-11-01, 2026-11-01 09:00)", flagName, s)
}

// historyProfile turns --profile NAME into the profile id stored in the
// history; a name that is no (longer a) profile is taken as an id.
func historyProfile(ctx context.Context, c *core.Core, name string) string {
	if name == "" {
		return ""
	}
	if p, err := c.Book.Get(ctx, name); err == nil {
		return p.ID
	}
	return name
}

func historyList(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history list", "herald history list [--search TEXT] [--to|--from|--subject TEXT] [--profile NAME] [--state S[,S]] [--since D] [--until D] [--limit N] [--page CURSOR] [--json]", env)
	search := fs.String("search", "", "only records whose sender, a recipient, subject or Message-ID contains `text` (any case)")
	rcpt := fs.String("to", "", "only records with a recipient containing `text`")
	sender := fs.String("from", "", "only records whose sender contains `text`")
	subject := fs.String("subject", "", "only records whose subject contains `text`")
	profile := fs.String("profile", "", "only this profile's `name`")
	state := fs.String("state", "", "only these `states` (comma-separated): sent, partial, failed, deferred, unknown")
	since := fs.String("since", "", "only records finished since `D` (30d, 12h, 2026-11-01)")
	until := fs.String("until", "", "only records finished before `D`")
	limit := fs.Int("limit", 50, "at most `N` records (0: all)")
	page := fs.String("page", "", "continue after an earlier listing (the `cursor` it printed)")
	jsonOut := fs.Bool("json", false, "print JSON: {records, next, total}")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) == 1 && *search == "" {
		*search = pos[0] // herald history search TEXT
	} else if len(pos) > 0 {
		return ExitUsage, usagef("history list takes no arguments, got %q", pos)
	}
	now := time.Now()
	q := history.Query{Search: *search, Recipient: *rcpt, Sender: *sender, Subject: *subject, Cursor: *page, Limit: *limit}
	if *limit < 0 {
		return ExitUsage, usagef("--limit must not be negative")
	}
	if *limit == 0 {
		q.Limit = -1
	}
	if *state != "" {
		for _, s := range strings.Split(*state, ",") {
			st, err := history.ParseState(s)
			if err != nil {
				return ExitUsage, usagef("--state: %v", err)
			}
			q.States = append(q.States, st)
		}
	}
	if *since != "" {
		if q.Since, err = parseWhen("since", *since, now); err != nil {
			return ExitUsage, err
		}
	}
	if *until != "" {
		if q.Until, err = parseWhen("until", *until, now); err != nil {
			return ExitUsage, err
		}
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	l := c.History
	q.Profile = historyProfile(ctx, c, *profile)
	p, err := l.List(ctx, q)
	if err != nil {
		if *page != "" {
			return ExitUsage, usagef("--page: %v", err)
		}
		return ExitFailure, err
	}
	total, err := l.Count(ctx, q)
	if err != nil {
		return ExitFailure, err
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, struct {
			Records []history.Record `json:"records"`
			Next    string           `json:"next,omitempty"`
			Total   int              `json:"total"`
		}{p.Records, p.Next, total})
	}
	if total == 0 {
		fmt.Fprintln(env.Stdout, "no records")
		return ExitOK, nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFINISHED\tSTATE\tPROFILE\tFROM\tTO\tSUBJECT\tREPLY")
	for _, r := range p.Records {
		prof := r.ProfileName
		if prof == "" {
			prof = r.Profile
		}
		if prof == "" {
			prof = "-"
		}
		to := strings.Join(r.To, ", ")
		reply := r.QueuedAs
		if r.State != history.Sent {
			reply = r.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Finished.Local().Format("2006-01-02 15:04:05"), r.State,
			prof, truncate(r.From, 30), truncate(to, 40), truncate(r.Subject, 40), truncate(reply, 50))
	}
	if err := tw.Flush(); err != nil {
		return ExitFailure, err
	}
	if p.Next != "" {
		fmt.Fprintf(env.Stdout, "(%d of %d shown: --page %s for more)\n", len(p.Records), total, p.Next)
	}
	return ExitOK, nil
}

// historyID parses the one ID argument of show and export.
func historyID(pos []string, what string) (int64, error) {
	if len(pos) != 1 {
		return 0, usagef("history %s needs one record ID", what)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("history %s: %q is not a record ID", what, pos[0])
	}
	return id, nil
}

// historyErrCode maps an unknown record to the usage exit code.
func historyErrCode(err error) int {
	if errors.Is(err, history.ErrNotFound) {
		return ExitUsage
	}
	return ExitFailure
}

func historyShow(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history show", "herald history show ID [--full] [--json]", env)
	jsonOut := fs.Bool("json", false, "print one JSON object, with the recipients and the session's whole transcript")
	full := fs.Bool("full", false, "print the whole transcript of a session that carried several messages, not only this message's part")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	id, err := historyID(pos, "show")
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	l := c.History
	r, err := l.Get(ctx, id)
	if err != nil {
		return historyErrCode(err), err
	}
	if *jsonOut {
		if r.Transcript == nil {
			r.Transcript = []transcript.Event{}
		}
		return ExitOK, writeJSON(env.Stdout, r)
	}
	w := env.Stdout
	fmt.Fprintf(w, "Record %d: %s\n", r.ID, r.State)
	prof := r.ProfileName
	if prof == "" {
		prof = r.Profile
	}
	if prof != "" {
		fmt.Fprintf(w, "Profile:     %s\n", prof)
	}
	fmt.Fprintf(w, "Message-ID:  %s\nFrom:        %s\nSubject:     %s\nSize:        %d bytes\n", r.MessageID, r.From, r.Subject, r.Size)
	fmt.Fprintf(w, "Queued:      %s\nStarted:     %s\nFinished:    %s (%s)\n", r.Queued.Local().Format(time.DateTime),
		r.Started.Local().Format(time.DateTime), r.Finished.Local().Format(time.DateTime), r.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "Server:      %s\n", r.Server)
	if r.TLS != "" {
		fmt.Fprintf(w, "TLS:         %s\n", r.TLS)
	}
	if r.QueueItem != 0 {
		fmt.Fprintf(w, "Outbox item: %d, attempt %d\n", r.QueueItem, r.Attempt)
	}
	if r.QueuedAs != "" {
		fmt.Fprintf(w, "Reply:       %s\n", r.QueuedAs)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "Error:       %s (stage %s, code %d %s)\n", r.Error, r.Stage, r.Code, r.Enhanced)
	}
	fmt.Fprintln(w, "Recipients:")
	for _, rc := range r.Recipients {
		verdict := "refused"
		if rc.Accepted {
			verdict = "accepted"
		} else if rc.Code == 0 {
			verdict = "not tried"
		}
		fmt.Fprintf(w, "  %s: %s", rc.Addr, verdict)
		if rc.Code != 0 {
			fmt.Fprintf(w, " (%d %s %s)", rc.Code, rc.Enhanced, rc.Message)
		}
		fmt.Fprintln(w)
	}
	lines := r.Transcript
	switch {
	case r.SessionMessages > 1 && *full:
		fmt.Fprintf(w, "Transcript of the session, which carried %d messages:\n", r.SessionMessages)
	case r.SessionMessages > 1:
		lines = r.OwnTranscript()
		fmt.Fprintf(w, "Transcript (the session's opening and this message's part of %d lines; --full for all):\n", len(r.Transcript))
	default:
		fmt.Fprintln(w, "Transcript:")
	}
	if r.Transcript == nil {
		fmt.Fprintln(w, "  (not kept)")
	}
	for _, e := range lines {
		fmt.Fprintln(w, "  "+e.String())
	}
	return ExitOK, nil
}

func historyExport(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history export", "herald history export ID [-o FILE]", env)
	out := fs.String("o", "", "write the message to `file` instead of standard output")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	id, err := historyID(pos, "export")
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	l := c.History
	var w io.Writer = env.Stdout
	var f *os.File
	if *out != "" {
		// Check the record first so a bad id leaves no empty file behind.
		if _, err := l.Get(ctx, id); err != nil {
			return historyErrCode(err), err
		}
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return ExitUsage, usagef("-o: %v", err)
		}
		w = f
	}
	err = l.Export(ctx, id, w)
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", *out, cerr)
		}
	}
	if err != nil {
		return historyErrCode(err), err
	}
	return ExitOK, nil
}

func historyPurge(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history purge", "herald history purge --older-than D", env)
	older := fs.String("older-than", "", "remove records finished before `D` (30d, 12h, 2026-11-01)")
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("history purge takes no arguments, got %q", pos)
	}
	if *older == "" {
		return ExitUsage, usagef("history purge needs --older-than D (e.g. 30d; 0d removes every record)")
	}
	before, err := parseWhen("older-than", *older, time.Now())
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	n, err := c.PurgeHistory(ctx, before)
	if err != nil {
		return ExitFailure, err
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, map[string]any{"ok": true, "purged": n})
	}
	fmt.Fprintf(env.Stdout, "purged %d record(s)\n", n)
	return ExitOK, nil
}

func historyStats(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history stats", "herald history stats [--since D] [--profile NAME] [--json]", env)
	since := fs.String("since", "30d", "count records finished since `D`")
	profile := fs.String("profile", "", "only this profile's `name`")
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("history stats takes no arguments, got %q", pos)
	}
	from, err := parseWhen("since", *since, time.Now())
	if err != nil {
		return ExitUsage, err
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	l := c.History
	days, err := l.Daily(ctx, from, historyProfile(ctx, c, *profile))
	if err != nil {
		return ExitFailure, err
	}
	if *jsonOut {
		if days == nil {
			days = []history.Day{}
		}
		return ExitOK, writeJSON(env.Stdout, days)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tPROFILE\tSENT\tPARTIAL\tDEFERRED\tFAILED\tUNKNOWN\tMEDIAN TO SEND")
	for _, d := range days {
		prof := d.ProfileName
		if prof == "" {
			prof = d.Profile
		}
		if prof == "" {
			prof = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", d.Day.Format("2006-01-02"), prof, d.Sent, d.Partial, d.Deferred,
			d.Failed, d.Unknown, d.MedianToSend.Round(time.Millisecond))
	}
	return ExitOK, tw.Flush()
}

func historyRetention(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("history retention", "herald history retention [--keep-days N] [--keep-messages N] [--transcripts all|failures] [--json]", env)
	days := fs.Int("keep-days", -1, "remove records older than `N` days (0: no age limit)")
	msgs := fs.Int("keep-messages", -1, "keep only the newest `N` records (0: no count limit)")
	trans := fs.String("transcripts", "", "keep session transcripts for `all` sends or for failures only (failures)")
	jsonOut := fs.Bool("json", false, "print JSON")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("history retention takes no arguments, got %q", pos)
	}
	set := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "keep-days", "keep-messages", "transcripts":
			set = true
		}
	})
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if (given["keep-days"] && *days < 0) || (given["keep-messages"] && *msgs < 0) {
		return ExitUsage, usagef("--keep-days and --keep-messages take 0 (no limit) or a positive count")
	}
	if *trans != "" && *trans != core.TranscriptsAll && *trans != core.TranscriptsFailures {
		return ExitUsage, usagef("--transcripts: all or failures, not %q", *trans)
	}
	c, err := env.core(ctx, *local)
	if err != nil {
		return ExitFailure, err
	}
	r, err := c.HistoryRetention(ctx)
	if err != nil {
		return ExitFailure, err
	}
	var pruned *history.Pruned
	if set {
		if given["keep-days"] {
			r.KeepDays = *days
		}
		if given["keep-messages"] {
			r.KeepMessages = *msgs
		}
		if *trans != "" {
			r.TranscriptsFailuresOnly = *trans == core.TranscriptsFailures
		}
		p, err := c.SetHistoryRetention(ctx, r)
		if err != nil {
			return ExitFailure, err
		}
		pruned = &p
	}
	if *jsonOut {
		tr := core.TranscriptsAll
		if r.TranscriptsFailuresOnly {
			tr = core.TranscriptsFailures
		}
		return ExitOK, writeJSON(env.Stdout, struct {
			KeepDays     int             `json:"keep_days"`
			KeepMessages int             `json:"keep_messages"`
			Transcripts  string          `json:"transcripts"`
			Pruned       *history.Pruned `json:"pruned,omitempty"`
		}{r.KeepDays, r.KeepMessages, tr, pruned})
	}
	limit := func(n int, unit string) string {
		if n == 0 {
			return "no limit"
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	tr := "for every send"
	if r.TranscriptsFailuresOnly {
		tr = "for failures only"
	}
	fmt.Fprintf(env.Stdout, "keep days:      %s\nkeep messages:  %s\ntranscripts:    %s\n", limit(r.KeepDays, "days"), limit(r.KeepMessages, "records"), tr)
	if pruned != nil {
		fmt.Fprintf(env.Stdout, "applied: %d record(s) removed, %d transcript(s) forgotten\n", pruned.Records, pruned.Transcripts)
	}
	return ExitOK, nil
}
