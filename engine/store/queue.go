package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// queueSchema is the outbox part of the schema: the "queue" migration in
// migrate.go. It has shipped as a migration step: never edit it; add a step.
// Bodies live in their own table so that listing the queue never reads them.
const queueSchema = `
CREATE TABLE queue_items (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	profile       TEXT    NOT NULL,           -- profile id
	state         TEXT    NOT NULL,           -- queued, scheduled, sending, deferred, sent, failed, unknown, cancelled, held
	mail_from     TEXT    NOT NULL,
	message_id    TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	size          INTEGER NOT NULL,
	smtputf8      INTEGER NOT NULL,           -- 0 or 1
	batch         TEXT    NOT NULL,           -- bulk run id, or ''
	created_ns    INTEGER NOT NULL,
	updated_ns    INTEGER NOT NULL,
	next_ns       INTEGER NOT NULL,           -- due: send-at or next retry
	attempts      INTEGER NOT NULL DEFAULT 0,
	owner         TEXT    NOT NULL DEFAULT '',-- runner holding the claim
	lease_ns      INTEGER NOT NULL DEFAULT 0, -- claim valid until
	last_stage    TEXT    NOT NULL DEFAULT '',
	last_code     INTEGER NOT NULL DEFAULT 0,
	last_enhanced TEXT    NOT NULL DEFAULT '',
	last_error    TEXT    NOT NULL DEFAULT '',
	hint          TEXT    NOT NULL DEFAULT '',
	warned        INTEGER NOT NULL DEFAULT 0  -- delay warning emitted
);
CREATE INDEX queue_items_due ON queue_items (state, next_ns, id);
CREATE INDEX queue_items_profile ON queue_items (profile, state);
CREATE TABLE queue_bodies (
	item_id INTEGER PRIMARY KEY REFERENCES queue_items (id) ON DELETE CASCADE,
	body    BLOB    NOT NULL
);
CREATE TABLE queue_rcpts (
	item_id  INTEGER NOT NULL REFERENCES queue_items (id) ON DELETE CASCADE,
	idx      INTEGER NOT NULL,
	addr     TEXT    NOT NULL,
	state    TEXT    NOT NULL,                -- pending, accepted, rejected
	code     INTEGER NOT NULL DEFAULT 0,
	enhanced TEXT    NOT NULL DEFAULT '',
	message  TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (item_id, idx)
) WITHOUT ROWID;
`

// queueDSNSchema is the "queue DSN options" migration: a queue item's
// delivery status notification request. It has shipped as a migration
// step: never edit it; add a step.
const queueDSNSchema = `
ALTER TABLE queue_items ADD COLUMN dsn_notify TEXT NOT NULL DEFAULT ''; -- SUCCESS,FAILURE,DELAY or NEVER
ALTER TABLE queue_items ADD COLUMN dsn_ret    TEXT NOT NULL DEFAULT ''; -- full, hdrs or '' (the server's default)
ALTER TABLE queue_items ADD COLUMN dsn_envid  TEXT NOT NULL DEFAULT ''; -- envelope id, as given (not xtext)
`

// Queue item states as stored; engine/queue gives them their meaning.
const (
	QueueQueued    = "queued"
	QueueScheduled = "scheduled"
	QueueSending   = "sending"
	QueueDeferred  = "deferred"
	QueueSent      = "sent"
	QueueFailed    = "failed"
	QueueUnknown   = "unknown"
	QueueCancelled = "cancelled"
	QueueHeld      = "held"
)

// Recipient states as stored.
const (
	RcptPending  = "pending"
	RcptAccepted = "accepted"
	RcptRejected = "rejected"
)

// inlineBodyMax is the largest body returned with a claim; larger bodies are
// streamed with OpenQueueBody.
const inlineBodyMax = 64 << 10

// bodyChunk is the size of one read of a streamed body.
const bodyChunk = 64 << 10

// NewQueueItem is a rendered message to put in the outbox.
type NewQueueItem struct {
	// Profile is the sending profile's id.
	Profile string
	// From is the envelope sender.
	From string
	// To lists the envelope recipients; at least one.
	To []string
	// MessageID is the Message-ID header value.
	MessageID string
	// Subject is the decoded subject, for listings.
	Subject string
	// Body is the complete RFC 5322 message.
	Body []byte
	// SMTPUTF8 is true when the server must offer SMTPUTF8.
	SMTPUTF8 bool
	// SendAt schedules the message; zero or past means now.
	SendAt time.Time
	// Batch groups the messages of one bulk run; may be "".
	Batch string
	// DSN is the message's delivery status notification request; the
	// zero value asks for none.
	DSN QueueDSN
}

