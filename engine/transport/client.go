package transport

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

// Client is an open SMTP session, ready for messages after Dial. It is not
// safe for concurrent use: one goroutine drives one session.
type Client struct {
	cfg Config
	rec *transcript.Recorder
	// sec holds every form of the secret and of each SASL response sent
	// (the recorder's set when there is one): server text is redacted of
	// them as it is read, so no result or error can carry them.
	sec  *transcript.Secrets
	raw  net.Conn // the TCP connection: deadlines go here
	conn net.Conn // raw, or the TLS connection over it
	br   *bufio.Reader
	bw   *bufio.Writer

	tls      bool
	info     *TLSInfo
	ext      map[string]string
	maxSize  int64 // the SIZE limit, 0 for none
	greeting string
	authed   string

	mu       sync.Mutex // guards canceled against the context watcher
	canceled bool
	ctx      context.Context
	broken   bool // the connection can carry no more commands
	closed   bool

	lastCode int
	lastEnh  string
	// pending lists the verbs of the commands sent whose replies are not
	// read yet, oldest first ("GREETING" for the banner), from head on.
	pending []string
	head    int

	buf []byte     // scratch: body copies and scans, one message at a time
	dw  dataWriter // the body encoder, reused message after message
}

// Dial opens a session: it connects, reads the banner, sends EHLO, starts
// TLS as Config.TLS says and authenticates as Config.Auth says. Every line
// goes to Config.Transcript. Errors are *Error.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	return dial(ctx, cfg, "")
}

// stageAt reports whether stopping after st satisfies until ("" never stops).
func stageAt(st, until Stage) bool {
	return until != "" && slices.Index(stageOrder, st) >= slices.Index(stageOrder, until)
}

func dial(ctx context.Context, cfg Config, until Stage) (*Client, error) {
	// Without a recorder nothing is recorded: the hot path of bulk sending
	// pays for no transcript it would throw away.
	rec := cfg.Transcript
	sec := transcript.NewSecrets()
	if rec != nil {
		sec = rec.Secrets()
	}
	sec.Add(cfg.Password)
	c := &Client{cfg: cfg, rec: rec, sec: sec, ctx: ctx}
	hook := func(st Stage, err error) error {
		if err != nil {
			c.scrub(err)
			c.noteFail(st, err)
		}
		if cfg.OnStage != nil {
			cfg.OnStage(st, err)
		}
		return err
	}
	if err := validateConfig(cfg); err != nil {
		return nil, hook(StageConnect, err)
	}
	if err := c.connect(ctx); err != nil {
		return nil, hook(StageConnect, err)
	}
	hook(StageConnect, nil)
	fail := func(st Stage, err error) (*Client, error) {
		hook(st, err)
		c.Quit() // politely where the session still works, else just close
		return nil, err
	}
	stop := c.watch(ctx)
	defer stop()

	// A stage limit (until) ends the session after that stage and before
	// anything of the next is sent. The greeting is always read first, even
	// for "connect" (after the handshake on implicit TLS), since QUIT may
	// only follow it. Where the mode has no TLS stage, "tls" stops before
	// AUTH as well.
	if cfg.TLS == TLSImplicit {
		if err := c.handshake(ctx); err != nil {
			return fail(StageTLS, err)
		}
		hook(StageTLS, nil)
	}
	if err := c.banner(); err != nil {
		return fail(StageBanner, err)
	}
	hook(StageBanner, nil)
	if stageAt(StageBanner, until) {
		return c, nil
	}
	if err := c.hello(StageEHLO); err != nil {
		return fail(StageEHLO, err)
	}
	hook(StageEHLO, nil)
	if stageAt(StageEHLO, until) {
		return c, nil
	}
	if cfg.TLS == TLSStartTLS {
		if err := c.startTLS(ctx); err != nil {
			return fail(StageTLS, err)
		}
		hook(StageTLS, nil)
	}
	if stageAt(StageTLS, until) {
		if cfg.TLS == TLSNone {
			c.note("no TLS in this mode: stopping before authentication")
		}
		return c, nil
	}
	method, err := c.chooseAuth()
	if err != nil {
		return fail(StageAuth, err)
	}
	if method != "" {
		if err := c.auth(method); err != nil {
			return fail(StageAuth, err)
		}
		hook(StageAuth, nil)
	}
	return c, nil
}

