package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/worker/config"
)

func lifecycleConsumer(as *autoscaling.Client, instance, stage string) *Consumer {
	return &Consumer{
		s:       config.Settings{Instance: instance, Stack: resource.WorkerConfig{Stage: stage}},
		c:       Clients{AutoScaling: as},
		running: map[job.Key]bool{},
		log:     slog.New(slog.DiscardHandler),
	}
}

// moto honours SetInstanceProtection: a held job protects the instance from
// scale-in, the last job's end clears it, a second job keeps it.
func TestScaleInProtectionWhileAJobRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := mototest.Start(ctx)
	if errors.Is(err, mototest.ErrNoMoto) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as := autoscaling.NewFromConfig(cfg)
	const stage = "protect"
	group := resource.Name(resource.WorkerGroup, stage)
	if _, err := as.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{
		LaunchConfigurationName: aws.String("lc"), ImageId: aws.String("ami-12c6146b"), InstanceType: aws.String("t3.micro"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), LaunchConfigurationName: aws.String("lc"),
		MinSize: aws.Int32(1), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"},
	}); err != nil {
		t.Fatal(err)
	}
	protected := func() (string, bool) {
		out, err := as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{})
		if err != nil || len(out.AutoScalingInstances) != 1 {
			t.Fatalf("describe instances: %v %v", out, err)
		}
		i := out.AutoScalingInstances[0]
		return aws.ToString(i.InstanceId), aws.ToBool(i.ProtectedFromScaleIn)
	}
	id, on := protected()
	if on {
		t.Fatal("protected before any job")
	}
	c := lifecycleConsumer(as, id, stage)
	a, b := job.Key{User: "alice", Session: "s", ID: "a"}, job.Key{User: "alice", Session: "s", ID: "b"}
	for _, step := range []struct {
		k    job.Key
		on   bool
		want bool
	}{{a, true, true}, {b, true, true}, {a, false, true}, {b, false, false}} {
		c.track(step.k, step.on)
		if _, got := protected(); got != step.want {
			t.Fatalf("after track(%s, %v): protected %v, want %v", step.k.ID, step.on, got, step.want)
		}
	}
}

// fakeAutoScaling answers the Auto Scaling query protocol for the lifecycle
// calls moto answers with 500 NotImplemented, and records them.
type fakeAutoScaling struct {
	mu       sync.Mutex
	calls    []url.Values
	noAction bool // answer CompleteLifecycleAction as AWS does when no action waits
}

func (f *fakeAutoScaling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.PostForm)
	noAction := f.noAction
	f.mu.Unlock()
	action := r.PostForm.Get("Action")
	w.Header().Set("Content-Type", "text/xml")
	const ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
	switch {
	case action == "CompleteLifecycleAction" && noAction:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-0abc</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ns)
	case action == "CompleteLifecycleAction" || action == "RecordLifecycleActionHeartbeat":
		_, _ = fmt.Fprintf(w, `<%[1]sResponse xmlns="%[2]s"><%[1]sResult/><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></%[1]sResponse>`, action, ns)
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>unexpected %s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ns, action)
	}
}

func (f *fakeAutoScaling) actions() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls...)
}

func fakeClient(t *testing.T, f *fakeAutoScaling) *autoscaling.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return autoscaling.New(autoscaling.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
}

func TestLaunchHookCompletedWhenTheServiceRuns(t *testing.T) {
	t.Parallel()
	f := &fakeAutoScaling{}
	c := lifecycleConsumer(fakeClient(t, f), "i-0abc", "dev")
	c.completeLaunch(context.Background())
	calls := f.actions()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want one CompleteLifecycleAction", len(calls))
	}
	want := map[string]string{"Action": "CompleteLifecycleAction", "AutoScalingGroupName": "FOQUS-Workers-dev",
		"LifecycleHookName": resource.WorkerLaunchHook, "InstanceId": "i-0abc", "LifecycleActionResult": "CONTINUE"}
	for k, v := range want {
		if calls[0].Get(k) != v {
			t.Errorf("%s = %q, want %q", k, calls[0].Get(k), v)
		}
	}
	// No action waiting (launched before the hook existed): a ValidationError, logged, not fatal.
	f.noAction = true
	c.completeLaunch(context.Background())
	if n := len(f.actions()); n != 2 {
		t.Fatalf("%d calls, want the second CompleteLifecycleAction", n)
	}
	// Off EC2 (a local worker) nothing is called.
	lifecycleConsumer(fakeClient(t, f), "build-host", "dev").completeLaunch(context.Background())
	if n := len(f.actions()); n != 2 {
		t.Errorf("a worker off EC2 called Auto Scaling (%d calls)", n)
	}
}

func TestDrainHeartbeatsKeepTheTerminationHookOpen(t *testing.T) {
	t.Parallel()
	f := &fakeAutoScaling{}
	c := lifecycleConsumer(fakeClient(t, f), "i-0abc", "dev")
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	c.drainHeartbeats(ctx, 100*time.Millisecond)
	calls := f.actions()
	if len(calls) < 2 || len(calls) > 4 {
		t.Fatalf("%d heartbeats in 350 ms every 100 ms, want 2..4", len(calls))
	}
	for _, call := range calls {
		if call.Get("Action") != "RecordLifecycleActionHeartbeat" || call.Get("LifecycleHookName") != resource.WorkerDrainHook || call.Get("InstanceId") != "i-0abc" {
			t.Errorf("call %v, want a drain-hook heartbeat for i-0abc", call)
		}
	}
	// The interval follows the hook's timeout as the stage deployed it.
	for hook, want := range map[int]time.Duration{0: scaling.DefaultDrainTimeoutSeconds * time.Second / 4, 600: 150 * time.Second, scaling.HookMinSeconds: 7500 * time.Millisecond} {
		c.s.Stack.DrainHookSeconds = hook
		if got := c.drainHeartbeatEvery(); got != want {
			t.Errorf("drain hook of %d s: heartbeats every %v, want %v", hook, got, want)
		}
	}
	c.s.JobTimeout = 100 * time.Hour
	if d := c.terminationDrain(); d != 48*time.Hour {
		t.Errorf("drain %v, want the 48 h a lifecycle action stays open", d)
	}
}
