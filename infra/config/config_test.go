package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/scaling"
)

// Every stage in the repository's cdk.json is valid, and prod keeps its data.
func TestCDKJSONStages(t *testing.T) {
	wd, _ := os.Getwd()
	p, err := FindCDKJSON(wd)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := FileContext(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev", "test", "prod"} {
		st, err := Parse(ctx["stages"], name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if name == "prod" && !st.Retain() {
			t.Error("prod does not retain its data")
		}
	}
	if st, err := Parse(ctx["stages"], ""); err != nil || st.Name != DefaultStage {
		t.Errorf("default stage: %v %v", st.Name, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := map[string]any{"workerInstanceType": "t3.large", "minWorkers": 0, "maxWorkers": 2, "logRetentionDays": 14,
		"removalPolicy": "destroy", "apiRateLimit": 10, "apiBurstLimit": 20, "jobLeaseMinutes": 15, "dataExpirationDays": 7}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return map[string]any{"x": m}
	}
	if _, err := Parse(map[string]any{"x": good}, "x"); err != nil {
		t.Fatalf("good stage: %v", err)
	}
	for _, c := range []struct {
		stages any
		name   string
		want   string
	}{
		{nil, "x", `no "stages"`},
		{map[string]any{"x": good}, "y", `stage "y" is not in`},
		{with("logRetentionDays", 10), "x", "logRetentionDays 10"},
		{with("maxWorkers", 0), "x", "maxWorkers"},
		{with("minWorkers", 3), "x", "minWorkers (3)"},
		{with("removalPolicy", "keep"), "x", "removalPolicy"},
		{with("jobLeaseMinutes", 721), "x", "jobLeaseMinutes"},
		{with("workerInstanceType", nil), "x", "workerInstanceType is empty"},
		{with("seats", 3), "x", `unknown field "seats"`},
		{with("scaling", map[string]any{"warmPool": 2}), "x", `unknown field "warmPool"`},
		{with("scaling", map[string]any{"drainTimeoutSeconds": 9000}), "x", "scaling: drainTimeoutSeconds 9000"},
		{with("scaling", map[string]any{"warmPoolSize": 3}), "x", "warmPoolSize 3 must be in 0..maxWorkers (2)"},
		{map[string]any{"x": good}, "Alice_Dev", "lower-case letters"},
		{map[string]any{"x": good}, "-dev", "inner hyphens"},
		{map[string]any{"x": good}, "a-very-long-stage-name", "too long: bucket"},
	} {
		_, err := Parse(c.stages, c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v/%s: %v, want an error with %q", c.stages, c.name, err, c.want)
		}
	}
}

// A stage name AWS would refuse inside a bucket, function or queue name
// fails before synthesis; the longest accepted one fits every name.
func TestValidName(t *testing.T) {
	for _, ok := range []string{"dev", "alice-dev", "p1", "abcdefghijklmnopq"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Dev", "alice_dev", "dev-", "a.b", "abcdefghijklmnopqr"} {
		if err := ValidName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDerivedStageTakesItsBaseAndOverrides(t *testing.T) {
	good := map[string]any{"workerInstanceType": "t3.large", "minWorkers": 0, "maxWorkers": 2, "logRetentionDays": 14,
		"removalPolicy": "destroy", "apiRateLimit": 10, "apiBurstLimit": 20, "jobLeaseMinutes": 15, "dataExpirationDays": 7}
	stages := map[string]any{"dev": good}
	st, err := ParseDerived(stages, "alice-dev", "dev", map[string]string{"maxWorkers": "1", "workerInstanceType": "m6i.large"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "alice-dev" || st.MaxWorkers != 1 || st.WorkerInstanceType != "m6i.large" || st.APIRateLimit != 10 {
		t.Errorf("derived stage %+v: want alice-dev with dev's settings, maxWorkers 1, m6i.large", st)
	}
	for _, c := range []struct {
		base      string
		overrides map[string]string
		want      string
	}{
		{"", nil, "-c base=<stage>"},
		{"qa", nil, `base stage "qa"`},
		{"dev", map[string]string{"seats": "3"}, `unknown field "seats"`},
		{"dev", map[string]string{"maxWorkers": "0"}, "maxWorkers"},
	} {
		if _, err := ParseDerived(stages, "alice-dev", c.base, c.overrides); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("base %q overrides %v: %v, want an error with %q", c.base, c.overrides, err, c.want)
		}
	}
}

func TestFindCDKJSONWalksUp(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cdk.json"), []byte(`{"context":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := FindCDKJSON(deep); err != nil || p != filepath.Join(root, "cdk.json") {
		t.Errorf("FindCDKJSON = %q, %v", p, err)
	}
}

// The CDK app and the simulator read a stage's scaling numbers from the same
// cdk.json fields into the same Params.
func TestScalingParamsAreTheSimulators(t *testing.T) {
	wd, _ := os.Getwd()
	p, err := FindCDKJSON(wd)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := FileContext(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev", "test", "prod"} {
		st, err := Parse(ctx["stages"], name)
		if err != nil {
			t.Fatal(err)
		}
		sim, err := scaling.StageFile(p, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ScalingParams(); !reflect.DeepEqual(got, sim) {
			t.Errorf("%s: CDK app %+v, simulator %+v", name, got, sim)
		}
	}
}

// A stage names an existing VPC by ids alone; ids EC2 would not recognise
// fail before synthesis, naming the key and the value.
func TestNetworkIDs(t *testing.T) {
	good := map[string]any{"workerInstanceType": "t3.large", "minWorkers": 0, "maxWorkers": 2, "logRetentionDays": 14,
		"removalPolicy": "destroy", "apiRateLimit": 10, "apiBurstLimit": 20, "jobLeaseMinutes": 15, "dataExpirationDays": 7}
	stages := map[string]any{"dev": good}
	network := `{"vpcId":"vpc-0123456789abcdef0","subnetIds":["subnet-0a1b2c3d","subnet-0123456789abcdef0"],"availabilityZones":["eu-west-1a","eu-west-1b"]}`
	st, err := ParseDerived(stages, "dev", "", map[string]string{"network": network})
	if err != nil {
		t.Fatal(err)
	}
	if st.Network == nil || st.Network.VpcID != "vpc-0123456789abcdef0" || len(st.Network.SubnetIDs) != 2 {
		t.Fatalf("network %+v", st.Network)
	}
	if st, err := ParseDerived(stages, "dev", "", nil); err != nil || st.Network != nil {
		t.Fatalf("no network: %+v %v, want the stack's own VPC", st.Network, err)
	}
	for _, c := range []struct{ network, want string }{
		{`{"vpcId":"vpc-123","subnetIds":["subnet-0a1b2c3d"],"availabilityZones":["eu-west-1a"]}`, `vpcId "vpc-123" is not a VPC id`},
		{`{"vpcId":"0123456789abcdef0","subnetIds":["subnet-0a1b2c3d"],"availabilityZones":["eu-west-1a"]}`, "is not a VPC id"},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":["subnet-0A1B2C3D"],"availabilityZones":["eu-west-1a"]}`, `"subnet-0A1B2C3D" is not a subnet id`},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":["sg-0a1b2c3d"],"availabilityZones":["eu-west-1a"]}`, `"sg-0a1b2c3d" is not a subnet id`},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":[],"availabilityZones":[]}`, "subnetIds is empty"},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":["subnet-0a1b2c3d","subnet-0a1b2c3d"],"availabilityZones":["eu-west-1a","eu-west-1a"]}`, "named twice"},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":["subnet-0a1b2c3d"]}`, "availabilityZones has 0 entries for 1 subnets"},
		{`{"vpcId":"vpc-0a1b2c3d","subnetIds":["subnet-0a1b2c3d"],"availabilityZones":["euw1-az1"]}`, `"euw1-az1" is not a zone name`},
		{`{"vpcId":"vpc-0a1b2c3d","subnets":["subnet-0a1b2c3d"]}`, `unknown field "subnets"`},
	} {
		_, err := ParseDerived(stages, "dev", "", map[string]string{"network": c.network})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("network %s: %v, want an error with %q", c.network, err, c.want)
		}
	}
}
