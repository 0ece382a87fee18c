// Package sim replays job-arrival traces against a worker fleet's scaling
// policy in discrete time: every second jobs arrive, run and finish and
// instances boot; every 1-minute CloudWatch period the queue's visible and
// in-flight counts and the in-service count become a datapoint, the alarms
// evaluate it and the policy sets the desired capacity, which launches
// (warm pool, Fast Launch snapshot or cold) or scales in (never a protected,
// busy worker). Its numbers are core/scaling's, the ones the CDK app deploys.
package sim

import (
	"slices"

	"github.com/foqus-cloud/stack/core/scaling"
)

type state int

const (
	booting   state = iota
	inService       // idle when job < 0
	draining        // terminating (or returning to the pool): finishes its job, then leaves
	preparing       // being launched into the warm pool
	stopped         // in the warm pool
	gone
)

type instance struct {
	state    state
	source   scaling.Source
	readyAt  int // booting, preparing: when it is in service / stopped
	job      int // index of the running job, -1 when idle
	jobEnd   int
	deadline int  // draining: the drain hook's timeout
	toPool   bool // draining: stops into the warm pool instead of terminating
}

type job struct {
	enqueued, started, finished int
	run                         int
}

// Sample is the fleet at the end of one period.
type Sample struct {
	Minute    int
	Desired   int
	InService int
	Pending   int // booting
	Draining  int
	Warm      int // stopped in the warm pool
	Visible   int // queued jobs
	Running   int // in-flight jobs
}

// Result is what one replay measured.
type Result struct {
	Trace, Policy    string
	Jobs             int
	Unfinished       int       // jobs not done at the horizon
	Waits            []float64 // seconds from enqueue to start, per started job
	FullCapacityAt   int       // seconds from the first arrival until MaxWorkers were in service; -1: never
	InstanceHours    float64   // running (booting, in service, draining, preparing) instance-hours
	StoppedHours     float64   // warm-pool instance-hours
	Cost             float64   // $ at the stage's prices
	ScaleEvents      int       // desired-capacity changes
	JobsCut          int       // jobs whose worker was terminated while running them
	Launches         map[scaling.Source]int
	Samples          []Sample
	EndInstances     int // running instances at the horizon
	HorizonSeconds   int
	MaxWorkers       int
	firstArrival     int
	ScaleOutAt       []int // minutes of scale-out events
	ScaleInAt        []int // minutes of scale-in events
	TimeToDrainQueue int   // seconds from the first arrival until the last job started
}

type fleet struct {
	pol        Policy
	p          scaling.Params
	now        int
	inst       []*instance
	jobs       []job
	queue      []int // visible jobs, FIFO
	open       int   // jobs released and not finished
	desired    int
	snapshots  int   // Fast Launch snapshots ready
	refilling  []int // when each snapshot being prepared is ready
	refillWait int   // used snapshots waiting for a preparation slot
	hi, lo     int   // consecutive datapoints above / below the target (target tracking), or of the GAS alarms
	start      int   // consecutive datapoints of the start-from-zero alarm
	nextAction int   // GAS: first minute an action may happen (cooldown)
	res        *Result
}

// MaxHorizonSeconds bounds a replay whose jobs never all finish.
const MaxHorizonSeconds = 2 * 24 * 3600

// Run replays trace t against policy pol.
func Run(t Trace, pol Policy) Result {
	p := pol.Params
	f := &fleet{pol: pol, p: p, desired: p.MinWorkers, res: &Result{
		Trace: t.Name, Policy: pol.Name, Jobs: t.Jobs(), FullCapacityAt: -1, MaxWorkers: p.MaxWorkers,
		Launches: map[scaling.Source]int{}, firstArrival: -1,
	}}
	if p.FastLaunch.Enabled {
		f.snapshots = p.FastLaunch.Snapshots
	}
	// A deployed stage: its minimum in service and its warm pool stopped and ready.
	for range p.MinWorkers {
		f.inst = append(f.inst, &instance{state: inService, source: scaling.Cold, job: -1})
	}
	for range f.poolTarget() {
		f.inst = append(f.inst, &instance{state: stopped, job: -1})
	}

	released := make([]bool, len(t.Batches))
	lastDone, horizon := -1, -1
	for f.now = 0; horizon < 0 || f.now < horizon; f.now++ {
		lastDone = f.release(t, released, lastDone)
		changed := f.tick()
		f.assign()
		if f.now > 0 && f.now%scaling.PeriodSeconds == 0 {
			f.period()
			changed = true
		}
		if changed || f.now == 0 {
			f.reconcile()
		}
		f.account(1)
		if skip := f.quietFor(t, released, lastDone, horizon); skip > 0 {
			f.account(skip) // nothing happens until the next period or batch
			f.now += skip
		}
		if horizon < 0 && allReleased(released) && f.allDone() {
			horizon = f.now + t.Tail
		}
		if f.now > MaxHorizonSeconds { // a trace that never finishes (jobs cut again and again)
			horizon = f.now
		}
	}
	f.finish()
	return *f.res
}

