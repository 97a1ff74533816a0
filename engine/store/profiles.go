package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// profilesSchema is the "profiles" migration. The settings are a JSON
// document owned by engine/account; secrets are never in it (they live in
// the OS keychain under the profile's id).
const profilesSchema = `
CREATE TABLE profiles (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	data       TEXT    NOT NULL,
	created_ns INTEGER NOT NULL,
	updated_ns INTEGER NOT NULL
);
`

// ErrExists is wrapped by errors for a row whose unique key is taken.
var ErrExists = errors.New("already exists")

// ProfileRow is one stored account profile: its identity and its settings
// as engine/account encodes them.
type ProfileRow struct {
	// ID is the profile's stable identifier (keychain entries use it).
	ID string
	// Name is unique, compared without regard to case.
	Name string
	// Data is the JSON of the profile's settings, without secrets.
	Data    []byte
	Created time.Time
	Updated time.Time
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// InsertProfile stores a new profile durably. A taken name or id gives an
// error wrapping ErrExists.
func (s *Store) InsertProfile(ctx context.Context, r ProfileRow) error {
	if r.ID == "" || r.Name == "" {
		return errors.New("insert profile: empty id or name")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO profiles (id, name, data, created_ns, updated_ns) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Name, string(r.Data), r.Created.UnixNano(), r.Updated.UnixNano())
	if isUniqueViolation(err) {
		return fmt.Errorf("insert profile %q: %w", r.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert profile %q: %w", r.Name, err)
	}
	return nil
}

// UpdateProfile replaces the name and settings of the profile with r.ID.
func (s *Store) UpdateProfile(ctx context.Context, r ProfileRow) error {
	res, err := s.db.ExecContext(ctx, `UPDATE profiles SET name = ?, data = ?, updated_ns = ? WHERE id = ?`,
		r.Name, string(r.Data), r.Updated.UnixNano(), r.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("rename profile to %q: %w", r.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("update profile %q: %w", r.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update profile %q: %w", r.Name, ErrNotFound)
	}
	return nil
}

const profileCols = `id, name, data, created_ns, updated_ns`

func scanProfile(sc interface{ Scan(...any) error }) (*ProfileRow, error) {
	var r ProfileRow
	var data string
	var c, u int64
	if err := sc.Scan(&r.ID, &r.Name, &data, &c, &u); err != nil {
		return nil, err
	}
	r.Data, r.Created, r.Updated = []byte(data), time.Unix(0, c), time.Unix(0, u)
	return &r, nil
}

// ProfileByName returns the profile named name (any case).
func (s *Store) ProfileByName(ctx context.Context, name string) (*ProfileRow, error) {
	r, err := scanProfile(s.db.QueryRowContext(ctx, `SELECT `+profileCols+` FROM profiles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("profile %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read profile %q: %w", name, err)
	}
	return r, nil
}

// ProfileByID returns the profile with id.
func (s *Store) ProfileByID(ctx context.Context, id string) (*ProfileRow, error) {
	r, err := scanProfile(s.db.QueryRowContext(ctx, `SELECT `+profileCols+` FROM profiles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("profile id %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read profile id %q: %w", id, err)
	}
	return r, nil
}

// Profiles returns every profile, ordered by name.
func (s *Store) Profiles(ctx context.Context) ([]ProfileRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+profileCols+` FROM profiles ORDER BY name COLLATE NOCASE`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	var out []ProfileRow
	for rows.Next() {
		r, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return out, nil
}

// DeleteProfile removes the profile with id.
func (s *Store) DeleteProfile(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM profiles WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete profile %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete profile %s: %w", id, ErrNotFound)
	}
	return nil
}
