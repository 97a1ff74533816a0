package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/transcript"
)

// miniOptions configure a scripted server that speaks enough SMTP for
// whole sessions and records how the client's commands arrived.
type miniOptions struct {
	// pipelining advertises PIPELINING.
	pipelining bool
	// strict checks, before every reply, that the client has sent nothing
	// more: a client that waits for each reply passes, one that pipelines
	// is caught (the bytes are already buffered, or arrive within 20 ms).
	strict bool
	// reply, when it returns non-empty, replaces the reply to cmd in
	// message n (n counts MAIL commands from 1).
	reply func(cmd string, n int) string
	// dropAfterDot closes the connection after the final dot of message n,
	// without replying.
	dropAfterDot func(n int) bool
}

// miniMessage is what the scripted server received for one message.
type miniMessage struct {
	from string
	to   []string
	body string
}

// miniServer is the server's record of every session.
type miniServer struct {
	*smtptest.Script
	mu         sync.Mutex
	groups     [][]string // commands that arrived together, in order
	violations []string   // commands sent before the previous reply
	messages   []miniMessage
}

func startMini(t *testing.T, o miniOptions) *miniServer {
	m := &miniServer{}
	m.Script = smtptest.StartScript(t, func(c *smtptest.Conn) { m.serve(c, o) })
	return m
}

func (m *miniServer) Groups() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]string(nil), m.groups...)
}

func (m *miniServer) Violations() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.violations...)
}

func (m *miniServer) Messages() []miniMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]miniMessage(nil), m.messages...)
}

// verb is a command's first word, upper case, or "." for a final dot.
func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	if i := strings.IndexByte(v, ':'); i > 0 {
		v = v[:i]
	}
	return strings.ToUpper(v)
}

func (m *miniServer) serve(c *smtptest.Conn, o miniOptions) {
	var group []string
	endGroup := func() {
		if len(group) > 0 {
			m.mu.Lock()
			m.groups = append(m.groups, group)
			m.mu.Unlock()
			group = nil
		}
	}
	defer endGroup()
	// note starts a new group when the client's bytes were not already
	// waiting: what arrives together was written together.
	note := func(v string) {
		group = append(group, v)
	}
	waiting := func() {
		if c.R.Buffered() == 0 {
			endGroup()
		}
	}
	answer := func(cmd, line string) {
		if o.strict {
			pending := c.R.Buffered() > 0
			if !pending {
				c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				_, err := c.R.Peek(1)
				pending = err == nil
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
			}
			if pending {
				m.mu.Lock()
				m.violations = append(m.violations, "the client sent more before the reply to "+cmd)
				m.mu.Unlock()
			}
		}
		c.Line(line)
	}
	n := 0
	var cur *miniMessage
	accepted := 0
	reply := func(cmd, def string) string {
		if o.reply != nil {
			if r := o.reply(cmd, n); r != "" {
				return r
			}
		}
		return def
	}
	c.Line("220 mini.herald.test ESMTP")
	for {
		waiting()
		line, err := c.Read()
		if err != nil {
			return
		}
		v := verb(line)
		note(v)
		switch v {
		case "EHLO":
			c.Line("250-mini.herald.test")
			if o.pipelining {
				c.Line("250-PIPELINING")
			}
			answer(v, "250 8BITMIME")
		case "MAIL":
			n++
			r := reply(v, "250 2.1.0 sender ok")
			if strings.HasPrefix(r, "250") {
				from, _, _ := strings.Cut(strings.TrimPrefix(line, "MAIL FROM:<"), ">")
				cur, accepted = &miniMessage{from: from}, 0
			}
			answer(v, r)
		case "RCPT":
			if cur == nil {
				answer(v, "503 5.5.1 MAIL first")
				continue
			}
			to, _, _ := strings.Cut(strings.TrimPrefix(line, "RCPT TO:<"), ">")
			r := reply(line, "250 2.1.5 recipient ok")
			if strings.HasPrefix(r, "250") {
				cur.to = append(cur.to, to)
				accepted++
			}
			answer(v, r)
		case "DATA":
			def := "354 go ahead"
			if cur == nil || accepted == 0 {
				def = "554 5.5.1 no valid recipients"
			}
			r := reply(v, def)
			answer(v, r)
			if !strings.HasPrefix(r, "354") {
				continue
			}
			waiting()
			body, err := c.ReadData()
			if err != nil {
				return
			}
			note(".")
			if cur == nil {
				cur = &miniMessage{}
			}
			cur.body = string(body)
			m.mu.Lock()
			m.messages = append(m.messages, *cur)
			m.mu.Unlock()
			if o.dropAfterDot != nil && o.dropAfterDot(n) {
				return
			}
			def = "250 2.0.0 queued as " + strconv.Itoa(n)
			if accepted == 0 {
				def = "554 5.5.1 no valid recipients"
			}
			answer(".", reply(".", def))
			cur = nil
		case "RSET":
			cur = nil
			answer(v, "250 2.0.0 reset")
		case "NOOP":
			answer(v, "250 2.0.0 ok")
		case "QUIT":
			answer(v, "221 2.0.0 bye")
			return
		default:
			answer(v, "502 5.5.2 unknown command")
		}
	}
}

