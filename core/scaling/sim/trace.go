package sim

import (
	"math"
	"math/rand/v2"
)

// Batch is a group of jobs submitted together (one FOQUS append + start).
type Batch struct {
	At            int   // seconds from the trace start (ignored when AfterPrevious)
	AfterPrevious bool  // released ThinkSeconds after every job of the previous batches finished
	ThinkSeconds  int   // the client's time between the previous batch's end and this one
	Runs          []int // each job's run time in seconds
}

// Trace is a job-arrival trace.
type Trace struct {
	Name    string
	About   string
	Batches []Batch
	Tail    int // seconds simulated after the last batch is released and done (scale-in)
}

// Jobs counts the trace's jobs.
func (t Trace) Jobs() int {
	n := 0
	for _, b := range t.Batches {
		n += len(b.Runs)
	}
	return n
}

// lognormal draws run times with the given median and log-space spread.
type lognormal struct {
	rng    *rand.Rand
	median float64
	sigma  float64
}

func newLognormal(seed uint64, median, sigma float64) lognormal {
	return lognormal{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), median: median, sigma: sigma}
}

func (l lognormal) draw() int {
	return max(1, int(math.Round(l.median*math.Exp(l.sigma*l.rng.NormFloat64()))))
}

func (l lognormal) runs(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = l.draw()
	}
	return r
}

// Annotator is GAS's measured load: one short job every 5 s for an hour.
func Annotator() Trace {
	d := newLognormal(1, 60, 0.3)
	t := Trace{Name: "annotator", About: "GAS annotator: 1 job / 5 s for 1 h, run time lognormal median 60 s", Tail: 3 * 3600}
	for at := 0; at < 3600; at += 5 {
		t.Batches = append(t.Batches, Batch{At: at, Runs: d.runs(1)})
	}
	return t
}

// UQEnsemble is a FOQUS UQ ensemble: 1,000 Aspen jobs appended in chunks of
// 20 (FOQUS's append size), one chunk every 2 s, run time ~ lognormal around 10 min.
func UQEnsemble() Trace {
	d := newLognormal(2, 600, 0.25)
	t := Trace{Name: "uq", About: "FOQUS UQ ensemble: 1,000 jobs in chunks of 20 every 2 s, run time lognormal median 10 min", Tail: 2 * 3600}
	for i := range 50 {
		t.Batches = append(t.Batches, Batch{At: 2 * i, Runs: d.runs(20)})
	}
	return t
}

// Optimization is a FOQUS optimization: 15 sequential rounds of 20 jobs, each
// submitted 30 s (the optimizer's step) after the previous round finished.
func Optimization() Trace {
	d := newLognormal(3, 600, 0.25)
	t := Trace{Name: "optimization", About: "FOQUS optimization: 15 rounds of 20 jobs, each 30 s after the previous round ended", Tail: 2 * 3600}
	for i := range 15 {
		t.Batches = append(t.Batches, Batch{AfterPrevious: i > 0, ThinkSeconds: 30, Runs: d.runs(20)})
	}
	return t
}

// IdleDay is a day with two small sessions (09:00 and 14:00), idle otherwise.
func IdleDay() Trace {
	d := newLognormal(4, 600, 0.25)
	return Trace{Name: "idle-day", About: "idle day: 24 h with two sessions of 5 jobs (09:00, 14:00)", Tail: 24*3600 - 14*3600, Batches: []Batch{
		{At: 9 * 3600, Runs: d.runs(5)},
		{At: 14 * 3600, Runs: d.runs(5)},
	}}
}

// Traces are the shipped traces, in report order.
func Traces() []Trace { return []Trace{Annotator(), UQEnsemble(), Optimization(), IdleDay()} }
