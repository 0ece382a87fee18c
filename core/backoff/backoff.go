// Package backoff is the project's one retry vocabulary outside the SDK's own
// retries: the SDK's capped exponential backoff with full jitter for the wait
// before each attempt, and a sleep that ends when its context does.
package backoff

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Delay is the wait before attempt (1 for the first retry), at most max: the
// SDK's exponential backoff with jitter, as its own retryer waits.
func Delay(attempt int, max time.Duration) time.Duration {
	d, err := retry.NewExponentialJitterBackoff(max).BackoffDelay(attempt, nil)
	if err != nil {
		return max
	}
	return d
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
