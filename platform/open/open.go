// Package open shows a file or folder in the desktop's own application (a
// file manager for a folder): xdg-open on Linux and the BSDs, open on macOS,
// explorer on Windows.
package open

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// Command returns the program and arguments that open path on goos.
func Command(goos, path string) (name string, args []string) {
	switch goos {
	case "darwin":
		return "open", []string{path}
	case "windows":
		return "explorer", []string{path}
	}
	return "xdg-open", []string{path}
}

// Path opens path (which must exist) with the desktop's application for
// it, on this operating system. It waits at most a few seconds for the
// opener to hand over, and names the program in its error.
func Path(ctx context.Context, path string) error {
	return PathWith(ctx, runtime.GOOS, path)
}

// PathWith is Path for goos's opener (tests choose one they can run).
func PathWith(ctx context.Context, goos, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	name, args := Command(goos, path)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case goos == "windows" && errors.As(err, &ee) && ee.ExitCode() == 1:
		// explorer exits 1 even when it opened the folder.
		return nil
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("open %s: %s is not installed: open the folder in your file manager yourself", path, name)
	case len(out) > 0:
		return fmt.Errorf("open %s with %s: %w: %s", path, name, err, firstLine(out))
	}
	return fmt.Errorf("open %s with %s: %w", path, name, err)
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return string(b[:i])
		}
	}
	return string(b)
}
