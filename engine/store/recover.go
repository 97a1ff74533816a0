package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RecoverReport says what Recover did.
type RecoverReport struct {
	// Path is the fresh database, at the damaged one's place.
	Path string `json:"path"`
	// DamagedPath is where the damaged file was moved; it is kept as it
	// was, never changed or deleted.
	DamagedPath string `json:"damaged_path"`
	// Moved lists every file moved aside (the database and its -wal and
	// -shm files when they existed).
	Moved []string `json:"moved"`
	// Unreadable says why nothing at all could be read from the damaged
	// file (a garbage header, say); "" when its tables could be read.
	Unreadable string `json:"unreadable,omitempty"`
	// Tables reports each table of the fresh database.
	Tables []TableRecovery `json:"tables"`
}

// Copied returns how many rows were copied in all.
func (r *RecoverReport) Copied() int {
	n := 0
	for _, t := range r.Tables {
		n += t.Copied
	}
	return n
}

// TableRecovery is what could be copied of one table.
type TableRecovery struct {
	// Name is the table.
	Name string `json:"name"`
	// Copied counts the rows copied into the fresh database.
	Copied int `json:"copied"`
	// Skipped counts rows that were read but not kept, such as the
	// recipients of a message whose row was lost.
	Skipped int `json:"skipped,omitempty"`
	// Damaged counts the unreadable stretches of the table that were
	// skipped (how many rows they held cannot be known).
	Damaged int `json:"damaged,omitempty"`
	// Problem is the first error met, or "".
	Problem string `json:"problem,omitempty"`
}

// Recover repairs the database at path, which Open refused as damaged: it
// moves the file (and its -wal and -shm files) aside to
// path.damaged-YYYYMMDD-HHMMSS, never overwriting or deleting anything,
// creates a fresh store at path, and copies into it, row by row and table
// by table, what can still be read from a copy of the damaged file,
// skipping the unreadable pages. Every process using the database must
// be stopped first. The fresh store is closed when Recover returns.
func Recover(path string) (*RecoverReport, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("recover %s: %w", abs, err)
	}
	rep := &RecoverReport{Path: abs}
	dest, err := asideName(abs, time.Now())
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", abs, err)
	}
	rep.DamagedPath = dest
	for _, suffix := range []string{"", "-wal", "-shm"} {
		from := abs + suffix
		if _, err := os.Lstat(from); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(from, dest+suffix); err != nil {
			return rep, fmt.Errorf("recover %s: move %s aside: %w", abs, from, err)
		}
		rep.Moved = append(rep.Moved, dest+suffix)
	}

	// Read from a copy, so that SQLite's own recovery of the -wal file
	// never writes into the file kept aside.
	work, err := os.MkdirTemp(filepath.Dir(abs), ".herald-recover-")
	if err != nil {
		return rep, fmt.Errorf("recover %s: %w", abs, err)
	}
	defer os.RemoveAll(work)
	copyPath := filepath.Join(work, "damaged.db")
	for _, suffix := range []string{"", "-wal"} {
		if _, err := os.Stat(dest + suffix); err != nil {
			continue
		}
		if err := copyFileTo(dest+suffix, copyPath+suffix); err != nil {
			return rep, fmt.Errorf("recover %s: copy the damaged file: %w", abs, err)
		}
	}

	fresh, err := Open(abs)
	if err != nil {
		return rep, fmt.Errorf("recover %s: create a fresh database: %w", abs, err)
	}
	defer fresh.Close()

	p := filepath.ToSlash(copyPath)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	// writable_schema makes SQLite read a file shorter than its header
	// says (truncated) instead of refusing it; nothing is written to it.
	u := url.URL{Scheme: "file", Path: p, RawQuery: "_pragma=busy_timeout(5000)&_pragma=writable_schema(1)"}
	old, err := sql.Open("sqlite", u.String())
	if err != nil {
		return rep, fmt.Errorf("recover %s: %w", abs, err)
	}
	defer old.Close()
	old.SetMaxOpenConns(1)
	ctx := context.Background()
	if err := salvage(ctx, old, fresh.db, rep); err != nil {
		return rep, fmt.Errorf("recover %s: %w", abs, err)
	}
	return rep, nil
}

