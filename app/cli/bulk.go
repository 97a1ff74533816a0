package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/bulk"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

const bulkSynopsis = `herald bulk --profile NAME --recipients FILE.csv --subject TEMPLATE --template FILE [--html-template FILE]
       [--rate N/min] [--send-at TIME] [--dry-run] [--skip-invalid] [--unsubscribe-url URL] [--unsubscribe-mailto ADDR]
       [--attach FILE]... [--header "Name: value"]... [--dsn-notify LIST] [--dsn-ret full|hdrs] [--dsn-envid ID] [--json]

One message per CSV row (a header row with an email column, any others;
an optional name column gives the To display name), with {{.column}} fields
in the subject and bodies. Every row is checked first: nothing is queued
while a row is invalid, unless --skip-invalid. --rate schedules message i
at start + i*(period/N); 'herald queue run' sends each when it is due.`

// maxRowErrors is how many row errors (and, separately, duplicates) are printed.
const maxRowErrors = 100

type bulkFlags struct {
	profile, recipients, subject, textFile, htmlFile string
	rate, sendAt, unsubURL, unsubMailto, dataDir     string
	dsnNotify, dsnRet, dsnEnvID                      string
	dryRun, skipInvalid, jsonOut                     bool
	attach, headers                                  listFlag
}

