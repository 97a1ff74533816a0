package ui

import (
	"context"

	"fyne.io/fyne/v2"
)

// View is one page of the main window: Accounts, Connection test, Compose,
// and the views later issues add. The shell lists the registered views in
// the sidebar (in registration order, which is also the Ctrl+1…9 order),
// shows one at a time, and calls Start when a view is shown for the first
// time and Stop when the window closes.
type View interface {
	// Name is the view's stable id, as used by `herald --view NAME` and in
	// Preferences: "accounts", "wizard", "compose", "outbox", "history",
	// "log", "sandbox", "bulk", "console", "settings".
	Name() string
	// Title is the word shown in the sidebar and the menu ("Accounts").
	Title() string
	// Icon is the sidebar icon (a theme icon is fine).
	Icon() fyne.Resource
	// Content is the view's widget tree; it is built once and kept.
	Content() fyne.CanvasObject
	// Start begins the view's background work (watching the event feed);
	// ctx ends when the window closes. It must not block.
	Start(ctx context.Context)
	// Stop ends what Start began. It must be safe to call more than once.
	Stop()
}

// Badged is a View that shows a live badge in the sidebar (the outbox count,
// failures). Badge returns the badge text ("" for none); the view calls the
// function given to SetBadgeChanged (on the UI goroutine) whenever it changes.
type Badged interface {
	Badge() string
	SetBadgeChanged(func())
}

// Dispatcher runs f on the UI goroutine: fyne.Do in the app; in tests a queue
// the test drains, so that views are driven synchronously.
type Dispatcher func(f func())
