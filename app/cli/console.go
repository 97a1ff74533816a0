package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/console"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

const consoleSynopsis = `herald console --server HOST[:PORT] [--tls MODE] [--ca-file F] [--helo NAME] [--timeout D]
       [--allow-insecure-auth] [--user U] [--password-env VAR]
herald console --profile NAME [flags above to override]

An interactive SMTP session, like telnet or openssl s_client: type commands,
one a line, and see every reply as it comes. Lines are read from standard
input, a terminal or a pipe (a script can feed the commands); the session is
printed to standard output as it happens (C: sent, S: received, I: Herald's
notes, * inside TLS). A line whose first word is a helper runs it; every
other line is sent to the server as typed.

Helpers (any case):
  ehlo [NAME]        EHLO with NAME (default --helo or this host's name)
  starttls           STARTTLS, TLS handshake (TLS 1.2+, certificate verified, --ca-file), EHLO again
  auth MECH [USER]   plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer, or oauth2
                     (the server's OAUTHBEARER, else XOAUTH2) (USER default --user);
                     refused without TLS unless --allow-insecure-auth. The password comes from
                     --password-env, else from the next input line: on a terminal echo is turned
                     off with stty where it exists (a warning says when it cannot be); it never
                     appears in the output. With --profile the profile's password, or its
                     OAuth2 access token (herald oauth login), is used
  data [FILE]        DATA, then the message lines up to a line holding only "." (or FILE's
                     content); dots are doubled and line endings made CRLF for you
  quit               QUIT and close (end of input does the same)
  raw LINE           send LINE exactly as typed (raw HELP asks the server for its help)
  help               list the helpers

Exit codes: 0 after QUIT or end of input, 2 bad usage, 3 connection failed or lost,
4 TLS failed, 9 the server closed the session with 421, 10 the connection was lost
after a message was sent (it may or may not have been accepted), 1 interrupted or other.`

type consoleFlags struct {
	server, tls, caFile, helo, user, passwordEnv string
	profile, dataDir                             string
	allowInsecureAuth                            bool
	timeout                                      time.Duration
}

