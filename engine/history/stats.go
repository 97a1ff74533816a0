package history

import (
	"context"
	"slices"
	"time"
)

// Day is one profile's sending on one day, for the window's chart.
type Day struct {
	// Day is local midnight (Options.Location) starting the day.
	Day time.Time `json:"day"`
	// Profile is the profile id, ProfileName its latest name that day.
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
	ts, err := l.st.HistoryTimings(ctx, since, profile)
	if err != nil {
		return nil, err
	}
	type key struct {
		day     time.Time
		profile string
	}
	idx := map[key]int{}
	var days []Day
	var waits [][]time.Duration
	loc := l.o.Location
	for _, t := range ts {
		f := t.Finished.In(loc)
		k := key{time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc), t.Profile}
		i, ok := idx[k]
		if !ok {
			i = len(days)
			idx[k] = i
			days = append(days, Day{Day: k.day, Profile: t.Profile})
			waits = append(waits, nil)
		}
		d := &days[i]
		if t.ProfileName != "" {
			d.ProfileName = t.ProfileName
		}
		switch State(t.State) {
		case Sent:
			d.Sent++
		case Partial:
			d.Partial++
		case Deferred:
			d.Deferred++
		case Failed:
			d.Failed++
		default:
			d.Unknown++
		}
		if s := State(t.State); s == Sent || s == Partial {
			waits[i] = append(waits[i], t.Finished.Sub(t.Queued))
		}
	}
	for i := range days {
		if w := waits[i]; len(w) > 0 {
			slices.Sort(w)
			m := w[len(w)/2]
			if len(w)%2 == 0 {
				m = (w[len(w)/2-1] + w[len(w)/2]) / 2
			}
			days[i].MedianToSend = m
			days[i].MedianToSendMs = float64(m.Microseconds()) / 1000
		}
	}
	slices.SortStableFunc(days, func(a, b Day) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		switch {
		case a.Profile < b.Profile:
			return -1
		case a.Profile > b.Profile:
			return 1
		}
		return 0
	})
	return days, nil
}
