package cli

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/sandbox"
)

func faultySandbox(t *testing.T, spec string) *testSandbox {
	t.Helper()
	f, err := sandbox.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	return startSandbox(t, sandbox.Config{Faults: f, Rand: rand.New(rand.NewPCG(11, 12))})
}

func TestLoadJSON(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	r := runCLI(t, "", nil, "load", "--server", sb.addr, "--tls", "none", "--messages", "60", "--sessions", "3", "--per-session", "25",
		"--rcpts", "2", "--to", "bob@herald.test", "--size", "800", "--json")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		t.Fatalf("--json printed progress: %q", r.stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, k := range []string{"server", "requested", "messages", "accepted", "temporary", "permanent", "unknown", "not_sent", "sessions", "connections",
		"pipelined_sessions", "message_bytes", "recipients_per_message", "seconds", "messages_per_sec", "bytes_per_sec", "latency", "replies", "errors"} {
		if _, ok := out[k]; !ok {
			t.Errorf("no %q in %s", k, r.stdout)
		}
	}
	lat := out["latency"].(map[string]any)
	for _, k := range []string{"count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("no latency %q", k)
		}
	}
	if out["accepted"].(float64) != 60 || out["messages"].(float64) != 60 || out["connections"].(float64) < 3 || out["pipelined_sessions"] != out["connections"] {
		t.Fatalf("%s", r.stdout)
	}
	if errs := out["errors"].([]any); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	// Nothing is stored by the client; the sandbox stored what it took.
	if n := len(sb.messages(t)); n != 60 {
		t.Fatalf("the sandbox got %d messages", n)
	}
	got := sb.messages(t)[0]
	if len(got.To) != 2 || got.To[0] != "bob+1@herald.test" {
		t.Fatalf("recipients %v", got.To)
	}
}

func TestLoadFaultsAndExitCodes(t *testing.T) {
	// Permanent refusals: exit 1, the 550s in the reply table and errors.
	sb := faultySandbox(t, "rcpt:550:50")
	r := runCLI(t, "", nil, "load", "--server", sb.addr, "--tls", "none", "--messages", "40", "--sessions", "2", "--json")
	if r.code != ExitFailure {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	var rep struct {
		Messages, Accepted, Permanent int
		Replies                       []struct {
			Stage string
			Code  int
			Count int
		}
		Errors []struct {
			Class, Stage, Kind, First string
			Count                     int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, rc := range rep.Replies {
		counts[rc.Stage+" "+strconv.Itoa(rc.Code)] = rc.Count
	}
	if counts["rcpt 550"] == 0 || counts["rcpt 550"]+counts["rcpt 250"] != 40 || rep.Accepted+rep.Permanent != 40 || rep.Permanent != counts["rcpt 550"] {
		t.Fatalf("%+v", rep)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Class != "permanent" || rep.Errors[0].Stage != "rcpt" || rep.Errors[0].Count != rep.Permanent ||
		!strings.Contains(rep.Errors[0].First, "550 5.1.1") {
		t.Fatalf("errors %+v", rep.Errors)
	}

	// Only temporary failures: exit 9; the text report shows the table.
	sb = faultySandbox(t, "data:451:50")
	r = runCLI(t, "", nil, "load", "--server", sb.addr, "--tls", "none", "--messages", "30", "--sessions", "2")
	if r.code != ExitTemporary {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"herald load: 30 messages", "msg/s", "p50 ", "p99 ", "rcpt 250 x30", "data 451 x", "temporary  data", "451 4.3.0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	// Not a terminal: progress lines, each a whole line, on stderr.
	if !strings.Contains(r.stderr, "30/30 done") || strings.Contains(r.stderr, "\r") {
		t.Fatalf("progress %q", r.stderr)
	}

	// Everything accepted with pipelining required: exit 0.
	sb = startSandbox(t, sandbox.Config{})
	r = runCLI(t, "", nil, "load", "--server", sb.addr, "--tls", "none", "--messages", "10", "--pipelining", "on")
	if r.code != ExitOK || !strings.Contains(r.stdout, "1 pipelined") || !strings.Contains(r.stdout, "errors      none") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}

func TestLoadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"load"},
		{"load", "--server", "127.0.0.1:1", "--pipelining", "sometimes"},
		{"load", "--server", "127.0.0.1:1", "--messages", "0"},
		{"load", "--server", "127.0.0.1:1", "--sessions", "-1"},
		{"load", "--server", "127.0.0.1:1", "--per-session", "-1"},
		{"load", "--server", "127.0.0.1:1", "--to", "not-an-address"},
		{"load", "--server", "127.0.0.1:1", "extra"},
	} {
		if r := runCLI(t, "", nil, args...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, %s", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, "", nil, "help"); !strings.Contains(r.stdout, "herald load") {
		t.Error("load is not in the usage")
	}
}
