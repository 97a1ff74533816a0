package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transport"
)

// The settings that hold the history's retention (see HistoryRetention).
const (
	SettingKeepDays     = "history.keep-days"
	SettingKeepMessages = "history.keep-messages"
	// SettingTranscripts is "all" (the default) or "failures".
	SettingTranscripts = "history.transcripts"
)

// Transcripts values of SettingTranscripts.
const (
	TranscriptsAll      = "all"
	TranscriptsFailures = "failures"
)

// HistoryRetention returns the retention kept in the settings; zero values
// keep everything.
func (c *Core) HistoryRetention(ctx context.Context) (history.Retention, error) {
	var r history.Retention
	num := func(name string) (int, error) {
		v, err := c.Store.Setting(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("setting %s: %q is not a count", name, v)
		}
		return n, nil
	}
	var err error
	if r.KeepDays, err = num(SettingKeepDays); err != nil {
		return r, err
	}
	if r.KeepMessages, err = num(SettingKeepMessages); err != nil {
		return r, err
	}
	v, err := c.Store.Setting(ctx, SettingTranscripts)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return r, err
	default:
		r.TranscriptsFailuresOnly = v == TranscriptsFailures
	}
	return r, nil
}

// SetHistoryRetention keeps r in the settings and applies it at once (the
// history's records beyond it are removed; with failures only, the
// transcripts of sessions that sent everything are forgotten, and not kept
// from now on).
func (c *Core) SetHistoryRetention(ctx context.Context, r history.Retention) (history.Pruned, error) {
	if r.KeepDays < 0 || r.KeepMessages < 0 {
		return history.Pruned{}, fmt.Errorf("retention: a count cannot be negative (%d days, %d messages)", r.KeepDays, r.KeepMessages)
	}
	// One apply at a time, and none between storing and applying: the one
	// Open starts in the background would otherwise apply the new settings
	// first and leave this call nothing to report.
	c.retentionMu.Lock()
	defer c.retentionMu.Unlock()
	count := func(n int) string {
		if n == 0 {
			return "" // removes the setting: keep everything
		}
		return strconv.Itoa(n)
	}
	tr := TranscriptsAll
	if r.TranscriptsFailuresOnly {
		tr = TranscriptsFailures
	}
	for _, kv := range [][2]string{{SettingKeepDays, count(r.KeepDays)}, {SettingKeepMessages, count(r.KeepMessages)}, {SettingTranscripts, tr}} {
		if err := c.Store.SetSetting(ctx, kv[0], kv[1]); err != nil {
			return history.Pruned{}, err
		}
		c.Feed.Publish(feed.Event{Topic: feed.Settings, Text: kv[0]})
	}
	return c.applyHistoryRetention(ctx)
}

// ApplyHistoryRetention enforces the stored retention once (Open does it in
// the background, and PurgeHistory after a purge).
func (c *Core) ApplyHistoryRetention(ctx context.Context) (history.Pruned, error) {
	c.retentionMu.Lock()
	defer c.retentionMu.Unlock()
	return c.applyHistoryRetention(ctx)
}

func (c *Core) applyHistoryRetention(ctx context.Context) (history.Pruned, error) {
	r, err := c.HistoryRetention(ctx)
	if err != nil {
		return history.Pruned{}, err
	}
	c.History.SetTranscriptsFailuresOnly(r.TranscriptsFailuresOnly)
	p, err := c.History.ApplyRetention(ctx, r)
	if err != nil {
		return p, err
	}
	if p.Records > 0 || p.Transcripts > 0 {
		c.Feed.Publish(feed.Event{Topic: feed.History, Text: "pruned"})
	}
	return p, nil
}

// PurgeHistory removes the records that finished before olderThan, then
// applies the retention; it returns how many records went in all.
func (c *Core) PurgeHistory(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := c.History.Purge(ctx, olderThan)
	if err != nil {
		return n, err
	}
	if n > 0 {
		c.Feed.Publish(feed.Event{Topic: feed.History, Text: "purged"})
	}
	p, err := c.ApplyHistoryRetention(ctx)
	return n + p.Records, err
}

// HistoryDraft turns recorded message id back into a draft for Compose (a
// resend): sender, recipients, subject and text (the HTML part's text when
// there is no plain one). Attachments are not carried over (the draft names
// files, and the files are not kept). A broken message gives what could be
// read of it.
func (c *Core) HistoryDraft(ctx context.Context, id int64) (message.Draft, error) {
	raw, err := c.Store.HistoryBody(ctx, id)
	if err != nil {
		return message.Draft{}, fmt.Errorf("history record %d: %w", id, err)
	}
	d, _ := message.DraftFromMessage(raw)
	if d.Text == "" {
		d.Text = message.HTMLText(d.HTML)
	}
	d.HTML, d.Attachments = "", nil
	return d, nil
}

// RedirectResult is what Redirect did.
type RedirectResult struct {
	*SendResult
	// Err is set when the message could not be redirected at all (no
	// body kept, a bad address); SendResult is then nil.
	Err error
}

// Redirect sends recorded message id, unchanged but for a Resent- block
// (RFC 5322 3.6.6), to new recipients through profile p (nil: the
// sandbox). The send is recorded in the history like any other.
func (c *Core) Redirect(ctx context.Context, id int64, p *account.Profile, to []string) RedirectResult {
	raw, err := c.Store.HistoryBody(ctx, id)
	if err != nil {
		return RedirectResult{Err: fmt.Errorf("history record %d has no message to redirect: %w", id, err)}
	}
	cfg, err := c.ProfileConfig(p, "")
	if err != nil {
		return RedirectResult{Err: err}
	}
	from := "Herald <herald@localhost>"
	if p != nil {
		from = p.From()
	}
	out, err := message.Resend(raw, message.ResendOptions{From: from, To: to})
	if err != nil {
		return RedirectResult{Err: err}
	}
	env, err := message.ParseAddress("from", from)
	if err != nil {
		return RedirectResult{Err: err}
	}
	var rcpts []string
	for _, a := range to {
		addr, err := message.ParseAddress("to", a)
		if err != nil {
			return RedirectResult{Err: err}
		}
		rcpts = append(rcpts, addr)
	}
	rec, _ := c.History.Get(ctx, id)
	req := SendRequest{Profile: p, Config: cfg, Envelope: transport.Envelope{From: env, To: rcpts}, Message: out}
	if rec != nil {
		req.MessageID, req.Subject = rec.MessageID, rec.Subject
	}
	if p != nil {
		req.Fallbacks = Fallbacks(p, cfg)
	}
	return RedirectResult{SendResult: c.Send(ctx, req)}
}