// QueueDSN is a queue item's delivery status notification request (RFC
// 3461) as stored; engine/queue checks it before it is stored.
type QueueDSN struct {
	// Notify is a comma-separated list of SUCCESS, FAILURE and DELAY, or
	// NEVER; "" leaves it to the server.
	Notify string `json:"notify,omitempty"`
	// Return is "full", "hdrs" or "" (the server's default).
	Return string `json:"ret,omitempty"`
	// EnvID is the envelope id, as given (not xtext-encoded).
	EnvID string `json:"envid,omitempty"`
}

// IsZero reports whether d asks for no notification.
func (d QueueDSN) IsZero() bool { return d == QueueDSN{} }

// String says what d asks for, e.g. "notify SUCCESS,FAILURE, return hdrs,
// envelope id 42"; "" when it asks for nothing.
func (d QueueDSN) String() string {
	var parts []string
	if d.Notify != "" {
		parts = append(parts, "notify "+d.Notify)
	}
	if d.Return != "" {
		parts = append(parts, "return "+d.Return)
	}
	if d.EnvID != "" {
		parts = append(parts, "envelope id "+d.EnvID)
	}
	return strings.Join(parts, ", ")
}

// QueueRecipient is one envelope recipient of a queue item and its outcome.
type QueueRecipient struct {
	// Addr is the RCPT TO address.
	Addr string `json:"addr"`
	// State is RcptPending, RcptAccepted or RcptRejected.
	State string `json:"state"`
	// Code is the last SMTP reply code for this recipient, or 0.
	Code int `json:"code,omitempty"`
	// Enhanced is the last enhanced status code, or "".
	Enhanced string `json:"enhanced_code,omitempty"`
	// Message is the server's last words about this recipient.
	Message string `json:"message,omitempty"`
}

// QueueItem is one message in the outbox, without its body.
type QueueItem struct {
	// ID identifies the item; ids are never reused.
	ID int64 `json:"id"`
	// Profile names the sending profile.
	Profile string `json:"profile"`
	// State is one of the Queue* constants.
	State string `json:"state"`
	// From is the envelope sender.
	From string `json:"from"`
	// MessageID is the Message-ID header value.
	MessageID string `json:"message_id"`
	// Subject is the decoded subject.
	Subject string `json:"subject"`
	// Size is the body size in bytes.
	Size int64 `json:"size"`
	// SMTPUTF8 is true when the server must offer SMTPUTF8.
	SMTPUTF8 bool `json:"smtputf8"`
	// Batch is the bulk run id, or "".
	Batch string `json:"batch,omitempty"`
	// Created is when the item was queued.
	Created time.Time `json:"created"`
	// Updated is the last state change.
	Updated time.Time `json:"updated"`
	// Next is when the item is due (send-at or next retry).
	Next time.Time `json:"next"`
	// Attempts counts delivery attempts.
	Attempts int `json:"attempts"`
	// Owner is the runner holding the claim while sending, or "".
	Owner string `json:"owner,omitempty"`
	// LeaseUntil is when the claim expires.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// LastStage is the SMTP stage of the last failure.
	LastStage string `json:"last_stage,omitempty"`
	// LastCode is the SMTP reply code of the last failure, or of the
	// server's acceptance of a sent item.
	LastCode int `json:"last_code,omitempty"`
	// LastEnhanced is the enhanced status code of the last failure (or
	// acceptance).
	LastEnhanced string `json:"last_enhanced_code,omitempty"`
	// LastError is the server's words (or the local error) of the last
	// failure; for a sent item, the server's reply to the final dot.
	LastError string `json:"last_error,omitempty"`
	// Hint is what to try about the last failure.
	Hint string `json:"hint,omitempty"`
	// Warned is true once the delay warning was given.
	Warned bool `json:"warned,omitempty"`
	// DSN is the delivery status notification request; zero for none.
	DSN QueueDSN `json:"dsn,omitzero"`
	// Recipients is filled by QueueItem and ClaimQueueItems only.
	Recipients []QueueRecipient `json:"recipients,omitempty"`
}

