package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui/widgets"
)

// SandboxChoice is the profile picker's entry for the built-in sandbox; it
// is always offered.
const SandboxChoice = "Sandbox (built-in, nothing leaves this computer)"

// SendSpec says how Compose sends one message now.
type SendSpec struct {
	// Profile names the profile ("" : the sandbox).
	Profile string
	// Password is the one the user typed for a profile that asks each
	// time ("" : from the keychain). It is used for this send only.
	Password string
	// DSN asks for delivery status notifications; nil for none.
	DSN *transport.DSN
}

// ComposeDraft is the form as a stored draft keeps it.
type ComposeDraft struct {
	// ID is the stored draft's id, 0 before it is first saved.
	ID int64
	// Profile names the chosen profile ("" : the sandbox).
	Profile string
	// Message is the message (the priority headers not added).
	Message message.Draft
	// DSNNotify, DSNReturn and DSNEnvID are the notification options.
	DSNNotify, DSNReturn, DSNEnvID string
	// Priority is "high", "low" or "" (normal).
	Priority string
	// SendAt is the last start time chosen, as ParseSendAt reads it.
	SendAt string
}

// DraftItem is one stored draft in the drafts list.
type DraftItem struct {
	ID                           int64
	Profile, Subject, Recipients string
	Updated                      time.Time
}

// ComposeCore is what the Compose view needs from the core. The methods may
// touch the disk or the network: the view calls them off the UI goroutine.
type ComposeCore interface {
	// Profiles lists the profiles the picker offers, by name.
	Profiles(ctx context.Context) ([]account.Profile, error)
	// Default is the profile Compose starts with ("" : the sandbox).
	Default(ctx context.Context) string
	// SandboxTarget describes the sandbox ("Sandbox 127.0.0.1:2525").
	SandboxTarget() string
	// SandboxFrom is the sender address offered with the sandbox.
	SandboxFrom() string
	// Send renders d and sends it as spec says, recording the session
	// into rec.
	Send(ctx context.Context, spec SendSpec, d message.Draft, rec *transcript.Recorder) Outcome
	// Queue renders d and puts it in the outbox for profile ("" : the
	// sandbox), due at at (zero: now); the outbox keeps dsn (nil: none)
	// and asks for it when it sends the message.
	Queue(ctx context.Context, profile string, d message.Draft, at time.Time, dsn *transport.DSN) Outcome
	// SizeLimit is the largest message the profile's server is known to
	// take (its SIZE), 0 when unknown; the send checks it again.
	SizeLimit(ctx context.Context, profile string) int64
	// SaveDraft stores d (new when d.ID is 0) and sets d.ID.
	SaveDraft(ctx context.Context, d *ComposeDraft) error
	// Drafts lists the stored drafts, the most recent first.
	Drafts(ctx context.Context) ([]DraftItem, error)
	// LoadDraft returns one stored draft.
	LoadDraft(ctx context.Context, id int64) (*ComposeDraft, error)
	// DeleteDraft removes a stored draft.
	DeleteDraft(ctx context.Context, id int64) error
	// Inbox lists the messages the sandbox captured, newest first.
	Inbox(ctx context.Context) ([]InboxItem, error)
	// InboxSource returns the raw source of one captured message.
	InboxSource(ctx context.Context, id int64) (string, error)
	// InboxUpdates delivers the id of each newly captured message until the
	// returned function is called.
	InboxUpdates() (<-chan int64, func())
	// Watch subscribes to profile changes (feed.Profiles), so the picker
	// follows profiles added elsewhere.
	Watch() *feed.Sub
	// WatchDrafts subscribes to draft changes (feed.Drafts).
	WatchDrafts() *feed.Sub
}

// Compose is the compose view: a profile picker, the message form with its
// text, HTML part, attachments and options, the drafts, and below it the
// live protocol log of the last send and the sandbox inbox. Its widgets are
// exported for tests.
type Compose struct {
	core ComposeCore
	do   Dispatcher
	host Host

	Via                            *widget.Select
	DKIMBadge                      *widget.Label // "DKIM" when the profile signs
	From, To, Cc, Bcc, Subject     *fieldEntry
	ReplyTo, EnvID                 *fieldEntry
	Headers                        *fieldEntry
	Body, HTML                     *TextArea
	Preview                        *HTMLView
	Priority                       *widget.RadioGroup
	Notify                         *widget.CheckGroup
	Return                         *widget.Select
	Attachments                    []attachment
	AttachList                     *widget.List
	AttachLabel, SizeLabel         *widget.Label
	Problems, Count                *widget.Label
	SendButton, QueueButton, AtBtn *widget.Button
	SaveButton, DiscardButton      *widget.Button
	Status, Hint                   *widget.Label
	statusIcon                     *widget.Icon
	Tabs                           *container.AppTabs
	DraftList                      *widget.List
	DraftItems                     []DraftItem
	Log                            *LogView
	InboxList                      *widget.List
	Inbox                          []InboxItem
	Source                         *widget.TextGrid
	profiles                       []account.Profile
	defName                        string
	fromEdited, settingFrom        bool
	content                        fyne.CanvasObject
	split                          *container.Split
	bottom                         *container.AppTabs
	sending                        int
	selected                       int64
	ctx                            context.Context
	cancel                         context.CancelFunc
	stopSub                        func()
	sub, draftSub                  *feed.Sub
	mu                             sync.Mutex
	stopped, loadedFirstProfile    bool
	wantProfile                    string // a profile asked for before the list loaded
	draftID                        int64  // the stored draft the form continues, 0 for none
	sendAt                         string // the last start time chosen
	dirty, loading                 bool
	debounce                       time.Duration
	checkTimer                     *time.Timer
	checkGen                       int
	last                           checkResult
	sizeLimit                      int64
	now                            func() time.Time
	htmlGen                        int
	checks                         int // checks shown, for tests
	aside                          map[*fieldEntry]*asideList
	lastVia                        string

	// splits keeps the HTML and the sandbox inbox splits' positions.
	splits splitMemory
}

