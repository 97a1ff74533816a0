// Package console runs a manual SMTP session, for the people who would
// otherwise reach for telnet or `openssl s_client`: the user types commands,
// each is sent as typed and every reply line is recorded as it arrives, with
// helpers for the fiddly parts (STARTTLS, AUTH, DATA). It has no user
// interface of its own: the CLI feeds it lines today, the window later.
//
// # Syntax
//
// Each line is one command. A line whose first word (in any case) names a
// helper runs the helper; every other line (MAIL FROM:<a@b>, RCPT TO:<c@d>,
// RSET, NOOP, VRFY, EXPN, HELO, any extension verb) goes to the server
// exactly as typed. The helpers are:
//
//	help              list the helpers (answered locally; "raw HELP" asks the server)
//	ehlo [NAME]       EHLO NAME, default the configured name; the extensions are remembered
//	starttls          STARTTLS, then the TLS handshake under the transport's rules
//	                  (TLS 1.2 or newer, certificate verified, CA file, pin), then EHLO again
//	auth MECH [USER]  authenticate with plain, login, cram-md5, scram-sha-1, scram-sha-256
//	                  or xoauth2; the password comes from Config.Password and is never
//	                  recorded (the transcript shows "AUTH PLAIN [redacted]")
//	data [FILE]       DATA, then the message: the following lines up to one holding only
//	                  "." (or FILE's content), with line endings made CRLF and leading dots
//	                  doubled; the transcript shows a one-line summary instead of the body
//	quit              QUIT, then close
//	raw LINE          send LINE exactly as typed even when its first word names a helper
//	                  (refused for AUTH, STARTTLS and DATA, whose raw forms would put a
//	                  credential in the transcript or leave the session out of step)
//
// So the habits of telnet work: typed in capitals, DATA, STARTTLS, AUTH and
// QUIT run their helpers. A line holding CR, LF or NUL is refused, nothing
// sent. A command longer than RFC 5321's 512 octets gets a warning and is
// sent all the same.
//
// Every line, sent (C), received (S) or Herald's own note (I), goes to the
// Config.Transcript recorder as it happens. Each read and write is bounded
// by Config.Timeout and the context given to Do interrupts it; a timeout, a
// cancellation or a server that drops the line ends the session, because the
// replies could no longer be matched to the commands.
package console

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

const (
	// maxCommand is RFC 5321's limit for a command line, CRLF included.
	maxCommand = 512
	// quitTimeout bounds the wait for the reply to QUIT.
	quitTimeout = 5 * time.Second
)

// Config configures a console session: the transport's settings (Host,
// Port, TLS, CAFile, RootCAs, PinnedSHA256, HeloName, Timeout, Username,
// AllowInsecureAuth, Transcript, DialContext) plus the password callback.
type Config struct {
	transport.Config
	// Password returns the secret for the auth helper (the access token for
	// xoauth2); prompt says what is asked. Nil falls back to the embedded
	// transport.Config.Password.
	Password func(prompt string) (string, error)
}

// Reply is one server reply, possibly of several lines.
type Reply struct {
	Code int
	// Lines are the reply lines as received, without CRLF ("250-SIZE 1000").
	Lines []string
}

// Text is the reply's text without the codes, lines joined with " / ".
func (r Reply) Text() string {
	out := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		if len(l) > 4 {
			out = append(out, l[4:])
		}
	}
	return strings.Join(out, " / ")
}

// Result is what one Do call did.
type Result struct {
	// Replies are the server's replies, in order: one per command sent (a
	// helper may send several).
	Replies []Reply
	// Notes are Herald's own lines for this step (warnings, TLS details, the
	// help), also recorded as I events.
	Notes []string
	// Message is true when the session now takes message lines: every
	// following line is message text until a line holding only ".".
	Message bool
	// Closed is true when the session has ended.
	Closed bool
}

