// Package scaling holds the worker fleet's scaling numbers: declared once
// (defaults here, per-stage overrides in cdk.json), deployed by the CDK app's
// scaling constructs and replayed by the simulator (cmd/scaling-sim), so the
// policy that is plotted is the policy that is deployed.
package scaling

import (
	"errors"
	"fmt"
	"math"
)

// Rules of EC2 Auto Scaling and CloudWatch that the numbers must respect and
// the simulator models (../shared/AWS-LIMITS.md). Target tracking creates its
// own two alarms; their datapoint counts are AWS's, not ours.
const (
	PeriodSeconds            = 60   // every scaling metric: 1-minute CloudWatch periods (detailed monitoring)
	TargetTrackingOutPeriods = 3    // AWS's scale-out alarm of a target tracking policy: 3 of 3 one-minute datapoints above target
	TargetTrackingInPeriods  = 15   // AWS's scale-in alarm: 15 of 15 datapoints below ScaleInFraction × target
	ScaleInFraction          = 0.9  // AWS's scale-in alarm threshold, as a fraction of the target
	HookMinSeconds           = 30   // lifecycle hook heartbeat timeout bounds
	HookMaxSeconds           = 7200 //
	FastLaunchMinParallel    = 6    // EC2 Fast Launch: maxParallelLaunches is at least 6
	MaxStepAdjustments       = 20   // step adjustments per step scaling policy
)

// Defaults, each a named number (the per-stage cdk.json "scaling" object
// overrides them). Boot times are from launch request to the worker's
// service completing the launch lifecycle hook (AWS-LIMITS.md: a Windows
// instance takes 5 to 15 minutes): a cold launch runs Sysprep and the
// out-of-box experience first; EC2 Fast Launch starts from a pre-provisioned
// snapshot that has done both; a Stopped warm-pool instance only boots Windows
// and starts the service.
const (
	DefaultTargetJobsPerWorker   = 1.0  // one job runs per worker: one Aspen seat each
	DefaultWarmupSeconds         = 300  // metrics of a fresh worker are not trusted for this long
	DefaultCooldownSeconds       = 300  // the group's default cooldown (simple scaling only)
	DefaultStartPeriods          = 1    // start-from-zero alarm: one datapoint with jobs and no worker
	DefaultDrainTimeoutSeconds   = 7200 // termination hook: waits this long for a running job (the hook's maximum)
	DefaultLaunchTimeoutSeconds  = 1800 // launch hook: the worker must be up within this, else ABANDON
	DefaultColdBootSeconds       = 720  // cold Windows launch incl. Sysprep, then service start
	DefaultFastLaunchBootSeconds = 300  // Fast Launch: Sysprep skipped
	DefaultWarmBootSeconds       = 120  // start of a Stopped warm-pool instance
	DefaultFastLaunchSnapshots   = 10   // pre-provisioned snapshots kept ready (targetResourceCount)
	DefaultFastLaunchParallel    = 6    // snapshots prepared at a time (maxParallelLaunches)
	DefaultFastLaunchRefillSecs  = 900  // time to prepare one snapshot again after a launch used it
	DefaultWarmPoolSize          = 0    // prepared capacity: instances in service or Stopped in the pool (0: no pool)
	DefaultInstancePricePerHour  = 0.752
	DefaultStoppedPricePerHour   = 0.011 // the EBS root volume of a stopped instance (100 GiB gp3)
)

// Source says how a new in-service worker was started.
type Source string

// Sources of a worker, fastest last.
const (
	Cold       Source = "cold"
	FastLaunch Source = "fast-launch"
	WarmPool   Source = "warm-pool"
)

// Params is the complete scaling configuration of one stage's fleet.
type Params struct {
	MinWorkers          int     // = the stage's minWorkers
	MaxWorkers          int     // = the stage's maxWorkers (Aspen seats)
	TargetJobsPerWorker float64 // target of (queued + running) jobs / in-service workers
	WarmupSeconds       int     // DefaultInstanceWarmup / EstimatedInstanceWarmup
	CooldownSeconds     int     // group default cooldown
	StartPeriods        int     // evaluation periods of the start-from-zero alarm
	DrainTimeoutSeconds int     // termination lifecycle hook heartbeat
	LaunchTimeoutSecs   int     // launch lifecycle hook heartbeat
	Boot                Boot
	FastLaunch          FastLaunchParams
	WarmPool            WarmPoolParams
	InstancePrice       float64 // $ per running instance-hour (the stage's instance type, Windows licence included)
	StoppedPrice        float64 // $ per stopped (warm pool) instance-hour: its EBS volume
}

// Boot is seconds from launch to in service, per source.
type Boot struct {
	ColdSeconds       int
	FastLaunchSeconds int
	WarmSeconds       int
}

// Of is the boot time of a source.
func (b Boot) Of(s Source) int {
	switch s {
	case FastLaunch:
		return b.FastLaunchSeconds
	case WarmPool:
		return b.WarmSeconds
	default:
		return b.ColdSeconds
	}
}

