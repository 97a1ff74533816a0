// Package store is Herald's SQLite database: one transactional file (WAL,
// synchronous=FULL) for profiles, the outbox, history, transcripts and the
// sandbox inbox. The schema evolves through an ordered list of migrations
// whose version is kept in PRAGMA user_version; every SQL statement of the
// application lives in this package.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// ErrNotFound is wrapped by errors returned for rows that do not exist.
var ErrNotFound = errors.New("not found")

// ErrSchemaTooNew is wrapped by Open when the file was written by a newer
// Herald whose schema this code does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this version of Herald")

// Store is an open Herald database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// pragmas are applied by the driver to every pooled connection, because
// synchronous, busy_timeout and foreign_keys are per-connection settings.
// _txlock=immediate makes BEGIN take the write lock at once, so two writers
// wait for each other (busy_timeout) instead of failing with SQLITE_BUSY on
// a read-to-write upgrade.
var pragmas = []string{
	"busy_timeout(5000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(1)",
}

// Open opens the database at path, creating the file (mode 0600) and its
// parent directory (mode 0700) when missing, and applies pending migrations.
// A file written by a newer schema is refused with an error wrapping
// ErrSchemaTooNew and is left untouched.
func Open(path string) (*Store, error) {
	return openWith(path, migrations)
}

func openWith(path string, steps []migration) (*Store, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("open store: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store: create directory %s: %w", filepath.Dir(abs), err)
	}
	// Create the file ourselves so it (and SQLite's -wal and -shm files,
	// which copy its mode) is readable by the owner only.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	s := &Store{db: db, path: abs}
	ctx := context.Background()
	if err := s.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if err := migrate(ctx, db, steps); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return s, nil
}

// dsn builds a SQLite URI for an absolute path: the path is escaped so that
// characters such as '?' or '#' in a directory name cannot be taken for URI
// syntax.
func dsn(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x -> /C:/x
	}
	q := url.Values{}
	for _, pr := range pragmas {
		q.Add("_pragma", pr)
	}
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// checkPragmas verifies that the settings durability depends on are in
// force, so a driver change that silently ignored them would be noticed.
func (s *Store) checkPragmas(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var sync int
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// DB returns the underlying database handle, for packages whose tables are
// added by later migrations.
func (s *Store) DB() *sql.DB { return s.db }

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the schema version recorded in the file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// FileName is the name of Herald's SQLite file inside the data directory.
const FileName = "herald.db"

// PathIn returns the path of Herald's SQLite file in data directory dir.
func PathIn(dir string) string { return filepath.Join(dir, FileName) }