// NewCompose returns the Compose view over core.
func NewCompose(core ComposeCore, do Dispatcher) *Compose {
	if do == nil {
		do = fyne.Do
	}
	c := &Compose{core: core, do: do, debounce: 250 * time.Millisecond, now: time.Now}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Name implements View.
func (c *Compose) Name() string { return "compose" }

// Title implements View.
func (c *Compose) Title() string { return "Compose" }

// Icon implements View.
func (c *Compose) Icon() fyne.Resource { return theme.MailComposeIcon() }

// SetHost implements Hosted.
func (c *Compose) SetHost(h Host) { c.host = h }

// Busy implements Busy: true while a send runs.
func (c *Compose) Busy() bool { return c.sending > 0 }

// Dirty reports whether the form holds text not saved as a draft.
func (c *Compose) Dirty() bool { return c.dirty }

// Actions implements Actioner.
func (c *Compose) Actions() []Action {
	return []Action{
		{Menu: "Message", Label: "Send", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}, Do: c.Send, WhenShown: true},
		{Menu: "Message", Label: "Save draft", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault}, Do: c.SaveDraft, WhenShown: true},
		{Menu: "Message", Label: "Queue", Do: c.Queue, WhenShown: true},
		{Menu: "Message", Label: "Send at…", Do: c.SendAt, WhenShown: true},
		{Menu: "Message", Label: "Attach file…", Do: c.chooseAttachment},
		{Menu: "Message", Label: "Discard the message…", Do: func() { press(c.DiscardButton) }, WhenShown: true},
	}
}

func (c *Compose) field(placeholder string) *fieldEntry {
	e := newField(c.host, placeholder)
	e.OnChanged = func(string) { c.changed() }
	return e
}

