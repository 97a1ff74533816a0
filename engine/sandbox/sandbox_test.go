package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

func TestCapturePlainMessageWithAllFields(t *testing.T) {
	fixed := time.Date(2025, 6, 1, 10, 30, 0, 0, time.UTC)
	srv, st := startServer(t, Config{Now: func() time.Time { return fixed }})
	ids, cancel := srv.Subscribe()
	defer cancel()
	if srv.TLS() != TLSNone || srv.CertPath() != "" {
		t.Fatalf("TLS() = %q, CertPath() = %q", srv.TLS(), srv.CertPath())
	}

	c := dial(t, srv)
	msg := "From: Ann <a@example.com>\r\n" +
		"To: b@example.net\r\n" +
		"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?ISO-8859-15?Q?=A4uro?=\r\n" +
		"\r\n" +
		"first line\r\n" +
		".hidden line starts with a dot\r\n" +
		"250 this body line looks like a reply\r\n"
	if err := send(c, "a@example.com", []string{"b@example.net", "c@example.org"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}

	var id int64
	select {
	case id = <-ids:
	case <-time.After(guard):
		t.Fatal("Subscribe delivered no id")
	}
	m := onlyMessage(t, st)
	if m.ID != id {
		t.Fatalf("subscribed id %d, stored id %d", id, m.ID)
	}
	if !m.Received.Equal(fixed) {
		t.Errorf("Received = %v, want the injected clock %v", m.Received, fixed)
	}
	if m.From != "a@example.com" || strings.Join(m.To, ",") != "b@example.net,c@example.org" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if m.Helo != "client.test" || m.TLS || m.AuthUser != "" || m.ReplyDropped {
		t.Errorf("session fields: helo %q tls %v auth %q dropped %v", m.Helo, m.TLS, m.AuthUser, m.ReplyDropped)
	}
	if host, _, err := net.SplitHostPort(m.Remote); err != nil || host != "127.0.0.1" {
		t.Errorf("Remote = %q", m.Remote)
	}
	if m.Subject != "Grüße aus Köln€uro" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if string(m.Raw) != msg || m.Size != len(msg) {
		t.Errorf("Raw (%d bytes, Size %d) = %q, want %q", len(m.Raw), m.Size, m.Raw, msg)
	}

	ev := m.Transcript
	text := transcriptText(ev)
	if len(ev) == 0 || ev[0].Dir != transcript.Info || findEvent(ev, transcript.Server, "220 herald.sandbox ESMTP") < 0 {
		t.Errorf("transcript lacks the connection note or banner:\n%s", text)
	}
	order := []struct {
		dir  transcript.Dir
		text string
	}{
		{transcript.Client, "EHLO client.test"},
		{transcript.Server, "250-Hello client.test"},
		{transcript.Client, "MAIL FROM:<a@example.com>"},
		{transcript.Server, "250 2.0.0 Roger"},
		{transcript.Client, "RCPT TO:<b@example.net>"},
		{transcript.Client, "RCPT TO:<c@example.org>"},
		{transcript.Client, "DATA"},
		{transcript.Server, "354 "},
		{transcript.Client, fmt.Sprintf("<message data: %d bytes in 7 lines>", len(msg)+1)}, // +1: dot-stuffing
		{transcript.Client, "."},
		{transcript.Info, "message accepted"},
	}
	pos := -1
	for _, o := range order {
		i := findEvent(ev[pos+1:], o.dir, o.text)
		if i < 0 {
			t.Fatalf("transcript lacks %s %q after event %d:\n%s", o.dir, o.text, pos, text)
		}
		pos += 1 + i
	}
	if strings.Contains(text, "first line") || strings.Contains(text, "S  250 this body") {
		t.Errorf("message content leaked into the transcript:\n%s", text)
	}
	for _, e := range ev {
		if e.TLS {
			t.Errorf("plain session has a TLS event: %v", e)
		}
	}
}

func TestSubjectDecoding(t *testing.T) {
	for raw, want := range map[string]string{
		"Subject: plain\r\n\r\n":                                "plain",
		"Subject: =?windows-1252?Q?caf=E9_=80?=\r\n\r\n":        "café €",
		"Subject: =?iso-2022-jp?B?GyRCJEskWyRzGyhC?=\r\n\r\n":   "にほん",
		"Subject: =?x-unknown?Q?abc?=\r\n\r\n":                  "=?x-unknown?Q?abc?=",
		"no header block at all":                                "",
		"Subject: two\r\n words folded\r\nX: y\r\n\r\nbody\r\n": "two words folded",
	} {
		if got := subjectOf([]byte(raw)); got != want {
			t.Errorf("subjectOf(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestStartTLSWithRequiredAuth(t *testing.T) {
	const user, pass = "alice", "s3cret-pass"
	srv, st := startServer(t, Config{TLS: TLSStartTLS, AuthUser: user, AuthPass: pass})
	if srv.CertPath() == "" {
		t.Fatal("no certificate path in starttls mode")
	}
	c := dial(t, srv)
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH advertised before TLS")
	}
	if err := c.StartTLS(clientTLS(t, srv)); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN CRAM-MD5" {
		t.Fatalf("AUTH after TLS = %v %q", ok, mechs)
	}
	if err := c.Auth(gsmtp.PlainAuth("", user, pass, "localhost", false)); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Quit()

	m := onlyMessage(t, st)
	if !m.TLS || m.AuthUser != user {
		t.Fatalf("TLS = %v, AuthUser = %q", m.TLS, m.AuthUser)
	}
	ev := m.Transcript
	text := transcriptText(ev)
	ready := findEvent(ev, transcript.Server, "220 2.0.0 Ready to start TLS")
	hs := findEvent(ev, transcript.Info, "TLS handshake: TLS 1.3")
	if ready < 0 || hs < ready {
		t.Fatalf("no STARTTLS reply followed by a handshake note:\n%s", text)
	}
	for i, e := range ev {
		if e.Dir == transcript.Info {
			continue
		}
		if want := i > ready; e.TLS != want {
			t.Errorf("event %d %q: TLS = %v, want %v", i, e.Text, e.TLS, want)
		}
	}
	// The session after STARTTLS is recorded from the decrypted stream.
	ehlo2 := findEvent(ev[ready+1:], transcript.Client, "EHLO client.test")
	if ehlo2 < 0 || findEvent(ev, transcript.Client, "AUTH PLAIN "+transcript.Redacted) < 0 ||
		findEvent(ev, transcript.Server, "235 2.0.0 Authentication succeeded") < 0 {
		t.Fatalf("encrypted part of the session missing:\n%s", text)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if strings.Contains(text, pass) || strings.Contains(text, ir) {
		t.Fatalf("credentials in the transcript:\n%s", text)
	}
}

func TestTLSBelow12Refused(t *testing.T) {
	srv, _ := startServer(t, Config{TLS: TLSImplicit})
	cfg := clientTLS(t, srv)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: guard}, "tcp", srv.Addr(), cfg)
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func TestImplicitTLS(t *testing.T) {
	srv, st := startServer(t, Config{TLS: TLSImplicit})
	// Without the sandbox certificate in the pool, verification fails.
	if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: guard}, "tcp", srv.Addr(), &tls.Config{ServerName: "localhost"}); err == nil {
		conn.Close()
		t.Fatal("handshake succeeded without trusting the sandbox certificate")
	}
	c := dial(t, srv)
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS advertised inside implicit TLS")
	}
	if err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Quit()
	m := onlyMessage(t, st)
	if !m.TLS {
		t.Fatal("message not marked TLS")
	}
	banner := findEvent(m.Transcript, transcript.Server, "220 ")
	if banner < 0 || !m.Transcript[banner].TLS || findEvent(m.Transcript, transcript.Info, "TLS handshake: TLS 1.3") > banner {
		t.Fatalf("banner not inside TLS:\n%s", transcriptText(m.Transcript))
	}
}

