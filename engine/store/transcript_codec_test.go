package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/transcript"
)

// TestEncodeTranscriptMatchesJSON checks the hand-written encoder against
// encoding/json: the same events come back, whatever the text holds.
func TestEncodeTranscriptMatchesJSON(t *testing.T) {
	base := time.Date(2026, 11, 26, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	texts := []string{"250 OK", `quote " back \ slash`, "tab\tcr\rlf\n nul\x00 bell\x07 del\x7f", "héllo ✓ 日本",
		"bad \xff\xfe utf8", "<html> & </html>", "\u2028 line sep", ""}
	var evs []transcript.Event
	for i, x := range texts {
		evs = append(evs, transcript.Event{Time: base.Add(time.Duration(i) * time.Millisecond), Elapsed: time.Duration(i) * 1500 * time.Microsecond,
			Dir: transcript.Dir([]string{"C", "S", "I"}[i%3]), TLS: i%2 == 1, Text: x})
	}
	got, err := encodeTranscript(evs)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid([]byte(got)) {
		t.Fatalf("not JSON: %s", got)
	}
	stored := make([]storedEvent, len(evs))
	for i, e := range evs {
		stored[i] = storedEvent{Time: e.Time, ElapsedNs: int64(e.Elapsed), Dir: e.Dir, TLS: e.TLS, Text: e.Text}
	}
	want, _ := json.Marshal(stored)
	a, err := decodeTranscript(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeTranscript(string(want))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !a[i].Time.Equal(b[i].Time) {
			t.Errorf("event %d: time %v, want %v", i, a[i].Time, b[i].Time)
		}
		a[i].Time, b[i].Time = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("decoded\n%+v\nwant\n%+v", a, b)
	}
	if e, _ := encodeTranscript(nil); e != "[]" {
		t.Errorf("no events: %q", e)
	}
}
