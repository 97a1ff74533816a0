package core

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/bulk"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

func sandboxProfile(t *testing.T, c *Core) *account.Profile {
	t.Helper()
	host, port, _ := net.SplitHostPort(c.Sandbox().Addr())
	n, _ := strconv.Atoi(port)
	p := &account.Profile{Name: "signer", FromAddress: "ann@herald.test", Server: account.Server{Host: host, Port: n, TLS: transport.TLSNone}, Auth: transport.AuthNone}
	if err := c.AddProfile(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func lookupOf(recs []dkimkey.Record) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		for _, r := range recs {
			if r.Name == name {
				return []string{strings.Join(r.Strings, "")}, nil
			}
		}
		return nil, &os.PathError{Op: "lookup", Path: name, Err: os.ErrNotExist}
	}
}

func TestOutboxAndBulkMessagesAreSignedAndVerifyOnArrival(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	ctx := context.Background()
	p := sandboxProfile(t, c)
	if c.Signs(p) {
		t.Fatal("signs before it has a key")
	}
	recs, err := c.DKIMKeygen(ctx, p, DKIMSetup{Type: DKIMBoth})
	if err != nil {
		t.Fatal(err)
	}
	if p.DKIM == nil || p.DKIM.Domain != "herald.test" || p.DKIM.Selector != "herald-rsa" || p.DKIM.Selector2 != "herald-ed" || !c.Signs(p) {
		t.Fatalf("profile after keygen: %+v, signs %v", p.DKIM, c.Signs(p))
	}
	if _, err := c.DKIMKeygen(ctx, p, DKIMSetup{}); !errors.Is(err, ErrDKIMKeyExists) {
		t.Fatalf("second keygen: %v", err)
	}
	stored, _ := c.Book.Get(ctx, "signer")
	if got, _ := c.DKIMRecords(stored); len(got) != 2 || got[0].Value != recs[0].Value || got[1].Value != recs[1].Value {
		t.Fatalf("records from the stored profile differ: %+v", got)
	}

	sub := c.Feed.Subscribe(4096, feed.Queue)
	defer sub.Close()
	id, _, err := c.QueueDraft(ctx, stored, message.Draft{To: []string{"bob@example.org"}, Subject: "queued", Text: "signed when queued"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.PlanBulk(ctx, bulk.Options{Profile: stored, Recipients: strings.NewReader("email\ncy@example.org\n"), Subject: "bulk", Text: "merged"})
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("plan: %v", err)
	}
	batch, _ := NewBatchID(time.Now())
	ids, err := c.EnqueueBulk(ctx, stored.ID, batch, res.Messages, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartRunner(RunOptions{Retry: queue.DefaultRetryPolicy()}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{id, ids[0]} {
		waitFor(t, sub, "sent", func(e feed.Event) bool { return e.ID == want && e.Text == string(queue.Sent) })
	}
	c.StopRunner()
	msgs, err := c.Store.ListSandboxMessages(ctx, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d captures, %v", len(msgs), err)
	}
	for _, m := range msgs {
		full, err := c.Store.SandboxMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(full.Raw), &dkim.VerifyOptions{LookupTXT: lookupOf(recs)})
		if err != nil || len(vs) != 2 {
			t.Fatalf("%s: %d verifications, %v", m.Subject, len(vs), err)
		}
		for _, v := range vs {
			if v.Err != nil {
				t.Fatalf("%s: %v", m.Subject, v.Err)
			}
		}
	}
}

func TestASigningProfileWithoutItsKeySendsNothing(t *testing.T) {
	c := openTest(t, t.TempDir(), true, false)
	p := sandboxProfile(t, c)
	p.DKIM = &account.DKIM{Domain: "herald.test", Selector: "s1"}
	if err := c.Book.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendDraft(context.Background(), p, message.Draft{To: []string{"b@example.org"}, Text: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no DKIM key is stored") {
		t.Fatalf("send without the key: %v", err)
	}
	if _, _, err := c.QueueDraft(context.Background(), p, message.Draft{To: []string{"b@example.org"}, Text: "x"}, time.Time{}); err == nil {
		t.Fatal("queued unsigned")
	}
	if c.Signs(p) {
		t.Fatal("Signs without a key")
	}
}
