package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-smtp/herald/app/core"
)

// resolveDataDir is the data directory named by a --data-dir value,
// HERALD_DATA_DIR, or the platform's default; created when missing.
func resolveDataDir(flagValue string, env Env) (string, error) {
	return core.DataDir(flagValue, env.Getenv)
}

// opener is the command line's one composition root: the first verb that
// needs the core opens it, over the data directory named by --data-dir
// (after the verb, or before it), HERALD_DATA_DIR or the default, and Run
// closes it when the verb returns.
type opener struct {
	global string // --data-dir before the verb
	c      *core.Core
}

// core opens Herald's core once per command (local is the verb's own
// --data-dir, which wins over the one before the verb).
func (e Env) core(ctx context.Context, local string) (*core.Core, error) {
	o := e.open
	if o == nil {
		return nil, errors.New("internal error: the command's environment was not set up by Run")
	}
	if o.c != nil {
		return o.c, nil
	}
	if local == "" {
		local = o.global
	}
	dir, err := resolveDataDir(local, e)
	if err != nil {
		return nil, err
	}
	c, err := core.Open(ctx, dir, core.Options{Secrets: e.Secrets})
	if err != nil {
		return nil, damagedHint(err)
	}
	if err := c.SpoolError(); err != nil {
		// Records of one-shot sends that could not be moved into the
		// history: the rest were, and the command goes on.
		fmt.Fprintln(e.Stderr, "herald: warning:", err)
	}
	o.c = c
	return c, nil
}

// close closes the core if a verb opened it.
func (o *opener) close() {
	if o != nil && o.c != nil {
		o.c.Close()
		o.c = nil
	}
}
