package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
)

// TestSendQueueKeepsDSN: --queue and --send-at take the DSN flags, queue
// show words them (text and JSON), and queue run asks the server for them.
func TestSendQueueKeepsDSN(t *testing.T) {
	b := newBoxCLI(t, "ann@herald.test")
	sb, run := b.sb, b.run
	if r := run("send", "--profile", "box", "--queue", "--to", "b@herald.test", "--subject", "now", "--body", "x",
		"--dsn-notify", "success,failure", "--dsn-ret", "hdrs", "--dsn-envid", "id+1=2"); r.code != ExitOK {
		t.Fatalf("send --queue with DSN: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run("send", "--profile", "box", "--send-at", "+1h", "--to", "b@herald.test", "--subject", "later", "--body", "x",
		"--dsn-notify", "never"); r.code != ExitOK {
		t.Fatalf("send --send-at with DSN: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := run("queue", "show", "1")
	if !strings.Contains(r.stdout, "DSN:       notify SUCCESS,FAILURE, return hdrs, envelope id id+1=2\n") {
		t.Errorf("queue show:\n%s", r.stdout)
	}
	var it queue.Item
	r = run("queue", "show", "2", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &it); err != nil || it.DSN != (store.QueueDSN{Notify: "NEVER"}) || it.State != "scheduled" {
		t.Fatalf("queue show --json: %+v %v\n%s", it.DSN, err, r.stdout)
	}
	if !strings.Contains(r.stdout, `"dsn": {`) {
		t.Errorf("queue show --json has no dsn object:\n%s", r.stdout)
	}
	if r = run("queue", "run", "--until-empty"); r.code != ExitOK {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	msgs := sb.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("sandbox got %d", len(msgs))
	}
	m, err := sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var wire strings.Builder
	for _, e := range m.Transcript {
		wire.WriteString(e.Text + "\n")
	}
	for _, w := range []string{" RET=HDRS ENVID=id+2B1+3D2\n", "RCPT TO:<b@herald.test> NOTIFY=SUCCESS,FAILURE\n"} {
		if !strings.Contains(wire.String(), w) {
			t.Errorf("the server saw no %q:\n%s", w, wire.String())
		}
	}
}

// TestSendQueueRefusesBadDSN: invalid DSN flags exit 2 and store nothing.
func TestSendQueueRefusesBadDSN(t *testing.T) {
	dir := t.TempDir()
	for name, extra := range map[string][]string{
		"never with another": {"--queue", "--dsn-notify", "never,success"},
		"unknown keyword":    {"--send-at", "+1h", "--dsn-notify", "always"},
		"bad envid":          {"--queue", "--dsn-envid", "two words"},
		"bad ret":            {"--queue", "--dsn-ret", "all"},
	} {
		r := runCLI(t, "", nil, append([]string{"--data-dir", dir, "send", "--from", "a@herald.test", "--to", "b@herald.test", "--body", "x"}, extra...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "DSN") {
			t.Errorf("%s: exit %d, want %d\n%s%s", name, r.code, ExitUsage, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, "", nil, "--data-dir", dir, "queue", "list", "--json")
	if strings.TrimSpace(r.stdout) != "[]" && strings.TrimSpace(r.stdout) != "null" {
		t.Fatalf("something was queued: %s", r.stdout)
	}
}
