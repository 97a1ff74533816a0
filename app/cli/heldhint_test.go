package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/sandbox"
)

// TestQueueShowWordsTheHeldHint checks that a message held for a wrong
// password shows, in command-line words, how to fix the profile and then
// release it; its JSON carries the same text and the fixes as data.
func TestQueueShowWordsTheHeldHint(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{AuthUser: "ann", AuthPass: "right-pass"})
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	run := func(stdin string, args ...string) runResult {
		t.Helper()
		return runCLIWith(t, stdin, sec, append([]string{"--data-dir", dir}, args...)...)
	}
	if r := run("wrong-pass\n", "profile", "add", "--name", "box", "--server", sb.addr, "--tls", "none", "--auth", "plain", "--user", "ann",
		"--allow-insecure-auth", "--password-stdin", "--from", "ann@herald.test"); r.code != ExitOK {
		t.Fatalf("profile add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run("", "send", "--profile", "box", "--queue", "--to", "b@herald.test", "--subject", "s", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send --queue: %d %s", r.code, r.stderr)
	}
	run("", "queue", "run", "--until-empty")
	r := run("", "queue", "show", "1")
	for _, want := range []string{"held", "What to try: Wrong user name or password", "Try: herald profile set-password box", "Then: herald queue release --all."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("queue show lacks %q:\n%s", want, r.stdout)
		}
	}
	var doc struct {
		Hint  string     `json:"hint"`
		Fixes []hint.Fix `json:"fixes"`
	}
	r = run("", "queue", "show", "1", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !strings.Contains(doc.Hint, "herald queue release --all") || len(doc.Fixes) == 0 || doc.Fixes[len(doc.Fixes)-1].Setting != hint.ReleaseHeld {
		t.Errorf("queue show --json: %+v", doc)
	}
}