// FastLaunchParams configures EC2 Fast Launch of the worker image.
type FastLaunchParams struct {
	Enabled       bool
	Snapshots     int // targetResourceCount
	Parallel      int // maxParallelLaunches
	RefillSeconds int // how long one used snapshot takes to be ready again (a model assumption)
}

// WarmPoolParams configures the group's Stopped warm pool.
type WarmPoolParams struct {
	Size           int  // prepared capacity (MaxGroupPreparedCapacity: in service + warm); 0: no warm pool
	ReuseOnScaleIn bool // scaled-in workers stop and return to the pool instead of terminating
}

// Overrides is the "scaling" object of a stage in cdk.json; every field is
// optional and falls back to its default.
type Overrides struct {
	TargetJobsPerWorker   *float64 `json:"targetJobsPerWorker,omitempty"`
	WarmupSeconds         *int     `json:"warmupSeconds,omitempty"`
	CooldownSeconds       *int     `json:"cooldownSeconds,omitempty"`
	StartPeriods          *int     `json:"startEvaluationPeriods,omitempty"`
	DrainTimeoutSeconds   *int     `json:"drainTimeoutSeconds,omitempty"`
	LaunchTimeoutSeconds  *int     `json:"launchTimeoutSeconds,omitempty"`
	ColdBootSeconds       *int     `json:"coldBootSeconds,omitempty"`
	FastLaunchBootSeconds *int     `json:"fastLaunchBootSeconds,omitempty"`
	WarmBootSeconds       *int     `json:"warmBootSeconds,omitempty"`
	FastLaunch            *bool    `json:"fastLaunch,omitempty"`
	FastLaunchSnapshots   *int     `json:"fastLaunchSnapshots,omitempty"`
	FastLaunchParallel    *int     `json:"fastLaunchParallel,omitempty"`
	WarmPoolSize          *int     `json:"warmPoolSize,omitempty"`
	WarmPoolReuse         *bool    `json:"warmPoolReuseOnScaleIn,omitempty"`
	InstancePricePerHour  *float64 `json:"instancePricePerHour,omitempty"`
	StoppedPricePerHour   *float64 `json:"stoppedPricePerHour,omitempty"`
}

// Defaults is the default configuration of a fleet of min..max workers.
func Defaults(minWorkers, maxWorkers int) Params {
	return Params{
		MinWorkers: minWorkers, MaxWorkers: maxWorkers,
		TargetJobsPerWorker: DefaultTargetJobsPerWorker,
		WarmupSeconds:       DefaultWarmupSeconds,
		CooldownSeconds:     DefaultCooldownSeconds,
		StartPeriods:        DefaultStartPeriods,
		DrainTimeoutSeconds: DefaultDrainTimeoutSeconds,
		LaunchTimeoutSecs:   DefaultLaunchTimeoutSeconds,
		Boot:                Boot{ColdSeconds: DefaultColdBootSeconds, FastLaunchSeconds: DefaultFastLaunchBootSeconds, WarmSeconds: DefaultWarmBootSeconds},
		FastLaunch:          FastLaunchParams{Enabled: true, Snapshots: DefaultFastLaunchSnapshots, Parallel: DefaultFastLaunchParallel, RefillSeconds: DefaultFastLaunchRefillSecs},
		WarmPool:            WarmPoolParams{Size: DefaultWarmPoolSize, ReuseOnScaleIn: true},
		InstancePrice:       DefaultInstancePricePerHour,
		StoppedPrice:        DefaultStoppedPricePerHour,
	}
}

// Resolve applies the overrides to the defaults of a min..max fleet and validates the result.
func (o Overrides) Resolve(minWorkers, maxWorkers int) (Params, error) {
	p := Defaults(minWorkers, maxWorkers)
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setF(&p.TargetJobsPerWorker, o.TargetJobsPerWorker)
	setI(&p.WarmupSeconds, o.WarmupSeconds)
	setI(&p.CooldownSeconds, o.CooldownSeconds)
	setI(&p.StartPeriods, o.StartPeriods)
	setI(&p.DrainTimeoutSeconds, o.DrainTimeoutSeconds)
	setI(&p.LaunchTimeoutSecs, o.LaunchTimeoutSeconds)
	setI(&p.Boot.ColdSeconds, o.ColdBootSeconds)
	setI(&p.Boot.FastLaunchSeconds, o.FastLaunchBootSeconds)
	setI(&p.Boot.WarmSeconds, o.WarmBootSeconds)
	setB(&p.FastLaunch.Enabled, o.FastLaunch)
	setI(&p.FastLaunch.Snapshots, o.FastLaunchSnapshots)
	setI(&p.FastLaunch.Parallel, o.FastLaunchParallel)
	setI(&p.WarmPool.Size, o.WarmPoolSize)
	setB(&p.WarmPool.ReuseOnScaleIn, o.WarmPoolReuse)
	setF(&p.InstancePrice, o.InstancePricePerHour)
	setF(&p.StoppedPrice, o.StoppedPricePerHour)
	return p, p.Validate()
}

