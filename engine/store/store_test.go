package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "herald.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func sampleMessage(i int) *SandboxMessage {
	base := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return &SandboxMessage{
		Received: base.Add(time.Duration(i) * time.Second),
		Remote:   "127.0.0.1:40000",
		Helo:     "client.example",
		TLS:      i%2 == 0,
		AuthUser: "alice",
		From:     fmt.Sprintf("sender%d@example.com", i),
		To:       []string{"a@example.net", "b@example.net"},
		Subject:  fmt.Sprintf("Grüße %d", i),
		Raw:      []byte(fmt.Sprintf("Subject: test %d\r\n\r\nbody\x00\xff\r\n", i)),
		Transcript: []transcript.Event{
			{Time: base, Elapsed: 0, Dir: transcript.Server, Text: "220 herald.sandbox ESMTP Service Ready"},
			{Time: base.Add(1500 * time.Microsecond), Elapsed: 1500 * time.Microsecond, Ms: 1.5, Dir: transcript.Client, TLS: true, Text: "EHLO client.example"},
		},
		ReplyDropped: i%3 == 0,
	}
}

func TestOpenCreatesPrivateFileWithDurablePragmas(t *testing.T) {
	s, path := openTemp(t)
	if fi, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %v, want 0700", fi.Mode().Perm())
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
	}
	ctx := context.Background()
	// The pragmas are per connection: check them on several pooled
	// connections held at the same time.
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000", "foreign_keys": "1"} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, pragma, got, want)
			}
		}
		c.Close()
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
}

func TestOpenPathWithURISyntaxCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "h.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.AddSandboxMessage(context.Background(), sampleMessage(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	if _, err := Open("  "); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