// Session is an open console session. Do is not safe for concurrent use;
// Close may be called from another goroutine to end a blocked Do.
type Session struct {
	cfg Config
	rec *transcript.Recorder
	raw net.Conn // the TCP connection: deadlines go here
	br  *bufio.Reader
	bw  *bufio.Writer

	tls    bool
	info   *transport.TLSInfo
	ext    map[string]string // nil before a successful EHLO
	helo   string            // the name of the last EHLO or HELO
	banner Reply

	msg *bytes.Buffer // the message being typed, as typed; nil outside message mode

	mu       sync.Mutex // guards the fields below against the context watcher and Close
	ctx      context.Context
	canceled bool
	closed   bool
}

// Open connects to the server, starts TLS at once in implicit mode, and
// reads the banner. In starttls mode nothing is upgraded until the user runs
// the starttls helper; none behaves the same way. Errors are
// *transport.Error: StageConnect or StageBanner when the server cannot be
// reached, StageTLS when the implicit handshake fails, KindInput for a bad
// configuration.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.TLS == "" {
		cfg.TLS = transport.TLSStartTLS
	}
	rec := cfg.Transcript
	if rec == nil {
		rec = transcript.New()
		cfg.Transcript = rec
	}
	if cfg.Config.Password != "" {
		rec.AddSecret(cfg.Config.Password)
	}
	s := &Session{cfg: cfg, rec: rec, ctx: ctx}
	if err := validate(cfg); err != nil {
		s.note(nil, "cannot open the session: %s", err)
		return nil, err
	}
	if err := s.connect(ctx); err != nil {
		s.note(nil, "%s", err)
		return nil, err
	}
	stop := s.watch(ctx)
	defer stop()
	fail := func(err error) (*Session, error) {
		s.note(nil, "session ended: %s", rec.Redact(err.Error()))
		s.Close()
		return nil, err
	}
	if cfg.TLS == transport.TLSImplicit {
		if err := s.handshake(ctx, nil); err != nil {
			return fail(err)
		}
	}
	r, err := s.readRaw(transport.StageBanner, "waiting for the banner", s.timeout())
	if err != nil {
		return fail(err)
	}
	s.banner = r
	s.took(nil, r)
	if s.isClosed() {
		return nil, &transport.Error{Stage: transport.StageBanner, Class: transport.ClassTemporary, Kind: transport.KindReply,
			Code: r.Code, Reply: r.Text(), Msg: "the server refused the session and closed the connection"}
	}
	if r.Code != 220 {
		s.note(nil, "the banner is %d, not 220: the server refuses this session and will likely refuse every command but QUIT", r.Code)
	}
	if cfg.TLS == transport.TLSStartTLS && !s.tls {
		s.note(nil, "the session is in clear: type starttls to upgrade it; help lists the helpers")
	} else {
		s.note(nil, "type help for the helpers")
	}
	return s, nil
}

func validate(cfg Config) error {
	bad := func(what, v string) error {
		return &transport.Error{Stage: transport.StageConnect, Class: transport.ClassPermanent, Kind: transport.KindInput,
			Msg: fmt.Sprintf("%s %q is not valid", what, v)}
	}
	if cfg.Host == "" || strings.ContainsAny(cfg.Host, " \t\r\n/\\@") {
		return bad("server host", cfg.Host)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return bad("port", strconv.Itoa(cfg.Port))
	}
	if strings.ContainsAny(cfg.HeloName, " \t\r\n<>\x00") {
		return bad("EHLO name", cfg.HeloName)
	}
	switch cfg.TLS {
	case transport.TLSImplicit, transport.TLSStartTLS, transport.TLSNone:
	default:
		return bad("TLS mode", string(cfg.TLS))
	}
	return nil
}

func (s *Session) port() int {
	if s.cfg.Port > 0 {
		return s.cfg.Port
	}
	return transport.DefaultPort(s.cfg.TLS)
}

func (s *Session) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.port())) }

func (s *Session) timeout() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return 30 * time.Second
}

// note records an I line and adds it to res (when there is one).
func (s *Session) note(res *Result, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	s.rec.Info(s.tls, text)
	if res != nil {
		res.Notes = append(res.Notes, s.rec.Redact(text))
	}
}

