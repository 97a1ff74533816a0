package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/ui"
)

// OutboxAdapter implements ui.OutboxCore over the core's outbox, history
// and runner.
type OutboxAdapter struct {
	c *core.Core
}

var _ ui.OutboxCore = (*OutboxAdapter)(nil)

// Outbox returns the Outbox view's adapter (nil without a core: the view
// names are being checked).
func (g *GUICore) Outbox() ui.OutboxCore {
	if g == nil {
		return nil
	}
	return &OutboxAdapter{c: g.c}
}

// Notifier returns what shows the window's desktop notifications (nil
// before BuildShell set it).
func (g *GUICore) Notifier() ui.Notifier {
	if g == nil || g.notifier == nil {
		return nil
	}
	return g.notifier
}

func filterOf(q ui.OutboxQuery) queue.Filter {
	f := queue.Filter{Profile: q.Profile, Batch: q.Batch, Search: q.Search}
	for _, s := range q.States {
		f.States = append(f.States, string(s))
	}
	return f
}

// Page implements ui.OutboxCore: newest first, with the recipients.
func (a *OutboxAdapter) Page(ctx context.Context, q ui.OutboxQuery, offset, limit int) ([]queue.Item, error) {
	f := filterOf(q)
	f.Order, f.Offset, f.Limit, f.WithRecipients = queue.OrderNewest, offset, limit, true
	return a.c.Queue.List(ctx, f)
}

// Counts implements ui.OutboxCore.
func (a *OutboxAdapter) Counts(ctx context.Context, q ui.OutboxQuery) (map[queue.State]int, error) {
	return a.c.Queue.CountBy(ctx, filterOf(q))
}

// ProfileNames implements ui.OutboxCore and ui.LiveLogCore.
func (a *OutboxAdapter) ProfileNames(ctx context.Context) map[string]string {
	return a.c.ProfileNames(ctx)
}

// Batches implements ui.OutboxCore.
func (a *OutboxAdapter) Batches(ctx context.Context) ([]string, error) { return a.c.Queue.Batches(ctx) }

// Item implements ui.OutboxCore.
func (a *OutboxAdapter) Item(ctx context.Context, id int64) (*queue.Item, error) {
	return a.c.Queue.Get(ctx, id)
}

