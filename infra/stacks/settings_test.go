package stacks_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/worker/consumer"
)

// Settings of the custom stage, all unlike dev's.
const (
	customRetentionDays = 21
	customDrainSeconds  = 900
)

var customNetwork = config.Network{
	VpcID:             "vpc-0123456789abcdef0",
	SubnetIDs:         []string{"subnet-0a1b2c3d4e5f60718", "subnet-1a2b3c4d"},
	AvailabilityZones: []string{"eu-west-1a", "eu-west-1b"},
}

// customStage is base (dev with image settings) with its own retention,
// drain hook and an existing VPC.
func customStage(base config.Stage) config.Stage {
	st := base
	st.Name = "custom"
	st.DataExpirationDays = customRetentionDays
	drain := customDrainSeconds
	st.Scaling.DrainTimeoutSeconds = &drain
	n := customNetwork
	st.Network = &n
	return st
}

// workerConfig is the worker's SSM config of s (the parameter its stage's
// workers read, resource.WorkerConfigSSM), intrinsics as "TOKEN".
func workerConfig(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	name := fmt.Sprintf(resource.WorkerConfigSSM, s.stage.Config.Name)
	for _, p := range s.svc.ofType("AWS::SSM::Parameter") {
		if p.Properties["Name"] != name {
			continue
		}
		// Stitch the Fn::Join with a placeholder for each intrinsic.
		var sb strings.Builder
		parts, _ := path(p.Properties["Value"], "Fn::Join", 1).([]any)
		for _, part := range parts {
			if s, ok := part.(string); ok {
				sb.WriteString(s)
			} else {
				sb.WriteString("TOKEN")
			}
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(sb.String()), &cfg); err != nil {
			t.Fatalf("worker config is not JSON: %v: %s", err, sb.String())
		}
		return cfg
	}
	t.Fatalf("no SSM parameter %s", name)
	return nil
}

// One stage setting (dataExpirationDays) sets the TTL every writer of
// FOQUS_Resources stamps (functions and worker) and the session objects' expiry.
func TestRetentionIsOneStageSetting(t *testing.T) {
	for _, s := range []*synthesized{dev, prod, custom} {
		st := s.stage.Config
		days := strconv.Itoa(st.DataExpirationDays)
		byName := functionsByName(t, s.svc)
		writers := 0
		for _, base := range api.Functions() {
			vars, _ := path(s.svc.Resources[byName[resource.Name(base, st.Name)]].Properties, "Environment", "Variables").(map[string]any)
			if _, onTable := vars[resource.EnvResourcesTable]; !onTable {
				continue
			}
			writers++
			if vars[resource.EnvRetentionDays] != days {
				t.Errorf("%s %s: %s = %v, want the stage's %s days", st.Name, base, resource.EnvRetentionDays, vars[resource.EnvRetentionDays], days)
			}
		}
		if writers == 0 {
			t.Fatalf("%s: no function on FOQUS_Resources", st.Name)
		}
		if got := workerConfig(t, s)["retentionDays"]; got != float64(st.DataExpirationDays) {
			t.Errorf("%s: worker config retentionDays %v, want %d", st.Name, got, st.DataExpirationDays)
		}
		found := false
		for _, b := range s.data.ofType("AWS::S3::Bucket") {
			if !mentions(b.Properties["BucketName"], resource.SessionBucket+"-"+st.Name) {
				continue
			}
			found = true
			rules, _ := path(b.Properties, "LifecycleConfiguration", "Rules").([]any)
			expiry := false
			for _, r := range rules {
				if d, ok := path(r, "ExpirationInDays").(float64); ok {
					expiry = true
					if d != float64(st.DataExpirationDays) {
						t.Errorf("%s: session objects expire after %v days, items after %d", st.Name, d, st.DataExpirationDays)
					}
				}
			}
			if !expiry {
				t.Errorf("%s: the session bucket has no expiration rule: %v", st.Name, rules)
			}
		}
		if !found {
			t.Errorf("%s: no session bucket", st.Name)
		}
	}
}

// The drain hook's timeout is the stage's core/scaling number, and the
// worker is told it (its heartbeats are a quarter of it).
func TestDrainHookTimeoutHasOneOwner(t *testing.T) {
	for _, s := range []*synthesized{dev, custom} {
		want := s.stage.Config.ScalingParams().DrainTimeoutSeconds
		hooks := 0
		for _, h := range s.svc.ofType("AWS::AutoScaling::LifecycleHook") {
			if h.Properties["LifecycleTransition"] != "autoscaling:EC2_INSTANCE_TERMINATING" {
				continue
			}
			hooks++
			if h.Properties["HeartbeatTimeout"] != float64(want) {
				t.Errorf("%s: drain hook heartbeat timeout %v, want %d", s.stage.Config.Name, h.Properties["HeartbeatTimeout"], want)
			}
		}
		if hooks != 1 {
			t.Errorf("%s: %d drain hooks, want 1", s.stage.Config.Name, hooks)
		}
		if got := workerConfig(t, s)["drainHookSeconds"]; got != float64(want) {
			t.Errorf("%s: worker config drainHookSeconds %v, want the hook's %d", s.stage.Config.Name, got, want)
		}
	}
	if custom.stage.Config.ScalingParams().DrainTimeoutSeconds != customDrainSeconds {
		t.Fatal("the custom stage's override did not apply")
	}
}