func (s *Session) connect(ctx context.Context) error {
	addr := s.addr()
	dctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	dial := s.cfg.DialContext
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	start := time.Now()
	conn, err := dial(dctx, "tcp", addr)
	if err != nil {
		e := &transport.Error{Stage: transport.StageConnect, Class: transport.ClassTemporary, Kind: transport.KindNetwork,
			Msg: "connect to " + addr, Port: s.port(), Err: err}
		var dnsErr *net.DNSError
		switch {
		case ctx.Err() != nil:
			e.Kind, e.Err = transport.KindCanceled, context.Cause(ctx)
		case errors.As(err, &dnsErr):
			e.Kind = transport.KindDNS
			if dnsErr.IsNotFound {
				e.Class = transport.ClassPermanent
			}
		case errors.Is(err, syscall.ECONNREFUSED):
			e.Kind = transport.KindRefused
		case dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
			e.Kind = transport.KindTimeout
		}
		return e
	}
	s.raw = conn
	s.br = bufio.NewReaderSize(conn, transport.MaxReplyLine)
	s.bw = bufio.NewWriterSize(conn, 32<<10)
	s.note(nil, "connected to %s (%s) in %d ms", addr, conn.RemoteAddr(), time.Since(start).Milliseconds())
	return nil
}

// watch makes ctx's cancellation interrupt any blocked read or write.
func (s *Session) watch(ctx context.Context) (stop func()) {
	s.mu.Lock()
	s.ctx, s.canceled = ctx, false
	s.mu.Unlock()
	st := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.canceled = true
		if !s.closed {
			s.raw.SetDeadline(time.Unix(1, 0))
		}
		s.mu.Unlock()
	})
	return func() { st() }
}

// arm sets the deadline for the next read or write, unless the session is
// over or the context done.
func (s *Session) arm(st transport.Stage, doing string, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &transport.Error{Stage: st, Class: transport.ClassTemporary, Kind: transport.KindDropped, Msg: "the session is closed", Err: net.ErrClosed}
	}
	if s.canceled || (s.ctx != nil && s.ctx.Err() != nil) {
		return &transport.Error{Stage: st, Class: transport.ClassTemporary, Kind: transport.KindCanceled, Msg: "canceled before " + doing, Err: context.Cause(s.ctx)}
	}
	return s.raw.SetDeadline(time.Now().Add(d))
}

// ioError classifies a failed read or write: afterwards the session is over.
func (s *Session) ioError(st transport.Stage, doing string, err error) *transport.Error {
	s.mu.Lock()
	canceled := s.canceled || (s.ctx != nil && s.ctx.Err() != nil)
	closed := s.closed
	ctx := s.ctx
	s.mu.Unlock()
	e := &transport.Error{Stage: st, Class: transport.ClassTemporary, Kind: transport.KindNetwork, Port: s.port(), Msg: "the connection failed while " + doing, Err: err}
	var ne net.Error
	switch {
	case closed:
		e.Kind, e.Msg = transport.KindCanceled, "the session was closed while "+doing
	case canceled:
		e.Kind, e.Msg, e.Err = transport.KindCanceled, "canceled while "+doing, context.Cause(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		e.Kind, e.Msg, e.Err = transport.KindTimeout, fmt.Sprintf("no answer within %s while %s", s.timeout(), doing), nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE):
		e.Kind, e.Msg = transport.KindDropped, "the server closed the connection while Herald was "+doing
	}
	return e
}

