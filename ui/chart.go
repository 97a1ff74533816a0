package ui

import (
	"fmt"
	"image/color"
	"sort"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/history"
)

// ChartDay is one day of the chart: counts and the median time from queued
// to accepted.
type ChartDay struct {
	Day                    time.Time
	Sent, Deferred, Failed int
	Median                 time.Duration
}

// Chart draws sending per day: three bars a day (left to right: sent,
// deferred, failed, each also told apart by its shade and a legend) and a
// line of the median time to send, with the scales written on the axes.
type Chart struct {
	widget.BaseWidget
	Days []ChartDay
	// Summary is the chart in words (also for screen readers and tests).
	Summary string
	err     string
}

// NewChart returns an empty chart.
func NewChart() *Chart {
	c := &Chart{}
	c.ExtendBaseWidget(c)
	return c
}

// SetError shows text instead of the chart.
func (c *Chart) SetError(text string) {
	c.err = text
	c.Refresh()
}

// SetDays shows n days from since, summing the profiles of each day (the
// median is the sent-weighted mean of the profiles' medians).
func (c *Chart) SetDays(since time.Time, n int, days []history.Day) {
	c.err = ""
	out := make([]ChartDay, n)
	weight := make([]int, n)
	var tot ChartDay
	for i := range out {
		out[i].Day = since.AddDate(0, 0, i)
	}
	for _, d := range days {
		i := int(d.Day.Sub(since).Hours()/24 + 0.5)
		if i < 0 || i >= n {
			continue
		}
		o := &out[i]
		sent := d.Sent + d.Partial
		o.Sent += sent
		o.Deferred += d.Deferred
		o.Failed += d.Failed + d.Unknown
		if sent > 0 {
			o.Median = time.Duration((int64(o.Median)*int64(weight[i]) + int64(d.MedianToSend)*int64(sent)) / int64(weight[i]+sent))
			weight[i] += sent
		}
	}
	var meds []time.Duration
	for _, o := range out {
		tot.Sent += o.Sent
		tot.Deferred += o.Deferred
		tot.Failed += o.Failed
		if o.Sent > 0 {
			meds = append(meds, o.Median)
		}
	}
	c.Days = out
	c.Summary = fmt.Sprintf("%d sent, %d deferred, %d failed in %d days", tot.Sent, tot.Deferred, tot.Failed, n)
	if len(meds) > 0 {
		sort.Slice(meds, func(i, j int) bool { return meds[i] < meds[j] })
		c.Summary += "; typical time to send " + durWords(meds[len(meds)/2])
	}
	c.Refresh()
}

func durWords(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// CreateRenderer implements fyne.Widget.
func (c *Chart) CreateRenderer() fyne.WidgetRenderer {
	return &chartRenderer{c: c}
}

// MinSize keeps the chart readable.
func (c *Chart) MinSize() fyne.Size { return fyne.NewSize(300, 120) }

type chartRenderer struct {
	c    *Chart
	objs []fyne.CanvasObject
	size fyne.Size
}

func (r *chartRenderer) Destroy()                     {}
func (r *chartRenderer) MinSize() fyne.Size           { return r.c.MinSize() }
func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *chartRenderer) Refresh()                     { r.build(r.size); canvas.Refresh(r.c) }
func (r *chartRenderer) Layout(s fyne.Size)           { r.size = s; r.build(s) }

// The three series' colours differ in hue and in lightness, so they stay
// apart in grey too; the legend and the fixed order name them.
var (
	sentColor     = color.NRGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff} // dark green
	deferredColor = color.NRGBA{R: 0xf9, G: 0xa8, B: 0x25, A: 0xff} // light amber
	failedColor   = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff} // mid red
	medianColor   = color.NRGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff} // blue
)

func (r *chartRenderer) text(s string, size float32, pos fyne.Position, align fyne.TextAlign) *canvas.Text {
	t := canvas.NewText(s, theme.Color(theme.ColorNameForeground))
	t.TextSize = size
	t.Alignment = align
	t.Move(pos)
	min := t.MinSize()
	switch align {
	case fyne.TextAlignTrailing:
		t.Move(fyne.NewPos(pos.X-min.Width, pos.Y))
	case fyne.TextAlignCenter:
		t.Move(fyne.NewPos(pos.X-min.Width/2, pos.Y))
	}
	t.Resize(min)
	t.Alignment = fyne.TextAlignLeading
	return t
}

