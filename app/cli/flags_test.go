package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/sandbox"
)

func TestUnknownFlagSaysSoFirstWithoutTheWholeHelp(t *testing.T) {
	for _, args := range [][]string{{"send", "--bogus"}, {"send", "-bogus"}, {"queue", "list", "--bogus=1"}, {"profile", "add", "--nope"}} {
		r := runCLI(t, "", nil, args...)
		typed, _, _ := strings.Cut(args[len(args)-1], "=")
		if r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, ExitUsage)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 2 || lines[0] != "herald: unknown flag "+typed || !strings.Contains(lines[1], "--help") {
			t.Errorf("%v: stderr = %q, want the error with the flag as typed and one line pointing to --help", args, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v: printed the help on stdout:\n%s", args, r.stdout)
		}
	}
	if r := runCLI(t, "", nil, "send", "--help"); r.code != ExitOK || !strings.Contains(r.stdout, "--timeout") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestDurationFlagsTakeBareSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "0.5": 500 * time.Millisecond, "30s": 30 * time.Second,
		"2m": 2 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, " 10 ": 10 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-5", "5 seconds", "-1h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	sb := startSandbox(t, sandbox.Config{})
	r := runCLI(t, "", nil, "send", "--server", sb.addr, "--tls", "none", "--timeout", "5", "--from", "a@herald.test", "--to", "b@herald.test", "--body", "x", "--quiet")
	if r.code != ExitOK {
		t.Fatalf("--timeout 5: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", nil, "send", "--timeout", "soon"); r.code != ExitUsage || !strings.Contains(r.stderr, `--timeout "soon"`) {
		t.Errorf("--timeout soon: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestBadSessionInputIsRefusedBeforeConnecting(t *testing.T) {
	// Nothing listens here: exit 2 proves the refusal came before connecting
	// (a connection attempt would give exit 3).
	base := []string{"send", "--server", "127.0.0.1:1", "--tls", "none", "--from", "a@herald.test", "--to", "b@herald.test", "--body", "x"}
	for name, extra := range map[string][]string{
		"never with another": {"--dsn-notify", "never,success"},
		"unknown keyword":    {"--dsn-notify", "always"},
		"bad envid":          {"--dsn-envid", "two words"},
		"bad ret":            {"--dsn-ret", "all"},
		"helo with CRLF":     {"--helo", "x\r\nMAIL FROM:<evil@example.com>"},
		"helo with space":    {"--helo", "two words"},
	} {
		r := runCLI(t, "", nil, append(append([]string{}, base...), extra...)...)
		if r.code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s%s", name, r.code, ExitUsage, r.stdout, r.stderr)
		}
	}
}
