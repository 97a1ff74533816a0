package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/store"
)

func TestDamagedDatabaseSaysSoAndRepairRecovers(t *testing.T) {
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(args ...string) runResult {
		return runCLIWith(t, "", sec, append([]string{"--data-dir", dir}, args...)...)
	}
	if r := run("profile", "add", "--name", "news", "--server", "127.0.0.1:2525", "--tls", "none", "--auth", "none", "--from", "news@herald.test"); r.code != ExitOK {
		t.Fatalf("profile add: %d %s", r.code, r.stderr)
	}
	if r := run("repair"); r.code != ExitOK || !strings.Contains(r.stdout, "nothing to repair") {
		t.Fatalf("repair of a sound database: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Garbage in the header.
	path := store.PathIn(dir)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{0x5a}, 16), 0)
	f.Close()
	damaged, _ := os.ReadFile(path)
	for _, args := range [][]string{{"queue", "list"}, {"profile", "list"}, {"sandbox", "list"},
		{"send", "--queue", "--profile", "news", "--to", "b@herald.test", "--subject", "s", "--body", "b"}} {
		r := run(args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "is damaged") || !strings.Contains(r.stderr, "herald repair") ||
			strings.Contains(r.stderr, "SQLITE_") {
			t.Errorf("%s: exit %d, stderr %q: want a clear message and the way to repair", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	r := run("repair")
	if r.code != ExitOK || !strings.Contains(r.stdout, "moved the damaged database aside") || !strings.Contains(r.stdout, "created a fresh database") {
		t.Fatalf("repair: %d %q %q", r.code, r.stdout, r.stderr)
	}
	kept, _ := filepath.Glob(path + ".damaged-*")
	if len(kept) != 1 {
		t.Fatalf("damaged files kept: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, damaged) {
		t.Fatal("the damaged file was changed")
	}
	if r := run("queue", "list"); r.code != ExitOK {
		t.Fatalf("queue list after repair: %d %s", r.code, r.stderr)
	}
}
