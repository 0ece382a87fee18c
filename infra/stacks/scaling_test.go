package stacks_test

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/core/scaling/sim"
)

// num reads a template number (CloudFormation takes some as strings).
func num(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case float64:
		return v
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%q is not a number", v)
		}
		return f
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

// one returns the single resource of a type, failing otherwise.
func one(t *testing.T, tmpl template, typ string) cfnResource {
	t.Helper()
	rs := tmpl.ofType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d %s, want 1", len(rs), typ)
	}
	for _, r := range rs {
		return r
	}
	return cfnResource{}
}

// policies returns the target tracking policy and the start-from-zero step policy.
func policies(t *testing.T, tmpl template) (tracking, start cfnResource, startID string) {
	t.Helper()
	for id, sp := range tmpl.ofType("AWS::AutoScaling::ScalingPolicy") {
		switch sp.Properties["PolicyType"] {
		case "TargetTrackingScaling":
			tracking = sp
		case "StepScaling":
			start, startID = sp, id
		}
	}
	if tracking.Properties == nil || start.Properties == nil {
		t.Fatal("want a target tracking and a step scaling policy")
	}
	return tracking, start, startID
}

// startAlarm is the alarm that invokes the start-from-zero policy.
func startAlarm(t *testing.T, tmpl template, policyID string) cfnResource {
	t.Helper()
	for _, a := range tmpl.ofType("AWS::CloudWatch::Alarm") {
		for _, act := range a.Properties["AlarmActions"].([]any) {
			if refOf(act) == policyID {
				return a
			}
		}
	}
	t.Fatal("no alarm invokes the start-from-zero policy")
	return cfnResource{}
}

// hooksOf maps lifecycle transition to hook properties.
func hooksOf(tmpl template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, h := range tmpl.ofType("AWS::AutoScaling::LifecycleHook") {
		out[h.Properties["LifecycleTransition"].(string)] = h.Properties
	}
	return out
}

// deployed reads back from a synthesized template the scaling numbers it deploys.
func deployed(t *testing.T, s *synthesized) scaling.Params {
	t.Helper()
	tmpl := s.svc
	g := one(t, tmpl, "AWS::AutoScaling::AutoScalingGroup").Properties
	tracking, start, startID := policies(t, tmpl)
	alarm := startAlarm(t, tmpl, startID)
	hooks := hooksOf(tmpl)
	p := scaling.Params{
		MinWorkers:          int(num(t, g["MinSize"])),
		MaxWorkers:          int(num(t, g["MaxSize"])),
		TargetJobsPerWorker: num(t, path(tracking.Properties, "TargetTrackingConfiguration", "TargetValue")),
		WarmupSeconds:       int(num(t, g["DefaultInstanceWarmup"])),
		CooldownSeconds:     int(num(t, g["Cooldown"])),
		StartPeriods:        int(num(t, alarm.Properties["EvaluationPeriods"])),
		DrainTimeoutSeconds: int(num(t, hooks["autoscaling:EC2_INSTANCE_TERMINATING"]["HeartbeatTimeout"])),
		LaunchTimeoutSecs:   int(num(t, hooks["autoscaling:EC2_INSTANCE_LAUNCHING"]["HeartbeatTimeout"])),
	}
	for _, w := range []any{tracking.Properties["EstimatedInstanceWarmup"], start.Properties["EstimatedInstanceWarmup"]} {
		if int(num(t, w)) != p.WarmupSeconds {
			t.Errorf("policy warm-up %v, group's %d", w, p.WarmupSeconds)
		}
	}
	if wp := tmpl.ofType("AWS::AutoScaling::WarmPool"); len(wp) == 1 {
		for _, r := range wp {
			p.WarmPool.Size = int(num(t, r.Properties["MaxGroupPreparedCapacity"]))
			p.WarmPool.ReuseOnScaleIn = path(r.Properties, "InstanceReusePolicy", "ReuseOnScaleIn") == true
		}
	}
	for _, d := range tmpl.ofType("AWS::ImageBuilder::DistributionConfiguration") {
		if fl := path(d.Properties, "Distributions", 0, "FastLaunchConfigurations", 0); fl != nil {
			p.FastLaunch.Enabled = path(fl, "Enabled") == true
			p.FastLaunch.Snapshots = int(num(t, path(fl, "SnapshotConfiguration", "TargetResourceCount")))
			p.FastLaunch.Parallel = int(num(t, path(fl, "MaxParallelLaunches")))
		}
	}
	return p
}

