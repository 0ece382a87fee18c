package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	const limit = 2 * time.Second
	var longest time.Duration
	for attempt := 1; attempt <= 20; attempt++ {
		d := Delay(attempt, limit)
		if d < 0 || d > limit {
			t.Fatalf("attempt %d: %v, want 0..%v", attempt, d, limit)
		}
		longest = max(longest, d)
	}
	if longest < limit/4 {
		t.Fatalf("20 attempts never waited over %v", longest)
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