// end closes the session after err and records why.
func (s *Session) end(res *Result, err error) error {
	s.note(res, "session ended: %s", s.rec.Redact(err.Error()))
	s.msg = nil
	s.Close()
	return err
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// send writes one line; shown is what the transcript records.
func (s *Session) send(st transport.Stage, line, shown string) error {
	verb := strings.Fields(shown + " x")[0]
	if err := s.arm(st, "sending "+verb, s.timeout()); err != nil {
		return err
	}
	s.rec.Client(s.tls, shown)
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
	if err := s.bw.Flush(); err != nil {
		return s.ioError(st, "sending "+verb, err)
	}
	return nil
}

// readReply reads one reply, recording each line as it arrives, and adds
// it to res. A 221 or 421 reply closes the session; a failure ends it.
func (s *Session) readReply(res *Result, st transport.Stage, doing string) (Reply, error) {
	r, err := s.readRaw(st, doing, s.timeout())
	if err != nil {
		return r, s.end(res, err)
	}
	s.took(res, r)
	return r, nil
}

// took adds a reply to res and closes the session after 221 or 421.
func (s *Session) took(res *Result, r Reply) {
	if res != nil {
		res.Replies = append(res.Replies, r)
	}
	if r.Code == 221 || r.Code == 421 {
		s.note(res, "the server ends the session (%d)", r.Code)
		s.Close()
	}
}

// readRaw reads one reply within d.
func (s *Session) readRaw(st transport.Stage, doing string, d time.Duration) (Reply, error) {
	if err := s.arm(st, doing, d); err != nil {
		return Reply{}, err
	}
	r, err := transport.ReadReply(s.br, s.rec, s.tls, st)
	if err != nil {
		if e, ok := err.(*transport.Error); ok {
			return Reply{}, e
		}
		return Reply{}, s.ioError(st, doing, err)
	}
	return Reply{Code: r.Code, Lines: r.Lines}, nil
}

// inputError is a line Herald refuses; nothing was sent and the session
// goes on.
func inputError(st transport.Stage, kind transport.Kind, format string, args ...any) *transport.Error {
	return &transport.Error{Stage: st, Class: transport.ClassPermanent, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// helpText lists the helpers, for the help helper.
var helpText = []string{
	"helpers (first word, any case); every other line goes to the server as typed:",
	"  ehlo [NAME]        EHLO with NAME (default: the configured name); remembers the extensions",
	"  starttls           STARTTLS, TLS handshake (TLS 1.2+, certificate verified), then EHLO again",
	"  auth MECH [USER]   authenticate: plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2;",
	"                     the password is asked for and never shown; refused without TLS unless allowed",
	"  data [FILE]        DATA, then type the message up to a line holding only \".\" (leading dots",
	"                     are doubled for you), or send FILE",
	"  quit               QUIT and close",
	"  raw LINE           send LINE exactly as typed (raw HELP asks the server for its own help)",
	"  help               this list",
}

// Help returns the list of helpers, as the help helper shows it.
func Help() []string { return slices.Clone(helpText) }

// Do runs one line: a helper, a command sent as typed, or a line of the
// message being typed. Input Herald refuses (CR, LF or NUL in the line, AUTH
// without TLS, an unreadable file) returns a *transport.Error and leaves the
// session as it was; a timeout, a cancellation of ctx or a lost connection
// returns a *transport.Error and ends the session (Result.Closed). A server's
// refusal is a reply, not an error.
func (s *Session) Do(ctx context.Context, line string) (res Result, err error) {
	defer func() {
		res.Closed = s.isClosed()
		res.Message = s.msg != nil && !res.Closed
	}()
	if s.isClosed() {
		return res, &transport.Error{Class: transport.ClassTemporary, Kind: transport.KindDropped, Msg: "the session is closed", Err: net.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return res, &transport.Error{Class: transport.ClassTemporary, Kind: transport.KindCanceled, Msg: "canceled", Err: context.Cause(ctx)}
	}
	if i := strings.IndexAny(line, "\r\n\x00"); i >= 0 {
		what := map[byte]string{'\r': "CR", '\n': "LF", 0: "NUL"}[line[i]]
		err := inputError("", transport.KindInput, "the line contains %s at byte %d: refused, nothing was sent (one line is one command; a CR or LF inside it would smuggle in another)", what, i+1)
		s.note(&res, "%s", err.Msg)
		return res, err
	}
	stop := s.watch(ctx)
	defer stop()
	if s.msg != nil {
		return res, s.messageLine(&res, line)
	}
	word, rest := splitWord(line)
	if word == "" {
		return res, nil
	}
	switch strings.ToLower(word) {
	case "help":
		for _, l := range helpText {
			s.note(&res, "%s", l)
		}
	case "ehlo":
		err = s.ehlo(&res, rest)
	case "starttls":
		if rest != "" {
			err = s.refuse(&res, transport.StageTLS, "starttls takes no argument")
			break
		}
		err = s.startTLS(ctx, &res)
	case "auth":
		err = s.auth(&res, rest)
	case "data":
		err = s.data(&res, rest)
	case "quit":
		err = s.quit(&res, line)
	case "raw":
		err = s.rawLine(&res, rest)
	default:
		_, err = s.command(&res, line)
	}
	return res, err
}

// splitWord returns the first word and the rest of the line after the
// blanks that follow it.
func splitWord(line string) (word, rest string) {
	line = strings.TrimLeft(line, " \t")
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], strings.TrimSpace(line[i:])
}

// refuse records and returns an input error.
func (s *Session) refuse(res *Result, st transport.Stage, format string, args ...any) error {
	err := inputError(st, transport.KindInput, format, args...)
	s.note(res, "refused: %s", err.Msg)
	return err
}

// stageOf names the stage a command belongs to, for errors and hints.
func stageOf(verb string) transport.Stage {
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO", "LHLO":
		return transport.StageEHLO
	case "STARTTLS":
		return transport.StageTLS
	case "AUTH":
		return transport.StageAuth
	case "MAIL":
		return transport.StageMail
	case "RCPT":
		return transport.StageRcpt
	case "DATA", "BDAT":
		return transport.StageData
	}
	return ""
}

// command sends line as typed and reads its reply.
func (s *Session) command(res *Result, line string) (Reply, error) {
	verb, arg := splitWord(line)
	st := stageOf(verb)
	if n := len(line) + 2; n > maxCommand {
		s.note(res, "warning: this command is %d bytes with its CRLF, more than the %d RFC 5321 allows; sending it anyway", n, maxCommand)
	}
	if err := s.send(st, line, line); err != nil {
		return Reply{}, s.end(res, err)
	}
	r, err := s.readReply(res, st, "waiting for the reply to "+strings.ToUpper(verb))
	if err != nil {
		return r, err
	}
	switch strings.ToUpper(verb) {
	case "EHLO":
		s.helo = arg
		if r.Code == 250 {
			s.ext = (&transport.Reply{Code: r.Code, Lines: r.Lines}).Extensions()
		}
	case "HELO":
		s.helo = arg
		if r.Code == 250 {
			s.ext = map[string]string{}
		}
	}
	return r, nil
}

func (s *Session) ehlo(res *Result, name string) error {
	if name == "" {
		name = transport.EHLOName(s.cfg.Config)
	}
	_, err := s.command(res, "EHLO "+name)
	return err
}

// rawRefused names the verbs raw does not send, and why.
var rawRefused = map[string]string{
	"AUTH":     "it would put the credential in the transcript: use auth MECH [USER]",
	"STARTTLS": "the server would wait for a TLS handshake nobody starts: use starttls",
	"DATA":     "the message would go without dot-stuffing: use data",
}

func (s *Session) rawLine(res *Result, line string) error {
	if line == "" {
		return s.refuse(res, "", "raw needs the line to send: raw LINE")
	}
	verb, _ := splitWord(line)
	if why, ok := rawRefused[strings.ToUpper(verb)]; ok {
		return s.refuse(res, stageOf(verb), "raw %s: %s", strings.ToUpper(verb), why)
	}
	_, err := s.command(res, line)
	return err
}

func (s *Session) quit(res *Result, line string) error {
	_, rest := splitWord(line)
	cmd := "QUIT"
	if rest != "" {
		cmd += " " + rest
	}
	defer s.Close()
	if err := s.send("", cmd, cmd); err != nil {
		s.note(res, "the connection was already gone: %s", s.rec.Redact(err.Error()))
		return nil
	}
	// A server that does not answer QUIT must not hold the user long; its
	// silence or a drop is no failure at this point.
	r, err := s.readRaw("", "waiting for the reply to QUIT", min(s.timeout(), quitTimeout))
	if err != nil {
		s.note(res, "no reply to QUIT (%s); closing", s.rec.Redact(err.Error()))
		return nil
	}
	s.took(res, r)
	return nil
}

// Banner returns the server's greeting.
func (s *Session) Banner() Reply { return s.banner }

// TLS describes the TLS connection, nil while the session is in clear.
func (s *Session) TLS() *transport.TLSInfo { return s.info }

// Extensions returns the keywords (upper case) and parameters of the last
// successful EHLO, nil before one.
func (s *Session) Extensions() map[string]string {
	if s.ext == nil {
		return nil
	}
	out := make(map[string]string, len(s.ext))
	for k, v := range s.ext {
		out[k] = v
	}
	return out
}

// InMessage reports whether the session takes message lines (after data).
func (s *Session) InMessage() bool { return s.msg != nil && !s.isClosed() }

// Closed reports whether the session has ended.
func (s *Session) Closed() bool { return s.isClosed() }

// Transcript returns the session's recorder.
func (s *Session) Transcript() *transcript.Recorder { return s.rec }

// Close drops the connection without QUIT; a Do blocked in another goroutine
// returns. It is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw == nil || s.closed {
		return nil
	}
	s.closed = true
	if err := s.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close the connection: %w", err)
	}
	return nil
}