// Content implements View.
func (c *Compose) Content() fyne.CanvasObject {
	if c.content != nil {
		return c.content
	}
	c.Via = widget.NewSelect([]string{SandboxChoice}, c.viaChanged)
	c.Via.SetSelected(SandboxChoice)
	c.From = c.field("")
	c.From.SetText(c.core.SandboxFrom())
	c.From.OnChanged = func(string) {
		if !c.settingFrom {
			c.fromEdited = true
			c.changed()
		}
	}
	c.To = c.field("someone@example.com, another@example.com")
	c.Cc = c.field("optional")
	c.Bcc = c.field("optional, not shown to recipients")
	c.aside = map[*fieldEntry]*asideList{}
	for _, f := range []struct {
		e     *fieldEntry
		label string
	}{{c.To, "To"}, {c.Cc, "Cc"}, {c.Bcc, "Bcc"}} {
		e := f.e
		a := newAsideList(f.label, func() {
			if c.host != nil {
				c.aside[e].showList(c.host.Window(), c.changed)
			}
		}, func() {
			c.aside[e].set(nil)
			c.changed()
		})
		c.aside[e] = a
		e.OnChanged = func(string) {
			if len(e.Text) > maxEditRecipients {
				c.do(func() { c.moveAside(e) })
			}
			c.changed()
		}
	}
	c.Subject = c.field("")
	for _, e := range []*fieldEntry{c.From, c.To, c.Cc, c.Bcc} {
		e.AlwaysShowValidationError = true
	}
	c.ReplyTo = c.field("optional: where replies go")
	c.ReplyTo.AlwaysShowValidationError = true
	c.Headers = c.field("")
	c.Headers.MultiLine = true
	c.Headers.SetPlaceHolder("One a line, Name: value\nX-Campaign: spring")
	c.EnvID = c.field("optional: an id the reports quote")
	c.Body = newTextArea(c.host, "message text", "Message text (Ctrl+Enter sends)")
	c.Body.onChanged = c.changed
	c.HTML = newTextArea(c.host, "HTML part", "Optional HTML part, sent with the text as an alternative")
	c.HTML.Entry.Wrapping = fyne.TextWrapOff
	c.HTML.onChanged = func() { c.changed(); c.schedulePreview() }
	c.Preview = NewHTMLView(c.do)
	c.Preview.Window = func() fyne.Window {
		if c.host == nil {
			return nil
		}
		return c.host.Window()
	}
	c.Priority = widget.NewRadioGroup([]string{"Low", "Normal", "High"}, func(string) { c.changed() })
	c.Priority.Horizontal = true
	c.Priority.SetSelected("Normal")
	c.Priority.Required = true
	c.Notify = widget.NewCheckGroup([]string{"Success", "Failure", "Delay", "Never"}, func([]string) { c.changed() })
	c.Notify.Horizontal = true
	c.Return = widget.NewSelect([]string{"Server default", "Full message", "Headers only"}, func(string) { c.changed() })
	c.Return.SetSelected("Server default")

	c.Problems = widget.NewLabel("")
	c.Problems.Wrapping = fyne.TextWrapWord
	c.Problems.Importance = widget.DangerImportance
	c.Problems.Hide()
	c.Count = widget.NewLabel("No recipients yet")
	c.Count.Truncation = fyne.TextTruncateEllipsis

	// Attachments.
	c.AttachLabel = widget.NewLabel("No attachments")
	c.AttachLabel.Truncation = fyne.TextTruncateEllipsis
	c.SizeLabel = widget.NewLabel("")
	c.SizeLabel.Truncation = fyne.TextTruncateEllipsis
	c.AttachList = widget.NewList(
		func() int { return len(c.Attachments) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), widget.NewButtonWithIcon("", theme.DeleteIcon(), nil), l)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(c.Attachments) {
				return
			}
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(c.Attachments[id].line())
			box.Objects[2].(*widget.Button).OnTapped = func() { c.removeAttachment(id) }
		},
	)
	attachTab := borderInOrder(
		container.NewVBox(container.NewHBox(widget.NewButtonWithIcon("Attach files…", theme.ContentAddIcon(), c.chooseAttachment),
			widget.NewLabel("or drop files onto the window")), c.SizeLabel), nil, nil, nil, c.AttachList)

	// Drafts.
	c.DraftList = widget.NewList(
		func() int { return len(c.DraftItems) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(c.DraftItems) {
				o.(*widget.Label).SetText(draftLine(c.DraftItems[id]))
			}
		},
	)
	c.DraftList.OnSelected = func(id widget.ListItemID) {
		c.DraftList.UnselectAll()
		if id < len(c.DraftItems) {
			c.OpenDraft(c.DraftItems[id].ID)
		}
	}

	options := widget.NewForm(
		widget.NewFormItem("Reply-To", c.ReplyTo),
		widget.NewFormItem("Priority", c.Priority),
		widget.NewFormItem("Notify me", c.Notify),
		widget.NewFormItem("Report holds", c.Return),
		widget.NewFormItem("Envelope id", c.EnvID),
		widget.NewFormItem("Extra headers", c.Headers),
	)
	dsnNote := widget.NewLabel("Delivery notifications are asked for where the server offers DSN, also for a message queued or sent at a later time.")
	dsnNote.Wrapping = fyne.TextWrapWord
	htmlSplit := container.NewHSplit(c.HTML.Content(), container.NewBorder(bold("Safe preview (no scripts, nothing fetched; data: images only)"), nil, nil, nil, c.Preview.Content()))
	c.splits.keep(c.host, "compose.split.html", htmlSplit)
	c.Tabs = container.NewAppTabs(
		container.NewTabItem("Text", c.Body.Content()),
		container.NewTabItem("HTML", htmlSplit),
		container.NewTabItem("Attachments", attachTab),
		container.NewTabItem("Options", container.NewVScroll(container.NewVBox(options, dsnNote))),
		container.NewTabItem("Drafts", container.NewBorder(widget.NewLabel("Saved drafts: choose one to continue it."), nil, nil, nil, c.DraftList)),
	)

	grid := container.NewGridWithColumns(2,
		container.NewBorder(nil, nil, formLabel("Via"), nil, c.viaRow()),
		container.NewBorder(nil, nil, formLabel("From"), nil, c.From),
	)
	copies := container.NewGridWithColumns(2,
		container.NewBorder(nil, nil, formLabel("Cc"), nil, c.Cc),
		container.NewBorder(nil, nil, formLabel("Bcc"), nil, c.Bcc),
	)
	head := container.NewVBox(grid,
		container.NewBorder(nil, nil, formLabel("To"), nil, c.To),
		copies,
		c.aside[c.To].row, c.aside[c.Cc].row, c.aside[c.Bcc].row,
		container.NewBorder(nil, nil, formLabel("Subject"), nil, c.Subject),
		c.Count, c.Problems,
	)

	c.SendButton = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.Send)
	c.SendButton.Importance = widget.HighImportance
	c.QueueButton = widget.NewButtonWithIcon("Queue", theme.UploadIcon(), c.Queue)
	c.AtBtn = widget.NewButtonWithIcon("Send at…", theme.HistoryIcon(), c.SendAt)
	c.SaveButton = widget.NewButtonWithIcon("Save draft", theme.DocumentSaveIcon(), c.SaveDraft)
	c.DiscardButton = widget.NewButtonWithIcon("Discard", theme.DeleteIcon(), c.Discard)
	attach := widget.NewButtonWithIcon("", theme.MailAttachmentIcon(), c.chooseAttachment)
	actions := container.NewBorder(nil, nil, container.NewHBox(attach, c.DiscardButton, c.SaveButton),
		container.NewHBox(c.AtBtn, c.QueueButton, c.SendButton), c.AttachLabel)
	c.Status = widget.NewLabel("Ready: messages go to " + c.core.SandboxTarget())
	c.Status.Truncation = fyne.TextTruncateEllipsis
	c.Hint = widget.NewLabel("")
	c.Hint.Wrapping = fyne.TextWrapWord
	c.Hint.Hide()
	c.statusIcon = widget.NewIcon(nil) // sent / failed: an icon beside the words
	// In visual order, so Tab goes from Subject to the message text.
	compose := borderInOrder(head, container.NewVBox(actions, container.NewBorder(nil, nil, c.statusIcon, nil, c.Status), c.Hint), nil, nil, c.Tabs)

	c.Log = NewLogView()
	legend := widget.NewLabel("C: client  S: server  I: info  * inside TLS")
	legend.Truncation = fyne.TextTruncateEllipsis
	logPanel := container.NewBorder(legend, nil, nil, nil, c.Log.List)

	c.InboxList = widget.NewList(
		func() int { return len(c.Inbox) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(c.Inbox) {
				o.(*widget.Label).SetText(inboxLine(c.Inbox[id]))
			}
		},
	)
	c.InboxList.OnSelected = func(id widget.ListItemID) {
		if id < len(c.Inbox) {
			c.showSource(c.Inbox[id].ID)
		}
	}
	c.Source = widget.NewTextGrid()
	inboxSplit := container.NewHSplit(c.InboxList, container.NewScroll(c.Source))
	inboxSplit.Offset = 0.4
	c.splits.keep(c.host, "compose.split.inbox", inboxSplit)

	c.bottom = container.NewAppTabs(
		container.NewTabItem("Live protocol log", logPanel),
		container.NewTabItem("Sandbox inbox", inboxSplit),
	)
	c.split = container.NewVSplit(compose, c.bottom)
	c.split.Offset = 0.68
	if c.host != nil {
		c.split.Offset = c.host.Preferences().FloatWithFallback("compose.split.v", 0.68)
	}
	c.content = c.split
	return c.content
}