// asideName returns path.damaged-YYYYMMDD-HHMMSS, with -2, -3... added
// when that name (or its -wal or -shm) is taken.
func asideName(path string, now time.Time) (string, error) {
	base := path + ".damaged-" + now.Format("20060102-150405")
	for i := 1; i < 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		free := true
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Lstat(name + suffix); !errors.Is(err, os.ErrNotExist) {
				free = false
			}
		}
		if free {
			return name, nil
		}
	}
	return "", errors.New("no free name to move the damaged file to")
}

func copyFileTo(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tableInfo is what salvage needs to know of a table of the fresh schema.
type tableInfo struct {
	name    string
	cols    []string // columns of the fresh table
	rowid   bool     // false: WITHOUT ROWID, keyed by pk
	pk      []string // WITHOUT ROWID primary key, in key order
	parents int      // tables it references
}

// salvage copies what it can read of every table of the fresh schema
// from old into fresh, parents before the tables that reference them.
func salvage(ctx context.Context, old, fresh *sql.DB, rep *RecoverReport) error {
	tables, err := freshTables(ctx, fresh)
	if err != nil {
		return err
	}
	if _, err := old.ExecContext(ctx, "SELECT count(*) FROM sqlite_schema"); err != nil {
		rep.Unreadable = sqliteMessage(err)
		for _, t := range tables {
			rep.Tables = append(rep.Tables, TableRecovery{Name: t.name, Problem: "not read: " + rep.Unreadable})
		}
		return nil
	}
	for _, t := range tables {
		rep.Tables = append(rep.Tables, copyTable(ctx, old, fresh, t))
	}
	// Keep ids growing past those of lost rows (AUTOINCREMENT ids are never
	// reused).
	if rows, err := old.QueryContext(ctx, "SELECT name, seq FROM sqlite_sequence"); err == nil {
		seqs := map[string]int64{}
		for rows.Next() {
			var name string
			var seq int64
			if rows.Scan(&name, &seq) == nil {
				seqs[name] = seq
			}
		}
		rows.Close()
		for name, seq := range seqs {
			res, err := fresh.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", seq, name)
			if err != nil {
				continue
			}
			if n, _ := res.RowsAffected(); n == 0 {
				fresh.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)", name, seq, name)
			}
		}
	}
	return nil
}

func freshTables(ctx context.Context, db *sql.DB) ([]tableInfo, error) {
	rows, err := db.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read the fresh schema: %w", err)
	}
	var tables []tableInfo
	for rows.Next() {
		var t tableInfo
		var ddl string
		if err := rows.Scan(&t.name, &ddl); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the fresh schema: %w", err)
		}
		t.rowid = !strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID")
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the fresh schema: %w", err)
	}
	for i := range tables {
		t := &tables[i]
		cols, err := db.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", t.name)
		if err != nil {
			return nil, fmt.Errorf("read the fresh schema of %s: %w", t.name, err)
		}
		pk := map[int]string{}
		for cols.Next() {
			var name string
			var k int
			if err := cols.Scan(&name, &k); err != nil {
				cols.Close()
				return nil, fmt.Errorf("read the fresh schema of %s: %w", t.name, err)
			}
			t.cols = append(t.cols, name)
			if k > 0 {
				pk[k] = name
			}
		}
		cols.Close()
		for k := 1; k <= len(pk); k++ {
			t.pk = append(t.pk, pk[k])
		}
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_list(?)", t.name).Scan(&t.parents); err != nil {
			return nil, fmt.Errorf("read the fresh schema of %s: %w", t.name, err)
		}
	}
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].parents < tables[j].parents })
	return tables, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// copyTable copies the rows of one table it can read, in key order, in
