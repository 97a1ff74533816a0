package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
)

// TestOutboxEditACopyKeepsDSN: "Edit a copy…" opens Compose with the queued
// message's delivery notification options, so queueing the copy keeps them.
func TestOutboxEditACopyKeepsDSN(t *testing.T) {
	r := newOutboxRig(t, 1)
	v := r.view
	r.fake.set(1, func(it *queue.Item) { it.DSN = store.QueueDSN{Notify: "FAILURE,DELAY", Return: "hdrs", EnvID: "run-7"} })
	v.SelectRow(0, 0)
	r.pump("the detail", func() bool {
		return strings.Contains(v.Detail.Text, "Delivery notifications: notify FAILURE,DELAY, return hdrs, envelope id run-7")
	})
	test.Tap(v.EditButton)
	r.pump("Compose", func() bool { return r.shell.Current() == "compose" && r.compose.Subject.Text == "Message 1" })
	c := r.compose
	if !slices.Equal(c.Notify.Selected, []string{"Failure", "Delay"}) || c.Return.Selected != "Headers only" || c.EnvID.Text != "run-7" {
		t.Fatalf("compose options: notify %v return %q envid %q", c.Notify.Selected, c.Return.Selected, c.EnvID.Text)
	}
	test.Tap(c.QueueButton)
	r.pump("the queue", func() bool { return len(r.core.queuedItems()) == 1 && !c.Busy() })
	q := r.core.queuedItems()[0]
	if q.dsn == nil || !slices.Equal(q.dsn.Notify, []string{"FAILURE", "DELAY"}) || q.dsn.Return != "hdrs" || q.dsn.EnvID != "run-7" {
		t.Fatalf("the copy was queued with dsn %+v", q.dsn)
	}
}
