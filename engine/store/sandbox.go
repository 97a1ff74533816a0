package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-smtp/herald/engine/transcript"
)

// SandboxMessage is one message captured by the built-in sandbox SMTP server.
type SandboxMessage struct {
	// ID is assigned by AddSandboxMessage; ids are never reused.
	ID int64
	// Received is when the message arrived.
	Received time.Time
	// Remote is the client's address (host:port).
	Remote string
	// Helo is the name the client gave in EHLO or HELO.
	Helo string
	// TLS is true when the message travelled inside TLS.
	TLS bool
	// AuthUser is the user the client authenticated as, or "".
	AuthUser string
	// From is the envelope sender (MAIL FROM); "" for the null sender <>.
	From string
	// To holds the envelope recipients (RCPT TO), in order.
	To []string
	// Subject is the decoded Subject header.
	Subject string
	// Size is len(Raw) as received.
	Size int
	// Raw is the message as received after DATA, without dot-stuffing.
	Raw []byte
	// Transcript is the session's protocol log up to the capture.
	Transcript []transcript.Event
	// ReplyDropped is true when the sandbox closed the connection instead
	// of replying to the message (fault drop-after-data).
	ReplyDropped bool
}

// storedEvent is the JSON form of a transcript event in the database. It
// keeps the elapsed time in nanoseconds so that events round-trip exactly.
type storedEvent struct {
	Time      time.Time      `json:"t"`
	ElapsedNs int64          `json:"e"`
	Dir       transcript.Dir `json:"d"`
	TLS       bool           `json:"tls,omitempty"`
	Text      string         `json:"x"`
}

// encodeTranscript writes events as the JSON array of storedEvent that
// decodeTranscript reads, by hand: encoding/json's reflection was a fifth
// of the cost of recording an outbox session in the history.
func encodeTranscript(events []transcript.Event) (string, error) {
	b := make([]byte, 0, 64*len(events)+2)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":"`...)
		b = e.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","e":`...)
		b = strconv.AppendInt(b, int64(e.Elapsed), 10)
		b = append(b, `,"d":`...)
		b = appendJSONString(b, string(e.Dir))
		if e.TLS {
			b = append(b, `,"tls":true`...)
		}
		b = append(b, `,"x":`...)
		b = appendJSONString(b, e.Text)
		b = append(b, '}')
	}
	b = append(b, ']')
	return string(b), nil
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func decodeTranscript(s string) ([]transcript.Event, error) {
	var in []storedEvent
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]transcript.Event, len(in))
	for i, e := range in {
		d := time.Duration(e.ElapsedNs)
		out[i] = transcript.Event{Time: e.Time, Elapsed: d, Ms: float64(d.Microseconds()) / 1000, Dir: e.Dir, TLS: e.TLS, Text: e.Text}
	}
	return out, nil
}

// AddSandboxMessage stores m durably and returns its new id, which is also
// written to m.ID. The Raw and Transcript fields are stored as given; Size
// defaults to len(Raw) when zero.
func (s *Store) AddSandboxMessage(ctx context.Context, m *SandboxMessage) (int64, error) {
	if m == nil {
		return 0, errors.New("add sandbox message: nil message")
	}
	if m.Received.IsZero() {
		return 0, errors.New("add sandbox message: received time is not set")
	}
	to := m.To
	if to == nil {
		to = []string{}
	}
	toJSON, err := json.Marshal(to)
	if err != nil {
		return 0, fmt.Errorf("add sandbox message: encode recipients: %w", err)
	}
	tr, err := encodeTranscript(m.Transcript)
	if err != nil {
		return 0, fmt.Errorf("add sandbox message: encode transcript: %w", err)
	}
	size := m.Size
	if size == 0 {
		size = len(m.Raw)
	}
	raw := m.Raw
	if raw == nil {
		raw = []byte{}
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO sandbox_messages
		(received_ns, remote, helo, tls, auth_user, mail_from, rcpt_to, subject, size, raw, transcript, reply_dropped)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Received.UnixNano(), m.Remote, m.Helo, m.TLS, m.AuthUser, m.From, string(toJSON),
		m.Subject, size, raw, tr, m.ReplyDropped)
	if err != nil {
		return 0, fmt.Errorf("add sandbox message: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add sandbox message: read id: %w", err)
	}
	m.ID = id
	return id, nil
}

const summaryColumns = `id, received_ns, remote, helo, tls, auth_user, mail_from, rcpt_to, subject, size, reply_dropped`

