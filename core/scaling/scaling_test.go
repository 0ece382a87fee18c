package scaling

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	for _, mm := range [][2]int{{0, 1}, {0, 2}, {0, 10}, {2, 10}} {
		if err := Defaults(mm[0], mm[1]).Validate(); err != nil {
			t.Errorf("Defaults(%d, %d): %v", mm[0], mm[1], err)
		}
	}
}

func TestResolveAppliesOverrides(t *testing.T) {
	t.Parallel()
	var o Overrides
	if err := json.Unmarshal([]byte(`{"warmPoolSize": 3, "warmPoolReuseOnScaleIn": false, "fastLaunch": false, "instancePricePerHour": 0.24, "targetJobsPerWorker": 2}`), &o); err != nil {
		t.Fatal(err)
	}
	p, err := o.Resolve(0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.WarmPool.Size != 3 || p.WarmPool.ReuseOnScaleIn || p.FastLaunch.Enabled || p.InstancePrice != 0.24 || p.TargetJobsPerWorker != 2 {
		t.Errorf("overrides not applied: %+v", p)
	}
	if p.WarmupSeconds != DefaultWarmupSeconds || p.Boot.ColdSeconds != DefaultColdBootSeconds {
		t.Errorf("defaults lost: %+v", p)
	}
}

// AWS-LIMITS.md: a lifecycle hook's heartbeat timeout is 30..7,200 s; Fast
// Launch prepares at least 6 snapshots in parallel; a step policy has at most
// 20 steps. Each is refused before a deploy would be.
func TestValidateRefusesWhatAWSRefuses(t *testing.T) {
	t.Parallel()
	i := func(v int) *int { return &v }
	for _, c := range []struct {
		name string
		o    Overrides
		max  int
		want string
	}{
		{"drain hook too long", Overrides{DrainTimeoutSeconds: i(7201)}, 10, "drainTimeoutSeconds 7201"},
		{"drain hook too short", Overrides{DrainTimeoutSeconds: i(29)}, 10, "drainTimeoutSeconds 29"},
		{"launch hook too long", Overrides{LaunchTimeoutSeconds: i(7201)}, 10, "launchTimeoutSeconds 7201"},
		{"boot beyond launch hook", Overrides{ColdBootSeconds: i(2000)}, 10, "coldBootSeconds 2000 exceeds"},
		{"fast launch parallel", Overrides{FastLaunchParallel: i(5)}, 10, "fastLaunchParallel >= 6"},
		{"warm pool beyond seats", Overrides{WarmPoolSize: i(11)}, 10, "warmPoolSize 11"},
		{"too many start steps", Overrides{}, 21, "at most 20"},
	} {
		if _, err := c.o.Resolve(0, c.max); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestStartStepsLaunchTheBacklogsWorkersAtOnce(t *testing.T) {
	t.Parallel()
	p := Defaults(0, 10)
	steps := StartSteps(p)
	if len(steps) != 10 || steps[0] != (Step{Jobs: 1, Capacity: 1}) || steps[9] != (Step{Jobs: 10, Capacity: 10}) {
		t.Fatalf("steps %v", steps)
	}
	for jobs, want := range map[float64]int{0: 0, 1: 1, 3: 3, 10: 10, 20: 10, 1000: 10} {
		if got := StartCapacity(p, jobs); got != want {
			t.Errorf("StartCapacity(%v) = %d, want %d", jobs, got, want)
		}
	}
	p.TargetJobsPerWorker = 2.5
	for jobs, want := range map[float64]int{1: 1, 2: 1, 3: 2, 5: 2, 6: 3, 8: 4} {
		if got, tracked := StartCapacity(p, jobs), TrackedCapacity(p, jobs); got != want || tracked != want {
			t.Errorf("target 2.5, %v jobs: start %d, tracked %d, want %d (both ceil(jobs/target))", jobs, got, tracked, want)
		}
	}
}

func TestTrackedCapacityStaysWithinSeats(t *testing.T) {
	t.Parallel()
	p := Defaults(1, 4)
	for jobs, want := range map[float64]int{0: 1, 1: 1, 2: 2, 4: 4, 100: 4} {
		if got := TrackedCapacity(p, jobs); got != want {
			t.Errorf("TrackedCapacity(%v) = %d, want %d", jobs, got, want)
		}
	}
}

func TestStageFileReadsTheRepositorysStages(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"dev", "test", "prod"} {
		p, err := StageFile("../../cdk.json", stage)
		if err != nil {
			t.Fatal(err)
		}
		if p.MaxWorkers < 1 || p.InstancePrice <= 0 {
			t.Errorf("%s: %+v", stage, p)
		}
	}
	if _, err := StageFile("../../cdk.json", "nope"); err == nil || !strings.Contains(err.Error(), `stage "nope"`) {
		t.Errorf("unknown stage: %v", err)
	}
}
