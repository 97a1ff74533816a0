package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// DefaultServer is where `herald send` goes without --server: the sandbox's
// default address.
const DefaultServer = "127.0.0.1:2525"

const sendSynopsis = `herald send [--server HOST[:PORT]] [--tls MODE] [--auth METHOD --user U --password-env VAR|--password-stdin]
       --from ADDR --to ADDR[,ADDR] [--subject S] [--body TEXT|--body-file F] [--attach F] ...
       herald send --eml FILE [--redirect --to ADDR] ...`

type sendFlags struct {
	server, tls, auth, user, passwordEnv, caFile, helo string
	passwordStdin, allowInsecureAuth                   bool
	timeout                                            time.Duration
	from, replyTo, subject, body, bodyFile, htmlFile   string
	to, cc, bcc, attach, headers                       listFlag
	eml                                                string
	redirect                                           bool
	quitAfter                                          string
	dsnNotify, dsnRet, dsnEnvID                        string
	jsonOut, quiet, verbose                            bool
	dataDir                                            string
	profile                                            string
	queue                                              bool
	sendAt                                             string
	pipelining                                         string

	set  map[string]bool  // flags given on the command line
	prof *account.Profile // the --profile, loaded
	core *core.Core       // opened with --profile
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	f.to.split, f.cc.split, f.bcc.split = true, true, true
	fs.StringVar(&f.profile, "profile", "", "send with the account profile `name` (its server, TLS, auth, keychain password, From, headers); other flags override it")
	fs.BoolVar(&f.queue, "queue", false, "put the message in the durable outbox (sent by 'herald queue run' or the window) instead of sending it now; needs --profile (default: the sandbox)")
	fs.StringVar(&f.sendAt, "send-at", "", "queue the message to be sent at `time`: 2026-12-01 09:00, RFC 3339, or +30m")
	fs.StringVar(&f.server, "server", "", "SMTP server `host[:port]` (default "+DefaultServer+", the sandbox)")
	fs.StringVar(&f.tls, "tls", "", "TLS `mode`: implicit, starttls or none (default: implicit on port 465, starttls on other ports, none for the default sandbox)")
	fs.StringVar(&f.auth, "auth", "auto", "auth `method`: auto, none, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2")
	fs.StringVar(&f.user, "user", "", "user name for AUTH")
	fs.StringVar(&f.passwordEnv, "password-env", "", "read the password (or xoauth2 token) from environment `VAR`")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password (or xoauth2 token) from the first line of standard input")
	fs.BoolVar(&f.allowInsecureAuth, "allow-insecure-auth", false, "allow AUTH over a connection without TLS (the password travels in clear)")
	fs.StringVar(&f.caFile, "ca-file", "", "extra CA certificate(s) to trust, PEM `file` (e.g. the sandbox's certificate)")
	fs.StringVar(&f.helo, "helo", "", "`name` to send in EHLO (default: this host's name)")
	durationVar(fs, &f.timeout, "timeout", 30*time.Second, "timeout for each step of the session: seconds or a `duration` (30, 500ms, 2m)")
	fs.StringVar(&f.from, "from", "", "sender `address` (header From and envelope MAIL FROM)")
	fs.Var(&f.to, "to", "recipient `address`; repeatable, comma lists allowed")
	fs.Var(&f.cc, "cc", "Cc `address`; repeatable, comma lists allowed")
	fs.Var(&f.bcc, "bcc", "Bcc `address` (envelope only); repeatable, comma lists allowed")
	fs.StringVar(&f.replyTo, "reply-to", "", "Reply-To `address`")
	fs.StringVar(&f.subject, "subject", "", "subject `text`")
	fs.StringVar(&f.body, "body", "", "message `text`")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the message text from `file` (- for standard input)")
	fs.StringVar(&f.htmlFile, "html-file", "", "HTML alternative from `file`")
	fs.Var(&f.attach, "attach", "attach `file`; repeatable")
	fs.Var(&f.headers, "header", "extra header `\"Name: value\"`; repeatable")
	fs.StringVar(&f.eml, "eml", "", "send the prepared message in `file` as it is (- for standard input)")
	fs.BoolVar(&f.redirect, "redirect", false, "with --eml: resend to --to, adding Resent-From/To/Date/Message-ID headers")
	fs.StringVar(&f.quitAfter, "quit-after", "", "stop cleanly after `stage`: connect, banner, ehlo, tls, auth, mail, rcpt")
	fs.StringVar(&f.pipelining, "pipelining", "auto", "`mode`: auto (MAIL, RCPT and DATA in one write where the server offers PIPELINING), on (require it), off")
	fs.StringVar(&f.dsnNotify, "dsn-notify", "", "ask for delivery status notifications: `list` of success, failure, delay, or never (kept with --queue and --send-at)")
	fs.StringVar(&f.dsnRet, "dsn-ret", "", "DSN return: full or hdrs")
	fs.StringVar(&f.dsnEnvID, "dsn-envid", "", "DSN envelope `id`")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object on standard output")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the transcript; print the result only on failure")
	fs.BoolVar(&f.verbose, "verbose", false, "with --json: also print the live transcript on standard error")
	fs.StringVar(&f.dataDir, "data-dir", "", "Herald's data `directory`")
}

