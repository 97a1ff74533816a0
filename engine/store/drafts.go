package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// draftsSchema is the "drafts" migration: messages being written, kept
// until they are sent, queued or discarded. The draft itself is a JSON
// document owned by the caller; profile, subject and recipients are copies
// for listings.
const draftsSchema = `
CREATE TABLE drafts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	profile    TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	recipients TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	created_ns INTEGER NOT NULL,
	updated_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX drafts_updated ON drafts (updated_ns DESC, id DESC);
`

// DraftRow is one stored draft.
type DraftRow struct {
	// ID is 0 for a draft not stored yet.
	ID int64
	// Profile names the profile it is written for ("" : the sandbox).
	Profile string
	// Subject and Recipients describe it in listings (Recipients is a
	// short summary such as "ann@example.com and 2 more").
	Subject, Recipients string
	// Data is the whole draft as its owner encodes it; ListDrafts leaves
	// it nil.
	Data    []byte
	Created time.Time
	Updated time.Time
}

// SaveDraft stores r: a new draft when r.ID is 0, else over the draft with
// that id (an error wrapping ErrNotFound when it is gone). It returns the
// draft's id.
func (s *Store) SaveDraft(ctx context.Context, r DraftRow) (int64, error) {
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	if r.ID == 0 {
		if r.Created.IsZero() {
			r.Created = r.Updated
		}
		res, err := s.db.ExecContext(ctx, `INSERT INTO drafts (profile, subject, recipients, data, created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?)`,
			r.Profile, r.Subject, r.Recipients, r.Data, ns(r.Created), ns(r.Updated))
		if err != nil {
			return 0, fmt.Errorf("save draft: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("save draft: %w", err)
		}
		return id, nil
	}
	res, err := s.db.ExecContext(ctx, `UPDATE drafts SET profile = ?, subject = ?, recipients = ?, data = ?, updated_ns = ? WHERE id = ?`,
		r.Profile, r.Subject, r.Recipients, r.Data, ns(r.Updated), r.ID)
	if err != nil {
		return 0, fmt.Errorf("save draft %d: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("save draft %d: %w", r.ID, ErrNotFound)
	}
	return r.ID, nil
}

// ListDrafts returns up to limit drafts (at most 1,000), the most recently
// changed first, after skipping offset; Data is not read.
func (s *Store) ListDrafts(ctx context.Context, limit, offset int) ([]DraftRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, profile, subject, recipients, created_ns, updated_ns FROM drafts
		ORDER BY updated_ns DESC, id DESC LIMIT ? OFFSET ?`, limit, max(offset, 0))
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	defer rows.Close()
	var out []DraftRow
	for rows.Next() {
		var r DraftRow
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.Profile, &r.Subject, &r.Recipients, &created, &updated); err != nil {
			return nil, fmt.Errorf("list drafts: %w", err)
		}
		r.Created, r.Updated = fromNs(created), fromNs(updated)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	return out, nil
}

// Draft returns the draft with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) Draft(ctx context.Context, id int64) (*DraftRow, error) {
	r := &DraftRow{ID: id}
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT profile, subject, recipients, data, created_ns, updated_ns FROM drafts WHERE id = ?`, id).
		Scan(&r.Profile, &r.Subject, &r.Recipients, &r.Data, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("draft %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read draft %d: %w", id, err)
	}
	r.Created, r.Updated = fromNs(created), fromNs(updated)
	return r, nil
}

// DeleteDraft removes the draft with the given id; an error wraps
// ErrNotFound when there is none.
func (s *Store) DeleteDraft(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM drafts WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete draft %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete draft %d: %w", id, ErrNotFound)
	}
	return nil
}