func formLabel(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Alignment = fyne.TextAlignTrailing
	return l
}

func bold(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

func inboxLine(it InboxItem) string {
	subj := it.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	return fmt.Sprintf("%s  %s  →  %s  %s", it.Received.Local().Format("15:04:05"), it.From, strings.Join(it.To, ", "), subj)
}

func draftLine(d DraftItem) string {
	subj, to, via := d.Subject, d.Recipients, d.Profile
	if subj == "" {
		subj = "(no subject)"
	}
	if to == "" {
		to = "no recipients yet"
	}
	if via == "" {
		via = "sandbox"
	}
	return fmt.Sprintf("%s  ·  %s  ·  to %s  ·  via %s", d.Updated.Local().Format("Jan 2 15:04"), subj, to, via)
}

// Start implements View: it loads the profiles, the drafts and the inbox
// and follows their changes.
func (c *Compose) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.sub = c.core.Watch()
	c.draftSub = c.core.WatchDrafts()
	c.loadProfiles()
	c.loadDrafts()
	go coalesce(c.ctx, c.sub.C(), 100*time.Millisecond, c.loadProfiles)
	go coalesce(c.ctx, c.draftSub.C(), 100*time.Millisecond, c.loadDrafts)
	c.watchInbox()
}

// Stop implements View.
func (c *Compose) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	if c.host != nil && c.split != nil {
		c.host.Preferences().SetFloat("compose.split.v", c.split.Offset)
	}
	c.splits.save(c.host)
	c.cancel()
	if c.checkTimer != nil {
		c.checkTimer.Stop()
	}
	for _, s := range []*feed.Sub{c.sub, c.draftSub} {
		if s != nil {
			s.Close()
		}
	}
	if c.stopSub != nil {
		c.stopSub()
	}
}

func (c *Compose) loadProfiles() {
	ctx := c.ctx
	go func() {
		ps, err := c.core.Profiles(ctx)
		def := c.core.Default(ctx)
		c.do(func() {
			if err != nil {
				c.setStatus("Could not read the accounts: "+err.Error(), widget.DangerImportance, "")
				return
			}
			c.profiles, c.defName = ps, def
			opts := []string{}
			var defName string
			for _, p := range ps {
				if strings.EqualFold(p.Name, def) {
					defName = p.Name
					opts = append([]string{p.Name}, opts...)
				} else {
					opts = append(opts, p.Name)
				}
			}
			if defName != "" {
				opts = append(opts[:1], append([]string{SandboxChoice}, opts[1:]...)...)
			} else {
				opts = append([]string{SandboxChoice}, opts...)
			}
			cur := c.Via.Selected
			c.Via.Options = opts
			c.Via.Refresh()
			switch {
			case c.wantProfile != "" && contains(opts, c.wantProfile):
				c.Via.SetSelected(c.wantProfile)
				c.wantProfile = ""
			case !c.loadedFirstProfile && defName != "":
				c.Via.SetSelected(defName)
			case !contains(opts, cur):
				c.Via.SetSelected(SandboxChoice)
			default:
				c.viaChanged(cur)
			}
			c.loadedFirstProfile = true
		})
	}()
}

func (c *Compose) loadDrafts() {
	ctx := c.ctx
	go func() {
		items, err := c.core.Drafts(ctx)
		c.do(func() {
			if err != nil {
				c.setStatus("Could not read the drafts: "+err.Error(), widget.DangerImportance, "")
				return
			}
			c.DraftItems = items
			c.DraftList.Refresh()
			title := "Drafts"
			if len(items) > 0 {
				title = fmt.Sprintf("Drafts (%d)", len(items))
			}
			c.Tabs.Items[4].Text = title
			c.Tabs.Refresh()
		})
	}()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Compose) profile(name string) *account.Profile {
	for i := range c.profiles {
		if c.profiles[i].Name == name {
			return &c.profiles[i]
		}
	}
	return nil
}

// profileName is the picker's choice as the core names it ("" : sandbox).
func (c *Compose) profileName() string {
	if p := c.profile(c.Via.Selected); p != nil {
		return p.Name
	}
	return ""
}

// viaChanged follows the picker: the From field takes the profile's sender
// unless the user typed another, and the server's size limit is looked up.
func (c *Compose) viaChanged(name string) {
	if c.From == nil || c.Status == nil {
		return
	}
	from, target := c.core.SandboxFrom(), c.core.SandboxTarget()
	if p := c.profile(name); p != nil {
		from, target = p.From(), fmt.Sprintf("%s (%s:%d, TLS %s)", p.Name, p.Host, p.Port, p.TLS)
	}
	if !c.fromEdited {
		c.settingFrom = true
		c.From.SetText(from)
		c.settingFrom = false
	}
	if c.sending == 0 && name != c.lastVia {
		// Only a new choice says where messages go: a reload of the same
		// profile keeps the outcome of the last send on show.
		c.setStatus("Ready: messages go to "+target, widget.MediumImportance, "")
	}
	c.lastVia = name
	c.showSigning(name)
	profile, ctx := c.profileName(), c.ctx
	c.sizeLimit = 0
	go func() {
		n := c.core.SizeLimit(ctx, profile)
		c.do(func() {
			if c.profileName() == profile {
				c.sizeLimit = n
				c.showSize()
			}
		})
	}()
	c.changed()
}