func allReleased(r []bool) bool { return !slices.Contains(r, false) }

func (f *fleet) allDone() bool { return f.open == 0 }

// release enqueues the batches due now.
func (f *fleet) release(t Trace, released []bool, lastDone int) int {
	for i, b := range t.Batches {
		if released[i] {
			continue
		}
		due := b.At
		if b.AfterPrevious {
			if i > 0 && !released[i-1] || !f.allDone() {
				break
			}
			if lastDone < 0 {
				lastDone = f.now
			}
			due = lastDone + b.ThinkSeconds
		}
		if f.now < due {
			if b.AfterPrevious {
				break
			}
			continue
		}
		released[i] = true
		lastDone = -1
		if f.res.firstArrival < 0 {
			f.res.firstArrival = f.now
		}
		for _, r := range b.Runs {
			f.jobs = append(f.jobs, job{enqueued: f.now, started: -1, finished: -1, run: r})
			f.open++
			f.queue = append(f.queue, len(f.jobs)-1)
		}
	}
	return lastDone
}

// tick advances boots, jobs, drains, pool preparations and snapshot refills;
// it reports whether an instance changed state.
func (f *fleet) tick() bool {
	changed := false
	for _, in := range f.inst {
		switch in.state {
		case booting:
			if f.now >= in.readyAt {
				in.state, changed = inService, true
			}
		case preparing:
			if f.now >= in.readyAt {
				in.state, changed = stopped, true
			}
		case inService, draining:
			if in.job >= 0 && f.now >= in.jobEnd {
				f.jobs[in.job].finished = f.now
				f.open--
				in.job = -1
			}
			if in.state == draining {
				if in.job >= 0 && f.now >= in.deadline {
					// The drain hook timed out: the instance goes with the job.
					f.res.JobsCut++
					f.queue = append([]int{in.job}, f.queue...)
					in.job = -1
				}
				if in.job < 0 {
					changed = true
					in.state = gone
					if in.toPool {
						in.state = stopped
					}
				}
			}
		}
	}
	if changed {
		f.inst = slices.DeleteFunc(f.inst, func(in *instance) bool { return in.state == gone })
	}
	kept := f.refilling[:0]
	for _, at := range f.refilling {
		if f.now >= at {
			f.snapshots++
		} else {
			kept = append(kept, at)
		}
	}
	f.refilling = kept
	for f.refillWait > 0 && len(f.refilling) < f.p.FastLaunch.Parallel {
		f.refillWait--
		f.refilling = append(f.refilling, f.now+f.p.FastLaunch.RefillSeconds)
	}
	return changed
}

// assign gives queued jobs to idle in-service workers (long polling: at once).
func (f *fleet) assign() {
	for _, in := range f.inst {
		if len(f.queue) == 0 {
			return
		}
		if in.state != inService || in.job >= 0 {
			continue
		}
		j := f.queue[0]
		f.queue = f.queue[1:]
		in.job, in.jobEnd = j, f.now+f.jobs[j].run
		if f.jobs[j].started < 0 {
			f.jobs[j].started = f.now
			f.res.Waits = append(f.res.Waits, float64(f.now-f.jobs[j].enqueued))
		}
	}
}

func (f *fleet) count(s state) int {
	n := 0
	for _, in := range f.inst {
		if in.state == s {
			n++
		}
	}
	return n
}

func (f *fleet) running() int {
	n := 0
	for _, in := range f.inst {
		if in.job >= 0 {
			n++
		}
	}
	return n
}