// ClaimedQueueItem is an item claimed for sending.
type ClaimedQueueItem struct {
	QueueItem
	// Body is the message when it is small; nil means stream it with OpenQueueBody.
	Body []byte
}

// QueueClaim says which items a runner takes.
type QueueClaim struct {
	// Owner identifies the runner; it must not be "".
	Owner string
	// Profile restricts the claim to one profile; "" claims any.
	Profile string
	// Now is the current time: items due at or before it are claimed, and so
	// are items in sending whose lease expired before it.
	Now time.Time
	// LeaseUntil is when the claim expires unless renewed.
	LeaseUntil time.Time
	// Limit is the most items to claim.
	Limit int
}

// RcptUpdate is a new outcome for one recipient of an item.
type RcptUpdate struct {
	// Addr is the recipient address as stored.
	Addr string
	// State is RcptPending, RcptAccepted or RcptRejected.
	State string
	// Code, Enhanced and Message are the server's reply.
	Code     int
	Enhanced string
	Message  string
}

// QueueCompletion is the outcome of one send attempt (or a returned claim).
type QueueCompletion struct {
	// ID is the claimed item.
	ID int64
	// State is the new state (not sending).
	State string
	// Next is when the item is due again (deferred, queued); zero leaves it.
	Next time.Time
	// Attempted counts this as a delivery attempt.
	Attempted bool
	// Stage, Code, Enhanced, Error and Hint describe the last failure; all
	// empty clears them.
	Stage    string
	Code     int
	Enhanced string
	Error    string
	Hint     string
	// Warned marks the delay warning as given.
	Warned bool
	// Rcpts are per-recipient outcomes.
	Rcpts []RcptUpdate
}

// QueueFilter selects items for ListQueueItems.
type QueueFilter struct {
	// States restricts to these states; empty means all.
	States []string
	// Profile restricts to one profile; "" means all.
	Profile string
	// Batch restricts to one bulk run; "" means all.
	Batch string
	// AfterID lists items with a larger id (paging).
	AfterID int64
	// Limit caps the result; 0 or less means no limit.
	Limit int
	// Search keeps items whose subject, sender, Message-ID or one of whose
	// recipients contains it (case-insensitive for ASCII); "" keeps all.
	Search string
	// Order is the listing order: QueueOrderID (the default, oldest
	// first), QueueOrderNewest or QueueOrderNext (soonest due first).
	Order string
	// Offset skips that many items of the ordered result (a window's
	// virtualised table reads the page it shows).
	Offset int
	// WithRecipients fills each listed item's Recipients (one more query
	// for the whole page).
	WithRecipients bool
}

// The orders of a queue listing.
const (
	QueueOrderID     = ""       // by id, oldest first
	QueueOrderNewest = "newest" // by id, newest first
	QueueOrderNext   = "next"   // by due time, soonest first
)

// ErrQueueState is wrapped when an item is not in a state the operation
// applies to.
var ErrQueueState = errors.New("not in a state this operation applies to")

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// EnqueueQueueItems stores the items durably in one transaction and returns
// their ids in order. Nothing is stored when one item is invalid.
func (s *Store) EnqueueQueueItems(ctx context.Context, now time.Time, items []NewQueueItem) ([]int64, error) {
	return s.EnqueueQueueItemsProgress(ctx, now, items, nil)
}