func validateConfig(cfg Config) error {
	bad := func(what, v string) error {
		return errorf(StageConnect, ClassPermanent, KindInput, "%s %q is not valid", what, v)
	}
	if cfg.Host == "" || strings.ContainsAny(cfg.Host, " \t\r\n/\\@") {
		return bad("server host", cfg.Host)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return bad("port", strconv.Itoa(cfg.Port))
	}
	if strings.ContainsAny(cfg.HeloName, " \t\r\n<>") {
		return bad("EHLO name", cfg.HeloName)
	}
	switch cfg.TLS {
	case TLSImplicit, TLSStartTLS, TLSNone:
	default:
		return bad("TLS mode", string(cfg.TLS))
	}
	if _, err := ParseAuthMethod(string(cfg.Auth)); err != nil {
		return bad("auth method", string(cfg.Auth))
	}
	if cfg.Pipelining < PipeliningAuto || cfg.Pipelining > PipeliningOff {
		return bad("pipelining mode", cfg.Pipelining.String())
	}
	return nil
}

// note records an informational transcript line (nothing without a
// recorder).
func (c *Client) note(format string, args ...any) {
	if c.rec == nil {
		return
	}
	c.rec.Info(c.tls, fmt.Sprintf(format, args...))
}

// noteFail records that the session failed at st, redacted.
func (c *Client) noteFail(st Stage, err error) {
	if c.rec == nil {
		return
	}
	c.rec.Info(c.tls, "failed at "+string(st)+": "+c.rec.Redact(err.Error()))
}

// recClient records a line Herald sent (nothing without a recorder).
func (c *Client) recClient(text string) {
	if c.rec != nil {
		c.rec.Client(c.tls, text)
	}
}

func (c *Client) connect(ctx context.Context) error {
	addr := c.cfg.addr()
	dctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	dialFn := c.cfg.DialContext
	if dialFn == nil {
		d := &net.Dialer{}
		dialFn = d.DialContext
	}
	start := time.Now()
	conn, err := dialFn(dctx, "tcp", addr)
	if err != nil {
		e := netError(ctx, StageConnect, "connect to "+addr, err)
		e.Port = c.cfg.port()
		if e.Kind == KindNetwork && dctx.Err() != nil {
			e.Kind = KindTimeout
		}
		return e
	}
	c.raw, c.conn = conn, conn
	c.br = bufio.NewReaderSize(conn, MaxReplyLine)
	c.bw = bufio.NewWriterSize(conn, 32<<10)
	c.note("connected to %s (%s) in %d ms", addr, conn.RemoteAddr(), time.Since(start).Milliseconds())
	return nil
}

// watch makes ctx's cancellation interrupt any blocked read or write.
func (c *Client) watch(ctx context.Context) (stop func()) {
	c.mu.Lock()
	c.ctx, c.canceled = ctx, false
	c.mu.Unlock()
	s := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.canceled = true
		if !c.closed {
			c.raw.SetDeadline(time.Unix(1, 0))
		}
		c.mu.Unlock()
	})
	return func() { s() }
}

// arm sets the deadline for the next step, unless the context is done.
func (c *Client) arm(st Stage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &Error{Stage: st, Class: ClassTemporary, Kind: KindDropped, Msg: string(st) + ": the session is closed", Err: net.ErrClosed}
	}
	if c.canceled || (c.ctx != nil && c.ctx.Err() != nil) {
		return &Error{Stage: st, Class: ClassTemporary, Kind: KindCanceled, Msg: string(st) + " canceled", Err: context.Cause(c.ctx)}
	}
	return c.raw.SetDeadline(time.Now().Add(c.cfg.timeout()))
}