// period is the end of one CloudWatch period: a datapoint, the alarms, the policy.
func (f *fleet) period() {
	visible, running, workers := len(f.queue), f.running(), f.count(inService)
	before := f.desired
	switch f.pol.Kind {
	case TargetTracking:
		f.tracking(visible, running, workers)
	case SimpleScaling:
		f.simple(visible)
	}
	minute := f.now / scaling.PeriodSeconds
	if f.desired != before {
		f.res.ScaleEvents++
		if f.desired > before {
			f.res.ScaleOutAt = append(f.res.ScaleOutAt, minute)
		} else {
			f.res.ScaleInAt = append(f.res.ScaleInAt, minute)
		}
	}
	f.res.Samples = append(f.res.Samples, Sample{
		Minute: minute, Desired: f.desired, InService: workers, Pending: f.count(booting),
		Draining: f.count(draining), Warm: f.count(stopped), Visible: visible, Running: running,
	})
}

// tracking is target tracking as AWS runs it, plus the start-from-zero policy.
func (f *fleet) tracking(visible, running, workers int) {
	p := f.p
	jobs := float64(visible + running)
	if workers == 0 {
		// (queued + running) / workers has no value: both of target tracking's
		// alarms see missing data and do nothing.
		f.hi, f.lo = 0, 0
		if f.pol.StartFromZero && visible >= 1 {
			f.start++
		} else {
			f.start = 0
		}
		if f.start >= p.StartPeriods {
			if c := scaling.StartCapacity(p, float64(visible)); c > 0 {
				f.desired = max(c, p.MinWorkers)
			}
		}
		return
	}
	f.start = 0
	m := jobs / float64(workers)
	f.hi, f.lo = streak(f.hi, m > p.TargetJobsPerWorker), streak(f.lo, m < scaling.ScaleInFraction*p.TargetJobsPerWorker)
	want := scaling.TrackedCapacity(p, jobs)
	if f.hi >= scaling.TargetTrackingOutPeriods && want > f.desired {
		f.desired = want
	}
	if f.lo >= scaling.TargetTrackingInPeriods && want < f.desired {
		f.desired = want
	}
}

// simple is GAS's simple scaling on the visible backlog.
func (f *fleet) simple(visible int) {
	s := f.pol.Simple
	f.hi, f.lo = streak(f.hi, visible >= s.OutThreshold), streak(f.lo, visible < 1)
	// A datapoint may act only if its whole period began after the cooldown.
	periodStart := f.now - scaling.PeriodSeconds
	if periodStart < f.nextAction {
		return
	}
	switch {
	case f.hi >= 1 && f.desired < f.p.MaxWorkers:
		f.desired++
	case f.lo >= s.InPeriods && f.desired > f.p.MinWorkers:
		f.desired--
	default:
		return
	}
	f.nextAction = f.now + s.CooldownSeconds
}

func streak(n int, on bool) int {
	if on {
		return n + 1
	}
	return 0
}

// active are the instances that count toward the desired capacity.
func (f *fleet) active() []*instance {
	var a []*instance
	for _, in := range f.inst {
		if in.state == booting || in.state == inService {
			a = append(a, in)
		}
	}
	return a
}

// poolTarget is the warm pool's size: the prepared capacity
// (MaxGroupPreparedCapacity, in service and warm together) minus the desired
// capacity; MinSize is 0.
func (f *fleet) poolTarget() int {
	return max(0, f.p.WarmPool.Size-f.desired)
}

// reconcile launches or scales in toward the desired capacity and keeps the warm pool filled.
func (f *fleet) reconcile() {
	active := f.active()
	for n := len(active); n < f.desired; n++ {
		f.launch()
	}
	if excess := len(active) - f.desired; excess > 0 {
		f.scaleIn(active, excess)
	}
	pool := f.count(stopped) + f.count(preparing)
	for ; pool < f.poolTarget(); pool++ {
		src := f.coldOrFast()
		f.inst = append(f.inst, &instance{state: preparing, source: src, readyAt: f.now + f.p.Boot.Of(src), job: -1})
	}
	for ; pool > f.poolTarget(); pool-- {
		for i, in := range f.inst {
			if in.state == stopped {
				f.inst = slices.Delete(f.inst, i, i+1)
				break
			}
		}
	}
}

