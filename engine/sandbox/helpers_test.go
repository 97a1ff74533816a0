package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	gsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
)

// guard is a generous failure guard for network waits, never a timing
// assertion.
const guard = 20 * time.Second

// checkLeaks fails the test when goroutines started during it are still
// running after its cleanups. Register it first so it runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines leaked: %d running, %d before the test\n%s", runtime.NumGoroutine(), base, buf[:n])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startServer starts a sandbox on a free loopback port with its own store
// and certificate directory.
func startServer(t *testing.T, cfg Config) (*Server, *store.Store) {
	t.Helper()
	checkLeaks(t)
	st := newStore(t)
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.CertDir == "" {
		cfg.CertDir = t.TempDir()
	}
	srv, err := Start(context.Background(), cfg, st)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv, st
}

func certPool(t *testing.T, srv *Server) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(srv.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("certificate not parsable")
	}
	return pool
}

func clientTLS(t *testing.T, srv *Server) *tls.Config {
	return &tls.Config{RootCAs: certPool(t, srv), ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// dial connects a go-mail SMTP client (plain or implicit TLS, by the
// server's mode) and sends EHLO client.test.
func dial(t *testing.T, srv *Server) *gsmtp.Client {
	t.Helper()
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: guard}
	if srv.TLS() == TLSImplicit {
		conn, err = tls.DialWithDialer(d, "tcp", srv.Addr(), clientTLS(t, srv))
	} else {
		conn, err = d.Dial("tcp", srv.Addr())
	}
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	conn.SetDeadline(time.Now().Add(guard))
	c, err := gsmtp.NewClient(conn, "localhost")
	if err != nil {
		conn.Close()
		t.Fatalf("greeting: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

// send runs one transaction and returns the error of the first step that
// failed.
func send(c *gsmtp.Client, from string, to []string, msg string) error {
	if err := c.Mail("<" + from + ">"); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt("<" + r + ">"); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

// replyCode extracts the SMTP code and text of a server refusal.
func replyCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Fatalf("want an SMTP reply error, got %T %v", err, err)
	}
	return te.Code, te.Msg
}

func wantReply(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	got, msg := replyCode(t, err)
	if got != code || !strings.HasPrefix(msg, enhanced+" ") {
		t.Fatalf("reply %d %q, want %d %s ...", got, msg, code, enhanced)
	}
}

const simpleMessage = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nbody\r\n"

func listAll(t *testing.T, st *store.Store) []store.SandboxMessage {
	t.Helper()
	l, err := st.ListSandboxMessages(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func onlyMessage(t *testing.T, st *store.Store) *store.SandboxMessage {
	t.Helper()
	l := listAll(t, st)
	if len(l) != 1 {
		t.Fatalf("%d messages stored, want 1", len(l))
	}
	m, err := st.SandboxMessage(context.Background(), l[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func transcriptText(events []transcript.Event) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// findEvent returns the index of the first event with dir whose text starts
// with prefix, or -1.
func findEvent(events []transcript.Event, dir transcript.Dir, prefix string) int {
	for i, e := range events {
		if e.Dir == dir && strings.HasPrefix(e.Text, prefix) {
			return i
		}
	}
	return -1
}
