package core

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
)

// SpoolDirName is the history spool's directory in the data directory: the
// records of one-shot sends, waiting to be moved into the history.
const SpoolDirName = "history-spool"

// SpoolDir returns the history spool directory of data directory dataDir.
func SpoolDir(dataDir string) string { return filepath.Join(dataDir, SpoolDirName) }

// SpoolError returns what went wrong with the history spool when it was
// last imported (files unreadable, moved aside, or of a newer Herald), or
// nil.
func (c *Core) SpoolError() error {
	c.spoolMu.Lock()
	defer c.spoolMu.Unlock()
	return c.spoolErr
}

// importSpool moves the spooled records into the history when the spool
// has any (a directory read when it is empty), publishes a History event for
// each record added and one for a problem, and returns the names of the
// files it left in the spool.
func (c *Core) importSpool(ctx context.Context) []string {
	dir := SpoolDir(c.DataDir)
	names, err := history.SpoolPending(dir)
	if err == nil && len(names) == 0 {
		return nil
	}
	c.spoolMu.Lock()
	defer c.spoolMu.Unlock()
	var r history.SpoolImport
	if err == nil {
		r, err = c.History.ImportSpoolRecords(ctx, dir)
	}
	for _, rec := range r.Records {
		c.Feed.Publish(feed.Event{Topic: feed.History, ID: rec.ID, Profile: rec.Profile})
	}
	if err != nil && (c.spoolErr == nil || c.spoolErr.Error() != err.Error()) {
		c.Feed.Publish(feed.Event{Topic: feed.History, Text: "history spool: " + err.Error()})
	}
	c.spoolErr = err
	return r.Left
}

// watchSpool is one poll of the history spool by the store watcher: it
// imports when the spool holds a file that the last import did not leave
// there (left is what it left, updated).
func (c *Core) watchSpool(ctx context.Context, left *[]string) {
	names, err := history.SpoolPending(SpoolDir(c.DataDir))
	if err != nil || len(names) == 0 {
		*left = nil
		return
	}
	for _, n := range names {
		if !slices.Contains(*left, n) {
			*left = c.importSpool(ctx)
			return
		}
	}
}