// pages; an unreadable stretch is stepped over by seeking past it.
func copyTable(ctx context.Context, old, fresh *sql.DB, t tableInfo) TableRecovery {
	res := TableRecovery{Name: t.name}
	problem := func(err error) {
		if res.Problem == "" {
			res.Problem = sqliteMessage(err)
		}
	}
	// The columns both versions of the table have.
	oldCols := map[string]bool{}
	rows, err := old.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", t.name)
	if err != nil {
		problem(err)
		return res
	}
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			oldCols[n] = true
		}
	}
	rows.Close()
	if len(oldCols) == 0 {
		if res.Problem == "" {
			res.Problem = "not in the damaged file"
		}
		return res
	}
	var cols []string
	for _, c := range t.cols {
		if oldCols[c] {
			cols = append(cols, quoteIdent(c))
		}
	}
	key := []string{"rowid"}
	if !t.rowid {
		key = nil
		for _, k := range t.pk {
			key = append(key, quoteIdent(k))
		}
		if len(key) == 0 {
			res.Problem = "no key to read it by"
			return res
		}
	}
	nk := len(key)
	keyList := strings.Join(key, ", ")
	ins := "INSERT OR IGNORE INTO " + quoteIdent(t.name) + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	sel := "SELECT " + keyList + ", " + strings.Join(cols, ", ") + " FROM " + quoteIdent(t.name)
	const page = 500

	// Each round reads up to page rows after the key last (nil: from the
	// start); from, when set, is a first-key-column lower bound instead.
	var last []any
	var from *int64
	for steps := 0; steps < 1_000_000; steps++ {
		q, args := sel, []any(nil)
		switch {
		case from != nil:
			q += " WHERE " + key[0] + " >= ?"
			args = []any{*from}
		case last != nil:
			q += " WHERE (" + keyList + ") > (" + strings.TrimSuffix(strings.Repeat("?, ", nk), ", ") + ")"
			args = last
		}
		q += " ORDER BY " + keyList + " LIMIT " + fmt.Sprint(page)
		n, newLast, rerr := copyPage(ctx, old, fresh, q, args, nk, ins, &res)
		if n > 0 {
			last, from = newLast, nil
		}
		if rerr == nil {
			if n < page {
				return res
			}
			continue
		}
		problem(rerr)
		// Unreadable: find the first readable row after the last one read.
		var after int64 = math.MinInt64
		if n == 0 && from != nil {
			after = *from
		} else if last != nil {
			v, ok := last[0].(int64)
			if !ok {
				return res // cannot seek past a non-integer key
			}
			after = v
		}
		next, ok := seekPast(ctx, old, t.name, key[0], after)
		res.Damaged++
		if !ok {
			return res
		}
		from = &next
		if last != nil && !t.rowid {
			// The rest of the rows sharing last's first key column are
			// given up with the damaged stretch.
			last = nil
		}
	}
	return res
}

// copyPage runs one read and inserts its rows; it returns how many rows
// it read, the key of the last one, and the error that ended the read.
func copyPage(ctx context.Context, old, fresh *sql.DB, q string, args []any, nk int, ins string, res *TableRecovery) (int, []any, error) {
	rows, err := old.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	colNames, err := rows.Columns()
	if err != nil {
		return 0, nil, err
	}
	tx, err := fresh.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, ins)
	if err != nil {
		return 0, nil, err
	}
	defer stmt.Close()
	n := 0
	var last []any
	vals := make([]any, len(colNames))
	ptrs := make([]any, len(colNames))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tx.Commit()
			return n, last, err
		}
		n++
		last = append([]any(nil), vals[:nk]...)
		r, err := stmt.ExecContext(ctx, vals[nk:]...)
		if err != nil {
			res.Skipped++ // e.g. a recipient whose message was lost
			if res.Problem == "" {
				res.Problem = sqliteMessage(err)
			}
			continue
		}
		if k, _ := r.RowsAffected(); k == 0 {
			res.Skipped++
			continue
		}
		res.Copied++
	}
	readErr := rows.Err()
	if err := tx.Commit(); err != nil {
		return n, last, err
	}
	return n, last, readErr
}

// seekPast finds the smallest start s > after such that reading the table
// from key >= s works; ok is false when no readable row is left.
func seekPast(ctx context.Context, old *sql.DB, table, key string, after int64) (int64, bool) {
	probe := func(s int64) (works bool) {
		var v any
		err := old.QueryRowContext(ctx, "SELECT "+key+" FROM "+quoteIdent(table)+" WHERE "+key+" >= ? ORDER BY "+key+" LIMIT 1", s).Scan(&v)
		return err == nil || errors.Is(err, sql.ErrNoRows)
	}
	if after == math.MinInt64 {
		after = -1 << 62
	}
	bad := after
	var good int64
	found := false
	for step := int64(1); step > 0 && step < 1<<62; step *= 2 {
		s := after + step
		if s <= after {
			break
		}
		if probe(s) {
			good, found = s, true
			break
		}
		bad = s
	}
	if !found {
		return 0, false
	}
	for good-bad > 1 {
		mid := bad + (good-bad)/2
		if probe(mid) {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, true
}
