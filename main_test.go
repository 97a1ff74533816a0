package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/godbus/dbus/v5"
	"github.com/herald-smtp/herald/engine/store"
)

// These tests run the real herald binary against real peers that we did not
// write (Postfix's smtp-sink, swaks) and open the real window under X.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

func heraldBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "herald")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-o", binPath, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build herald: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s", addr)
}

func lookTool(t *testing.T, name string, paths ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("%s is not installed (apt-get install postfix swaks; .ci/run installs them)", name)
	return ""
}

func TestSendToPostfixSmtpSink(t *testing.T) {
	sink := lookTool(t, "smtp-sink", "/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink")
	bin := heraldBin(t)
	addr := freePort(t)
	args := []string{"-c", addr, "10"}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sinkCmd := exec.CommandContext(ctx, sink, args...)
	var sinkOut bytes.Buffer
	sinkCmd.Stdout, sinkCmd.Stderr = &sinkOut, &sinkOut
	if err := sinkCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sinkCmd.Wait() }()
	waitListening(t, addr)

	cmd := exec.Command(bin, "send", "--server", addr, "--tls", "none", "--from", "a@herald.test",
		"--to", "b@example.com,c@example.com", "--subject", "to smtp-sink", "--body", "hi\n.\nbye", "--json", "--verbose")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("herald send to smtp-sink: %v\nstdout:\n%s\nstderr:\n%s\nsink:\n%s", err, stdout.String(), stderr.String(), sinkOut.String())
	}
	var res struct {
		OK         bool   `json:"ok"`
		Stage      string `json:"stage"`
		Class      string `json:"class"`
		Code       int    `json:"code"`
		Recipients []struct {
			Addr     string `json:"addr"`
			Accepted bool   `json:"accepted"`
		} `json:"recipients"`
		Transcript []struct {
			Dir  string `json:"dir"`
			Text string `json:"text"`
		} `json:"transcript"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout.String())
	}
	if !res.OK || res.Class != "sent" || res.Code != 250 || len(res.Recipients) != 2 {
		t.Fatalf("unexpected result: %+v", res)
	}
	if res.Transcript[0].Dir != "I" || !hasLine(res.Transcript, "S", "220 ") || !hasLine(res.Transcript, "C", "DATA") {
		t.Fatalf("transcript incomplete: %+v", res.Transcript)
	}
	// With --verbose the live transcript went to stderr while the session ran.
	if !strings.Contains(stderr.String(), "C  RCPT TO:<c@example.com>") {
		t.Fatalf("stderr lacks the live transcript:\n%s", stderr.String())
	}
}

func hasLine(tr []struct {
	Dir  string `json:"dir"`
	Text string `json:"text"`
}, dir, prefix string) bool {
	for _, e := range tr {
		if e.Dir == dir && strings.HasPrefix(e.Text, prefix) {
			return true
		}
	}
	return false
}

// startSandbox runs `herald sandbox` as a child process and returns its
// address once it listens.
func startSandbox(t *testing.T, dataDir string, extra ...string) string {
	t.Helper()
	bin := heraldBin(t)
	cmd := exec.Command(bin, append([]string{"sandbox", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("herald sandbox did not stop cleanly on SIGINT: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("herald sandbox did not stop within 10 s of SIGINT")
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("herald sandbox exited before it listened")
			}
			if rest, found := strings.CutPrefix(l, "Herald sandbox listening on "); found {
				addr, _, _ := strings.Cut(rest, " ")
				go func() {
					for range lines {
					}
				}()
				return addr
			}
		case <-timeout:
			t.Fatal("herald sandbox did not report its address")
		}
	}
}

func TestSandboxReceivesSwaks(t *testing.T) {
	swaks := lookTool(t, "swaks")
	dataDir := t.TempDir()
	addr := startSandbox(t, dataDir, "--tls", "starttls", "--auth", "swaksuser:swaks-secret-pw")
	host, port, _ := net.SplitHostPort(addr)

	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		cmd := exec.Command(swaks, "--server", host, "--port", port, "--tls",
			"--auth", mech, "--auth-user", "swaksuser", "--auth-password", "swaks-secret-pw",
			"--from", "swaks@herald.test", "--to", "inbox@herald.test",
			"--header", "Subject: hello from swaks "+mech, "--body", "swaks body")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("swaks %s: %v\n%s", mech, err, out)
		}
	}
	// A wrong password is refused.
	cmd := exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", "swaksuser", "--auth-password", "wrong", "--from", "a@b.test", "--to", "c@d.test")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "535") {
		t.Fatalf("swaks with a wrong password was not refused with 535: %v\n%s", err, out)
	}

	list := exec.Command(heraldBin(t), "sandbox", "list", "--json", "--data-dir", dataDir)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("herald sandbox list: %v", err)
	}
	var items []struct {
		ID      int64    `json:"id"`
		From    string   `json:"from"`
		To      []string `json:"to"`
		Subject string   `json:"subject"`
	}
	if err := json.Unmarshal(out, &items); err != nil {
		t.Fatalf("list JSON: %v\n%s", err, out)
	}
	if len(items) != 3 {
		t.Fatalf("sandbox captured %d messages, want 3: %s", len(items), out)
	}
	subjects := items[0].Subject + "|" + items[1].Subject + "|" + items[2].Subject
	if !strings.Contains(subjects, "hello from swaks PLAIN") || !strings.Contains(subjects, "hello from swaks LOGIN") || !strings.Contains(subjects, "hello from swaks CRAM-MD5") ||
		items[0].From != "swaks@herald.test" || items[0].To[0] != "inbox@herald.test" {
		t.Fatalf("captured: %+v", items)
	}
	show := exec.Command(heraldBin(t), "sandbox", "show", "--raw", "--data-dir", dataDir, itoa(items[0].ID))
	raw, err := show.Output()
	if err != nil || !strings.Contains(string(raw), "swaks body") {
		t.Fatalf("sandbox show --raw: %v\n%s", err, raw)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestHeraldSendToHeraldSandboxWithSTARTTLS(t *testing.T) {
	dataDir := t.TempDir()
	addr := startSandbox(t, dataDir, "--tls", "starttls", "--auth", "u:sandbox-pw-123")
	cert := filepath.Join(dataDir, "sandbox-cert.pem")
	cmd := exec.Command(heraldBin(t), "send", "--server", addr, "--tls", "starttls", "--ca-file", cert,
		"--user", "u", "--password-env", "HERALD_TEST_PW", "--from", "me@herald.test", "--to", "you@herald.test",
		"--subject", "over TLS", "--body", "secret-free body")
	cmd.Env = append(os.Environ(), "HERALD_TEST_PW=sandbox-pw-123")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("send: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	all := stdout.String() + stderr.String()
	if strings.Contains(all, "sandbox-pw-123") {
		t.Fatalf("the password appears in the output:\n%s", all)
	}
	if !strings.Contains(stderr.String(), "C* AUTH") {
		t.Fatalf("AUTH did not happen inside TLS:\n%s", stderr.String())
	}
}

func TestWindowSmokeUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	xwd := lookTool(t, "xwd")
	convert := lookTool(t, "convert")
	w := startWindow(t, nil, "--data-dir", t.TempDir())

	// Look at the X screen itself, as a person would, until the window has
	// drawn: a rendered window has many colours, an empty screen one.
	shot := filepath.Join(t.TempDir(), "screen.png")
	colours := 0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		select {
		case err := <-w.done:
			t.Fatalf("the window exited early: %v\n%s", err, w.out.String())
		default:
		}
		sh := exec.Command("sh", "-c", xwd+" -root -silent | "+convert+" xwd:- png:"+shot)
		if b, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("screenshot: %v\n%s", err, b)
		}
		if colours = countColours(t, shot); colours >= 8 {
			break
		}
	}
	if colours < 8 {
		t.Fatalf("the screen stayed blank (%d colours)\n%s", colours, w.out.String())
	}
	// The window closes cleanly on SIGINT.
	w.interrupt()
}

func countColours(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	colours := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	return len(colours)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// TestNoLocaleNoiseOnStderr runs the built binary under every common locale:
// no command may print Fyne's "Error parsing user locale" (or anything else)
// on stderr, and the environment children see is the one Herald was given.
func TestNoLocaleNoiseOnStderr(t *testing.T) {
	bin := heraldBin(t)
	for _, loc := range []string{"C", "POSIX", "C.UTF-8", "", "en_US.UTF-8", "de_DE.UTF-8"} {
		for _, args := range [][]string{{"version"}, {"help"}, {"queue", "list"}} {
			cmd := exec.Command(bin, args...)
			cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "HERALD_DATA_DIR=" + t.TempDir()}
			if loc != "" {
				cmd.Env = append(cmd.Env, "LANG="+loc, "LC_ALL="+loc)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("LANG=%q herald %v: %v\n%s", loc, args, err, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("LANG=%q herald %v printed on stderr:\n%s", loc, args, stderr.String())
			}
		}
	}
}

func TestUnknownViewIsAClearError(t *testing.T) {
	cmd := exec.Command(heraldBin(t), "--data-dir", t.TempDir(), "--view", "outboxx")
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "DISPLAY=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `no view is called "outboxx"; the views are: accounts`) {
		t.Fatalf("herald --view outboxx: %v\n%s", err, out)
	}
}

// TestMailtoCtrlEnterUnderX opens a mailto: link in the real window, sends
// it with the keyboard (Ctrl+Enter) and finds it in the sandbox.
func TestMailtoCtrlEnterUnderX(t *testing.T) {
	dataDir := t.TempDir()
	w := startWindow(t, nil, "--data-dir", dataDir,
		"mailto:ann@example.com,bob@example.com?cc=carol@example.com&subject=From%20a%20mailto%20link&body=Hello%0ASecond%20line")
	xdotool := lookTool(t, "xdotool")
	bin := heraldBin(t)
	id := w.visible(xdotool)
	time.Sleep(time.Second) // let the window draw and take focus
	w.key(xdotool, id, "ctrl+Return")

	var items []struct {
		To      []string `json:"to"`
		Subject string   `json:"subject"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		list := exec.Command(bin, "sandbox", "list", "--json", "--data-dir", dataDir)
		list.Env = append(os.Environ(), "LANG=C.UTF-8")
		b, err := list.Output()
		if err == nil && json.Unmarshal(b, &items) == nil && len(items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message reached the sandbox after Ctrl+Enter\n%s", tail(w.out.String(), 3000))
		}
	}
	if items[0].Subject != "From a mailto link" || len(items[0].To) != 3 {
		t.Fatalf("captured %+v", items[0])
	}
	w.interrupt()
}

