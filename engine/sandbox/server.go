package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-smtp/herald/engine/store"
)

// TLSMode selects how the sandbox offers TLS.
type TLSMode string

// TLS modes.
const (
	// TLSNone serves plain SMTP; AUTH is allowed without TLS.
	TLSNone TLSMode = "none"
	// TLSStartTLS advertises STARTTLS; AUTH is offered only after it.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte, like port 465.
	TLSImplicit TLSMode = "implicit"
)

// Defaults and limits.
const (
	// DefaultListen is where the sandbox listens when Config.Listen is empty.
	DefaultListen = "127.0.0.1:2525"
	// DefaultHostname is the banner and EHLO name when Config.Hostname is empty.
	DefaultHostname = "herald.sandbox"
	// DefaultMaxSize is the message size limit when Config.MaxSize is 0.
	DefaultMaxSize = 25 << 20
	// MaxRecipients is the number of RCPT TO accepted per message.
	MaxRecipients = 1000
	// MaxConnections is the number of simultaneous sessions; more are
	// refused with 421 4.4.5.
	MaxConnections = 100
	// DefaultReadTimeout bounds the wait for each command (RFC 5321 4.5.3.2).
	DefaultReadTimeout = 5 * time.Minute
	// DefaultWriteTimeout bounds each reply write.
	DefaultWriteTimeout = time.Minute

	// autoPorts is how many ports upward from 2525 are tried before :0.
	autoPorts = 10
	// storeTimeout bounds the storing of one captured message.
	storeTimeout = 30 * time.Second
	// subscriberBuffer is the channel size of each Subscribe channel.
	subscriberBuffer = 64
)

// Config configures a sandbox server. The zero value (plus a store) is a
// plain server on 127.0.0.1:2525 or the next free port.
type Config struct {
	// Listen is host:port. Empty means DefaultListen with automatic
	// fallback to a free port (see the package documentation); an explicit
	// address that is taken makes Start fail.
	Listen string
	// TLS is the TLS mode; empty means TLSNone.
	TLS TLSMode
	// CertDir is where the self-signed certificate lives (the data dir);
	// required for the TLS modes.
	CertDir string
	// AuthUser and AuthPass, when AuthUser is set, make AUTH with these
	// credentials mandatory (PLAIN, LOGIN, CRAM-MD5).
	AuthUser, AuthPass string
	// MaxSize is the message size limit in bytes; 0 means DefaultMaxSize.
	MaxSize int64
	// Faults are injected as described in the package documentation.
	Faults []Fault
	// Rand decides fault probabilities; nil means a randomly seeded
	// source. The server serialises its use; do not share it.
	Rand *rand.Rand
	// Hostname is the name in the banner and EHLO reply; empty means
	// DefaultHostname.
	Hostname string
	// ReadTimeout and WriteTimeout bound each command read and reply
	// write; 0 means DefaultReadTimeout and DefaultWriteTimeout.
	ReadTimeout, WriteTimeout time.Duration
	// Now is the clock for arrival times; nil means time.Now.
	Now func() time.Time
}

// Server is a running sandbox. It is safe for concurrent use.
type Server struct {
	cfg      Config
	st       *store.Store
	ln       net.Listener
	tlsConf  *tls.Config
	certPath string

	randMu sync.Mutex
	rnd    *rand.Rand

	ctx    context.Context // cancelled by Close; bounds store writes
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop, connections, in-flight DATA

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	subs   map[chan int64]struct{}
}