// OpenWith implements Opener: a message.Draft (a mailto: link, a message to
// resend) or a ComposeDraft (a copy of an outbox message, with its delivery
// notification options; never a stored draft: its ID is ignored) fills the
// form; a ProfileRef chooses the profile.
func (c *Compose) OpenWith(arg any) error {
	var d message.Draft
	var cd *ComposeDraft
	switch a := arg.(type) {
	case message.Draft:
		d = a
	case *message.Draft:
		d = *a
	case ComposeDraft:
		cd = &a
	case *ComposeDraft:
		cp := *a
		cd = &cp
	case ProfileRef:
		// `herald --view compose --profile P`: start with P in the picker.
		c.Content()
		c.wantProfile = a.Name
		if contains(c.Via.Options, a.Name) {
			c.Via.SetSelected(a.Name)
		}
		return nil
	default:
		return fmt.Errorf("compose opens on a message draft or a profile, not %T", arg)
	}
	c.Content()
	if cd == nil {
		cd = &ComposeDraft{Message: d}
	}
	cd.ID, cd.SendAt = 0, ""
	if cd.Profile == "" {
		cd.Profile = c.profileName()
	}
	c.fill(*cd)
	c.dirty = true // not saved anywhere yet
	c.focus(c.Body.Entry)
	return nil
}

// fill puts d into the form.
func (c *Compose) fill(d ComposeDraft) {
	c.loading = true
	defer func() { c.loading = false }()
	m := d.Message
	if d.Profile != "" && contains(c.Via.Options, d.Profile) {
		c.Via.SetSelected(d.Profile)
	} else if d.Profile == "" && d.ID != 0 {
		c.Via.SetSelected(SandboxChoice)
	}
	c.setRecipients(c.To, m.To)
	c.setRecipients(c.Cc, m.Cc)
	c.setRecipients(c.Bcc, m.Bcc)
	c.ReplyTo.SetText(m.ReplyTo)
	c.Subject.SetText(m.Subject)
	c.Body.SetText(m.Text)
	c.HTML.SetText(m.HTML)
	var hs []string
	for _, h := range m.Headers {
		hs = append(hs, h.Name+": "+h.Value)
	}
	c.Headers.SetText(strings.Join(hs, "\n"))
	if m.From != "" {
		c.fromEdited = true
		c.settingFrom = true
		c.From.SetText(m.From)
		c.settingFrom = false
	}
	c.Attachments = nil
	for _, a := range m.Attachments {
		c.Attachments = append(c.Attachments, statAttachment(a.Path))
	}
	c.showAttachments()
	switch strings.ToLower(d.Priority) {
	case "high":
		c.Priority.SetSelected("High")
	case "low":
		c.Priority.SetSelected("Low")
	default:
		c.Priority.SetSelected("Normal")
	}
	var notify []string
	for _, n := range strings.Split(d.DSNNotify, ",") {
		if n = strings.TrimSpace(n); n != "" {
			notify = append(notify, strings.ToUpper(n[:1])+strings.ToLower(n[1:]))
		}
	}
	c.Notify.SetSelected(notify)
	c.Return.SetSelected(map[string]string{"full": "Full message", "hdrs": "Headers only"}[strings.ToLower(d.DSNReturn)])
	if c.Return.Selected == "" {
		c.Return.SetSelected("Server default")
	}
	c.EnvID.SetText(d.DSNEnvID)
	c.draftID, c.sendAt = d.ID, d.SendAt
	c.dirty = false
	c.checkNow(false)
}

// NewMessage empties the form for a new message (Ctrl+N) and focuses To.
// Unsaved text is kept as a draft first, so nothing is lost.
func (c *Compose) NewMessage() {
	c.Content()
	if c.sending == 0 {
		if c.dirty && c.hasText() {
			c.SaveDraft()
		}
		c.clearForm()
	}
	c.focus(c.To)
}

func (c *Compose) clearForm() {
	c.fromEdited = false
	c.fill(ComposeDraft{Profile: c.profileName()})
	c.viaChanged(c.Via.Selected)
	c.dirty = false
}

func (c *Compose) focus(f fyne.Focusable) {
	if c.host != nil {
		c.host.Window().Canvas().Focus(f)
	}
}

// changed follows every edit: the form is dirty and is checked again a
// moment after the last keystroke.
func (c *Compose) changed() {
	if c.loading || c.Count == nil {
		return
	}
	c.dirty = true
	c.scheduleCheck()
}

// scheduleCheck checks the form debounce after the last call: typing into a
// long recipient list re-checks once per pause, not once per key.
func (c *Compose) scheduleCheck() {
	c.checkGen++
	gen := c.checkGen
	if c.checkTimer != nil {
		c.checkTimer.Stop()
	}
	c.checkTimer = time.AfterFunc(c.debounce, func() {
		c.do(func() {
			if gen == c.checkGen {
				c.checkNow(false)
			}
		})
	})
}

// checkNow snapshots the form and checks it off the UI goroutine; the
// result is shown unless the form changed meanwhile.
func (c *Compose) checkNow(strict bool) {
	c.checkGen++
	gen := c.checkGen
	st := c.state(strict)
	go func() {
		r := checkForm(st)
		c.do(func() {
			if gen == c.checkGen {
				c.showCheck(r)
			}
		})
	}()
}

// state copies the form (cheap: strings are shared, not copied).
func (c *Compose) state(strict bool) formState {
	hs, herrs := parseHeaders(c.Headers.Text)
	prio := strings.ToLower(c.Priority.Selected)
	d := message.Draft{
		From:    strings.TrimSpace(c.From.Text),
		To:      c.recipients(c.To),
		Cc:      c.recipients(c.Cc),
		Bcc:     c.recipients(c.Bcc),
		ReplyTo: strings.TrimSpace(c.ReplyTo.Text),
		Subject: c.Subject.Text,
		Text:    c.Body.Text(),
		HTML:    c.HTML.Text(),
		Headers: append(hs, message.PriorityHeaders(prio)...),
	}
	for _, a := range c.Attachments {
		d.Attachments = append(d.Attachments, message.Attachment{Path: a.Path})
	}
	ret := map[string]string{"Full message": "full", "Headers only": "hdrs"}[c.Return.Selected]
	return formState{profile: c.profileName(), draft: d, headerErrs: herrs, dsnNotify: strings.Join(c.Notify.Selected, ","),
		dsnRet: ret, dsnEnv: strings.TrimSpace(c.EnvID.Text), priority: prio, sendAt: c.sendAt, strict: strict}
}

