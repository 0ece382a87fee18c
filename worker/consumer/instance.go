package consumer

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/worker/config"
)

// TerminationNotice says the instance is going away: the Auto Scaling group
// is terminating it (its lifecycle hook waits for us) or a spot
// interruption is coming.
type TerminationNotice struct {
	Spot   bool
	Detail string
}

func (n *TerminationNotice) Error() string {
	if n.Spot {
		return "spot interruption notice: " + n.Detail
	}
	return "instance terminating (Auto Scaling lifecycle hook)"
}

// Instance metadata paths of the notices. Both answer 404 while nothing is
// coming, which is why errors here are not reported.
const (
	lifecycleStatePath = "autoscaling/target-lifecycle-state"
	spotActionPath     = "spot/instance-action"
)

// watchInstance polls instance metadata until ctx ends or a notice comes,
// which it hands to stop.
func (c *Consumer) watchInstance(ctx context.Context, stop context.CancelCauseFunc) {
	t := time.NewTicker(c.s.IMDSPoll)
	defer t.Stop()
	for {
		if state, err := config.Metadata(ctx, c.c.IMDS, lifecycleStatePath); err == nil && state == "Terminated" {
			stop(&TerminationNotice{})
			return
		}
		if action, err := config.Metadata(ctx, c.c.IMDS, spotActionPath); err == nil && action != "" {
			stop(&TerminationNotice{Spot: true, Detail: action})
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// completeLifecycle lets the Auto Scaling group terminate the instance now
// that no job runs on it.
func (c *Consumer) completeLifecycle(ctx context.Context) {
	if c.c.AutoScaling == nil {
		return
	}
	group := resource.Name(resource.WorkerGroup, c.s.Stack.Stage)
	_, err := c.c.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(group), LifecycleHookName: aws.String(resource.WorkerDrainHook),
		InstanceId: aws.String(c.s.Instance), LifecycleActionResult: aws.String("CONTINUE"),
	})
	if err != nil {
		c.log.Error("completing the termination lifecycle action failed; the hook's timeout ends it", "group", group, "err", err)
		return
	}
	c.log.Info("termination lifecycle action completed", "group", group)
}
