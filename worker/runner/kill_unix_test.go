//go:build unix

package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/proctest"
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
	pids := proctest.WaitPIDs(t, filepath.Join(j.Dir, FakeJobPIDs), 2, 15*time.Second)
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
		proctest.WaitGone(t, pid, 5*time.Second)
	}
}
