package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one schema step. Steps are applied in order, each in its own
// transaction together with the PRAGMA user_version bump that records it, so
// a failing step leaves the file at the previous version.
type migration struct {
	name string
	sql  string
}

// migrations is the schema history. Append new steps at the end; never edit
// or reorder a step that has shipped, because files in the field record how
// many steps they have applied (PRAGMA user_version = len(applied steps)).
var migrations = []migration{
	{
		name: "sandbox messages",
		sql: `
CREATE TABLE sandbox_messages (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	received_ns   INTEGER NOT NULL,           -- Unix time in nanoseconds
	remote        TEXT    NOT NULL,
	helo          TEXT    NOT NULL,
	tls           INTEGER NOT NULL,           -- 0 or 1
	auth_user     TEXT    NOT NULL,
	mail_from     TEXT    NOT NULL,
	rcpt_to       TEXT    NOT NULL,           -- JSON array of strings
	subject       TEXT    NOT NULL,
	size          INTEGER NOT NULL,
	raw           BLOB    NOT NULL,
	transcript    TEXT    NOT NULL,           -- JSON array of events
	reply_dropped INTEGER NOT NULL            -- 0 or 1
);
CREATE INDEX sandbox_messages_received ON sandbox_messages (received_ns DESC, id DESC);
`,
	},
	{
		name: "profiles",
		sql:  profilesSchema,
	},
	{
		name: "queue",
		sql:  queueSchema,
	},
	{
		name: "history",
		sql:  historySchema,
	},
	{
		name: "settings and profile tests",
		sql:  settingsSchema,
	},
	{
		name: "drafts",
		sql:  draftsSchema,
	},
	{
		// The outbox view filters by batch and asks whether a batch has
		// drained; the rest of its listing uses the existing indexes.
		name: "queue batch index",
		sql:  `CREATE INDEX queue_items_batch ON queue_items (batch, state);`,
	},
	{
		// Each outbox message keeps its own delivery status notification
		// request (RFC 3461); '' everywhere is none, as for older items.
		name: "queue DSN options",
		sql:  queueDSNSchema,
	},
	{
		// A session imported from the history spool keeps the spool
		// record's id, so that importing it twice (two processes at once,
		// or a crash before the spool file was deleted) adds it once.
		name: "history spool ids",
		sql:  historySpoolSchema,
	},
}

// migrate brings the database up to len(steps). Each step runs in an
// immediate (write-locked) transaction that re-reads the version, so two
// processes opening the same file cannot apply a step twice.
func migrate(ctx context.Context, db *sql.DB, steps []migration) error {
	for {
		done, err := migrateOne(ctx, db, steps)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB, steps []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	switch {
	case v > len(steps):
		return false, fmt.Errorf("%w: the file has schema version %d, this Herald knows versions up to %d; use a newer Herald or another data file",
			ErrSchemaTooNew, v, len(steps))
	case v < 0:
		return false, fmt.Errorf("migrate: invalid schema version %d in the file", v)
	case v == len(steps):
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("migrate: commit: %w", err)
		}
		return true, nil
	}
	step := steps[v]
	if _, err := tx.ExecContext(ctx, step.sql); err != nil {
		return false, fmt.Errorf("migrate to version %d (%s): %w", v+1, step.name, err)
	}
	// PRAGMA takes no bind parameters; v+1 is an integer we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to version %d (%s): set version: %w", v+1, step.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to version %d (%s): commit: %w", v+1, step.name, err)
	}
	return false, nil
}
