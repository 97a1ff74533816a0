package load

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

func cfgFor(port int) transport.Config {
	return transport.Config{Host: "127.0.0.1", Port: port, TLS: transport.TLSNone, Auth: transport.AuthNone, Timeout: 5 * time.Second, HeloName: "load.herald.test"}
}

func replies(r *Report) map[string]int {
	out := map[string]int{}
	for _, rc := range r.Replies {
		out[rc.Stage+" "+strconv.Itoa(rc.Code)] += rc.Count
	}
	return out
}

func TestCountsAddUp(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	var mu sync.Mutex
	var progress []Progress
	rep, err := Run(context.Background(), Options{
		Transport: cfgFor(s.Port), Messages: 200, Sessions: 4, PerSession: 30, Size: 2000, Recipients: 2, To: "bob@herald.test", Batch: 7,
		Progress: func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }, ProgressEvery: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requested != 200 || rep.Messages != 200 || rep.Accepted != 200 || rep.Temporary+rep.Permanent+rep.Unknown+rep.NotSent != 0 || !rep.AllAccepted() {
		t.Fatalf("%+v", rep)
	}
	// 200 messages at most 30 per session: at least 7 sessions.
	if rep.Connections < 7 || rep.Pipelined != rep.Connections || rep.Sessions != 4 {
		t.Fatalf("connections %d, pipelined %d", rep.Connections, rep.Pipelined)
	}
	if got := replies(rep); got["rcpt 250"] != 400 || got["data 250"] != 200 || len(got) != 2 {
		t.Fatalf("replies %v", got)
	}
	if l := rep.Latency; l.Count != 200 || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Fatalf("latency %+v", l)
	}
	if rep.MessagesPerSec <= 0 || rep.BytesPerSec < rep.AcceptedPerSec*1900 || len(rep.Errors) != 0 {
		t.Fatalf("%+v", rep)
	}
	msgs := s.Messages()
	if len(msgs) != 200 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		if strings.Join(m.To, ",") != "bob+1@herald.test,bob+2@herald.test" || m.From != DefaultFrom {
			t.Fatalf("envelope %s -> %v", m.From, m.To)
		}
		if d := len(m.Data) - 2000; d < -80 || d > 80 || len(m.Data) != rep.MessageBytes {
			t.Fatalf("message of %d bytes, report says %d", len(m.Data), rep.MessageBytes)
		}
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pm.Header.Date(); err != nil || pm.Header.Get("From") == "" || pm.Header.Get("Subject") == "" {
			t.Fatalf("headers %v", pm.Header)
		}
		id := pm.Header.Get("Message-ID")
		if !strings.HasPrefix(id, "<load.") || ids[id] {
			t.Fatalf("Message-ID %q (duplicate: %v)", id, ids[id])
		}
		ids[id] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if len(progress) == 0 || progress[len(progress)-1].Done != 200 || progress[len(progress)-1].Total != 200 {
		t.Fatalf("progress %+v", progress)
	}
}

func TestPlainSessions(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	cfg := cfgFor(s.Port)
	cfg.Pipelining = transport.PipeliningOff
	rep, err := Run(context.Background(), Options{Transport: cfg, Messages: 50, Sessions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 50 || rep.Pipelined != 0 || rep.Connections < 1 || rep.Connections > 3 || len(s.Messages()) != 50 {
		t.Fatalf("%+v", rep)
	}
}

func startSandbox(t *testing.T, faults string) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := sandbox.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.Start(context.Background(), sandbox.Config{Listen: "127.0.0.1:0", CertDir: dir, Faults: f, Rand: rand.New(rand.NewPCG(7, 8))}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); st.Close() })
	return srv.Addr()
}

