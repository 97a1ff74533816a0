package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	"github.com/herald-smtp/herald/engine/console"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/ui/widgets"
)

// ByHandChoice is the Console's profile picker entry for a server typed in
// by hand.
const ByHandChoice = "Server typed in by hand"

// ConsoleTarget is where a console session connects: a profile's server
// (Profile set; the fields below override its own) or one typed in by hand.
type ConsoleTarget struct {
	Profile           string
	Host              string
	Port              int
	TLS               string // "starttls", "implicit" or "none"
	User              string
	AllowInsecureAuth bool
}

// ConsoleSession is an open manual SMTP session (engine/console's Session
// implements it). Do runs one line; it is called off the UI goroutine, one
// line at a time; Close may be called from any goroutine.
type ConsoleSession interface {
	Do(ctx context.Context, line string) (console.Result, error)
	InMessage() bool
	Closed() bool
	Close() error
}

// ConsoleCore is what the Console view needs from the core. OpenConsole
// and the session's Do touch the network: the view calls them off the UI
// goroutine.
type ConsoleCore interface {
	// Profiles lists the profiles the picker offers.
	Profiles(ctx context.Context) ([]account.Profile, error)
	// OpenConsole connects to t, recording every line into rec as it
	// happens. password is called by the auth helper for the secret (for
	// a profile, the keychain's is used first); what it returns is
	// registered as a secret and never recorded.
	OpenConsole(ctx context.Context, t ConsoleTarget, rec *transcript.Recorder, password func(prompt string) (string, error)) (ConsoleSession, error)
	// ConsoleError words a session error for a person, with what to try,
	// redacted by rec.
	ConsoleError(err error, rec *transcript.Recorder) string
}

// maxConsoleLines bounds the lines the console list holds (the whole
// session stays in the recorder for Copy and Save).
const maxConsoleLines = 20000

// maxCommandHistory bounds the command line's history.
const maxCommandHistory = 500

var tlsChoices = []string{"STARTTLS (upgrade when you type starttls)", "Implicit TLS (from the first byte)", "None (clear text)"}
var tlsModes = []string{"starttls", "implicit", "none"}

// Console is the interactive SMTP session view. Its widgets are exported
// for tests.
type Console struct {
	core ConsoleCore
	do   Dispatcher
	host Host

	Profile                *widget.Select
	Host, Port, User       *fieldEntry
	TLS                    *widget.Select
	AllowInsecure          *widget.Check
	ConnectButton          *widget.Button
	Lines                  *widget.List
	Command                *CommandEntry
	Prompt                 *widget.Label
	SendButton             *widget.Button
	Helpers                []*widget.Button
	CopyButton, SaveButton *widget.Button
	Status                 *widget.Label
	profiles               []account.Profile
	lines                  *consoleRing
	session                ConsoleSession
	rec                    *transcript.Recorder
	queue                  chan string
	pending                int
	inMessage              bool
	sessionCtx             context.Context
	endSession             context.CancelFunc
	content                fyne.CanvasObject
	ctx                    context.Context
	cancel                 context.CancelFunc
	mu                     sync.Mutex
	stopped                bool
	connecting             bool
	// AskPassword asks for the auth helper's secret and calls answer once
	// (ok false: cancelled). Default: a dialog with a masked entry.
	AskPassword func(prompt string, answer func(secret string, ok bool))
}

// NewConsole returns the Console view over core.
func NewConsole(core ConsoleCore, do Dispatcher) *Console {
	if do == nil {
		do = fyne.Do
	}
	c := &Console{core: core, do: do, lines: newConsoleRing(maxConsoleLines)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.AskPassword = c.passwordDialog
	return c
}

// Name implements View.
func (c *Console) Name() string { return "console" }

// Title implements View.
func (c *Console) Title() string { return "Console" }

// Icon implements View.
func (c *Console) Icon() fyne.Resource { return theme.ComputerIcon() }

// Actions implements Actioner: the console's buttons.
func (c *Console) Actions() []Action {
	return []Action{
		{Menu: "File", Label: "Connect or disconnect the console", Shortcut: &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}, Do: func() { press(c.ConnectButton) }, WhenShown: true},
		{Menu: "Edit", Label: "Copy the console session", Do: func() { press(c.CopyButton) }, WhenShown: true},
		{Menu: "File", Label: "Save the console session…", Do: func() { press(c.SaveButton) }, WhenShown: true},
	}
}

