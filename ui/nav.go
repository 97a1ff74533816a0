package ui

import "fyne.io/fyne/v2"

// The optional interfaces below extend the View contract of view.go. A view
// implements only those it needs; the shell checks for each with a type
// assertion. None of them changes View, Badged or Dispatcher.

// ViewNames lists every view name Herald has or will have, in sidebar order:
// `herald --view NAME` accepts these. A name is only opened when a view of
// that name is registered; the others are an error that lists the names.
var ViewNames = []string{"accounts", "wizard", "compose", "outbox", "history", "log", "sandbox", "bulk", "console", "settings"}

// Navigator opens views. The shell implements it.
//
// Open shows the view called name and, when arg is not nil and the view is
// an Opener, hands it arg. The arguments in use:
//   - "wizard": ProfileRef{Name: "work"} starts the connection test of that
//     profile at once (the Accounts "Test" button); nil opens it blank.
//   - "compose": a message.Draft fills the form (a mailto: link).
//
// Open returns an error, naming the views that exist, when name is unknown
// or not registered, and the Opener's error when it refuses arg.
type Navigator interface {
	Open(name string, arg any) error
}

// ProfileRef names one profile as the argument of Navigator.Open.
type ProfileRef struct {
	Name string
}

// Host is what the shell offers a view beyond navigation: the window (for
// dialogs), the status bar and the preferences (never secrets).
type Host interface {
	Navigator
	// Window is the main window, for dialogs.
	Window() fyne.Window
	// SetStatus shows one line in the status bar (truncated to fit).
	SetStatus(text string)
	// Preferences keeps small UI state (split positions; never secrets).
	Preferences() fyne.Preferences
	// ShowHelp shows the keyboard shortcuts (F1). Views call it from text
	// fields, which otherwise swallow F1.
	ShowHelp()
}

// Hosted is a view that wants the Host. The shell calls SetHost once, in
// Register, before it asks for Content.
type Hosted interface {
	SetHost(Host)
}

// Opener is a view that accepts an argument when opened (see Navigator).
// OpenWith runs on the UI goroutine after the view is shown.
type Opener interface {
	OpenWith(arg any) error
}

// Searchable is a view with a list and a search field; Ctrl+F calls
// FocusSearch when the view is shown.
type Searchable interface {
	FocusSearch()
}

// Busy is a view that may have work in flight (a message being sent): Quit
// asks first while Busy returns true.
type Busy interface {
	Busy() bool
}

// Action is one command a view offers in the menu bar.
type Action struct {
	// Menu is the menu it goes in: "File", "Edit", "View", "Account",
	// "Message" or "Help".
	Menu string
	// Label is the menu item's text ("Send").
	Label string
	// Shortcut is shown in the menu and works anywhere in the window; nil
	// for none.
	Shortcut fyne.Shortcut
	// Do runs the action (on the UI goroutine). The shell shows the view
	// first when it is not shown.
	Do func()
	// WhenShown limits the action to when its view is shown already: from
	// another view the shortcut or menu item only opens the view (Send does
	// not send a form you cannot see).
	WhenShown bool
}

// Actioner is a view with menu actions.
type Actioner interface {
	Actions() []Action
}

// DropTarget is a view that takes files dropped onto the window. The shell
// offers a drop to the shown view first, then to the others in order; the
// first that accepts is shown and receives the files.
type DropTarget interface {
	AcceptsDrop(uris []fyne.URI) bool
	Dropped(uris []fyne.URI)
}

// StatusContributor is a view with a small widget for the status bar (the
// outbox runner's state and its pause switch). The shell places it at the
// right of the status bar, shown whatever view is shown.
type StatusContributor interface {
	StatusItem() fyne.CanvasObject
}

// Eager is a view the shell starts with the window rather than when first
// shown (the Live log records every session from the start). Badged views
// are started early too.
type Eager interface {
	StartsEarly()
}
