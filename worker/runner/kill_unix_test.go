//go:build unix

package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
)

// A hanging run is killed with its grandchild when the context ends, and the
// error carries the cause.
func TestFakeJobHangIsKilledWithItsTree(t *testing.T) {
	t.Parallel()
	r := FakeJob{Exe: os.Args[0]}
	j := fakeJob(t, `{"control":{"hang":true,"spawn":true}}`)
	cause := errors.New("killed by the test")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { _, err := runJob(ctx, r, j); done <- err }()
	pids := waitPIDs(t, filepath.Join(j.Dir, FakeJobPIDs), 2)
	cancel(cause)
	select {
	case err := <-done:
		var ke *KilledError
		if !errors.As(err, &ke) || !errors.Is(err, cause) {
			t.Fatalf("run = %v, want a KilledError with the cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run not ended 10s after its context")
	}
	for _, pid := range pids {
		waitGone(t, pid, 5*time.Second)
	}
}

func waitPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	var f []string
	eventually.True(t, 15*time.Second, fmt.Sprintf("%d pids in %s", n, path), func() bool {
		b, _ := os.ReadFile(path)
		f = strings.Fields(string(b))
		return len(f) == n
	})
	pids := make([]int, n)
	for i, s := range f {
		pids[i], _ = strconv.Atoi(s)
	}
	return pids
}

// waitGone waits until pid no longer runs (gone, or a zombie nobody reaped yet).
func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	eventually.True(t, within, fmt.Sprintf("process %d gone after the kill", pid), func() bool { return !alive(pid) })
}

// alive reports whether pid runs: it exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