// earlyStages need no message: the session ends before MAIL FROM.
var earlyStages = map[transport.Stage]bool{
	transport.StageConnect: true, transport.StageBanner: true, transport.StageEHLO: true,
	transport.StageTLS: true, transport.StageAuth: true,
}

func runSend(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	var f sendFlags
	fs := newFlagSet("send", sendSynopsis, env)
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("send takes no arguments, got %q", pos)
	}
	f.set = setFlags(fs)
	if f.profile != "" {
		hc, err := env.core(ctx, f.dataDir)
		if err != nil {
			return ExitFailure, err
		}
		if f.prof, err = hc.Book.Get(ctx, f.profile); err != nil {
			return profileErrCode(err), err
		}
		f.core = hc
	}
	if f.queue || f.sendAt != "" {
		return f.enqueue(ctx, env, dataDir)
	}
	cfg, err := f.transportConfig(env)
	if err != nil {
		return ExitUsage, err
	}
	var (
		env2  transport.Envelope
		body  sendBody
		msgID string
	)
	if cfg.QuitAfter == "" || !earlyStages[cfg.QuitAfter] {
		env2, body, msgID, err = f.buildMessage(env)
		if err != nil {
			return ExitUsage, err
		}
	}

	rec := transcript.New()
	var wg sync.WaitGroup
	if (!f.quiet && !f.jsonOut) || f.verbose {
		sub := rec.Subscribe(4096, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := bufio.NewWriter(env.Stderr)
			for e := range sub.C() {
				fmt.Fprintln(w, e.String())
				if len(sub.C()) == 0 {
					w.Flush()
				}
			}
			w.Flush()
		}()
	}
	req := core.SendRequest{Profile: f.prof, Config: cfg, Envelope: env2, Body: body.reader, MessageID: msgID, Subject: f.subject, Transcript: rec}
	if f.prof != nil && !f.set["server"] {
		req.Fallbacks = core.Fallbacks(f.prof, cfg)
	}
	sent := core.Deliver(ctx, req, nil)
	res := sent.Result
	wg.Wait()
	if cfg.QuitAfter == "" {
		var err error
		if f.core != nil {
			// The store is open (for the profile): record directly.
			f.core.RecordSend(ctx, req, sent)
			err = sent.HistoryErr
		} else {
			// No store: opening SQLite and committing durably would cost
			// more than the session. The record goes to the history
			// spool, which the next Herald to open the data directory
			// (a running window at once) moves into the history.
			err = f.spool(env, dataDir, req, sent)
		}
		if err != nil {
			fmt.Fprintln(env.Stderr, "herald: the send was not recorded in the history:", err)
		}
	}

	code := exitCode(res)
	if f.jsonOut {
		out := jsonResult(res, rec, msgID, f.ctxOf(cfg.Host, env2.From))
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return ExitFailure, fmt.Errorf("write result: %w", err)
		}
		return code, nil
	}
	if code != ExitOK || !f.quiet {
		printResult(env.Stdout, res, msgID, rec, f.ctxOf(cfg.Host, env2.From))
	}
	return code, nil
}

