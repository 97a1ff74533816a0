package queue

import (
	"testing"
	"time"
)

func TestParseSendAt(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 24, 22, 30, 0, 0, loc)
	for s, want := range map[string]time.Time{
		"2026-12-01T09:00:00Z": time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		"2026-12-01 09:00":     time.Date(2026, 12, 1, 9, 0, 0, 0, loc),
		"2026-12-01T09:00:30":  time.Date(2026, 12, 1, 9, 0, 30, 0, loc),
		"+30m":                 now.Add(30 * time.Minute),
		"in 2h":                now.Add(2 * time.Hour),
		"+1d":                  now.Add(24 * time.Hour),
	} {
		got, err := ParseSendAt(s, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSendAt(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"tomorrow", "2020-01-01 09:00", "+-5m", "in x", "12/01/2026"} {
		if _, err := ParseSendAt(s, now); err == nil {
			t.Errorf("ParseSendAt(%q): no error", s)
		}
	}
}