// SetHost implements Hosted.
func (c *Console) SetHost(h Host) { c.host = h }

// Busy implements Busy: a message typed in the session may be in flight.
func (c *Console) Busy() bool { return c.inMessage || c.pending > 0 }

// Content implements View.
func (c *Console) Content() fyne.CanvasObject {
	if c.content != nil {
		return c.content
	}
	c.Profile = widget.NewSelect([]string{ByHandChoice}, c.profileChanged)
	c.Host = newField(c.host, "smtp.example.com")
	c.Port = newField(c.host, "587")
	c.TLS = widget.NewSelect(tlsChoices, nil)
	c.TLS.SetSelected(tlsChoices[0])
	c.User = newField(c.host, "for auth (optional)")
	c.AllowInsecure = widget.NewCheck("Allow the password without TLS", nil)
	// Enter in a connection field connects.
	for _, e := range []*fieldEntry{c.Host, c.Port, c.User} {
		e.OnSubmitted = func(string) { c.Connect() }
	}
	c.ConnectButton = widget.NewButtonWithIcon("Connect", theme.LoginIcon(), c.toggleConnect)
	c.ConnectButton.Importance = widget.HighImportance
	c.Profile.SetSelected(ByHandChoice)

	server := container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewLabel("Port"), sized(c.Port, 70)), c.Host)
	form := widget.NewForm(
		widget.NewFormItem("Profile", c.Profile),
		widget.NewFormItem("Server", server),
		widget.NewFormItem("TLS", c.TLS),
		widget.NewFormItem("User", container.NewBorder(nil, nil, nil, c.AllowInsecure, c.User)),
	)
	top := container.NewBorder(nil, nil, nil, container.NewVBox(c.ConnectButton), form)

	c.Lines = widget.NewList(
		func() int { return c.lines.Len() },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(c.lines.Line(id)) },
	)

	helper := func(label, line string) *widget.Button {
		b := widget.NewButton(label, func() { c.Run(line) })
		c.Helpers = append(c.Helpers, b)
		return b
	}
	raw := widget.NewButton("raw…", func() {
		c.Command.SetText("raw ")
		c.Command.CursorColumn = 4
		c.focus(c.Command)
	})
	auth := widget.NewButton("auth…", c.authForm)
	c.Helpers = append(c.Helpers, raw, auth)
	c.CopyButton = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), c.copySession)
	c.SaveButton = widget.NewButtonWithIcon("Save…", theme.DocumentSaveIcon(), c.saveSession)
	helpers := container.NewBorder(nil, nil,
		container.NewHBox(helper("ehlo", "ehlo"), helper("starttls", "starttls"), auth, helper("data", "data"), raw, helper("quit", "quit"), helper("help", "help")),
		container.NewHBox(c.CopyButton, c.SaveButton))

	c.Command = NewCommandEntry()
	if c.host != nil {
		c.Command.Help = c.host.ShowHelp
	}
	c.Command.SetPlaceHolder("a command (MAIL FROM:<you@example.com>) or a helper; Up/Down: history")
	c.Command.OnSubmitted = func(string) { c.Submit() }
	c.Prompt = widget.NewLabelWithStyle("smtp>", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	c.SendButton = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.Submit)
	line := container.NewBorder(nil, nil, c.Prompt, c.SendButton, c.Command)
	c.Status = widget.NewLabel("Not connected: choose a profile or type a server, then Connect.")
	c.Status.Truncation = fyne.TextTruncateEllipsis
	legend := widget.NewLabel("C: sent  S: server  I: Herald  * inside TLS")
	legend.Truncation = fyne.TextTruncateEllipsis

	bottom := container.NewVBox(helpers, line, c.Status)
	c.content = borderInOrder(container.NewVBox(top, widget.NewSeparator(), legend), bottom, nil, nil, c.Lines)
	c.setConnected(false)
	return c.content
}