func portOf(t *testing.T, addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFaultsShowInReplies: the sandbox's injected refusals show in the
// reply-code table and the errors, and the counts still add up.
func TestFaultsShowInReplies(t *testing.T) {
	addr := startSandbox(t, "rcpt:550:50,data:451:30")
	rep, err := Run(context.Background(), Options{Transport: cfgFor(portOf(t, addr)), Messages: 120, Sessions: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := replies(rep)
	if got["rcpt 250"]+got["rcpt 550"] != 120 || got["rcpt 550"] < 30 || got["rcpt 550"] > 90 || got["data 451"] == 0 ||
		got["data 250"] != rep.Accepted || got["data 250"]+got["data 451"] != got["rcpt 250"] {
		t.Fatalf("replies %v, report %+v", got, rep)
	}
	if rep.Messages != 120 || rep.Accepted+rep.Temporary+rep.Permanent+rep.Unknown != 120 || rep.Permanent != got["rcpt 550"] || rep.Temporary != got["data 451"] {
		t.Fatalf("%+v", rep)
	}
	if rep.AllAccepted() || rep.OnlyTemporary() {
		t.Fatal("a run with permanent refusals is reported clean")
	}
	var perm, temp *ErrorCount
	for i, e := range rep.Errors {
		switch {
		case e.Class == "permanent" && e.Stage == "rcpt":
			perm = &rep.Errors[i]
		case e.Class == "temporary" && e.Stage == "data":
			temp = &rep.Errors[i]
		}
	}
	if perm == nil || perm.Count != rep.Permanent || !strings.Contains(perm.First, "550 5.1.1") || temp == nil || !strings.Contains(temp.First, "451") {
		t.Fatalf("errors %+v", rep.Errors)
	}

	// Only temporary failures: 4xx on some recipients of messages that
	// still went to the others.
	addr = startSandbox(t, "rcpt:450:30")
	rep, err = Run(context.Background(), Options{Transport: cfgFor(portOf(t, addr)), Messages: 40, Sessions: 2, Recipients: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.AllAccepted() || !rep.OnlyTemporary() || rep.RecipientsRefused == 0 || rep.RecipientsRefused != rep.RecipientsRefusedTemporary {
		t.Fatalf("%+v", rep)
	}
}

func TestUnreachableServer(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	rep, err := Run(context.Background(), Options{Transport: cfgFor(port), Messages: 5, Sessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 5 || rep.Temporary != 5 || rep.Connections != 5 || len(rep.Errors) != 1 || rep.Errors[0].Kind != string(transport.KindRefused) ||
		rep.Errors[0].Stage != "connect" || rep.Latency.Count != 0 || !rep.OnlyTemporary() {
		t.Fatalf("%+v", rep)
	}
}

func TestCanceledRun(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, Options{Transport: cfgFor(s.Port), Messages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 0 || rep.NotSent+rep.Messages != 10 || rep.Temporary != rep.Messages || !rep.OnlyTemporary() {
		t.Fatalf("%+v", rep)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []Options{{}, {Messages: -1}, {Messages: 1, Sessions: -2}, {Messages: 1, Recipients: 2000}, {Messages: 1, To: "x\r\ny@z"}, {Messages: 1, From: "nobody"}, {Messages: 1, PerSession: -1}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestRecipientsAndReader(t *testing.T) {
	if got := strings.Join(Recipients("", 2), ","); got != "load-1@herald.test,load-2@herald.test" {
		t.Fatal(got)
	}
	if got := strings.Join(Recipients("bob@x.test", 1), ","); got != "bob@x.test" {
		t.Fatal(got)
	}
	if got := strings.Join(Recipients("bob@x.test", 2), ","); got != "bob+1@x.test,bob+2@x.test" {
		t.Fatal(got)
	}
	for _, size := range []int{1, 300, 1000, 65536} {
		tpl := newTemplate(Options{From: DefaultFrom, Size: size, Recipients: 1})
		r := tpl.reader()
		r.reset(tpl.nextID())
		if r.Len() != tpl.size || r.Size() != int64(tpl.size) {
			t.Fatalf("size %d: Len %d", size, r.Len())
		}
		if size > 300 && (tpl.size < size-2 || tpl.size > size+2) {
			t.Fatalf("asked %d bytes, made %d", size, tpl.size)
		}
		all, err := io.ReadAll(r)
		if err != nil || len(all) != tpl.size || r.Len() != 0 {
			t.Fatalf("read %d of %d: %v", len(all), tpl.size, err)
		}
		buf := make([]byte, 17)
		for off := 0; off < len(all); off += 13 {
			n, err := r.ReadAt(buf, int64(off))
			if !bytes.Equal(buf[:n], all[off:min(off+17, len(all))]) || (n < 17 && err != io.EOF) {
				t.Fatalf("ReadAt %d: %q %v", off, buf[:n], err)
			}
		}
		for _, line := range strings.Split(string(all), "\r\n") {
			if len(line) > 78 || strings.ContainsAny(line, "\r\n") {
				t.Fatalf("line %q", line)
			}
		}
		if !strings.HasSuffix(string(all), "\r\n") {
			t.Fatal("no final CRLF")
		}
	}
}

// TestBrokenSessionsGiveMessagesBack: a drop after the final dot breaks the
// session; the messages of its batch that were never tried go to the next
// session instead of counting as failures.
func TestBrokenSessionsGiveMessagesBack(t *testing.T) {
	addr := startSandbox(t, "drop-after-data:20")
	rep, err := Run(context.Background(), Options{Transport: cfgFor(portOf(t, addr)), Messages: 100, Sessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 100 || rep.Unknown == 0 || rep.Accepted+rep.Unknown != 100 || rep.Temporary != 0 || rep.NotSent != 0 ||
		rep.Connections < rep.Unknown || rep.Connections > rep.Unknown+2 {
		t.Fatalf("%+v", rep)
	}
	for _, e := range rep.Errors {
		if e.Kind != string(transport.KindUnknownAfterData) || e.Class != "unknown" {
			t.Fatalf("errors %+v", rep.Errors)
		}
	}
	if rep.OnlyTemporary() {
		t.Fatal("unknown outcomes reported as temporary")
	}
}

// TestWrongPasswordStopsTheRun: a permanent AUTH failure is the same for
// every session, so the run stops after it instead of logging in (and
// failing) once per message.
func TestWrongPasswordStopsTheRun(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	s := smtptest.Start(t, smtptest.Options{Cert: &cert, Implicit: true, User: "ann", Pass: "right-password"})
	cfg := cfgFor(s.Port)
	cfg.TLS, cfg.RootCAs = transport.TLSImplicit, ca.Pool
	cfg.Auth, cfg.Username, cfg.Password = transport.AuthPlain, "ann", "wrong-password"
	rep, err := Run(context.Background(), Options{Transport: cfg, Messages: 20, Sessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.AuthAttempts()); n > 2 {
		t.Fatalf("%d logins for one wrong password (at most one per session)", n)
	}
	if rep.Accepted != 0 || rep.Permanent == 0 || rep.NotSent < 18 || rep.Messages+rep.NotSent != 20 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(rep.Stopped, "authentication") || !strings.Contains(rep.Stopped, "535") || rep.OnlyTemporary() {
		t.Fatalf("stopped %q", rep.Stopped)
	}
}
