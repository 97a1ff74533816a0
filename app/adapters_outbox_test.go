package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/ui"
)

type recNotes struct {
	mu   sync.Mutex
	list []string
}

func (n *recNotes) Notify(title, body string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, title+": "+body)
}

func (n *recNotes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.list)
}

// TestOutboxAdapterDraftRoundTrip queues a message with text, HTML, an
// attachment and a Bcc, and reads it back as Compose would get it.
func TestOutboxAdapterDraftRoundTrip(t *testing.T) {
	c := openTestCore(t, newMemSecrets())
	d := message.Draft{From: "Ann <ann@example.com>", To: []string{"bob@example.com"}, Cc: []string{"Carol <carol@example.com>"},
		Bcc: []string{"dave@example.com"}, Subject: "Grüße, round trip", Text: "Hello Bob,\nline two with = and ü.\n",
		HTML: "<p>Hello <b>Bob</b></p>", Attachments: []message.Attachment{{Name: "notes.txt", Data: []byte("attached data\n"), ContentType: "text/plain"}}}
	id, _, err := c.QueueDraft(context.Background(), nil, d, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a := NewGUICore(c).Outbox()
	got, err := a.Draft(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != d.Subject || got.Text != d.Text || got.HTML != d.HTML {
		t.Fatalf("subject %q text %q html %q", got.Subject, got.Text, got.HTML)
	}
	if !slices.Equal(got.To, []string{"<bob@example.com>"}) || len(got.Cc) != 1 || !strings.Contains(got.Cc[0], "carol@example.com") ||
		!slices.Equal(got.Bcc, []string{"dave@example.com"}) || !strings.Contains(got.From, "ann@example.com") {
		t.Fatalf("addresses: from %q to %v cc %v bcc %v", got.From, got.To, got.Cc, got.Bcc)
	}
	if len(got.Attachments) != 1 || got.Attachments[0].Name != "notes.txt" || string(got.Attachments[0].Data) != "attached data\n" {
		t.Fatalf("attachments = %+v", got.Attachments)
	}
	// The copy renders again (Compose can queue it).
	if _, err := message.Render(got); err != nil {
		t.Fatalf("the copy does not render: %v", err)
	}
}

// TestOutboxViewOverTheCore queues messages from another core on the same
// data directory (as `herald send --queue` would): the window's table shows
// them without a restart, the runner sends them to the sandbox, the
// actions and the permanent-failure notice work over the real store.
func TestOutboxViewOverTheCore(t *testing.T) {
	c := openTestCore(t, newMemSecrets())
	if err := c.StartRunner(core.RunOptions{Retry: queue.DefaultRetryPolicy(), Lines: true}); err != nil {
		t.Fatal(err)
	}
	c.PauseRunner(true)
	a := test.NewTempApp(t)
	q := make(chan func(), 4096)
	gc := NewGUICore(c)
	notes := &recNotes{}
	gc.notifier = notes
	s := BuildShell(a, gc, func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	s.Start(context.Background())
	var v *ui.Outbox
	var log *ui.LiveLog
	for _, x := range s.Views() {
		switch x := x.(type) {
		case *ui.Outbox:
			v = x
		case *ui.LiveLog:
			log = x
		}
	}
	if err := s.Open("log", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Open("outbox", nil); err != nil {
		t.Fatal(err)
	}
	pump(t, q, "the paused runner", func() bool { return strings.Contains(v.RunnerText(), "paused") })

	other, err := core.Open(context.Background(), c.DataDir, core.Options{Secrets: newMemSecrets()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i := range 3 {
		if _, _, err := other.QueueDraft(context.Background(), nil, message.Draft{From: "cli@example.com", To: []string{fmt.Sprintf("r%d@example.com", i)},
			Subject: fmt.Sprintf("queued by the CLI %d", i), Text: "hi"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	pump(t, q, "the CLI's messages in the table", func() bool { return v.Cell(0, 3) == "queued by the CLI 2" && v.Badge() == "3" })
	if v.Cell(0, 0) != "Queued" || v.Cell(0, 1) != "sandbox" || v.Cell(0, 2) != "r2@example.com" {
		t.Fatalf("row = %q %q %q", v.Cell(0, 0), v.Cell(0, 1), v.Cell(0, 2))
	}
	v.SelectRow(2, 0) // the oldest
	v.HoldButton.OnTapped()
	pump(t, q, "the hold", func() bool { return v.Cell(2, 0) == "Held" })

	v.PauseButton.OnTapped() // resume
	pump(t, q, "two sent", func() bool { return v.Cell(0, 0) == "Sent" && v.Cell(1, 0) == "Sent" && v.Badge() == "" })
	if v.Cell(2, 0) != "Held" {
		t.Fatalf("the held message changed: %q", v.Cell(2, 0))
	}
	pump(t, q, "the outbox session in the live log", func() bool { return log.Kept() > 0 && strings.Contains(log.Line(0), "outbox-sandbox") })

}

// TestOutboxNoticesInWords: a message the server refuses for good, and its
// batch drained, become two notifications in a person's words.
func TestOutboxNoticesInWords(t *testing.T) {
	c, err := core.Open(context.Background(), t.TempDir(), core.Options{Secrets: newMemSecrets(),
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone, Faults: []sandbox.Fault{{Stage: sandbox.StageData, Code: 554}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan ui.OutboxNotice, 8)
	stop := NewGUICore(c).Outbox().WatchNotices(context.Background(), func(n ui.OutboxNotice) { got <- n })
	defer stop()
	if _, err := c.Enqueue(context.Background(), queue.Message{Profile: core.SandboxProfile, From: "me@example.com", To: []string{"nobody@example.com"},
		Subject: "refused", Body: []byte("Subject: refused\r\n\r\nx\r\n"), Batch: "bulk-x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.StartRunner(core.RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for len(texts) < 2 {
		select {
		case n := <-got:
			texts = append(texts, n.Title+": "+n.Body)
		case <-time.After(15 * time.Second):
			t.Fatalf("notices: %q", texts)
		}
	}
	if !strings.HasPrefix(texts[0], `Message not delivered: "refused" to nobody@example.com (via sandbox) failed for good: `) || !strings.Contains(texts[0], "554") ||
		texts[1] != "Bulk batch finished: bulk-x: 1 failed" {
		t.Fatalf("notices: %q", texts)
	}
}

// BenchmarkOutboxRefreshStore10k measures what one refresh of the outbox
// asks the real store, with 10,000 items: the counts and the first page
// with its recipients (off the UI goroutine).
func BenchmarkOutboxRefreshStore10k(b *testing.B) {
	c, err := core.Open(context.Background(), b.TempDir(), core.Options{Secrets: newMemSecrets()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var ms []queue.Message
	for i := range 10_000 {
		ms = append(ms, queue.Message{Profile: core.SandboxProfile, From: "me@example.com", To: []string{fmt.Sprintf("r%d@example.com", i)},
			Subject: fmt.Sprintf("message %d", i), Body: []byte("Subject: x\r\n\r\nx\r\n"), Batch: "bulk-bench"})
	}
	if _, err := c.Queue.EnqueueBatch(context.Background(), ms); err != nil {
		b.Fatal(err)
	}
	a := NewGUICore(c).Outbox()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Counts(ctx, ui.OutboxQuery{}); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Page(ctx, ui.OutboxQuery{}, (i%100)*100, 100); err != nil {
			b.Fatal(err)
		}
	}
}
