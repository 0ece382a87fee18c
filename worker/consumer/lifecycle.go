package consumer

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/scaling"
)

// The worker's part in its Auto Scaling group: scale-in protection while it
// holds a job (so scale-in never picks the instance running one), the
// launch hook completed once the service runs (so an instance is in service,
// and watched by the heartbeat alarm, only when it takes jobs), and
// heartbeats on the drain hook while a terminating worker finishes its job.

// onEC2 reports whether the worker runs on an instance of the group: a
// local or test worker has no group to talk to.
func (c *Consumer) onEC2() bool {
	return c.c.AutoScaling != nil && strings.HasPrefix(c.s.Instance, "i-") && c.s.Stack.Stage != ""
}

func (c *Consumer) groupName() string { return resource.Name(resource.WorkerGroup, c.s.Stack.Stage) }

// syncProtection sets the instance's scale-in protection to whether a job
// runs. Callers race (one job ends as another starts): under protMu each
// call applies the state current at that moment, so the last one wins.
func (c *Consumer) syncProtection() {
	if !c.onEC2() {
		return
	}
	c.protMu.Lock()
	defer c.protMu.Unlock()
	c.mu.Lock()
	want := len(c.running) > 0
	c.mu.Unlock()
	if want == c.protected {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := c.c.AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(c.groupName()), InstanceIds: []string{c.s.Instance},
		ProtectedFromScaleIn: aws.Bool(want),
	})
	if err != nil {
		c.log.Warn("setting scale-in protection failed", "protect", want, "err", err)
		return
	}
	c.protected = want
}

// completeLaunch tells the group the instance is ready: until then it waits
// in Pending:Wait, outside the in-service count. An instance launched
// before the hook existed has no action waiting; that is not an error.
func (c *Consumer) completeLaunch(ctx context.Context) {
	if !c.onEC2() {
		return
	}
	_, err := c.c.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(c.groupName()), LifecycleHookName: aws.String(resource.WorkerLaunchHook),
		InstanceId: aws.String(c.s.Instance), LifecycleActionResult: aws.String("CONTINUE"),
	})
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode() == "ValidationError":
		c.log.Info("no launch lifecycle action waits for this instance", "msg", api.ErrorMessage())
	case err != nil:
		c.log.Error("completing the launch lifecycle action failed; the hook's timeout abandons the instance", "err", err)
	default:
		c.log.Info("launch lifecycle action completed: in service", "group", c.groupName())
	}
}

// terminationDrain is how long a terminating worker lets its jobs finish:
// as long as a job may run, within the 48 hours AWS keeps a lifecycle
// action open with heartbeats.
func (c *Consumer) terminationDrain() time.Duration {
	return min(c.s.JobTimeout, 48*time.Hour)
}

// drainHeartbeats keeps the termination lifecycle action open until ctx
// ends, well within each heartbeat timeout.
func (c *Consumer) drainHeartbeats(ctx context.Context, every time.Duration) {
	if !c.onEC2() {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := c.c.AutoScaling.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
			AutoScalingGroupName: aws.String(c.groupName()), LifecycleHookName: aws.String(resource.WorkerDrainHook),
			InstanceId: aws.String(c.s.Instance),
		})
		if err != nil && ctx.Err() == nil {
			c.log.Warn("termination lifecycle heartbeat failed", "err", err)
		}
	}
}

// drainHeartbeatEvery is a quarter of the drain hook's heartbeat timeout,
// as the stage deployed it (the worker config's drainHookSeconds, else
// core/scaling's default): a heartbeat may fail once or twice.
func (c *Consumer) drainHeartbeatEvery() time.Duration {
	hook := c.s.Stack.DrainHookSeconds
	if hook == 0 {
		hook = scaling.DefaultDrainTimeoutSeconds
	}
	return time.Duration(hook) * time.Second / 4
}