// TestWizardTestsAProfileUnderX: a profile made with the CLI is tested by
// the real window opened with `--view wizard --profile P`; the test is
// recorded in the store (the CLI sees it), and Ctrl+Q closes the window.
func TestWizardTestsAProfileUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	xdotool := lookTool(t, "xdotool")
	bin := heraldBin(t)
	dataDir := t.TempDir()
	env := windowEnv(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data-dir", dataDir}, args...)...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("herald %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	// The profile's server: a sandbox in its own process and data directory.
	addr := freePort(t)
	sb := exec.Command(bin, "sandbox", "--listen", addr, "--data-dir", t.TempDir())
	sb.Env = env
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sb.Process.Kill(); sb.Wait() }()
	waitListening(t, addr)
	run("profile", "add", "--name", "box", "--server", addr, "--tls", "none", "--auth", "none", "--from", "ann@herald.test")

	w := startWindow(t, env, "--data-dir", dataDir, "--view", "wizard", "--profile", "box")
	id := w.visible(xdotool)
	var shown struct {
		LastTest *struct {
			OK      bool   `json:"ok"`
			Summary string `json:"summary"`
		} `json:"last_test"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if json.Unmarshal([]byte(run("profile", "show", "box", "--json")), &shown) == nil && shown.LastTest != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the window's connection test was not recorded\n%s", tail(w.out.String(), 3000))
		}
	}
	if !shown.LastTest.OK {
		t.Errorf("the test of a reachable sandbox failed: %s", shown.LastTest.Summary)
	}
	// Quit with the keyboard: nothing is sending, so Ctrl+Q does not ask.
	w.key(xdotool, id, "ctrl+q")
	w.exited("Ctrl+Q")
}

// TestWindowSendsQueuedMessagesUnderX queues messages with the CLI for a
// profile whose server is a separate `herald sandbox`, then opens the real
// window on the Outbox: while it runs, the messages arrive at that server.
func TestWindowSendsQueuedMessagesUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	bin := heraldBin(t)
	serverDir, dataDir := t.TempDir(), t.TempDir()
	addr := startSandbox(t, serverDir)
	env := append(os.Environ(), "LANG=C.UTF-8")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", dataDir)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("herald %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("profile", "add", "--name", "relay", "--server", addr, "--tls", "none", "--auth", "none", "--from", "app@herald.test")
	for i := range 3 {
		run("send", "--profile", "relay", "--queue", "--to", fmt.Sprintf("user%d@herald.test", i), "--subject", fmt.Sprintf("queued %d", i), "--body", "from the CLI")
	}
	// A second server refuses every recipient: its message fails for good,
	// and the window says so in a desktop notification (seen on a private
	// session bus, when D-Bus is installed).
	strict := startSandbox(t, t.TempDir(), "--fault", "rcpt:550:100")
	run("profile", "add", "--name", "strict", "--server", strict, "--tls", "none", "--auth", "none", "--from", "app@herald.test")
	run("send", "--profile", "strict", "--queue", "--to", "nobody@herald.test", "--subject", "refused for good", "--body", "x")
	busAddr, notifications := privateSessionBus(t)
	// Nothing is sent before the window opens.
	if got := sandboxCount(t, bin, serverDir); got != 0 {
		t.Fatalf("the server has %d messages before the window opened", got)
	}

	cmd := exec.Command(bin, "--data-dir", dataDir)
	cmd.Env = append(env, "XDG_CONFIG_HOME="+t.TempDir(), "DBUS_SESSION_BUS_ADDRESS="+busAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); sandboxCount(t, bin, serverDir) < 3; time.Sleep(300 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the window exited: %v\n%s", err, tail(out.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queued messages did not arrive while the window ran (%d of 3)\n%s", sandboxCount(t, bin, serverDir), tail(out.String(), 3000))
		}
	}
	// The outbox says they were sent, and the refused one failed.
	var items []struct {
		State   string `json:"state"`
		Subject string `json:"subject"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		list := exec.Command(bin, "queue", "list", "--json", "--data-dir", dataDir)
		list.Env = env
		b, err := list.Output()
		if err != nil || json.Unmarshal(b, &items) != nil || len(items) != 4 {
			t.Fatalf("queue list: %v\n%s", err, b)
		}
		states := map[string]int{}
		for _, it := range items {
			states[it.State]++
		}
		if states["sent"] == 3 && states["failed"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue list: %s", b)
		}
	}
	if notifications != nil {
		for deadline := time.Now().Add(15 * time.Second); !strings.Contains(notifications.String(), "Message not delivered"); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no desktop notification of the failure on the session bus:\n%s", tail(notifications.String(), 3000))
			}
		}
		t.Logf("notification seen on the session bus:\n%s", tail(notifications.String(), 600))
		if !strings.Contains(notifications.String(), "refused for good") {
			t.Errorf("the notification does not name the message:\n%s", tail(notifications.String(), 3000))
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the window did not exit cleanly: %v\n%s", err, tail(out.String(), 3000))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the window did not close within 15 s of SIGINT")
	}
}