// readReply reads one reply under the deadline; after a failure the
// session is broken. The reply is checked against the command it answers
// (the oldest one still waiting): a reply that does not fit it (354 to
// MAIL, 250 to DATA) or data that no command asked for, already read with
// the reply, is a KindUnexpectedReply error, since every later reply would
// be taken as the answer to the wrong command. The text of every line
// (after its code) is redacted of the session's secrets, so whatever is
// built from it (errors, QueuedAs, recipients' messages) is too.
func (c *Client) readReply(st Stage) (*Reply, error) {
	r, err := c.readReplyRaw(st)
	if err == nil {
		c.redactReply(r)
	}
	return r, err
}

// readReplyRaw is readReply keeping the lines as they came (the EHLO reply,
// whose lines are protocol data); its error is redacted all the same.
func (c *Client) readReplyRaw(st Stage) (_ *Reply, err error) {
	defer func() {
		if err != nil {
			c.scrub(err) // the server's text in a protocol error too
		}
	}()
	if err := c.arm(st); err != nil {
		return nil, err
	}
	r, err := ReadReply(c.br, c.rec, c.tls, st)
	if err != nil {
		c.broken = true
		if e, ok := err.(*Error); ok {
			e.Msg = string(st) + ": " + c.sec.Redact(e.Msg)
			return nil, e
		}
		return nil, netError(c.ctx, st, "read the "+string(st)+" reply", err)
	}
	verb := ""
	if c.head < len(c.pending) {
		verb = c.pending[c.head]
		c.head++
		if c.head == len(c.pending) {
			c.pending, c.head = c.pending[:0], 0
		}
	}
	if want, ok := replyFits(verb, r.Code); !ok {
		c.broken = true
		return nil, &Error{Stage: st, Class: ClassPermanent, Kind: KindUnexpectedReply, Code: r.Code, EnhancedCode: r.Enhanced, Reply: r.Text(),
			Msg: fmt.Sprintf("protocol error: the server answered %s with %d, which does not fit (expected %s, or a 4xx/5xx refusal); the session was ended and nothing more was sent", verbName(verb), r.Code, want)}
	}
	if c.head == len(c.pending) {
		if n := c.br.Buffered(); n > 0 {
			// Whatever follows would be taken as the reply to the next
			// command: a shifted reply is a lie about every later one.
			c.broken = true
			peek, _ := c.br.Peek(min(n, 60))
			kind := KindUnexpectedReply
			msg := fmt.Sprintf("protocol error: after its reply to %s the server sent %d more bytes that no command asked for (\"%s\"); the session was ended and nothing more was sent", verbName(verb), n, truncate(Printable(peek), 60))
			if verb == "STARTTLS" {
				// Plaintext sent after the 220 would be taken as if it
				// came over TLS (the STARTTLS command injection of
				// CVE-2011-0411 and kin).
				kind = KindProtocol // as the console says it
				msg = fmt.Sprintf("the server sent %d bytes after its STARTTLS reply, before TLS: refusing them (a possible injection attack)", n)
			}
			return nil, &Error{Stage: st, Class: ClassPermanent, Kind: kind, Msg: msg}
		}
	}
	c.lastCode, c.lastEnh = r.Code, r.Enhanced
	return r, nil
}

// redactReply redacts the text of r's lines in place, codes kept.
func (c *Client) redactReply(r *Reply) {
	for i, l := range r.Lines {
		if len(l) > 4 {
			r.Lines[i] = c.sec.RedactReply(l, 4)
		}
	}
}

