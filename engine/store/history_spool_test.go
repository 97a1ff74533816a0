package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestAddHistorySkipsKnownSpoolIDs: a session whose spool id is already in
// the history is not added again, in another batch or the same one; sessions
// without one are always added.
func TestAddHistorySkipsKnownSpoolIDs(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	batch := func(spoolIDs ...string) []HistoryBatch {
		var b []HistoryBatch
		for _, id := range spoolIDs {
			b = append(b, HistoryBatch{Session: &HistorySession{Started: now, Finished: now, SpoolID: id},
				Messages: []HistoryEntry{{Started: now, Finished: now, Queued: now, From: "a@x.test", To: []string{"b@x.test"}, State: "sent", Attempt: 1}}})
		}
		return b
	}
	first := batch("a", "b", "")
	if err := s.AddHistories(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, b := range first {
		if b.Session.ID == 0 || b.Messages[0].ID == 0 {
			t.Errorf("session %q not added: %+v", b.Session.SpoolID, b.Session)
		}
	}
	again := batch("b", "c", "c", "")
	if err := s.AddHistories(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again[0].Session.ID != 0 || again[0].Messages[0].ID != 0 || again[1].Session.ID == 0 || again[2].Session.ID != 0 || again[3].Session.ID == 0 {
		t.Errorf("second batch ids: %d %d %d %d", again[0].Session.ID, again[1].Session.ID, again[2].Session.ID, again[3].Session.ID)
	}
	if n, err := s.CountHistory(ctx, HistoryFilter{}); err != nil || n != 5 {
		t.Errorf("%d messages, %v; want 5 (a, b, c and two without a spool id)", n, err)
	}
	// The unique index is the last guard.
	if _, err := s.DB().Exec(`INSERT INTO history_sessions (started_ns, finished_ns, profile, profile_name, server, tls, error, messages, failures, spool_id)
		VALUES (1, 1, '', '', '', '', '', 0, 0, 'a')`); err == nil {
		t.Error("a second session with spool id a was accepted")
	}
}