// Change implements ui.OutboxCore through core.Change (which tells the
// feed and wakes the runner).
func (a *OutboxAdapter) Change(ctx context.Context, op string, ids []int64, all *ui.OutboxQuery) (int, []string, error) {
	if all != nil {
		items, err := a.c.Queue.List(ctx, filterOf(*all))
		if err != nil {
			return 0, nil, err
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
	}
	n, errs, err := a.c.Change(ctx, core.QueueOp(op), core.Selection{IDs: ids})
	var words []string
	for _, e := range errs {
		words = append(words, itemProblem(e))
	}
	return n, words, err
}

// itemProblem words why an action did not apply to one message.
func itemProblem(e core.ItemError) string {
	if errors.Is(e.Err, queue.ErrState) {
		if i := strings.Index(e.Err.Error(), " is "); i >= 0 {
			state, _, _ := strings.Cut(e.Err.Error()[i+4:], ":")
			return fmt.Sprintf("message %d is %s", e.ID, state)
		}
	}
	return e.Error()
}

// Draft implements ui.OutboxCore: the queued message read back (text,
// HTML, attachments, recipients; Bcc from the envelope).
func (a *OutboxAdapter) Draft(ctx context.Context, id int64) (message.Draft, error) {
	it, err := a.c.Queue.Get(ctx, id)
	if err != nil {
		return message.Draft{}, err
	}
	body, err := a.c.Queue.Body(ctx, id)
	if err != nil {
		return message.Draft{}, err
	}
	p, err := message.ReadEML(body)
	if err != nil {
		return message.Draft{}, fmt.Errorf("read message %d: %w", id, err)
	}
	return draftOf(p, it)
}

// draftOf turns a stored message into a draft.
func draftOf(p *message.Parsed, it *queue.Item) (message.Draft, error) {
	m, err := mail.ReadMessage(bytes.NewReader(p.Bytes))
	if err != nil {
		return message.Draft{}, fmt.Errorf("read the message: %w", err)
	}
	d := message.Draft{Subject: p.Subject, From: m.Header.Get("From"), ReplyTo: m.Header.Get("Reply-To")}
	list := func(h string) []string {
		as, err := m.Header.AddressList(h)
		if err != nil {
			return nil
		}
		var out []string
		for _, a := range as {
			out = append(out, a.String())
		}
		return out
	}
	d.To, d.Cc = list("To"), list("Cc")
	shown := map[string]bool{}
	for _, h := range []string{"To", "Cc"} {
		as, _ := m.Header.AddressList(h)
		for _, a := range as {
			shown[strings.ToLower(a.Address)] = true
		}
	}
	for _, r := range it.Recipients {
		if !shown[strings.ToLower(r.Addr)] {
			d.Bcc = append(d.Bcc, r.Addr)
		}
	}
	if err := walkPart(m.Header, m.Body, &d, 0); err != nil {
		return d, err
	}
	return d, nil
}

// header is the part of a MIME header walkPart reads.
type header interface{ Get(string) string }

// walkPart fills d's text, HTML and attachments from one MIME part.
func walkPart(h header, r io.Reader, d *message.Draft, depth int) error {
	if depth > 8 {
		return errors.New("the message nests its parts too deep")
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ct = "text/plain"
	}
	if strings.HasPrefix(ct, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read a part: %w", err)
			}
			if err := walkPart(part.Header, part, d, depth+1); err != nil {
				return err
			}
		}
	}
	var data []byte
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		data, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, newlineStripper{r}))
	case "quoted-printable":
		data, err = io.ReadAll(quotedprintable.NewReader(r))
	default:
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return fmt.Errorf("decode a part: %w", err)
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case disp != "attachment" && ct == "text/plain" && d.Text == "":
		d.Text = strings.ReplaceAll(string(data), "\r\n", "\n")
	case disp != "attachment" && ct == "text/html" && d.HTML == "":
		d.HTML = string(data)
	default:
		if name == "" {
			name = "attachment"
		}
		d.Attachments = append(d.Attachments, message.Attachment{Name: name, Data: data, ContentType: ct})
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies are folded with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, b := range p[:k] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// Attempts implements ui.OutboxCore: the history's records of the item,
// oldest first, each with its own session lines.
func (a *OutboxAdapter) Attempts(ctx context.Context, id int64) ([]ui.OutboxAttempt, error) {
	page, err := a.c.History.List(ctx, history.Query{QueueItem: id, Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []ui.OutboxAttempt
	for _, r := range slices.Backward(page.Records) {
		full, err := a.c.History.Get(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		summary := string(full.State)
		if full.Code != 0 || full.Error != "" {
			summary += strings.TrimRight(fmt.Sprintf(": %d %s %s", full.Code, full.Enhanced, full.Error), " ")
		}
		at := ui.OutboxAttempt{When: full.Started, Summary: summary}
		for _, e := range full.OwnTranscript() {
			at.Lines = append(at.Lines, e.String())
		}
		out = append(out, at)
	}
	return out, nil
}

// Runner implements ui.OutboxCore.
func (a *OutboxAdapter) Runner() ui.RunnerStatus {
	return ui.RunnerStatus{Running: a.c.RunnerRunning(), Paused: a.c.RunnerPaused()}
}

// PauseRunner implements ui.OutboxCore.
func (a *OutboxAdapter) PauseRunner(pause bool) { a.c.PauseRunner(pause) }

// Events implements ui.OutboxCore.
func (a *OutboxAdapter) Events() *feed.Sub { return a.c.Feed.Subscribe(4096, feed.Queue, feed.Runner) }

// WatchNotices implements ui.OutboxCore: the core's notices in words.
func (a *OutboxAdapter) WatchNotices(ctx context.Context, notify func(ui.OutboxNotice)) func() {
	return a.c.WatchNotices(ctx, func(n core.Notice) {
		switch n.Kind {
		case core.NoticeFailed:
			it := n.Item
			names := a.c.ProfileNames(ctx)
			to := ""
			if len(it.Recipients) > 0 {
				to = it.Recipients[0].Addr
				if len(it.Recipients) > 1 {
					to += fmt.Sprintf(" and %d more", len(it.Recipients)-1)
				}
			}
			reply := it.LastError
			if it.LastCode != 0 && !strings.Contains(reply, strconv.Itoa(it.LastCode)) {
				reply = strconv.Itoa(it.LastCode) + " " + reply
			}
			notify(ui.OutboxNotice{Title: "Message not delivered",
				Body: fmt.Sprintf("%q to %s (via %s) failed for good: %s", it.Subject, to, names[it.Profile], reply)})
		case core.NoticeBatchDrained:
			var parts []string
			for _, st := range queue.AllStates {
				if k := n.Counts[st]; k > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", k, st))
				}
			}
			notify(ui.OutboxNotice{Title: "Bulk batch finished", Body: n.Batch + ": " + strings.Join(parts, ", ")})
		}
	})
}