// ---- STARTTLS and TLS

func (s *Session) startTLS(ctx context.Context, res *Result) error {
	if s.tls {
		return s.refuse(res, transport.StageTLS, "TLS is already on")
	}
	conf, verdict, err := transport.TLSClientConfig(s.cfg.Config)
	if err != nil {
		s.note(res, "refused: %s", err)
		return err
	}
	if s.ext != nil {
		if _, ok := s.ext["STARTTLS"]; !ok {
			s.note(res, "warning: the server did not offer STARTTLS in its EHLO reply; trying anyway")
		}
	}
	if err := s.send(transport.StageTLS, "STARTTLS", "STARTTLS"); err != nil {
		return s.end(res, err)
	}
	r, err := s.readReply(res, transport.StageTLS, "waiting for the reply to STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		s.note(res, "the server refused STARTTLS: the session stays in clear")
		return nil
	}
	if n := s.br.Buffered(); n > 0 {
		// Plaintext sent after the 220 would be taken as if it came over
		// TLS (the STARTTLS command injection of CVE-2011-0411 and kin).
		return s.end(res, &transport.Error{Stage: transport.StageTLS, Class: transport.ClassPermanent, Kind: transport.KindProtocol,
			Msg: fmt.Sprintf("the server sent %d bytes after its STARTTLS reply, before TLS: refusing them (a possible injection attack)", n)})
	}
	if err := s.handshakeWith(ctx, res, conf, verdict); err != nil {
		return s.end(res, err)
	}
	s.ext = nil
	name := s.helo
	if name == "" {
		name = transport.EHLOName(s.cfg.Config)
	}
	_, err = s.command(res, "EHLO "+name)
	return err
}

