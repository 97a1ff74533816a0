package store

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

// historySchema is the sent-mail history: the "history" migration in
// migrate.go. Once shipped, never edit it; add a step.
//
// A session's transcript is stored once, in history_sessions, and every
// message the session carried refers to it, so an outbox session of
// thousands of messages costs one transcript. Bodies and recipients live in
// their own tables so that listing reads narrow rows; they go with their
// message (ON DELETE CASCADE). The search text lives in a narrow table in
// newest-first order with the profile and state, so that a text search scans
// it without touching the messages and stops once a page is full; the purges
// delete its rows with their messages.
const historySchema = `
CREATE TABLE history_sessions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	started_ns   INTEGER NOT NULL,
	finished_ns  INTEGER NOT NULL,
	profile      TEXT    NOT NULL,           -- profile id, or ''
	profile_name TEXT    NOT NULL,           -- its name at the time
	server       TEXT    NOT NULL,           -- host:port
	tls          TEXT    NOT NULL,           -- summary, '' without TLS
	error        TEXT    NOT NULL,           -- session-level failure, or ''
	messages     INTEGER NOT NULL,
	failures     INTEGER NOT NULL,           -- messages not in state sent
	transcript   BLOB                        -- NULL when not kept; codec byte + data
);
CREATE TABLE history_messages (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id   INTEGER NOT NULL REFERENCES history_sessions (id),
	queued_ns    INTEGER NOT NULL,
	started_ns   INTEGER NOT NULL,
	finished_ns  INTEGER NOT NULL,
	profile      TEXT    NOT NULL,
	profile_name TEXT    NOT NULL,
	message_id   TEXT    NOT NULL,
	mail_from    TEXT    NOT NULL,
	rcpts        TEXT    NOT NULL,           -- envelope recipients, one per line
	rcpt_count   INTEGER NOT NULL,
	accepted     INTEGER NOT NULL,           -- recipients the server accepted
	subject      TEXT    NOT NULL,
	size         INTEGER NOT NULL,
	state        TEXT    NOT NULL,           -- sent, partial, failed, deferred, unknown
	stage        TEXT    NOT NULL,
	code         INTEGER NOT NULL,
	enhanced     TEXT    NOT NULL,
	error        TEXT    NOT NULL,
	queued_as    TEXT    NOT NULL,
	attempt      INTEGER NOT NULL,
	queue_item   INTEGER NOT NULL            -- outbox item id, 0 for a direct send
);
CREATE INDEX history_messages_time ON history_messages (finished_ns);
CREATE INDEX history_messages_profile ON history_messages (profile, finished_ns);
CREATE INDEX history_messages_state ON history_messages (state, finished_ns);
CREATE INDEX history_messages_profile_state ON history_messages (profile, state, finished_ns);
CREATE INDEX history_messages_session ON history_messages (session_id);
CREATE TABLE history_rcpts (
	message_id INTEGER NOT NULL REFERENCES history_messages (id) ON DELETE CASCADE,
	idx        INTEGER NOT NULL,
	addr       TEXT    NOT NULL,
	accepted   INTEGER NOT NULL,
	code       INTEGER NOT NULL,
	enhanced   TEXT    NOT NULL,
	message    TEXT    NOT NULL,
	PRIMARY KEY (message_id, idx)
) WITHOUT ROWID;
CREATE TABLE history_bodies (
	message_id INTEGER PRIMARY KEY REFERENCES history_messages (id) ON DELETE CASCADE,
	body       BLOB    NOT NULL              -- codec byte + data
);
CREATE TABLE history_search (
	finished_ns INTEGER NOT NULL,            -- as history_messages: newest-first scans stop at a page
	id          INTEGER NOT NULL,            -- history_messages.id; deleted with it by the purges
	profile     TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	queued_ns   INTEGER NOT NULL,            -- for the daily statistics
	txt         TEXT    NOT NULL,            -- lower-cased from, recipients, subject, message id
	PRIMARY KEY (finished_ns, id)
) WITHOUT ROWID;
`