// Draft returns the message the form describes (with the priority
// headers).
func (c *Compose) Draft() message.Draft { return c.state(false).draft }

// saved returns the form as a stored draft keeps it.
func (c *Compose) saved() *ComposeDraft {
	st := c.state(false)
	m := st.draft
	hs, _ := parseHeaders(c.Headers.Text)
	m.Headers = hs
	if p := c.profile(c.Via.Selected); p == nil || !c.fromEdited {
		m.From = "" // follows the profile
		if c.fromEdited {
			m.From = st.draft.From
		}
	}
	return &ComposeDraft{ID: c.draftID, Profile: st.profile, Message: m, DSNNotify: st.dsnNotify, DSNReturn: st.dsnRet,
		DSNEnvID: st.dsnEnv, Priority: st.priority, SendAt: c.sendAt}
}

// showCheck shows a check's result: the recipient count, the first
// problems, the fields at fault marked, the size against the server's.
func (c *Compose) showCheck(r checkResult) {
	c.last = r
	c.checks++
	switch r.recipients {
	case 0:
		c.Count.SetText("No recipients yet")
	case 1:
		c.Count.SetText("1 recipient")
	default:
		c.Count.SetText(fmt.Sprintf("%d recipients", r.recipients))
	}
	if n := len(r.problems); n > 0 {
		shown := r.problems[:min(n, maxShownProblems)]
		text := strings.Join(shown, "\n")
		if n > len(shown) {
			text += fmt.Sprintf("\n… and %d more problems", n-len(shown))
		}
		c.Problems.SetText(text)
		c.Problems.Show()
	} else {
		c.Problems.SetText("")
		c.Problems.Hide()
	}
	mark := func(e *fieldEntry, label string) {
		if r.bad[label] {
			e.SetValidationError(fmt.Errorf("%s has a problem: see below the form", label))
		} else {
			e.SetValidationError(nil)
		}
	}
	mark(c.From, "From")
	mark(c.To, "To")
	mark(c.Cc, "Cc")
	mark(c.Bcc, "Bcc")
	mark(c.ReplyTo, "Reply-To")
	c.showSize()
}

// overLimit says why the last checked size is over the server's limit, or
// "" when it is not (or either is unknown).
func (c *Compose) overLimit() string {
	if c.sizeLimit > 0 && c.last.size > c.sizeLimit {
		return fmt.Sprintf("The message is %s and the server accepts at most %s (its SIZE limit): remove an attachment or send a link instead.",
			humanSize(c.last.size), humanSize(c.sizeLimit))
	}
	return ""
}

func (c *Compose) showSize() {
	if c.SizeLabel == nil {
		return
	}
	text := ""
	if c.last.size > 0 {
		text = "The message is about " + humanSize(c.last.size)
		if c.sizeLimit > 0 {
			text += "; the server accepts up to " + humanSize(c.sizeLimit)
		}
	}
	c.SizeLabel.Importance = widget.MediumImportance
	if o := c.overLimit(); o != "" {
		text = o
		c.SizeLabel.Importance = widget.DangerImportance
	}
	c.SizeLabel.SetText(text)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// recipients returns a field's addresses: the list kept aside, then what
// is typed in it.
func (c *Compose) recipients(e *fieldEntry) []string {
	typed := splitList(e.Text)
	if a := c.aside[e]; a != nil && len(a.addrs) > 0 {
		return append(append(make([]string, 0, len(a.addrs)+len(typed)), a.addrs...), typed...)
	}
	return typed
}

// setRecipients fills a field: a short list as text, a long one aside.
func (c *Compose) setRecipients(e *fieldEntry, addrs []string) {
	text := strings.Join(addrs, ", ")
	if len(text) > maxEditRecipients {
		c.aside[e].set(append([]string(nil), addrs...))
		e.SetText("")
		return
	}
	c.aside[e].set(nil)
	e.SetText(text)
}

// moveAside moves a field's text that grew too long (a paste) into its
// list.
func (c *Compose) moveAside(e *fieldEntry) {
	if len(e.Text) <= maxEditRecipients {
		return
	}
	a := c.aside[e]
	a.set(append(a.addrs, splitList(e.Text)...))
	e.SetText("")
}

func (c *Compose) hasText() bool {
	return strings.TrimSpace(c.To.Text+c.Cc.Text+c.Bcc.Text+c.Subject.Text) != "" || len(c.recipients(c.To))+len(c.recipients(c.Cc))+len(c.recipients(c.Bcc)) > 0 || c.Body.Text() != "" || c.HTML.Text() != "" || len(c.Attachments) > 0
}

// Send sends the form now through the chosen profile (Ctrl+Enter). A
// profile that asks for its password each time asks first; the password
// is used for this send and not kept.
func (c *Compose) Send() {
	if c.SendButton.Disabled() {
		return
	}
	p := c.profile(c.Via.Selected)
	if p != nil && p.Secret == account.SecretAsk && p.PasswordAuth() && c.host != nil {
		c.askPassword(p.Name, func(pw string) { c.run(actSend, pw, time.Time{}) })
		return
	}
	c.run(actSend, "", time.Time{})
}

// askPassword shows a masked password prompt; ok gets what was typed.
func (c *Compose) askPassword(profile string, ok func(string)) {
	pw := widgets.NewSecretEntry()
	note := widget.NewLabel("Used for this message only, never stored.")
	d := dialog.NewForm("Password for "+profile, "Send", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Password", pw), widget.NewFormItem("", note)}, func(yes bool) {
			text := pw.Text
			pw.SetText("")
			if yes {
				ok(text)
			}
		}, c.host.Window())
	d.Resize(fyne.NewSize(420, 0))
	d.Show()
	c.host.Window().Canvas().Focus(pw)
}