type rowScanner interface {
	Scan(dest ...any) error
}

// scanSummary reads the summaryColumns (in that order) plus extra
// destinations appended by the caller.
func scanSummary(r rowScanner, m *SandboxMessage, extra ...any) error {
	var recvNs int64
	var toJSON string
	dest := append([]any{&m.ID, &recvNs, &m.Remote, &m.Helo, &m.TLS, &m.AuthUser, &m.From, &toJSON, &m.Subject, &m.Size, &m.ReplyDropped}, extra...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	m.Received = time.Unix(0, recvNs)
	if err := json.Unmarshal([]byte(toJSON), &m.To); err != nil {
		return fmt.Errorf("message %d: decode recipients: %w", m.ID, err)
	}
	return nil
}

// ListSandboxMessages returns summaries of the newest captured messages,
// newest first, without Raw and Transcript. A limit of 0 or less means all.
func (s *Store) ListSandboxMessages(ctx context.Context, limit int) ([]SandboxMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+summaryColumns+` FROM sandbox_messages
		ORDER BY received_ns DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list sandbox messages: %w", err)
	}
	defer rows.Close()
	var out []SandboxMessage
	for rows.Next() {
		var m SandboxMessage
		if err := scanSummary(rows, &m); err != nil {
			return nil, fmt.Errorf("list sandbox messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sandbox messages: %w", err)
	}
	return out, nil
}

// SandboxMessage returns the full captured message with the given id; a
// missing id yields an error wrapping ErrNotFound.
func (s *Store) SandboxMessage(ctx context.Context, id int64) (*SandboxMessage, error) {
	var m SandboxMessage
	var tr string
	row := s.db.QueryRowContext(ctx, `SELECT `+summaryColumns+`, raw, transcript FROM sandbox_messages WHERE id = ?`, id)
	err := scanSummary(row, &m, &m.Raw, &tr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sandbox message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox message %d: %w", id, err)
	}
	if m.Transcript, err = decodeTranscript(tr); err != nil {
		return nil, fmt.Errorf("sandbox message %d: decode transcript: %w", id, err)
	}
	return &m, nil
}

// DeleteSandboxMessages removes every captured message.
func (s *Store) DeleteSandboxMessages(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sandbox_messages`); err != nil {
		return fmt.Errorf("delete sandbox messages: %w", err)
	}
	return nil
}

// SandboxQuery selects captured messages a page at a time.
type SandboxQuery struct {
	// Search is a case-insensitive substring of the sender, the
	// recipients or the subject; "" matches all.
	Search string
	// Offset skips that many of the newest matches.
	Offset int
	// Limit is the page size; 0 or less means no limit.
	Limit int
}

func (q SandboxQuery) where() (string, []any) {
	if q.Search == "" {
		return "", nil
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(q.Search)) + "%"
	return ` WHERE (lower(mail_from) LIKE ? ESCAPE '\' OR lower(rcpt_to) LIKE ? ESCAPE '\' OR lower(subject) LIKE ? ESCAPE '\')`, []any{like, like, like}
}

// SearchSandboxMessages returns one page of summaries (without Raw and
// Transcript) of the captured messages q selects, newest first.
func (s *Store) SearchSandboxMessages(ctx context.Context, q SandboxQuery) ([]SandboxMessage, error) {
	where, args := q.where()
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+summaryColumns+` FROM sandbox_messages`+where+`
		ORDER BY received_ns DESC, id DESC LIMIT ? OFFSET ?`, append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("search sandbox messages: %w", err)
	}
	defer rows.Close()
	var out []SandboxMessage
	for rows.Next() {
		var m SandboxMessage
		if err := scanSummary(rows, &m); err != nil {
			return nil, fmt.Errorf("search sandbox messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search sandbox messages: %w", err)
	}
	return out, nil
}

// CountSandboxMessages counts the captured messages q selects (its Offset
// and Limit ignored).
func (s *Store) CountSandboxMessages(ctx context.Context, q SandboxQuery) (int, error) {
	where, args := q.where()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sandbox_messages`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sandbox messages: %w", err)
	}
	return n, nil
}

// DeleteSandboxMessage removes one captured message; a missing id yields an
// error wrapping ErrNotFound.
func (s *Store) DeleteSandboxMessage(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sandbox_messages WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete sandbox message %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete sandbox message %d: %w", id, ErrNotFound)
	}
	return nil
}
