// Package browser opens a URL in the user's default web browser.
package browser

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"runtime"
	"time"
)

// Open opens u (an http or https URL) in the default browser: xdg-open on
// Linux and the BSDs, open on macOS, the URL handler on Windows. It returns
// once the opener has started the browser (or failed).
func Open(ctx context.Context, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return fmt.Errorf("open the browser: %q is not an http(s) URL", u)
	}
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name, args = "open", []string{u}
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", u}
	default:
		name, args = "xdg-open", []string{u}
	}
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("open the browser: %s not found: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("open the browser: %s failed: %w", name, err)
		}
		return fmt.Errorf("open the browser: %w", err)
	}
	return nil
}
