package eventually

import (
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d, ok := Within(2*time.Second, func() bool { return time.Since(start) > 100*time.Millisecond })
	if !ok || d < 100*time.Millisecond || d > time.Second {
		t.Fatalf("a condition true after 100ms: held %v after %v", ok, d)
	}
	calls := 0
	d, ok = Within(200*time.Millisecond, func() bool { calls++; return false })
	if ok || d < 200*time.Millisecond || d > time.Second || calls < 3 {
		t.Fatalf("a condition never true: held %v after %v, %d polls", ok, d, calls)
	}
}
