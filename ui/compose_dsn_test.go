package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestComposeQueueAndSendAtKeepDSN: Queue and Send at hand the form's
// delivery notification options to the outbox, and the Options tab no
// longer says they apply only to a message sent now.
func TestComposeQueueAndSendAtKeepDSN(t *testing.T) {
	r := composeRig(t)
	c := r.compose
	test.Type(c.To, "ann@example.com")
	test.Type(c.Subject, "Later")
	c.Notify.SetSelected([]string{"Success", "Failure"})
	c.Return.SetSelected("Headers only")
	test.Type(c.EnvID, "run-7")
	test.Tap(c.QueueButton)
	r.pump("the queue", func() bool { return len(r.core.queuedItems()) == 1 && !c.Busy() })
	q := r.core.queuedItems()[0]
	if q.dsn == nil || strings.Join(q.dsn.Notify, ",") != "SUCCESS,FAILURE" || q.dsn.Return != "hdrs" || q.dsn.EnvID != "run-7" {
		t.Fatalf("queued with dsn %+v", q.dsn)
	}

	// Send at: the same form, later.
	at := time.Now().Add(time.Hour)
	c.To.SetText("bob@example.com")
	c.Notify.SetSelected([]string{"Never"})
	c.Return.ClearSelected()
	c.EnvID.SetText("")
	c.run(actQueue, "", at)
	r.pump("the scheduled queue", func() bool { return len(r.core.queuedItems()) == 2 && !c.Busy() })
	q = r.core.queuedItems()[1]
	if !q.at.Equal(at) || q.dsn == nil || strings.Join(q.dsn.Notify, ",") != "NEVER" || q.dsn.Return != "" || q.dsn.EnvID != "" {
		t.Fatalf("scheduled at %v with dsn %+v", q.at, q.dsn)
	}

	// No options: none asked for.
	c.To.SetText("cy@example.com")
	c.Notify.SetSelected(nil)
	test.Tap(c.QueueButton)
	r.pump("the third queue", func() bool { return len(r.core.queuedItems()) == 3 && !c.Busy() })
	if q := r.core.queuedItems()[2]; q.dsn != nil {
		t.Fatalf("queued without options, dsn %+v", q.dsn)
	}

	// Bad options: nothing queued, said in words.
	c.Notify.SetSelected([]string{"Never", "Delay"})
	test.Tap(c.QueueButton)
	r.pump("the refusal", func() bool {
		return !c.Busy() && strings.HasPrefix(c.Status.Text, "Not queued: Delivery notifications")
	})
	if n := len(r.core.queuedItems()); n != 3 {
		t.Fatalf("%d queued after a refusal", n)
	}

	var notes []string
	for _, it := range c.Tabs.Items {
		if it.Text != "Options" {
			continue
		}
		walk(it.Content, func(o fyne.CanvasObject) {
			if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "notifications") {
				notes = append(notes, l.Text)
			}
		})
	}
	for _, n := range notes {
		if strings.Contains(n, "sent now") {
			t.Errorf("the Options tab still limits notifications to a message sent now: %q", n)
		}
	}
}
