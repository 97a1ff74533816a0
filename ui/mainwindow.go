package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
)

// Options adjust a main window.
type Options struct {
	// Dispatch runs f on the UI goroutine. Default: fyne.Do. Tests inject a
	// queue they drain themselves, so the test driver is driven synchronously.
	Dispatch func(f func())
}

// MainWindow is Herald's first window: a compose form, the live protocol log
// of the last send, and the sandbox inbox. Its widgets are exported so that
// tests can drive them.
type MainWindow struct {
	Window fyne.Window

	From, To, Cc, Subject, Body *widget.Entry
	Attachments                 []string
	AttachLabel                 *widget.Label
	SendButton                  *widget.Button
	Status, Hint                *widget.Label

	Log *LogView

	InboxList *widget.List
	Inbox     []InboxItem
	Source    *widget.TextGrid

	backend  Backend
	do       func(func())
	ctx      context.Context
	cancel   context.CancelFunc
	stopSub  func()
	stopOnce sync.Once
	selected int64
}

// NewMainWindow builds the main window of app a over backend b and starts
// watching the sandbox inbox. Call Show on its Window to display it.
func NewMainWindow(a fyne.App, b Backend, opts Options) *MainWindow {
	m := &MainWindow{backend: b, do: opts.Dispatch}
	if m.do == nil {
		m.do = fyne.Do
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.Window = a.NewWindow("Herald")
	m.Window.SetContent(m.build())
	m.Window.Resize(fyne.NewSize(1200, 760))
	m.Window.SetOnClosed(m.Stop)
	m.watchInbox()
	return m
}

func (m *MainWindow) build() fyne.CanvasObject {
	m.From = widget.NewEntry()
	m.From.SetText(m.backend.DefaultFrom())
	m.To = widget.NewEntry()
	m.To.SetPlaceHolder("someone@example.com, another@example.com")
	m.Cc = widget.NewEntry()
	m.Cc.SetPlaceHolder("optional")
	m.Subject = widget.NewEntry()
	m.Body = widget.NewMultiLineEntry()
	m.Body.SetPlaceHolder("Message text")
	m.Body.Wrapping = fyne.TextWrapWord

	m.AttachLabel = widget.NewLabel("No attachments")
	m.AttachLabel.Truncation = fyne.TextTruncateEllipsis
	attach := widget.NewButton("Attach…", m.chooseAttachment)
	clear := widget.NewButton("Clear", func() {
		m.Attachments = nil
		m.showAttachments()
	})
	m.SendButton = widget.NewButton("Send", m.send)
	m.SendButton.Importance = widget.HighImportance

	form := widget.NewForm(
		widget.NewFormItem("Via", widget.NewLabel(m.backend.Target())),
		widget.NewFormItem("From", m.From),
		widget.NewFormItem("To", m.To),
		widget.NewFormItem("Cc", m.Cc),
		widget.NewFormItem("Subject", m.Subject),
	)
	actions := container.NewBorder(nil, nil, container.NewHBox(attach, clear), m.SendButton, m.AttachLabel)
	compose := container.NewBorder(form, actions, nil, nil, m.Body)

	m.Log = NewLogView()
	logPanel := container.NewBorder(
		container.NewHBox(bold("Live protocol log"), widget.NewLabel("C: client  S: server  I: info  * inside TLS")),
		nil, nil, nil, m.Log.List)

	m.InboxList = widget.NewList(
		func() int { return len(m.Inbox) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(m.Inbox) {
				o.(*widget.Label).SetText(inboxLine(m.Inbox[id]))
			}
		},
	)
	m.InboxList.OnSelected = func(id widget.ListItemID) {
		if id < len(m.Inbox) {
			m.showSource(m.Inbox[id].ID)
		}
	}
	m.Source = widget.NewTextGrid()
	inboxSplit := container.NewHSplit(m.InboxList, container.NewScroll(m.Source))
	inboxSplit.Offset = 0.4
	inboxPanel := container.NewBorder(bold("Sandbox inbox"), nil, nil, nil, inboxSplit)

	right := container.NewVSplit(logPanel, inboxPanel)
	main := container.NewHSplit(compose, right)
	main.Offset = 0.38

	m.Status = widget.NewLabel("Ready: messages go to " + m.backend.Target())
	m.Hint = widget.NewLabel("")
	m.Hint.Wrapping = fyne.TextWrapWord
	m.Hint.Hide()
	return container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), m.Status, m.Hint), nil, nil, main)
}