// Queue puts the form in the outbox, to be sent at once by the runner.
func (c *Compose) Queue() {
	if !c.QueueButton.Disabled() {
		c.run(actQueue, "", time.Time{})
	}
}

// SendAt asks for a date and time, then queues the form for then.
func (c *Compose) SendAt() {
	if c.AtBtn.Disabled() || c.host == nil {
		return
	}
	p := newSendAtPicker(c.now, c.sendAt)
	p.show(c.host.Window(), func(t time.Time, typed string) {
		c.sendAt = typed
		c.run(actQueue, "", t)
	})
}

type action int

const (
	actSend action = iota
	actQueue
)

func (c *Compose) setBusy(busy bool) {
	for _, b := range []*widget.Button{c.SendButton, c.QueueButton, c.AtBtn} {
		if busy {
			b.Disable()
		} else {
			b.Enable()
		}
	}
}

// run checks the form and sends or queues it, all off the UI goroutine.
func (c *Compose) run(act action, password string, at time.Time) {
	st := c.state(true)
	if act == actQueue {
		if p := c.profile(c.Via.Selected); p != nil && p.Secret == account.SecretAsk && p.PasswordAuth() {
			c.setStatus("Not queued: "+p.Name+" asks for its password each time, so the outbox cannot send for it unattended.", widget.DangerImportance,
				"Use Send to send it now (you are asked for the password), or store the password in Accounts.")
			return
		}
	}
	c.setBusy(true)
	c.sending++
	verb := "Not sent"
	if act == actQueue {
		verb = "Not queued"
	}
	target := c.core.SandboxTarget()
	if st.profile != "" {
		target = st.profile
	}
	if act == actSend {
		c.setStatus("Sending via "+target+"…", widget.MediumImportance, "")
	} else {
		c.setStatus("Queueing…", widget.MediumImportance, "")
	}
	limit := c.sizeLimit
	ctx := c.ctx
	draftID := c.draftID
	go func() {
		r := checkForm(st)
		fail := func(summary, hint string) {
			c.do(func() {
				c.sending--
				c.setBusy(false)
				c.showCheck(r)
				c.setStatus(summary, widget.DangerImportance, hint)
			})
		}
		if len(r.problems) > 0 {
			fail(verb+": "+r.problems[0], "Correct the fields named above the buttons; nothing was sent.")
			return
		}
		if limit > 0 && r.size > limit {
			fail(verb+": the message is "+humanSize(r.size)+" and the server accepts at most "+humanSize(limit)+" (its SIZE limit).",
				"Remove an attachment or send a link instead; nothing was sent.")
			return
		}
		var out Outcome
		if act == actSend {
			c.do(func() {
				c.Log.Clear()
				c.bottom.SelectIndex(0)
			})
			rec := transcript.New()
			done := c.forwardLog(rec)
			out = c.core.Send(ctx, SendSpec{Profile: st.profile, Password: password, DSN: r.dsn}, st.draft, rec)
			rec.Finish()
			<-done
		} else {
			out = c.core.Queue(ctx, st.profile, st.draft, at, r.dsn)
		}
		if out.OK && draftID != 0 {
			_ = c.core.DeleteDraft(ctx, draftID) // sent or queued: the draft is done
		}
		c.do(func() {
			c.sending--
			imp := widget.SuccessImportance
			if !out.OK {
				imp = widget.DangerImportance
			}
			c.setStatus(out.Summary, imp, out.Hint)
			if c.host != nil {
				c.host.SetStatus(out.Summary)
			}
			if out.OK {
				if c.draftID == draftID {
					c.draftID = 0
				}
				c.dirty = false
			}
			c.setBusy(false)
		})
	}()
}

// forwardLog shows rec's lines in the log panel in batches (at most ten
// redraws a second, however many lines); done closes once every line is
// shown.
func (c *Compose) forwardLog(rec *transcript.Recorder) (done <-chan struct{}) {
	sub := rec.Subscribe(4096, true)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var batch []transcript.Event
		flush := func() {
			if len(batch) == 0 {
				return
			}
			b := batch
			batch = nil
			c.do(func() { c.Log.AppendAll(b) })
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case e, ok := <-sub.C():
				if !ok {
					flush()
					return
				}
				batch = append(batch, e)
			case <-tick.C:
				flush()
			}
		}
	}()
	return ch
}

func (c *Compose) setStatus(s string, imp widget.Importance, hint string) {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	c.Status.Importance = imp
	c.Status.SetText(s)
	if c.statusIcon != nil {
		switch imp {
		case widget.SuccessImportance:
			c.statusIcon.SetResource(theme.NewSuccessThemedResource(theme.ConfirmIcon()))
		case widget.DangerImportance:
			c.statusIcon.SetResource(theme.NewErrorThemedResource(theme.ErrorIcon()))
		default:
			c.statusIcon.SetResource(nil)
		}
	}
	c.Hint.SetText(hint)
	if hint == "" {
		c.Hint.Hide()
	} else {
		c.Hint.Show()
	}
}

// SaveDraft keeps the form in the store (Ctrl+S); the form goes on as that
// draft.
func (c *Compose) SaveDraft() {
	d := c.saved()
	ctx := c.ctx
	go func() {
		err := c.core.SaveDraft(ctx, d)
		c.do(func() {
			if err != nil {
				c.setStatus("The draft was not saved: "+err.Error(), widget.DangerImportance, "")
				return
			}
			c.draftID = d.ID
			c.dirty = false
			c.setStatus(fmt.Sprintf("Draft saved (%s).", c.now().Format("15:04")), widget.SuccessImportance, "")
		})
	}()
}