// EnqueueQueueItemsProgress is EnqueueQueueItems for large batches: the
// whole batch is still one transaction (all rows or none, even if the
// process dies half-way), and progress, when set, is called with the
// number of items written every 1,000 items (before the commit).
func (s *Store) EnqueueQueueItemsProgress(ctx context.Context, now time.Time, items []NewQueueItem, progress func(done int)) ([]int64, error) {
	for i, it := range items {
		switch {
		case strings.TrimSpace(it.Profile) == "":
			return nil, fmt.Errorf("enqueue: item %d: no profile", i+1)
		case len(it.To) == 0:
			return nil, fmt.Errorf("enqueue: item %d: no recipients", i+1)
		case len(it.Body) == 0:
			return nil, fmt.Errorf("enqueue: item %d: empty message", i+1)
		}
	}
	tx, done, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("enqueue: begin: %w", err)
	}
	defer done()
	defer tx.Rollback()
	insItem, err := tx.PrepareContext(ctx, `INSERT INTO queue_items
		(profile, state, mail_from, message_id, subject, size, smtputf8, batch, created_ns, updated_ns, next_ns,
		dsn_notify, dsn_ret, dsn_envid)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("enqueue: prepare: %w", err)
	}
	defer insItem.Close()
	insBody, err := tx.PrepareContext(ctx, `INSERT INTO queue_bodies (item_id, body) VALUES (?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("enqueue: prepare: %w", err)
	}
	defer insBody.Close()
	insRcpt, err := tx.PrepareContext(ctx, `INSERT INTO queue_rcpts (item_id, idx, addr, state) VALUES (?, ?, ?, 'pending')`)
	if err != nil {
		return nil, fmt.Errorf("enqueue: prepare: %w", err)
	}
	defer insRcpt.Close()
	ids := make([]int64, 0, len(items))
	nowNs := now.UnixNano()
	for i, it := range items {
		state, next := QueueQueued, nowNs
		if it.SendAt.After(now) {
			state, next = QueueScheduled, it.SendAt.UnixNano()
		}
		res, err := insItem.ExecContext(ctx, it.Profile, state, it.From, it.MessageID, it.Subject,
			len(it.Body), it.SMTPUTF8, it.Batch, nowNs, nowNs, next, it.DSN.Notify, it.DSN.Return, it.DSN.EnvID)
		if err != nil {
			return nil, fmt.Errorf("enqueue: item %d: %w", i+1, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("enqueue: item %d: read id: %w", i+1, err)
		}
		if _, err := insBody.ExecContext(ctx, id, it.Body); err != nil {
			return nil, fmt.Errorf("enqueue: item %d: body: %w", i+1, err)
		}
		for j, a := range it.To {
			if _, err := insRcpt.ExecContext(ctx, id, j, a); err != nil {
				return nil, fmt.Errorf("enqueue: item %d: recipient %s: %w", i+1, a, err)
			}
		}
		ids = append(ids, id)
		if progress != nil && len(ids)%1000 == 0 {
			progress(len(ids))
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enqueue: commit: %w", err)
	}
	if err := s.CheckFiles(); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return ids, nil
}

const itemColumns = `id, profile, state, mail_from, message_id, subject, size, smtputf8, batch,
	created_ns, updated_ns, next_ns, attempts, owner, lease_ns, last_stage, last_code, last_enhanced,
	last_error, hint, warned, dsn_notify, dsn_ret, dsn_envid`

func scanItem(r rowScanner, it *QueueItem, extra ...any) error {
	var created, updated, next, lease int64
	dest := append([]any{&it.ID, &it.Profile, &it.State, &it.From, &it.MessageID, &it.Subject, &it.Size,
		&it.SMTPUTF8, &it.Batch, &created, &updated, &next, &it.Attempts, &it.Owner, &lease,
		&it.LastStage, &it.LastCode, &it.LastEnhanced, &it.LastError, &it.Hint, &it.Warned,
		&it.DSN.Notify, &it.DSN.Return, &it.DSN.EnvID}, extra...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	it.Created, it.Updated, it.Next, it.LeaseUntil = fromNs(created), fromNs(updated), fromNs(next), fromNs(lease)
	return nil
}

// dueCondition selects items a claim at time ?1 may take: due waiting items
// and items whose claim expired (their runner died).
const dueCondition = `((state IN ('queued', 'scheduled', 'deferred') AND next_ns <= ?1)
	OR (state = 'sending' AND lease_ns < ?1))`

// DueQueueProfiles returns the profiles that have items due at now.
func (s *Store) DueQueueProfiles(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT profile FROM queue_items WHERE `+dueCondition, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("due queue profiles: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("due queue profiles: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due queue profiles: %w", err)
	}
	return out, nil
}

// NextQueueDue returns the earliest due time of a waiting item, or of a
// claim's expiry; ok is false when nothing waits.
func (s *Store) NextQueueDue(ctx context.Context) (next time.Time, ok bool, err error) {
	var v sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT min(t) FROM (
		SELECT min(next_ns) AS t FROM queue_items WHERE state IN ('queued', 'scheduled', 'deferred')
		UNION ALL SELECT min(lease_ns) FROM queue_items WHERE state = 'sending')`).Scan(&v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next queue due: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, v.Int64), true, nil
}

// ClaimQueueItems atomically moves due items to sending under c.Owner's
// lease and returns them, oldest due first, with their recipients still
// pending and, for small messages, their bodies. Two runners never claim the
// same item while its lease holds.
func (s *Store) ClaimQueueItems(ctx context.Context, c QueueClaim) ([]ClaimedQueueItem, error) {
	if c.Owner == "" {
		return nil, errors.New("claim queue items: empty owner")
	}
	if c.Limit <= 0 {
		return nil, nil
	}
	tx, done, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim queue items: begin: %w", err)
	}
	defer done()
	defer tx.Rollback()
	profileCond := ""
	args := []any{c.Now.UnixNano(), c.Owner, c.LeaseUntil.UnixNano(), c.Limit}
	if c.Profile != "" {
		profileCond = " AND profile = ?5"
		args = append(args, c.Profile)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE queue_items SET state = 'sending', owner = ?2, lease_ns = ?3, updated_ns = ?1
		WHERE id IN (SELECT id FROM queue_items WHERE `+dueCondition+profileCond+` ORDER BY next_ns, id LIMIT ?4)
		RETURNING `+itemColumns, args...)
	if err != nil {
		return nil, fmt.Errorf("claim queue items: %w", err)
	}
	var out []ClaimedQueueItem
	for rows.Next() {
		var it ClaimedQueueItem
		if err := scanItem(rows, &it.QueueItem); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim queue items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("claim queue items: %w", err)
	}
	rows.Close()
	if len(out) == 0 {
		return nil, tx.Commit()
	}
	idx := make(map[int64]int, len(out))
	ph := make([]string, len(out))
	ids := make([]any, len(out))
	for i, it := range out {
		idx[it.ID] = i
		ph[i] = "?"
		ids[i] = it.ID
	}
	in := "(" + strings.Join(ph, ",") + ")"
	rrows, err := tx.QueryContext(ctx, `SELECT item_id, addr, state, code, enhanced, message FROM queue_rcpts
		WHERE item_id IN `+in+` AND state = 'pending' ORDER BY item_id, idx`, ids...)
	if err != nil {
		return nil, fmt.Errorf("claim queue items: recipients: %w", err)
	}
	for rrows.Next() {
		var id int64
		var r QueueRecipient
		if err := rrows.Scan(&id, &r.Addr, &r.State, &r.Code, &r.Enhanced, &r.Message); err != nil {
			rrows.Close()
			return nil, fmt.Errorf("claim queue items: recipients: %w", err)
		}
		it := &out[idx[id]]
		it.Recipients = append(it.Recipients, r)
	}
	if err := rrows.Err(); err != nil {
		rrows.Close()
		return nil, fmt.Errorf("claim queue items: recipients: %w", err)
	}
	rrows.Close()
	brows, err := tx.QueryContext(ctx, `SELECT item_id, body FROM queue_bodies WHERE item_id IN `+in+
		` AND length(body) <= `+fmt.Sprint(inlineBodyMax), ids...)
	if err != nil {
		return nil, fmt.Errorf("claim queue items: bodies: %w", err)
	}
	for brows.Next() {
		var id int64
		var b []byte
		if err := brows.Scan(&id, &b); err != nil {
			brows.Close()
			return nil, fmt.Errorf("claim queue items: bodies: %w", err)
		}
		out[idx[id]].Body = b
	}
	if err := brows.Err(); err != nil {
		brows.Close()
		return nil, fmt.Errorf("claim queue items: bodies: %w", err)
	}
	brows.Close()
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim queue items: commit: %w", err)
	}
	if err := s.CheckFiles(); err != nil {
		return nil, fmt.Errorf("claim queue items: %w", err)
	}
	return out, nil
}

// RenewQueueLeases extends owner's claims on ids until the given time and
// returns how many it still held.
func (s *Store) RenewQueueLeases(ctx context.Context, owner string, ids []int64, until time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := []any{until.UnixNano(), owner}
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = "?"
		args = append(args, id)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE queue_items SET lease_ns = ? WHERE owner = ? AND state = 'sending' AND id IN (`+
		strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("renew queue leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("renew queue leases: %w", err)
	}
	return n, nil
}

// CompleteQueueItems records the outcomes of owner's claims in one
// transaction. An item no longer claimed by owner (its lease expired and
// another runner took it) is skipped and its id returned in lost.
func (s *Store) CompleteQueueItems(ctx context.Context, owner string, now time.Time, outs []QueueCompletion) (lost []int64, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	tx, done, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("complete queue items: begin: %w", err)
	}
	defer done()
	defer tx.Rollback()
	upd, err := tx.PrepareContext(ctx, `UPDATE queue_items SET state = ?1, updated_ns = ?2,
		next_ns = CASE WHEN ?3 = 0 THEN next_ns ELSE ?3 END, attempts = attempts + ?4,
		owner = '', lease_ns = 0, last_stage = ?5, last_code = ?6, last_enhanced = ?7, last_error = ?8, hint = ?9,
		warned = max(warned, ?10)
		WHERE id = ?11 AND owner = ?12 AND state = 'sending'`)
	if err != nil {
		return nil, fmt.Errorf("complete queue items: prepare: %w", err)
	}
	defer upd.Close()
	rc, err := tx.PrepareContext(ctx, `UPDATE queue_rcpts SET state = ?, code = ?, enhanced = ?, message = ?
		WHERE item_id = ? AND addr = ? AND state = 'pending'`)
	if err != nil {
		return nil, fmt.Errorf("complete queue items: prepare: %w", err)
	}
	defer rc.Close()
	for _, o := range outs {
		if o.State == QueueSending || o.State == "" {
			return nil, fmt.Errorf("complete queue item %d: invalid new state %q", o.ID, o.State)
		}
		att := 0
		if o.Attempted {
			att = 1
		}
		res, err := upd.ExecContext(ctx, o.State, now.UnixNano(), ns(o.Next), att, o.Stage, o.Code, o.Enhanced, o.Error, o.Hint, o.Warned, o.ID, owner)
		if err != nil {
			return nil, fmt.Errorf("complete queue item %d: %w", o.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("complete queue item %d: %w", o.ID, err)
		}
		if n == 0 {
			lost = append(lost, o.ID)
			continue
		}
		for _, r := range o.Rcpts {
			if _, err := rc.ExecContext(ctx, r.State, r.Code, r.Enhanced, r.Message, o.ID, r.Addr); err != nil {
				return nil, fmt.Errorf("complete queue item %d: recipient %s: %w", o.ID, r.Addr, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("complete queue items: commit: %w", err)
	}
	if err := s.CheckFiles(); err != nil {
		return nil, fmt.Errorf("complete queue items: %w", err)
	}
	return lost, nil
}

// RecoverQueue returns to queued the items left in sending by a crash:
// those whose lease expired before now and those owned by owner (this
// process in a previous run). It returns how many it recovered.
func (s *Store) RecoverQueue(ctx context.Context, owner string, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE queue_items SET state = 'queued', owner = '', lease_ns = 0, updated_ns = ?1
		WHERE state = 'sending' AND (lease_ns < ?1 OR owner = ?2)`, now.UnixNano(), owner)
	if err != nil {
		return 0, fmt.Errorf("recover queue: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("recover queue: %w", err)
	}
	return n, nil
}

// queueWhere builds the WHERE clause (after "WHERE") and its arguments for
// f; withStates false ignores f.States (counts by state).
func queueWhere(f QueueFilter, withStates bool) (string, []any) {
	q := `id > ?`
	args := []any{f.AfterID}
	if withStates && len(f.States) > 0 {
		q += ` AND state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.States)), ",") + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Profile != "" {
		q += ` AND profile = ?`
		args = append(args, f.Profile)
	}
	if f.Batch != "" {
		q += ` AND batch = ?`
		args = append(args, f.Batch)
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		pat := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
		q += ` AND (subject LIKE ? ESCAPE '\' OR mail_from LIKE ? ESCAPE '\' OR message_id LIKE ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM queue_rcpts r WHERE r.item_id = queue_items.id AND r.addr LIKE ? ESCAPE '\'))`
		args = append(args, pat, pat, pat, pat)
	}
	return q, args
}

// ListQueueItems returns items matching f in f.Order (id order by
// default), without recipients unless f.WithRecipients.
func (s *Store) ListQueueItems(ctx context.Context, f QueueFilter) ([]QueueItem, error) {
	where, args := queueWhere(f, true)
	q := `SELECT ` + itemColumns + ` FROM queue_items WHERE ` + where
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	switch f.Order {
	case QueueOrderID:
		q += ` ORDER BY id`
	case QueueOrderNewest:
		q += ` ORDER BY id DESC`
	case QueueOrderNext:
		q += ` ORDER BY next_ns, id`
	default:
		return nil, fmt.Errorf("list queue items: unknown order %q", f.Order)
	}
	q += ` LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list queue items: %w", err)
	}
	defer rows.Close()
	var out []QueueItem
	for rows.Next() {
		var it QueueItem
		if err := scanItem(rows, &it); err != nil {
			return nil, fmt.Errorf("list queue items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queue items: %w", err)
	}
	if f.WithRecipients && len(out) > 0 {
		if err := s.fillRecipients(ctx, out); err != nil {
			return nil, fmt.Errorf("list queue items: %w", err)
		}
	}
	return out, nil
}

// fillRecipients reads the recipients of items in one query.
func (s *Store) fillRecipients(ctx context.Context, items []QueueItem) error {
	at := make(map[int64]int, len(items))
	args := make([]any, len(items))
	for i, it := range items {
		at[it.ID] = i
		args[i] = it.ID
	}
	rows, err := s.db.QueryContext(ctx, `SELECT item_id, addr, state, code, enhanced, message FROM queue_rcpts
		WHERE item_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(items)), ",")+`) ORDER BY item_id, idx`, args...)
	if err != nil {
		return fmt.Errorf("recipients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r QueueRecipient
		if err := rows.Scan(&id, &r.Addr, &r.State, &r.Code, &r.Enhanced, &r.Message); err != nil {
			return fmt.Errorf("recipients: %w", err)
		}
		if i, ok := at[id]; ok {
			items[i].Recipients = append(items[i].Recipients, r)
		}
	}
	return rows.Err()
}