func TestRequiredAuthMechanisms(t *testing.T) {
	const user, pass = "bob", "correct horse"
	srv, st := startServer(t, Config{AuthUser: user, AuthPass: pass})

	c := dial(t, srv)
	wantReply(t, c.Mail("<a@example.com>"), 530, "5.7.0")
	c.Close()

	auths := map[string]func(u, p string) gsmtp.Auth{
		"PLAIN":    func(u, p string) gsmtp.Auth { return gsmtp.PlainAuth("", u, p, "localhost", false) },
		"LOGIN":    func(u, p string) gsmtp.Auth { return gsmtp.LoginAuth(u, p, "localhost", false) },
		"CRAM-MD5": func(u, p string) gsmtp.Auth { return gsmtp.CRAMMD5Auth(u, p) },
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		for _, tc := range []struct {
			name, user, pass string
		}{{"wrong password", user, "wrong"}, {"wrong user", "mallory", pass}, {"empty password", user, ""}} {
			c := dial(t, srv)
			wantReply(t, c.Auth(auths[mech](tc.user, tc.pass)), 535, "5.7.8")
			c.Close()
		}
		c := dial(t, srv)
		if err := c.Auth(auths[mech](user, pass)); err != nil {
			t.Fatalf("%s with good credentials: %v", mech, err)
		}
		if err := send(c, "a@example.com", []string{"b@example.net"}, "Subject: "+mech+"\r\n\r\nx\r\n"); err != nil {
			t.Fatalf("%s: send: %v", mech, err)
		}
		c.Quit()
	}
	msgs := listAll(t, st)
	if len(msgs) != 3 {
		t.Fatalf("%d messages stored, want 3", len(msgs))
	}
	for _, s := range msgs {
		m, err := st.SandboxMessage(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.AuthUser != user {
			t.Errorf("%s: AuthUser = %q", m.Subject, m.AuthUser)
		}
		text := transcriptText(m.Transcript)
		if strings.Contains(text, pass) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(pass))) {
			t.Errorf("%s: password in transcript:\n%s", m.Subject, text)
		}
		if findEvent(m.Transcript, transcript.Client, "AUTH "+m.Subject) < 0 ||
			findEvent(m.Transcript, transcript.Server, "235 2.0.0") < 0 {
			t.Errorf("%s: AUTH exchange missing from transcript:\n%s", m.Subject, text)
		}
		if m.Subject != "PLAIN" && findEvent(m.Transcript, transcript.Client, transcript.Redacted) < 0 {
			t.Errorf("%s: SASL response not shown redacted:\n%s", m.Subject, text)
		}
	}
}

