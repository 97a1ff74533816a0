package cli

import (
	"context"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
)

// bulkFixture is a data directory with a profile "news" and template files.
type bulkFixture struct {
	dir, files string
	sec        *memSecrets
}

func newBulkFixture(t *testing.T) *bulkFixture {
	t.Helper()
	fx := &bulkFixture{dir: t.TempDir(), files: t.TempDir(), sec: &memSecrets{m: map[string]string{}}}
	r := fx.run(t, "profile", "add", "--name", "news", "--server", "127.0.0.1:2525", "--tls", "none", "--auth", "none",
		"--from", "News <news@herald.test>", "--header", "X-Team: ops")
	if r.code != ExitOK {
		t.Fatalf("profile add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	fx.write(t, "body.tmpl", "Dear {{.name}},\nyour code is {{.code}}.\n")
	fx.write(t, "body.html", "<p>Dear {{.name}}, your code is <b>{{.code}}</b>.</p>")
	return fx
}

func (fx *bulkFixture) run(t *testing.T, args ...string) runResult {
	t.Helper()
	return runCLIWith(t, "", fx.sec, append([]string{"--data-dir", fx.dir}, args...)...)
}

func (fx *bulkFixture) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(fx.files, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bulkArgs are the arguments of a bulk run over recipients, plus extra.
func (fx *bulkFixture) bulkArgs(recipients string, extra ...string) []string {
	return append([]string{"bulk", "--profile", "news", "--recipients", recipients, "--subject", "Hi {{.name}}",
		"--template", filepath.Join(fx.files, "body.tmpl"), "--html-template", filepath.Join(fx.files, "body.html")}, extra...)
}

// queued reads back every item in the outbox with its decoded body.
func (fx *bulkFixture) queued(t *testing.T) ([]queue.Item, []string) {
	t.Helper()
	st, err := store.Open(store.PathIn(fx.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	q := queue.New(st, nil)
	items, err := q.List(ctx, queue.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, it := range items {
		b, err := q.Body(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		// The bodies are quoted-printable; decoding the whole message is
		// enough to find the merged fields.
		dec, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(raw))))
		bodies = append(bodies, string(dec))
	}
	return items, bodies
}

const bulkCSV = "email,name,code\nann@example.com,Ann,A-100\nbob@example.com,Bob,B-200\ncarl@example.com,Carl,C-300\n"

func TestBulkDryRunQueuesNothing(t *testing.T) {
	fx := newBulkFixture(t)
	csv := fx.write(t, "list.csv", bulkCSV)
	r := fx.run(t, fx.bulkArgs(csv, "--dry-run", "--unsubscribe-url", "https://herald.test/u?e={{.email}}")...)
	if r.code != ExitOK {
		t.Fatalf("dry run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"nothing queued", "rows: 3", "valid: 3", "invalid: 0", "Subject: Hi Ann", "X-Team: ops",
		"List-Unsubscribe: <https://herald.test/u?e=ann%40example.com>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Dear Ann,\nyour code is A-100."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if items, _ := fx.queued(t); len(items) != 0 {
		t.Fatalf("dry run queued %d items", len(items))
	}
	r = fx.run(t, fx.bulkArgs(csv, "--dry-run", "--json")...)
	var out bulkJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.DryRun || out.Rows != 3 || out.Queued != 0 || out.First == nil || out.First.To != "ann@example.com" {
		t.Fatalf("dry run json: %v %+v\n%s", err, out, r.stdout)
	}
}

func TestBulkInvalidRowsQueueNothing(t *testing.T) {
	fx := newBulkFixture(t)
	csv := fx.write(t, "list.csv", "email,name,code\nann@example.com,Ann,A-100\nnot-an-address,Bob,B-200\ncarl@example.com,Carl,C-300\n,Dan,D-400\n")
	r := fx.run(t, fx.bulkArgs(csv)...)
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want %d: %s", r.code, ExitUsage, r.stderr)
	}
	for _, want := range []string{"row 2 (line 3): email:", "missing @", "row 4 (line 5): email: empty address", "2 of 4 rows are invalid: nothing queued"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if items, _ := fx.queued(t); len(items) != 0 {
		t.Fatalf("queued %d items despite invalid rows", len(items))
	}

	// --skip-invalid queues the valid rows only.
	r = fx.run(t, fx.bulkArgs(csv, "--skip-invalid", "--json")...)
	if r.code != ExitOK {
		t.Fatalf("--skip-invalid: %d %s", r.code, r.stderr)
	}
	var out bulkJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Queued != 2 || out.Invalid != 2 || out.Rows != 4 || !strings.HasPrefix(out.Batch, "bulk-") {
		t.Fatalf("json: %v %+v\n%s", err, out, r.stdout)
	}
	items, bodies := fx.queued(t)
	if len(items) != 2 || !strings.Contains(bodies[0], "A-100") || !strings.Contains(bodies[1], "C-300") {
		t.Fatalf("queued %d items: %q", len(items), bodies)
	}
}

func TestBulkQueuesMergedMessages(t *testing.T) {
	fx := newBulkFixture(t)
	csv := fx.write(t, "list.csv", bulkCSV+"Ann@example.com,Ann again,A-101\n")
	r := fx.run(t, fx.bulkArgs(csv, "--rate", "60/min", "--send-at", "+1h", "--unsubscribe-mailto", "leave@herald.test", "--header", "X-Campaign: nov",
		"--dsn-notify", "failure,delay", "--dsn-ret", "hdrs")...)
	if r.code != ExitOK {
		t.Fatalf("bulk: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "queued 3 messages in batch bulk-") || !strings.Contains(r.stdout, "herald queue run") {
		t.Errorf("stdout %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "row 4 (line 5): email: Ann@example.com is a duplicate of row 1: skipped") {
		t.Errorf("duplicate not reported: %q", r.stderr)
	}
	batch := strings.Fields(strings.SplitN(r.stdout, "batch ", 2)[1])[0]
	batch = strings.TrimSuffix(batch, ";")
	items, bodies := fx.queued(t)
	if len(items) != 3 {
		t.Fatalf("queued %d items", len(items))
	}
	for i, want := range []struct{ name, code, to string }{{"Ann", "A-100", "ann@example.com"}, {"Bob", "B-200", "bob@example.com"}, {"Carl", "C-300", "carl@example.com"}} {
		it, body := items[i], bodies[i]
		if it.Batch != batch || it.State != string(queue.Scheduled) || it.Subject != "Hi "+want.name || it.From != "news@herald.test" ||
			it.DSN != (store.QueueDSN{Notify: "FAILURE,DELAY", Return: "hdrs"}) {
			t.Errorf("item %d: %+v (batch %q)", i, it, batch)
		}
		for _, s := range []string{"Dear " + want.name + ",", "your code is " + want.code, "<b>" + want.code + "</b>", "X-Campaign: nov", "X-Team: ops",
			"List-Unsubscribe: <mailto:leave@herald.test>", want.to} {
			if !strings.Contains(body, s) {
				t.Errorf("item %d body lacks %q", i, s)
			}
		}
		if strings.Contains(body, "List-Unsubscribe-Post") {
			t.Errorf("item %d: one-click header without an https URL", i)
		}
		full, err := queueItem(t, fx.dir, it.ID)
		if err != nil || len(full.Recipients) != 1 || full.Recipients[0].Addr != want.to {
			t.Errorf("item %d recipients: %v %+v", i, err, full)
		}
	}
	// 60/min: one second apart, starting about an hour from now.
	if d := items[1].Next.Sub(items[0].Next); d != time.Second {
		t.Errorf("spacing %v", d)
	}
	if d := time.Until(items[0].Next); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("first due in %v", d)
	}
}

func queueItem(t *testing.T, dir string, id int64) (*queue.Item, error) {
	t.Helper()
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return queue.New(st, nil).Get(context.Background(), id)
}

func TestBulkUsageErrors(t *testing.T) {
	fx := newBulkFixture(t)
	csv := fx.write(t, "list.csv", bulkCSV)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no profile":     {[]string{"bulk", "--recipients", csv, "--subject", "s", "--template", csv}, "--profile"},
		"unknown":        {[]string{"bulk", "--profile", "nope", "--recipients", csv, "--subject", "s", "--template", csv}, "no such profile"},
		"missing column": {fx.bulkArgs(csv, "--subject", "Hi {{.frist}}"), `no column "frist"`},
		"bad rate":       {fx.bulkArgs(csv, "--rate", "10/week"), "--rate"},
		"past send-at":   {fx.bulkArgs(csv, "--send-at", "2001-01-01 10:00"), "in the past"},
		"no csv":         {fx.bulkArgs(filepath.Join(fx.files, "none.csv")), "--recipients"},
		"no email":       {fx.bulkArgs(fx.write(t, "bad.csv", "mail\na@b.test\n")), "no email column"},
		"bad header":     {fx.bulkArgs(csv, "--header", "nocolon"), "--header"},
		"bad dsn":        {fx.bulkArgs(csv, "--dsn-notify", "never,success"), "never excludes"},
	} {
		r := fx.run(t, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q (want %q)", name, r.code, r.stderr, tc.want)
		}
	}
	if items, _ := fx.queued(t); len(items) != 0 {
		t.Fatalf("queued %d items", len(items))
	}
	if r := fx.run(t, "bulk", "--help"); r.code != ExitOK || !strings.Contains(r.stdout, "--skip-invalid") {
		t.Errorf("help: %d %s", r.code, r.stdout)
	}
}

func TestBulkProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newProgress(f)
	p.bar("queueing", 1, 2)
	p.done()
	if st, _ := f.Stat(); p.on || st.Size() != 0 {
		t.Fatalf("progress drawn on a regular file")
	}
	var b strings.Builder
	p = newProgress(&b)
	p.on = true // as on a terminal
	p.bar("queueing", 500, 1000)
	p.done()
	if !strings.Contains(b.String(), "queueing [###############---------------] 500/1000") || !strings.HasSuffix(b.String(), "\n") {
		t.Fatalf("bar %q", b.String())
	}
}
