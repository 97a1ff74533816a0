package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newItem(i int) NewQueueItem {
	return NewQueueItem{Profile: "p1", From: "a@herald.test", To: []string{"b@herald.test"},
		MessageID: fmt.Sprintf("<%d@herald.test>", i), Subject: fmt.Sprintf("m%d", i), Body: []byte("Subject: x\r\n\r\nbody\r\n")}
}

func countItems(t *testing.T, path string) int {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	items, err := s.ListQueueItems(context.Background(), QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

// copyFile copies the database file alone, as a process killed after its
// -wal file was deleted would leave it.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDeletedWALIsDetectedAndItsContentSaved(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	if _, err := s.EnqueueQueueItems(ctx, time.Now(), []NewQueueItem{newItem(1), newItem(2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckFiles(); err != nil {
		t.Fatalf("untouched files: %v", err)
	}
	if err := os.Remove(path + "-wal"); err != nil {
		t.Fatal(err)
	}
	_, err := s.EnqueueQueueItems(ctx, time.Now(), []NewQueueItem{newItem(3)})
	if !errors.Is(err, ErrReplaced) {
		t.Fatalf("enqueue after the -wal file was deleted: %v, want ErrReplaced", err)
	}
	for _, want := range []string{"removed or replaced under Herald", "herald.db-wal was deleted", "saved into the database file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := s.ClaimQueueItems(ctx, QueueClaim{Owner: "o", Now: time.Now(), LeaseUntil: time.Now().Add(time.Minute), Limit: 1}); !errors.Is(err, ErrReplaced) {
		t.Fatalf("claim after the -wal file was deleted: %v, want ErrReplaced", err)
	}
	// What a kill would leave: the database file without its -wal. The
	// commits made before the deletion were copied into it.
	killed := filepath.Join(t.TempDir(), FileName)
	copyFile(t, path, killed)
	if n := countItems(t, killed); n < 2 {
		t.Fatalf("the database file holds %d items after the -wal file was lost, want the 2 committed before", n)
	}
}

func TestReplacedDatabaseFileIsDetected(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	if _, err := s.EnqueueQueueItems(ctx, time.Now(), []NewQueueItem{newItem(1)}); err != nil {
		t.Fatal(err)
	}
	other := path + ".other"
	if err := os.WriteFile(other, []byte("not the same file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	_, err := s.CompleteQueueItems(ctx, "o", time.Now(), []QueueCompletion{{ID: 1, State: QueueSent}})
	if !errors.Is(err, ErrReplaced) || !strings.Contains(err.Error(), "removed or replaced under Herald") {
		t.Fatalf("complete after the file was replaced: %v, want ErrReplaced", err)
	}
}