// TestNoAuthRequiredAdvertisesNone: without required AUTH the sandbox
// neither advertises nor accepts AUTH (it used to advertise it and accept
// any login), as Herald's own client sees it.
func TestNoAuthRequiredAdvertisesNone(t *testing.T) {
	srv, st := startServer(t, Config{})
	c := dial(t, srv)
	if ok, mechs := c.Extension("AUTH"); ok {
		t.Fatalf("AUTH %q advertised although none is required", mechs)
	}
	c2 := dial(t, srv)
	if err := c2.Auth(gsmtp.CRAMMD5Auth("anyone", "anything")); err == nil {
		t.Fatal("AUTH accepted although none is required")
	}
	if err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if m := onlyMessage(t, st); m.AuthUser != "" {
		t.Fatalf("AuthUser = %q", m.AuthUser)
	}

	// Herald's transport: EHLO shows no AUTH, and a profile that logs in
	// is told the server offers none.
	host, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	rec := transcript.New()
	tc, err := transport.Dial(context.Background(), transport.Config{Host: host, Port: p, TLS: transport.TLSNone, Timeout: guard, Transcript: rec})
	if err != nil {
		t.Fatal(err)
	}
	tc.Quit()
	rec.Finish()
	for _, e := range rec.Events() {
		if e.Dir == transcript.Server && strings.Contains(e.Text, "AUTH") {
			t.Fatalf("the EHLO reply advertises AUTH: %q", e.Text)
		}
	}
	_, err = transport.Dial(context.Background(), transport.Config{Host: host, Port: p, TLS: transport.TLSNone, Timeout: guard,
		Auth: transport.AuthPlain, Username: "u", Password: "p", AllowInsecureAuth: true})
	if err == nil || !strings.Contains(err.Error(), "offers no AUTH") {
		t.Fatalf("login to a sandbox without AUTH: %v", err)
	}
}

