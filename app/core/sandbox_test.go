package core

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/transport"
)

// waitCapture waits for the next capture on the feed.
func waitCapture(t *testing.T, sub *feed.Sub) int64 {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.ID > 0 {
				return e.ID
			}
		case <-timeout:
			t.Fatal("no capture on the feed")
		}
	}
}

func TestSandboxRestartsWithSettingsAndKeepsThem(t *testing.T) {
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	c, err := Open(context.Background(), dir, Options{Secrets: sec, Sandbox: &sandbox.Config{Listen: "127.0.0.1:0"}, SandboxFromSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := SandboxSettings{Listen: "127.0.0.1:0", TLS: sandbox.TLSStartTLS, AuthUser: "u", AuthPass: "sandbox-pw", MaxSize: 5000, Faults: "rcpt:550:10"}
	if err := c.ApplySandbox(ctx, s); err != nil {
		t.Fatal(err)
	}
	st := c.SandboxState()
	if !st.Running || st.TLS != sandbox.TLSStartTLS || st.AuthUser != "u" || st.MaxSize != 5000 || len(st.Faults) != 1 {
		t.Fatalf("state %+v", st)
	}
	// The core's own sends follow: STARTTLS with the certificate trusted,
	// the required login.
	cfg := c.SandboxConfig()
	if cfg.TLS != transport.TLSStartTLS || cfg.Username != "u" || cfg.CAFile == "" {
		t.Fatalf("SandboxConfig %+v", cfg)
	}
	s.Faults = ""
	if err := c.ApplySandbox(ctx, s); err != nil {
		t.Fatal(err)
	}
	sub := c.Feed.Subscribe(64, feed.Sandbox)
	defer sub.Close()
	res := c.Send(ctx, SendRequest{Config: c.SandboxConfig(), Envelope: transport.Envelope{From: "a@example.com", To: []string{"b@example.com"}},
		Message: []byte("From: a@example.com\r\nSubject: s\r\n\r\nx\r\n")})
	if !res.OK {
		t.Fatalf("send: %v", res.Err)
	}
	m, err := c.Store.SandboxMessage(ctx, waitCapture(t, sub))
	if err != nil || !m.TLS || m.AuthUser != "u" {
		t.Fatalf("capture %+v %v", m, err)
	}
	// Bad settings are refused and change nothing.
	if err := c.ApplySandbox(ctx, SandboxSettings{Faults: "rcpt:999"}); err == nil {
		t.Fatal("a bad fault was accepted")
	}
	if c.SandboxState().TLS != sandbox.TLSStartTLS {
		t.Fatal("a refused setting changed the sandbox")
	}
	if strings.Contains(mustSetting(t, c), "sandbox-pw") {
		t.Fatal("the sandbox password is in the store")
	}
	c.Close()

	// Reopened: the same settings, the password from the keychain.
	c2, err := Open(ctx, dir, Options{Secrets: sec, Sandbox: &sandbox.Config{Listen: "127.0.0.1:0"}, SandboxFromSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := c2.SandboxState(); st.TLS != sandbox.TLSStartTLS || st.AuthUser != "u" || c2.SandboxConfig().Password != "sandbox-pw" {
		t.Fatalf("reopened: %+v", st)
	}
	s.Stopped = true
	if err := c2.ApplySandbox(ctx, s); err != nil || c2.Sandbox() != nil || c2.SandboxState().Running {
		t.Fatalf("stop: %v", err)
	}
	c2.Close()
	c3, err := Open(ctx, dir, Options{Secrets: sec, Sandbox: &sandbox.Config{Listen: "127.0.0.1:0"}, SandboxFromSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if c3.Sandbox() != nil {
		t.Fatal("a stopped sandbox started again")
	}
}

func mustSetting(t *testing.T, c *Core) string {
	v, err := c.Store.Setting(context.Background(), settingSandbox)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCheckSandboxMessageWithProfileKeyAndHistory: a message a profile
// signs, sent by the core, verifies with the profile's key (no DNS) and is
// compared with its history copy.
func TestCheckSandboxMessageWithProfileKeyAndHistory(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	p := &account.Profile{Name: "work", Server: account.Server{Host: "smtp.example.com", Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthNone, FromAddress: "ann@example.com",
		DKIM: &account.DKIM{Domain: "example.com", Selector: "s1"}}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Book.SetSecret(p, account.SecretDKIMKey, keyPEM); err != nil {
		t.Fatal(err)
	}
	msg := "From: ann@example.com\r\nTo: b@example.net\r\nSubject: signed\r\nDate: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <s1@example.com>\r\n\r\nbody\r\n"
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	sub := c.Feed.Subscribe(64, feed.Sandbox)
	defer sub.Close()
	res := c.Send(ctx, SendRequest{Config: c.SandboxConfig(), Envelope: transport.Envelope{From: "ann@example.com", To: []string{"b@example.net"}},
		Message: signed.Bytes(), MessageID: "<s1@example.com>", Subject: "signed"})
	if !res.OK {
		t.Fatal(res.Err)
	}
	m, err := c.Store.SandboxMessage(ctx, waitCapture(t, sub))
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, ch := range c.CheckSandboxMessage(ctx, m, SandboxCheckOptions{Offline: true}) {
		text = append(text, ch.Name+" "+string(ch.Status)+": "+ch.Text)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"dkim pass: DKIM signature of example.com (selector s1) verified with the sending profile's key", "dmarc pass", "sent pass: body identical"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}

// TestSandboxConcurrentAppliesLeaveOneServer: applies racing from the
// window never leave a server running unowned.
func TestSandboxConcurrentAppliesLeaveOneServer(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	ctx := context.Background()
	sub := c.Feed.Subscribe(256, feed.Sandbox)
	defer sub.Close()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() { _ = c.ApplySandbox(ctx, SandboxSettings{Listen: "127.0.0.1:0"}) })
	}
	wg.Wait()
	if err := c.StopSandbox(); err != nil {
		t.Fatal(err)
	}
	// Every server started was closed: nothing answers on any address.
	var addrs []string
	for len(sub.C()) > 0 {
		if a, ok := strings.CutPrefix((<-sub.C()).Text, "started "); ok {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) < 8 {
		t.Fatalf("%d starts seen", len(addrs))
	}
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still answers after the stop", a)
		}
	}
}

// TestSavedSandboxSettingsThatFailFallBack: a saved port now taken still
// gives a running sandbox (with the defaults), and says why.
func TestSavedSandboxSettingsThatFailFallBack(t *testing.T) {
	dir := t.TempDir()
	sec := &memSecrets{m: map[string]string{}}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	c, err := Open(context.Background(), dir, Options{Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SaveSandboxSettings(context.Background(), SandboxSettings{Listen: taken.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Open(context.Background(), dir, Options{Secrets: sec, Sandbox: &sandbox.Config{Listen: "127.0.0.1:0"}, SandboxFromSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Sandbox() == nil || c.Sandbox().Addr() == taken.Addr().String() || c.SandboxStartErr() == nil || !strings.Contains(c.SandboxStartErr().Error(), "defaults") {
		t.Fatalf("sandbox %v, error %v", c.Sandbox(), c.SandboxStartErr())
	}
}
