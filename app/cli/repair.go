package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/herald-smtp/herald/engine/store"
)

const repairSynopsis = `herald repair [--data-dir DIR] [--json]

Repairs a damaged herald.db (one that every verb refuses as damaged): the
damaged file (and its -wal and -shm files) is moved aside to
herald.db.damaged-YYYYMMDD-HHMMSS and kept as it was, a fresh database is
created, and every row that can still be read (profiles, the outbox, the
sandbox inbox) is copied into it. Stop every other Herald (window,
'herald queue run', 'herald sandbox') first. A database that is not damaged
is left alone.`

// damagedHint adds the way out to an error about a damaged database.
func damagedHint(err error) error {
	if !errors.Is(err, store.ErrDamaged) {
		return err
	}
	return fmt.Errorf("%w.\nStop every other Herald, then run 'herald repair' (with the same --data-dir) to do that", err)
}

func runRepair(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("repair", repairSynopsis, env)
	local := fs.String("data-dir", "", "Herald's data `directory`")
	jsonOut := fs.Bool("json", false, "print the report as one JSON object on standard output")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("repair takes no arguments, got %q", pos)
	}
	if *local == "" {
		*local = dataDir
	}
	dir, err := resolveDataDir(*local, env)
	if err != nil {
		return ExitFailure, err
	}
	path := store.PathIn(dir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stdout, "no database at %s: nothing to repair\n", path)
		return ExitOK, nil
	}
	st, err := store.Open(path)
	if err == nil {
		st.Close()
		if *jsonOut {
			return ExitOK, writeJSON(env.Stdout, map[string]any{"path": path, "damaged": false})
		}
		fmt.Fprintf(env.Stdout, "%s opens and passes SQLite's check: nothing to repair\n", path)
		return ExitOK, nil
	}
	if !errors.Is(err, store.ErrDamaged) {
		return ExitFailure, err
	}
	if !*jsonOut {
		fmt.Fprintf(env.Stderr, "herald: %v\n", err)
	}
	rep, err := store.Recover(path)
	if err != nil {
		return ExitFailure, fmt.Errorf("repair: %w", err)
	}
	if *jsonOut {
		return ExitOK, writeJSON(env.Stdout, struct {
			Damaged bool `json:"damaged"`
			*store.RecoverReport
			Copied int `json:"copied"`
		}{true, rep, rep.Copied()})
	}
	fmt.Fprintf(env.Stdout, "moved the damaged database aside, kept as it was: %s\n", strings.Join(rep.Moved, ", "))
	fmt.Fprintf(env.Stdout, "created a fresh database: %s\n", rep.Path)
	if rep.Unreadable != "" {
		fmt.Fprintf(env.Stdout, "nothing could be read from the damaged file (%s): the fresh database is empty\n", rep.Unreadable)
		return ExitOK, nil
	}
	fmt.Fprintf(env.Stdout, "copied %d rows that could still be read:\n", rep.Copied())
	for _, t := range rep.Tables {
		line := fmt.Sprintf("  %-18s %d", t.Name, t.Copied)
		if t.Damaged > 0 {
			line += fmt.Sprintf(", %d unreadable stretch(es) skipped", t.Damaged)
		}
		if t.Skipped > 0 {
			line += fmt.Sprintf(", %d row(s) left out (their parent row was lost)", t.Skipped)
		}
		if t.Problem != "" && t.Damaged == 0 && t.Skipped == 0 && t.Copied == 0 {
			line += " (" + t.Problem + ")"
		}
		fmt.Fprintln(env.Stdout, line)
	}
	fmt.Fprintln(env.Stdout, "check the outbox ('herald queue list') before 'herald queue run': a message whose outcome was in a lost page goes out again")
	return ExitOK, nil
}