// scrub redacts a session error in place (its message and reply text) and
// wraps its cause so that the cause's text is redacted too: a last guard
// for text that did not come through readReply.
func (c *Client) scrub(err error) {
	var e *Error
	if !errors.As(err, &e) {
		return
	}
	e.Msg, e.Reply = c.sec.Redact(e.Msg), c.sec.Redact(e.Reply)
	for i, o := range e.Offered {
		e.Offered[i] = c.sec.Redact(o)
	}
	e.Err = redactErr(c.sec, e.Err)
}

// scrubResult redacts every text of a result: QueuedAs, the recipients'
// messages and the error.
func (c *Client) scrubResult(res *Result) {
	res.QueuedAs = c.sec.Redact(res.QueuedAs)
	for i := range res.Recipients {
		res.Recipients[i].Message = c.sec.Redact(res.Recipients[i].Message)
	}
	if res.Err != nil {
		c.scrub(res.Err)
	}
}

// expect records that a command (its verb: "MAIL", "." for the final dot)
// waits for a reply.
func (c *Client) expect(line string) {
	verb, _, _ := strings.Cut(line, " ")
	c.pending = append(c.pending, strings.ToUpper(verb))
}

// replyFits reports whether code may answer the command verb (RFC 5321
// 4.3.2 and the extensions' RFCs) and, when it may not, what was expected.
// A 4xx or 5xx answer fits every command.
func replyFits(verb string, code int) (string, bool) {
	if code >= 400 {
		return "", true
	}
	var want []int
	switch verb {
	case "GREETING", "STARTTLS":
		want = []int{220}
	case "EHLO", "HELO", "MAIL", "RSET", "NOOP":
		want = []int{250}
	case "RCPT":
		want = []int{250, 251}
	case "AUTH":
		want = []int{235, 334}
	case "DATA":
		want = []int{354}
	case ".", "QUIT":
		if code/100 == 2 {
			return "", true
		}
		return "2xx", false
	default:
		return "", true
	}
	for _, w := range want {
		if code == w {
			return "", true
		}
	}
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, " or "), false
}

// verbName names a command in a message.
func verbName(verb string) string {
	switch verb {
	case "GREETING":
		return "the connection (its greeting)"
	case "MAIL":
		return "MAIL FROM"
	case "RCPT":
		return "RCPT TO"
	case ".":
		return "the end of the message (the final dot)"
	case "":
		return "nothing"
	}
	return verb
}

// send writes one command line; shown is what the transcript records
// (redacted for AUTH).
func (c *Client) send(st Stage, line, shown string) error {
	if err := c.arm(st); err != nil {
		return err
	}
	c.recClient(shown)
	if st == StageAuth {
		c.expect("AUTH") // SASL responses are answered as AUTH is
	} else {
		c.expect(line)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		c.broken = true
		return netError(c.ctx, st, "send "+strings.Fields(shown + " x")[0], err)
	}
	return nil
}

// queue appends one command line to the write buffer and records it; a
// later flush sends it (with the rest of a pipelined group).
func (c *Client) queue(line string) {
	c.recClient(line)
	c.expect(line)
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
}

// flush sends what the write buffer holds; on failure the session is
// broken.
func (c *Client) flush(st Stage, what string) error {
	if err := c.bw.Flush(); err != nil {
		c.broken = true
		return netError(c.ctx, st, what, err)
	}
	return nil
}

// cmd sends a command and reads its reply.
func (c *Client) cmd(st Stage, line string) (*Reply, error) {
	if err := c.send(st, line, line); err != nil {
		return nil, err
	}
	return c.readReply(st)
}

func (c *Client) banner() error {
	c.expect("GREETING")
	r, err := c.readReply(StageBanner)
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return replyError(StageBanner, "the server refused the session", r)
	}
	c.greeting = r.Text()
	return nil
}