// Validate rejects numbers AWS would refuse or that break the policy.
func (p Params) Validate() error {
	var errs []error
	if p.MinWorkers < 0 || p.MaxWorkers < 1 || p.MinWorkers > p.MaxWorkers {
		errs = append(errs, fmt.Errorf("need 0 <= minWorkers (%d) <= maxWorkers (%d) and maxWorkers >= 1", p.MinWorkers, p.MaxWorkers))
	}
	// The start-from-zero policy sets the capacity in one step per worker.
	if len(StartSteps(p)) > MaxStepAdjustments {
		errs = append(errs, fmt.Errorf("maxWorkers %d needs %d start steps; a step policy takes at most %d", p.MaxWorkers, len(StartSteps(p)), MaxStepAdjustments))
	}
	if !(p.TargetJobsPerWorker > 0) || math.IsInf(p.TargetJobsPerWorker, 0) {
		errs = append(errs, fmt.Errorf("targetJobsPerWorker %v must be > 0", p.TargetJobsPerWorker))
	}
	if p.WarmupSeconds < 0 || p.CooldownSeconds < 0 {
		errs = append(errs, fmt.Errorf("warmupSeconds (%d) and cooldownSeconds (%d) must be >= 0", p.WarmupSeconds, p.CooldownSeconds))
	}
	if p.StartPeriods < 1 {
		errs = append(errs, fmt.Errorf("startEvaluationPeriods %d must be >= 1", p.StartPeriods))
	}
	for name, s := range map[string]int{"drainTimeoutSeconds": p.DrainTimeoutSeconds, "launchTimeoutSeconds": p.LaunchTimeoutSecs} {
		if s < HookMinSeconds || s > HookMaxSeconds {
			errs = append(errs, fmt.Errorf("%s %d: a lifecycle hook heartbeat is %d..%d s", name, s, HookMinSeconds, HookMaxSeconds))
		}
	}
	if p.Boot.ColdSeconds < 1 || p.Boot.FastLaunchSeconds < 1 || p.Boot.WarmSeconds < 1 {
		errs = append(errs, errors.New("boot times must be >= 1 s"))
	}
	if p.Boot.ColdSeconds > p.LaunchTimeoutSecs {
		errs = append(errs, fmt.Errorf("coldBootSeconds %d exceeds launchTimeoutSeconds %d: every cold worker would be abandoned", p.Boot.ColdSeconds, p.LaunchTimeoutSecs))
	}
	if p.FastLaunch.Enabled && (p.FastLaunch.Snapshots < 1 || p.FastLaunch.Parallel < FastLaunchMinParallel || p.FastLaunch.RefillSeconds < 1) {
		errs = append(errs, fmt.Errorf("fast launch: need fastLaunchSnapshots >= 1 (%d) and fastLaunchParallel >= %d (%d)", p.FastLaunch.Snapshots, FastLaunchMinParallel, p.FastLaunch.Parallel))
	}
	if p.WarmPool.Size < 0 || p.WarmPool.Size > p.MaxWorkers {
		errs = append(errs, fmt.Errorf("warmPoolSize %d must be in 0..maxWorkers (%d)", p.WarmPool.Size, p.MaxWorkers))
	}
	if p.InstancePrice < 0 || p.StoppedPrice < 0 {
		errs = append(errs, errors.New("prices must be >= 0"))
	}
	return errors.Join(errs...)
}

// Step is one adjustment of the start-from-zero policy: with no worker in
// service and at least Jobs queued, set the capacity to Capacity.
type Step struct {
	Jobs     float64
	Capacity int
}

// StartSteps are the start-from-zero policy's steps (exact capacity), one per
// worker count: the whole backlog's workers are launched at once, since
// target tracking cannot act until one is in service.
func StartSteps(p Params) []Step {
	var steps []Step
	for n := max(1, p.MinWorkers); n <= p.MaxWorkers; n++ {
		// SQS counts are whole: n workers are asked for from the first count
		// above (n-1) workers' worth of jobs.
		steps = append(steps, Step{Jobs: math.Floor(float64(n-1)*p.TargetJobsPerWorker) + 1, Capacity: n})
	}
	return steps
}

// StartCapacity is the capacity the start-from-zero policy sets for a backlog
// of jobs (0: the policy does not act).
func StartCapacity(p Params, jobs float64) int {
	c := 0
	for _, s := range StartSteps(p) {
		if jobs >= s.Jobs {
			c = s.Capacity
		}
	}
	return c
}

// TrackedCapacity is the capacity target tracking asks for with jobs queued or
// running: ceil(jobs / target), within min..max.
func TrackedCapacity(p Params, jobs float64) int {
	return min(p.MaxWorkers, max(p.MinWorkers, int(math.Ceil(jobs/p.TargetJobsPerWorker-1e-9))))
}
