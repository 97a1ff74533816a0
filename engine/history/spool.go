package history

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
)

// The history spool is a directory of records written by processes that
// did not open the store (a one-shot send: opening SQLite and committing
// durably cost more than the session). Each record is one file, written
// atomically and durably by WriteSpool; the next process that opens the
// store moves the records into the history with ImportSpool.
//
// A spool file is a header line "herald-history-spool VERSION", one line of
// JSON (the session and its messages, already converted and redacted as
// Record stores them, with each message body's length) and the bodies' bytes
// one after the other. A file of a newer version is left in place for a
// newer Herald; one that cannot be read is renamed with the suffix ".bad".
const (
	// SpoolVersion is the spool file format this Herald writes and the
	// newest it reads.
	SpoolVersion = 1
	spoolMagic   = "herald-history-spool"
	// SpoolSuffix ends the name of every complete spool file.
	SpoolSuffix = ".rec"
	// SpoolBadSuffix is added to a spool file that could not be read.
	SpoolBadSuffix = ".bad"
	// spoolTempPrefix starts the name of a file still being written.
	spoolTempPrefix = ".tmp-"
	// spoolTempMaxAge is the age after which a temporary file is taken for
	// the leftover of a writer that died, and removed.
	spoolTempMaxAge = time.Hour
	// spoolChunk is the most records imported in one transaction, and
	// spoolChunkBytes about the most bytes read for one.
	spoolChunk      = 256
	spoolChunkBytes = 64 << 20
)

// ErrSpoolVersion is wrapped by the errors for spool files written by a
// newer Herald, which are left in the spool.
var ErrSpoolVersion = errors.New("history spool file written by a newer Herald")

// spoolRecord is the JSON line of a spool file. Its field names are the
// file format: fields may be added (a reader ignores those it does not
// know); a change that an older reader would misread bumps SpoolVersion.
type spoolRecord struct {
	ID       string         `json:"id"`
	Session  spoolSession   `json:"session"`
	Messages []spoolMessage `json:"messages"`
}

type spoolSession struct {
	StartedNs   int64  `json:"started_ns"`
	FinishedNs  int64  `json:"finished_ns"`
	Profile     string `json:"profile,omitempty"`
	ProfileName string `json:"profile_name,omitempty"`
	Server      string `json:"server,omitempty"`
	TLS         string `json:"tls,omitempty"`
	Error       string `json:"error,omitempty"`
	// Transcript is nil when the session keeps none.
	Transcript []spoolEvent `json:"transcript"`
}

type spoolEvent struct {
	TimeNs    int64  `json:"t"`
	ElapsedNs int64  `json:"e"`
	Dir       string `json:"d"`
	TLS       bool   `json:"tls,omitempty"`
	Text      string `json:"x"`
}

type spoolMessage struct {
	QueuedNs    int64               `json:"queued_ns"`
	StartedNs   int64               `json:"started_ns"`
	FinishedNs  int64               `json:"finished_ns"`
	Profile     string              `json:"profile,omitempty"`
	ProfileName string              `json:"profile_name,omitempty"`
	MessageID   string              `json:"message_id,omitempty"`
	From        string              `json:"from"`
	To          []string            `json:"to"`
	Accepted    int                 `json:"accepted"`
	Subject     string              `json:"subject,omitempty"`
	Size        int64               `json:"size"`
	State       string              `json:"state"`
	Stage       string              `json:"stage,omitempty"`
	Code        int                 `json:"code,omitempty"`
	Enhanced    string              `json:"enhanced,omitempty"`
	Error       string              `json:"error,omitempty"`
	QueuedAs    string              `json:"queued_as,omitempty"`
	Attempt     int                 `json:"attempt"`
	QueueItem   int64               `json:"queue_item,omitempty"`
	Recipients  []store.HistoryRcpt `json:"recipients"`
	// BodyLen is the length of the message's bytes after the JSON line;
	// -1 when no body is kept.
	BodyLen int64 `json:"body_len"`
}

func nsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// newSpoolID returns a unique spool record id that sorts by time:
// nanoseconds since 1970 and 8 random bytes.
func newSpoolID(now time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%019d-%s", now.UnixNano(), hex.EncodeToString(b[:])), nil
}

// WriteSpool writes s to a new file in the spool directory dir (created,
// private, when missing) and returns the record's spool id. The record is
// converted and redacted (s.Redact) exactly as Record stores it, so the file
// never holds a secret Record would not store; the transcript is kept
// whatever the retention says (the importer applies it). The file appears
// whole or not at all (written aside, synced, renamed, and the directory
// synced), so a record written is not lost to a crash or a power cut. A
// message with BodyFromOutbox and no Body is spooled without a body.
func WriteSpool(dir string, s SessionRecord) (string, error) {
	now := time.Now()
	id, err := newSpoolID(now)
	if err != nil {
		return "", fmt.Errorf("spool history record: %w", err)
	}
	sess, msgs := convertRecord(s, now, nil, false)
	data, err := encodeSpool(id, &sess, msgs)
	if err != nil {
		return "", fmt.Errorf("spool history record: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("spool history record: %w", err)
	}
	tmp := filepath.Join(dir, spoolTempPrefix+id)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("spool history record: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, id+SpoolSuffix))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("spool history record: %w", err)
	}
	// The rename is durable once the directory is synced.
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("spool history record: sync %s: %w", dir, err)
	}
	return id, nil
}

// syncDir flushes a directory's entries to disk (a no-op error where the
// system cannot open a directory for syncing is ignored).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// encodeSpool renders a spool file.
func encodeSpool(id string, sess *store.HistorySession, msgs []store.HistoryEntry) ([]byte, error) {
	r := spoolRecord{ID: id, Session: spoolSession{
		StartedNs: nsOf(sess.Started), FinishedNs: nsOf(sess.Finished), Profile: sess.Profile, ProfileName: sess.ProfileName,
		Server: sess.Server, TLS: sess.TLS, Error: sess.Error,
	}, Messages: make([]spoolMessage, len(msgs))}
	if sess.Transcript != nil {
		r.Session.Transcript = make([]spoolEvent, len(sess.Transcript))
		for i, e := range sess.Transcript {
			r.Session.Transcript[i] = spoolEvent{TimeNs: nsOf(e.Time), ElapsedNs: int64(e.Elapsed), Dir: string(e.Dir), TLS: e.TLS, Text: e.Text}
		}
	}
	size := 0
	for i := range msgs {
		m := &msgs[i]
		r.Messages[i] = spoolMessage{
			QueuedNs: nsOf(m.Queued), StartedNs: nsOf(m.Started), FinishedNs: nsOf(m.Finished), Profile: m.Profile,
			ProfileName: m.ProfileName, MessageID: m.MessageID, From: m.From, To: m.To, Accepted: m.Accepted,
			Subject: m.Subject, Size: m.Size, State: m.State, Stage: m.Stage, Code: m.Code, Enhanced: m.Enhanced,
			Error: m.Error, QueuedAs: m.QueuedAs, Attempt: m.Attempt, QueueItem: m.QueueItem, Recipients: m.Recipients,
			BodyLen: -1,
		}
		if m.Body != nil {
			r.Messages[i].BodyLen = int64(len(m.Body))
			size += len(m.Body)
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	head := spoolMagic + " " + strconv.Itoa(SpoolVersion) + "\n"
	out := make([]byte, 0, len(head)+len(js)+1+size)
	out = append(out, head...)
	out = append(out, js...)
	out = append(out, '\n')
	for i := range msgs {
		out = append(out, msgs[i].Body...)
	}
	return out, nil
}

// decodeSpool reads a spool file back into what the store keeps.
func decodeSpool(data []byte) (store.HistoryBatch, error) {
	var b store.HistoryBatch
	head, rest, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return b, errors.New("no header line")
	}
	magic, ver, ok := strings.Cut(string(head), " ")
	if !ok || magic != spoolMagic {
		return b, errors.New("not a history spool file")
	}
	v, err := strconv.Atoi(ver)
	if err != nil || v < 1 {
		return b, fmt.Errorf("invalid spool version %q", ver)
	}
	if v > SpoolVersion {
		return b, fmt.Errorf("%w (version %d; this Herald reads up to %d)", ErrSpoolVersion, v, SpoolVersion)
	}
	line, bodies, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return b, errors.New("truncated record")
	}
	var r spoolRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return b, fmt.Errorf("record: %w", err)
	}
	if r.ID == "" {
		return b, errors.New("record without an id")
	}
	s := r.Session
	sess := &store.HistorySession{
		Started: timeOf(s.StartedNs), Finished: timeOf(s.FinishedNs), Profile: s.Profile, ProfileName: s.ProfileName,
		Server: s.Server, TLS: s.TLS, Error: s.Error, SpoolID: r.ID,
	}
	if s.Transcript != nil {
		sess.Transcript = make([]transcript.Event, len(s.Transcript))
		for i, e := range s.Transcript {
			d := time.Duration(e.ElapsedNs)
			sess.Transcript[i] = transcript.Event{Time: timeOf(e.TimeNs), Elapsed: d, Ms: float64(d.Microseconds()) / 1000,
				Dir: transcript.Dir(e.Dir), TLS: e.TLS, Text: e.Text}
		}
	}
	msgs := make([]store.HistoryEntry, len(r.Messages))
	for i, m := range r.Messages {
		e := store.HistoryEntry{
			Queued: timeOf(m.QueuedNs), Started: timeOf(m.StartedNs), Finished: timeOf(m.FinishedNs), Profile: m.Profile,
			ProfileName: m.ProfileName, MessageID: m.MessageID, From: m.From, To: m.To, Accepted: m.Accepted,
			Subject: m.Subject, Size: m.Size, State: m.State, Stage: m.Stage, Code: m.Code, Enhanced: m.Enhanced,
			Error: m.Error, QueuedAs: m.QueuedAs, Attempt: m.Attempt, QueueItem: m.QueueItem, Recipients: m.Recipients,
		}
		if m.BodyLen >= 0 {
			if m.BodyLen > int64(len(bodies)) {
				return b, fmt.Errorf("message %d: body truncated", i+1)
			}
			e.Body, bodies = bodies[:m.BodyLen:m.BodyLen], bodies[m.BodyLen:]
		}
		if e.To == nil {
			e.To = []string{}
		}
		e.Search = searchText(&e)
		msgs[i] = e
	}
	if len(bodies) != 0 {
		return b, fmt.Errorf("%d bytes after the record", len(bodies))
	}
	return store.HistoryBatch{Session: sess, Messages: msgs}, nil
}