// sized gives o a minimum width.
func sized(o fyne.CanvasObject, w float32) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
}

// Start implements View: it loads the profiles.
func (c *Console) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	ctx = c.ctx
	// Shown for the first time: the server field takes the keyboard.
	// From another goroutine, so that it runs once the shell has put the
	// view in the window (fyne.Do on the UI goroutine runs at once).
	if c.session == nil && c.Host != nil {
		go c.do(func() { c.focus(c.Host) })
	}
	go func() {
		ps, err := c.core.Profiles(ctx)
		c.do(func() {
			if err != nil {
				c.setStatus("Could not read the profiles: "+err.Error(), true)
				return
			}
			c.profiles = ps
			opts := []string{ByHandChoice}
			for _, p := range ps {
				opts = append(opts, p.Name)
			}
			c.Profile.Options = opts
			c.Profile.Refresh()
		})
	}()
}

// Stop implements View: an open session is closed.
func (c *Console) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	c.cancel()
	if c.session != nil {
		c.session.Close()
	}
}

// OpenWith implements Opener: a ProfileRef fills the form from that profile.
func (c *Console) OpenWith(arg any) error {
	ref, ok := arg.(ProfileRef)
	if !ok {
		return fmt.Errorf("the console opens on a profile, not %T", arg)
	}
	c.Content()
	if !contains(c.Profile.Options, ref.Name) {
		c.Profile.Options = append(c.Profile.Options, ref.Name)
	}
	c.Profile.SetSelected(ref.Name)
	return nil
}

func (c *Console) profileChanged(name string) {
	if c.Host == nil {
		return
	}
	for _, p := range c.profiles {
		if p.Name == name {
			c.Host.SetText(p.Host)
			c.Port.SetText(strconv.Itoa(p.Port))
			if i := settingsIndex(tlsModes, string(p.TLS)); i >= 0 {
				c.TLS.SetSelected(tlsChoices[i])
			}
			c.User.SetText(p.Username)
			c.AllowInsecure.SetChecked(p.AllowInsecureAuth)
			return
		}
	}
}

// Target returns the connection the form describes.
func (c *Console) Target() (ConsoleTarget, error) {
	t := ConsoleTarget{Host: strings.TrimSpace(c.Host.Text), User: strings.TrimSpace(c.User.Text), AllowInsecureAuth: c.AllowInsecure.Checked}
	if c.Profile.Selected != ByHandChoice {
		t.Profile = c.Profile.Selected
	}
	if i := settingsIndex(tlsChoices, c.TLS.Selected); i >= 0 {
		t.TLS = tlsModes[i]
	}
	if t.Host == "" {
		return t, errors.New("type the server's host name (or choose a profile)")
	}
	if h, p, ok := strings.Cut(t.Host, ":"); ok && !strings.Contains(p, ":") && (strings.TrimSpace(c.Port.Text) == "" || strings.TrimSpace(c.Port.Text) == p) {
		// "host:port" typed into the server field: the form shows them apart.
		t.Host = h
		c.Host.SetText(h)
		c.Port.SetText(p)
	}
	if s := strings.TrimSpace(c.Port.Text); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("the port %q is not a number from 1 to 65535", s)
		}
		t.Port = n
	}
	return t, nil
}

func (c *Console) toggleConnect() {
	if c.session != nil {
		c.Disconnect()
		return
	}
	c.Connect()
}

