package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/sandbox"
)

// TestMain keeps sends of tests that give no --data-dir (and so are
// recorded in the default data directory) out of the user's own files.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Setenv("HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type historyListing struct {
	Records []struct {
		ID        int64    `json:"id"`
		State     string   `json:"state"`
		Subject   string   `json:"subject"`
		From      string   `json:"from"`
		To        []string `json:"to"`
		MessageID string   `json:"message_id"`
		QueuedAs  string   `json:"queued_as"`
		Error     string   `json:"error"`
		Code      int      `json:"code"`
	} `json:"records"`
	Next  string `json:"next"`
	Total int    `json:"total"`
}

func listHistory(t *testing.T, dir string, args ...string) historyListing {
	t.Helper()
	r := runCLI(t, "", nil, append([]string{"--data-dir", dir, "history", "list", "--json"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("history list %v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
	}
	var l historyListing
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("history list %v: %v\n%s", args, err, r.stdout)
	}
	return l
}

func TestHistoryRecordsDirectSends(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	send := func(args ...string) runResult {
		t.Helper()
		return runCLI(t, "", nil, append([]string{"--data-dir", dir, "send", "--tls", "none", "--quiet", "--from", "ann@herald.test"}, args...)...)
	}
	if r := send("--server", sb.addr, "--to", "bob@example.com", "--subject", "Invoice 42", "--body", "first"); r.code != ExitOK {
		t.Fatalf("send: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := send("--server", sb.addr, "--to", "carol@example.org,dan@example.org", "--subject", "Grüße aus Köln", "--body", "second"); r.code != ExitOK {
		t.Fatalf("send: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Nothing listens on port 1: a failed send is recorded too.
	if r := send("--server", "127.0.0.1:1", "--to", "erin@example.net", "--subject", "Never", "--body", "x", "--timeout", "5s"); r.code != ExitConnect {
		t.Fatalf("send to a closed port: exit %d, want %d\n%s\n%s", r.code, ExitConnect, r.stdout, r.stderr)
	}
	// A probe that stops before MAIL sends nothing and records nothing.
	if r := send("--server", sb.addr, "--quit-after", "ehlo"); r.code != ExitOK {
		t.Fatalf("quit-after: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	all := listHistory(t, dir)
	if all.Total != 3 || len(all.Records) != 3 {
		t.Fatalf("history has %d records (%d listed), want 3: %+v", all.Total, len(all.Records), all.Records)
	}
	if r := all.Records[0]; r.State != "failed" || r.Subject != "Never" || r.Error == "" {
		t.Errorf("newest record = %+v, want the failed send with its error", r)
	}
	if r := all.Records[1]; r.State != "sent" || r.Subject != "Grüße aus Köln" || len(r.To) != 2 || !strings.Contains(r.QueuedAs, "queued") {
		t.Errorf("second record = %+v, want the sent message with its decoded subject, 2 recipients and the server's reply", r)
	}
	if l := listHistory(t, dir, "--state", "failed"); l.Total != 1 || l.Records[0].Subject != "Never" {
		t.Errorf("--state failed: %+v", l)
	}
	if l := listHistory(t, dir, "--search", "CAROL@"); l.Total != 1 || l.Records[0].Subject != "Grüße aus Köln" {
		t.Errorf("--search CAROL@: %+v", l)
	}
	if l := listHistory(t, dir, "--to", "DAN@"); l.Total != 1 || l.Records[0].Subject != "Grüße aus Köln" {
		t.Errorf("--to DAN@: %+v", l)
	}
	if l := listHistory(t, dir, "--from", "ann@", "--subject", "never"); l.Total != 1 {
		t.Errorf("--from ann@ --subject never: %+v", l)
	}
	if l := listHistory(t, dir, "--to", "ann@"); l.Total != 0 {
		t.Errorf("--to ann@ (the sender): %+v", l)
	}
	if l := listHistory(t, dir, "--search", "invoice"); l.Total != 1 {
		t.Errorf("--search invoice (subject): %+v", l)
	}
	if l := listHistory(t, dir, "--since", "1h", "--state", "sent,partial"); l.Total != 2 {
		t.Errorf("--since 1h --state sent,partial: %+v", l)
	}
	if l := listHistory(t, dir, "--until", "1h"); l.Total != 0 {
		t.Errorf("--until 1h: %+v", l)
	}
	// Paging: one record a page, following the cursor.
	p1 := listHistory(t, dir, "--limit", "1")
	if len(p1.Records) != 1 || p1.Next == "" {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := listHistory(t, dir, "--limit", "1", "--page", p1.Next)
	if len(p2.Records) != 1 || p2.Records[0].ID == p1.Records[0].ID {
		t.Fatalf("page 2: %+v after %+v", p2, p1)
	}

	// show: recipients and the session transcript.
	id := all.Records[1].ID
	r := runCLI(t, "", nil, "--data-dir", dir, "history", "show", itoa(id), "--json")
	if r.code != ExitOK {
		t.Fatalf("show: exit %d\n%s", r.code, r.stderr)
	}
	var shown struct {
		Server     string `json:"server"`
		Recipients []struct {
			Addr     string `json:"addr"`
			Accepted bool   `json:"accepted"`
			Code     int    `json:"code"`
		} `json:"recipients"`
		Transcript []struct {
			Dir  string `json:"dir"`
			Text string `json:"text"`
		} `json:"transcript"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Server != sb.addr || len(shown.Recipients) != 2 || !shown.Recipients[0].Accepted || shown.Recipients[0].Code != 250 {
		t.Errorf("show: server %q, recipients %+v", shown.Server, shown.Recipients)
	}
	var sawData bool
	for _, e := range shown.Transcript {
		sawData = sawData || (e.Dir == "C" && e.Text == "DATA")
	}
	if !sawData {
		t.Errorf("show: the transcript lacks the DATA command: %+v", shown.Transcript)
	}
	if r := runCLI(t, "", nil, "--data-dir", dir, "history", "show", itoa(id)); r.code != ExitOK || !strings.Contains(r.stdout, "carol@example.org: accepted") || !strings.Contains(r.stdout, "C  DATA") {
		t.Errorf("show (text): exit %d\n%s", r.code, r.stdout)
	}

	// export: the bytes the sandbox received.
	captured := sb.messages(t)
	var want []byte
	for _, m := range captured {
		if m.Subject == "Grüße aus Köln" {
			full, err := sb.st.SandboxMessage(t.Context(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			want = full.Raw
		}
	}
	r = runCLI(t, "", nil, "--data-dir", dir, "history", "export", itoa(id))
	if r.code != ExitOK || want == nil || r.stdout != string(want) {
		t.Errorf("export: exit %d, %d bytes; the sandbox received %d bytes", r.code, len(r.stdout), len(want))
	}
	out := filepath.Join(t.TempDir(), "m.eml")
	if r := runCLI(t, "", nil, "--data-dir", dir, "history", "export", itoa(id), "-o", out); r.code != ExitOK {
		t.Fatalf("export -o: exit %d\n%s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, want) {
		t.Errorf("export -o wrote %d bytes (%v), want %d", len(b), err, len(want))
	}

	// Unknown ids and bad usage: exit 2.
	for _, args := range [][]string{
		{"history", "show", "999"}, {"history", "export", "999"}, {"history", "show", "x"}, {"history", "show"},
		{"history", "purge"}, {"history", "list", "--state", "lost"}, {"history", "list", "--since", "yesterday-ish"},
		{"history", "frobnicate"}, {"history", "list", "--page", "garbage"},
	} {
		if r := runCLI(t, "", nil, append([]string{"--data-dir", dir}, args...)...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, ExitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing.eml")); err == nil {
		t.Error("export of an unknown id left a file")
	}

	// stats, then purge.
	if r := runCLI(t, "", nil, "--data-dir", dir, "history", "stats", "--json"); r.code != ExitOK || !strings.Contains(r.stdout, `"sent": 2`) || !strings.Contains(r.stdout, `"failed": 1`) {
		t.Errorf("stats: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil, "--data-dir", dir, "history", "purge", "--older-than", "1h"); r.code != ExitOK || !strings.Contains(r.stdout, "purged 0") {
		t.Errorf("purge --older-than 1h: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, "", nil, "--data-dir", dir, "history", "purge", "--older-than", "0d"); r.code != ExitOK || !strings.Contains(r.stdout, "purged 3") {
		t.Errorf("purge --older-than 0d: exit %d\n%s", r.code, r.stdout)
	}
	if l := listHistory(t, dir); l.Total != 0 {
		t.Errorf("after purge: %+v", l)
	}
}

// TestHistoryKeepsNoSecrets sends through a server that requires AUTH and
// scans the database files for the password in every form it travels in.
// The subject carries the password too: the final scrub must catch it in
// the record, the stored message and the search text.
func TestHistoryKeepsNoSecrets(t *testing.T) {
	const user, pw = "ann", "S3cret-Pa55word-xyz"
	sb := startSandbox(t, sandbox.Config{AuthUser: user, AuthPass: pw})
	dir := t.TempDir()
	for _, mech := range []string{"plain", "login", "cram-md5"} {
		r := runCLI(t, "", map[string]string{"PW": pw}, "--data-dir", dir, "send", "--server", sb.addr, "--tls", "none",
			"--allow-insecure-auth", "--auth", mech, "--user", user, "--password-env", "PW", "--quiet",
			"--from", "ann@herald.test", "--to", "bob@herald.test", "--subject", "token "+pw, "--body", "see "+pw)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", mech, r.code, r.stdout, r.stderr)
		}
	}
	// A failed AUTH is recorded as well, with its transcript.
	r := runCLI(t, "", map[string]string{"PW": pw + "-wrong"}, "--data-dir", dir, "send", "--server", sb.addr, "--tls", "none",
		"--allow-insecure-auth", "--auth", "plain", "--user", user, "--password-env", "PW", "--quiet",
		"--from", "ann@herald.test", "--to", "bob@herald.test", "--subject", "s", "--body", "b")
	if r.code != ExitAuth {
		t.Fatalf("wrong password: exit %d\n%s", r.code, r.stderr)
	}
	forms := []string{pw, pw + "-wrong", "\x00" + user + "\x00" + pw}
	var secrets []string
	for _, f := range forms {
		secrets = append(secrets, f)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			secrets = append(secrets, enc.EncodeToString([]byte(f)))
		}
	}
	// The one-shot sends opened no store: their records wait in the
	// history spool, redacted as the history keeps them.
	if _, err := os.Stat(filepath.Join(dir, "herald.db")); !os.IsNotExist(err) {
		t.Errorf("a one-shot send opened the store: %v", err)
	}
	spooled, _ := filepath.Glob(filepath.Join(dir, "history-spool", "*.rec"))
	if len(spooled) != 4 {
		t.Fatalf("%d spooled records, want 4", len(spooled))
	}
	for _, f := range spooled {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("AUTH")) {
			t.Errorf("%s holds no transcript", filepath.Base(f))
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("spool file %s contains the secret %q", filepath.Base(f), s)
			}
		}
	}
	l := listHistory(t, dir)
	if l.Total != 4 {
		t.Fatalf("history has %d records, want 4", l.Total)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "history-spool", "*")); len(left) != 0 {
		t.Errorf("spool after history list: %v", left)
	}
	// Through the API: every record, its transcript and its message.
	for _, rec := range l.Records {
		show := runCLI(t, "", nil, "--data-dir", dir, "history", "show", itoa(rec.ID), "--json")
		export := runCLI(t, "", nil, "--data-dir", dir, "history", "export", itoa(rec.ID))
		for _, s := range secrets {
			if strings.Contains(show.stdout, s) || strings.Contains(export.stdout, s) {
				t.Errorf("record %d shows the secret %q", rec.ID, s)
			}
		}
		if rec.Subject != "s" && !strings.Contains(rec.Subject, "[redacted]") {
			t.Errorf("record %d subject %q is not scrubbed", rec.ID, rec.Subject)
		}
	}
	// The files themselves (the database, its WAL and shared memory).
	files, _ := filepath.Glob(filepath.Join(dir, "herald.db*"))
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains the secret %q", filepath.Base(f), s)
			}
		}
	}
}

// TestSendSpoolFailureWarns: when the record cannot be written (the spool's
// place is taken by a file), the send still succeeds and says it was not
// recorded.
func TestSendSpoolFailureWarns(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "history-spool"), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", nil, "--data-dir", dir, "send", "--server", sb.addr, "--tls", "none", "--quiet",
		"--from", "ann@herald.test", "--to", "bob@herald.test", "--subject", "s", "--body", "b")
	if r.code != ExitOK || !strings.Contains(r.stderr, "the send was not recorded in the history") || r.stdout != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestHistoryListReportsBadSpoolFiles: a spool file that cannot be read is
// moved aside and reported on stderr; the others are listed.
func TestHistoryListReportsBadSpoolFiles(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	dir := t.TempDir()
	r := runCLI(t, "", nil, "--data-dir", dir, "send", "--server", sb.addr, "--tls", "none", "--quiet",
		"--from", "ann@herald.test", "--to", "bob@herald.test", "--subject", "kept", "--body", "b")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("send: exit %d\n%s", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "history-spool", "0-bad.rec"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", nil, "--data-dir", dir, "history", "list", "--json")
	var l historyListing
	if err := json.Unmarshal([]byte(r.stdout), &l); r.code != ExitOK || err != nil || l.Total != 1 || l.Records[0].Subject != "kept" {
		t.Errorf("history list: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if !strings.Contains(r.stderr, "0-bad.rec") || !strings.Contains(r.stderr, "moved aside") {
		t.Errorf("stderr %q does not report the bad spool file", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "history-spool", "0-bad.rec.bad")); err != nil {
		t.Error(err)
	}
}
