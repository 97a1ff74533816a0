package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const recoverItems = 400

// filledStore makes a closed database with profiles, queue items (with
// bodies and recipients) and sandbox messages, all in the main file.
func filledStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := s.InsertProfile(ctx, ProfileRow{ID: fmt.Sprintf("id%d", i), Name: fmt.Sprintf("p%d", i), Data: []byte(`{}`), Created: time.Now(), Updated: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	items := make([]NewQueueItem, recoverItems)
	for i := range items {
		items[i] = newItem(i)
		items[i].Subject = fmt.Sprintf("message %d with a subject long enough to fill pages %s", i, strings.Repeat("x", 100))
		items[i].To = []string{"a@herald.test", "b@herald.test"}
		items[i].Body = bytes.Repeat([]byte("body line\r\n"), 60)
	}
	if _, err := s.EnqueueQueueItems(ctx, time.Now(), items); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := s.AddSandboxMessage(ctx, sampleMessage(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // checkpoints the -wal into the file
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the -wal file is still there after Close")
	}
	return path
}

// mustBeDamaged opens path expecting ErrDamaged, and checks that the
// attempt changed nothing in the file.
func mustBeDamaged(t *testing.T, path string) {
	t.Helper()
	before, _ := os.ReadFile(path)
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("a damaged file opened without error")
	}
	var de *DamagedError
	if !errors.Is(err, ErrDamaged) || !errors.As(err, &de) || de.Path != path {
		t.Fatalf("Open: %v (%T), want a *DamagedError for %s", err, err, path)
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "moves it aside") {
		t.Errorf("the error does not say what is wrong and what to do: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Open changed the damaged file")
	}
}

// repair runs Recover and checks that the damaged file is kept as it was
// and that the fresh store opens.
func repair(t *testing.T, path string) *RecoverReport {
	t.Helper()
	damaged, _ := os.ReadFile(path)
	rep, err := Recover(path)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	kept, err := os.ReadFile(rep.DamagedPath)
	if err != nil || !bytes.Equal(kept, damaged) {
		t.Fatalf("the damaged file was not kept as it was at %s: %v", rep.DamagedPath, err)
	}
	if !strings.HasPrefix(filepath.Base(rep.DamagedPath), "herald.db.damaged-") {
		t.Errorf("damaged file moved to %s", rep.DamagedPath)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("the repaired store does not open: %v", err)
	}
	s.Close()
	t.Logf("%+v", *rep)
	return rep
}

func table(rep *RecoverReport, name string) TableRecovery {
	for _, tr := range rep.Tables {
		if tr.Name == name {
			return tr
		}
	}
	return TableRecovery{}
}

func TestGarbageHeaderIsDamagedAndRepairKeepsIt(t *testing.T) {
	path := filledStore(t)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{0x5a}, 100), 0)
	f.Close()
	mustBeDamaged(t, path)
	rep := repair(t, path)
	if rep.Unreadable == "" || rep.Copied() != 0 {
		t.Fatalf("a file with a garbage header: unreadable %q, %d rows copied", rep.Unreadable, rep.Copied())
	}
	// A second repair on the same second never overwrites the first.
	if err := os.WriteFile(path, []byte("garbage, garbage, garbage, garbage, garbage, garbage, garbage, garbage, garbage, garbage, garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustBeDamaged(t, path)
	rep2 := repair(t, path)
	if rep2.DamagedPath == rep.DamagedPath {
		t.Fatal("the second repair reused the first one's name")
	}
}

func TestTruncatedFileIsDamagedAndRepairCopiesWhatIsLeft(t *testing.T) {
	path := filledStore(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	mustBeDamaged(t, path)
	rep := repair(t, path)
	if rep.Copied() == 0 {
		t.Fatal("nothing recovered from a half-truncated file")
	}
}

// leafOf returns a leaf page in the middle of a table's b-tree.
func leafOf(t *testing.T, path, tableName string) (page int64, pageSize int64) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	err = s.db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", tableName).Scan(&root)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize = int64(binary.BigEndian.Uint16(b[16:18]))
	p := b[(root-1)*pageSize : root*pageSize]
	if p[0] != 0x05 {
		t.Fatalf("the root of %s is not an interior table page (type %#x)", tableName, p[0])
	}
	cells := int(binary.BigEndian.Uint16(p[3:5]))
	if cells < 3 {
		t.Fatalf("%s has only %d children", tableName, cells+1)
	}
	off := binary.BigEndian.Uint16(p[12+2*(cells/2):])
	return int64(binary.BigEndian.Uint32(p[off:])), pageSize
}

func TestDamagedPageIsDetectedAndRepairSkipsIt(t *testing.T) {
	path := filledStore(t)
	leaf, size := leafOf(t, path, "queue_items")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{0xa5}, int(size)), (leaf-1)*size)
	f.Close()
	mustBeDamaged(t, path)
	rep := repair(t, path)
	items := table(rep, "queue_items")
	if items.Copied >= recoverItems || items.Copied < recoverItems*3/4 || items.Damaged == 0 {
		t.Fatalf("queue_items: %+v, want most of the %d rows and a damaged stretch skipped", items, recoverItems)
	}
	if p := table(rep, "profiles"); p.Copied != 2 {
		t.Errorf("profiles: %+v, want 2", p)
	}
	if sb := table(rep, "sandbox_messages"); sb.Copied != 20 {
		t.Errorf("sandbox_messages: %+v, want 20", sb)
	}
	if b := table(rep, "queue_bodies"); b.Copied != items.Copied {
		t.Errorf("queue_bodies: %+v, want one per recovered item (%d)", b, items.Copied)
	}
	if r := table(rep, "queue_rcpts"); r.Copied != 2*items.Copied || r.Skipped != 2*(recoverItems-items.Copied) {
		t.Errorf("queue_rcpts: %+v, want 2 per recovered item (%d) and the lost items' skipped", r, items.Copied)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	list, err := s.ListQueueItems(ctx, QueueFilter{})
	if err != nil || len(list) != items.Copied {
		t.Fatalf("the repaired queue lists %d items (%v), want %d", len(list), err, items.Copied)
	}
	it, err := s.QueueItem(ctx, list[len(list)-1].ID)
	if err != nil || len(it.Recipients) != 2 {
		t.Fatalf("last recovered item: %+v, %v", it, err)
	}
	// New ids go on after the old ones, lost or not.
	ids, err := s.EnqueueQueueItems(ctx, time.Now(), []NewQueueItem{newItem(9999)})
	if err != nil || ids[0] <= recoverItems {
		t.Fatalf("new id %v (%v), want > %d", ids, err, recoverItems)
	}
}
