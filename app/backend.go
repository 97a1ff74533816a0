// Package app is Herald's composition root: it opens the store, starts the
// sandbox, hands the engine to the window, and owns their lifecycle.
package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

// Core is the running engine behind one window: the store and the sandbox.
type Core struct {
	DataDir string
	Store   *store.Store
	Sandbox *sandbox.Server
}

// Open opens the store in dataDir and starts the sandbox on its default
// address (or the next free port).
func Open(ctx context.Context, dataDir string) (*Core, error) {
	st, err := store.Open(store.PathIn(dataDir))
	if err != nil {
		return nil, err
	}
	sb, err := sandbox.Start(ctx, sandbox.Config{TLS: sandbox.TLSNone, CertDir: dataDir}, st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	return &Core{DataDir: dataDir, Store: st, Sandbox: sb}, nil
}

// Close stops the sandbox and closes the store.
func (c *Core) Close() error {
	err := c.Sandbox.Close()
	if e := c.Store.Close(); err == nil {
		err = e
	}
	return err
}

// Backend sends to the sandbox and reads its inbox for the window (GUICore
// uses it for the sandbox choice).
type Backend struct {
	core *Core
}

// NewBackend returns the window's view of core.
func NewBackend(core *Core) *Backend { return &Backend{core: core} }

// Target implements ui.Backend.
func (b *Backend) Target() string { return "Sandbox " + b.core.Sandbox.Addr() }

// DefaultFrom implements ui.Backend.
func (b *Backend) DefaultFrom() string { return "Herald <herald@localhost>" }

// Send implements ui.Backend: it renders the draft and sends it to the
// sandbox over a real SMTP session.
func (b *Backend) Send(ctx context.Context, d message.Draft, rec *transcript.Recorder) ui.Outcome {
	r, err := message.Render(d)
	if err != nil {
		return ui.Outcome{Summary: "Not sent: " + err.Error(), Hint: "Correct the fields named above; nothing was sent."}
	}
	host, portStr, err := net.SplitHostPort(b.core.Sandbox.Addr())
	if err != nil {
		return ui.Outcome{Summary: "Not sent: sandbox address: " + err.Error()}
	}
	port, _ := strconv.Atoi(portStr)
	cfg := transport.Config{
		Host: host, Port: port, TLS: transport.TLSNone, Auth: transport.AuthNone,
		Timeout: 30 * time.Second, Transcript: rec,
	}
	res := transport.Send(ctx, cfg, transport.Envelope{From: r.Envelope.From, To: r.Envelope.To}, bytes.NewReader(r.Bytes))
	return Outcome(res, r.MessageID, rec)
}

// Outcome puts a transport result into words for the window.
func Outcome(res *transport.Result, msgID string, rec *transcript.Recorder) ui.Outcome {
	if res.OK {
		var rejected []string
		for _, rc := range res.Recipients {
			if !rc.Accepted {
				rejected = append(rejected, fmt.Sprintf("%s (%d %s)", rc.Addr, rc.Code, rc.Message))
			}
		}
		s := fmt.Sprintf("Sent %s in %d ms: %s", msgID, res.Elapsed.Milliseconds(), rec.Redact(res.QueuedAs))
		if len(rejected) > 0 {
			return ui.Outcome{Summary: s + "; rejected: " + strings.Join(rejected, ", ")}
		}
		return ui.Outcome{OK: true, Summary: s}
	}
	msg := "unknown error"
	if res.Err != nil {
		msg = rec.Redact(res.Err.Error())
	}
	return ui.Outcome{Summary: fmt.Sprintf("Failed at %s (%s): %s", res.Stage, res.Class, msg), Hint: transport.Hint(res.Err)}
}

// Inbox implements ui.Backend.
func (b *Backend) Inbox(ctx context.Context) ([]ui.InboxItem, error) {
	msgs, err := b.core.Store.ListSandboxMessages(ctx, 500)
	if err != nil {
		return nil, err
	}
	out := make([]ui.InboxItem, len(msgs))
	for i, m := range msgs {
		out[i] = ui.InboxItem{ID: m.ID, Received: m.Received, From: m.From, To: m.To, Subject: m.Subject, Size: m.Size}
	}
	return out, nil
}

// InboxSource implements ui.Backend.
func (b *Backend) InboxSource(ctx context.Context, id int64) (string, error) {
	m, err := b.core.Store.SandboxMessage(ctx, id)
	if err != nil {
		return "", err
	}
	return string(m.Raw), nil
}

// InboxUpdates implements ui.Backend.
func (b *Backend) InboxUpdates() (<-chan int64, func()) { return b.core.Sandbox.Subscribe() }