// CountQueueFiltered returns the number of items in each state among those
// f selects, f.States aside (a listing's counts by state, and with the
// states it shows, its length).
func (s *Store) CountQueueFiltered(ctx context.Context, f QueueFilter) (map[string]int, error) {
	where, args := queueWhere(f, false)
	rows, err := s.db.QueryContext(ctx, `SELECT state, count(*) FROM queue_items WHERE `+where+` GROUP BY state`, args...)
	if err != nil {
		return nil, fmt.Errorf("count queue items: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count queue items: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count queue items: %w", err)
	}
	return out, nil
}

// QueueBatches returns the bulk run ids that have items, newest first.
func (s *Store) QueueBatches(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT batch FROM queue_items WHERE batch != '' GROUP BY batch ORDER BY max(id) DESC`)
	if err != nil {
		return nil, fmt.Errorf("queue batches: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("queue batches: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue batches: %w", err)
	}
	return out, nil
}

// CountQueueItems returns the number of items in each state.
func (s *Store) CountQueueItems(ctx context.Context) (map[string]int, error) {
	return s.CountQueueFiltered(ctx, QueueFilter{})
}

// QueueItem returns the item with its recipients; a missing id yields an
// error wrapping ErrNotFound.
func (s *Store) QueueItem(ctx context.Context, id int64) (*QueueItem, error) {
	var it QueueItem
	err := scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM queue_items WHERE id = ?`, id), &it)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queue item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue item %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT addr, state, code, enhanced, message FROM queue_rcpts WHERE item_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("queue item %d: recipients: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r QueueRecipient
		if err := rows.Scan(&r.Addr, &r.State, &r.Code, &r.Enhanced, &r.Message); err != nil {
			return nil, fmt.Errorf("queue item %d: recipients: %w", id, err)
		}
		it.Recipients = append(it.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue item %d: recipients: %w", id, err)
	}
	return &it, nil
}

