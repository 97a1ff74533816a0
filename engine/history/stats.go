package history

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Day is one profile's sending on one day, for the window's chart.
type Day struct {
	// Day is local midnight (Options.Location) starting the day.
	Day time.Time `json:"day"`
	// Profile is the profile id, ProfileName its most recent name.
	Profile     string `json:"profile"`
	ProfileName string `json:"profile_name,omitempty"`
	// Sent counts messages accepted for every recipient; Partial those
	// accepted for some.
	Sent    int `json:"sent"`
	Partial int `json:"partial"`
	// Deferred, Failed and Unknown count the other outcomes (a message
	// retried by the outbox counts once per attempt).
	Deferred int `json:"deferred"`
	Failed   int `json:"failed"`
	Unknown  int `json:"unknown"`
	// MedianToSend is the median time from queued to accepted of the sent
	// and partially sent messages; 0 when there were none.
	MedianToSend   time.Duration `json:"-"`
	MedianToSendMs float64       `json:"median_to_send_ms"`
}

// Daily returns per-day, per-profile counts of the records that finished
// at or after since, for one profile or all (""), oldest day first and
// profiles in id order within a day. Days without records are left out.
func (l *Log) Daily(ctx context.Context, since time.Time, profile string) ([]Day, error) {
	oldest, newest, ok, err := l.st.HistoryRange(ctx, since)
	if err != nil || !ok {
		return nil, err
	}
	loc := l.o.Location
	midnight := func(t time.Time) time.Time {
		t = t.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	// Local midnights from the first record's day to the day after the
	// last; the first bound is since itself when that is later.
	bounds := []time.Time{midnight(oldest)}
	for d := bounds[0]; !d.After(newest); {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		bounds = append(bounds, d)
	}
	starts := append([]time.Time(nil), bounds...)
	if bounds[0].Before(since) {
		bounds[0] = since
	}
	rows, err := l.st.HistoryDaily(ctx, bounds, profile, []string{string(Sent), string(Partial)})
	if err != nil {
		return nil, err
	}
	days := make([]Day, 0, len(rows))
	for _, r := range rows {
		d := Day{Day: starts[r.Day], Profile: r.Profile, ProfileName: r.ProfileName,
			Sent: r.Counts[string(Sent)], Partial: r.Counts[string(Partial)], Deferred: r.Counts[string(Deferred)],
			Failed: r.Counts[string(Failed)], MedianToSend: r.MedianWait}
		for st, n := range r.Counts {
			switch State(st) {
			case Sent, Partial, Deferred, Failed:
			default:
				d.Unknown += n
			}
		}
		d.MedianToSendMs = float64(d.MedianToSend.Microseconds()) / 1000
		days = append(days, d)
	}
	slices.SortStableFunc(days, func(a, b Day) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Profile, b.Profile)
	})
	return days, nil
}
