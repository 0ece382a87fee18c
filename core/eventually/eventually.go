// Package eventually is how tests wait for what happens at a time they cannot
// know (a process exits, a job finishes, a cache expires): poll a condition
// with a growing interval until it holds or a deadline passes, instead of
// sleeping for a guessed duration.
package eventually

import (
	"testing"
	"time"
)

// Poll intervals: start short (most conditions hold soon), grow to at most
// MaxInterval so a long wait does not hammer the emulator.
const (
	FirstInterval = 10 * time.Millisecond
	MaxInterval   = 500 * time.Millisecond
)

// True waits until cond holds and returns how long that took; it fails the
// test with what (what was awaited) when timeout passes first.
func True(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	if d, ok := Within(timeout, cond); ok {
		return d
	}
	tb.Fatalf("after %s: still not %s", timeout, what)
	return 0
}

// Within waits until cond holds or timeout passes; it reports the time taken
// and whether cond held.
func Within(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	deadline := start.Add(timeout)
	for wait := FirstInterval; ; wait = min(2*wait, MaxInterval) {
		if cond() {
			return time.Since(start), true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return time.Since(start), false
		}
		time.Sleep(min(wait, left))
	}
}