func runConsole(ctx context.Context, args []string, env Env, _ string) (int, error) {
	var f consoleFlags
	fs := newFlagSet("console", consoleSynopsis, env)
	fs.StringVar(&f.server, "server", "", "SMTP server `host[:port]` (required; the port defaults to 465 with --tls implicit, 25 with --tls none, else 587)")
	fs.StringVar(&f.tls, "tls", "", "TLS `mode`: implicit (TLS from the first byte), starttls (in clear until you type starttls) or none (default: implicit on port 465, else starttls)")
	fs.StringVar(&f.caFile, "ca-file", "", "extra CA certificate(s) to trust, PEM `file` (e.g. the sandbox's certificate)")
	fs.StringVar(&f.helo, "helo", "", "`name` for ehlo without an argument and after starttls (default: this host's name)")
	durationVar(fs, &f.timeout, "timeout", 30*time.Second, "how long to wait for each reply: seconds or a `duration` (30, 500ms, 2m)")
	fs.BoolVar(&f.allowInsecureAuth, "allow-insecure-auth", false, "allow auth over a connection without TLS (the password travels in clear)")
	fs.StringVar(&f.user, "user", "", "user `name` for auth when the helper names none")
	fs.StringVar(&f.passwordEnv, "password-env", "", "read the password (or xoauth2 token) for auth from environment `VAR`")
	fs.StringVar(&f.profile, "profile", "", "take the server, TLS mode, user and password (or OAuth2 access token) from profile `NAME`")
	fs.StringVar(&f.dataDir, "data-dir", "", "Herald's data `directory` (with --profile)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) > 0 {
		return ExitUsage, usagef("console takes no arguments, got %q (commands are read from standard input)", pos)
	}
	var profileSecretFn func() (string, error)
	pinned := ""
	if f.profile != "" {
		c, err := env.core(ctx, f.dataDir)
		if err != nil {
			return ExitFailure, err
		}
		p, err := c.Book.Get(ctx, f.profile)
		if err != nil {
			return profileErrCode(err), err
		}
		set := setFlags(fs)
		if !set["server"] {
			f.server = net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
		}
		if !set["tls"] {
			f.tls = string(p.TLS)
		}
		if !set["ca-file"] {
			f.caFile = p.CAFile
		}
		if !set["helo"] {
			f.helo = p.HeloName
		}
		if !set["user"] {
			f.user = p.Username
		}
		if !set["allow-insecure-auth"] {
			f.allowInsecureAuth = p.AllowInsecureAuth
		}
		pinned = p.PinnedSHA256
		profileSecretFn = func() (string, error) { return profileSecret(c, p, "") }
	}
	cfg, err := f.config(env)
	if err != nil {
		return ExitUsage, err
	}
	cfg.PinnedSHA256 = pinned

	rec := transcript.New()
	cfg.Transcript = rec
	out := newEventPrinter(env.Stdout, rec)
	defer out.stop()

	term, stdinFile := isTerminal(env.Stdin)
	in := newLineReader(env.Stdin)
	defer in.stop()
	cfg.Password = func(prompt string) (string, error) {
		if profileSecretFn != nil && f.passwordEnv == "" {
			return profileSecretFn()
		}
		if f.passwordEnv != "" {
			if pw := env.Getenv(f.passwordEnv); pw != "" {
				return pw, nil
			}
			return "", fmt.Errorf("environment variable %s is empty or not set", f.passwordEnv)
		}
		if term {
			out.sync()
			fmt.Fprint(env.Stdout, prompt)
			restore, err := noEcho(stdinFile)
			if err != nil {
				fmt.Fprintf(env.Stderr, "\nwarning: cannot turn off echo here (%v): the password will show as you type it\n", err)
			} else {
				defer restore()
			}
			defer fmt.Fprintln(env.Stdout)
		}
		line, ok, err := in.next(ctx)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errors.New("the input ended before the password")
		}
		return line, nil
	}

	s, err := console.Open(ctx, cfg)
	if err != nil {
		out.stop()
		return consoleExit(err), consoleError(rec, err, wordCtx{host: cfg.Host})
	}
	defer s.Close()
	for {
		if term {
			out.sync()
			prompt := "smtp> "
			if s.InMessage() {
				prompt = "data> "
			}
			fmt.Fprint(env.Stdout, prompt)
		}
		line, ok, err := in.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return endConsole(s, out, ExitFailure, errors.New("interrupted"))
			}
			return endConsole(s, out, ExitFailure, err)
		}
		if !ok {
			if s.InMessage() {
				return endConsole(s, out, ExitFailure, errors.New("the input ended inside a message, before the line holding only \".\": the message was not sent"))
			}
			return endConsole(s, out, ExitOK, nil)
		}
		res, err := s.Do(ctx, line)
		if !res.Closed {
			continue // refusals of a line are shown in the transcript; the session goes on
		}
		out.stop()
		if err != nil {
			return consoleExit(err), consoleError(rec, err, wordCtx{host: cfg.Host})
		}
		if n := len(res.Replies); n > 0 && res.Replies[n-1].Code == 421 {
			return ExitTemporary, fmt.Errorf("the server closed the session: %s", rec.Redact(strings.Join(res.Replies[n-1].Lines, " / ")))
		}
		return ExitOK, nil
	}
}

// config turns the flags into a console configuration.
func (f *consoleFlags) config(env Env) (console.Config, error) {
	var cfg console.Config
	if f.server == "" {
		return cfg, usagef("console needs --server HOST[:PORT]")
	}
	host, port, err := splitHostPort(f.server)
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
	case port == 465:
		cfg.TLS = transport.TLSImplicit
	default:
		cfg.TLS = transport.TLSStartTLS
	}
	if f.caFile != "" {
		if _, err := os.Stat(f.caFile); err != nil {
			return cfg, usagef("--ca-file: %v", err)
		}
	}
	if f.timeout <= 0 {
		return cfg, usagef("--timeout must be positive")
	}
	if f.passwordEnv != "" && env.Getenv(f.passwordEnv) == "" {
		return cfg, usagef("--password-env: environment variable %s is empty or not set", f.passwordEnv)
	}
	cfg.CAFile, cfg.HeloName, cfg.Timeout = f.caFile, f.helo, f.timeout
	cfg.Username, cfg.AllowInsecureAuth = f.user, f.allowInsecureAuth
	return cfg, nil
}