func (s *Session) handshake(ctx context.Context, res *Result) error {
	conf, verdict, err := transport.TLSClientConfig(s.cfg.Config)
	if err != nil {
		return err
	}
	return s.handshakeWith(ctx, res, conf, verdict)
}

// handshakeWith runs the TLS handshake with conf, whose verdict says how
// the certificate was accepted.
func (s *Session) handshakeWith(ctx context.Context, res *Result, conf *tls.Config, verdict *transport.TLSVerdict) error {
	if err := s.arm(transport.StageTLS, "the TLS handshake", s.timeout()); err != nil {
		return err
	}
	start := time.Now()
	tc, info, err := transport.Handshake(ctx, s.raw, s.cfg.Config, conf, verdict)
	if err != nil {
		return err
	}
	s.info = info
	s.tls = true
	s.br.Reset(tc)
	s.bw.Reset(tc)
	s.note(res, "TLS started in %d ms: %s", time.Since(start).Milliseconds(), info.Summary(s.cfg.Host))
	return nil
}

// ---- AUTH

// saslName is the mechanism's name in EHLO and AUTH.
func saslName(m transport.AuthMethod) string { return strings.ToUpper(string(m)) }

func (s *Session) auth(res *Result, args string) error {
	f := strings.Fields(args)
	if len(f) == 0 || len(f) > 2 {
		return s.refuse(res, transport.StageAuth, "usage: auth MECH [USER], MECH one of plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer, oauth2")
	}
	m, err := transport.ParseAuthMethod(f[0])
	if err != nil || m == transport.AuthAuto || m == transport.AuthNone {
		return s.refuse(res, transport.StageAuth, "unknown mechanism %q: plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer or oauth2", f[0])
	}
	user := s.cfg.Username
	if len(f) == 2 {
		user = f[1]
	}
	if user == "" {
		return s.refuse(res, transport.StageAuth, "no user name: auth %s USER", f[0])
	}
	if !s.tls && !s.cfg.AllowInsecureAuth {
		e := inputError(transport.StageAuth, transport.KindInsecureAuth,
			"refusing to send credentials over a connection without TLS (nothing was sent): start TLS first (STARTTLS), or allow the password without TLS")
		s.note(res, "%s", e.Msg)
		return e
	}
	mech := saslName(m)
	offered := strings.Fields(strings.ToUpper(s.ext["AUTH"]))
	if m == transport.AuthOAuth2 {
		// The token goes with OAUTHBEARER where offered, else XOAUTH2.
		mech = "XOAUTH2"
		if slices.Contains(offered, "OAUTHBEARER") {
			mech = "OAUTHBEARER"
		}
	}
	if s.ext != nil && !slices.Contains(offered, mech) {
		list := strings.Join(offered, " ")
		if list == "" {
			list = "no AUTH at all"
		}
		s.note(res, "warning: the server did not offer %s (it offers %s); trying anyway", mech, list)
	}
	what := "Password"
	if m == transport.AuthXOAUTH2 || m == transport.AuthOAuthBearer || m == transport.AuthOAuth2 {
		what = "Access token"
	}
	pw := s.cfg.Config.Password
	if s.cfg.Password != nil {
		pw, err = s.cfg.Password(fmt.Sprintf("%s for %s: ", what, user))
		if err != nil {
			e := &transport.Error{Stage: transport.StageAuth, Class: transport.ClassPermanent, Kind: transport.KindInput, Msg: "read the " + strings.ToLower(what), Err: err}
			s.note(res, "refused: %s", e)
			return e
		}
	}
	if pw == "" {
		return s.refuse(res, transport.StageAuth, "no %s given: nothing was sent", strings.ToLower(what))
	}
	s.rec.AddSecret(pw)
	return s.saslExchange(res, m, user, pw)
}