// Connect opens a session with the form's settings.
func (c *Console) Connect() {
	if c.session != nil || c.connecting {
		return
	}
	t, err := c.Target()
	if err != nil {
		c.setStatus(err.Error(), true)
		return
	}
	c.connecting = true
	c.ConnectButton.Disable()
	c.lines.Clear()
	c.Lines.Refresh()
	c.setStatus(fmt.Sprintf("Connecting to %s…", t.Host), false)
	rec := transcript.New()
	c.rec = rec
	c.follow(rec)
	sctx, end := context.WithCancel(c.ctx)
	go func() {
		s, err := c.core.OpenConsole(sctx, t, rec, c.password(sctx))
		c.do(func() {
			c.connecting = false
			c.ConnectButton.Enable()
			if err != nil {
				end()
				rec.Finish()
				c.setStatus("Not connected: "+c.core.ConsoleError(err, rec), true)
				return
			}
			c.session, c.sessionCtx, c.endSession = s, sctx, end
			c.queue = make(chan string, 1024)
			go c.work(sctx, s, rec, c.queue)
			c.setConnected(true)
			c.setStatus("Connected: type commands, or use the helpers below.", false)
			c.focus(c.Command)
		})
	}()
}

// Disconnect ends the session: QUIT when the server can take it, else a
// plain close.
func (c *Console) Disconnect() {
	if c.session == nil {
		return
	}
	if c.inMessage || c.pending > 0 {
		// Inside a message (QUIT would be taken as message text) or while
		// the server keeps a command waiting: drop the connection.
		c.session.Close()
		c.endSession()
		return
	}
	c.Run("quit")
}

// follow shows rec's lines as they arrive, in batches.
func (c *Console) follow(rec *transcript.Recorder) {
	sub := rec.Subscribe(8192, true)
	go func() {
		var batch []string
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		flush := func() {
			if len(batch) == 0 {
				return
			}
			b := batch
			batch = nil
			c.do(func() {
				if c.rec != rec {
					return // a newer session replaced this one
				}
				for _, l := range b {
					c.lines.Add(l)
				}
				c.Lines.Refresh()
				c.Lines.ScrollToBottom()
			})
		}
		ch := sub.C()
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					flush()
					return
				}
				batch = append(batch, e.String())
			case <-tick.C:
				flush()
			}
		}
	}()
}

// work runs the session's lines in order until it ends.
func (c *Console) work(ctx context.Context, s ConsoleSession, rec *transcript.Recorder, lines <-chan string) {
	for {
		var line string
		select {
		case <-ctx.Done():
			s.Close()
			rec.Finish()
			c.do(func() { c.ended(s, "") })
			return
		case line = <-lines:
		}
		res, err := s.Do(ctx, line)
		inMsg := s.InMessage()
		closed := res.Closed || s.Closed()
		var why string
		if closed && err != nil {
			why = c.core.ConsoleError(err, rec)
		}
		c.do(func() {
			if c.session != s {
				return // this session already ended
			}
			c.pending--
			c.inMessage = inMsg
			c.showPrompt()
			if closed {
				c.ended(s, why)
			}
		})
		if closed {
			rec.Finish()
			return
		}
	}
}

// ended tidies up after the session closed.
func (c *Console) ended(s ConsoleSession, why string) {
	if c.session != s {
		return
	}
	c.endSession()
	c.session = nil
	c.pending, c.inMessage = 0, false
	c.setConnected(false)
	if why != "" {
		c.setStatus("Session ended: "+why, true)
	} else {
		c.setStatus("Session ended. Copy or save it, or connect again.", false)
	}
}

// Run sends one line (a command, a helper or a message line) to the
// session, after the lines before it.
func (c *Console) Run(line string) {
	if c.session == nil {
		c.setStatus("Not connected: Connect first.", true)
		return
	}
	c.pending++
	select {
	case c.queue <- line:
	default:
		c.pending--
		c.setStatus("Too many lines waiting: wait for the server to answer.", true)
	}
}