func bold(s string) *widget.Label {
	return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

func inboxLine(it InboxItem) string {
	subj := it.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	return fmt.Sprintf("%s  %s  →  %s  %s", it.Received.Local().Format("15:04:05"), it.From, strings.Join(it.To, ", "), subj)
}

// Draft returns the message the form describes.
func (m *MainWindow) Draft() message.Draft {
	d := message.Draft{
		From:    strings.TrimSpace(m.From.Text),
		To:      splitList(m.To.Text),
		Cc:      splitList(m.Cc.Text),
		Subject: m.Subject.Text,
		Text:    m.Body.Text,
	}
	for _, p := range m.Attachments {
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

// send runs on the UI goroutine (a button callback); the network work runs
// in the background and reports back through m.do.
func (m *MainWindow) send() {
	d := m.Draft()
	m.SendButton.Disable()
	m.Log.Clear()
	m.setStatus("Sending to "+m.backend.Target()+"…", widget.MediumImportance, "")

	rec := transcript.New()
	sub := rec.Subscribe(1024, true)
	go func() {
		for e := range sub.C() {
			m.do(func() { m.Log.Append(e) })
		}
	}()
	go func() {
		out := m.backend.Send(m.ctx, d, rec)
		rec.Finish()
		m.do(func() {
			imp := widget.SuccessImportance
			if !out.OK {
				imp = widget.DangerImportance
			}
			m.setStatus(out.Summary, imp, out.Hint)
			m.SendButton.Enable()
		})
	}()
}

func (m *MainWindow) setStatus(s string, imp widget.Importance, hint string) {
	m.Status.Importance = imp
	m.Status.SetText(s)
	m.Hint.SetText(hint)
	if hint == "" {
		m.Hint.Hide()
	} else {
		m.Hint.Show()
	}
}

func (m *MainWindow) chooseAttachment() {
	dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			dialog.ShowError(err, m.Window)
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		m.Attachments = append(m.Attachments, path)
		m.showAttachments()
	}, m.Window)
}

func (m *MainWindow) showAttachments() {
	if len(m.Attachments) == 0 {
		m.AttachLabel.SetText("No attachments")
		return
	}
	names := make([]string, len(m.Attachments))
	for i, p := range m.Attachments {
		names[i] = filepath.Base(p)
	}
	m.AttachLabel.SetText(strings.Join(names, ", "))
}

// watchInbox loads the inbox and reloads it whenever the sandbox captures a
// message; all queries run off the UI goroutine.
func (m *MainWindow) watchInbox() {
	updates, stop := m.backend.InboxUpdates()
	m.stopSub = stop
	go func() {
		m.reloadInbox()
		for {
			select {
			case <-m.ctx.Done():
				return
			case _, ok := <-updates:
				if !ok {
					return
				}
				m.reloadInbox()
			}
		}
	}()
}

func (m *MainWindow) reloadInbox() {
	items, err := m.backend.Inbox(m.ctx)
	m.do(func() {
		if err != nil {
			m.setStatus("Could not read the sandbox inbox: "+err.Error(), widget.DangerImportance, "")
			return
		}
		m.Inbox = items
		m.InboxList.Refresh()
	})
}

func (m *MainWindow) showSource(id int64) {
	m.selected = id
	go func() {
		src, err := m.backend.InboxSource(m.ctx, id)
		m.do(func() {
			if m.selected != id {
				return // the user moved on
			}
			if err != nil {
				m.Source.SetText("Could not load message " + fmt.Sprint(id) + ": " + err.Error())
				return
			}
			m.Source.SetText(strings.ReplaceAll(src, "\r\n", "\n"))
		})
	}()
}

// Stop ends the window's background work (inbox updates, loads); call it once
// the app has stopped running.
func (m *MainWindow) Stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		if m.stopSub != nil {
			m.stopSub()
		}
	})
}

// Close stops the window's background work and closes it.
func (m *MainWindow) Close() {
	m.Stop()
	m.Window.Close()
}