// sandboxCount is how many messages the sandbox of dataDir captured.
func sandboxCount(t *testing.T, bin, dataDir string) int {
	t.Helper()
	cmd := exec.Command(bin, "sandbox", "list", "--json", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
	b, err := cmd.Output()
	if err != nil {
		return 0
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return 0
	}
	return len(items)
}

// privateSessionBus starts a D-Bus session daemon of the test's own and a
// monitor of the desktop notifications sent on it. Without D-Bus it returns
// an address that leads nowhere (Fyne logs that it cannot notify) and nil.
func privateSessionBus(t *testing.T) (string, *lockedBuffer) {
	t.Helper()
	daemon, err1 := exec.LookPath("dbus-daemon")
	monitor, err2 := exec.LookPath("dbus-monitor")
	if err1 != nil || err2 != nil {
		return "unix:path=/nonexistent/herald-test-bus", nil
	}
	sock := filepath.Join(t.TempDir(), "bus")
	addr := "unix:path=" + sock
	d := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address="+addr)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dbus-daemon did not make its socket")
		}
	}
	out := &lockedBuffer{}
	m := exec.Command(monitor, "--address", addr, "interface='org.freedesktop.Notifications'")
	m.Stdout, m.Stderr = out, out
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Process.Kill(); m.Wait() })
	time.Sleep(300 * time.Millisecond) // let it subscribe
	return addr, out
}

