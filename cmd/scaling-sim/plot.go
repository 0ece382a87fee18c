package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/foqus-cloud/stack/core/scaling/sim"
)

// Colours of the series, the same in every panel.
var (
	colDesired   = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
	colInService = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colPending   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colWarm      = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colQueued    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colRunning   = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
)

// plotTrace draws one row per policy: instances over time on the left
// (desired, in service, booting, warm pool), jobs on the right (queued,
// running), on a shared time axis in minutes or hours.
func plotTrace(path string, tr sim.Trace, rs []sim.Result) error {
	// A shared time axis, as long as the longest replay that finished (one
	// that never does, jobs cut again and again, is drawn up to there).
	span, longest := 0, 0
	for _, r := range rs {
		if n := len(r.Samples); n > 0 {
			longest = max(longest, r.Samples[n-1].Minute)
			if r.Unfinished == 0 {
				span = max(span, r.Samples[n-1].Minute)
			}
		}
	}
	if span == 0 {
		span = longest
	}
	unit, per := "minutes", 1.0
	if span > 6*60 {
		unit, per = "hours", 60
	}
	maxInst, maxJobs := 1.0, 1.0
	for _, r := range rs {
		for _, s := range r.Samples {
			if s.Minute > span {
				break
			}
			maxInst = max(maxInst, float64(max(s.Desired, s.InService+s.Pending+s.Draining, s.Warm)))
			maxJobs = max(maxJobs, float64(s.Visible+s.Running))
		}
	}
	rows := make([][]*plot.Plot, len(rs))
	for i, r := range rs {
		inst := plot.New()
		inst.Title.Text = fmt.Sprintf("%s: instances (wait p95 %s, %.0f instance-h, $%.0f, %d cut", r.Policy, minutes(r.WaitP95()), r.InstanceHours, r.Cost, r.JobsCut)
		if r.Unfinished > 0 {
			inst.Title.Text += fmt.Sprintf(", %d unfinished at %d h", r.Unfinished, r.HorizonSeconds/3600)
		}
		inst.Title.Text += ")"
		inst.X.Label.Text = unit
		inst.Y.Label.Text = "instances"
		inst.Y.Min, inst.Y.Max = 0, maxInst*1.6+1 // room for the legend
		inst.Y.Tick.Marker = intTicks{}
		inst.Add(plotter.NewGrid())
		jobs := plot.New()
		jobs.Title.Text = r.Policy + ": jobs"
		jobs.X.Label.Text = unit
		jobs.Y.Label.Text = "jobs"
		jobs.Y.Min, jobs.Y.Max = 0, maxJobs*1.35
		jobs.Y.Tick.Marker = intTicks{}
		jobs.Add(plotter.NewGrid())
		for _, s := range []struct {
			p     *plot.Plot
			name  string
			col   color.Color
			width vg.Length
			dash  bool
			v     func(sim.Sample) int
		}{
			{inst, "desired", colDesired, 2, true, func(s sim.Sample) int { return s.Desired }},
			{inst, "in service", colInService, 2.5, false, func(s sim.Sample) int { return s.InService }},
			{inst, "booting", colPending, 1.5, false, func(s sim.Sample) int { return s.Pending }},
			{inst, "warm pool (stopped)", colWarm, 1.5, false, func(s sim.Sample) int { return s.Warm }},
			{jobs, "queued", colQueued, 2, false, func(s sim.Sample) int { return s.Visible }},
			{jobs, "running", colRunning, 2, false, func(s sim.Sample) int { return s.Running }},
		} {
			var xys plotter.XYs
			for _, smp := range r.Samples {
				if smp.Minute <= span {
					xys = append(xys, plotter.XY{X: float64(smp.Minute) / per, Y: float64(s.v(smp))})
				}
			}
			if len(xys) == 0 {
				continue
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			l.StepStyle = plotter.PostStep
			l.Color, l.Width = s.col, s.width
			if s.dash {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			s.p.Add(l)
			s.p.Legend.Add(s.name, l)
		}
		for _, p := range []*plot.Plot{inst, jobs} {
			p.Legend.Top = true
			p.X.Min, p.X.Max = 0, float64(span)/per
			p.X.Tick.Marker = intTicks{}
		}
		rows[i] = []*plot.Plot{inst, jobs}
	}

	const w, rowH = 16 * vg.Inch, 3.2 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, rowH*vg.Length(len(rs))+0.4*vg.Inch), vgimg.UseDPI(96))
	dc := draw.New(img)
	title := draw.Crop(dc, 0, 0, dc.Size().Y-0.4*vg.Inch, 0)
	sty := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, XAlign: draw.XCenter, YAlign: draw.YCenter}
	sty.Font.Size = vg.Points(16)
	sty.Handler = plot.DefaultTextHandler
	title.FillText(sty, vg.Point{X: w / 2, Y: dc.Max.Y - 0.2*vg.Inch}, fmt.Sprintf("%s: %s", tr.Name, tr.About))
	body := draw.Crop(dc, 0, 0, 0, -0.4*vg.Inch)
	tiles := draw.Tiles{Rows: len(rs), Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(rows, tiles, body)
	for j := range rows {
		for i := range rows[j] {
			rows[j][i].Draw(canvases[j][i])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// intTicks labels at most ten ticks at a 1-2-5 step, with unlabelled minor ticks.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for i := 0; (hi-lo)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3] // 1, 2, 5, 10, 20, 50, ...
	}
	var ts []plot.Tick
	for v := step * math.Floor(lo/step); v <= hi; v += step {
		if v >= lo {
			ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
		}
		for k := 1; k < 5; k++ {
			if m := v + step*float64(k)/5; m > lo && m < hi {
				ts = append(ts, plot.Tick{Value: m})
			}
		}
	}
	return ts
}