// spool writes the history record of a send made without the store to the
// spool of the data directory (the verb's --data-dir, else global's).
func (f *sendFlags) spool(env Env, global string, req core.SendRequest, sent *core.SendResult) error {
	local := f.dataDir
	if local == "" {
		local = global
	}
	dir, err := resolveDataDir(local, env)
	if err != nil {
		return err
	}
	core.SpoolSend(dir, req, sent)
	return sent.HistoryErr
}

// transportConfig turns the connection flags into a transport configuration.
func (f *sendFlags) transportConfig(env Env) (transport.Config, error) {
	if f.prof != nil {
		return f.profileConfig(env)
	}
	var cfg transport.Config
	server := f.server
	defaultServer := server == ""
	if defaultServer {
		server = DefaultServer
	}
	host, port, err := splitHostPort(server)
	if err != nil {
		return cfg, err
	}
	cfg.Host, cfg.Port = host, port
	switch {
	case f.tls != "":
		m, err := transport.ParseTLSMode(f.tls)
		if err != nil {
			return cfg, usagef("--tls: %v", err)
		}
		cfg.TLS = m
	case defaultServer:
		cfg.TLS = transport.TLSNone
	case port == 465:
		cfg.TLS = transport.TLSImplicit
	default:
		cfg.TLS = transport.TLSStartTLS
	}
	am, err := transport.ParseAuthMethod(f.auth)
	if err != nil {
		return cfg, usagef("--auth: %v", err)
	}
	cfg.Auth = am
	cfg.Username = f.user
	pw, err := f.readPassword(env)
	if err != nil {
		return cfg, err
	}
	cfg.Password = pw
	needsSecret := am != transport.AuthNone && (am != transport.AuthAuto || f.user != "")
	if needsSecret && f.user == "" {
		return cfg, usagef("--auth %s needs --user", f.auth)
	}
	if needsSecret && cfg.Password == "" {
		return cfg, usagef("--user %s needs a password: --password-env VAR or --password-stdin (never on the command line)", f.user)
	}
	cfg.AllowInsecureAuth = f.allowInsecureAuth
	if f.caFile != "" {
		if _, err := os.Stat(f.caFile); err != nil {
			return cfg, usagef("--ca-file: %v", err)
		}
	}
	cfg.CAFile = f.caFile
	cfg.HeloName = f.helo
	return cfg, f.sessionOptions(&cfg)
}

// profileConfig starts from the profile and applies the flags given.
func (f *sendFlags) profileConfig(env Env) (transport.Config, error) {
	p := f.prof
	cfg := p.TransportConfig("")
	if f.set["server"] {
		host, port, err := splitHostPort(f.server)
		if err != nil {
			return cfg, err
		}
		cfg.Host, cfg.Port = host, port
		if port == 0 {
			cfg.Port = transport.DefaultPort(cfg.TLS)
		}
	}
	if f.set["tls"] {
		m, err := transport.ParseTLSMode(f.tls)
		if err != nil {
			return cfg, usagef("--tls: %v", err)
		}
		cfg.TLS = m
	}
	if f.set["auth"] {
		am, err := transport.ParseAuthMethod(f.auth)
		if err != nil {
			return cfg, usagef("--auth: %v", err)
		}
		cfg.Auth = am
	}
	if f.set["user"] {
		cfg.Username = f.user
	}
	if f.set["allow-insecure-auth"] {
		cfg.AllowInsecureAuth = f.allowInsecureAuth
	}
	if f.set["ca-file"] {
		if _, err := os.Stat(f.caFile); err != nil {
			return cfg, usagef("--ca-file: %v", err)
		}
		cfg.CAFile = f.caFile
	}
	if f.set["helo"] {
		cfg.HeloName = f.helo
	}
	given, err := f.readPassword(env)
	if err != nil {
		return cfg, err
	}
	if f.set["auth"] && cfg.Auth == transport.AuthXOAUTH2 && given == "" {
		return cfg, usagef("--auth xoauth2 needs the access token: --password-env VAR or --password-stdin")
	}
	if cfg.Auth != transport.AuthNone {
		tmp := *p
		tmp.Auth, tmp.Username = cfg.Auth, cfg.Username
		if f.set["auth"] && cfg.Auth == transport.AuthXOAUTH2 {
			tmp.Auth = transport.AuthXOAUTH2
		}
		pw, err := profileSecret(f.core, &tmp, given)
		if err != nil {
			return cfg, err
		}
		cfg.Password = pw
	}
	if !f.set["timeout"] && cfg.Timeout > 0 {
		f.timeout = cfg.Timeout
	}
	return cfg, f.sessionOptions(&cfg)
}

