package loadtest

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Report is what a run measured.
type Report struct {
	Scenario  Scenario
	Samples   []Sample
	Elapsed   time.Duration
	Sessions  int // started
	Completed int // every result read back
	// Unanswered per route: requests still waiting when the run ended.
	Unanswered map[string]int
}

// Stats are one route's figures over a set of samples.
type Stats struct {
	Route         string
	Requests      int
	Errors        int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

func stats(route string, ss []Sample) Stats {
	st := Stats{Route: route}
	var lat []time.Duration
	for _, s := range ss {
		if s.Route != route {
			continue
		}
		st.Requests++
		if s.Err != nil {
			st.Errors++
		}
		lat = append(lat, s.Latency)
	}
	if len(lat) == 0 {
		return st
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
	st.P50, st.P95, st.P99, st.Max = q(0.50), q(0.95), q(0.99), lat[len(lat)-1]
	return st
}

// Overall is every route's figures over the whole run.
func (r *Report) Overall() []Stats { return r.per(r.Samples) }

// Peak is every route's figures while all users were running.
func (r *Report) Peak() []Stats {
	var ss []Sample
	for _, s := range r.Samples {
		if s.Users >= r.Scenario.Users {
			ss = append(ss, s)
		}
	}
	return r.per(ss)
}

func (r *Report) per(ss []Sample) []Stats {
	out := make([]Stats, 0, len(Routes))
	for _, route := range Routes {
		out = append(out, stats(route, ss))
	}
	return out
}

// PeakUsers is the most users that ran at once.
func (r *Report) PeakUsers() int {
	n := 0
	for _, s := range r.Samples {
		n = max(n, s.Users)
	}
	return n
}

func (r *Report) unanswered() int {
	n := 0
	for _, c := range r.Unanswered {
		n += c
	}
	return n
}

// Errors are up to n distinct error texts.
func (r *Report) Errors(n int) []string {
	var out []string
	for _, s := range r.Samples {
		if s.Err != nil && !slices.Contains(out, s.Err.Error()) {
			out = append(out, s.Err.Error())
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// WriteText prints the figures: per route over the run and at the peak.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var err error
	printf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(tw, format, a...)
		}
	}
	printf("%d users (peak %d) at %.0f/s for %s: %d requests answered, %d unanswered at the end, %d sessions started, %d with every result\n",
		r.Scenario.Users, r.PeakUsers(), r.Scenario.SpawnRate, r.Elapsed.Round(time.Millisecond), len(r.Samples), r.unanswered(), r.Sessions, r.Completed)
	for _, part := range []struct {
		name string
		st   []Stats
	}{{"whole run", r.Overall()}, {fmt.Sprintf("at the peak (%d users)", r.Scenario.Users), r.Peak()}} {
		printf("%s\nroute\trequests\terrors\tp50\tp95\tp99\tmax\n", part.name)
		for _, s := range part.st {
			printf("%s\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Route, s.Requests, s.Errors, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
		}
	}
	for _, e := range r.Errors(5) {
		printf("error: %s\n", e)
	}
	if err != nil {
		return err
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// routeColours, one per route in Routes order.
var routeColours = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// latencyPlot draws each route's p50 and p99 per second over the run, and
// the users running, as SVG.
func (r *Report) latencyPlot() ([]byte, error) {
	secs := int(r.Elapsed/time.Second) + 1
	lat := plot.New()
	lat.Title.Text = "latency per route over time (p50 solid, p99 dashed, per second)"
	lat.X.Label.Text, lat.Y.Label.Text = "seconds", "ms"
	lat.Add(plotter.NewGrid())
	lat.Legend.Top = true
	for i, route := range Routes {
		buckets := make([][]time.Duration, secs)
		for _, s := range r.Samples {
			if s.Route == route {
				b := int(s.At / time.Second)
				buckets[b] = append(buckets[b], s.Latency)
			}
		}
		var p50, p99 plotter.XYs
		for b, ls := range buckets {
			if len(ls) == 0 {
				continue
			}
			slices.Sort(ls)
			p50 = append(p50, plotter.XY{X: float64(b), Y: float64(ls[len(ls)/2]) / 1e6})
			p99 = append(p99, plotter.XY{X: float64(b), Y: float64(ls[min(len(ls)-1, len(ls)*99/100)]) / 1e6})
		}
		if len(p50) == 0 {
			continue
		}
		for k, xys := range []plotter.XYs{p50, p99} {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = routeColours[i], vg.Points(1.5)
			if k == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			} else {
				lat.Legend.Add(route, l)
			}
			lat.Add(l)
		}
	}
	users := plot.New()
	users.Title.Text = "users running"
	users.X.Label.Text, users.Y.Label.Text = "seconds", "users"
	users.Add(plotter.NewGrid())
	var xys plotter.XYs
	for _, s := range r.Samples {
		xys = append(xys, plotter.XY{X: s.At.Seconds(), Y: float64(s.Users)})
	}
	slices.SortFunc(xys, func(a, b plotter.XY) int { return int(math.Copysign(1, a.X-b.X)) })
	if len(xys) > 0 {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		users.Add(l)
	}
	for _, p := range []*plot.Plot{lat, users} {
		p.X.Min, p.X.Max = 0, float64(secs)
	}
	users.Y.Min = 0
	c := vgsvg.New(12*vg.Inch, 8*vg.Inch)
	dc := draw.New(c)
	top := draw.Crop(dc, 0, 0, dc.Size().Y/3, 0)
	bottom := draw.Crop(dc, 0, 0, 0, -2*dc.Size().Y/3)
	lat.Draw(top)
	users.Draw(bottom)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{"ms": ms}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>FOQUS load test</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body>
<h1>FOQUS load test: {{.S.Users}} users at {{.S.SpawnRate}}/s</h1>
<p>{{.Summary}}</p>
{{range .Parts}}<h2>{{.Name}}</h2>
<table><tr><th>route</th><th>requests</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>
{{range .Stats}}<tr><td>{{.Route}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{ms .P50}}</td><td>{{ms .P95}}</td><td>{{ms .P99}}</td><td>{{ms .Max}}</td></tr>
{{end}}</table>{{end}}
{{if .Errors}}<h2>errors (first distinct)</h2><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>over time</h2>
{{.Plot}}
</body></html>
`))

// WriteHTML writes the report page: per-route tables (run and peak) and the
// latency-over-time plot, self-contained.
func (r *Report) WriteHTML(w io.Writer) error {
	svg, err := r.latencyPlot()
	if err != nil {
		return err
	}
	type part struct {
		Name  string
		Stats []Stats
	}
	return page.Execute(w, map[string]any{
		"S": r.Scenario,
		"Summary": fmt.Sprintf("%s, %d requests answered, %d unanswered at the end, %d sessions started, %d with every result read back.",
			r.Elapsed.Round(time.Millisecond), len(r.Samples), r.unanswered(), r.Sessions, r.Completed),
		"Parts":  []part{{"whole run", r.Overall()}, {fmt.Sprintf("at the peak (%d users running)", r.Scenario.Users), r.Peak()}},
		"Errors": r.Errors(10),
		"Plot":   template.HTML(svg), // our own SVG, written above
	})
}