// hello sends EHLO (falling back to HELO for a server that does not know
// it) and records the extensions.
func (c *Client) hello(st Stage) error {
	name := EHLOName(c.cfg)
	if err := c.send(st, "EHLO "+name, "EHLO "+name); err != nil {
		return err
	}
	r, err := c.readReplyRaw(st)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		c.ext = r.Extensions()
		c.maxSize = sizeLimit(c.ext)
		return nil
	}
	c.redactReply(r)
	if r.Code != 500 && r.Code != 502 && r.Code != 504 && r.Code != 550 {
		return replyError(st, "EHLO refused", r)
	}
	c.note("the server does not know EHLO: trying HELO (no extensions)")
	r, err = c.cmd(st, "HELO "+name)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return replyError(st, "HELO refused", r)
	}
	c.ext = map[string]string{}
	c.maxSize = 0
	return nil
}

// sizeLimit is the SIZE extension's limit in bytes, 0 when the server
// names none (or the extension is missing).
func sizeLimit(ext map[string]string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(ext["SIZE"]), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (c *Client) startTLS(ctx context.Context) error {
	if _, ok := c.ext["STARTTLS"]; !ok {
		return &Error{Stage: StageTLS, Class: ClassPermanent, Kind: KindStartTLSMissing, Port: c.cfg.port(),
			Msg: "the server does not offer STARTTLS and the TLS mode starttls requires it; nothing else was sent"}
	}
	r, err := c.cmd(StageTLS, "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return replyError(StageTLS, "the server offers STARTTLS but refused it", r)
	}
	// readReply has refused any byte sent after the 220 (before TLS).
	if err := c.handshake(ctx); err != nil {
		return err
	}
	return c.hello(StageTLS)
}

func (c *Client) handshake(ctx context.Context) error {
	conf, verdict, err := TLSClientConfig(c.cfg)
	if err != nil {
		return err
	}
	if err := c.arm(StageTLS); err != nil {
		return err
	}
	start := time.Now()
	tc, info, err := Handshake(ctx, c.raw, c.cfg, conf, verdict)
	if err != nil {
		c.broken = true
		return err
	}
	c.info = info
	c.conn, c.tls = tc, true
	c.br.Reset(tc)
	c.bw.Reset(tc)
	c.note("TLS started in %d ms: %s", time.Since(start).Milliseconds(), info.Summary(c.cfg.Host))
	return nil
}

// TLSVerdict says how the handshake of a TLSClientConfig accepted the
// server's certificate. Both are false until the handshake succeeds.
type TLSVerdict struct {
	// Verified: a trusted CA vouches for the certificate and it matches
	// the host name.
	Verified bool
	// Pinned: no CA vouches for it; it was accepted because the SHA-256 of
	// the leaf matches Config.PinnedSHA256.
	Pinned bool
}

// TLSClientConfig builds the client TLS configuration of Herald's policy
// for cfg: TLS 1.2 or newer; the certificate verified for cfg.Host against
// cfg.RootCAs or, when that is nil, the system's CAs plus those of
// cfg.CAFile; failing that, accepted only when the leaf's SHA-256 is
// cfg.PinnedSHA256 (hex, colons and case ignored). Verification is never
// skipped, and an RSA key shorter than MinRSABits anywhere in the
// verified chain (or in a pinned leaf) fails it (*WeakKeyError). The
// handshake records its outcome in the returned verdict, so a
// configuration serves one handshake. A CA file that cannot be read or
// holds no PEM certificate is a *Error (StageTLS, KindInput).
func TLSClientConfig(cfg Config) (*tls.Config, *TLSVerdict, error) {
	// The CA file is read now (a bad file is an input error before any
	// connection); the system's CAs only when a handshake needs them, and
	// only when the CA file's alone did not vouch for the server: loading
	// the system pool costs tens of milliseconds (see WarmRoots).
	var extra *x509.CertPool
	var extraPEM []byte
	if cfg.RootCAs == nil && cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, nil, &Error{Stage: StageTLS, Class: ClassPermanent, Kind: KindInput, Msg: "read the CA file", Err: err}
		}
		extra, extraPEM = x509.NewCertPool(), pem
		if !extra.AppendCertsFromPEM(pem) {
			return nil, nil, errorf(StageTLS, ClassPermanent, KindInput, "the CA file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	host := cfg.Host
	pin := strings.ToLower(strings.ReplaceAll(cfg.PinnedSHA256, ":", ""))
	v := &TLSVerdict{}
	conf := &tls.Config{
		ServerName: host,
		MinVersion: tls.VersionTLS12,
		// Verification is done below, with the same rules as the default
		// plus the optional pin; it is never skipped.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			verify := func(roots *x509.CertPool) ([][]*x509.Certificate, error) {
				return leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			}
			var chains [][]*x509.Certificate
			var err error
			switch {
			case cfg.RootCAs != nil:
				chains, err = verify(cfg.RootCAs)
			case extra != nil:
				if chains, err = verify(extra); err != nil {
					chains, err = verify(systemRootsWith(extraPEM))
				}
			default:
				chains, err = verify(nil) // the system's CAs
			}
			if err == nil {
				if err := checkKeys(chains[0]); err != nil {
					return err
				}
				v.Verified = true
				return nil
			}
			sum := sha256.Sum256(leaf.Raw)
			got := hex.EncodeToString(sum[:])
			if pin != "" && got == pin {
				if err := checkKeys(cs.PeerCertificates[:1]); err != nil {
					return err
				}
				v.Pinned = true
				return nil
			}
			if pin != "" {
				return &PinMismatchError{Got: got, Pinned: pin, Cause: err}
			}
			return err
		},
	}
	return conf, v, nil
}

