package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/bulk"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/ui"
)

// BulkAdapter implements ui.BulkCore over engine/bulk and the core's
// outbox, checking rows the way `herald bulk` does.
type BulkAdapter struct {
	c *core.Core
	// Now is the clock for start times ("+30m"); nil means time.Now.
	Now func() time.Time
}

var _ ui.BulkCore = (*BulkAdapter)(nil)

// NewBulkAdapter returns the Bulk view's adapter over c.
func NewBulkAdapter(c *core.Core) *BulkAdapter { return &BulkAdapter{c: c} }

// maxBulkCSV bounds the recipients file the window reads.
const maxBulkCSV = 256 << 20

// bulkHandle is what QueueBulk needs of a plan.
type bulkHandle struct {
	profileID string
	res       *bulk.Result
}

// Profiles implements ui.BulkCore.
func (a *BulkAdapter) Profiles(ctx context.Context) ([]account.Profile, error) {
	return a.c.Book.List(ctx)
}

// PlanBulk implements ui.BulkCore: the CSV's cells for the table, every
// row checked and merged, the first few messages for the preview.
func (a *BulkAdapter) PlanBulk(ctx context.Context, r ui.BulkRequest, progress func(rows int)) (*ui.BulkPlan, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	p, err := a.c.Book.Get(ctx, r.Profile)
	if err != nil {
		return nil, err
	}
	o := bulk.Options{Profile: p, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		UnsubscribeURL: r.UnsubscribeURL, UnsubscribeMailto: r.UnsubscribeMailto, Previews: 5, Progress: progress}
	if o.Rate, err = bulk.ParseRate(r.Rate); err != nil {
		return nil, err
	}
	if r.Start != "" {
		if o.Start, err = queue.ParseSendAt(r.Start, now()); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	data, err := readCSV(r.CSV)
	if err != nil {
		return nil, err
	}
	cols, rows, err := csvCells(data)
	if err != nil {
		return nil, err
	}
	o.Recipients = bytes.NewReader(data)
	res, err := bulk.Plan(ctx, o)
	if err != nil {
		return nil, err
	}
	plan := &ui.BulkPlan{Columns: cols, Rows: rows, Problems: map[int]string{}, Duplicates: map[int]string{}, Valid: len(res.Messages),
		Handle: &bulkHandle{profileID: p.ID, res: res}}
	for _, e := range res.Errors {
		msg := e.Field + ": " + e.Msg
		if prev := plan.Problems[e.Row]; prev != "" {
			msg = prev + "; " + msg
		}
		plan.Problems[e.Row] = msg
	}
	for _, e := range res.Duplicates {
		plan.Duplicates[e.Row] = e.Msg
	}
	if n := len(res.Messages); n > 0 {
		plan.First, plan.Last = res.Messages[0].SendAt, res.Messages[n-1].SendAt
	}
	for i, d := range res.Previews {
		pv := ui.BulkPreview{Row: res.Messages[i].Row, To: strings.Join(d.To, ", "), Subject: d.Subject, Text: d.Text, HTML: d.HTML, SendAt: res.Messages[i].SendAt}
		for _, h := range d.Headers {
			pv.Headers = append(pv.Headers, h.Name+": "+h.Value)
		}
		plan.Previews = append(plan.Previews, pv)
	}
	return plan, nil
}

func readCSV(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBulkCSV+1))
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	if len(data) > maxBulkCSV {
		return nil, fmt.Errorf("recipients: the file is larger than %d MB: split it", maxBulkCSV>>20)
	}
	return data, nil
}

// csvCells reads the CSV's header and rows as they are, for the table:
// the same rows, in the same order, as bulk.Plan counts them.
func csvCells(data []byte) ([]string, [][]string, error) {
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	r := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("recipients: the file is empty (it needs a header row with an email column)")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("recipients: header row: %w", err)
	}
	cols := make([]string, len(head))
	for i, h := range head {
		cols[i] = strings.TrimSpace(h)
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("recipients: %w", err)
		}
		rows = append(rows, rec)
	}
	return cols, rows, nil
}

// QueueBulk implements ui.BulkCore: one batch, all or none; the core
// reports progress on the feed (Topic Progress, Session: the batch) too.
func (a *BulkAdapter) QueueBulk(ctx context.Context, p *ui.BulkPlan, progress func(done, total int)) (string, error) {
	h, ok := p.Handle.(*bulkHandle)
	if !ok || h == nil {
		return "", errors.New("this plan was not made by the core: check and preview again")
	}
	batch, err := core.NewBatchID(time.Now())
	if err != nil {
		return "", err
	}
	total := len(h.res.Messages)
	if _, err := a.c.EnqueueBulk(ctx, h.profileID, batch, h.res.Messages, func(done int) {
		if progress != nil {
			progress(done, total)
		}
	}); err != nil {
		return "", err
	}
	if progress != nil {
		progress(total, total)
	}
	return batch, nil
}

// CancelBatch implements ui.BulkCore.
func (a *BulkAdapter) CancelBatch(ctx context.Context, batch string) (int, error) {
	n, _, err := a.c.Change(ctx, core.OpCancel, core.Selection{Batch: batch})
	return n, err
}

// newBulk is the Bulk view over gc (nil: for listing the views).
func newBulk(gc *GUICore, do ui.Dispatcher) *ui.Bulk {
	var a ui.BulkCore
	if gc != nil {
		a = NewBulkAdapter(gc.c)
	}
	return ui.NewBulk(a, do)
}