func TestMaxSize(t *testing.T) {
	srv, st := startServer(t, Config{MaxSize: 1000})
	c := dial(t, srv)
	if ok, size := c.Extension("SIZE"); !ok || size != "1000" {
		t.Fatalf("SIZE extension = %v %q", ok, size)
	}
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 200)
	wantReply(t, send(c, "a@example.com", []string{"b@example.net"}, big), 552, "5.3.4")
	if n := len(listAll(t, st)); n != 0 {
		t.Fatalf("oversized message stored (%d)", n)
	}
	// The session goes on.
	if err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage); err != nil {
		t.Fatalf("small message after a refused one: %v", err)
	}
	c.Quit()
	if n := len(listAll(t, st)); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestReplyFaults(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		code     int
		enhanced string
		auth     bool
	}{
		{"mail:451", 451, "4.3.0", false},
		{"mail:550", 550, "5.1.0", false},
		{"rcpt:550", 550, "5.1.1", false},
		{"rcpt:452/4.5.3", 452, "4.5.3", false},
		{"data:554", 554, "5.6.0", false},
		{"data:552", 552, "5.3.4", false},
		{"auth:535", 535, "5.7.8", true},
		{"auth:454:100", 454, "4.7.0", true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			faults, err := ParseFaults(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			srv, st := startServer(t, Config{Faults: faults, AuthUser: "u", AuthPass: "pass-word"})
			c := dial(t, srv)
			err = c.Auth(gsmtp.PlainAuth("", "u", "pass-word", "localhost", false))
			if tc.auth {
				wantReply(t, err, tc.code, tc.enhanced)
				return
			}
			if err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			err = send(c, "a@example.com", []string{"b@example.net"}, simpleMessage)
			wantReply(t, err, tc.code, tc.enhanced)
			if _, msg := replyCode(t, err); !strings.Contains(msg, "sandbox fault "+tc.spec[:strings.IndexByte(tc.spec, ':')]) {
				t.Errorf("reply text %q does not say it is a sandbox fault", msg)
			}
			if n := len(listAll(t, st)); n != 0 {
				t.Fatalf("%d messages stored after a refusal", n)
			}
			// A refusal other than 421 keeps the session open.
			if err := c.Noop(); err != nil {
				t.Fatalf("NOOP after the fault: %v", err)
			}
			c.Quit()
		})
	}
}

func Test421ClosesTheConnection(t *testing.T) {
	for _, spec := range []string{"mail:421", "rcpt:421", "data:421"} {
		t.Run(spec, func(t *testing.T) {
			faults, _ := ParseFaults(spec)
			srv, _ := startServer(t, Config{Faults: faults})
			c := dial(t, srv)
			wantReply(t, send(c, "a@example.com", []string{"b@example.net"}, simpleMessage), 421, "4.4.2")
			if err := c.Noop(); err == nil {
				t.Fatal("connection still open after 421")
			}
		})
	}
}

// rcptOutcomes sends n RCPTs in one transaction and reports which were
// refused.
func rcptOutcomes(t *testing.T, spec string, seed uint64, n int) []bool {
	t.Helper()
	faults, err := ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, Config{Faults: faults, Rand: rand.New(rand.NewPCG(seed, seed))})
	c := dial(t, srv)
	if err := c.Mail("<a@example.com>"); err != nil {
		t.Fatal(err)
	}
	out := make([]bool, n)
	for i := range out {
		err := c.Rcpt(fmt.Sprintf("<r%d@example.net>", i))
		if err != nil {
			wantReply(t, err, 550, "5.1.1")
			out[i] = true
		}
	}
	c.Quit()
	return out
}