// A stage naming an existing VPC gets no VPC of its own: the group, the
// security group and the image builds use the named VPC and subnets.
func TestExistingVpcAndSubnets(t *testing.T) {
	tmpl := custom.svc
	for _, typ := range []string{"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::InternetGateway", "AWS::EC2::VPCEndpoint", "AWS::EC2::FlowLog", "AWS::EC2::RouteTable"} {
		if n := len(tmpl.ofType(typ)); n > 0 {
			t.Errorf("%d %s with an existing VPC, want none", n, typ)
		}
	}
	groups := tmpl.ofType("AWS::AutoScaling::AutoScalingGroup")
	if len(groups) != 1 {
		t.Fatalf("%d groups", len(groups))
	}
	for _, g := range groups {
		if got := strs(g.Properties["VPCZoneIdentifier"]); !reflect.DeepEqual(got, customNetwork.SubnetIDs) {
			t.Errorf("group subnets %v, want %v", got, customNetwork.SubnetIDs)
		}
	}
	for id, sg := range tmpl.ofType("AWS::EC2::SecurityGroup") {
		if sg.Properties["VpcId"] != customNetwork.VpcID {
			t.Errorf("security group %s in VPC %v, want %s", id, sg.Properties["VpcId"], customNetwork.VpcID)
		}
	}
	infra := tmpl.ofType("AWS::ImageBuilder::InfrastructureConfiguration")
	if len(infra) == 0 {
		t.Fatal("no image builder infrastructure configuration")
	}
	for _, ic := range infra {
		if !mentions(ic.Properties["SubnetId"], customNetwork.SubnetIDs[0]) {
			t.Errorf("image builds in subnet %v, want %s", ic.Properties["SubnetId"], customNetwork.SubnetIDs[0])
		}
	}
	// Fast Launch pre-provisions in the workers' first subnet, with a public
	// address only if that subnet gives one (a private subnet's policy may
	// forbid them).
	fastLaunch := 0
	for _, lt := range tmpl.ofType("AWS::EC2::LaunchTemplate") {
		nic := path(lt.Properties, "LaunchTemplateData", "NetworkInterfaces", 0)
		if nic == nil {
			continue
		}
		fastLaunch++
		if !mentions(path(nic, "SubnetId"), customNetwork.SubnetIDs[0]) || path(nic, "AssociatePublicIpAddress") != nil {
			t.Errorf("fast launch interface %v, want subnet %s and the subnet's own public-address setting", nic, customNetwork.SubnetIDs[0])
		}
	}
	if fastLaunch != 1 {
		t.Errorf("%d fast launch templates, want 1", fastLaunch)
	}
	// The default stays the self-contained VPC.
	if len(dev.svc.ofType("AWS::EC2::VPC")) != 1 || len(dev.svc.ofType("AWS::EC2::VPCEndpoint")) != 2 {
		t.Errorf("dev: %d VPCs, %d endpoints, want its own VPC with the S3 and DynamoDB endpoints",
			len(dev.svc.ofType("AWS::EC2::VPC")), len(dev.svc.ofType("AWS::EC2::VPCEndpoint")))
	}
	for id, sub := range dev.svc.ofType("AWS::EC2::Subnet") { // no NAT: workers and Fast Launch reach AWS by public address
		if sub.Properties["MapPublicIpOnLaunch"] != true {
			t.Errorf("dev subnet %s gives no public address", id)
		}
	}
	for _, g := range dev.svc.ofType("AWS::AutoScaling::AutoScalingGroup") {
		for _, sub := range g.Properties["VPCZoneIdentifier"].([]any) {
			if refOf(sub) == "" {
				t.Errorf("dev group subnet %v is not one of the stack's own", sub)
			}
		}
	}
}

