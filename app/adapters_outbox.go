package app

import (
	"context"
	"errors"
	"fmt"
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

// draftOf turns a stored message into a draft: the recipients of the
// envelope the message does not show become Bcc.
func draftOf(p *message.Parsed, it *queue.Item) (message.Draft, error) {
	d, err := message.DraftFromMessage(p.Bytes)
	if err != nil {
		return d, fmt.Errorf("read the message: %w", err)
	}
	if p.Subject != "" {
		d.Subject = p.Subject
	}
	shown := map[string]bool{}
	for _, a := range append(append([]string(nil), d.To...), d.Cc...) {
		if addr, err := mail.ParseAddress(a); err == nil {
			shown[strings.ToLower(addr.Address)] = true
		}
	}
	for _, r := range it.Recipients {
		if !shown[strings.ToLower(r.Addr)] {
			d.Bcc = append(d.Bcc, r.Addr)
		}
	}
	return d, nil
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