func TestFaultProbability(t *testing.T) {
	out := rcptOutcomes(t, "rcpt:550:30", 1, 1000)
	refused := 0
	for _, r := range out {
		if r {
			refused++
		}
	}
	// Binomial(1000, 0.3): mean 300, sd 14.5; the range is over 4 sd wide
	// on each side, and the seed makes the result fixed anyway.
	if refused < 240 || refused > 360 {
		t.Fatalf("%d of 1000 recipients refused at 30%%", refused)
	}
	// The same seed gives the same decisions.
	a, b := rcptOutcomes(t, "rcpt:550:50", 42, 40), rcptOutcomes(t, "rcpt:550:50", 42, 40)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", a, b)
	}
}

func TestDelayFaults(t *testing.T) {
	const d = 300 * time.Millisecond
	t.Run("stage", func(t *testing.T) {
		faults, _ := ParseFaults("delay-rcpt:300ms")
		srv, st := startServer(t, Config{Faults: faults})
		c := dial(t, srv)
		if err := c.Mail("<a@example.com>"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Rcpt("<b@example.net>"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < d {
			t.Fatalf("RCPT reply came after %v, want at least %v", el, d)
		}
		w, _ := c.Data()
		w.Write([]byte(simpleMessage))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.Quit()
		m := onlyMessage(t, st)
		if findEvent(m.Transcript, transcript.Info, "fault delay-rcpt:300ms") < 0 {
			t.Fatalf("delay not noted:\n%s", transcriptText(m.Transcript))
		}
	})
	t.Run("every reply from MAIL on", func(t *testing.T) {
		faults, _ := ParseFaults("delay:300ms")
		srv, st := startServer(t, Config{Faults: faults})
		c := dial(t, srv)
		start := time.Now()
		if err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage); err != nil {
			t.Fatal(err)
		}
		// MAIL, RCPT, 354 and the final 250: four delayed replies.
		if el := time.Since(start); el < 4*d {
			t.Fatalf("transaction took %v, want at least %v", el, 4*d)
		}
		c.Quit()
		m := onlyMessage(t, st)
		notes := 0
		for _, e := range m.Transcript {
			if e.Dir == transcript.Info && strings.HasPrefix(e.Text, "fault delay:300ms") {
				notes++
			}
		}
		// The final 250 comes after the capture, so 3 notes are stored.
		if notes != 3 {
			t.Fatalf("%d delay notes, want 3:\n%s", notes, transcriptText(m.Transcript))
		}
	})
	t.Run("close interrupts a delay", func(t *testing.T) {
		faults, _ := ParseFaults("delay-mail:1h")
		checkLeaks(t)
		st := newStore(t)
		srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", Faults: faults}, st)
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, srv)
		done := make(chan error, 1)
		go func() { done <- c.Mail("<a@example.com>") }()
		// Wait until the server is inside the delay.
		for deadline := time.Now().Add(guard); ; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("MAIL never reached the server")
			}
			srv.mu.Lock()
			var c0 *conn
			for cc := range srv.conns {
				c0 = cc
			}
			srv.mu.Unlock()
			if c0 != nil && c0.delayArmed.Load() {
				break
			}
		}
		closed := make(chan error, 1)
		go func() { closed <- srv.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(guard):
			t.Fatal("Close did not interrupt the delay")
		}
		if err := <-done; err == nil {
			t.Fatal("MAIL succeeded on a closed server")
		}
	})
}

func TestDropAfterData(t *testing.T) {
	faults, _ := ParseFaults("drop-after-data")
	srv, st := startServer(t, Config{Faults: faults, TLS: TLSStartTLS})
	c := dial(t, srv)
	if err := c.StartTLS(clientTLS(t, srv)); err != nil {
		t.Fatal(err)
	}
	err := send(c, "a@example.com", []string{"b@example.net"}, simpleMessage)
	if err == nil {
		t.Fatal("the message got a reply")
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		t.Fatalf("client timed out instead of seeing the connection close: %v", err)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("client error = %v, want EOF or reset", err)
	}
	m := onlyMessage(t, st)
	if !m.ReplyDropped || string(m.Raw) != simpleMessage || !m.TLS {
		t.Fatalf("stored: dropped %v tls %v raw %q", m.ReplyDropped, m.TLS, m.Raw)
	}
	if findEvent(m.Transcript, transcript.Info, "fault drop-after-data fired") < 0 {
		t.Fatalf("drop not noted:\n%s", transcriptText(m.Transcript))
	}
}

