package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// window is the real Herald window a test runs: the built binary under the
// test's X display, its output kept for failure messages.
type window struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// windowEnv is the environment of a window under test: the C.UTF-8 locale,
// fresh Fyne preferences, and a session bus that leads nowhere when the
// test has none (Fyne would autolaunch a dbus-daemon that outlives it).
func windowEnv(t *testing.T) []string {
	env := append(os.Environ(), "LANG=C.UTF-8", "XDG_CONFIG_HOME="+t.TempDir())
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/herald-test-bus")
	}
	return env
}

// startWindow runs the built binary with args under env (windowEnv when
// nil); the test skips without a display. The window is killed at the end
// of the test if it still runs.
func startWindow(t *testing.T, env []string, args ...string) *window {
	t.Helper()
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	if env == nil {
		env = windowEnv(t)
	}
	// Nothing a previous test pressed may still be down.
	if xdotool, err := exec.LookPath("xdotool"); err == nil {
		releaseKeys(xdotool, "ctrl+shift+alt+super+q+Return+Tab")
	}
	w := &window{t: t, cmd: exec.Command(heraldBin(t), args...), out: &lockedBuffer{}, done: make(chan error, 1)}
	w.cmd.Env = env
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// visible waits (up to a minute) for the window to show and returns its X
// window id, for xdotool. It asks again after an X error: a window that
// Fyne maps and remaps while it starts can vanish under xdotool's search.
func (w *window) visible(xdotool string) string {
	w.t.Helper()
	var last []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		select {
		case err := <-w.done:
			w.t.Fatalf("the window exited before it showed: %v\n%s", err, tail(w.out.String(), 3000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, xdotool, "search", "--onlyvisible", "--name", "^Herald").CombinedOutput()
		cancel()
		if f := strings.Fields(string(out)); err == nil && len(f) > 0 {
			return f[0]
		}
		last = out
	}
	w.t.Fatalf("the window did not appear: %s\n%s", last, w.stacks())
	return ""
}

// stacks asks a window that is stuck for its goroutines (SIGQUIT makes a
// Go program print them and exit) and returns them with the output before:
// what the test failed on says where the window waited.
func (w *window) stacks() string {
	w.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
	}
	out := w.out.String()
	if i := strings.Index(out, "goroutine 1 ["); i >= 0 {
		return tail(out[:i], 2000) + "\n" + tail(out[i:], 12000)
	}
	return tail(out, 3000)
}

// title is the window's title now ("" when it cannot be read, e.g. while
// Fyne replaces the X window).
func (w *window) title(xdotool string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := w.visible(xdotool)
	b, _ := exec.CommandContext(ctx, xdotool, "getwindowname", id).Output()
	return strings.TrimSpace(string(b))
}

// focus gives the window the keyboard (for text typed through XTEST: GLFW
// takes no text from synthetic --window events) and returns its id. It
// looks the window up again after an X error, as key does.
func (w *window) focus(xdotool string) string {
	w.t.Helper()
	var out []byte
	var err error
	for try := 0; try < 5; try++ {
		id := w.visible(xdotool)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err = exec.CommandContext(ctx, xdotool, "windowfocus", "--sync", id).CombinedOutput()
		cancel()
		if err == nil {
			return id
		}
		time.Sleep(300 * time.Millisecond)
	}
	w.t.Fatalf("xdotool could not focus the window: %v\n%s", err, out)
	return ""
}

// key types keys into the window (xdotool's key names, e.g. "ctrl+Return").
// The window is looked up again first, and again after an X error: Fyne
// may replace the X window it showed first (id is only the first guess).
func (w *window) key(xdotool, id, keys string) {
	w.t.Helper()
	// xdotool presses the keys through XTEST when the window has the
	// focus, and when the window goes away half-way (Ctrl+Q) the releases
	// fail: the keys would stay down in the X server, repeating into every
	// later window (a stuck Ctrl+Q quits each one as it opens). Release
	// them in the server whatever happened.
	defer releaseKeys(xdotool, keys)
	var out []byte
	var err error
	for try := 0; try < 5; try++ {
		if try > 0 || id == "" {
			time.Sleep(300 * time.Millisecond)
			id = w.visible(xdotool)
		}
		if out, err = exec.Command(xdotool, "key", "--window", id, keys).CombinedOutput(); err == nil {
			return
		}
		// A key that closes the window (Ctrl+Q) can make the rest of
		// xdotool's events fail: the key went through if the window ended.
		select {
		case exit := <-w.done:
			w.done <- exit // for exited
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	w.t.Fatalf("xdotool key %s: %v\n%s", keys, err, out)
}

// releaseKeys lifts keys (xdotool's "ctrl+q" form) in the X server.
func releaseKeys(xdotool, keys string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	exec.CommandContext(ctx, xdotool, "keyup", keys).Run()
}

// exited waits up to 15 s for the window to end by itself (after a key
// such as Ctrl+Q) and fails unless it exited cleanly.
func (w *window) exited(after string) {
	w.t.Helper()
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Fatalf("the window did not exit cleanly after %s: %v\n%s", after, err, tail(w.out.String(), 3000))
		}
	case <-time.After(15 * time.Second):
		w.t.Fatalf("the window did not close within 15 s of %s; where it waited:\n%s", after, w.stacks())
	}
}

// interrupt sends SIGINT and expects a clean exit.
func (w *window) interrupt() {
	w.t.Helper()
	w.cmd.Process.Signal(os.Interrupt)
	w.exited("SIGINT")
}