func runBulk(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f bulkFlags
	fs := newFlagSet("bulk", bulkSynopsis, env)
	fs.StringVar(&f.profile, "profile", "", "send with the account profile `name` (From, Reply-To, headers, signature)")
	fs.StringVar(&f.recipients, "recipients", "", "CSV `file` with a header row and an email column (- for standard input)")
	fs.StringVar(&f.subject, "subject", "", "subject `template`, e.g. 'Hi {{.name}}'")
	fs.StringVar(&f.textFile, "template", "", "text body template `file` (Go text/template; {{.column}} fields)")
	fs.StringVar(&f.htmlFile, "html-template", "", "HTML body template `file` (Go html/template: fields are escaped)")
	fs.StringVar(&f.rate, "rate", "", "spread the messages at `N/s|N/min|N/h` by scheduling each one")
	fs.StringVar(&f.sendAt, "send-at", "", "when the first message is due: RFC 3339, \"2026-12-01 09:00\" (local), +30m or \"in 2h\"")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check every row and show the first message; queue nothing")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "queue the valid rows even when some are invalid")
	fs.StringVar(&f.unsubURL, "unsubscribe-url", "", "List-Unsubscribe https `URL` template ({{.email}} is query-escaped); adds RFC 8058 one-click")
	fs.StringVar(&f.unsubMailto, "unsubscribe-mailto", "", "List-Unsubscribe `address` (mailto:, optionally ?subject=...)")
	fs.Var(&f.attach, "attach", "attach `file` to every message; repeatable")
	fs.Var(&f.headers, "header", "extra header `\"Name: value\"` on every message; repeatable")
	fs.StringVar(&f.dsnNotify, "dsn-notify", "", "ask for delivery status notifications for every message: `list` of success, failure, delay, or never")
	fs.StringVar(&f.dsnRet, "dsn-ret", "", "DSN return: full or hdrs")
	fs.StringVar(&f.dsnEnvID, "dsn-envid", "", "DSN envelope `id` (the same for every message of the batch)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object on standard output")
	fs.StringVar(&f.dataDir, "data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("bulk takes no arguments, got %q", pos)
	}
	for _, req := range []struct{ name, v string }{{"profile", f.profile}, {"recipients", f.recipients}, {"subject", f.subject}, {"template", f.textFile}} {
		if strings.TrimSpace(req.v) == "" {
			return ExitUsage, usagef("bulk needs --%s (see 'herald bulk --help')", req.name)
		}
	}
	opts, err := f.options(env)
	if err != nil {
		return ExitUsage, err
	}
	var dsn *transport.DSN
	if f.dsnNotify != "" || f.dsnRet != "" || f.dsnEnvID != "" {
		if dsn, err = transport.ParseDSN(f.dsnNotify, f.dsnRet, f.dsnEnvID); err != nil {
			return ExitUsage, usagef("%v", err)
		}
	}

	c, err := env.core(ctx, f.dataDir)
	if err != nil {
		return ExitFailure, err
	}
	prof, err := c.Book.Get(ctx, f.profile)
	if err != nil {
		return profileErrCode(err), err
	}
	opts.Profile = prof

	in, closeIn, err := f.openRecipients(env)
	if err != nil {
		return ExitUsage, err
	}
	defer closeIn()
	opts.Recipients = in
	bar := newProgress(env.Stderr)
	opts.Progress = func(rows int) { bar.show(fmt.Sprintf("checking: %d rows", rows)) }
	res, err := c.PlanBulk(ctx, opts)
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			return ExitFailure, err
		}
		return ExitUsage, usagef("%v", err)
	}
	printRowErrors(env.Stderr, res)

	summary := bulkJSON{Rows: res.Rows, Valid: len(res.Messages), Invalid: res.Invalid, Duplicates: len(res.Duplicates)}
	blocked := res.Invalid > 0 && !f.skipInvalid
	if f.dryRun {
		if err := printDryRun(env, f.jsonOut, res, summary); err != nil {
			return ExitFailure, err
		}
		if blocked {
			return ExitUsage, usagef("%d of %d rows are invalid (dry run: nothing queued; --skip-invalid would queue the %d valid ones)", res.Invalid, res.Rows, len(res.Messages))
		}
		return ExitOK, nil
	}
	if blocked {
		if f.jsonOut {
			writeJSON(env.Stdout, summary)
		}
		return ExitUsage, usagef("%d of %d rows are invalid: nothing queued (fix them, or use --skip-invalid to queue the %d valid ones)", res.Invalid, res.Rows, len(res.Messages))
	}
	if len(res.Messages) == 0 {
		if f.jsonOut {
			writeJSON(env.Stdout, summary)
		}
		return ExitUsage, usagef("no valid rows in %s: nothing queued", f.recipients)
	}

	for i := range res.Messages {
		res.Messages[i].DSN = dsn
	}
	batch, err := core.NewBatchID(time.Now())
	if err != nil {
		return ExitFailure, err
	}
	summary.Batch = batch
	// One transaction for the whole batch: a kill leaves all of it queued
	// or none of it, so running the command again never sends twice. The
	// id goes out first, so that whoever kills it can look the batch up.
	if !f.jsonOut {
		fmt.Fprintf(env.Stderr, "queueing %d messages as batch %s (all of them or none)\n", len(res.Messages), batch)
	}
	if _, err := c.EnqueueBulk(ctx, prof.ID, batch, res.Messages, func(done int) {
		bar.bar("queueing", done, len(res.Messages))
	}); err != nil {
		bar.done()
		return ExitFailure, fmt.Errorf("nothing queued: %w", err)
	}
	summary.Queued = len(res.Messages)
	bar.done()
	if f.jsonOut {
		return ExitOK, writeJSON(env.Stdout, summary)
	}
	fmt.Fprintf(env.Stdout, "queued %d messages in batch %s; run 'herald queue run' to send them\n", summary.Queued, batch)
	if first, last := res.Messages[0].SendAt, res.Messages[len(res.Messages)-1].SendAt; !last.IsZero() {
		fmt.Fprintf(env.Stdout, "scheduled from %s to %s\n", first.Local().Format(time.RFC3339), last.Local().Format(time.RFC3339))
	}
	return ExitOK, nil
}