func TestFaultsInOrderFirstFiringWins(t *testing.T) {
	faults, _ := ParseFaults("data:451,drop-after-data")
	srv, st := startServer(t, Config{Faults: faults})
	c := dial(t, srv)
	wantReply(t, send(c, "a@example.com", []string{"b@example.net"}, simpleMessage), 451, "4.3.0")
	c.Quit()
	if n := len(listAll(t, st)); n != 0 {
		t.Fatalf("%d stored", n)
	}
}

func TestSeveralMessagesInOneSession(t *testing.T) {
	srv, st := startServer(t, Config{})
	c := dial(t, srv)
	for i := 1; i <= 3; i++ {
		if err := send(c, fmt.Sprintf("s%d@example.com", i), []string{"b@example.net"}, fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Quit()
	l := listAll(t, st)
	if len(l) != 3 {
		t.Fatalf("%d stored", len(l))
	}
	third, err := st.SandboxMessage(context.Background(), l[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	text := transcriptText(third.Transcript)
	if third.Subject != "m3" || findEvent(third.Transcript, transcript.Client, "EHLO client.test") < 0 ||
		findEvent(third.Transcript, transcript.Info, "(") < 0 ||
		findEvent(third.Transcript, transcript.Client, "MAIL FROM:<s3@example.com>") < 0 ||
		strings.Contains(text, "s1@example.com") || strings.Contains(text, "s2@example.com") {
		t.Fatalf("third message's transcript should hold the prologue and its own transaction only:\n%s", text)
	}
}

// TestPipelinedClientAndReplyLikeContent talks raw SMTP to check that the
// transcript keeps directions right when commands are pipelined and message
// lines look like replies.
func TestPipelinedClientAndReplyLikeContent(t *testing.T) {
	srv, st := startServer(t, Config{})
	conn, err := net.DialTimeout("tcp", srv.Addr(), guard)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(guard))
	r := bufio.NewReader(conn)
	readReply := func() string {
		var all []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v (so far %q)", err, all)
			}
			all = append(all, strings.TrimRight(line, "\r\n"))
			if len(line) < 4 || line[3] != '-' {
				return strings.Join(all, "|")
			}
		}
	}
	readReply() // banner
	io.WriteString(conn, "EHLO raw.test\r\n")
	readReply()
	io.WriteString(conn, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
	for i := 0; i < 3; i++ {
		readReply()
	}
	io.WriteString(conn, "Subject: x\r\n\r\n250 fake reply line\r\n..dot\r\nbare\n.\r\nstill data\r\n.\r\nQUIT\r\n")
	if got := readReply(); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("after data: %q", got)
	}
	readReply() // 221
	m := onlyMessage(t, st)
	if want := "Subject: x\r\n\r\n250 fake reply line\r\n.dot\r\nbare\n.\r\nstill data\r\n"; string(m.Raw) != want {
		t.Fatalf("Raw = %q, want %q", m.Raw, want)
	}
	text := transcriptText(m.Transcript)
	if strings.Contains(text, "fake") || strings.Contains(text, "still data") {
		t.Fatalf("content in transcript:\n%s", text)
	}
	for _, want := range []string{"C  MAIL FROM:<a@example.com>", "C  RCPT TO:<b@example.net>", "C  DATA", "S  354", "C  <message data:", "C  .", "S  250 2.0.0 Roger"} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
}

func TestCloseEndsOpenSessions(t *testing.T) {
	checkLeaks(t)
	st := newStore(t)
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", TLS: TLSImplicit, CertDir: t.TempDir()}, st)
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, srv)
	// A client that connected but never started the TLS handshake.
	raw, err := net.DialTimeout("tcp", srv.Addr(), guard)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ids, _ := srv.Subscribe()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Noop(); err == nil {
		t.Fatal("session survived Close")
	}
	if _, ok := <-ids; ok {
		t.Fatal("subscription channel not closed by Close")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Fatal("still accepting after Close")
	}
}