// saslExchange runs AUTH. Every client line after the mechanism name is
// recorded as [redacted], and each encoded response is registered as a
// secret so it cannot surface anywhere else either.
func (s *Session) saslExchange(res *Result, m transport.AuthMethod, user, pw string) error {
	st := transport.StageAuth
	sasl, err := transport.NewSASL(m, user, pw, s.cfg.Host, s.rec)
	var line, shown string
	if err == nil {
		line, shown, err = sasl.Start(s.tls, strings.Fields(strings.ToUpper(s.ext["AUTH"])))
	}
	if err != nil {
		e := &transport.Error{Stage: st, Class: transport.ClassPermanent, Kind: transport.KindAuthExchange, Msg: "start the exchange", Err: err}
		s.note(res, "refused: %s", s.rec.Redact(e.Error()))
		return e
	}
	if err := s.send(st, line, shown); err != nil {
		return s.end(res, err)
	}
	mech := sasl.Mech()
	for steps := 0; ; steps++ {
		r, err := s.readReply(res, st, "waiting for the reply to AUTH")
		if err != nil {
			return err
		}
		switch {
		case r.Code == 235:
			s.note(res, "authenticated as %s with %s", user, mech)
			return nil
		case r.Code == 334 && steps < 10:
			next, derr := sasl.Next(r.Text())
			if derr != nil {
				// Cancel the exchange (RFC 4954 4).
				if err := s.send(st, "*", "*"); err != nil {
					return s.end(res, err)
				}
				if _, err := s.readReply(res, st, "waiting for the reply to the canceled AUTH"); err != nil {
					return err
				}
				e := &transport.Error{Stage: st, Class: transport.ClassPermanent, Kind: transport.KindAuthExchange, Msg: mech + " exchange failed", Err: derr}
				s.note(res, "%s", s.rec.Redact(e.Error()))
				return e
			}
			if err := s.send(st, next, transcript.Redacted); err != nil {
				return s.end(res, err)
			}
		default:
			s.note(res, "authentication failed: the server answered %d", r.Code)
			return nil
		}
	}
}