func miniCfg(m *miniServer) Config {
	return Config{Host: "127.0.0.1", Port: m.Port, TLS: TLSNone, Timeout: 5 * time.Second, HeloName: "client.herald.test", Transcript: transcript.New()}
}

func readers(n int, body []byte) []io.Reader {
	out := make([]io.Reader, n)
	for i := range out {
		out[i] = bytes.NewReader(body)
	}
	return out
}

func envs(n int, to ...string) []Envelope {
	out := make([]Envelope, n)
	for i := range out {
		out[i] = env(to...)
	}
	return out
}

func hasGroup(groups [][]string, want ...string) bool {
	w := strings.Join(want, " ")
	for _, g := range groups {
		if strings.Join(g, " ") == w {
			return true
		}
	}
	return false
}

// clientLinesBeforeReply checks that every command of a group was written
// before the first reply to it was read: the transcript order of pipelining.
func clientLinesBeforeReply(t *testing.T, rec *transcript.Recorder, group ...string) {
	t.Helper()
	evs := rec.Events()
	for i, e := range evs {
		if e.Dir != transcript.Client || !strings.HasPrefix(e.Text, group[0]) {
			continue
		}
		j := i
		for _, g := range group {
			if j >= len(evs) || evs[j].Dir != transcript.Client || !strings.HasPrefix(evs[j].Text, g) {
				t.Fatalf("the group %q is not written in one piece:\n%s", group, transcriptText(rec))
			}
			j++
		}
		if j >= len(evs) || evs[j].Dir != transcript.Server {
			t.Fatalf("no reply after the group %q:\n%s", group, transcriptText(rec))
		}
		return
	}
	t.Fatalf("no group %q in:\n%s", group, transcriptText(rec))
}

func TestPipelinedAgainstGoSMTP(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	cfg := cfgFor(s, TLSNone)
	res := mustSend(t, cfg, env("b@herald.test", "c@herald.test"), msg)
	if res.Code != 250 || len(res.Recipients) != 2 || !res.Recipients[0].Accepted || !res.Recipients[1].Accepted {
		t.Fatalf("%+v", res)
	}
	clientLinesBeforeReply(t, cfg.Transcript, "MAIL FROM:<a@herald.test>", "RCPT TO:<b@herald.test>", "RCPT TO:<c@herald.test>", "DATA")
	if got := s.Messages(); len(got) != 1 || !bytes.Equal(got[0].Data, msg) || len(got[0].To) != 2 {
		t.Fatalf("server got %+v", got)
	}

	// Off: one command at a time, each reply read before the next command.
	cfg = cfgFor(s, TLSNone)
	cfg.Pipelining = PipeliningOff
	mustSend(t, cfg, env("b@herald.test", "c@herald.test"), msg)
	tr := transcriptText(cfg.Transcript)
	if !regexp.MustCompile(`C  MAIL FROM:<a@herald.test>.*\n.*S  250 .*\n.*C  RCPT TO:<b@herald.test>\n.*S  250 .*\n.*C  RCPT TO:<c@herald.test>`).MatchString(tr) {
		t.Fatalf("pipelining off still pipelines:\n%s", tr)
	}
}