// options turns the flags into planning options, reading the template files.
func (f *bulkFlags) options(env Env) (bulk.Options, error) {
	o := bulk.Options{Subject: f.subject, UnsubscribeURL: f.unsubURL, UnsubscribeMailto: f.unsubMailto}
	if f.recipients == "-" && (f.textFile == "-" || f.htmlFile == "-") {
		return o, usagef("only one of --recipients, --template and --html-template can read standard input")
	}
	b, err := readInput(f.textFile, env)
	if err != nil {
		return o, usagef("--template: %v", err)
	}
	o.Text = string(b)
	if f.htmlFile != "" {
		if b, err = readInput(f.htmlFile, env); err != nil {
			return o, usagef("--html-template: %v", err)
		}
		o.HTML = string(b)
	}
	if o.Rate, err = bulk.ParseRate(f.rate); err != nil {
		return o, usagef("--rate: %v", err)
	}
	if f.sendAt != "" {
		if o.Start, err = queue.ParseSendAt(f.sendAt, time.Now()); err != nil {
			return o, usagef("--send-at: %v", err)
		}
	}
	for _, a := range f.attach.values {
		o.Attachments = append(o.Attachments, message.Attachment{Path: a})
	}
	for i, h := range f.headers.values {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return o, usagef("--header %d (%q) is not \"Name: value\"", i+1, h)
		}
		o.Headers = append(o.Headers, message.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return o, nil
}

func (f *bulkFlags) openRecipients(env Env) (io.Reader, func(), error) {
	if f.recipients == "-" {
		return env.Stdin, func() {}, nil
	}
	file, err := os.Open(f.recipients)
	if err != nil {
		return nil, nil, usagef("--recipients: %v", err)
	}
	return file, func() { file.Close() }, nil
}

// bulkJSON is the --json result of herald bulk.
type bulkJSON struct {
	Batch      string          `json:"batch"`
	Queued     int             `json:"queued"`
	Invalid    int             `json:"invalid"`
	Rows       int             `json:"rows"`
	Valid      int             `json:"valid"`
	Duplicates int             `json:"duplicates"`
	DryRun     bool            `json:"dry_run,omitempty"`
	First      *bulkJSONSample `json:"first,omitempty"`
}

// bulkJSONSample is the first message of a dry run.
type bulkJSONSample struct {
	Row     int       `json:"row"`
	To      string    `json:"to"`
	SendAt  time.Time `json:"send_at,omitzero"`
	Headers string    `json:"headers"`
	Text    string    `json:"text"`
	HTML    string    `json:"html,omitempty"`
}

// printRowErrors prints the invalid rows and the skipped duplicates, up to
// maxRowErrors of each, then how many more there are.
func printRowErrors(w io.Writer, res *bulk.Result) {
	for _, l := range []struct {
		prefix string
		errs   []*bulk.RowError
	}{{"invalid: ", res.Errors}, {"skipped: ", res.Duplicates}} {
		for i, e := range l.errs {
			if i == maxRowErrors {
				fmt.Fprintf(w, "%s... and %d more\n", l.prefix, len(l.errs)-maxRowErrors)
				break
			}
			fmt.Fprintf(w, "%s%v\n", l.prefix, e)
		}
	}
}

func printDryRun(env Env, jsonOut bool, res *bulk.Result, s bulkJSON) error {
	s.DryRun = true
	if len(res.Messages) > 0 {
		m := res.Messages[0]
		hdr, _, _ := bytes.Cut(m.Rendered.Bytes, []byte("\r\n\r\n"))
		s.First = &bulkJSONSample{Row: m.Row, To: m.Email, SendAt: m.SendAt, Headers: strings.ReplaceAll(string(hdr), "\r\n", "\n") + "\n",
			Text: res.Preview.Text, HTML: res.Preview.HTML}
	}
	if jsonOut {
		return writeJSON(env.Stdout, s)
	}
	w := env.Stdout
	fmt.Fprintf(w, "dry run: nothing queued\nrows: %d\nvalid: %d\ninvalid: %d\nduplicates skipped: %d\n", s.Rows, s.Valid, s.Invalid, s.Duplicates)
	if len(res.Messages) > 0 {
		if first, last := res.Messages[0].SendAt, res.Messages[len(res.Messages)-1].SendAt; !last.IsZero() {
			fmt.Fprintf(w, "schedule: %s to %s\n", first.Local().Format(time.RFC3339), last.Local().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "\nfirst message (row %d, to %s):\n%s\n%s", s.First.Row, s.First.To, s.First.Headers, s.First.Text)
		if !strings.HasSuffix(s.First.Text, "\n") {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// progress draws a one-line status on a terminal; on anything else it
// draws nothing.
type progress struct {
	w     io.Writer
	on    bool
	dirty bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) show(line string) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.dirty = true
}

func (p *progress) bar(label string, done, total int) {
	const width = 30
	if total <= 0 {
		return
	}
	n := done * width / total
	p.show(fmt.Sprintf("%s [%s%s] %d/%d", label, strings.Repeat("#", n), strings.Repeat("-", width-n), done, total))
}

// done ends the status line.
func (p *progress) done() {
	if p.on && p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}