// Submit runs the command line and keeps it in the history.
func (c *Console) Submit() {
	line := c.Command.Text
	if c.session == nil {
		c.setStatus("Not connected: Connect first.", true)
		return
	}
	// An empty line is sent too: it may be a line of a message whose DATA
	// is still waiting for its reply (the session ignores it otherwise).
	if line != "" {
		c.Command.Remember(line)
	}
	c.Command.SetText("")
	c.Command.Remember("")
	if c.inMessage && strings.TrimSpace(line) == "." {
		c.inMessage = false // the message ends here; the prompt follows the session
	}
	c.Run(line)
}

func (c *Console) showPrompt() {
	if c.inMessage {
		c.Prompt.SetText("data>")
		c.Command.SetPlaceHolder("a line of the message; a line holding only \".\" ends it")
	} else {
		c.Prompt.SetText("smtp>")
		c.Command.SetPlaceHolder("a command (MAIL FROM:<you@example.com>) or a helper; Up/Down: history")
	}
}

func (c *Console) setConnected(on bool) {
	if on {
		c.ConnectButton.SetText("Disconnect")
		c.ConnectButton.SetIcon(theme.LogoutIcon())
		c.ConnectButton.Importance = widget.MediumImportance
		c.Command.Enable()
		c.SendButton.Enable()
		for _, b := range c.Helpers {
			b.Enable()
		}
	} else {
		c.ConnectButton.SetText("Connect")
		c.ConnectButton.SetIcon(theme.LoginIcon())
		c.ConnectButton.Importance = widget.HighImportance
		c.Command.Disable()
		c.SendButton.Disable()
		for _, b := range c.Helpers {
			b.Disable()
		}
		c.Prompt.SetText("smtp>")
	}
	c.ConnectButton.Refresh()
	for _, w := range []fyne.Disableable{c.Profile, c.Host, c.Port, c.TLS, c.User, c.AllowInsecure} {
		if on {
			w.Disable()
		} else {
			w.Enable()
		}
	}
}