// endConsole leaves a session that is still open: QUIT where the server
// can take it, a plain close inside a message.
func endConsole(s *console.Session, out *eventPrinter, code int, err error) (int, error) {
	if s.InMessage() {
		s.Close()
	} else {
		s.Do(context.Background(), "quit")
	}
	out.stop()
	return code, err
}

// consoleExit maps a session error onto an exit code.
func consoleExit(err error) int {
	var e *transport.Error
	if !errors.As(err, &e) {
		return ExitFailure
	}
	switch {
	case e.Kind == transport.KindInput:
		return ExitUsage
	case e.Kind == transport.KindCanceled:
		return ExitFailure
	case e.Kind == transport.KindUnknownAfterData:
		return ExitUnknown
	case e.Stage == transport.StageTLS:
		return ExitTLS
	}
	return ExitConnect
}

// consoleError is the final error: redacted, with a hint where there is one.
func consoleError(rec *transcript.Recorder, err error, wc wordCtx) error {
	msg := rec.Redact(err.Error())
	if h := wordHint(transport.HintFor(err), wc); h != "" {
		msg += "\nhint: " + h
	}
	var e *transport.Error
	if errors.As(err, &e) && e.Kind == transport.KindInput {
		return usagef("%s", msg)
	}
	return errors.New(msg)
}

// eventPrinter prints a recorder's events as they happen.
type eventPrinter struct {
	rec  *transcript.Recorder
	sub  *transcript.Subscription
	wg   sync.WaitGroup
	once sync.Once

	mu      sync.Mutex
	printed int
}

func newEventPrinter(w io.Writer, rec *transcript.Recorder) *eventPrinter {
	p := &eventPrinter{rec: rec, sub: rec.Subscribe(4096, true)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		bw := bufio.NewWriter(w)
		for e := range p.sub.C() {
			fmt.Fprintln(bw, e.String())
			if len(p.sub.C()) == 0 {
				bw.Flush()
			}
			p.mu.Lock()
			p.printed++
			p.mu.Unlock()
		}
		bw.Flush()
	}()
	return p
}

// sync waits (a second at most) until every event recorded so far is
// printed, so that a prompt comes after them.
func (p *eventPrinter) sync() {
	want := len(p.rec.Events())
	for i := 0; i < 500; i++ {
		p.mu.Lock()
		n := p.printed
		p.mu.Unlock()
		if n+p.sub.Dropped() >= want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop prints what is left and ends the printer. It is idempotent.
func (p *eventPrinter) stop() {
	p.once.Do(func() {
		p.sub.Close()
		p.wg.Wait()
	})
}

// lineReader reads input lines in the background so that waiting for one
// can be interrupted.
type lineReader struct {
	lines chan string
	err   chan error
	done  chan struct{}
	once  sync.Once
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string), err: make(chan error, 1), done: make(chan struct{})}
	go func() {
		defer close(lr.lines)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
				select {
				case lr.lines <- l:
				case <-lr.done:
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					lr.err <- fmt.Errorf("read standard input: %w", err)
				}
				return
			}
		}
	}()
	return lr
}

// next returns the next line; ok is false at the end of the input.
func (lr *lineReader) next(ctx context.Context) (line string, ok bool, err error) {
	select {
	case l, ok := <-lr.lines:
		if !ok {
			select {
			case err := <-lr.err:
				return "", false, err
			default:
			}
		}
		return l, ok, nil
	case <-ctx.Done():
		return "", false, fmt.Errorf("wait for input: %w", context.Cause(ctx))
	}
}

// stop lets the reading goroutine end once its read returns.
func (lr *lineReader) stop() { lr.once.Do(func() { close(lr.done) }) }

// isTerminal reports whether r is a terminal (a character device).
func isTerminal(r io.Reader) (bool, *os.File) {
	f, ok := r.(*os.File)
	if !ok {
		return false, nil
	}
	st, err := f.Stat()
	if err != nil {
		return false, nil
	}
	return st.Mode()&os.ModeCharDevice != 0, f
}

// noEcho turns off the terminal's echo with stty (Herald has no terminal
// library); restore turns it back on.
func noEcho(f *os.File) (restore func(), err error) {
	if runtime.GOOS == "windows" {
		return nil, errors.New("not supported on Windows")
	}
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = f
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return nil, fmt.Errorf("stty -echo: %w", err)
	}
	return func() { stty("echo") }, nil
}