// OpenDraft continues a stored draft; unsaved text in the form is asked
// about first.
func (c *Compose) OpenDraft(id int64) {
	open := func() {
		ctx := c.ctx
		go func() {
			d, err := c.core.LoadDraft(ctx, id)
			c.do(func() {
				if err != nil {
					c.setStatus("Could not open the draft: "+err.Error(), widget.DangerImportance, "")
					return
				}
				c.fromEdited = false
				c.fill(*d)
				if d.Message.From == "" {
					c.viaChanged(c.Via.Selected)
					c.dirty = false
				}
				c.Tabs.SelectIndex(0)
				c.setStatus("Continuing the draft "+strings.TrimSpace(d.Message.Subject), widget.MediumImportance, "")
			})
		}()
	}
	if c.dirty && c.hasText() && c.host != nil {
		dialog.ShowConfirm("Replace the message?", "The message in the form has changes that are not saved. Open the draft and lose them?", func(yes bool) {
			if yes {
				open()
			}
		}, c.host.Window())
		return
	}
	open()
}

// Discard empties the form, asking first when it holds unsaved text; a
// stored draft being continued is deleted too.
func (c *Compose) Discard() {
	id := c.draftID
	discard := func() {
		if id != 0 {
			ctx := c.ctx
			go func() { _ = c.core.DeleteDraft(ctx, id) }()
		}
		c.clearForm()
		c.setStatus("Message discarded.", widget.MediumImportance, "")
	}
	if (c.dirty && c.hasText() || id != 0) && c.host != nil {
		msg := "The text you wrote is lost."
		if id != 0 {
			msg = "The saved draft is deleted too."
		}
		dialog.ShowConfirm("Discard this message?", msg, func(yes bool) {
			if yes {
				discard()
			}
		}, c.host.Window())
		return
	}
	discard()
}

func (c *Compose) schedulePreview() {
	c.htmlGen++
	gen := c.htmlGen
	src := c.HTML.Text()
	time.AfterFunc(c.debounce, func() {
		var doc *message.Doc
		if strings.TrimSpace(src) != "" {
			doc = message.HTMLDocument(src, message.HTMLOptions{MaxText: maxPreview})
		}
		c.do(func() {
			if gen == c.htmlGen {
				c.Preview.Replace(doc)
			}
		})
	})
}

func (c *Compose) chooseAttachment() {
	if c.host == nil {
		return
	}
	dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			dialog.ShowError(fmt.Errorf("The file could not be opened (%w). Check that it exists and that you may read it, then choose it again", err), c.host.Window())
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		c.Attach(path)
	}, c.host.Window())
}

// Attach adds files to the message.
func (c *Compose) Attach(paths ...string) {
	for _, p := range paths {
		c.Attachments = append(c.Attachments, statAttachment(p))
	}
	c.showAttachments()
	c.changed()
}

func (c *Compose) removeAttachment(i int) {
	if i < len(c.Attachments) {
		c.Attachments = append(c.Attachments[:i], c.Attachments[i+1:]...)
		c.showAttachments()
		c.changed()
	}
}

// AcceptsDrop implements DropTarget: local files are attached, except
// profile files (.xml, .js, .json), which the Accounts view imports (attach
// those with the file dialog).
func (c *Compose) AcceptsDrop(uris []fyne.URI) bool {
	for _, u := range uris {
		if u.Scheme() != "file" || importable(u.Name()) {
			return false
		}
	}
	return len(uris) > 0
}

// Dropped implements DropTarget.
func (c *Compose) Dropped(uris []fyne.URI) {
	c.Content()
	for _, u := range uris {
		c.Attach(u.Path())
	}
	c.Tabs.SelectIndex(2)
}

func (c *Compose) showAttachments() {
	if c.AttachList != nil {
		c.AttachList.Refresh()
	}
	title := "Attachments"
	if len(c.Attachments) == 0 {
		c.AttachLabel.SetText("")
	} else {
		var total int64
		names := make([]string, len(c.Attachments))
		for i, a := range c.Attachments {
			total += a.Size
			names[i] = filepath.Base(a.Path)
		}
		title = fmt.Sprintf("Attachments (%d)", len(c.Attachments))
		c.AttachLabel.SetText(fmt.Sprintf("%d attached, %s: %s", len(c.Attachments), humanSize(total), strings.Join(names, ", ")))
	}
	if c.Tabs != nil && c.Tabs.Items[2].Text != title {
		c.Tabs.Items[2].Text = title
		c.Tabs.Refresh()
	}
}

// watchInbox loads the inbox and reloads it whenever the sandbox captures a
// message; all queries run off the UI goroutine.
func (c *Compose) watchInbox() {
	updates, stop := c.core.InboxUpdates()
	c.stopSub = stop
	ctx := c.ctx
	go func() {
		c.reloadInbox(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-updates:
				if !ok {
					return
				}
				c.reloadInbox(ctx)
			}
		}
	}()
}

func (c *Compose) reloadInbox(ctx context.Context) {
	items, err := c.core.Inbox(ctx)
	c.do(func() {
		if err != nil {
			c.setStatus("Could not read the sandbox inbox: "+err.Error(), widget.DangerImportance, "")
			return
		}
		c.Inbox = items
		c.InboxList.Refresh()
	})
}

// maxSource bounds the raw source shown at once: a TextGrid holding a huge
// message froze the first window.
const maxSource = 64 << 10

func (c *Compose) showSource(id int64) {
	c.selected = id
	ctx := c.ctx
	go func() {
		src, err := c.core.InboxSource(ctx, id)
		c.do(func() {
			if c.selected != id {
				return // the user moved on
			}
			if err != nil {
				c.Source.SetText("Could not load message " + fmt.Sprint(id) + ": " + err.Error())
				return
			}
			if len(src) > maxSource {
				src = src[:maxSource] + fmt.Sprintf("\n… (%d more bytes not shown)", len(src)-maxSource)
			}
			c.Source.SetText(strings.ReplaceAll(src, "\r\n", "\n"))
		})
	}()
}
