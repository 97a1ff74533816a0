package history_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/internal/smtptest"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// realSession sends one message with a refused recipient over a real SMTP
// session with STARTTLS and returns the record a direct send makes of it.
func realSession(t *testing.T) (history.SessionRecord, []byte) {
	t.Helper()
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "127.0.0.1")
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, StartTLS: true, RefuseRcpt: map[string]*smtp.SMTPError{
		"gone@herald.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
	}})
	rec := transcript.New()
	cfg := transport.Config{Host: srv.Host, Port: srv.Port, TLS: transport.TLSStartTLS, RootCAs: ca.Pool,
		Auth: transport.AuthNone, Timeout: 5 * time.Second, Transcript: rec}
	body := msg("Quarterly report", "bob@herald.test, gone@herald.test")
	envl := transport.Envelope{From: "ann@herald.test", To: []string{"bob@herald.test", "gone@herald.test"}}
	start := time.Now()
	res := transport.Send(context.Background(), cfg, envl, bytes.NewReader(body))
	rec.Finish()
	if res.TLS == nil {
		t.Fatalf("no TLS: %+v", res)
	}
	return history.SessionRecord{Started: start, Finished: time.Now(), Profile: "p1", ProfileName: "Work", Server: srv.Addr,
		TLS: res.TLS, Transcript: rec.Events(), Redact: rec.Redact,
		Messages: []history.MessageRecord{{From: envl.From, To: envl.To, Body: body, Result: res}}}, body
}