// lockedBuffer is a bytes.Buffer safe for a process's output and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWithoutWindow runs the built binary with args and display as its
// DISPLAY (no Wayland), where no window can open, and checks what a person
// must get then: exit 2, a message with each of want, no stack trace.
func startWithoutWindow(t *testing.T, label, display string, want []string, args ...string) {
	t.Helper()
	cmd := exec.Command(heraldBin(t), args...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "DISPLAY="+display, "WAYLAND_DISPLAY=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	msg := stderr.String()
	if code != 2 {
		t.Errorf("%s: exit %d, want 2\n%s", label, code, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: stderr lacks %q:\n%s", label, w, msg)
		}
	}
	for _, bad := range []string{"panic", "goroutine ", "GLFW", ".go:"} {
		if strings.Contains(msg, bad) {
			t.Errorf("%s: stderr has %q:\n%s", label, bad, msg)
		}
	}
}

// TestNoDisplayIsAClearError starts the window with no display: a message
// that says what to do, exit code 2, no stack trace, and nothing started
// (the sandbox would have made the data directory's database).
func TestNoDisplayIsAClearError(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("windows and macOS always have a display")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{{"--data-dir", dataDir}, {"--data-dir", dataDir, "--view", "compose"}, {"--data-dir", dataDir, "mailto:ann@example.com"}} {
		startWithoutWindow(t, fmt.Sprintf("herald %q", args), "", []string{"no desktop session", "DISPLAY", "use a verb", "herald help"}, args...)
		if _, err := os.Stat(filepath.Join(dataDir, "herald.db")); err == nil {
			t.Errorf("herald %q opened the data directory before checking the display", args)
		}
	}
}

// TestNoDisplayServerIsAClearError: a DISPLAY that names no running X
// server (a stale one from an ended SSH session) is a clear message and
// exit 2 too, not GLFW's panic.
func TestNoDisplayServerIsAClearError(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("X display numbers checked on Linux")
	}
	n := -1
	for i := 99; i < 200; i++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", i)); errors.Is(err, os.ErrNotExist) {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 6000+i)); err == nil {
				l.Close() // nothing serves the display over TCP either
				n = i
				break
			}
		}
	}
	if n < 0 {
		t.Skip("no unused display number")
	}
	display := fmt.Sprintf(":%d", n)
	dataDir := filepath.Join(t.TempDir(), "data")
	startWithoutWindow(t, "no X server", display, []string{"DISPLAY=" + display, "/tmp/.X11-unix/X" + display[1:], "use a verb", "herald help"}, "--data-dir", dataDir)
	if ents, _ := os.ReadDir(dataDir); len(ents) > 0 {
		t.Errorf("herald wrote %s in the data directory before checking the display", ents[0].Name())
	}

	// A server that answers but lets no one in (a missing authorisation):
	// the toolkit fails after the check, still a clear message.
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no fake X server at %s: %v", sock, err)
	}
	defer os.Remove(sock)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	startWithoutWindow(t, "a server that refuses", display, []string{"DISPLAY=" + display, "herald help"}, "--data-dir", dataDir)
}

