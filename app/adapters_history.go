package app

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/ui"
)

// HistoryAdapter implements ui.HistoryCore over the core's history.
type HistoryAdapter struct {
	c *core.Core
	// body caches the last message read, so that paging through a large
	// source reads and inflates it once.
	mu     sync.Mutex
	bodyID int64
	body   []byte
}

var _ ui.HistoryCore = (*HistoryAdapter)(nil)

// NewHistoryAdapter returns the History view's adapter over gc's core (nil
// for the view list checked before the window opens).
func NewHistoryAdapter(gc *GUICore) *HistoryAdapter {
	if gc == nil {
		return &HistoryAdapter{}
	}
	return &HistoryAdapter{c: gc.c}
}

// HistoryList implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryList(ctx context.Context, q history.Query) (history.Page, error) {
	return a.c.History.List(ctx, q)
}

// HistoryCount implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryCount(ctx context.Context, q history.Query) (int, error) {
	return a.c.History.Count(ctx, q)
}

// HistoryRecord implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryRecord(ctx context.Context, id int64) (*history.Record, error) {
	return a.c.History.Get(ctx, id)
}

// maxAttempts bounds the attempts shown with one message.
const maxAttempts = 50

// HistoryAttempts implements ui.HistoryCore: every attempt of r's outbox
// item, oldest first; r alone for a direct send.
func (a *HistoryAdapter) HistoryAttempts(ctx context.Context, r *history.Record) ([]*history.Record, error) {
	if r.QueueItem == 0 {
		return []*history.Record{r}, nil
	}
	page, err := a.c.History.List(ctx, history.Query{QueueItem: r.QueueItem, Limit: maxAttempts})
	if err != nil {
		return nil, err
	}
	out := make([]*history.Record, 0, len(page.Records))
	for i := len(page.Records) - 1; i >= 0; i-- {
		if page.Records[i].ID == r.ID {
			out = append(out, r)
			continue
		}
		full, err := a.c.History.Get(ctx, page.Records[i].ID)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}

func (a *HistoryAdapter) raw(ctx context.Context, id int64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bodyID == id && a.body != nil {
		return a.body, nil
	}
	b, err := a.c.Store.HistoryBody(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("message %d was recorded without its content: %w", id, err)
	}
	a.bodyID, a.body = id, b
	return b, nil
}

// maxPart bounds the text and HTML shown in the Message tab; the Source tab
// pages through the rest.
const maxPart = 256 << 10

// HistoryParts implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryParts(ctx context.Context, id int64) (ui.MessageParts, error) {
	raw, err := a.raw(ctx, id)
	if err != nil {
		return ui.MessageParts{}, err
	}
	p, _ := message.Parse(raw) // a broken message shows what could be read of it
	cut := func(s string) string {
		if len(s) > maxPart {
			return s[:maxPart] + fmt.Sprintf("\n… (%d more bytes: see the Source tab)", len(s)-maxPart)
		}
		return s
	}
	out := ui.MessageParts{Text: cut(p.Text)}
	for _, h := range p.Headers {
		out.Headers = append(out.Headers, [2]string{h.Name, h.Value})
	}
	if p.HasHTML {
		// Bounded like the text: the Source tab pages through the rest.
		out.HTML = message.HTMLDocument(p.HTML, message.HTMLOptions{Parts: p.Parts, MaxText: maxPart})
		out.HTMLText = out.HTML.Text()
	}
	for _, at := range p.Parts {
		name := at.Name
		if name == "" {
			name = "(unnamed)"
		}
		out.Attachments = append(out.Attachments, fmt.Sprintf("%s (%s, %d bytes)", name, at.Type, at.Size()))
	}
	return out, nil
}

// HistorySource implements ui.HistoryCore.
func (a *HistoryAdapter) HistorySource(ctx context.Context, id int64, offset, n int) (string, int, error) {
	raw, err := a.raw(ctx, id)
	if err != nil {
		return "", 0, err
	}
	if offset > len(raw) {
		offset = len(raw)
	}
	end := min(len(raw), offset+n)
	return string(raw[offset:end]), len(raw), nil
}

// HistoryExport implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryExport(ctx context.Context, id int64, w io.Writer) error {
	return a.c.History.Export(ctx, id, w)
}

// HistoryDraft implements ui.HistoryCore.
func (a *HistoryAdapter) HistoryDraft(ctx context.Context, id int64) (message.Draft, error) {
	return a.c.HistoryDraft(ctx, id)
}

// Redirect implements ui.HistoryCore.
func (a *HistoryAdapter) Redirect(ctx context.Context, id int64, profile string, to []string) ui.Outcome {
	var p *account.Profile
	if profile != "" {
		var err error
		if p, err = a.c.Book.Get(ctx, profile); err != nil {
			return ui.Outcome{Summary: "Not redirected: " + err.Error()}
		}
	}
	r := a.c.Redirect(ctx, id, p, to)
	if r.Err != nil {
		return ui.Outcome{Summary: "Not redirected: " + message.Explain(r.Err)}
	}
	out := Outcome(r.Result, r.MessageID, r.Transcript)
	out.Summary = "Redirect: " + out.Summary
	return out
}

// ProfileNames implements ui.HistoryCore.
func (a *HistoryAdapter) ProfileNames(ctx context.Context) (map[string]string, error) {
	return a.c.ProfileNames(ctx), nil
}

// Daily implements ui.HistoryCore.
func (a *HistoryAdapter) Daily(ctx context.Context, since time.Time, profile string) ([]history.Day, error) {
	return a.c.History.Daily(ctx, since, profile)
}

// WatchHistory implements ui.HistoryCore.
func (a *HistoryAdapter) WatchHistory() *feed.Sub { return a.c.Feed.Subscribe(256, feed.History) }