// readPassword reads the password the flags name, or "".
func (f *sendFlags) readPassword(env Env) (string, error) {
	if f.passwordEnv != "" && f.passwordStdin {
		return "", usagef("use only one of --password-env and --password-stdin")
	}
	switch {
	case f.passwordEnv != "":
		pw := env.Getenv(f.passwordEnv)
		if pw == "" {
			return "", usagef("--password-env: environment variable %s is empty or not set", f.passwordEnv)
		}
		return pw, nil
	case f.passwordStdin:
		if f.bodyFile == "-" || f.eml == "-" {
			return "", usagef("--password-stdin cannot share standard input with --body-file - or --eml -")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("--password-stdin: standard input was empty")
		}
		return pw, nil
	}
	return "", nil
}

// sessionOptions applies the flags common to every session: timeout,
// quit-after and DSN.
func (f *sendFlags) sessionOptions(cfg *transport.Config) error {
	if f.pipelining != "" {
		m, err := transport.ParsePipelining(f.pipelining)
		if err != nil {
			return usagef("--pipelining: %v", err)
		}
		cfg.Pipelining = m
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	cfg.Timeout = f.timeout
	if f.quitAfter != "" {
		st, err := transport.ParseStage(f.quitAfter)
		if err != nil {
			return usagef("--quit-after: %v", err)
		}
		cfg.QuitAfter = st
	}
	if f.dsnNotify != "" || f.dsnRet != "" || f.dsnEnvID != "" {
		d, err := transport.ParseDSN(f.dsnNotify, f.dsnRet, f.dsnEnvID)
		if err != nil {
			return usagef("%v", err)
		}
		cfg.DSN = d
	}
	if err := transport.ValidHeloName(cfg.HeloName); err != nil {
		return usagef("--helo: %v", err)
	}
	return nil
}

func splitHostPort(server string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(server)
	if err != nil {
		// No port given (or a bare IPv6 address).
		h := strings.TrimSuffix(strings.TrimPrefix(server, "["), "]")
		if h == "" || strings.ContainsAny(h, " \t\r\n/") {
			return "", 0, usagef("--server %q is not a host[:port]", server)
		}
		return h, 0, nil
	}
	if host == "" {
		return "", 0, usagef("--server %q has no host", server)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, usagef("--server %q: port must be a number from 1 to 65535", server)
	}
	return host, port, nil
}

func readInput(path string, env Env) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(env.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return b, nil
}

// sendBody is the message to send: the bytes of a prepared .eml, or a draft
// rendered only when the transport reads it, after it has compared the
// message's size with the server's SIZE limit.
type sendBody struct {
	raw  []byte
	prep *message.Prepared
}

func (b sendBody) reader() io.Reader {
	if b.prep != nil {
		return b.prep.Reader()
	}
	return bytes.NewReader(b.raw)
}

func (b sendBody) bytes() ([]byte, error) {
	if b.prep == nil {
		return b.raw, nil
	}
	r, err := b.prep.Render()
	if err != nil {
		return nil, err
	}
	return r.Bytes, nil
}

// buildMessage returns the envelope and the message to send. Every address
// is checked here, before any connection: an invalid one is a usage error
// that names the field.
func (f *sendFlags) buildMessage(env Env) (transport.Envelope, sendBody, string, error) {
	menv, body, msgID, err := f.buildMessage1(env)
	if err != nil {
		return transport.Envelope{}, sendBody{}, "", err
	}
	if err := menv.Validate(); err != nil {
		return transport.Envelope{}, sendBody{}, "", usagef("%s", message.Explain(err))
	}
	return transport.Envelope{From: menv.From, To: menv.To}, body, msgID, nil
}

func (f *sendFlags) buildMessage1(env Env) (message.Envelope, sendBody, string, error) {
	var envl message.Envelope
	if f.eml != "" {
		if f.subject != "" || f.body != "" || f.bodyFile != "" || f.htmlFile != "" || len(f.attach.values) > 0 || len(f.headers.values) > 0 {
			return envl, sendBody{}, "", usagef("--eml sends a prepared message as it is: --subject, --body, --body-file, --html-file, --attach and --header do not apply")
		}
		data, err := readInput(f.eml, env)
		if err != nil {
			return envl, sendBody{}, "", err
		}
		p, err := message.ReadEML(bytes.NewReader(data))
		if err != nil {
			return envl, sendBody{}, "", usagef("--eml %s: %v", f.eml, err)
		}
		if !f.quiet {
			for _, c := range p.Changes {
				fmt.Fprintf(env.Stderr, "herald: --eml %s: %s\n", f.eml, c)
			}
		}
		envl = p.Envelope()
		raw := p.Bytes
		if f.from == "" && f.prof != nil && f.redirect {
			f.from = f.prof.FromAddress
		}
		if f.from != "" {
			a, err := message.ParseAddress("from", f.from)
			if err != nil {
				return envl, sendBody{}, "", usagef("%s", message.Explain(err))
			}
			envl.From = a
		}
		var rcpts []string
		var errs []error
		for _, l := range []struct {
			name  string
			addrs []string
		}{{"to", f.to.values}, {"cc", f.cc.values}, {"bcc", f.bcc.values}} {
			for i, r := range l.addrs {
				a, err := message.ParseAddress(fmt.Sprintf("%s[%d]", l.name, i), r)
				errs = append(errs, err)
				rcpts = append(rcpts, a)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return envl, sendBody{}, "", usagef("%s", message.Explain(err))
		}
		if len(rcpts) > 0 {
			envl.To = rcpts
		}
		if f.redirect {
			if len(rcpts) == 0 {
				return envl, sendBody{}, "", usagef("--redirect needs the new recipients in --to")
			}
			resentFrom := f.from
			if resentFrom == "" {
				resentFrom = envl.From
			}
			raw, err = message.Resend(p.Bytes, message.ResendOptions{From: resentFrom, To: rcpts})
			if err != nil {
				return envl, sendBody{}, "", usagef("--redirect: %s", message.Explain(err))
			}
		}
		if envl.From == "" {
			return envl, sendBody{}, "", usagef("--eml %s has no From header: give --from", f.eml)
		}
		if len(envl.To) == 0 {
			return envl, sendBody{}, "", usagef("--eml %s has no recipients in To, Cc or Bcc: give --to", f.eml)
		}
		if f.prof != nil {
			// A message sent with a signing profile is signed, a prepared
			// one too (its own signatures, if any, are kept).
			s, err := f.core.DKIMSigner(f.prof)
			if err != nil {
				return envl, sendBody{}, "", err
			}
			if s != nil {
				if raw, err = s.Sign(raw); err != nil {
					return envl, sendBody{}, "", err
				}
			}
		}
		return envl, sendBody{raw: raw}, p.MessageID, nil
	}
	if f.redirect {
		return envl, sendBody{}, "", usagef("--redirect works with --eml only")
	}
	d := message.Draft{From: f.from, To: f.to.values, Cc: f.cc.values, Bcc: f.bcc.values, ReplyTo: f.replyTo, Subject: f.subject, Text: f.body}
	if f.body != "" && f.bodyFile != "" {
		return envl, sendBody{}, "", usagef("use only one of --body and --body-file")
	}
	if f.bodyFile != "" {
		b, err := readInput(f.bodyFile, env)
		if err != nil {
			return envl, sendBody{}, "", fmt.Errorf("--body-file: %w", err)
		}
		d.Text = string(b)
	}
	if f.htmlFile != "" {
		b, err := readInput(f.htmlFile, env)
		if err != nil {
			return envl, sendBody{}, "", fmt.Errorf("--html-file: %w", err)
		}
		d.HTML = string(b)
	}
	for _, a := range f.attach.values {
		d.Attachments = append(d.Attachments, message.Attachment{Path: a})
	}
	for i, h := range f.headers.values {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return envl, sendBody{}, "", usagef("--header %d (%q) is not \"Name: value\"", i+1, h)
		}
		d.Headers = append(d.Headers, message.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	var opts []message.Option
	if f.prof != nil {
		f.prof.ApplyTo(&d)
		s, err := f.core.DKIMSigner(f.prof)
		if err != nil {
			return envl, sendBody{}, "", err
		}
		if s != nil {
			opts = append(opts, message.WithDKIM(s))
		}
	}
	p, err := message.Prepare(d, opts...)
	if err != nil {
		return envl, sendBody{}, "", usagef("%s", message.Explain(err))
	}
	return p.Envelope(), sendBody{prep: p}, p.MessageID(), nil
}

type jsonEvent struct {
	Time time.Time `json:"time"`
	Ms   float64   `json:"ms"`
	Dir  string    `json:"dir"`
	TLS  bool      `json:"tls"`
	Text string    `json:"text"`
}

type jsonRecipient struct {
	Addr         string `json:"addr"`
	Accepted     bool   `json:"accepted"`
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code,omitempty"`
	Message      string `json:"message,omitempty"`
}

type jsonTLS struct {
	Version  string    `json:"version"`
	Cipher   string    `json:"cipher"`
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	Verified bool      `json:"verified"`
}

type jsonSend struct {
	OK           bool            `json:"ok"`
	Stage        string          `json:"stage"`
	Class        string          `json:"class"`
	Code         int             `json:"code"`
	EnhancedCode string          `json:"enhanced_code"`
	Error        string          `json:"error"`
	Hint         string          `json:"hint"`
	Fixes        []hint.Fix      `json:"fixes"`
	MessageID    string          `json:"message_id"`
	QueuedAs     string          `json:"queued_as,omitempty"`
	Recipients   []jsonRecipient `json:"recipients"`
	TLS          *jsonTLS        `json:"tls,omitempty"`
	ElapsedMs    float64         `json:"elapsed_ms"`
	Transcript   []jsonEvent     `json:"transcript"`
}

// jsonResult is the result as JSON. Every text a server gave or an error
// holds goes through the recorder's redaction (the transport has redacted
// them already; text and JSON output share this rule, so neither can show
// what the other hides).
func jsonResult(r *transport.Result, rec *transcript.Recorder, msgID string, wc wordCtx) jsonSend {
	out := jsonSend{
		OK: r.OK, Stage: string(r.Stage), Class: string(r.Class), Code: r.Code, EnhancedCode: r.EnhancedCode,
		MessageID: msgID, QueuedAs: rec.Redact(r.QueuedAs), ElapsedMs: float64(r.Elapsed.Microseconds()) / 1000,
		Recipients: []jsonRecipient{}, Transcript: []jsonEvent{}, Fixes: []hint.Fix{},
	}
	if r.Err != nil {
		h := transport.HintFor(r.Err)
		out.Error = rec.Redact(r.Err.Error())
		out.Hint, out.Fixes = rec.Redact(wordHint(h, wc)), hintFixes(h)
	}
	for _, rc := range r.Recipients {
		out.Recipients = append(out.Recipients, jsonRecipient{rc.Addr, rc.Accepted, rc.Code, rc.EnhancedCode, rec.Redact(rc.Message)})
	}
	if t := r.TLS; t != nil {
		out.TLS = &jsonTLS{t.Version, t.Cipher, rec.Redact(t.Subject), rec.Redact(t.Issuer), t.NotAfter, t.Verified}
	}
	for _, e := range rec.Events() {
		out.Transcript = append(out.Transcript, jsonEvent{e.Time, e.Ms, string(e.Dir), e.TLS, e.Text})
	}
	return out
}

func printResult(w io.Writer, r *transport.Result, msgID string, rec *transcript.Recorder, wc wordCtx) {
	sum := core.Describe(r, msgID, rec)
	if r.OK && r.Stage != transport.StageDone {
		fmt.Fprintf(w, "ok: %s\n", sum.Line)
		return
	}
	fmt.Fprintln(w, sum.Line)
	for _, l := range sum.Rejected {
		fmt.Fprintln(w, l)
	}
	if h := rec.Redact(wordHint(sum.Hint, wc)); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// enqueue puts the message in the outbox for the profile (or the sandbox).
func (f *sendFlags) enqueue(ctx context.Context, env Env, dataDir string) (int, error) {
	for _, fl := range []string{"server", "tls", "auth", "user", "password-env", "password-stdin", "allow-insecure-auth", "ca-file", "helo", "quit-after"} {
		if f.set[fl] {
			return ExitUsage, usagef("--%s does not apply to a queued message: the profile's settings are used when it is sent (give --profile)", fl)
		}
	}
	// The delivery status notification options are the message's: the
	// outbox keeps them and asks for them when it sends.
	var dsn *transport.DSN
	if f.dsnNotify != "" || f.dsnRet != "" || f.dsnEnvID != "" {
		d, err := transport.ParseDSN(f.dsnNotify, f.dsnRet, f.dsnEnvID)
		if err != nil {
			return ExitUsage, usagef("%v", err)
		}
		dsn = d
	}
	var sendAt time.Time
	if f.sendAt != "" {
		t, err := queue.ParseSendAt(f.sendAt, time.Now())
		if err != nil {
			return ExitUsage, usagef("--send-at: %v", err)
		}
		sendAt = t
	}
	envl, body, msgID, err := f.buildMessage(env)
	if err != nil {
		return ExitUsage, err
	}
	raw, err := body.bytes()
	if err != nil {
		return ExitUsage, usagef("%s", message.Explain(err))
	}
	profileID := SandboxProfile
	if f.prof != nil {
		profileID = f.prof.ID
	}
	c, err := env.core(ctx, f.dataDir)
	if err != nil {
		return ExitFailure, err
	}
	subject := f.subject
	if f.eml != "" {
		if p, err := message.ReadEML(bytes.NewReader(raw)); err == nil {
			subject = p.Subject
		}
	}
	r := &message.Rendered{Envelope: message.Envelope{From: envl.From, To: envl.To}, MessageID: msgID, Subject: subject, Bytes: raw,
		NeedsSMTPUTF8: message.NeedsSMTPUTF8(envl.From, envl.To, raw)}
	m := queue.FromRendered(profileID, r, sendAt)
	m.DSN = dsn
	ids, err := c.Enqueue(ctx, m)
	if err != nil {
		return ExitFailure, err
	}
	id := ids[0]
	when := "now"
	if !sendAt.IsZero() {
		when = "at " + sendAt.Local().Format(time.DateTime)
	}
	if f.jsonOut {
		return ExitOK, writeJSON(env.Stdout, map[string]any{"ok": true, "queued": id, "message_id": msgID, "send_at": sendAt})
	}
	fmt.Fprintf(env.Stdout, "queued message %d (%s), due %s; 'herald queue run' sends it\n", id, msgID, when)
	return ExitOK, nil
}
