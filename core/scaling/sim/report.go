package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Percentile is the q-quantile (0..1) of xs by the nearest-rank method; NaN when empty.
func Percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(len(s)-1, max(0, i))]
}

// WaitP50, WaitP95 and WaitMax are the queue wait figures in seconds.
func (r Result) WaitP50() float64 { return Percentile(r.Waits, 0.50) }

// WaitP95 is the 95th percentile queue wait in seconds.
func (r Result) WaitP95() float64 { return Percentile(r.Waits, 0.95) }

// WaitMax is the longest queue wait in seconds.
func (r Result) WaitMax() float64 { return Percentile(r.Waits, 1) }

// InstancesAt is the desired capacity at the end of the given minute.
func (r Result) InstancesAt(minute int) int {
	n := 0
	for _, s := range r.Samples {
		if s.Minute > minute {
			break
		}
		n = s.Desired
	}
	return n
}

func dur(seconds float64) string {
	if math.IsNaN(seconds) {
		return "-"
	}
	return (time.Duration(seconds) * time.Second).String()
}

// WriteTable writes one trace's results as an aligned table.
func WriteTable(w io.Writer, t Trace, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var err error
	printf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(tw, format, a...)
		}
	}
	printf("%s (%d jobs): %s\n", t.Name, t.Jobs(), t.About)
	printf("policy\twait p50\twait p95\twait max\tfull capacity\tinstance-h\twarm-pool-h\tcost $\tscale events\tjobs cut\tunfinished\tlaunches cold/fast/warm\tend instances\n")
	for _, r := range rs {
		full := "never"
		if r.FullCapacityAt >= 0 {
			full = dur(float64(r.FullCapacityAt))
		}
		printf("%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.2f\t%d\t%d\t%d\t%d/%d/%d\t%d\n", r.Policy,
			dur(r.WaitP50()), dur(r.WaitP95()), dur(r.WaitMax()), full, r.InstanceHours, r.StoppedHours, r.Cost,
			r.ScaleEvents, r.JobsCut, r.Unfinished, r.Launches["cold"], r.Launches["fast-launch"], r.Launches["warm-pool"], r.EndInstances)
	}
	printf("%s\n", strings.Repeat("-", 20))
	if err != nil {
		return err
	}
	return tw.Flush()
}
