// Package backoff is the project's one retry vocabulary outside the SDK's own
// retries: the SDK's capped exponential backoff with full jitter for the wait
// before each attempt, and a sleep that ends when its context does.
package backoff

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Delay is the wait before attempt (1 for the first retry): a uniform random
// time below min(max, base·2^attempt). It is the SDK's retry backoff, whose
// unit is a second, run in units of base so that sub-second loops (DynamoDB
// re-drives, SNS entry retries) share it with the slow ones.
func Delay(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	units := float64(max) / float64(base) // max, counted in bases
	d, err := retry.NewExponentialJitterBackoff(time.Duration(units*float64(time.Second))).BackoffDelay(attempt, nil)
	if err != nil {
		return max
	}
	return min(time.Duration(d.Seconds()*float64(base)), max)
}

// Sleep waits d, or less when ctx ends first (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