// systemRootsWith is the system's CA pool plus the certificates in pem.
func systemRootsWith(pem []byte) *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(pem)
	return pool
}

// PinMismatchError: no authority vouches for the server's certificate, and
// it is not the one pinned for this server either.
type PinMismatchError struct {
	// Got is the SHA-256 of the certificate the server presented, Pinned
	// the one the profile trusts (both lower-case hex).
	Got, Pinned string
	// Cause is why the certificate is not trusted otherwise.
	Cause error
}

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("the server's certificate has SHA-256 %s, which differs from the pinned %s: the certificate changed, or someone is in the middle", e.Got, e.Pinned)
}

// Unwrap returns why no authority vouches for the certificate.
func (e *PinMismatchError) Unwrap() error { return e.Cause }

// Handshake runs the client side of the TLS handshake over conn, with conf
// and v from TLSClientConfig(cfg), until ctx ends; conn's deadline is the
// caller's. It returns the TLS connection and its description. A failure
// is a *Error as ClassifyTLSError makes it, with cfg's port, and of kind
// KindCanceled when ctx ended.
func Handshake(ctx context.Context, conn net.Conn, cfg Config, conf *tls.Config, v *TLSVerdict) (*tls.Conn, *TLSInfo, error) {
	tc := tls.Client(conn, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		e := ClassifyTLSError("TLS handshake with "+cfg.addr(), err)
		e.Port = cfg.port()
		if ctx.Err() != nil {
			e.Kind, e.Class = KindCanceled, ClassTemporary
		}
		return nil, nil, e
	}
	return tc, DescribeTLS(tc.ConnectionState(), v.Verified, v.Pinned), nil
}

// Summary describes the connection in one line for a transcript: version,
// cipher, certificate, issuer, expiry, and whether a CA vouches for the
// certificate and its name matches host or it was accepted by its pin.
func (i *TLSInfo) Summary(host string) string {
	trust := "verified: a trusted CA vouches for it and it matches " + host
	if i.Pinned {
		trust = "NOT verified by a CA: accepted because its SHA-256 fingerprint matches the pinned one"
	}
	return fmt.Sprintf("%s, %s; certificate %s, issued by %s, valid until %s; %s",
		i.Version, i.Cipher, i.Subject, i.Issuer, i.NotAfter.UTC().Format(time.DateOnly), trust)
}

