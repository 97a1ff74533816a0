package paths

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDataDirPrecedence(t *testing.T) {
	env := map[string]string{EnvDataDir: "/tmp/from-env"}
	getenv := func(k string) string { return env[k] }

	if got, _ := DataDir("/tmp/from-flag", getenv); got != "/tmp/from-flag" {
		t.Fatalf("flag should win, got %q", got)
	}
	if got, _ := DataDir("", getenv); got != "/tmp/from-env" {
		t.Fatalf("env should be used, got %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	t.Setenv("HOME", "/tmp/home")
	got, err := DataDir("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join("/tmp/xdg", "herald") {
		t.Fatalf("default = %q, want /tmp/xdg/herald", got)
	}
	rel, _ := DataDir("rel/dir", nil)
	if !filepath.IsAbs(rel) {
		t.Fatalf("relative flag not made absolute: %q", rel)
	}
}

func TestEnsureCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if _, err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode = %v, want 0700", fi.Mode().Perm())
	}
}