// SetQueueState moves item id from one of the states in from to state to,
// with due time next (zero leaves it). A held item released with to ==
// "release" goes back to queued, scheduled or deferred by its due time.
// The error wraps ErrQueueState when the item is in another state and
// ErrNotFound when it does not exist.
func (s *Store) SetQueueState(ctx context.Context, id int64, from []string, to string, next, now time.Time) error {
	if len(from) == 0 {
		return errors.New("set queue state: no source states")
	}
	newState := `?1`
	if to == "release" {
		newState = `CASE WHEN next_ns > ?2 AND attempts > 0 THEN 'deferred' WHEN next_ns > ?2 THEN 'scheduled' ELSE 'queued' END`
	}
	args := []any{to, now.UnixNano(), ns(next), id}
	ph := make([]string, len(from))
	for i, f := range from {
		ph[i] = fmt.Sprintf("?%d", 5+i)
		args = append(args, f)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE queue_items SET state = `+newState+`, updated_ns = ?2,
		next_ns = CASE WHEN ?3 = 0 THEN next_ns ELSE ?3 END
		WHERE id = ?4 AND state IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return fmt.Errorf("queue item %d: set %s: %w", id, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("queue item %d: set %s: %w", id, to, err)
	}
	if n == 1 {
		return nil
	}
	var cur string
	err = s.db.QueryRowContext(ctx, `SELECT state FROM queue_items WHERE id = ?`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("queue item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("queue item %d: %w", id, err)
	}
	return fmt.Errorf("queue item %d is %s: %w (%s needs %s)", id, cur, ErrQueueState, to, strings.Join(from, " or "))
}

// PurgeQueueItems deletes the items in the given states last changed before
// the given time (zero: any time), with their bodies and recipients, and
// returns how many it deleted. Items in sending are never purged.
func (s *Store) PurgeQueueItems(ctx context.Context, states []string, before time.Time) (int64, error) {
	if len(states) == 0 {
		return 0, errors.New("purge queue: no states")
	}
	args := []any{}
	for _, st := range states {
		if st == QueueSending {
			return 0, errors.New("purge queue: items in sending cannot be purged")
		}
		args = append(args, st)
	}
	q := `DELETE FROM queue_items WHERE state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(states)), ",") + `)`
	if !before.IsZero() {
		q += ` AND updated_ns < ?`
		args = append(args, before.UnixNano())
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("purge queue: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge queue: %w", err)
	}
	return n, nil
}

// QueueBody is a streaming reader over a stored message body: it reads the
// BLOB in 64 KiB chunks, so a large message never sits in memory whole.
type QueueBody struct {
	ctx  context.Context
	s    *Store
	id   int64
	size int64
	off  int64
	buf  []byte
}

// OpenQueueBody returns a reader over item id's body; a missing id yields an
// error wrapping ErrNotFound.
func (s *Store) OpenQueueBody(ctx context.Context, id int64) (*QueueBody, error) {
	var size int64
	err := s.db.QueryRowContext(ctx, `SELECT length(body) FROM queue_bodies WHERE item_id = ?`, id).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queue body %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue body %d: %w", id, err)
	}
	return &QueueBody{ctx: ctx, s: s, id: id, size: size}, nil
}

// Size returns the body's length in bytes.
func (b *QueueBody) Size() int64 { return b.size }

// Read implements io.Reader.
func (b *QueueBody) Read(p []byte) (int, error) {
	if len(b.buf) == 0 {
		if b.off >= b.size {
			return 0, io.EOF
		}
		var chunk []byte
		// substr on a BLOB counts bytes, from 1.
		err := b.s.db.QueryRowContext(b.ctx, `SELECT substr(body, ?, ?) FROM queue_bodies WHERE item_id = ?`,
			b.off+1, bodyChunk, b.id).Scan(&chunk)
		if err != nil {
			return 0, fmt.Errorf("queue body %d at %d: %w", b.id, b.off, err)
		}
		if len(chunk) == 0 {
			return 0, fmt.Errorf("queue body %d at %d: %w", b.id, b.off, io.ErrUnexpectedEOF)
		}
		b.off += int64(len(chunk))
		b.buf = chunk
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// QueueOwners returns the owners of items in sending.
func (s *Store) QueueOwners(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT owner FROM queue_items WHERE state = 'sending'`)
	if err != nil {
		return nil, fmt.Errorf("queue owners: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("queue owners: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ReleaseQueueClaims hands owner's claims on ids back without recording an
// attempt: the items return to state (queued or deferred) due at next, their
// last failure kept as it was.
func (s *Store) ReleaseQueueClaims(ctx context.Context, owner string, ids []int64, state string, next, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if state != QueueQueued && state != QueueDeferred {
		return fmt.Errorf("release queue claims: invalid state %q", state)
	}
	args := []any{state, ns(next), now.UnixNano(), owner}
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = "?"
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE queue_items SET state = ?, next_ns = ?, updated_ns = ?, owner = '', lease_ns = 0
		WHERE owner = ? AND state = 'sending' AND id IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return fmt.Errorf("release queue claims: %w", err)
	}
	return nil
}
