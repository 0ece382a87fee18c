package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ base, limit time.Duration }{
		{time.Second, 2 * time.Second},
		{25 * time.Millisecond, 400 * time.Millisecond}, // sub-second: the DynamoDB re-drive's
	} {
		var longest time.Duration
		for attempt := 1; attempt <= 20; attempt++ {
			d := Delay(attempt, c.base, c.limit)
			if d < 0 || d > c.limit {
				t.Fatalf("base %v attempt %d: %v, want 0..%v", c.base, attempt, d, c.limit)
			}
			longest = max(longest, d)
		}
		if longest < c.limit/4 {
			t.Fatalf("base %v: 20 attempts never waited over %v", c.base, longest)
		}
		// The first retry waits below 2·base: exponential from base, not from a second.
		for range 50 {
			if d := Delay(1, c.base, c.limit); d >= 2*c.base {
				t.Fatalf("base %v: first retry waits %v, want below %v", c.base, d, 2*c.base)
			}
		}
	}
	if Delay(3, 0, time.Second) != 0 {
		t.Fatal("a zero base must not wait")
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Sleep of a minute under a 50ms context: %v after %v", err, time.Since(start))
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
