package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sendAtLayouts are the local-time forms ParseSendAt accepts.
var sendAtLayouts = []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"}

// ParseSendAt reads a start time: RFC 3339 ("2026-12-01T09:00:00+01:00"),
// "2026-12-01 09:00" in now's location, or relative to now ("+30m",
// "in 2h", "+1d"). A time in the past is an error.
func ParseSendAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(s, "+") || strings.HasPrefix(lower, "in "):
		rel := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(lower, "+"), "in "))
		d, err := parseRelative(rel)
		if err != nil {
			return time.Time{}, fmt.Errorf("send-at %q: %w", s, err)
		}
		return now.Add(d), nil
	default:
		var err error
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			ok := false
			for _, l := range sendAtLayouts {
				if t, err = time.ParseInLocation(l, s, now.Location()); err == nil {
					ok = true
					break
				}
			}
			if !ok {
				return time.Time{}, fmt.Errorf("send-at %q: want RFC 3339 (2026-12-01T09:00:00Z), local \"2026-12-01 09:00\", or relative (+30m, in 2h)", s)
			}
		}
	}
	if t.Before(now.Add(-time.Minute)) {
		return time.Time{}, fmt.Errorf("send-at %q: %s is in the past", s, t.Format(time.RFC3339))
	}
	return t, nil
}

// parseRelative reads a Go duration ("90m", "1h30m") or whole days ("2d").
func parseRelative(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 30m or 2h", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}