// Start validates cfg, prepares the certificate for the TLS modes, starts
// listening and serves in the background until Close. ctx bounds the
// start-up only. Accepted messages are stored in st.
func Start(ctx context.Context, cfg Config, st *store.Store) (*Server, error) {
	if st == nil {
		return nil, errors.New("start sandbox: no store")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	if err := normalise(&cfg); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s := &Server{cfg: cfg, st: st, rnd: cfg.Rand, conns: map[*conn]struct{}{}, subs: map[chan int64]struct{}{}}
	if cfg.TLS != TLSNone {
		certPath, keyPath, err := EnsureCert(cfg.CertDir)
		if err != nil {
			return nil, fmt.Errorf("start sandbox: %w", err)
		}
		pair, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("start sandbox: load certificate %s: %w", certPath, err)
		}
		s.certPath = certPath
		s.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	ln, err := listen(ctx, cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// normalise fills defaults and rejects bad settings with a clear error.
func normalise(cfg *Config) error {
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSNone
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("unknown TLS mode %q (want none, starttls or implicit)", cfg.TLS)
	}
	if cfg.TLS != TLSNone && cfg.CertDir == "" {
		return fmt.Errorf("TLS mode %s needs a certificate directory (CertDir)", cfg.TLS)
	}
	if cfg.MaxSize < 0 {
		return fmt.Errorf("negative MaxSize %d", cfg.MaxSize)
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	if strings.ContainsFunc(cfg.Hostname, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("hostname %q contains spaces or control characters", cfg.Hostname)
	}
	if cfg.AuthUser == "" && cfg.AuthPass != "" {
		return errors.New("AuthPass is set but AuthUser is empty")
	}
	if cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 {
		return errors.New("negative read or write timeout")
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	for i, f := range cfg.Faults {
		if err := f.validate(); err != nil {
			return fmt.Errorf("fault %d (%s): %w", i+1, f, err)
		}
	}
	cfg.Faults = append([]Fault(nil), cfg.Faults...)
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// listen binds addr, or with addr empty DefaultListen with fallback.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	if addr != "" {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s (explicitly configured; choose another port or leave it empty for automatic): %w", addr, err)
		}
		return ln, nil
	}
	host, portText, _ := net.SplitHostPort(DefaultListen)
	port, _ := strconv.Atoi(portText)
	return listenAuto(ctx, host, port)
}

// listenAuto tries host:port and the autoPorts-1 ports above it, then any
// free port.
func listenAuto(ctx context.Context, host string, port int) (net.Listener, error) {
	var lc net.ListenConfig
	var firstErr error
	for p := port; p < port+autoPorts && p <= 65535; p++ {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), ctx.Err())
		}
	}
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen on %s (and %d ports above, and any free port): %w; first error: %v",
			net.JoinHostPort(host, strconv.Itoa(port)), autoPorts-1, err, firstErr)
	}
	return ln, nil
}

// Addr returns the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPath returns the certificate file clients can trust, or "" in TLS
// mode none.
func (s *Server) CertPath() string { return s.certPath }

// TLS returns the TLS mode in force.
func (s *Server) TLS() TLSMode { return s.cfg.TLS }

// Subscribe returns a channel that receives the id of every message
// captured from now on, and a function that ends the subscription and
// closes the channel. Delivery never blocks the server: when the channel's
// buffer is full the id is dropped for this subscriber. Close ends every
// subscription.
func (s *Server) Subscribe() (<-chan int64, func()) {
	ch := make(chan int64, subscriberBuffer)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
	}
}

func (s *Server) notify(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- id:
		default:
		}
	}
}

// Close stops listening, closes every open session (a message being
// received is not stored), waits for the server's goroutines to end and
// closes the Subscribe channels. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	err := s.ln.Close()
	for _, c := range conns {
		c.wire.Close()
	}
	s.wg.Wait()

	s.mu.Lock()
	for ch := range s.subs {
		close(ch)
	}
	clear(s.subs)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close sandbox on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// enter registers work that Close must wait for; it fails once Close has
// begun.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) leave() { s.wg.Done() }

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient failures (out of file descriptors): back off.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		s.startConn(raw)
	}
}

func (s *Server) startConn(raw net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		raw.Close()
		return
	}
	if len(s.conns) >= MaxConnections {
		s.mu.Unlock()
		if s.cfg.TLS != TLSImplicit {
			raw.SetWriteDeadline(time.Now().Add(time.Second))
			raw.Write([]byte("421 4.4.5 " + s.cfg.Hostname + " Too many connections, try again later\r\n"))
		}
		raw.Close()
		return
	}
	c := newConn(s, raw)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// roll reports whether a fault with probability percent fires.
func (s *Server) roll(percent int) bool {
	if percent >= 100 || percent == 0 {
		return true
	}
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return s.rnd.IntN(100) < percent
}
