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
)

// SandboxChoice is the profile picker's entry for the built-in sandbox; it
// is always offered.
const SandboxChoice = "Sandbox (built-in, nothing leaves this computer)"

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
	// Send renders d and sends it through the named profile ("" : the
	// sandbox), recording the session into rec. password is the one the
	// user typed for a profile that asks each time ("" : from the keychain).
	Send(ctx context.Context, profile, password string, d message.Draft, rec *transcript.Recorder) Outcome
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
}

// Compose is the compose view: a profile picker, the message form, the live
// protocol log of the last send and the sandbox inbox. Its widgets are
// exported for tests.
type Compose struct {
	core ComposeCore
	do   Dispatcher
	host Host

	Via                         *widget.Select
	From, To, Cc, Bcc, Subject  *fieldEntry
	Body                        *fieldEntry
	Attachments                 []string
	AttachLabel                 *widget.Label
	SendButton                  *widget.Button
	Status, Hint                *widget.Label
	statusIcon                  *widget.Icon
	Log                         *LogView
	InboxList                   *widget.List
	Inbox                       []InboxItem
	Source                      *widget.TextGrid
	profiles                    []account.Profile
	defName                     string
	fromEdited                  bool
	settingFrom                 bool
	content                     fyne.CanvasObject
	split, rightSplit           *container.Split
	sending                     int
	selected                    int64
	ctx                         context.Context
	cancel                      context.CancelFunc
	stopSub                     func()
	sub                         *feed.Sub
	mu                          sync.Mutex
	stopped, loadedFirstProfile bool
	wantProfile                 string // a profile asked for before the list loaded
}

// NewCompose returns the Compose view over core.
func NewCompose(core ComposeCore, do Dispatcher) *Compose {
	if do == nil {
		do = fyne.Do
	}
	c := &Compose{core: core, do: do}
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

// Actions implements Actioner.
func (c *Compose) Actions() []Action {
	return []Action{
		{Menu: "Message", Label: "Send", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}, Do: c.Send, WhenShown: true},
		{Menu: "Message", Label: "Attach file…", Do: c.chooseAttachment},
	}
}

// Content implements View.
func (c *Compose) Content() fyne.CanvasObject {
	if c.content != nil {
		return c.content
	}
	c.Via = widget.NewSelect([]string{SandboxChoice}, c.viaChanged)
	c.Via.SetSelected(SandboxChoice)
	c.From = newField(c.host, "")
	c.From.SetText(c.core.SandboxFrom())
	c.From.OnChanged = func(string) {
		if !c.settingFrom {
			c.fromEdited = true
		}
	}
	c.To = newField(c.host, "someone@example.com, another@example.com")
	c.Cc = newField(c.host, "optional")
	c.Bcc = newField(c.host, "optional, not shown to recipients")
	c.Subject = newField(c.host, "")
	c.Body = newFieldEntry(true)
	c.Body.SetPlaceHolder("Message text (Ctrl+Enter sends)")
	if c.host != nil {
		c.Body.onHelp = c.host.ShowHelp
	}

	c.AttachLabel = widget.NewLabel("No attachments")
	c.AttachLabel.Truncation = fyne.TextTruncateEllipsis
	attach := widget.NewButtonWithIcon("Attach…", theme.ContentAddIcon(), c.chooseAttachment)
	clear := widget.NewButton("Clear", func() {
		c.Attachments = nil
		c.showAttachments()
	})
	c.SendButton = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.Send)
	c.SendButton.Importance = widget.HighImportance

	form := widget.NewForm(
		widget.NewFormItem("Via", c.Via),
		widget.NewFormItem("From", c.From),
		widget.NewFormItem("To", c.To),
		widget.NewFormItem("Cc", c.Cc),
		widget.NewFormItem("Bcc", c.Bcc),
		widget.NewFormItem("Subject", c.Subject),
	)
	actions := container.NewBorder(nil, nil, container.NewHBox(attach, clear), c.SendButton, c.AttachLabel)
	c.Status = widget.NewLabel("Ready: messages go to " + c.core.SandboxTarget())
	c.Status.Truncation = fyne.TextTruncateEllipsis
	c.Hint = widget.NewLabel("")
	c.Hint.Wrapping = fyne.TextWrapWord
	c.Hint.Hide()
	c.statusIcon = widget.NewIcon(nil) // sent / failed: an icon beside the words
	compose := container.NewBorder(form, container.NewVBox(actions, container.NewBorder(nil, nil, c.statusIcon, nil, c.Status), c.Hint), nil, nil, c.Body)

	c.Log = NewLogView()
	legend := widget.NewLabel("C: client  S: server  I: info  * inside TLS")
	legend.Truncation = fyne.TextTruncateEllipsis
	title := widget.NewLabelWithStyle("Live protocol log", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	logPanel := container.NewBorder(container.NewBorder(nil, nil, title, nil, legend), nil, nil, nil, c.Log.List)

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
	inboxPanel := container.NewBorder(bold("Sandbox inbox"), nil, nil, nil, inboxSplit)

	c.rightSplit = container.NewVSplit(logPanel, inboxPanel)
	c.split = container.NewHSplit(compose, c.rightSplit)
	c.split.Offset = 0.45
	if c.host != nil {
		c.split.Offset = c.host.Preferences().FloatWithFallback("compose.split", 0.45)
		c.rightSplit.Offset = c.host.Preferences().FloatWithFallback("compose.split.right", 0.5)
	}

	c.content = c.split
	return c.content
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

// Start implements View: it loads the profiles and the inbox and follows
// their changes.
func (c *Compose) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.sub = c.core.Watch()
	c.loadProfiles()
	go func(ctx context.Context, ch <-chan feed.Event) {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			for len(ch) > 0 {
				<-ch
			}
			c.loadProfiles()
		}
	}(c.ctx, c.sub.C())
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
		c.host.Preferences().SetFloat("compose.split", c.split.Offset)
		c.host.Preferences().SetFloat("compose.split.right", c.rightSplit.Offset)
	}
	c.cancel()
	if c.sub != nil {
		c.sub.Close()
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

// viaChanged follows the picker: the From field takes the profile's sender
// unless the user typed another.
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
	if c.sending == 0 {
		c.setStatus("Ready: messages go to "+target, widget.MediumImportance, "")
	}
}