// password returns the callback the auth helper calls off the UI
// goroutine: it asks on the UI goroutine and waits for the answer.
func (c *Console) password(ctx context.Context) func(prompt string) (string, error) {
	return func(prompt string) (string, error) {
		type answer struct {
			pw string
			ok bool
		}
		ch := make(chan answer, 1)
		c.do(func() {
			c.AskPassword(prompt, func(pw string, ok bool) { ch <- answer{pw, ok} })
		})
		select {
		case a := <-ch:
			if !a.ok {
				return "", errors.New("cancelled")
			}
			return a.pw, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// passwordDialog asks for a secret with a masked entry; it is never shown.
func (c *Console) passwordDialog(prompt string, answer func(string, bool)) {
	if c.host == nil {
		answer("", false)
		return
	}
	pw := widgets.NewSecretEntryNoReveal()
	label := strings.TrimSuffix(strings.TrimSpace(prompt), ":")
	d := dialog.NewForm("Authenticate", "Send", "Cancel", []*widget.FormItem{widget.NewFormItem(label, pw)}, func(ok bool) {
		answer(pw.Text, ok)
	}, c.host.Window())
	d.Resize(fyne.NewSize(440, 0))
	d.Show()
	c.host.Window().Canvas().Focus(pw)
}

// authForm asks for the mechanism and the user, then runs the auth helper.
func (c *Console) authForm() {
	if c.host == nil {
		c.Run("auth plain")
		return
	}
	mech := widget.NewSelect([]string{"plain", "login", "cram-md5", "scram-sha-256", "scram-sha-1", "xoauth2"}, nil)
	mech.SetSelected("plain")
	user := widget.NewEntry()
	user.SetText(strings.TrimSpace(c.User.Text))
	dialog.ShowForm("Authenticate", "Next", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Mechanism", mech), widget.NewFormItem("User", user),
	}, func(ok bool) {
		if !ok {
			return
		}
		line := "auth " + mech.Selected
		if u := strings.TrimSpace(user.Text); u != "" {
			line += " " + u
		}
		c.Run(line)
	}, c.host.Window())
}

// SessionText is the whole session as recorded (redacted), one line each.
func (c *Console) SessionText() string {
	if c.rec == nil {
		return ""
	}
	var b strings.Builder
	for _, e := range c.rec.Events() {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (c *Console) copySession() {
	text := c.SessionText()
	if text == "" {
		c.setStatus("Nothing to copy yet.", false)
		return
	}
	if app := fyne.CurrentApp(); app != nil {
		app.Clipboard().SetContent(text)
	}
	c.setStatus(fmt.Sprintf("Copied the session (%d lines).", strings.Count(text, "\n")), false)
}

func (c *Console) saveSession() {
	text := c.SessionText()
	if text == "" || c.host == nil {
		c.setStatus("Nothing to save yet.", false)
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			c.setStatus("Not saved: "+err.Error(), true)
			return
		}
		if w == nil {
			return
		}
		_, err = w.Write([]byte(text))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.setStatus("Not saved: "+err.Error(), true)
			return
		}
		c.setStatus("Saved the session to "+w.URI().Path(), false)
	}, c.host.Window())
	d.SetFileName("smtp-session-" + time.Now().Format("20060102-150405") + ".txt")
	d.Show()
}

func (c *Console) setStatus(s string, bad bool) {
	c.Status.Importance = widget.MediumImportance
	if bad {
		c.Status.Importance = widget.DangerImportance
	}
	c.Status.SetText(s)
}

func (c *Console) focus(f fyne.Focusable) {
	if c.host != nil {
		c.host.Window().Canvas().Focus(f)
	}
}

// CommandEntry is a one-line entry with a history: Up and Down walk
// through the lines remembered.
type CommandEntry struct {
	widget.Entry
	// Help, when set, is called on F1 (which the entry would swallow).
	Help    func()
	history []string
	pos     int    // index into history while walking; len(history) when not
	draft   string // the text typed before walking
}

// NewCommandEntry returns an empty command line.
func NewCommandEntry() *CommandEntry {
	e := &CommandEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// Remember adds line to the history (not twice in a row) and ends a walk.
func (e *CommandEntry) Remember(line string) {
	if line != "" && (len(e.history) == 0 || e.history[len(e.history)-1] != line) {
		e.history = append(e.history, line)
		if len(e.history) > maxCommandHistory {
			e.history = e.history[len(e.history)-maxCommandHistory:]
		}
	}
	e.pos, e.draft = len(e.history), ""
}

// History returns the lines remembered, oldest first.
func (e *CommandEntry) History() []string { return append([]string(nil), e.history...) }

// TypedKey walks the history on Up and Down.
func (e *CommandEntry) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyF1:
		if e.Help != nil {
			e.Help()
		}
	case fyne.KeyUp:
		if e.pos == len(e.history) {
			e.draft = e.Text
		}
		if e.pos > 0 {
			e.pos--
			e.show(e.history[e.pos])
		}
	case fyne.KeyDown:
		if e.pos < len(e.history) {
			e.pos++
			if e.pos == len(e.history) {
				e.show(e.draft)
			} else {
				e.show(e.history[e.pos])
			}
		}
	default:
		e.Entry.TypedKey(k)
	}
}

func (e *CommandEntry) show(s string) {
	e.SetText(s)
	e.CursorColumn = len([]rune(s))
	e.Refresh()
}

// consoleRing is a bounded list of lines: the oldest go first.
type consoleRing struct {
	lines []string
	start int
	max   int
}

func newConsoleRing(max int) *consoleRing { return &consoleRing{max: max} }

func (r *consoleRing) Add(s string) {
	if len(r.lines) < r.max {
		r.lines = append(r.lines, s)
		return
	}
	r.lines[r.start] = s
	r.start = (r.start + 1) % r.max
}

func (r *consoleRing) Len() int { return len(r.lines) }

func (r *consoleRing) Line(i int) string {
	if i < 0 || i >= len(r.lines) {
		return ""
	}
	return r.lines[(r.start+i)%len(r.lines)]
}

func (r *consoleRing) Clear() { r.lines, r.start = r.lines[:0], 0 }