func TestSubscribeNeverBlocks(t *testing.T) {
	srv, _ := startServer(t, Config{})
	slow, cancelSlow := srv.Subscribe()
	other, cancelOther := srv.Subscribe()
	for i := int64(1); i <= subscriberBuffer+10; i++ {
		srv.notify(i) // must not block although nobody reads
	}
	if len(slow) != subscriberBuffer {
		t.Fatalf("buffered %d ids, want %d", len(slow), subscriberBuffer)
	}
	cancelSlow()
	cancelSlow() // idempotent
	n := 0
	for range slow {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("drained %d", n)
	}
	cancelOther()
	if _, ok := <-other; !ok {
		t.Fatal("buffered ids lost on cancel")
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	for name, cfg := range map[string]Config{
		"tls mode":      {TLS: "ssl"},
		"no cert dir":   {TLS: TLSStartTLS},
		"size":          {MaxSize: -1},
		"hostname":      {Hostname: "bad host\r\n"},
		"pass, no user": {AuthPass: "x"},
		"fault":         {Faults: []Fault{{Stage: "rcpt", Code: 250}}},
	} {
		cfg.Listen = "127.0.0.1:0"
		if srv, err := Start(ctx, cfg, st); err == nil {
			srv.Close()
			t.Errorf("%s: Start accepted %+v", name, cfg)
		}
	}
	if _, err := Start(ctx, Config{}, nil); err == nil {
		t.Error("Start accepted a nil store")
	}
}

func TestPortFallback(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port

	ln, err := listenAuto(ctx, "127.0.0.1", port)
	if err != nil {
		t.Fatalf("fallback: %v", err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if got == port {
		t.Fatalf("fallback listened on the taken port %d", port)
	}

	// An explicitly configured address that is taken is an error.
	st := newStore(t)
	if srv, err := Start(ctx, Config{Listen: taken.Addr().String()}, st); err == nil {
		srv.Close()
		t.Fatal("Start used a taken explicit address")
	} else if !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("error does not name the address: %v", err)
	}

	// The default address works whether or not 2525 is free.
	srv, err := Start(ctx, Config{}, st)
	if err != nil {
		t.Fatalf("Start with the default address: %v", err)
	}
	defer srv.Close()
	if host, _, _ := net.SplitHostPort(srv.Addr()); host != "127.0.0.1" {
		t.Fatalf("default listens on %s, want loopback", srv.Addr())
	}
	c := dial(t, srv)
	c.Quit()
}

func TestTranscriptEventsAreOneLine(t *testing.T) {
	// Guards the parser on input split at awkward points.
	srv, _ := startServer(t, Config{})
	c := &conn{s: srv, rec: transcript.New(), prologueEnd: -1}
	c.wire = &wireConn{c: c, closed: make(chan struct{})}
	in := []byte("EHLO a\r\nMAIL FROM:<x@y>\r\nDATA\r\nline1\r\n")
	for _, b := range in {
		c.feedClient([]byte{b})
	}
	c.feedClient([]byte(".\r\nAUTH PLAIN c2VjcmV0\r\n"))
	var texts []string
	for _, e := range c.rec.Events() {
		if bytes.ContainsAny([]byte(e.Text), "\r\n") {
			t.Errorf("multi-line event %q", e.Text)
		}
		texts = append(texts, e.Text)
	}
	want := "EHLO a|MAIL FROM:<x@y>|DATA|<message data: 7 bytes in 1 lines>|.|AUTH PLAIN " + transcript.Redacted
	if got := strings.Join(texts, "|"); got != want {
		t.Fatalf("events %q\nwant   %q", got, want)
	}
}