// OpenWith implements Opener: a message.Draft (a mailto: link) fills the
// form.
func (c *Compose) OpenWith(arg any) error {
	var d message.Draft
	switch a := arg.(type) {
	case message.Draft:
		d = a
	case *message.Draft:
		d = *a
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
	c.To.SetText(strings.Join(d.To, ", "))
	c.Cc.SetText(strings.Join(d.Cc, ", "))
	c.Bcc.SetText(strings.Join(d.Bcc, ", "))
	c.Subject.SetText(d.Subject)
	c.Body.SetText(d.Text)
	if d.From != "" {
		c.fromEdited = true
		c.From.SetText(d.From)
	}
	c.focus(c.Body)
	return nil
}

// NewMessage empties the form for a new message (Ctrl+N) and focuses To.
func (c *Compose) NewMessage() {
	c.Content()
	if c.sending == 0 {
		c.To.SetText("")
		c.Cc.SetText("")
		c.Subject.SetText("")
		c.Body.SetText("")
		c.Bcc.SetText("")
		c.Attachments = nil
		c.showAttachments()
	}
	c.focus(c.To)
}

func (c *Compose) focus(f fyne.Focusable) {
	if c.host != nil {
		c.host.Window().Canvas().Focus(f)
	}
}

// Draft returns the message the form describes.
func (c *Compose) Draft() message.Draft {
	d := message.Draft{
		From:    strings.TrimSpace(c.From.Text),
		To:      splitList(c.To.Text),
		Cc:      splitList(c.Cc.Text),
		Bcc:     splitList(c.Bcc.Text),
		Subject: c.Subject.Text,
		Text:    c.Body.Text,
	}
	for _, p := range c.Attachments {
		d.Attachments = append(d.Attachments, message.Attachment{Path: p})
	}
	return d
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Send sends the form through the chosen profile (Ctrl+Enter). A profile
// that asks for its password each time asks first.
func (c *Compose) Send() {
	if c.SendButton.Disabled() {
		return
	}
	name := c.Via.Selected
	p := c.profile(name)
	if p == nil {
		c.sendWith("", "")
		return
	}
	if p.Secret == account.SecretAsk && p.PasswordAuth() && c.host != nil {
		pw := widget.NewPasswordEntry()
		dialog.ShowForm("Password for "+p.Name, "Send", "Cancel", []*widget.FormItem{widget.NewFormItem("Password", pw)}, func(ok bool) {
			if ok {
				c.sendWith(p.Name, pw.Text)
			}
		}, c.host.Window())
		return
	}
	c.sendWith(p.Name, "")
}

func (c *Compose) sendWith(profile, password string) {
	d := c.Draft()
	c.SendButton.Disable()
	c.sending++
	c.Log.Clear()
	target := c.core.SandboxTarget()
	if profile != "" {
		target = profile
	}
	c.setStatus("Sending via "+target+"…", widget.MediumImportance, "")

	rec := transcript.New()
	sub := rec.Subscribe(1024, true)
	go func() {
		for e := range sub.C() {
			c.do(func() { c.Log.Append(e) })
		}
	}()
	ctx := c.ctx
	go func() {
		out := c.core.Send(ctx, profile, password, d, rec)
		rec.Finish()
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
			c.SendButton.Enable()
		})
	}()
}

func (c *Compose) setStatus(s string, imp widget.Importance, hint string) {
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
		c.Attachments = append(c.Attachments, path)
		c.showAttachments()
	}, c.host.Window())
}

func (c *Compose) showAttachments() {
	if len(c.Attachments) == 0 {
		c.AttachLabel.SetText("No attachments")
		return
	}
	names := make([]string, len(c.Attachments))
	for i, p := range c.Attachments {
		names[i] = filepath.Base(p)
	}
	c.AttachLabel.SetText(strings.Join(names, ", "))
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