func TestSendManyAgainstGoSMTP(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{RefuseRcpt: map[string]*smtp.SMTPError{
		"nobody@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}})
	for _, mode := range []Pipelining{PipeliningAuto, PipeliningOn, PipeliningOff} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := cfgFor(s, TLSNone)
			cfg.Pipelining = mode
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if c.Pipelined() != (mode != PipeliningOff) {
				t.Fatalf("Pipelined() = %v", c.Pipelined())
			}
			before := len(s.Messages())
			e := []Envelope{env("b@herald.test", "nobody@herald.test", "c@herald.test"), env("nobody@herald.test"), env(), env("nobody@herald.test", "nobody@herald.test"), env()}
			results, err := c.SendMany(context.Background(), e, readers(len(e), msg))
			if err != nil || len(results) != 5 {
				t.Fatalf("%v %v", results, err)
			}
			r := results[0]
			if !r.OK || len(r.Recipients) != 3 || !r.Recipients[0].Accepted || r.Recipients[1].Accepted || r.Recipients[1].Code != 550 ||
				r.Recipients[1].EnhancedCode != "5.1.1" || r.Recipients[1].Message != "no such user" || !r.Recipients[2].Accepted {
				t.Fatalf("message 1: %+v", r)
			}
			for _, k := range []int{1, 3} {
				r := results[k]
				if r.OK || r.Stage != StageRcpt || r.Code != 550 || r.Class != ClassPermanent || len(r.Recipients) != len(e[k].To) {
					t.Fatalf("message %d: %+v", k+1, r)
				}
			}
			if !strings.Contains(results[3].Err.Error(), "every recipient was refused") {
				t.Fatalf("message 4: %v", results[3].Err)
			}
			for _, k := range []int{2, 4} {
				if !results[k].OK || results[k].QueuedAs == "" || results[k].Elapsed <= 0 {
					t.Fatalf("message %d: %+v", k+1, results[k])
				}
			}
			got := s.Messages()[before:]
			if len(got) != 3 || strings.Join(got[0].To, ",") != "b@herald.test,c@herald.test" {
				t.Fatalf("server got %+v", got)
			}
			if !c.Usable() {
				t.Fatal("the session broke")
			}
			if mode != PipeliningOff {
				clientLinesBeforeReply(t, cfg.Transcript, "[message: ", ".", "MAIL FROM:", "RCPT TO:<nobody@herald.test>", "DATA")
			}
		})
	}
}

