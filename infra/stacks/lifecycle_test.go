package stacks_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/constructs/lifecycle"
)

// The lifecycle's queues feed the archiver and thaw, S3's restore
// completions reach the thaw queue through a rule on EventBridge (enabled on
// the session bucket with a native property), and its alarms exist.
func TestLifecycleIsWiredWithNativeResources(t *testing.T) {
	tmpl := dev.svc
	queues := map[string]string{}
	for id, r := range tmpl.ofType("AWS::SQS::Queue") {
		name, _ := r.Properties["QueueName"].(string)
		queues[name] = id
		if r.Properties["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %s is not encrypted", name)
		}
	}
	fns := functionsByName(t, tmpl)
	want := map[string]string{
		queues[resource.Name(resource.ArchiveQueue, "dev")]: fns[resource.Name(api.FnArchiver, "dev")],
		queues[resource.Name(resource.ThawQueue, "dev")]:    fns[resource.Name(api.FnThaw, "dev")],
	}
	for _, e := range tmpl.ofType("AWS::Lambda::EventSourceMapping") {
		q := refOf(e.Properties["EventSourceArn"])
		if fn, ok := want[q]; ok {
			if refOf(e.Properties["FunctionName"]) != fn || !reflect.DeepEqual(e.Properties["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}) {
				t.Errorf("mapping of %s: %v", q, e.Properties)
			}
			delete(want, q)
		}
	}
	if len(want) != 0 {
		t.Errorf("queues without their function: %v", want)
	}
	for name, fn := range map[string]string{resource.ArchiveQueue: api.FnArchiver, resource.ThawQueue: api.FnThaw} {
		r := tmpl.Resources[queues[resource.Name(name, "dev")]]
		if r.Properties["VisibilityTimeout"] != float64(lifecycle.Visibility) || path(r.Properties, "RedrivePolicy", "maxReceiveCount") != float64(lifecycle.MaxReceiveCount) {
			t.Errorf("queue %s: %v", name, r.Properties)
		}
		// A message comes back only after the archive lease of the run that
		// took it has ended: the lease lasts the function's timeout (its
		// deadline) plus archive.LeaseMargin.
		timeout, _ := tmpl.Resources[fns[resource.Name(fn, "dev")]].Properties["Timeout"].(float64)
		visibility, _ := r.Properties["VisibilityTimeout"].(float64)
		if lease := time.Duration(timeout)*time.Second + archive.LeaseMargin; timeout == 0 || time.Duration(visibility)*time.Second <= lease {
			t.Errorf("queue %s: visibility %vs, not past the lease of a run of %s (timeout %vs): %s", name, visibility, fn, timeout, lease)
		}
	}
	rules := tmpl.ofType("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d event rules, want 1", len(rules))
	}
	for _, r := range rules {
		p := fmt.Sprint(r.Properties["EventPattern"])
		if !strings.Contains(p, lifecycle.DetailRestoreCompleted) || !strings.Contains(p, "aws.s3") || !strings.Contains(p, lifecycle.ArchiveSuffix) {
			t.Errorf("rule pattern %s", p)
		}
		targets, _ := r.Properties["Targets"].([]any)
		if len(targets) != 1 || !strings.Contains(fmt.Sprint(targets[0]), queues[resource.Name(resource.ThawQueue, "dev")]) {
			t.Errorf("rule targets %v, want the thaw queue", targets)
		}
	}
	enabled := false
	for _, b := range dev.data.ofType("AWS::S3::Bucket") {
		if path(b.Properties, "NotificationConfiguration", "EventBridgeConfiguration", "EventBridgeEnabled") == true {
			enabled = true
		}
	}
	if !enabled {
		t.Error("no bucket sends its events to EventBridge")
	}
	if n := len(tmpl.ofType("AWS::SES::EmailIdentity")); n != 1 {
		t.Errorf("%d SES identities, want the stage's sender", n)
	}
	alarms := map[string]bool{}
	for _, a := range tmpl.ofType("AWS::CloudWatch::Alarm") {
		name, _ := a.Properties["AlarmName"].(string)
		alarms[name] = len(fmt.Sprint(a.Properties["AlarmActions"])) > 2
	}
	for _, id := range []string{"archive-dlq-not-empty", "thaw-dlq-not-empty", "restore-stuck"} {
		if !alarms["foqus-dev-"+id] {
			t.Errorf("alarm %s missing or without an action", id)
		}
	}
	// Only the archiver and thaw may send mail, from the sender identity only.
	sends := 0
	for _, p := range tmpl.ofType("AWS::IAM::Policy") {
		s := fmt.Sprint(p.Properties["PolicyDocument"])
		if strings.Contains(s, "ses:SendEmail") {
			sends++
			if !strings.Contains(s, "identity/foqus-dev@example.org") {
				t.Errorf("ses:SendEmail not scoped to the sender: %s", s)
			}
		}
	}
	if sends != 2 {
		t.Errorf("%d policies grant ses:SendEmail, want 2 (archiver, thaw)", sends)
	}
}