// watcher is a minimal StatusNotifierWatcher, the desktop side of a tray:
// it records the items that register.
type watcher struct{ got chan string }

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, path string) *dbus.Error {
	select {
	case w.got <- string(sender) + path:
	default:
	}
	return nil
}

// TestTrayUnderX starts the real window on a desktop with a tray (our own
// StatusNotifierWatcher on the session bus) and reads the tray menu the way
// the desktop does: over D-Bus (dbusmenu).
func TestTrayUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		t.Skip("no D-Bus session bus (.ci/run runs the tests in one)")
	}
	dbusSend := lookTool(t, "dbus-send")
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Skipf("session bus: %v", err)
	}
	defer conn.Close()
	w := &watcher{got: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Skipf("another tray owns the watcher name: %v %v", reply, err)
	}
	defer conn.ReleaseName("org.kde.StatusNotifierWatcher")

	bin := heraldBin(t)
	cmd := exec.Command(bin, "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "XDG_CONFIG_HOME="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()

	var item string
	select {
	case item = <-w.got:
	case err := <-done:
		t.Fatalf("the window exited: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no tray item registered\n%s", tail(out.String(), 3000))
	}
	service, _, _ := strings.Cut(item, "/")
	var layout []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		layout, err = exec.Command(dbusSend, "--session", "--print-reply", "--dest="+service, "/StatusNotifierMenu",
			"com.canonical.dbusmenu.GetLayout", "int32:0", "int32:-1", "array:string:").CombinedOutput()
		if err == nil && strings.Contains(string(layout), "Outbox: nothing waiting") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"Show Herald", "Outbox: nothing waiting", "Pause sending", "Quit"} {
		if !strings.Contains(string(layout), `"`+want+`"`) {
			t.Errorf("the tray menu lacks %q:\n%s", want, layout)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the window did not exit cleanly: %v\n%s", err, tail(out.String(), 3000))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the window did not close within 15 s of SIGINT")
	}
}

