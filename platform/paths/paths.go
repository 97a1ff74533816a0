// Package paths decides where Herald keeps its data on this operating system.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvDataDir names the environment variable that overrides the data directory.
const EnvDataDir = "HERALD_DATA_DIR"

// DataDir returns the data directory: flagValue when set, else the value of
// HERALD_DATA_DIR (read through getenv), else "herald" under the user's
// configuration directory (os.UserConfigDir). The directory is not created.
func DataDir(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if getenv != nil {
		if v := getenv(EnvDataDir); v != "" {
			return filepath.Abs(v)
		}
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user configuration directory (set --data-dir or %s): %w", EnvDataDir, err)
	}
	if base == "" {
		return "", errors.New("the user configuration directory is empty: set --data-dir or " + EnvDataDir)
	}
	return filepath.Join(base, "herald"), nil
}

// Ensure creates dir (and parents) readable only by the current user, and
// returns it.
func Ensure(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return dir, nil
}
