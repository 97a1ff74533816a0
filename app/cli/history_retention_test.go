package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHistoryQueuedAndRetention: messages the outbox sends are in the
// history with their outbox item; retention is shown, set, kept and
// applied.
func TestHistoryQueuedAndRetention(t *testing.T) {
	b := newBoxCLI(t, "Ann <ann@herald.test>")
	dir, run := b.dir, b.run
	for _, s := range []string{"one", "two", "three"} {
		if r := run("send", "--profile", "box", "--queue", "--to", "b@herald.test", "--subject", s, "--body", "x"); r.code != ExitOK {
			t.Fatalf("send --queue: %d %s", r.code, r.stderr)
		}
	}
	if r := run("queue", "run", "--until-empty"); r.code != ExitOK {
		t.Fatalf("queue run: %d %s", r.code, r.stderr)
	}
	l := listHistory(t, dir)
	if l.Total != 3 || l.Records[0].State != "sent" {
		t.Fatalf("history after the outbox ran: %+v", l)
	}
	r := run("history", "show", "1", "--json")
	var rec struct {
		QueueItem  int64 `json:"queue_item"`
		Transcript []any `json:"transcript"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.QueueItem == 0 || len(rec.Transcript) == 0 {
		t.Fatalf("show: %v %s", err, r.stdout)
	}

	if r := run("history", "retention"); r.code != ExitOK || !strings.Contains(r.stdout, "keep days:      no limit") || !strings.Contains(r.stdout, "for every send") {
		t.Fatalf("retention shown: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// How many transcripts are forgotten depends on how the runner split
	// the three messages into sessions; what matters is what is left.
	if r := run("history", "retention", "--keep-messages", "2", "--transcripts", "failures"); r.code != ExitOK ||
		!strings.Contains(r.stdout, "2 records") || !strings.Contains(r.stdout, "1 record(s) removed") {
		t.Fatalf("retention set: %d %s %s", r.code, r.stdout, r.stderr)
	}
	l = listHistory(t, dir)
	if l.Total != 2 {
		t.Fatalf("after --keep-messages 2: %d records", l.Total)
	}
	for _, left := range l.Records {
		r := run("history", "show", itoa(left.ID), "--json")
		var kept struct {
			Transcript []any `json:"transcript"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &kept); err != nil || len(kept.Transcript) != 0 {
			t.Fatalf("a sent message kept its transcript with --transcripts failures: %v %s", err, r.stdout)
		}
	}
	r = run("history", "retention", "--json")
	var got struct {
		KeepDays     int    `json:"keep_days"`
		KeepMessages int    `json:"keep_messages"`
		Transcripts  string `json:"transcripts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.KeepMessages != 2 || got.KeepDays != 0 || got.Transcripts != "failures" {
		t.Fatalf("retention kept: %v %s", err, r.stdout)
	}
	// Applied again when the core opens: a new send leaves two records.
	if r := run("send", "--profile", "box", "--to", "b@herald.test", "--subject", "four", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send: %d %s", r.code, r.stderr)
	}
	if r := run("history", "purge", "--older-than", "1000d"); r.code != ExitOK {
		t.Fatalf("purge: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if l := listHistory(t, dir); l.Total != 2 || l.Records[0].Subject != "four" {
		t.Fatalf("after a send and a purge with --keep-messages 2: %+v", l)
	}
	if r := run("history", "retention", "--keep-days", "-3"); r.code != ExitUsage {
		t.Fatalf("negative days: %d", r.code)
	}
	if r := run("history", "retention", "--transcripts", "some"); r.code != ExitUsage {
		t.Fatalf("bad transcripts: %d", r.code)
	}
	if r := run("history", "retention", "--keep-messages", "0", "--transcripts", "all"); r.code != ExitOK || !strings.Contains(r.stdout, "keep messages:  no limit") {
		t.Fatalf("limits removed: %d %s", r.code, r.stdout)
	}
}
