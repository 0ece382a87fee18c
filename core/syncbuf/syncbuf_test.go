package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// Under -race, writers on many goroutines and a reader at once: every
// write lands whole.
func TestConcurrentWritesAllLand(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "line\n"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
}