// templateStartCapacity evaluates the deployed start-from-zero policy: the
// capacity its alarm and step adjustments set for a backlog with no worker.
func templateStartCapacity(t *testing.T, tmpl template, backlog float64) int {
	t.Helper()
	_, start, id := policies(t, tmpl)
	threshold := num(t, startAlarm(t, tmpl, id).Properties["Threshold"])
	if backlog < threshold {
		return 0
	}
	for _, st := range start.Properties["StepAdjustments"].([]any) {
		lo, hi := math.Inf(-1), math.Inf(1)
		if v := path(st, "MetricIntervalLowerBound"); v != nil {
			lo = num(t, v)
		}
		if v := path(st, "MetricIntervalUpperBound"); v != nil {
			hi = num(t, v)
		}
		if d := backlog - threshold; d >= lo && d < hi {
			return int(num(t, path(st, "ScalingAdjustment")))
		}
	}
	t.Fatalf("no step for a backlog of %v", backlog)
	return 0
}

// The template and the simulator agree: every number the template deploys is
// the one the simulator replays for that stage (read from cdk.json through
// core/scaling), and the deployed start policy sets the capacity the
// simulator's does for every backlog.
func TestTemplateAgreesWithTheSimulator(t *testing.T) {
	for _, s := range []*synthesized{dev, prod, img} {
		st := s.stage.Config
		policy := sim.Ours(st.Name, st.ScalingParams()) // what cmd/scaling-sim replays for the stage
		if st.Name != "img" {
			fromFile, err := scaling.StageFile("../../cdk.json", st.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromFile, policy.Params) {
				t.Fatalf("%s: the simulator reads %+v, the app %+v", st.Name, fromFile, policy.Params)
			}
		}
		want := policy.Params
		got := deployed(t, s)
		// What the template does not hold: boot times and prices are inputs of
		// the model only (Fast Launch, in every stage, is tested with the pipeline).
		got.Boot, got.InstancePrice, got.StoppedPrice, got.FastLaunch.RefillSeconds = want.Boot, want.InstancePrice, want.StoppedPrice, want.FastLaunch.RefillSeconds
		if s.stage.Image == nil {
			got.FastLaunch = want.FastLaunch
		}
		if got.WarmPool.Size == 0 && want.WarmPool.Size == 0 {
			got.WarmPool.ReuseOnScaleIn = want.WarmPool.ReuseOnScaleIn // no pool to reuse into
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: template deploys %+v\nsimulator replays %+v", st.Name, got, want)
		}
		for backlog := 0.0; backlog <= float64(want.MaxWorkers)*want.TargetJobsPerWorker+5; backlog++ {
			if g, w := templateStartCapacity(t, s.svc, backlog), scaling.StartCapacity(want, backlog); g != w {
				t.Errorf("%s: backlog %v with no worker: template sets %d, simulator %d", st.Name, backlog, g, w)
			}
		}
	}
}

// The agreement test fails when the app and the simulator part: a stage
// whose numbers differ from the one replayed is caught.
func TestAgreementCatchesADifference(t *testing.T) {
	got := deployed(t, prod)
	want := prod.stage.Config.ScalingParams()
	want.TargetJobsPerWorker++
	got.Boot, got.InstancePrice, got.StoppedPrice, got.FastLaunch = want.Boot, want.InstancePrice, want.StoppedPrice, want.FastLaunch
	if reflect.DeepEqual(got, want) {
		t.Error("a different target went unnoticed")
	}
}

