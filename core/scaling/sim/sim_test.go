package sim

import (
	"testing"

	"github.com/foqus-cloud/stack/core/scaling"
)

// prod is the stage the comparisons are made for: 10 seats, no minimum.
func prod() scaling.Params { return scaling.Defaults(0, 10) }

// GAS reported +1 instance about every 6 minutes (5-minute cooldown + ~1
// minute for the alarm) up to its cap of 10 under 1 job / 5 s.
func TestGASCalibration(t *testing.T) {
	t.Parallel()
	r := Run(Annotator(), GAS(prod()))
	for k := 1; k <= 10; k++ {
		minute := 6 * k
		want := min(GASMaxInstances, k)
		if got := r.InstancesAt(minute); got < want-1 || got > want+1 {
			t.Errorf("minute %d: %d instances, GAS measured %d (±1)", minute, got, want)
		}
	}
	if got := r.InstancesAt(90); got != GASMaxInstances {
		t.Errorf("minute 90: %d instances, want the cap %d", got, GASMaxInstances)
	}
}

func TestOurPolicyNeverCutsAJob(t *testing.T) {
	t.Parallel()
	for _, tr := range Traces() {
		for _, pol := range Variants(prod()) {
			r := Run(tr, pol)
			if r.JobsCut != 0 || r.Unfinished != 0 {
				t.Errorf("%s, %s: %d jobs cut, %d unfinished", tr.Name, pol.Name, r.JobsCut, r.Unfinished)
			}
			if len(r.Waits) != tr.Jobs() {
				t.Errorf("%s, %s: %d of %d jobs started", tr.Name, pol.Name, len(r.Waits), tr.Jobs())
			}
		}
	}
}

// AWS-LIMITS.md: scale-in picks instances by policy, not by idleness. Without
// instance protection a scale-in picks busy workers, and the drain hook only
// saves jobs shorter than its timeout: the check above can fail.
func TestUnprotectedScaleInCutsJobs(t *testing.T) {
	t.Parallel()
	// One hour-long job on the oldest worker and nine short ones: 15 minutes
	// after the short ones end, target tracking scales in to one worker.
	tr := Trace{Name: "long-tail", Tail: 3600, Batches: []Batch{{Runs: []int{3600, 600, 600, 600, 600, 600, 600, 600, 600, 600}}}}
	p := prod()
	p.DrainTimeoutSeconds = scaling.HookMinSeconds
	pol := Ours("unprotected", p)
	if r := Run(tr, pol); r.JobsCut != 0 {
		t.Errorf("protected: %d jobs cut", r.JobsCut)
	}
	pol.Protect = false
	if r := Run(tr, pol); r.JobsCut == 0 {
		t.Errorf("no job cut without protection and a %d s drain: the model does not pick busy workers", p.DrainTimeoutSeconds)
	}
	if r := Run(UQEnsemble(), GAS(p)); r.JobsCut == 0 {
		t.Error("GAS's policy (no protection, no drain hook) cut no 10-minute job")
	}
}

func TestUQBurstReachesFullCapacityFromTheWarmPool(t *testing.T) {
	t.Parallel()
	vs := Variants(prod())
	warm := vs[2]
	r := Run(UQEnsemble(), warm)
	bound := warm.Params.Boot.WarmSeconds + 2*scaling.PeriodSeconds
	if r.FullCapacityAt < 0 || r.FullCapacityAt > bound {
		t.Errorf("full capacity after %d s, want within %d s (warm boot + 2 periods)", r.FullCapacityAt, bound)
	}
	// Cold launches are slower than Fast Launch, which is slower than the pool.
	cold, fast := Run(UQEnsemble(), vs[0]), Run(UQEnsemble(), vs[1])
	if cold.FullCapacityAt <= fast.FullCapacityAt || fast.FullCapacityAt <= r.FullCapacityAt {
		t.Errorf("time to full capacity cold %d, Fast Launch %d, warm pool %d: want decreasing", cold.FullCapacityAt, fast.FullCapacityAt, r.FullCapacityAt)
	}
	if r.Launches[scaling.WarmPool] < warm.Params.MaxWorkers {
		t.Errorf("launches %v: want %d from the warm pool", r.Launches, warm.Params.MaxWorkers)
	}
}

func TestIdleDayEndsAtZero(t *testing.T) {
	t.Parallel()
	for _, pol := range Compared(prod()) {
		r := Run(IdleDay(), pol)
		last := r.Samples[len(r.Samples)-1]
		if r.EndInstances != 0 || last.Desired != 0 || last.InService != 0 {
			t.Errorf("%s: the day ends with %d instances (desired %d, in service %d)", pol.Name, r.EndInstances, last.Desired, last.InService)
		}
		if r.InstancesAt(8*60) != 0 {
			t.Errorf("%s: %d instances before the first session", pol.Name, r.InstancesAt(8*60))
		}
	}
}

// AWS-LIMITS.md: target tracking on a per-instance ratio cannot start from 0
// instances. Without the start-from-zero policy nothing ever launches.
func TestTargetTrackingAloneCannotStartFromZero(t *testing.T) {
	t.Parallel()
	pol := Ours("tracking only", prod())
	pol.StartFromZero = false
	r := Run(UQEnsemble(), pol)
	if n := r.Launches[scaling.Cold] + r.Launches[scaling.FastLaunch] + r.Launches[scaling.WarmPool]; n != 0 || r.Unfinished != r.Jobs {
		t.Errorf("%d launches, %d of %d jobs unfinished: target tracking acted at zero workers", n, r.Unfinished, r.Jobs)
	}
	with := Run(UQEnsemble(), Ours("with start", prod()))
	if with.Unfinished != 0 {
		t.Errorf("with the start policy %d jobs unfinished", with.Unfinished)
	}
}

// Scale-in lowers the desired capacity below busy, protected workers and the
// group waits for them: in service never drops below the jobs running.
func TestScaleInWaitsForProtectedWorkers(t *testing.T) {
	t.Parallel()
	r := Run(Optimization(), Variants(prod())[0])
	for _, s := range r.Samples {
		if s.InService+s.Draining < s.Running {
			t.Fatalf("minute %d: %d running jobs on %d workers", s.Minute, s.Running, s.InService+s.Draining)
		}
	}
	if len(r.ScaleInAt) == 0 {
		t.Error("no scale-in after the optimization")
	}
}

func TestFastLaunchSnapshotsRunOut(t *testing.T) {
	t.Parallel()
	p := prod()
	p.FastLaunch.Snapshots = 3
	r := Run(UQEnsemble(), Variants(p)[1])
	if r.Launches[scaling.FastLaunch] != 3 || r.Launches[scaling.Cold] != 7 {
		t.Errorf("launches %v with 3 snapshots: want 3 fast, 7 cold", r.Launches)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0.5: 5, 0.95: 10, 1: 10, 0.1: 1} {
		if got := Percentile(xs, q); got != want {
			t.Errorf("Percentile(%v) = %v, want %v", q, got, want)
		}
	}
}