// launch starts one instance: from the warm pool, else from a Fast Launch snapshot, else cold.
func (f *fleet) launch() {
	for _, in := range f.inst {
		if in.state == stopped {
			in.state, in.source, in.readyAt = booting, scaling.WarmPool, f.now+f.p.Boot.WarmSeconds
			f.res.Launches[scaling.WarmPool]++
			return
		}
	}
	src := f.coldOrFast()
	f.res.Launches[src]++
	f.inst = append(f.inst, &instance{state: booting, source: src, readyAt: f.now + f.p.Boot.Of(src), job: -1})
}

func (f *fleet) coldOrFast() scaling.Source {
	if f.p.FastLaunch.Enabled && f.snapshots > 0 {
		f.snapshots--
		f.refillWait++
		return scaling.FastLaunch
	}
	return scaling.Cold
}

// scaleIn removes excess instances. AWS picks them by its termination policy,
// not by idleness (oldest first here); a worker running a job is only safe
// when protected, and then AWS passes over it. A picked busy worker drains for
// up to the drain hook's timeout, then goes with its job.
func (f *fleet) scaleIn(active []*instance, excess int) {
	for _, in := range active {
		if excess == 0 {
			return
		}
		if in.job >= 0 && f.pol.Protect {
			continue // AWS lowers the desired capacity but cannot pick it
		}
		excess--
		in.state, in.deadline = draining, f.now+f.p.DrainTimeoutSeconds
		in.toPool = f.p.WarmPool.Size > 0 && f.p.WarmPool.ReuseOnScaleIn
		if in.job >= 0 && f.p.DrainTimeoutSeconds == 0 {
			f.res.JobsCut++
			f.queue = append([]int{in.job}, f.queue...)
			in.job = -1
		}
	}
}

// quietFor is how many of the coming seconds are certain to change nothing:
// the time to the next period end, batch, boot, job end, drain deadline,
// snapshot refill or the horizon, whichever comes first.
func (f *fleet) quietFor(t Trace, released []bool, lastDone, horizon int) int {
	if f.refillWait > 0 && len(f.refilling) < f.p.FastLaunch.Parallel {
		return 0
	}
	next := (f.now/scaling.PeriodSeconds + 1) * scaling.PeriodSeconds
	if horizon >= 0 {
		next = min(next, horizon)
	}
	for _, at := range f.refilling {
		next = min(next, at)
	}
	for _, in := range f.inst {
		switch {
		case in.state == booting || in.state == preparing:
			next = min(next, in.readyAt)
		case in.job >= 0:
			next = min(next, in.jobEnd)
			if in.state == draining {
				next = min(next, in.deadline)
			}
		case in.state == inService && len(f.queue) > 0:
			return 0 // an idle worker and a queued job
		case in.state == draining:
			return 0
		}
	}
	for i, b := range t.Batches {
		if released[i] {
			continue
		}
		if b.AfterPrevious {
			if lastDone < 0 {
				if f.open == 0 {
					return 0
				}
				break
			}
			next = min(next, lastDone+b.ThinkSeconds)
			break
		}
		next = min(next, b.At)
	}
	return max(0, next-f.now-1)
}

// account adds seconds of every instance to the hours and the cost.
func (f *fleet) account(seconds int) {
	serving := 0
	h := float64(seconds) / 3600
	for _, in := range f.inst {
		switch in.state {
		case stopped:
			f.res.StoppedHours += h
		case inService:
			serving++
			f.res.InstanceHours += h
		default:
			f.res.InstanceHours += h
		}
	}
	if f.res.FullCapacityAt < 0 && f.res.firstArrival >= 0 && serving >= f.p.MaxWorkers {
		f.res.FullCapacityAt = f.now - f.res.firstArrival
	}
}

func (f *fleet) finish() {
	r := f.res
	r.HorizonSeconds = f.now
	r.Cost = r.InstanceHours*f.p.InstancePrice + r.StoppedHours*f.p.StoppedPrice
	last := 0
	for _, j := range f.jobs {
		if j.finished < 0 {
			r.Unfinished++
		}
		last = max(last, j.started)
	}
	r.Unfinished += r.Jobs - len(f.jobs)
	if r.firstArrival >= 0 {
		r.TimeToDrainQueue = last - r.firstArrival
	}
	r.EndInstances = len(f.active()) + f.count(draining)
}
