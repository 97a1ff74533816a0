// Package ui holds Herald's Fyne views. It knows nothing of SMTP sockets or
// SQLite: it talks to the engine through the small Backend interface, which
// app/ implements, and it receives engine events through a dispatcher that
// moves them onto the UI goroutine.
package ui

import (
	"context"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
)

// Backend is what the main window needs from the engine.
type Backend interface {
	// Target describes where Send delivers, e.g. "Sandbox 127.0.0.1:2525".
	Target() string
	// DefaultFrom is the sender address the compose form starts with.
	DefaultFrom() string
	// Send renders and sends one draft, recording the session into rec as it
	// happens. It may take seconds; the UI calls it off the UI goroutine.
	Send(ctx context.Context, d message.Draft, rec *transcript.Recorder) Outcome
	// Inbox lists the messages the sandbox captured, newest first.
	Inbox(ctx context.Context) ([]InboxItem, error)
	// InboxSource returns the raw RFC 5322 source of one captured message.
	InboxSource(ctx context.Context, id int64) (string, error)
	// InboxUpdates delivers the id of each newly captured message until the
	// returned cancel function is called.
	InboxUpdates() (<-chan int64, func())
}

// Outcome is the result of one send, already put into words for a person.
type Outcome struct {
	OK bool
	// Summary is one line: what happened ("Sent: 250 2.0.0 queued as 1A2B").
	Summary string
	// Hint says what to try when the send failed; empty when there is nothing
	// to add.
	Hint string
}

// InboxItem is one captured message as the inbox list shows it.
type InboxItem struct {
	ID       int64
	Received time.Time
	From     string
	To       []string
	Subject  string
	Size     int
}
