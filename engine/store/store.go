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
	"sync"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// ErrNotFound is wrapped by errors returned for rows that do not exist.
var ErrNotFound = errors.New("not found")

// ErrSchemaTooNew is wrapped by Open when the file was written by a newer
// Herald whose schema this code does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this version of Herald")

// ErrReplaced is wrapped by the errors of writes made after the database
// file, or its write-ahead log (the -wal file beside it), was deleted,
// moved or replaced while the store was open: what is committed from then
// on goes to a file nobody will read again, so a caller that records what
// it did (the queue runner) must stop.
var ErrReplaced = errors.New("the database file was removed or replaced under Herald")

// Store is an open Herald database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	// pin is a connection held open for the store's life: SQLite deletes
	// the -wal file when its last connection closes, and the identity
	// check below needs the same -wal file for as long as the store is
	// open. Holding it also keeps the files' inodes from being reused.
	pin *sql.Conn
	// dbInfo and walInfo identify the files opened (nil walInfo: none seen).
	dbInfo, walInfo os.FileInfo

	mu       sync.Mutex
	replaced error // set once the files were found replaced; sticky
	// wsem lets one write transaction of this process run at a time: the
	// others wait here and start the moment it ends, instead of in
	// SQLite's busy handler, which sleeps in growing steps (two writers of
	// one process colliding, the outbox's commits and the history's, made
	// the outbox three times slower).
	wsem chan struct{}
}

// beginWrite starts a write transaction once no other write transaction of
// this store is running. Call done after Commit or Rollback.
func (s *Store) beginWrite(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	done = func() { <-s.wsem }
	if tx, err = s.db.BeginTx(ctx, nil); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
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
	s := &Store{db: db, path: abs, wsem: make(chan struct{}, 1)}
	ctx := context.Background()
	if err := s.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, damaged(abs, err, "open store %s: %w", abs, err)
	}
	// Check the file before migrating writes anything into it. quick_check
	// reads every page, so it runs at open only for files up to
	// quickCheckMax (a one-shot send must not wait seconds on a large
	// history); in larger files damage is reported when a query meets it.
	if fi, err := os.Stat(abs); err == nil && fi.Size() <= quickCheckMax {
		if err := quickCheck(ctx, db); err != nil {
			db.Close()
			return nil, damaged(abs, err, "open store %s: %w", abs, err)
		}
	}
	if err := migrate(ctx, db, steps); err != nil {
		db.Close()
		return nil, damaged(abs, err, "open store %s: %w", abs, err)
	}
	if err := s.pinFiles(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return s, nil
}

// pinFiles holds a connection open and notes which files it opened.
func (s *Store) pinFiles(ctx context.Context) error {
	pin, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("hold a connection: %w", err)
	}
	// A read makes SQLite open (or create) the -wal file on this connection.
	var v int
	if err := pin.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		pin.Close()
		return fmt.Errorf("hold a connection: %w", err)
	}
	if s.dbInfo, err = os.Stat(s.path); err != nil {
		pin.Close()
		return fmt.Errorf("stat: %w", err)
	}
	s.pin = pin
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		s.walInfo = fi
	}
	return nil
}

// CheckFiles returns an error wrapping ErrReplaced when the database file
// or its -wal file is no longer the one the store opened (deleted, moved,
// or replaced by another file). The store's writes call it after each
// commit of the outbox; it costs two stat calls. When only the -wal file
// was deleted, it first copies what the lost file held into the database
// file (a checkpoint through the connection that still has it open), so
// what was committed is not lost; the error says whether that worked.
func (s *Store) CheckFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaced != nil {
		return s.replaced
	}
	if s.dbInfo == nil {
		return nil
	}
	fi, err := os.Stat(s.path)
	if err != nil || !os.SameFile(fi, s.dbInfo) {
		s.replaced = fmt.Errorf("store %s: %w (the file at that path is gone or is another file; what Herald recorded since may be lost: restart Herald, and check the outbox before sending again)", s.path, ErrReplaced)
		return s.replaced
	}
	if s.walInfo == nil {
		return nil
	}
	wi, err := os.Stat(s.path + "-wal")
	if err == nil && os.SameFile(wi, s.walInfo) {
		return nil
	}
	what := "saved into the database file"
	if _, err := s.pin.ExecContext(context.Background(), "PRAGMA wal_checkpoint(FULL)"); err != nil {
		what = "possibly lost (" + err.Error() + ")"
	}
	s.replaced = fmt.Errorf("store %s: %w (its write-ahead log %s was deleted or replaced; what was recorded in it was %s; restart Herald before sending again)",
		s.path, ErrReplaced, filepath.Base(s.path)+"-wal", what)
	return s.replaced
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
	if s.pin != nil {
		s.pin.Close()
	}
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

// quickCheckMax is the largest store file checked page by page at open.
const quickCheckMax = 32 << 20

// FileName is the name of Herald's SQLite file inside the data directory.
const FileName = "herald.db"

// PathIn returns the path of Herald's SQLite file in data directory dir.
func PathIn(dir string) string { return filepath.Join(dir, FileName) }
