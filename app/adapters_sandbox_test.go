package app

import (
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/ui"
)

// TestSandboxAdapterOverTheCore: a message sent to the sandbox through the
// window's send shows in the adapter's inbox, taken apart with its checks
// (and compared with its history copy); settings restart the server.
func TestSandboxAdapterOverTheCore(t *testing.T) {
	g, c, _ := openGUICore(t)
	a := NewSandboxAdapter(c)
	a.Offline = true
	ctx := context.Background()
	updates, stop := a.SandboxUpdates()
	defer stop()
	out := g.Send(ctx, ui.SendSpec{}, message.Draft{From: "ann@example.com", To: []string{"bob@example.net"}, Subject: "adapter test", Text: "hello\n",
		HTML: "<p>Hi <script>x()</script><img src=\"https://t.test/p.gif\"></p>"}, transcript.New())
	if !out.OK {
		t.Fatalf("send: %+v", out)
	}
	select {
	case <-updates:
	case <-time.After(20 * time.Second):
		t.Fatal("no update after the capture")
	}
	items, err := a.SandboxPage(ctx, "adapter", 0, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("page: %v %+v", err, items)
	}
	if n, _ := a.SandboxCount(ctx, "nothing like it"); n != 0 {
		t.Fatalf("count of a search matching nothing: %d", n)
	}
	d, err := a.SandboxDetail(ctx, items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{}
	for _, ch := range d.Checks {
		checks[ch.Name] += ch.Status + " "
	}
	if !strings.HasPrefix(checks["dkim"], "warn") || !strings.Contains(checks["sent"], "pass") || !strings.HasPrefix(checks["headers"], "pass") || !d.HasHTML ||
		strings.Contains(d.HTML, "x()") || !strings.Contains(d.HTML, "not loaded") {
		t.Fatalf("checks %v, html %q", checks, d.HTML)
	}
	if d.Recheck {
		t.Fatal("a message Herald sent and recorded is to be checked again")
	}
	if ui.TitleOf(d) != "message 1 · DKIM: no signature" {
		t.Fatalf("title %q", ui.TitleOf(d))
	}
	if err := a.ApplySandbox(ctx, ui.SandboxForm{Listen: "127.0.0.1:0", MaxSize: "10KB", Faults: "rcpt:550"}); err != nil {
		t.Fatal(err)
	}
	if st := a.SandboxStatus(); !st.Running || !strings.Contains(st.Summary, "limit 9.8 KB") || !strings.Contains(st.Summary, "faults rcpt:550") || !strings.Contains(st.Summary, "no AUTH") {
		t.Fatalf("status %+v", st)
	}
	if err := a.ApplySandbox(ctx, ui.SandboxForm{MaxSize: "lots"}); err == nil {
		t.Fatal("a bad size was accepted")
	}
	if lines, err := a.DescribeFaults("rcpt:550:20,delay:2s"); err != nil || len(lines) != 2 || !strings.Contains(lines[0], "about 20%") {
		t.Fatalf("describe: %v %q", err, lines)
	}
	if err := a.DeleteSandboxMessage(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := a.ClearSandbox(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxDetailRechecksAFreshCaptureWithoutItsSentCopy: a message that
// has just arrived with a Message-ID Herald's history does not have (yet)
// is marked for a second look; one without a Message-ID is not.
func TestSandboxDetailRechecksAFreshCaptureWithoutItsSentCopy(t *testing.T) {
	_, c, _ := openGUICore(t)
	a := NewSandboxAdapter(c)
	a.Offline = true
	ctx := context.Background()
	addr := c.SandboxState().Addr
	for i, msg := range []string{
		"From: ann@example.com\r\nTo: bob@example.net\r\nSubject: with id\r\nMessage-ID: <fresh-1@example.com>\r\n\r\nhi\r\n",
		"From: ann@example.com\r\nTo: bob@example.net\r\nSubject: without id\r\n\r\nhi\r\n",
	} {
		if err := smtp.SendMail(addr, nil, "ann@example.com", []string{"bob@example.net"}, []byte(msg)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	items, err := a.SandboxPage(ctx, "", 0, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("page: %v %+v", err, items)
	}
	for _, it := range items {
		d, err := a.SandboxDetail(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		withID := strings.Contains(string(d.Raw), "Message-ID")
		if d.Recheck != withID {
			t.Fatalf("message %d (Message-ID %v): recheck %v", it.ID, withID, d.Recheck)
		}
	}
}
