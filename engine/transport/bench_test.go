package transport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sinkBackend is an in-process go-smtp server that reads every message and
// throws it away, for benchmarks (smtptest keeps every message in memory).
type sinkBackend struct{}

func (sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return sinkSession{}, nil }

type sinkSession struct{}

func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (sinkSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (sinkSession) Reset()        {}
func (sinkSession) Logout() error { return nil }

func startSink(b *testing.B) int {
	b.Helper()
	srv := smtp.NewServer(sinkBackend{})
	srv.Domain = "sink.herald.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// benchBody is a 1 KiB message of 76-character lines.
func benchBody() []byte {
	var sb strings.Builder
	sb.WriteString("From: a@herald.test\r\nTo: b@herald.test\r\nSubject: bench\r\nMessage-ID: <bench@herald.test>\r\n\r\n")
	for sb.Len() < 1024 {
		sb.WriteString(strings.Repeat("x", 76) + "\r\n")
	}
	return []byte(sb.String())
}

// benchSend sends b.N messages on one session, in batches of batch, and
// reports messages per second.
func benchSend(b *testing.B, mode Pipelining, batch int) {
	port := startSink(b)
	cfg := Config{Host: "127.0.0.1", Port: port, TLS: TLSNone, Auth: AuthNone, Timeout: 10 * time.Second, HeloName: "bench.herald.test", Pipelining: mode}
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Quit()
	body := benchBody()
	e := envs(batch)
	rs := make([]*bytes.Reader, batch)
	bodies := make([]io.Reader, batch)
	for i := range rs {
		rs[i] = bytes.NewReader(body)
		bodies[i] = rs[i]
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		for _, r := range rs[:n] {
			r.Reset(body)
		}
		results, err := c.SendMany(ctx, e[:n], bodies[:n])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if !r.OK {
				b.Fatal(r.Err)
			}
		}
		sent += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSendPipelined: one session, batches of 100 messages, each
// message's end pipelined with the next one's MAIL, RCPT and DATA.
func BenchmarkSendPipelined(b *testing.B) { benchSend(b, PipeliningOn, 100) }

// BenchmarkSendPlain: one session, one command at a time.
func BenchmarkSendPlain(b *testing.B) { benchSend(b, PipeliningOff, 100) }

// BenchmarkDataWriter measures the body encoder alone on a 64 KiB body of
// LF lines (every line ending rewritten).
func BenchmarkDataWriter(b *testing.B) {
	body := bytes.Repeat([]byte(strings.Repeat("y", 75)+"\n.dot\n"), 64<<10/82)
	c := &Client{cfg: Config{Timeout: time.Minute}, raw: nopConn{}}
	c.bw = bufio.NewWriterSize(io.Discard, 32<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dw := &dataWriter{c: c, enc: DotWriter{w: c.bw}}
		dw.Write(body)
		dw.end()
	}
}