// historySpoolSchema is the "history spool ids" migration: the id of the
// spool record a session was imported from (NULL for a session recorded
// directly; SQLite's UNIQUE allows any number of NULLs). It has shipped as
// a migration step: never edit it; add a step.
const historySpoolSchema = `
ALTER TABLE history_sessions ADD COLUMN spool_id TEXT;
CREATE UNIQUE INDEX history_sessions_spool ON history_sessions (spool_id);
`

// Blob codecs: the first byte of a stored body or transcript.
const (
	codecRaw     = 0
	codecDeflate = 1
)

// compressMin is the smallest blob worth compressing.
const compressMin = 1024

// HistorySession is one SMTP session that carried history messages.
type HistorySession struct {
	// ID is assigned by AddHistory.
	ID int64
	// Started and Finished bound the session.
	Started, Finished time.Time
	// Profile is the profile id ("" for an ad-hoc server), ProfileName its
	// name at the time.
	Profile, ProfileName string
	// Server is host:port.
	Server string
	// TLS summarises the connection's TLS ("" without TLS).
	TLS string
	// Error is a failure of the session itself (connect, TLS, auth), or "".
	Error string
	// Transcript is the session's protocol log; nil stores none.
	Transcript []transcript.Event
	// Messages and Failures count the messages recorded with it (set by
	// AddHistory and when read).
	Messages, Failures int
	// HasTranscript is true when a transcript is stored (read side).
	HasTranscript bool
	// SpoolID is the id of the spool record the session comes from, ""
	// for one recorded directly. AddHistories skips a session whose
	// SpoolID the history already holds (its ID and its messages' IDs stay
	// 0), so that a spool record is imported once.
	SpoolID string
}

// HistoryRcpt is one envelope recipient of a history message and its outcome.
type HistoryRcpt struct {
	Addr     string `json:"addr"`
	Accepted bool   `json:"accepted"`
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced_code,omitempty"`
	Message  string `json:"message,omitempty"`
}

// HistoryEntry is one message in the history.
type HistoryEntry struct {
	// ID is assigned by AddHistory; ids are never reused.
	ID int64
	// SessionID is the session that carried it.
	SessionID int64
	// Queued, Started and Finished time the message: queued (or handed to
	// the sender), its send began, its outcome was known.
	Queued, Started, Finished time.Time
	// Profile and ProfileName as in HistorySession.
	Profile, ProfileName string
	// MessageID, From and Subject describe the message.
	MessageID, From, Subject string
	// To lists the envelope recipients.
	To []string
	// Accepted counts the recipients the server accepted.
	Accepted int
	// Size is the message size in bytes.
	Size int64
	// State is the final state: sent, partial, failed, deferred or unknown.
	State string
	// Stage, Code, Enhanced and Error describe a failure.
	Stage    string
	Code     int
	Enhanced string
	Error    string
	// QueuedAs is the server's reply to the message's final dot.
	QueuedAs string
	// Attempt numbers the delivery attempt (1 for a direct send).
	Attempt int
	// QueueItem is the outbox item id, or 0.
	QueueItem int64
	// Recipients are the per-recipient outcomes (given to AddHistory; read
	// by HistoryEntry only).
	Recipients []HistoryRcpt
	// Body is the complete message (given to AddHistory; read with
	// HistoryBody). Nil stores none.
	Body []byte
	// Search is the lower-cased text searches match (given to AddHistory).
	Search string
}

// HistoryCursor is a position in the history's newest-first order.
type HistoryCursor struct {
	FinishedNs int64 `json:"finished_ns"`
	ID         int64 `json:"id"`
}

