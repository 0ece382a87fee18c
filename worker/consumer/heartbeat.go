package consumer

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// heartbeat says the worker is alive until ctx ends: directly in the store
// (the consumer record, with a job it runs) and as the CloudWatch metric the
// stack's "heartbeat missing" alarm watches. Its own goroutine, so a long
// job cannot silence it.
func (c *Consumer) heartbeat(ctx context.Context) {
	t := time.NewTicker(c.s.Heartbeat)
	defer t.Stop()
	for {
		c.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Consumer) beat(ctx context.Context) {
	rec := sessionstore.Consumer{ID: c.ID, Instance: c.s.Instance}
	c.mu.Lock()
	for k := range c.running {
		rec.User, rec.Session, rec.Job = k.User, k.Session, k.ID
		break
	}
	c.mu.Unlock()
	if err := c.store.Heartbeat(ctx, rec); err != nil && ctx.Err() == nil {
		c.log.Warn("heartbeat to the store failed", "err", err)
	}
	if c.c.CloudWatch == nil || !c.s.Metrics || c.s.Stack.Stage == "" { // the alarm watches one stage
		return
	}
	if _, err := c.c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(resource.WorkerMetricNamespace),
		MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String(resource.WorkerHeartbeatMetric), Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount,
			Dimensions: []cwtypes.Dimension{{Name: aws.String(resource.WorkerStageDimension), Value: aws.String(c.s.Stack.Stage)}},
		}},
	}); err != nil && ctx.Err() == nil {
		c.log.Warn("heartbeat metric failed", "err", err)
	}
}