// TestSandboxViewShowsASentMessageUnderX opens the real window on the
// Sandbox view (its sandbox on a port saved in the settings beforehand),
// sends a message to it with `herald send`, and waits for the window to
// show that message with its DKIM result: the view opens a new capture by
// itself and names it, with the DKIM result, in the window title.
//
// Where a keychain is reachable (CI runs the tests in a D-Bus session with
// gnome-keyring), a profile signs for shop.example with an Ed25519 key kept
// there, the test signs the message with that key (go-msgauth), and the
// window must verify it with the profile's key: "DKIM pass". Without a
// keychain the profile cannot keep its key, so the message goes unsigned
// and the result must be "DKIM: no signature".
func TestSandboxViewShowsASentMessageUnderX(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY: run under Xvfb (.ci/run starts one)")
	}
	xdotool := lookTool(t, "xdotool")
	bin := heraldBin(t)
	dataDir := t.TempDir()
	addr := freePort(t)
	st, err := store.Open(store.PathIn(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetSetting(context.Background(), "sandbox", `{"listen":"`+addr+`"}`); err != nil {
		t.Fatal(err)
	}
	st.Close()

	env := append(os.Environ(), "LANG=C.UTF-8", "XDG_CONFIG_HOME="+t.TempDir())
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/herald-test-bus")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	add := exec.Command(bin, "profile", "add", "--data-dir", dataDir, "--name", "shop", "--from", "news@shop.example",
		"--server", "smtp.shop.example:587", "--tls", "starttls", "--auth", "none",
		"--dkim-domain", "shop.example", "--dkim-selector", "s1", "--dkim-key-file", keyFile)
	add.Env = env
	addOut, addErr := add.CombinedOutput()
	signed := addErr == nil
	want := "Herald — Sandbox — message 1 · DKIM pass"
	if !signed {
		t.Logf("no keychain for the profile's DKIM key (%v: %s): sending unsigned", addErr, strings.TrimSpace(string(addOut)))
		want = "Herald — Sandbox — message 1 · DKIM: no signature"
	}

	w := startWindow(t, env, "--data-dir", dataDir, "--view", "sandbox")
	w.visible(xdotool)
	waitListening(t, addr)

	msg := "From: Shop News <news@shop.example>\r\nTo: ann@example.net\r\nSubject: Seen in the window\r\n" +
		"Date: Thu, 26 Nov 2026 09:30:00 +0000\r\nMessage-ID: <window-test@shop.example>\r\n\r\nHello from the real-window test.\r\n"
	if signed {
		var b bytes.Buffer
		if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Signer: priv}); err != nil {
			t.Fatal(err)
		}
		msg = b.String()
	}
	eml := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(eml, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	send := exec.Command(bin, "send", "--data-dir", dataDir, "--server", addr, "--tls", "none", "--eml", eml,
		"--from", "news@shop.example", "--to", "ann@example.net")
	send.Env = env
	if b, err := send.CombinedOutput(); err != nil {
		t.Fatalf("herald send: %v\n%s", err, b)
	}
	var title string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		title = w.title(xdotool)
		if strings.Contains(title, "DKIM") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the window never showed the message (title %q)\n%s", title, tail(w.out.String(), 3000))
		}
	}
	if title != want {
		t.Fatalf("title %q, want %q", title, want)
	}
	w.interrupt()
}