// Target tracking on (queued + running) per in-service worker; the start
// policy keys on zero workers, since AWS-LIMITS.md: target tracking on a
// per-instance ratio cannot start from 0 instances.
func TestScalingPoliciesUseTheConfiguredNumbers(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		p := s.stage.Config.ScalingParams()
		tracking, start, id := policies(t, s.svc)
		if !mentions(tracking.Properties, "(queued + running) / workers") || !mentions(tracking.Properties, "GroupInServiceInstances") {
			t.Errorf("%s: target tracking metric %v", s.stage.Config.Name, tracking.Properties["TargetTrackingConfiguration"])
		}
		if start.Properties["AdjustmentType"] != "ExactCapacity" || len(start.Properties["StepAdjustments"].([]any)) != len(scaling.StartSteps(p)) {
			t.Errorf("%s: start policy %v", s.stage.Config.Name, start.Properties)
		}
		alarm := startAlarm(t, s.svc, id)
		expr := ""
		for _, m := range alarm.Properties["Metrics"].([]any) {
			if e, ok := path(m, "Expression").(string); ok && path(m, "ReturnData") == true {
				expr = e
			}
		}
		if !strings.Contains(expr, "workers, 0) < 1") || !strings.Contains(expr, "backlog") || !mentions(alarm.Properties["Metrics"], "ApproximateNumberOfMessagesVisible") {
			t.Errorf("%s: the start alarm is not on the backlog at zero workers: %q", s.stage.Config.Name, expr)
		}
		if strings.Contains(expr, "/ workers") {
			t.Errorf("%s: the start alarm divides by the worker count, undefined at zero: %q", s.stage.Config.Name, expr)
		}
		for _, m := range alarm.Properties["Metrics"].([]any) {
			if ms := path(m, "MetricStat"); ms != nil && int(num(t, path(ms, "Period"))) != scaling.PeriodSeconds {
				t.Errorf("%s: start alarm period %v, want %d", s.stage.Config.Name, path(ms, "Period"), scaling.PeriodSeconds)
			}
		}
	}
}

// prod has a Stopped warm pool; dev none. AWS-LIMITS.md: a warm pool takes
// no mixed instances policy or Spot, and its instances need a launch hook.
func TestWarmPool(t *testing.T) {
	if n := len(dev.svc.ofType("AWS::AutoScaling::WarmPool")); n != 0 {
		t.Errorf("dev: %d warm pools, want none (warmPoolSize 0)", n)
	}
	wp := one(t, prod.svc, "AWS::AutoScaling::WarmPool").Properties
	p := prod.stage.Config.ScalingParams()
	if wp["PoolState"] != "Stopped" || int(num(t, wp["MaxGroupPreparedCapacity"])) != p.WarmPool.Size || path(wp, "InstanceReusePolicy", "ReuseOnScaleIn") != p.WarmPool.ReuseOnScaleIn {
		t.Errorf("warm pool %v, want Stopped, prepared capacity %d, reuse %v", wp, p.WarmPool.Size, p.WarmPool.ReuseOnScaleIn)
	}
	g := one(t, prod.svc, "AWS::AutoScaling::AutoScalingGroup")
	if g.Properties["MixedInstancesPolicy"] != nil || g.Properties["LaunchTemplate"] == nil {
		t.Errorf("a warm pool needs one launch template, no mixed instances: %v", g.Properties)
	}
	lt := prod.svc.Resources[refOf(path(g.Properties, "LaunchTemplate", "LaunchTemplateId"))]
	if path(lt.Properties, "LaunchTemplateData", "InstanceMarketOptions") != nil {
		t.Errorf("a warm pool takes no Spot: %v", path(lt.Properties, "LaunchTemplateData", "InstanceMarketOptions"))
	}
	if hooksOf(prod.svc)["autoscaling:EC2_INSTANCE_LAUNCHING"] == nil {
		t.Error("warm pool instances need the launch lifecycle hook")
	}
}

