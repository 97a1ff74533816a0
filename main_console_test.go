package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestConsoleUnderX types a whole SMTP session into the real window's
// Console (`herald --view console`) with the keyboard and finds the message
// in a sandbox run by another herald process.
func TestConsoleUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	xdotool := lookTool(t, "xdotool")
	bin := heraldBin(t)
	env := append(os.Environ(), "LANG=C.UTF-8", "XDG_CONFIG_HOME="+t.TempDir())
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/herald-test-bus")
	}

	// The server: a sandbox of its own, on a free port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	sbDir := t.TempDir()
	sb := exec.Command(bin, "sandbox", "--listen", addr, "--data-dir", sbDir)
	sb.Env = env
	var sbOut bytes.Buffer
	sb.Stdout, sb.Stderr = &sbOut, &sbOut
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sb.Process.Kill(); sb.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not listen on %s\n%s", addr, sbOut.String())
		}
	}

	w := startWindow(t, env, "--data-dir", t.TempDir(), "--view", "console")
	w.visible(xdotool)
	time.Sleep(time.Second) // let the window draw and take focus
	xdo := func(args ...string) {
		t.Helper()
		if b, err := exec.Command(xdotool, args...).CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v\n%s", args, err, b)
		}
	}
	// Typed through XTEST into the focused window: GLFW takes no text
	// from synthetic (--window) events.
	w.focus(xdotool)
	line := func(s string) {
		if s != "" {
			xdo("type", "--delay", "5", s)
		}
		xdo("key", "Return")
		time.Sleep(300 * time.Millisecond)
	}
	// The server field has the keyboard; Enter connects, then the command
	// line has it.
	line(addr)
	time.Sleep(time.Second)
	for _, l := range []string{"ehlo", "MAIL FROM:<ann@example.com>", "RCPT TO:<bob@example.com>", "data",
		"Subject: typed in the window's console", "", "Hello.", ".", "quit"} {
		line(l)
	}

	var items []struct {
		From    string `json:"from"`
		Subject string `json:"subject"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		list := exec.Command(bin, "sandbox", "list", "--json", "--data-dir", sbDir)
		list.Env = env
		b, err := list.Output()
		if err == nil && json.Unmarshal(b, &items) == nil && len(items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing reached the sandbox from the console\n%s", tail(w.out.String(), 3000))
		}
	}
	if items[0].Subject != "typed in the window's console" || items[0].From != "ann@example.com" {
		t.Fatalf("captured %+v", items[0])
	}
	w.interrupt()
}
