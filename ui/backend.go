// Package ui holds Herald's Fyne views and the shell that shows them. It
// knows nothing of SMTP sockets or SQLite: each view declares the narrow
// interface of the core it needs (AccountsCore, ComposeCore, …), which app/
// implements, and receives engine events through the core's feed and a
// Dispatcher that moves updates onto the UI goroutine.
package ui

import "time"

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