// ImportedRecord is one message record ImportSpool added.
type ImportedRecord struct {
	// ID is the history record's id and Profile its profile id.
	ID      int64
	Profile string
}

// SpoolImport says what ImportSpoolRecords did.
type SpoolImport struct {
	// Records are the message records added, oldest spool record first.
	Records []ImportedRecord
	// Left names the spool files left in place (written by a newer
	// Herald, or not imported because of an error).
	Left []string
	// Bad names the files that could not be read, renamed with
	// SpoolBadSuffix.
	Bad []string
}

// ImportSpool moves the records in spool directory dir into the history
// and returns how many message records it added; see ImportSpoolRecords.
func (l *Log) ImportSpool(ctx context.Context, dir string) (int, error) {
	r, err := l.ImportSpoolRecords(ctx, dir)
	return len(r.Records), err
}

// SpoolPending lists the names of the complete spool files in dir, in the
// order they were written (none, and no error, when dir does not exist). It is
// one directory read, cheap enough to poll.
func SpoolPending(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history spool: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, SpoolSuffix) && !strings.HasPrefix(n, ".") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// ImportSpoolRecords moves the records in spool directory dir into the
// history: up to spoolChunk records per transaction (one sync), then their
// files are deleted. A record carries its spool id into the history, and a
// record whose id is already there is not added again, so importing is
// safe when two processes import at once and when a crash came between the
// commit and the deletion. A file that cannot be read is renamed with
// SpoolBadSuffix and reported in the error, a file of a newer format is left
// in place and reported, and neither stops the others. The retention's
// failures-only transcripts rule and Options.Redact apply as in Record.
func (l *Log) ImportSpoolRecords(ctx context.Context, dir string) (SpoolImport, error) {
	var out SpoolImport
	names, err := SpoolPending(dir)
	if err != nil {
		return out, err
	}
	l.removeStaleTemps(dir)
	var errs []error
	for len(names) > 0 {
		var (
			batch []store.HistoryBatch
			files []string
			size  int
		)
		for len(names) > 0 && len(batch) < spoolChunk && size < spoolChunkBytes {
			name := names[0]
			names = names[1:]
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // imported by another process meanwhile
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("history spool %s: %w", name, err))
				out.Left = append(out.Left, name)
				continue
			}
			b, err := decodeSpool(data)
			if errors.Is(err, ErrSpoolVersion) {
				errs = append(errs, fmt.Errorf("history spool %s: %w; left in place", name, err))
				out.Left = append(out.Left, name)
				continue
			}
			if err != nil {
				if e := os.Rename(path, path+SpoolBadSuffix); e != nil && !errors.Is(e, fs.ErrNotExist) {
					errs = append(errs, fmt.Errorf("history spool %s: unreadable (%v), and not moved aside: %w", name, err, e))
					out.Left = append(out.Left, name)
					continue
				}
				errs = append(errs, fmt.Errorf("history spool %s: unreadable, moved aside as %s: %w", name, name+SpoolBadSuffix, err))
				out.Bad = append(out.Bad, name)
				continue
			}
			l.importConvert(&b)
			size += len(data)
			batch = append(batch, b)
			files = append(files, path)
		}
		if len(batch) == 0 {
			continue
		}
		if err := l.st.AddHistories(ctx, batch); err != nil {
			for _, f := range files {
				out.Left = append(out.Left, filepath.Base(f))
			}
			for _, n := range names {
				out.Left = append(out.Left, n)
			}
			return out, errors.Join(append(errs, fmt.Errorf("import history spool: %w", err))...)
		}
		for i, b := range batch {
			for _, m := range b.Messages {
				if b.Session.ID != 0 { // 0: imported before
					out.Records = append(out.Records, ImportedRecord{ID: m.ID, Profile: b.Session.Profile})
				}
			}
			if err := os.Remove(files[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("history spool: imported, but not removed: %w", err))
			}
		}
	}
	return out, errors.Join(errs...)
}