// ---- DATA

func (s *Session) data(res *Result, file string) error {
	var f *os.File
	if file != "" {
		var err error
		if f, err = os.Open(file); err != nil {
			e := &transport.Error{Stage: transport.StageData, Class: transport.ClassPermanent, Kind: transport.KindInput, Msg: "open the message file (nothing was sent)", Err: err}
			s.note(res, "refused: %s", e)
			return e
		}
		defer f.Close()
	}
	r, err := s.command(res, "DATA")
	if err != nil || r.Code != 354 {
		return err
	}
	if f == nil {
		s.msg = &bytes.Buffer{}
		s.note(res, "type the message; a line holding only \".\" ends it (leading dots are doubled for you)")
		return nil
	}
	return s.sendMessage(res, struct{ io.Reader }{f})
}

// messageLine takes one typed line of the message, or its end.
func (s *Session) messageLine(res *Result, line string) error {
	if line != "." {
		s.msg.WriteString(line)
		s.msg.WriteByte('\n')
		return nil
	}
	body := s.msg
	s.msg = nil
	return s.sendMessage(res, body)
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// sendMessage sends body in DATA form (line endings made CRLF, leading
// dots doubled) and the final dot, then reads the server's verdict.
func (s *Session) sendMessage(res *Result, body io.Reader) error {
	const doing = "sending the message"
	dw := transport.NewDotWriter(s.bw)
	w := writerFunc(func(p []byte) (int, error) {
		if err := s.arm(transport.StageData, doing, s.timeout()); err != nil {
			return 0, err
		}
		n, err := dw.Write(p)
		if err != nil {
			return n, s.ioError(transport.StageData, doing, err)
		}
		return n, nil
	})
	if _, err := io.Copy(w, body); err != nil {
		var e *transport.Error
		if errors.As(err, &e) {
			return s.end(res, e)
		}
		// The server has not seen the final dot: dropping the connection
		// makes it discard what it got.
		return s.end(res, &transport.Error{Stage: transport.StageData, Class: transport.ClassTemporary, Kind: transport.KindInput,
			Msg: "read the message file (the connection is dropped so that the server discards the partial message)", Err: err})
	}
	if err := s.arm(transport.StageData, doing, s.timeout()); err != nil {
		return s.end(res, err)
	}
	// A failed write stays in s.bw: the Flush below reports it.
	dw.Close()
	s.rec.Client(s.tls, fmt.Sprintf("[message: %d bytes in %d lines]", dw.Bytes(), dw.Lines()))
	s.rec.Client(s.tls, ".")
	if err := s.bw.Flush(); err != nil {
		return s.end(res, s.ioError(transport.StageData, doing, err))
	}
	_, err := s.readReply(res, transport.StageData, "waiting for the reply to the message")
	var e *transport.Error
	if errors.As(err, &e) && e.Kind != transport.KindCanceled {
		s.note(res, "the connection was lost after the whole message was sent, before the server answered: it may or may not have been accepted")
		e.Kind, e.Class = transport.KindUnknownAfterData, transport.ClassUnknown
	}
	return err
}
