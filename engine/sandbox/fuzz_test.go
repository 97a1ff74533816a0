package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/store"
)

// replyLine is one well-formed SMTP reply line (RFC 5321 4.2).
var replyLine = regexp.MustCompile(`^[2-5][0-9][0-9]([ -]|$)`)

// FuzzSession feeds arbitrary bytes, as one client's whole session, to a
// real sandbox over loopback and checks that the server neither panics nor
// hangs after the client closes its side, and that everything it answered
// is a stream of complete, well-formed reply lines starting with the 220
// greeting.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b.test> SIZE=10\r\nRCPT TO:<c@d.test>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n",
		"EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<\"a b\"@x.test>\r\nRCPT TO:<\"x@y> ORCPT=rfc822;z\"@d.test>\r\nRSET\r\nNOOP\r\nVRFY x\r\nHELP\r\nQUIT\r\n",
		"HELO x\r\nSTARTTLS\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\n\r\n.\r\n",
		"EHLO x\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\nbare\rcr\n.\n",
		"\x00\xff\x1b[31m\r\nMAIL FROM:<a@b.test>\r\n" + string(bytes.Repeat([]byte("A"), 3000)) + "\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 999999999999\r\nxx",
		"EHLO x\r\nAUTH CRAM-MD5\r\n*\r\nAUTH PLAIN\r\n=\r\nMAIL FROM:<a@b.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<jörg@bücher.example> NOTIFY=SUCCESS\r\nDATA\r\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	st, err := store.Open(filepath.Join(dir, "herald.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", CertDir: dir, AuthUser: "user", AuthPass: "pass", MaxSize: 4096,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}, st)
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	f.Fuzz(func(t *testing.T, session []byte) {
		c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// Write while reading, so a server that answers before reading
		// everything cannot deadlock the test.
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(session)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			wrote <- err
		}()
		replies, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server neither answered to the end nor closed within 10 s after the session ended; got %q", replies)
		}
		<-wrote // a write may fail once the server has closed: not an error
		if !bytes.HasPrefix(replies, []byte("220")) {
			t.Fatalf("no 220 greeting first: %.200q", replies)
		}
		if len(replies) > 0 && !bytes.HasSuffix(replies, []byte("\r\n")) {
			t.Fatalf("the reply stream ends inside a line: %.200q", replies[max(0, len(replies)-200):])
		}
		// Every line (CRLF-framed) starts with a reply code and holds no
		// control character: go-smtp echoes a client's own words ("250-Hello
		// NAME", "500 ... VERB command unrecognized"), and the sandbox
		// filters what it lets go-smtp echo.
		for _, line := range bytes.Split(bytes.TrimSuffix(replies, []byte("\r\n")), []byte("\r\n")) {
			if !replyLine.Match(line) || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("malformed reply line %q in:\n%.2000q", line, replies)
			}
			if bytes.ContainsFunc(line, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }) {
				t.Fatalf("control character in reply line %q", line)
			}
		}
	})
}