// TestLockStepOnServerWithoutPipelining: a server that does not advertise
// PIPELINING and complains whenever a command arrives before its previous
// reply sees no complaint, in auto mode, from Send or SendMany.
func TestLockStepOnServerWithoutPipelining(t *testing.T) {
	m := startMini(t, miniOptions{strict: true})
	cfg := miniCfg(m)
	res := mustSend(t, cfg, env("b@herald.test", "c@herald.test"), msg)
	if len(res.Recipients) != 2 {
		t.Fatalf("%+v", res)
	}
	c, err := Dial(context.Background(), miniCfg(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pipelined() {
		t.Fatal("pipelining on a server that does not offer it")
	}
	results, err := c.SendMany(context.Background(), envs(3), readers(3, msg))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if !r.OK {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	c.Quit()
	if v := m.Violations(); len(v) != 0 {
		t.Fatalf("the client did not wait for replies: %v", v)
	}
	if n := len(m.Messages()); n != 4 {
		t.Fatalf("%d messages", n)
	}
	for _, g := range m.Groups() {
		if len(g) != 1 {
			t.Fatalf("commands arrived together: %v", m.Groups())
		}
	}

	// The same check catches a client that pipelines: proof that it works.
	p := startMini(t, miniOptions{strict: true, pipelining: true})
	mustSend(t, miniCfg(p), env("b@herald.test", "c@herald.test"), msg)
	if len(p.Violations()) == 0 {
		t.Fatal("the strict server did not notice pipelining")
	}

	// On: a clear error at the mail stage, nothing sent.
	cfg = miniCfg(m)
	cfg.Pipelining = PipeliningOn
	before := len(m.Groups())
	res = Send(context.Background(), cfg, env(), bytes.NewReader(msg))
	var e *Error
	if res.OK || res.Stage != StageMail || res.Class != ClassPermanent || !errors.As(res.Err, &e) || e.Kind != KindPipeliningMissing ||
		!strings.Contains(res.Err.Error(), "does not advertise PIPELINING") || Hint(res.Err) == "" {
		t.Fatalf("pipelining on: %+v", res)
	}
	for _, g := range m.Groups()[before:] {
		if slicesContain(g, "MAIL") {
			t.Fatal("MAIL was sent")
		}
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestServerSeesPipelinedGroups: the server's own view proves the client
// pipelined: MAIL, RCPT and DATA in one read, and the final dot of one
// message with the next message's commands.
func TestServerSeesPipelinedGroups(t *testing.T) {
	m := startMini(t, miniOptions{pipelining: true})
	cfg := miniCfg(m)
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.SendMany(context.Background(), envs(3, "b@herald.test", "c@herald.test"), readers(3, msg))
	if err != nil {
		t.Fatal(err)
	}
	c.Quit()
	for i, r := range results {
		if !r.OK || r.QueuedAs != "2.0.0 queued as "+strconv.Itoa(i+1) {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	g := m.Groups()
	if !hasGroup(g, "MAIL", "RCPT", "RCPT", "DATA") || !hasGroup(g, ".", "MAIL", "RCPT", "RCPT", "DATA") || !hasGroup(g, ".") {
		t.Fatalf("groups %v", g)
	}
	got := m.Messages()
	if len(got) != 3 || got[2].body != string(msg) || strings.Join(got[2].to, ",") != "b@herald.test,c@herald.test" {
		t.Fatalf("server got %+v", got)
	}
}

func TestPipelinedRefusalsInAGroup(t *testing.T) {
	m := startMini(t, miniOptions{pipelining: true, reply: func(cmd string, n int) string {
		switch {
		case cmd == "MAIL" && n == 1:
			return "451 4.3.0 try again later"
		case cmd == "MAIL" && n == 2:
			return "550 5.1.0 sender refused"
		case strings.Contains(cmd, "nobody@"):
			return "550 5.1.1 no such user"
		case strings.Contains(cmd, "full@"):
			return "452 4.2.2 mailbox full"
		}
		return ""
	}})
	cfg := miniCfg(m)
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	e := []Envelope{env(), env(), env("b@herald.test", "nobody@herald.test", "full@herald.test", "c@herald.test"), env("nobody@herald.test", "full@herald.test"), env()}
	results, err := c.SendMany(context.Background(), e, readers(len(e), msg))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ok    bool
		stage Stage
		class Class
		code  int
	}{
		{false, StageMail, ClassTemporary, 451},
		{false, StageMail, ClassPermanent, 550},
		{true, StageDone, ClassSent, 250},
		{false, StageRcpt, ClassTemporary, 452}, // the last refusal decides, as on the plain path
		{true, StageDone, ClassSent, 250},
	}
	for i, w := range want {
		r := results[i]
		if r.OK != w.ok || r.Stage != w.stage || r.Class != w.class || r.Code != w.code {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	if len(results[0].Recipients) != 0 || len(results[2].Recipients) != 4 || results[2].Recipients[1].Code != 550 || results[2].Recipients[2].Code != 452 || !results[2].Recipients[3].Accepted {
		t.Fatalf("recipients %+v / %+v", results[0].Recipients, results[2].Recipients)
	}
	got := m.Messages()
	if len(got) != 2 || strings.Join(got[0].to, ",") != "b@herald.test,c@herald.test" {
		t.Fatalf("server got %+v", got)
	}
	tr := transcriptText(cfg.Transcript)
	for _, w := range []string{"S  451 4.3.0 try again later", "S  503 5.5.1 MAIL first", "S  554 5.5.1 no valid recipients", "C  RSET", "S  452 4.2.2 mailbox full"} {
		if !strings.Contains(tr, w) {
			t.Fatalf("transcript lacks %q:\n%s", w, tr)
		}
	}
	// The same with the plain path gives the same results.
	cfg = miniCfg(m)
	cfg.Pipelining = PipeliningOff
	c2, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Quit()
	plain, _ := c2.SendMany(context.Background(), e, readers(len(e), msg))
	for i := range plain {
		p, q := plain[i], results[i]
		if p.OK != q.OK || p.Stage != q.Stage || p.Class != q.Class || p.Code != q.Code || p.EnhancedCode != q.EnhancedCode || fmt.Sprint(p.Recipients) != fmt.Sprint(q.Recipients) || errText(p.Err) != errText(q.Err) {
			t.Fatalf("message %d: plain %+v, pipelined %+v", i+1, p, q)
		}
	}
}

// TestPipelinedDataAcceptedWithoutRecipients: RFC 2920 3.1. Every RCPT was
// refused but the server answered DATA with 354: the client ends the empty
// message with a lone dot, then resets.
func TestPipelinedDataAcceptedWithoutRecipients(t *testing.T) {
	m := startMini(t, miniOptions{pipelining: true, reply: func(cmd string, n int) string {
		switch {
		case strings.HasPrefix(cmd, "RCPT") && n == 1:
			return "550 5.1.1 no such user"
		case cmd == "DATA" && n == 1:
			return "354 odd, but go ahead"
		}
		return ""
	}})
	cfg := miniCfg(m)
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	results, err := c.SendMany(context.Background(), envs(2), readers(2, msg))
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.OK || r.Stage != StageRcpt || r.Code != 550 {
		t.Fatalf("message 1: %+v", r)
	}
	if !results[1].OK {
		t.Fatalf("message 2: %+v", results[1])
	}
	got := m.Messages()
	if len(got) != 2 || got[0].body != "" || got[1].body != string(msg) {
		t.Fatalf("server got %+v", got)
	}
	tr := transcriptText(cfg.Transcript)
	if !regexp.MustCompile(`S  354 odd, but go ahead\n.*I  the server accepted DATA.*\n.*C  \.\n.*S  554 .*\n.*C  RSET`).MatchString(tr) {
		t.Fatalf("transcript:\n%s", tr)
	}
}

// TestDropAfterFinalDotInBatch: the connection drops after the final dot of
// message 2 of 3: message 1 was sent, 2 is unknown, 3 was never sent.
func TestDropAfterFinalDotInBatch(t *testing.T) {
	for _, mode := range []Pipelining{PipeliningOn, PipeliningOff} {
		t.Run(mode.String(), func(t *testing.T) {
			m := startMini(t, miniOptions{pipelining: true, dropAfterDot: func(n int) bool { return n == 2 }})
			cfg := miniCfg(m)
			cfg.Pipelining = mode
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			results, err := c.SendMany(context.Background(), envs(3), readers(3, msg))
			var e *Error
			if err == nil || !errors.As(err, &e) || e.Kind != KindUnknownAfterData {
				t.Fatalf("batch error %v", err)
			}
			if !results[0].OK {
				t.Fatalf("message 1: %+v", results[0])
			}
			if r := results[1]; r.OK || r.Class != ClassUnknown || r.Stage != StageData || !errors.As(r.Err, &e) || e.Kind != KindUnknownAfterData {
				t.Fatalf("message 2: %+v", r)
			}
			if r := results[2]; r.OK || r.Class != ClassTemporary || !errors.As(r.Err, &e) || e.Kind != KindNotSent || Hint(r.Err) == "" {
				t.Fatalf("message 3: %+v", r)
			}
			if c.Usable() {
				t.Fatal("the session still looks usable")
			}
			if n := len(m.Messages()); n != 2 {
				t.Fatalf("the server read %d messages", n)
			}
			tr := transcriptText(cfg.Transcript)
			if strings.Count(tr, "C  [message: ") != 2 {
				t.Fatalf("message 3's body was sent:\n%s", tr)
			}
		})
	}
}

func TestNilTranscriptRecordsNothing(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{User: "ann", Pass: testPass, AllowInsecureAuth: true})
	cfg := cfgFor(s, TLSNone)
	cfg.Transcript = nil
	cfg.Auth, cfg.Username, cfg.Password, cfg.AllowInsecureAuth = AuthPlain, "ann", testPass, true
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transcript() != nil {
		t.Fatal("a recorder was made")
	}
	results, err := c.SendMany(context.Background(), envs(2), readers(2, msg))
	if err != nil || !results[0].OK || !results[1].OK {
		t.Fatalf("%v %v", results, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	// Failures too.
	cfg.Password = "wrong"
	if res := Send(context.Background(), cfg, env(), bytes.NewReader(msg)); res.OK || res.Stage != StageAuth {
		t.Fatalf("%+v", res)
	}
}

func TestSendManyInputErrors(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{MaxSize: 100})
	c, err := Dial(context.Background(), cfgFor(s, TLSNone))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	// One bad envelope and one too large body among good ones: only those fail.
	e := []Envelope{env(), {From: "a@herald.test", To: []string{"bad\r\naddress@x.test"}}, env(), env()}
	bodies := []io.Reader{bytes.NewReader(msg), bytes.NewReader(msg), bytes.NewReader(bytes.Repeat([]byte("x"), 200)), bytes.NewReader(msg)}
	results, err := c.SendMany(context.Background(), e, bodies)
	var te *Error
	if err != nil || !results[0].OK || results[1].OK || !errors.As(results[1].Err, &te) || te.Kind != KindInput ||
		results[2].OK || !errors.As(results[2].Err, &te) || te.Kind != KindSize || !results[3].OK {
		t.Fatalf("%v: %+v %+v %+v %+v", err, results[0], results[1], results[2], results[3])
	}
	if n := len(s.Messages()); n != 2 {
		t.Fatalf("%d messages", n)
	}
	if results, err := c.SendMany(context.Background(), envs(2), readers(1, msg)); err == nil || len(results) != 2 || results[1].OK {
		t.Fatal("mismatched lengths accepted")
	}
	// A canceled context sends nothing more.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err = c.SendMany(ctx, envs(2), readers(2, msg))
	if err == nil || results[0].OK || results[1].OK {
		t.Fatalf("canceled: %v %+v", err, results[0])
	}
}

// oldDataWriter is the byte-at-a-time algorithm the run-based dataWriter
// replaced: the reference for TestDataWriterMatchesReference.
func oldDataWriter(chunks [][]byte) string {
	var b strings.Builder
	state := 0
	for _, p := range chunks {
		for _, c := range p {
			if state == 2 {
				b.WriteString("\r\n")
				state = 0
				if c == '\n' {
					continue
				}
			}
			switch c {
			case '\r':
				state = 2
				continue
			case '\n':
				b.WriteString("\r\n")
				state = 0
				continue
			case '.':
				if state == 0 {
					b.WriteByte('.')
				}
			}
			b.WriteByte(c)
			state = 1
		}
	}
	if state != 0 {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}

func TestDataWriterMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab.\r\n.\r\nxyz")
	for iter := 0; iter < 3000; iter++ {
		body := make([]byte, rnd.IntN(200))
		for i := range body {
			body[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		var chunks [][]byte
		for rest := body; len(rest) > 0; {
			n := 1 + rnd.IntN(len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		var out bytes.Buffer
		c := &Client{cfg: Config{Timeout: time.Second}, raw: nopConn{}}
		c.bw = bufioWriter(&out)
		dw := &dataWriter{c: c, enc: DotWriter{w: c.bw}}
		for _, ch := range chunks {
			if _, err := dw.Write(ch); err != nil {
				t.Fatal(err)
			}
		}
		if err := dw.end(); err != nil {
			t.Fatal(err)
		}
		c.bw.Flush()
		if want := oldDataWriter(chunks); out.String() != want {
			t.Fatalf("body %q in chunks %q:\ngot  %q\nwant %q", body, chunks, out.String(), want)
		}
		if dw.enc.Bytes() != int64(len(body)) {
			t.Fatalf("counted %d bytes of %d", dw.enc.Bytes(), len(body))
		}
	}
}

func TestSplitEnhancedMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\b`)
	cases := []string{"2.0.0 ok", "5.1.1 no", "4.7.0", "5.7.139 text", "5.1.1000 x", "5.1.", "5..1 x", "2.0.0ok", "2.0.0_x", "2.0.0-x",
		"3.0.0 x", "5.1234.1 x", "", "5", "5.1.1\tx", "550 5.1.1", " 5.1.1 x", "2.0.0.1 x", "4.4.2: bye"}
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		b := make([]byte, rnd.IntN(9))
		for j := range b {
			b[j] = "245.0139 x_"[rnd.IntN(11)]
		}
		cases = append(cases, string(b))
	}
	for _, text := range cases {
		for _, code := range []int{250, 451, 550} {
			want, rest := "", text
			if m := re.FindStringSubmatch(text); m != nil && m[1] == strconv.Itoa(code/100) {
				want, rest = m[0], strings.TrimSpace(text[len(m[0]):])
			}
			gotE, gotR := splitEnhanced(code, text)
			if gotE != want || gotR != rest {
				t.Fatalf("splitEnhanced(%d, %q) = %q, %q; want %q, %q", code, text, gotE, gotR, want, rest)
			}
		}
	}
}

func TestParsePipelining(t *testing.T) {
	for in, want := range map[string]Pipelining{"": PipeliningAuto, "auto": PipeliningAuto, "ON": PipeliningOn, "off": PipeliningOff} {
		if got, err := ParsePipelining(in); err != nil || got != want {
			t.Errorf("ParsePipelining(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePipelining("sometimes"); err == nil {
		t.Error("bad mode accepted")
	}
	var zero Config
	if zero.Pipelining != PipeliningAuto || PipeliningOn.String() != "on" {
		t.Error("the zero value is not auto")
	}
	if _, err := Dial(context.Background(), Config{Host: "127.0.0.1", Port: 1, Pipelining: 7}); err == nil {
		t.Error("unknown pipelining mode accepted")
	}
}

// nopConn is a net.Conn whose deadlines are accepted and ignored, for
// driving a dataWriter without a network.
type nopConn struct{ net.Conn }

func (nopConn) SetDeadline(time.Time) error { return nil }

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64) }