// DescribeTLS describes an established TLS connection: version, cipher,
// the server's certificate and chain, and the verdict (verified by a CA,
// or accepted by its pin).
func DescribeTLS(cs tls.ConnectionState, verified, pinned bool) *TLSInfo {
	i := &TLSInfo{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite), Verified: verified, Pinned: pinned}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		// The server chose these names: keep them safe for a terminal.
		i.Subject, i.Issuer, i.DNSNames = Printable([]byte(leaf.Subject.String())), Printable([]byte(leaf.Issuer.String())), certNames(leaf)
		i.NotBefore, i.NotAfter, i.LeafSHA256 = leaf.NotBefore, leaf.NotAfter, hex.EncodeToString(sum[:])
		for _, pc := range cs.PeerCertificates {
			i.Chain = append(i.Chain, CertInfo{Subject: Printable([]byte(pc.Subject.String())), Issuer: Printable([]byte(pc.Issuer.String())), NotAfter: pc.NotAfter})
		}
	}
	return i
}

// offeredAuth lists the SASL mechanisms in the EHLO reply.
func (c *Client) offeredAuth() []string {
	var out []string
	for _, m := range strings.Fields(c.ext["AUTH"]) {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

// autoOrder is the preference of AuthAuto: challenge-response first where
// the connection is in clear.
var (
	autoOrderTLS   = []AuthMethod{AuthSCRAMSHA256, AuthSCRAMSHA1, AuthPlain, AuthLogin, AuthCRAMMD5}
	autoOrderClear = []AuthMethod{AuthSCRAMSHA256, AuthSCRAMSHA1, AuthCRAMMD5, AuthPlain, AuthLogin}
)

// chooseAuth applies the auth policy and picks the mechanism ("" for none).
func (c *Client) chooseAuth() (AuthMethod, error) {
	m := c.cfg.Auth
	if m == AuthNone || ((m == AuthAuto || m == "") && c.cfg.Username == "") {
		return "", nil
	}
	if !c.tls && !c.cfg.AllowInsecureAuth {
		return "", &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindInsecureAuth,
			Msg: "refusing to send credentials over a connection without TLS (nothing was sent): use TLS, or allow the password without TLS"}
	}
	offered := c.offeredAuth()
	if len(offered) == 0 {
		return "", &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindAuthNotOffered, Port: c.cfg.port(),
			Msg: "the server offers no AUTH on this connection"}
	}
	if m == AuthAuto || m == "" {
		order := autoOrderTLS
		if !c.tls {
			order = autoOrderClear
		}
		for _, cand := range order {
			if slices.Contains(offered, cand.saslName()) {
				return cand, nil
			}
		}
		return "", &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindMechNotOffered, Offered: offered,
			Msg: "the server offers no mechanism Herald can choose on its own"}
	}
	if m == AuthOAuth2 {
		if !slices.Contains(offered, "OAUTHBEARER") && !slices.Contains(offered, "XOAUTH2") {
			return "", &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindMechNotOffered, Offered: offered,
				Msg: fmt.Sprintf("the server offers neither OAUTHBEARER nor XOAUTH2 for an OAuth2 token (it offers %s)", strings.Join(offered, " "))}
		}
		return m, nil
	}
	if !slices.Contains(offered, m.saslName()) {
		return "", &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindMechNotOffered, Offered: offered,
			Msg: fmt.Sprintf("the server does not offer %s (it offers %s)", m.saslName(), strings.Join(offered, " "))}
	}
	return m, nil
}