// importConvert applies this log's rules that a spooling process could not
// know: the global scrub and the failures-only transcripts.
func (l *Log) importConvert(b *store.HistoryBatch) {
	if f := l.o.Redact; f != nil {
		red := func(v string) string {
			if v == "" {
				return v
			}
			return f(v)
		}
		s := b.Session
		s.ProfileName, s.Server, s.TLS, s.Error = red(s.ProfileName), red(s.Server), red(s.TLS), red(s.Error)
		for i, e := range s.Transcript {
			e.Text = red(e.Text)
			s.Transcript[i] = e
		}
		for i := range b.Messages {
			m := &b.Messages[i]
			m.ProfileName, m.MessageID, m.From, m.Subject = red(m.ProfileName), red(m.MessageID), red(m.From), red(m.Subject)
			m.Error, m.QueuedAs = red(m.Error), red(m.QueuedAs)
			for j := range m.To {
				m.To[j] = red(m.To[j])
			}
			for j := range m.Recipients {
				r := &m.Recipients[j]
				r.Addr, r.Message = red(r.Addr), red(r.Message)
			}
			if m.Body != nil {
				m.Body = []byte(red(string(m.Body)))
				m.Size = int64(len(m.Body))
			}
			m.Search = searchText(m)
		}
	}
	if l.failuresOnly.Load() && allSent(*b.Session, b.Messages) {
		b.Session.Transcript = nil
	}
}

// removeStaleTemps removes the temporary files of writers that died.
func (l *Log) removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), spoolTempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && l.o.Now().Sub(fi.ModTime()) > spoolTempMaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
