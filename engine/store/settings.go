package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const settingsSchema = `
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
CREATE TABLE profile_tests (
	profile   TEXT PRIMARY KEY,
	tested_ns INTEGER NOT NULL,
	ok        INTEGER NOT NULL,
	summary   TEXT NOT NULL,
	report    TEXT NOT NULL
) STRICT;
`

// Setting returns the value of a named setting, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %q: %w", name, err)
	}
	return v, nil
}

// SetSetting stores a named setting; an empty value deletes it.
func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	var err error
	if value == "" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, name)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	}
	if err != nil {
		return fmt.Errorf("store setting %q: %w", name, err)
	}
	return nil
}

// ProfileTest is the last connection test of a profile.
type ProfileTest struct {
	Profile string
	Tested  time.Time
	OK      bool
	// Summary says the outcome in a few words ("passed", "failed at auth").
	Summary string
	// Report is the whole report, as JSON.
	Report []byte
}

// SetProfileTest records a profile's latest connection test over the
// previous one.
func (s *Store) SetProfileTest(ctx context.Context, t ProfileTest) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO profile_tests (profile, tested_ns, ok, summary, report) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (profile) DO UPDATE SET tested_ns = excluded.tested_ns, ok = excluded.ok, summary = excluded.summary, report = excluded.report`,
		t.Profile, ns(t.Tested), t.OK, t.Summary, string(t.Report))
	if err != nil {
		return fmt.Errorf("record the test of profile %s: %w", t.Profile, err)
	}
	return nil
}

// ProfileTest returns a profile's latest connection test, or ErrNotFound.
func (s *Store) ProfileTest(ctx context.Context, profile string) (*ProfileTest, error) {
	t := &ProfileTest{Profile: profile}
	var tested int64
	var report string
	err := s.db.QueryRowContext(ctx, `SELECT tested_ns, ok, summary, report FROM profile_tests WHERE profile = ?`, profile).Scan(&tested, &t.OK, &t.Summary, &report)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("test of profile %s: %w", profile, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read the test of profile %s: %w", profile, err)
	}
	t.Tested, t.Report = fromNs(tested), []byte(report)
	return t, nil
}