func assertSameMessage(t *testing.T, got, want *SandboxMessage) {
	t.Helper()
	if !got.Received.Equal(want.Received) {
		t.Errorf("Received = %v, want %v", got.Received, want.Received)
	}
	if got.ID != want.ID || got.Remote != want.Remote || got.Helo != want.Helo || got.TLS != want.TLS ||
		got.AuthUser != want.AuthUser || got.From != want.From || got.Subject != want.Subject ||
		got.ReplyDropped != want.ReplyDropped || got.Size != len(want.Raw) {
		t.Errorf("summary fields differ:\n got %+v\nwant %+v", *got, *want)
	}
	if !reflect.DeepEqual(got.To, want.To) {
		t.Errorf("To = %q, want %q", got.To, want.To)
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		t.Errorf("Raw = %q, want %q", got.Raw, want.Raw)
	}
	if len(got.Transcript) != len(want.Transcript) {
		t.Fatalf("transcript has %d events, want %d", len(got.Transcript), len(want.Transcript))
	}
	for i := range want.Transcript {
		g, w := got.Transcript[i], want.Transcript[i]
		if !g.Time.Equal(w.Time) || g.Elapsed != w.Elapsed || g.Dir != w.Dir || g.TLS != w.TLS || g.Text != w.Text || g.Ms != w.Ms {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	want := sampleMessage(3)
	id, err := s.AddSandboxMessage(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if id == 0 || want.ID != id {
		t.Fatalf("id = %d, m.ID = %d", id, want.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got, err := s2.SandboxMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	assertSameMessage(t, got, want)
}

func TestListNewestFirstSummariesAndLimit(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	// Insert out of time order: the list follows arrival time, not id.
	for _, i := range []int{2, 0, 3, 1} {
		if _, err := s.AddSandboxMessage(ctx, sampleMessage(i)); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListSandboxMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("listed %d, want 4", len(all))
	}
	for i, m := range all {
		wantFrom := fmt.Sprintf("sender%d@example.com", 3-i)
		if m.From != wantFrom {
			t.Errorf("position %d: From = %s, want %s", i, m.From, wantFrom)
		}
		if m.Raw != nil || m.Transcript != nil {
			t.Errorf("summary %d carries Raw or Transcript", i)
		}
		if m.Size == 0 || len(m.To) != 2 || m.Subject == "" {
			t.Errorf("summary %d lacks fields: %+v", i, m)
		}
	}
	two, err := s.ListSandboxMessages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(two) != 2 || two[0].ID != all[0].ID || two[1].ID != all[1].ID {
		t.Fatalf("limit 2 returned %d messages", len(two))
	}
}

func TestMissingMessageAndDelete(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	if _, err := s.SandboxMessage(ctx, 42); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing id: err = %v, want ErrNotFound", err)
	}
	id, err := s.AddSandboxMessage(ctx, sampleMessage(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSandboxMessages(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SandboxMessage(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: err = %v, want ErrNotFound", err)
	}
	if l, err := s.ListSandboxMessages(ctx, 10); err != nil || len(l) != 0 {
		t.Fatalf("after delete: %d messages, %v", len(l), err)
	}
	// Ids are never reused, so an old id cannot show a different message.
	id2, err := s.AddSandboxMessage(ctx, sampleMessage(2))
	if err != nil {
		t.Fatal(err)
	}
	if id2 <= id {
		t.Fatalf("id reused: %d after %d", id2, id)
	}
}

func TestAddRejectsBadInput(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	if _, err := s.AddSandboxMessage(ctx, nil); err == nil {
		t.Error("nil message accepted")
	}
	m := sampleMessage(1)
	m.Received = time.Time{}
	if _, err := s.AddSandboxMessage(ctx, m); err == nil {
		t.Error("message without received time accepted")
	}
	// Nil slices are stored as empty ones.
	m = &SandboxMessage{Received: time.Now()}
	id, err := s.AddSandboxMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SandboxMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.To) != 0 || len(got.Raw) != 0 || len(got.Transcript) != 0 {
		t.Fatalf("empty message came back as %+v", got)
	}
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, s *Store, name string) bool {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestMigrationUpgradesOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	ctx := context.Background()
	old, err := openWith(path, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	want := sampleMessage(5)
	if _, err := old.AddSandboxMessage(ctx, want); err != nil {
		t.Fatal(err)
	}
	old.Close()

	newer := append(append([]migration(nil), migrations...),
		migration{name: "notes", sql: `CREATE TABLE notes (id INTEGER PRIMARY KEY, msg INTEGER NOT NULL REFERENCES sandbox_messages(id), text TEXT NOT NULL);
			ALTER TABLE sandbox_messages ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;`},
		migration{name: "notes index", sql: `CREATE INDEX notes_msg ON notes (msg);`},
	)
	s, err := openWith(path, newer)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != len(newer) {
		t.Fatalf("version after upgrade = %d, want %d", v, len(newer))
	}
	if !tableExists(t, s, "notes") {
		t.Fatal("table of the new step missing")
	}
	got, err := s.SandboxMessage(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSameMessage(t, got, want)
	// foreign_keys=ON is in force for the new table.
	if _, err := s.DB().Exec(`INSERT INTO notes (msg, text) VALUES (9999, 'x')`); err == nil {
		t.Fatal("foreign key not enforced")
	}
	// Reopening at the same version is a no-op.
	s.Close()
	s, err = openWith(path, newer)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestFailedMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	bad := append(append([]migration(nil), migrations...),
		migration{name: "broken", sql: `CREATE TABLE half (a INTEGER); INSERT INTO no_such_table VALUES (1);`})
	if _, err := openWith(path, bad); err == nil {
		t.Fatal("broken migration succeeded")
	}
	if v := userVersion(t, path); v != len(migrations) {
		t.Fatalf("version after failed step = %d, want %d", v, len(migrations))
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open after failed upgrade: %v", err)
	}
	defer s.Close()
	if tableExists(t, s, "half") {
		t.Fatal("partial migration left a table behind")
	}
}

func TestNewerFileIsRefused(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.DB().Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
	if v := userVersion(t, path); v != 99 {
		t.Fatalf("refused file was changed: version %d", v)
	}
}

func TestConcurrentInsertAndList(t *testing.T) {
	s, path := openTemp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	const writers, perWriter, readers = 4, 25, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers+1)
	ids := make(chan int64, writers*perWriter)
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id, err := s.AddSandboxMessage(ctx, sampleMessage(w*perWriter+i))
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				ids <- id
			}
		}(w)
	}
	var rwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func(r int) {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				list, err := s.ListSandboxMessages(ctx, 20)
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if len(list) > 0 {
					if _, err := s.SandboxMessage(ctx, list[0].ID); err != nil {
						errs <- fmt.Errorf("reader %d: %w", r, err)
						return
					}
				}
			}
		}(r)
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("duplicate id %d", id)
		}
		seen[id] = true
	}
	if len(seen) != writers*perWriter {
		t.Fatalf("%d ids, want %d", len(seen), writers*perWriter)
	}
	// Everything committed is on disk for a fresh handle.
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	all, err := s2.ListSandboxMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*perWriter {
		t.Fatalf("reopened store lists %d, want %d", len(all), writers*perWriter)
	}
}

func TestSearchCountDeleteSandboxMessages(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	base := time.Unix(1700000000, 0)
	for i, subj := range []string{"Invoice 1", "hello", "Invoice_2", "news"} {
		if _, err := s.AddSandboxMessage(ctx, &SandboxMessage{Received: base.Add(time.Duration(i) * time.Second), From: "a@x.test", To: []string{"b@y.test"}, Subject: subj, Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.SearchSandboxMessages(ctx, SandboxQuery{Limit: 2, Offset: 1})
	if err != nil || len(page) != 2 || page[0].Subject != "Invoice_2" || page[1].Subject != "hello" {
		t.Fatalf("page: %v %+v", err, page)
	}
	if n, err := s.CountSandboxMessages(ctx, SandboxQuery{Search: "INVOICE"}); err != nil || n != 2 {
		t.Fatalf("count: %d %v", n, err)
	}
	if n, _ := s.CountSandboxMessages(ctx, SandboxQuery{Search: "e_2"}); n != 1 { // _ is literal
		t.Fatalf("LIKE escape: %d", n)
	}
	if err := s.DeleteSandboxMessage(ctx, page[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSandboxMessage(ctx, page[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if n, _ := s.CountSandboxMessages(ctx, SandboxQuery{}); n != 3 {
		t.Fatalf("after delete: %d", n)
	}
}