// alarmMetrics are the metrics an alarm reads: its own, or those of its math.
func alarmMetrics(a cfnResource) []map[string]any {
	if a.Properties["MetricName"] != nil {
		return []map[string]any{a.Properties}
	}
	var out []map[string]any
	list, _ := a.Properties["Metrics"].([]any)
	for _, q := range list {
		if m, ok := path(q, "MetricStat", "Metric").(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// A client sending no, malformed or wrong credentials pages nobody: no alarm
// counts API 4XX, and the authorizers' alarms count their logged failures,
// not Lambda's Errors (which include every "Unauthorized", the 401).
func TestNoAlarmCountsClientErrors(t *testing.T) {
	for _, s := range []*synthesized{dev, custom} {
		st := s.stage.Config
		byName := functionsByName(t, s.svc)
		authorizers := map[string]string{} // logical id -> base name
		for _, base := range []string{api.FnAuthorizer, api.FnMonitorAuthorizer} {
			authorizers[byName[resource.Name(base, st.Name)]] = base
		}
		alarms := map[string]cfnResource{}
		for _, a := range s.svc.ofType("AWS::CloudWatch::Alarm") {
			alarms[fmt.Sprint(a.Properties["AlarmName"])] = a
			for _, m := range alarmMetrics(a) {
				if m["Namespace"] == "AWS/ApiGateway" && (m["MetricName"] == "4XXError" || m["MetricName"] == "4xx") {
					t.Errorf("%s: alarm %v counts API client errors", st.Name, a.Properties["AlarmName"])
				}
				if m["Namespace"] == "AWS/Lambda" && m["MetricName"] == "Errors" {
					for _, d := range m["Dimensions"].([]any) {
						if base, ok := authorizers[refOf(path(d, "Value"))]; ok {
							t.Errorf("%s: alarm %v counts %s's Errors, which include every 401", st.Name, a.Properties["AlarmName"], base)
						}
					}
				}
			}
		}
		filters := map[string]cfnResource{}
		for _, f := range s.svc.ofType("AWS::Logs::MetricFilter") {
			filters[fmt.Sprint(path(f.Properties, "MetricTransformations", 0, "MetricName"))] = f
		}
		for _, base := range []string{api.FnAuthorizer, api.FnMonitorAuthorizer} {
			fn := resource.Name(base, st.Name)
			a, ok := alarms[fmt.Sprintf("foqus-%s-%s-errors", st.Name, base)]
			if !ok {
				t.Errorf("%s: no failure alarm for %s", st.Name, base)
				continue
			}
			f, ok := filters[fmt.Sprint(a.Properties["MetricName"])]
			if !ok || a.Properties["Namespace"] != path(f.Properties, "MetricTransformations", 0, "MetricNamespace") {
				t.Errorf("%s: %s's alarm reads %v/%v, not a log metric filter", st.Name, base, a.Properties["Namespace"], a.Properties["MetricName"])
				continue
			}
			if f.Properties["LogGroupName"] != "/aws/lambda/"+fn || f.Properties["FilterPattern"] != `{ $.level = "ERROR" }` {
				t.Errorf("%s: %s's failures filter %v on %v, want the ERROR lines of /aws/lambda/%s", st.Name, base, f.Properties["FilterPattern"], f.Properties["LogGroupName"], fn)
			}
		}
	}
}

// The heartbeat alarm watches only workers in service: a booting instance
// waits in Pending:Wait on the launch hook, which its worker completes when
// the service runs (worker/consumer), or which abandons it after the
// stage's launch timeout, longer than a cold boot.
func TestHeartbeatAlarmIgnoresBootingWorkers(t *testing.T) {
	st := dev.stage.Config
	p := st.ScalingParams()
	var alarm *cfnResource
	for _, a := range dev.svc.ofType("AWS::CloudWatch::Alarm") {
		if a.Properties["AlarmName"] == "foqus-"+st.Name+"-worker-heartbeat-missing" {
			alarm = &a
		}
	}
	if alarm == nil {
		t.Fatal("no heartbeat alarm")
	}
	var names []string
	for _, m := range alarmMetrics(*alarm) {
		names = append(names, fmt.Sprint(m["Namespace"], "/", m["MetricName"]))
	}
	want := []string{"AWS/AutoScaling/GroupInServiceInstances", resource.WorkerMetricNamespace + "/" + resource.WorkerHeartbeatMetric}
	sort.Strings(names)
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("heartbeat alarm reads %v, want %v", names, want)
	}
	launch := 0
	for _, h := range dev.svc.ofType("AWS::AutoScaling::LifecycleHook") {
		if h.Properties["LifecycleTransition"] != "autoscaling:EC2_INSTANCE_LAUNCHING" {
			continue
		}
		launch++
		if h.Properties["LifecycleHookName"] != resource.WorkerLaunchHook || h.Properties["DefaultResult"] != "ABANDON" ||
			h.Properties["HeartbeatTimeout"] != float64(p.LaunchTimeoutSecs) || p.LaunchTimeoutSecs < p.Boot.ColdSeconds {
			t.Errorf("launch hook %v, want %s, ABANDON after %d s (a cold boot takes %d s)", h.Properties, resource.WorkerLaunchHook, p.LaunchTimeoutSecs, p.Boot.ColdSeconds)
		}
	}
	if launch != 1 {
		t.Errorf("%d launch hooks, want 1", launch)
	}
	if _, ok := consumer.IAMActions["autoscaling:CompleteLifecycleAction"]; !ok {
		t.Error("the worker does not complete the launch hook")
	}
}