// Both lifecycle hooks, with the worker's names and the configured timeouts,
// within AWS-LIMITS.md's heartbeat bounds (30..7,200 s).
func TestLifecycleHooks(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		p := s.stage.Config.ScalingParams()
		hooks := hooksOf(s.svc)
		for transition, want := range map[string]struct {
			name    string
			timeout int
		}{
			"autoscaling:EC2_INSTANCE_LAUNCHING":   {resource.WorkerLaunchHook, p.LaunchTimeoutSecs},
			"autoscaling:EC2_INSTANCE_TERMINATING": {resource.WorkerDrainHook, p.DrainTimeoutSeconds},
		} {
			h := hooks[transition]
			if h == nil {
				t.Errorf("%s: no %s hook", s.stage.Config.Name, transition)
				continue
			}
			hb := int(num(t, h["HeartbeatTimeout"]))
			if h["LifecycleHookName"] != want.name || hb != want.timeout {
				t.Errorf("%s: %s hook %v, want %s with %d s", s.stage.Config.Name, transition, h, want.name, want.timeout)
			}
			if hb < scaling.HookMinSeconds || hb > scaling.HookMaxSeconds {
				t.Errorf("%s: %s heartbeat %d s outside AWS's %d..%d", s.stage.Config.Name, transition, hb, scaling.HookMinSeconds, scaling.HookMaxSeconds)
			}
		}
	}
}

// The image's distribution turns on EC2 Fast Launch with the configured
// snapshots, parallelism (AWS's minimum 6) and a launch template in the
// workers' subnet.
func TestFastLaunchInTheDistribution(t *testing.T) {
	p := img.stage.Config.ScalingParams()
	d := one(t, img.svc, "AWS::ImageBuilder::DistributionConfiguration")
	fl := path(d.Properties, "Distributions", 0, "FastLaunchConfigurations", 0)
	if path(fl, "Enabled") != true || int(num(t, path(fl, "MaxParallelLaunches"))) != p.FastLaunch.Parallel ||
		int(num(t, path(fl, "SnapshotConfiguration", "TargetResourceCount"))) != p.FastLaunch.Snapshots {
		t.Fatalf("fast launch %v, want %d snapshots, %d parallel", fl, p.FastLaunch.Snapshots, p.FastLaunch.Parallel)
	}
	if int(num(t, path(fl, "MaxParallelLaunches"))) < scaling.FastLaunchMinParallel {
		t.Errorf("MaxParallelLaunches below AWS's minimum %d", scaling.FastLaunchMinParallel)
	}
	lt := img.svc.Resources[refOf(path(fl, "LaunchTemplate", "LaunchTemplateId"))]
	if lt.Type != "AWS::EC2::LaunchTemplate" || path(lt.Properties, "LaunchTemplateData", "NetworkInterfaces", 0, "SubnetId") == nil {
		t.Errorf("fast launch template %v", lt)
	}
	// Without Fast Launch in the stage, the distribution has none.
	st := img.stage.Config
	off := false
	st.Name, st.Scaling.FastLaunch = "imgnofl", &off
	s, err := synthStage(t.TempDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	if fl := path(one(t, s.svc, "AWS::ImageBuilder::DistributionConfiguration").Properties, "Distributions", 0, "FastLaunchConfigurations"); fl != nil {
		t.Errorf("fastLaunch false, yet %v", fl)
	}
}

// The dashboard shows the scaling row next to the alarms.
func TestDashboardShowsScaling(t *testing.T) {
	body := one(t, prod.svc, "AWS::CloudWatch::Dashboard").Properties["DashboardBody"]
	for _, want := range []string{"Job backlog", "Jobs per in-service worker", "Queue wait", "GroupPendingInstances", "WarmPoolWarmedCapacity",
		"GroupDesiredCapacity", "ApproximateAgeOfOldestMessage", "Start from zero", "alarm:foqus-prod-start-from-zero", "alarm:foqus-prod-api-5xx"} {
		if !mentions(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if !strings.Contains(strings.Join(strs(one(t, prod.svc, "AWS::AutoScaling::AutoScalingGroup").Properties["MetricsCollection"].([]any)[0].(map[string]any)["Metrics"]), ","), "WarmPoolWarmedCapacity") {
		t.Error("the group does not publish the warm pool metric the dashboard shows")
	}
}