// HistoryFilter selects history messages. Empty fields do not filter.
type HistoryFilter struct {
	// Search is a lower-cased substring of the search text.
	Search string
	// Recipient, Sender and Subject are case-insensitive substrings of
	// those fields.
	Recipient, Sender, Subject string
	// Profile is a profile id.
	Profile string
	// States lists the states to include.
	States []string
	// Since and Until bound the finish time: Since <= finished < Until.
	Since, Until time.Time
	// SessionID and QueueItem select one session's or one outbox item's messages.
	SessionID, QueueItem int64
	// Before pages: only messages older than this position.
	Before *HistoryCursor
	// Limit caps the result; 0 or less means no limit.
	Limit int
}

// likeEscape escapes s for a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// from returns the FROM clause, the WHERE clause and its arguments, and the
// ORDER BY columns for f. With a text search the narrow search table s
// drives the scan (CROSS JOIN keeps it the outer loop, in its key order)
// and carries the profile, state and time filters.
func (f HistoryFilter) from(needMessages bool) (from, where string, args []any, order string) {
	t := "m"
	from = " FROM history_messages m"
	var conds []string
	if f.Search != "" {
		t = "s"
		from = " FROM history_search s"
		if needMessages || f.Recipient != "" || f.Sender != "" || f.Subject != "" || f.SessionID != 0 || f.QueueItem != 0 {
			from += " CROSS JOIN history_messages m ON m.id = s.id"
		}
		conds = append(conds, `s.txt LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(f.Search)+"%")
	}
	for _, c := range []struct{ col, v string }{{"m.rcpts", f.Recipient}, {"m.mail_from", f.Sender}, {"m.subject", f.Subject}} {
		if c.v != "" {
			conds = append(conds, c.col+` LIKE ? ESCAPE '\'`)
			args = append(args, "%"+likeEscape(c.v)+"%")
		}
	}
	if f.Profile != "" {
		conds = append(conds, t+".profile = ?")
		args = append(args, f.Profile)
	}
	if len(f.States) > 0 {
		conds = append(conds, t+".state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, t+".finished_ns >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		conds = append(conds, t+".finished_ns < ?")
		args = append(args, f.Until.UnixNano())
	}
	if f.SessionID != 0 {
		conds = append(conds, "m.session_id = ?")
		args = append(args, f.SessionID)
	}
	if f.QueueItem != 0 {
		conds = append(conds, "m.queue_item = ?")
		args = append(args, f.QueueItem)
	}
	if f.Before != nil {
		conds = append(conds, "("+t+".finished_ns, "+t+".id) < (?, ?)")
		args = append(args, f.Before.FinishedNs, f.Before.ID)
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return from, where, args, " ORDER BY " + t + ".finished_ns DESC, " + t + ".id DESC"
}

// encodeBlob stores b raw when small, deflated otherwise.
func encodeBlob(b []byte, zw **flate.Writer, buf *bytes.Buffer) ([]byte, error) {
	if len(b) < compressMin {
		return append([]byte{codecRaw}, b...), nil
	}
	buf.Reset()
	buf.WriteByte(codecDeflate)
	if *zw == nil {
		w, err := flate.NewWriter(buf, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		*zw = w
	} else {
		(*zw).Reset(buf)
	}
	if _, err := (*zw).Write(b); err != nil {
		return nil, err
	}
	if err := (*zw).Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(b)+1 {
		return append([]byte{codecRaw}, b...), nil
	}
	return bytes.Clone(buf.Bytes()), nil
}

func decodeBlob(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty blob")
	}
	switch b[0] {
	case codecRaw:
		return b[1:], nil
	case codecDeflate:
		out, err := io.ReadAll(flate.NewReader(bytes.NewReader(b[1:])))
		if err != nil {
			return nil, fmt.Errorf("inflate: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown blob codec %d", b[0])
}

// AddHistory stores one session and the messages it carried in a single
// transaction, and sets the ids of sess and of each message. Messages
// whose state is not "sent" count as the session's failures.
func (s *Store) AddHistory(ctx context.Context, sess *HistorySession, msgs []HistoryEntry) error {
	return s.AddHistories(ctx, []HistoryBatch{{Session: sess, Messages: msgs}})
}

// HistoryBatch is one session and its messages, for AddHistories.
type HistoryBatch struct {
	Session  *HistorySession
	Messages []HistoryEntry
}

// AddHistories records several sessions in one durable transaction (one
// commit, one sync): the outbox's history writer hands over what piled up
// while it was writing, so a fast drain is not held back by a sync per
// session. Ids are set as AddHistory does. A session whose SpoolID the
// history already holds is skipped (see HistorySession.SpoolID).
func (s *Store) AddHistories(ctx context.Context, batch []HistoryBatch) error {
	for _, b := range batch {
		if b.Session == nil {
			return errors.New("add history: nil session")
		}
	}
	tx, done, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("add history: begin: %w", err)
	}
	defer done()
	defer tx.Rollback()
	var zw *flate.Writer
	var buf bytes.Buffer
	for _, b := range batch {
		if err := addHistoryTx(ctx, tx, b.Session, b.Messages, &zw, &buf); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add history: commit: %w", err)
	}
	return nil
}

// addHistoryTx writes one session and its messages inside tx.
func addHistoryTx(ctx context.Context, tx *sql.Tx, sess *HistorySession, msgs []HistoryEntry, zw **flate.Writer, buf *bytes.Buffer) error {
	if sess == nil {
		return errors.New("add history: nil session")
	}
	var trBlob []byte
	if sess.Transcript != nil {
		tr, err := encodeTranscript(sess.Transcript)
		if err != nil {
			return fmt.Errorf("add history: encode transcript: %w", err)
		}
		if trBlob, err = encodeBlob([]byte(tr), zw, buf); err != nil {
			return fmt.Errorf("add history: compress transcript: %w", err)
		}
	}
	var spoolID any // NULL unless the session comes from the spool
	if sess.SpoolID != "" {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM history_sessions WHERE spool_id = ?`, sess.SpoolID).Scan(&one)
		if err == nil {
			sess.ID = 0 // imported before
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("add history: spool record %s: %w", sess.SpoolID, err)
		}
		spoolID = sess.SpoolID
	}
	sess.Messages, sess.Failures = len(msgs), 0
	for i := range msgs {
		if msgs[i].State != "sent" {
			sess.Failures++
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO history_sessions
		(started_ns, finished_ns, profile, profile_name, server, tls, error, messages, failures, transcript, spool_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ns(sess.Started), ns(sess.Finished), sess.Profile, sess.ProfileName, sess.Server, sess.TLS, sess.Error,
		sess.Messages, sess.Failures, trBlob, spoolID)
	if err != nil {
		return fmt.Errorf("add history: session: %w", err)
	}
	if sess.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("add history: session id: %w", err)
	}
	sess.HasTranscript = trBlob != nil
	if len(msgs) == 0 {
		return nil
	}
	// The next message ids, given explicitly so that many rows go in one
	// statement (AUTOINCREMENT: past every id ever used).
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'history_messages'), 0),
		coalesce((SELECT max(id) FROM history_messages), 0))`).Scan(&next); err != nil {
		return fmt.Errorf("add history: next id: %w", err)
	}
	insMsg := newMultiInsert(tx, `INSERT INTO history_messages
		(id, session_id, queued_ns, started_ns, finished_ns, profile, profile_name, message_id, mail_from, rcpts,
		 rcpt_count, accepted, subject, size, state, stage, code, enhanced, error, queued_as, attempt, queue_item) VALUES `, 22, nil)
	defer insMsg.close()
	insRcpt := newMultiInsert(tx, `INSERT INTO history_rcpts (message_id, idx, addr, accepted, code, enhanced, message) VALUES `, 7, insMsg)
	defer insRcpt.close()
	insBody := newMultiInsert(tx, `INSERT INTO history_bodies (message_id, body) VALUES `, 2, insMsg)
	defer insBody.close()
	insSearch := newMultiInsert(tx, `INSERT INTO history_search (finished_ns, id, profile, state, queued_ns, txt) VALUES `, 6, insMsg)
	defer insSearch.close()
	for i := range msgs {
		m := &msgs[i]
		m.SessionID = sess.ID
		next++
		m.ID = next
		accepted := m.Accepted
		if accepted == 0 {
			for _, r := range m.Recipients {
				if r.Accepted {
					accepted++
				}
			}
			m.Accepted = accepted
		}
		if err := insMsg.add(ctx, m.ID, sess.ID, ns(m.Queued), ns(m.Started), ns(m.Finished), m.Profile, m.ProfileName,
			m.MessageID, m.From, strings.Join(m.To, "\n"), len(m.To), accepted, m.Subject, m.Size, m.State,
			m.Stage, m.Code, m.Enhanced, m.Error, m.QueuedAs, m.Attempt, m.QueueItem); err != nil {
			return fmt.Errorf("add history: messages: %w", err)
		}
		for j, r := range m.Recipients {
			if err := insRcpt.add(ctx, m.ID, j, r.Addr, r.Accepted, r.Code, r.Enhanced, r.Message); err != nil {
				return fmt.Errorf("add history: recipients: %w", err)
			}
		}
		if m.Body != nil {
			blob, err := encodeBlob(m.Body, zw, buf)
			if err != nil {
				return fmt.Errorf("add history: message %d: compress body: %w", i, err)
			}
			if err := insBody.add(ctx, m.ID, blob); err != nil {
				return fmt.Errorf("add history: bodies: %w", err)
			}
		}
		if err := insSearch.add(ctx, ns(m.Finished), m.ID, m.Profile, m.State, ns(m.Queued), m.Search); err != nil {
			return fmt.Errorf("add history: search text: %w", err)
		}
	}
	// Messages first: the other tables refer to them.
	for _, ins := range []*multiInsert{insMsg, insRcpt, insBody, insSearch} {
		if err := ins.flush(ctx); err != nil {
			return fmt.Errorf("add history: %w", err)
		}
	}
	return nil
}

// multiInsert inserts rows many at a time (one statement per multiRows
// rows): a statement per row made recording an outbox session cost more
// than sending it.
type multiInsert struct {
	tx   *sql.Tx
	head string
	cols int
	args []any
	full *sql.Stmt
	// before is the inserter whose rows this one's refer to: its pending
	// rows are written first.
	before *multiInsert
}

// multiRows is how many rows one statement inserts (22 columns times this
// stays far below SQLite's limit of variables).
const multiRows = 64

func newMultiInsert(tx *sql.Tx, head string, cols int, before *multiInsert) *multiInsert {
	return &multiInsert{tx: tx, head: head, cols: cols, before: before}
}

func (m *multiInsert) add(ctx context.Context, row ...any) error {
	m.args = append(m.args, row...)
	if len(m.args) >= multiRows*m.cols {
		return m.flush(ctx)
	}
	return nil
}

func (m *multiInsert) statement(rows int) string {
	var b strings.Builder
	b.WriteString(m.head)
	tuple := "(" + strings.Repeat("?, ", m.cols-1) + "?)"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// flush writes the pending rows.
func (m *multiInsert) flush(ctx context.Context) error {
	rows := len(m.args) / m.cols
	if rows == 0 {
		return nil
	}
	if m.before != nil {
		if err := m.before.flush(ctx); err != nil {
			return err
		}
	}
	var err error
	if rows == multiRows {
		if m.full == nil {
			if m.full, err = m.tx.PrepareContext(ctx, m.statement(rows)); err != nil {
				return err
			}
		}
		_, err = m.full.ExecContext(ctx, m.args...)
	} else {
		_, err = m.tx.ExecContext(ctx, m.statement(rows), m.args...)
	}
	clear(m.args)
	m.args = m.args[:0]
	return err
}

func (m *multiInsert) close() {
	if m.full != nil {
		m.full.Close()
	}
}

const historyColumns = `m.id, m.session_id, m.queued_ns, m.started_ns, m.finished_ns, m.profile, m.profile_name,
	m.message_id, m.mail_from, m.rcpts, m.accepted, m.subject, m.size, m.state, m.stage, m.code, m.enhanced,
	m.error, m.queued_as, m.attempt, m.queue_item`

func scanHistory(r rowScanner, m *HistoryEntry) error {
	var q, st, fin int64
	var rcpts string
	if err := r.Scan(&m.ID, &m.SessionID, &q, &st, &fin, &m.Profile, &m.ProfileName, &m.MessageID, &m.From, &rcpts,
		&m.Accepted, &m.Subject, &m.Size, &m.State, &m.Stage, &m.Code, &m.Enhanced, &m.Error, &m.QueuedAs,
		&m.Attempt, &m.QueueItem); err != nil {
		return err
	}
	m.Queued, m.Started, m.Finished = fromNs(q), fromNs(st), fromNs(fin)
	if rcpts != "" {
		m.To = strings.Split(rcpts, "\n")
	}
	return nil
}

// ListHistory returns the messages f selects, newest first (by finish time,
// then id), without recipients' outcomes or bodies.
func (s *Store) ListHistory(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error) {
	from, where, args, order := f.from(true)
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT `+historyColumns+from+where+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var m HistoryEntry
		if err := scanHistory(rows, &m); err != nil {
			return nil, fmt.Errorf("list history: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	return out, nil
}

// CountHistory counts the messages f selects (Before and Limit ignored).
func (s *Store) CountHistory(ctx context.Context, f HistoryFilter) (int, error) {
	f.Before, f.Limit = nil, 0
	from, where, args, _ := f.from(false)
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*)`+from+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count history: %w", err)
	}
	return n, nil
}

// HistoryEntry returns one message with its recipients' outcomes (not its
// body); a missing id yields an error wrapping ErrNotFound.
func (s *Store) HistoryEntry(ctx context.Context, id int64) (*HistoryEntry, error) {
	var m HistoryEntry
	err := scanHistory(s.db.QueryRowContext(ctx, `SELECT `+historyColumns+` FROM history_messages m WHERE m.id = ?`, id), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("history message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("history message %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT addr, accepted, code, enhanced, message FROM history_rcpts WHERE message_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("history message %d: recipients: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r HistoryRcpt
		if err := rows.Scan(&r.Addr, &r.Accepted, &r.Code, &r.Enhanced, &r.Message); err != nil {
			return nil, fmt.Errorf("history message %d: recipients: %w", id, err)
		}
		m.Recipients = append(m.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history message %d: recipients: %w", id, err)
	}
	return &m, nil
}

// HistoryBody returns the stored message bytes of history message id; a
// message stored without a body (or a missing id) yields ErrNotFound.
func (s *Store) HistoryBody(ctx context.Context, id int64) ([]byte, error) {
	var blob []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM history_bodies WHERE message_id = ?`, id).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("history message %d: body: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("history message %d: body: %w", id, err)
	}
	b, err := decodeBlob(blob)
	if err != nil {
		return nil, fmt.Errorf("history message %d: body: %w", id, err)
	}
	return b, nil
}

// HistorySession returns a session with its transcript (nil when none is
// kept); a missing id yields an error wrapping ErrNotFound.
func (s *Store) HistorySession(ctx context.Context, id int64) (*HistorySession, error) {
	var h HistorySession
	var st, fin int64
	var blob []byte
	err := s.db.QueryRowContext(ctx, `SELECT id, started_ns, finished_ns, profile, profile_name, server, tls, error,
		messages, failures, transcript FROM history_sessions WHERE id = ?`, id).Scan(&h.ID, &st, &fin, &h.Profile,
		&h.ProfileName, &h.Server, &h.TLS, &h.Error, &h.Messages, &h.Failures, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("history session %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("history session %d: %w", id, err)
	}
	h.Started, h.Finished = fromNs(st), fromNs(fin)
	if blob != nil {
		raw, err := decodeBlob(blob)
		if err != nil {
			return nil, fmt.Errorf("history session %d: transcript: %w", id, err)
		}
		if h.Transcript, err = decodeTranscript(string(raw)); err != nil {
			return nil, fmt.Errorf("history session %d: transcript: %w", id, err)
		}
		h.HasTranscript = true
	}
	return &h, nil
}

// deleteOrphanSessions removes sessions no message refers to any more.
func deleteOrphanSessions(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM history_sessions WHERE NOT EXISTS
		(SELECT 1 FROM history_messages m WHERE m.session_id = history_sessions.id)`)
	return err
}

// DeleteHistoryBefore removes the messages that finished before t (with
// their bodies, recipients and sessions left without messages) and returns
// how many messages went.
func (s *Store) DeleteHistoryBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteHistory(ctx, "delete history", HistoryCursor{FinishedNs: t.UnixNano()})
}

// TrimHistory keeps the newest keep messages and removes the rest,
// returning how many went. keep must not be negative.
func (s *Store) TrimHistory(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("trim history: negative count %d", keep)
	}
	if keep == 0 {
		return s.deleteHistory(ctx, "trim history", HistoryCursor{FinishedNs: 1<<63 - 1})
	}
	// The oldest message kept: everything before it goes.
	var c HistoryCursor
	err := s.db.QueryRowContext(ctx, `SELECT finished_ns, id FROM history_messages
		ORDER BY finished_ns DESC, id DESC LIMIT 1 OFFSET ?`, keep-1).Scan(&c.FinishedNs, &c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // fewer than keep
	}
	if err != nil {
		return 0, fmt.Errorf("trim history: %w", err)
	}
	return s.deleteHistory(ctx, "trim history", c)
}

// deleteHistory removes the messages before position c (newest-first
// order), their search rows, and the sessions left without messages.
func (s *Store) deleteHistory(ctx context.Context, what string, c HistoryCursor) (int64, error) {
	tx, done, err := s.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: begin: %w", what, err)
	}
	defer done()
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM history_search WHERE (finished_ns, id) < (?, ?)`, c.FinishedNs, c.ID); err != nil {
		return 0, fmt.Errorf("%s: search rows: %w", what, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM history_messages WHERE (finished_ns, id) < (?, ?)`, c.FinishedNs, c.ID)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		if err := deleteOrphanSessions(ctx, tx); err != nil {
			return 0, fmt.Errorf("%s: sessions: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", what, err)
	}
	return n, nil
}

// DropHistoryTranscripts forgets the transcripts of sessions whose every
// message was sent (or of all sessions when failuresOnly is false) and
// returns how many sessions lost theirs.
func (s *Store) DropHistoryTranscripts(ctx context.Context, failuresOnly bool) (int64, error) {
	q := `UPDATE history_sessions SET transcript = NULL WHERE transcript IS NOT NULL`
	if failuresOnly {
		q += ` AND failures = 0 AND error = ''`
	}
	res, err := s.db.ExecContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("drop history transcripts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("drop history transcripts: %w", err)
	}
	return n, nil
}

// HistoryDayRow is one profile's messages on one day, by state.
type HistoryDayRow struct {
	// Day indexes the day bounds given to HistoryDaily.
	Day int
	// Profile is the profile id and ProfileName its most recent name.
	Profile, ProfileName string
	// Counts maps a state to its number of messages.
	Counts map[string]int
	// MedianWait is the median of finished - queued over the messages in
	// the states given as sent; 0 when there were none.
	MedianWait time.Duration
}

// HistoryRange returns the finish times of the oldest message finished at
// or after since and of the newest message; ok is false when there is none.
func (s *Store) HistoryRange(ctx context.Context, since time.Time) (oldest, newest time.Time, ok bool, err error) {
	var lo, hi sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT min(finished_ns) FROM history_search WHERE finished_ns >= ?),
		(SELECT max(finished_ns) FROM history_search)`, since.UnixNano()).Scan(&lo, &hi); err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("history range: %w", err)
	}
	if !lo.Valid || !hi.Valid {
		return time.Time{}, time.Time{}, false, nil
	}
	return time.Unix(0, lo.Int64), time.Unix(0, hi.Int64), true, nil
}

// HistoryDaily counts the messages per day, profile and state, with the
// median time from queued to finished of those in the sentStates. Day i
// runs from bounds[i] to bounds[i+1]; profile "" means all profiles.
func (s *Store) HistoryDaily(ctx context.Context, bounds []time.Time, profile string, sentStates []string) ([]HistoryDayRow, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	// The bounds are integers computed by the caller: written as literals,
	// so that any number of days fits in one statement.
	var days strings.Builder
	days.WriteString("WITH days(d, lo, hi) AS (VALUES ")
	for i := 0; i+1 < len(bounds); i++ {
		if i > 0 {
			days.WriteString(", ")
		}
		fmt.Fprintf(&days, "(%d, %d, %d)", i, bounds[i].UnixNano(), bounds[i+1].UnixNano())
	}
	days.WriteString(")")
	join := ` FROM days CROSS JOIN history_search s ON s.finished_ns >= days.lo AND s.finished_ns < days.hi`
	var args []any
	if profile != "" {
		join += ` AND s.profile = ?`
		args = append(args, profile)
	}
	type key struct {
		day     int
		profile string
	}
	idx := map[key]int{}
	var out []HistoryDayRow
	row := func(d int, p string) *HistoryDayRow {
		k := key{d, p}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, HistoryDayRow{Day: d, Profile: p, Counts: map[string]int{}})
		}
		return &out[i]
	}
	// One pass over the narrow search table, aggregated here: grouping in
	// SQLite (a temporary B-tree) or a window function for the median is
	// several times slower than reading the rows.
	sent := map[string]bool{}
	for _, st := range sentStates {
		sent[st] = true
	}
	rows, err := s.db.QueryContext(ctx, days.String()+` SELECT days.d, s.profile, s.state, s.finished_ns - s.queued_ns`+join, args...)
	if err != nil {
		return nil, fmt.Errorf("history daily: %w", err)
	}
	defer rows.Close()
	waits := map[key][]int64{}
	var lastP, lastSt []byte
	var p, st string
	for rows.Next() {
		var d int
		var pb, sb sql.RawBytes
		var w int64
		if err := rows.Scan(&d, &pb, &sb, &w); err != nil {
			return nil, fmt.Errorf("history daily: %w", err)
		}
		// Rows come in runs of one profile and state: reuse their strings.
		if !bytes.Equal(pb, lastP) {
			p, lastP = string(pb), append(lastP[:0], pb...)
		}
		if !bytes.Equal(sb, lastSt) {
			st, lastSt = string(sb), append(lastSt[:0], sb...)
		}
		row(d, p).Counts[st]++
		if sent[st] {
			waits[key{d, p}] = append(waits[key{d, p}], max(w, 0))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history daily: %w", err)
	}
	for k, ws := range waits {
		slices.Sort(ws)
		row(k.day, k.profile).MedianWait = time.Duration((ws[(len(ws)-1)/2] + ws[len(ws)/2]) / 2)
	}
	names := map[string]string{}
	for i := range out {
		p := out[i].Profile
		name, ok := names[p]
		if !ok {
			err := s.db.QueryRowContext(ctx, `SELECT profile_name FROM history_messages WHERE profile = ?
				ORDER BY finished_ns DESC LIMIT 1`, p).Scan(&name)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("history daily: profile name: %w", err)
			}
			names[p] = name
		}
		out[i].ProfileName = name
	}
	return out, nil
}
