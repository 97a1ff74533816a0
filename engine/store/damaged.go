package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDamaged is wrapped (through a *DamagedError) by Open when the file is
// not a readable SQLite database: a garbage header, a truncated file, a
// damaged page. Open leaves such a file untouched; Recover moves it aside
// and starts a fresh store with what can still be read.
var ErrDamaged = errors.New("the database file is damaged")

// DamagedError says which database is damaged and how.
type DamagedError struct {
	// Path is the damaged file.
	Path string
	// Detail is what SQLite found (its error, or the integrity check's
	// first findings).
	Detail string
}

// Error says what is wrong and what can be done about it.
func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged (%s): Herald cannot use it and has not changed it. "+
		"A repair moves it aside (kept as %s.damaged-DATE-TIME, never deleted), starts a fresh database "+
		"and copies into it what can still be read", e.Path, e.Detail, e.Path)
}

// Unwrap makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Unwrap() error { return ErrDamaged }

// isDamage reports whether err is SQLite saying the file is corrupt or is
// not a database.
func isDamage(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
	}
	var de *DamagedError
	return errors.As(err, &de)
}

// damaged returns a *DamagedError for path when cause is damage, else the
// error built from format and args.
func damaged(path string, cause error, format string, args ...any) error {
	var de *DamagedError
	if errors.As(cause, &de) {
		de.Path = path
		return de
	}
	if isDamage(cause) {
		return &DamagedError{Path: path, Detail: sqliteMessage(cause)}
	}
	return fmt.Errorf(format, args...)
}

// sqliteMessage is SQLite's own words for err, without the driver's
// numeric code ("file is not a database (26)" becomes "file is not a
// database").
func sqliteMessage(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return strings.TrimSpace(codeSuffix.ReplaceAllString(se.Error(), ""))
	}
	return err.Error()
}

var codeSuffix = regexp.MustCompile(`\s*\(\d+\)$`)

// quickCheck runs SQLite's quick_check (every page of every table and
// index is read and its structure checked) and reports a damaged file as
// a *DamagedError.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return fmt.Errorf("check the file: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("check the file: %w", err)
		}
		if line != "ok" {
			found = append(found, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check the file: %w", err)
	}
	if len(found) > 0 {
		return &DamagedError{Detail: "integrity check: " + strings.Join(found, "; ")}
	}
	return nil
}
