package sim

import "github.com/foqus-cloud/stack/core/scaling"

// Kind is the family of a scaling policy.
type Kind int

// Policy families.
const (
	// TargetTracking is ours: target tracking on (queued + running) jobs per
	// in-service worker, plus the start-from-zero step policy.
	TargetTracking Kind = iota
	// SimpleScaling is GAS's: +1/-1 instance on a backlog alarm, with a cooldown.
	SimpleScaling
)

// Policy is one fleet configuration to replay a trace against.
type Policy struct {
	Name   string
	Kind   Kind
	Params scaling.Params
	// Protect: a worker holding a job is protected from scale-in (the worker
	// sets instance protection while it runs a job).
	Protect bool
	// StartFromZero: the step policy that launches workers while none is in
	// service (target tracking's metric is undefined at zero workers).
	StartFromZero bool
	Simple        Simple // SimpleScaling only
}

// Simple is GAS's simple scaling: an alarm on visible messages per 1-minute
// period; +1 when at least OutThreshold are visible (1 period), -1 when none
// are for InPeriods; nothing for CooldownSeconds after an action.
type Simple struct {
	OutThreshold    int
	InPeriods       int
	CooldownSeconds int
}

// GAS numbers as GAS measured and configured them.
const (
	GASMaxInstances    = 10
	GASCooldownSeconds = 300
	GASScaleInPeriods  = 5
)

// GAS is GAS's simple scaling policy, on this stage's boot time and price so
// the policy is the only difference: +1 instance per alarm, 5-minute
// cooldown, alarm on 1-minute periods, cap 10, no instance protection and no
// drain hook (a scale-in terminates at once).
func GAS(p scaling.Params) Policy {
	p.MinWorkers, p.MaxWorkers = 0, GASMaxInstances
	p.FastLaunch.Enabled = false
	p.WarmPool.Size = 0
	p.DrainTimeoutSeconds = 0
	return Policy{Name: "GAS simple scaling", Kind: SimpleScaling, Params: p,
		Simple: Simple{OutThreshold: 1, InPeriods: GASScaleInPeriods, CooldownSeconds: GASCooldownSeconds}}
}

// Ours is the deployed policy of a stage, exactly as its parameters say.
func Ours(name string, p scaling.Params) Policy {
	return Policy{Name: name, Kind: TargetTracking, Params: p, Protect: true, StartFromZero: true}
}

// Variants are our policy with cold launches only, with Fast Launch, and with
// Fast Launch and a Stopped warm pool that prepares the whole fleet.
func Variants(p scaling.Params) []Policy {
	cold, fast, warm := p, p, p
	cold.FastLaunch.Enabled, cold.WarmPool.Size = false, 0
	fast.FastLaunch.Enabled, fast.WarmPool.Size = true, 0
	warm.FastLaunch.Enabled, warm.WarmPool.Size = true, p.MaxWorkers
	return []Policy{Ours("ours, cold", cold), Ours("ours, Fast Launch", fast), Ours("ours, warm pool", warm)}
}

// Compared is every policy a trace is replayed against: GAS's and ours.
func Compared(p scaling.Params) []Policy { return append([]Policy{GAS(p)}, Variants(p)...) }