func (r *chartRenderer) build(s fyne.Size) {
	c := r.c
	r.objs = r.objs[:0]
	ts := theme.TextSize() * 0.85
	if c.err != "" || len(c.Days) == 0 {
		msg := c.err
		if msg == "" {
			msg = "No messages in the last 30 days."
		}
		r.objs = append(r.objs, r.text(msg, ts, fyne.NewPos(8, 8), fyne.TextAlignLeading))
		return
	}
	// Legend on top.
	x := float32(8)
	legend := func(col color.Color, label string, line bool) {
		var sw fyne.CanvasObject
		if line {
			l := canvas.NewLine(col)
			l.StrokeWidth = 2
			l.Position1, l.Position2 = fyne.NewPos(x, 9), fyne.NewPos(x+14, 9)
			sw = l
		} else {
			rc := canvas.NewRectangle(col)
			rc.Move(fyne.NewPos(x, 3))
			rc.Resize(fyne.NewSize(10, 12))
			sw = rc
		}
		t := r.text(label, ts, fyne.NewPos(x+18, 0), fyne.TextAlignLeading)
		r.objs = append(r.objs, sw, t)
		x += 18 + t.MinSize().Width + 14
	}
	legend(sentColor, "Sent (1st bar)", false)
	legend(deferredColor, "Deferred (2nd)", false)
	legend(failedColor, "Failed (3rd)", false)
	legend(medianColor, "Median time to send (line, right scale)", true)
	sum := r.text(c.Summary, ts, fyne.NewPos(8, ts+6), fyne.TextAlignLeading)
	r.objs = append(r.objs, sum)

	top := 2*ts + 16
	left, right := float32(44), float32(56)
	bottom := ts + 8
	w, h := s.Width-left-right, s.Height-top-bottom
	if w < 50 || h < 30 {
		return
	}
	maxN, maxMed := 1, time.Duration(0)
	for _, d := range c.Days {
		maxN = max(maxN, d.Sent, d.Deferred, d.Failed)
		maxMed = max(maxMed, d.Median)
	}
	fg := theme.Color(theme.ColorNameDisabled)
	axis := canvas.NewLine(fg)
	axis.Position1, axis.Position2 = fyne.NewPos(left, top+h), fyne.NewPos(left+w, top+h)
	yaxis := canvas.NewLine(fg)
	yaxis.Position1, yaxis.Position2 = fyne.NewPos(left, top), fyne.NewPos(left, top+h)
	r.objs = append(r.objs, axis, yaxis,
		r.text(fmt.Sprint(maxN), ts, fyne.NewPos(left-4, top-ts/2), fyne.TextAlignTrailing),
		r.text("0", ts, fyne.NewPos(left-4, top+h-ts), fyne.TextAlignTrailing))
	if maxMed > 0 {
		r.objs = append(r.objs, r.text(durWords(maxMed), ts, fyne.NewPos(left+w+4, top-ts/2), fyne.TextAlignLeading))
	}
	n := len(c.Days)
	slot := w / float32(n)
	bw := max(slot/4, 1)
	var prev *fyne.Position
	for i, d := range c.Days {
		x0 := left + float32(i)*slot + slot/8
		for k, v := range []int{d.Sent, d.Deferred, d.Failed} {
			if v == 0 {
				continue
			}
			bh := h * float32(v) / float32(maxN)
			rc := canvas.NewRectangle([]color.Color{sentColor, deferredColor, failedColor}[k])
			rc.Move(fyne.NewPos(x0+float32(k)*bw, top+h-bh))
			rc.Resize(fyne.NewSize(bw, bh))
			r.objs = append(r.objs, rc)
		}
		if d.Sent > 0 && maxMed > 0 {
			p := fyne.NewPos(left+float32(i)*slot+slot/2, top+h-h*float32(d.Median)/float32(maxMed))
			dot := canvas.NewCircle(medianColor)
			dot.Move(fyne.NewPos(p.X-3, p.Y-3))
			dot.Resize(fyne.NewSize(6, 6))
			r.objs = append(r.objs, dot)
			if prev != nil {
				l := canvas.NewLine(medianColor)
				l.StrokeWidth = 2
				l.Position1, l.Position2 = *prev, p
				r.objs = append(r.objs, l)
			}
			prev = &p
		}
		if i == 0 || i == n-1 || i == n/2 {
			r.objs = append(r.objs, r.text(d.Day.Format("Jan 2"), ts, fyne.NewPos(left+float32(i)*slot+slot/2, top+h+2), fyne.TextAlignCenter))
		}
	}
}
