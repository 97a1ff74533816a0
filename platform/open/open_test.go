package open

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandPerPlatform(t *testing.T) {
	for goos, want := range map[string]string{"linux": "xdg-open", "freebsd": "xdg-open", "darwin": "open", "windows": "explorer"} {
		if name, args := Command(goos, "/x y"); name != want || len(args) != 1 || args[0] != "/x y" {
			t.Errorf("%s: %s %q", goos, name, args)
		}
	}
}

// A fake xdg-open on PATH records what it was asked to open.
func TestPathRunsTheOpener(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "opened")
	script := "#!/bin/sh\nprintf '%s' \"$1\" > " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := filepath.Join(t.TempDir(), "data dir")
	os.Mkdir(dir, 0o700)
	if err := PathWith(context.Background(), "linux", dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(log); string(b) != dir {
		t.Fatalf("opened %q, want %q", b, dir)
	}
	if err := PathWith(context.Background(), "linux", filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing path was opened")
	}
	t.Setenv("PATH", t.TempDir())
	if err := PathWith(context.Background(), "linux", dir); err == nil || !strings.Contains(err.Error(), "xdg-open is not installed") {
		t.Fatalf("without xdg-open: %v", err)
	}
}
