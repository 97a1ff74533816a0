package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// SavedDraft is a message being written, as a front end keeps it between
// sessions: the message and the sending options that are not part of it.
type SavedDraft struct {
	// ID is the stored draft's id; 0 before it is first saved.
	ID int64 `json:"-"`
	// Profile names the profile it is written for ("" : the sandbox).
	Profile string `json:"profile,omitempty"`
	// Message is the message itself.
	Message message.Draft `json:"message"`
	// DSNNotify, DSNReturn and DSNEnvID are the delivery status
	// notification options as typed (see transport.ParseDSN).
	DSNNotify string `json:"dsn_notify,omitempty"`
	DSNReturn string `json:"dsn_return,omitempty"`
	DSNEnvID  string `json:"dsn_envid,omitempty"`
	// Priority is "high", "low" or "" (normal).
	Priority string `json:"priority,omitempty"`
	// SendAt is the start time as typed ("2026-12-01 09:00"), "" for none.
	SendAt string `json:"send_at,omitempty"`
	// Updated is when it was last saved (set by SaveDraft and LoadDraft).
	Updated time.Time `json:"-"`
}

// DSN returns the draft's delivery status notification request, checked
// with transport.ParseDSN; nil when it asks for none.
func (d *SavedDraft) DSN() (*transport.DSN, error) {
	if strings.TrimSpace(d.DSNNotify) == "" && strings.TrimSpace(d.DSNReturn) == "" && d.DSNEnvID == "" {
		return nil, nil
	}
	dsn, err := transport.ParseDSN(d.DSNNotify, d.DSNReturn, d.DSNEnvID)
	if err != nil {
		return nil, fmt.Errorf("delivery notifications: %w", err)
	}
	return dsn, nil
}

// QueueSavedDraft puts the stored-form draft d in the outbox for p (nil:
// the sandbox) with its delivery status notification options, due at
// sendAt (zero: now). Options transport.ParseDSN refuses are an error and
// nothing is queued.
func (c *Core) QueueSavedDraft(ctx context.Context, p *account.Profile, d *SavedDraft, sendAt time.Time) (int64, *message.Rendered, error) {
	dsn, err := d.DSN()
	if err != nil {
		return 0, nil, fmt.Errorf("%w; nothing was queued", err)
	}
	return c.QueueDraftWith(ctx, p, d.Message, QueueOptions{SendAt: sendAt, DSN: dsn})
}

// DraftInfo describes a stored draft in a listing.
type DraftInfo struct {
	ID                           int64
	Profile, Subject, Recipients string
	Updated                      time.Time
}

// SaveDraft stores d (a new draft when d.ID is 0, else over the stored one),
// sets d.ID and d.Updated and tells the feed (Topic Drafts).
func (c *Core) SaveDraft(ctx context.Context, d *SavedDraft) (int64, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("encode the draft: %w", err)
	}
	now := time.Now()
	id, err := c.Store.SaveDraft(ctx, store.DraftRow{ID: d.ID, Profile: d.Profile, Subject: d.Message.Subject,
		Recipients: RecipientSummary(d.Message), Data: data, Updated: now})
	if err != nil {
		return 0, err
	}
	d.ID, d.Updated = id, now
	c.Feed.Publish(feed.Event{Topic: feed.Drafts, ID: id, Text: "saved"})
	return id, nil
}

// ListDrafts returns a page of the stored drafts, the most recently saved
// first.
func (c *Core) ListDrafts(ctx context.Context, limit, offset int) ([]DraftInfo, error) {
	rows, err := c.Store.ListDrafts(ctx, limit, offset)
	if err != nil {
		return nil, err
	}
	out := make([]DraftInfo, len(rows))
	for i, r := range rows {
		out[i] = DraftInfo{ID: r.ID, Profile: r.Profile, Subject: r.Subject, Recipients: r.Recipients, Updated: r.Updated}
	}
	return out, nil
}

// LoadDraft returns the stored draft with the given id (an error wrapping
// store.ErrNotFound when there is none).
func (c *Core) LoadDraft(ctx context.Context, id int64) (*SavedDraft, error) {
	r, err := c.Store.Draft(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &SavedDraft{}
	if err := json.Unmarshal(r.Data, d); err != nil {
		return nil, fmt.Errorf("draft %d is damaged: %w", id, err)
	}
	d.ID, d.Updated = r.ID, r.Updated
	return d, nil
}

// DeleteDraft removes a stored draft and tells the feed. A draft already
// gone is not an error.
func (c *Core) DeleteDraft(ctx context.Context, id int64) error {
	if err := c.Store.DeleteDraft(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Drafts, ID: id, Text: "deleted"})
	return nil
}

// RecipientSummary describes d's recipients in a few words for listings:
// "ann@example.com", "ann@example.com and 2 more", "" for none.
func RecipientSummary(d message.Draft) string {
	all := append(append(append([]string(nil), d.To...), d.Cc...), d.Bcc...)
	switch len(all) {
	case 0:
		return ""
	case 1:
		return all[0]
	}
	return fmt.Sprintf("%s and %d more", all[0], len(all)-1)
}

// KnownSizeLimit returns the message size limit (the SIZE extension) that
// profile p's server announced in its latest recorded connection test, or
// 0 when none is known (never tested, or the server names no limit). The
// transport checks the limit again at send time.
func (c *Core) KnownSizeLimit(ctx context.Context, p *account.Profile) int64 {
	if p == nil {
		return 0
	}
	t, err := c.LastTest(ctx, p.ID)
	if err != nil {
		return 0
	}
	var rep struct {
		Steps []struct {
			Transcript []transcript.Event `json:"transcript"`
		} `json:"steps"`
	}
	if json.Unmarshal(t.Report, &rep) != nil {
		return 0
	}
	var limit int64
	for _, s := range rep.Steps {
		for _, e := range s.Transcript {
			if n, ok := sizeFromEHLO(e); ok {
				limit = n // the last EHLO (after STARTTLS) wins
			}
		}
	}
	return limit
}

// sizeFromEHLO reads "250-SIZE 35882577" from a server line.
func sizeFromEHLO(e transcript.Event) (int64, bool) {
	if e.Dir != transcript.Server || len(e.Text) < 4 || !strings.HasPrefix(e.Text, "250") {
		return 0, false
	}
	f := strings.Fields(e.Text[4:])
	if len(f) < 2 || !strings.EqualFold(f[0], "SIZE") {
		return 0, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