// TestSpoolRoundTrip spools a real session and imports it: the record is
// the one Record makes of the same session, field for field.
func TestSpoolRoundTrip(t *testing.T) {
	l, _ := openLog(t, history.Options{})
	ctx := context.Background()
	s, body := realSession(t)
	dir := filepath.Join(t.TempDir(), "spool")
	id, err := history.WriteSpool(dir, s)
	if err != nil || id == "" {
		t.Fatalf("WriteSpool = %q, %v", id, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("spool directory: %v, %v; want mode 0700", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, id+history.SpoolSuffix)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spool file: %v, %v; want mode 0600", fi, err)
	}
	direct, err := l.Record(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.ImportSpoolRecords(ctx, dir)
	if err != nil || len(r.Records) != 1 || r.Records[0].Profile != "p1" {
		t.Fatalf("import = %+v, %v", r, err)
	}
	if left, _ := history.SpoolPending(dir); len(left) != 0 {
		t.Errorf("spool files left after the import: %v", left)
	}
	want, err := l.Get(ctx, direct[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(ctx, r.Records[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != history.Partial || got.TLS == "" || len(got.Transcript) == 0 || len(got.Recipients) != 2 {
		t.Errorf("imported record = %+v", got)
	}
	want.ID, want.SessionID = got.ID, got.SessionID
	for i := range want.Transcript {
		// Times come back in the local zone, without a monotonic clock.
		if !want.Transcript[i].Time.Equal(got.Transcript[i].Time) {
			t.Errorf("transcript event %d at %v, want %v", i, got.Transcript[i].Time, want.Transcript[i].Time)
		}
		want.Transcript[i].Time = got.Transcript[i].Time
	}
	for _, p := range [][2]*time.Time{{&want.Queued, &got.Queued}, {&want.Started, &got.Started}, {&want.Finished, &got.Finished}} {
		if !p[0].Equal(*p[1]) {
			t.Errorf("time %v, want %v", *p[1], *p[0])
		}
		*p[0] = *p[1]
	}
	if gs, ws := jsonOf(t, got), jsonOf(t, want); gs != ws {
		t.Errorf("imported record differs from the recorded one:\n got %s\nwant %s", gs, ws)
	}
	var out bytes.Buffer
	if err := l.Export(ctx, got.ID, &out); err != nil || !bytes.Equal(out.Bytes(), body) {
		t.Errorf("export = %q, %v", out.String(), err)
	}
	if n, err := l.Count(ctx, history.Query{Search: "quarterly"}); err != nil || n != 2 {
		t.Errorf("search finds %d records, %v; want 2", n, err)
	}
}

// TestSpoolImportOnce imports the same records again: twice, after a crash
// between the commit and the deletion, and from two importers at once.
func TestSpoolImportOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	var first *store.Store
	open := func() *history.Log {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = st
		}
		l := history.New(st, history.Options{})
		t.Cleanup(func() { l.Close(); st.Close() })
		return l
	}
	l := open()
	dir := filepath.Join(t.TempDir(), "spool")
	spool := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := history.WriteSpool(dir, history.SessionRecord{Server: "mx:25",
				Messages: []history.MessageRecord{{From: "a@x.test", To: []string{"b@x.test"}, Body: msg("m", "b@x.test"), State: history.Sent}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int {
		n, err := l.Count(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	spool(3)
	if n, err := l.ImportSpool(ctx, dir); n != 3 || err != nil {
		t.Fatalf("first import = %d, %v", n, err)
	}
	if n, err := l.ImportSpool(ctx, dir); n != 0 || err != nil || count() != 3 {
		t.Fatalf("second import = %d, %v; %d records", n, err, count())
	}

	// A crash after the commit, before the files were deleted: the files
	// are still there at the next import.
	spool(2)
	saved := map[string][]byte{}
	names, _ := history.SpoolPending(dir)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		saved[n] = b
	}
	if n, err := l.ImportSpool(ctx, dir); n != 2 || err != nil {
		t.Fatalf("import = %d, %v", n, err)
	}
	for n, b := range saved {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.ImportSpool(ctx, dir); n != 0 || err != nil || count() != 5 {
		t.Fatalf("import after the crash = %d, %v; %d records, want 5", n, err, count())
	}
	if left, _ := history.SpoolPending(dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}

	// Two processes (two stores over the file) importing at once.
	spool(20)
	logs := []*history.Log{open(), open()}
	var wg sync.WaitGroup
	got := make([]int, len(logs))
	errs := make([]error, len(logs))
	for i, lg := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = lg.ImportSpool(ctx, dir)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0]+got[1] != 20 || count() != 25 {
		t.Errorf("concurrent imports added %v (%v); %d records, want 25", got, errs, count())
	}
	var sessions int
	if err := first.DB().QueryRow(`SELECT count(*) FROM history_sessions WHERE spool_id IS NOT NULL`).Scan(&sessions); err != nil || sessions != 25 {
		t.Errorf("%d spooled sessions, %v; want 25", sessions, err)
	}
}

// TestSpoolBadFiles: an unreadable file is moved aside and reported, a
// newer format is left for a newer Herald, and the others are imported.
func TestSpoolBadFiles(t *testing.T) {
	l, _ := openLog(t, history.Options{})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "spool")
	rec := history.SessionRecord{Messages: []history.MessageRecord{{From: "a@x.test", To: []string{"b@x.test"}, Body: msg("ok", "b@x.test"), State: history.Sent}}}
	first, err := history.WriteSpool(dir, rec)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, first+history.SpoolSuffix))
	files := map[string][]byte{
		"1-garbage.rec":   []byte("not a spool file\n"),
		"2-truncated.rec": good[:len(good)-5],
		"3-badjson.rec":   []byte("herald-history-spool 1\n{\"id\":\n"),
		"4-newer.rec":     []byte("herald-history-spool 99\n{}\n"),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := history.WriteSpool(dir, rec); err != nil {
		t.Fatal(err)
	}
	r, err := l.ImportSpoolRecords(ctx, dir)
	if len(r.Records) != 2 || len(r.Bad) != 3 || len(r.Left) != 1 || r.Left[0] != "4-newer.rec" {
		t.Errorf("import = %+v", r)
	}
	if err == nil || !errors.Is(err, history.ErrSpoolVersion) || !strings.Contains(err.Error(), "2-truncated.rec") {
		t.Errorf("import error = %v", err)
	}
	for _, n := range []string{"1-garbage.rec", "2-truncated.rec", "3-badjson.rec"} {
		if _, err := os.Stat(filepath.Join(dir, n+history.SpoolBadSuffix)); err != nil {
			t.Errorf("%s not moved aside: %v", n, err)
		}
	}
	if left, _ := history.SpoolPending(dir); len(left) != 1 || left[0] != "4-newer.rec" {
		t.Errorf("spool left = %v, want only the newer file", left)
	}
}

// TestSpoolHoldsNoSecret sends with AUTH PLAIN to a server that echoes the
// credentials in every reply and spools the session with a message that
// quotes the password: no form of it reaches the file.
func TestSpoolHoldsNoSecret(t *testing.T) {
	const user, pw = "ann", "Sw0rdf1sh!secret"
	forms := []string{pw,
		base64.StdEncoding.EncodeToString([]byte(pw)), base64.RawStdEncoding.EncodeToString([]byte(pw)),
		base64.URLEncoding.EncodeToString([]byte(pw)), base64.RawURLEncoding.EncodeToString([]byte(pw)),
		hex.EncodeToString([]byte(pw)), strings.ToUpper(hex.EncodeToString([]byte(pw))),
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw)),
	}
	echo := smtptest.StartEcho(t, smtptest.EchoOptions{Mechanisms: []string{"PLAIN"}, RefuseRcpt: true, Extra: forms})
	rec := transcript.New()
	rec.AddSecret(pw)
	cfg := transport.Config{Host: "127.0.0.1", Port: echo.Port, TLS: transport.TLSNone, Auth: transport.AuthPlain, Username: user,
		Password: pw, AllowInsecureAuth: true, Timeout: 5 * time.Second, Transcript: rec}
	body := []byte("From: ann@x.test\r\nTo: b@x.test\r\nSubject: my password is " + pw + "\r\n\r\n" + strings.Join(forms, "\r\n") + "\r\n")
	res := transport.Send(context.Background(), cfg, transport.Envelope{From: "ann@x.test", To: []string{"b@x.test"}}, bytes.NewReader(body))
	rec.Finish()
	if res.Stage != transport.StageRcpt {
		t.Fatalf("the session ended at %s (%v), want a refused recipient", res.Stage, res.Err)
	}
	dir := filepath.Join(t.TempDir(), "spool")
	id, err := history.WriteSpool(dir, history.SessionRecord{Server: echo.Addr, Err: res.Err, Transcript: rec.Events(), Redact: rec.Redact,
		Messages: []history.MessageRecord{{From: "ann@x.test", To: []string{"b@x.test"}, Subject: "my password is " + pw, Body: body, Result: res}}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, id+history.SpoolSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("no such user")) || !bytes.Contains(data, []byte("AUTH PLAIN")) {
		t.Fatalf("the spool file lacks the session: %s", data)
	}
	for _, f := range forms {
		if bytes.Contains(data, []byte(f)) {
			t.Errorf("the spool file holds the secret form %q", f)
		}
	}
}

// BenchmarkWriteSpool measures writing one small record durably.
func BenchmarkWriteSpool(b *testing.B) {
	dir := b.TempDir()
	s := history.SessionRecord{Server: "mx:25", Transcript: []transcript.Event{{Dir: transcript.Server, Text: "250 ok"}},
		Messages: []history.MessageRecord{{From: "a@x.test", To: []string{"b@x.test"}, Body: msg("m", "b@x.test"), State: history.Sent}}}
	for i := 0; i < b.N; i++ {
		if _, err := history.WriteSpool(dir, s); err != nil {
			b.Fatal(err)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