// auth runs the SASL exchange. Every client line after the mechanism name
// is recorded as [redacted], and each encoded response is registered as a
// secret so it cannot surface elsewhere either.
func (c *Client) auth(m AuthMethod) error {
	sasl, err := newSASL(m, c.cfg.Username, c.cfg.Password, c.cfg.Host, c.cfg.port(), c.sec)
	var line, shown string
	if err == nil {
		line, shown, err = sasl.Start(c.tls, c.offeredAuth())
	}
	if err != nil {
		return &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindAuthExchange, Msg: "start " + m.saslName(), Err: redactErr(c.sec, err)}
	}
	if err := c.send(StageAuth, line, shown); err != nil {
		return err
	}
	mech := sasl.Mech()
	for steps := 0; ; steps++ {
		r, err := c.readReply(StageAuth)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				// An out-of-step or garbled reply may echo the exchange.
				e.Reply, e.Msg = sasl.Redact(e.Reply), sasl.Redact(e.Msg)
			}
			return err
		}
		switch {
		case r.Code == 235:
			c.authed = mech
			c.note("authenticated as %s with %s", c.cfg.Username, mech)
			return nil
		case r.Code == 334 && steps < 10:
			next, derr := sasl.Next(r.Text())
			if derr != nil {
				// Cancel the exchange (RFC 4954 4) and report.
				if err := c.send(StageAuth, "*", "*"); err == nil {
					c.readReply(StageAuth)
				}
				return &Error{Stage: StageAuth, Class: ClassPermanent, Kind: KindAuthExchange, Msg: mech + " exchange failed", Err: derr}
			}
			if err := c.send(StageAuth, next, transcript.Redacted); err != nil {
				return err
			}
		default:
			e := replyError(StageAuth, "authentication failed", r)
			e.Reply = sasl.Redact(e.Reply)
			oauthRefused(e, mech, sasl.OAuthFailure())
			return e
		}
	}
}

// oauthRefused marks e, the server's refusal of an OAuth2 access token, as
// such: KindOAuthScope when the token lacks a permission, KindOAuthToken
// when it is invalid or expired (a 535 without a JSON error too, except
// Microsoft's "SMTP AUTH disabled", which has its own hint).
func oauthRefused(e *Error, mech string, f *OAuthFailure) {
	if mech != "XOAUTH2" && mech != "OAUTHBEARER" {
		return
	}
	switch {
	case f != nil && f.Insufficient():
		e.Kind, e.Msg = KindOAuthScope, "the server refused the OAuth2 access token: it lacks the permission to send ("+Printable([]byte(f.Status))+")"
	case f != nil:
		e.Kind, e.Msg = KindOAuthToken, "the server refused the OAuth2 access token ("+Printable([]byte(f.Status))+")"
	case e.Code == 535 && e.EnhancedCode != "5.7.139":
		e.Kind, e.Msg = KindOAuthToken, "the server refused the OAuth2 access token"
	}
}

// Extensions returns the EHLO keywords (upper case) and their parameters.
func (c *Client) Extensions() map[string]string {
	out := make(map[string]string, len(c.ext))
	for k, v := range c.ext {
		out[k] = v
	}
	return out
}

// TLSInfo describes the TLS connection, nil without TLS.
func (c *Client) TLSInfo() *TLSInfo { return c.info }

// Greeting is the server's 220 banner text.
func (c *Client) Greeting() string { return c.greeting }

// Transcript returns the session's recorder: Config.Transcript, nil when
// that was nil (nothing is recorded then).
func (c *Client) Transcript() *transcript.Recorder { return c.rec }

// Usable reports whether the session can take another command.
func (c *Client) Usable() bool { return c.raw != nil && !c.broken && !c.closed }

// Quit ends the session politely (QUIT, then close). It is safe to call on a
// broken session, where it only closes.
func (c *Client) Quit() error {
	if c.raw == nil || c.closed {
		return nil
	}
	var err error
	if !c.broken {
		c.mu.Lock()
		c.ctx, c.canceled = context.Background(), false
		c.mu.Unlock()
		// A server that does not answer QUIT must not hold the caller long.
		c.cfg.Timeout = min(c.cfg.timeout(), 5*time.Second)
		_, err = c.cmd(StageDone, "QUIT")
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close drops the connection without QUIT.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw == nil || c.closed {
		return nil
	}
	c.broken, c.closed = true, true
	err := c.raw.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
