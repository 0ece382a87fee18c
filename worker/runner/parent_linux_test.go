package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/proctest"
)

// A worker killed with SIGKILL (no chance to end its jobs) leaves no job
// process running: the kernel kills the job with its parent.
func TestJobDiesWithAKilledWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), envPlayWorker+"="+dir)
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	pids := proctest.WaitPIDs(t, filepath.Join(dir, FakeJobPIDs), 1, 15*time.Second)
	t.Cleanup(func() { _ = syscall.Kill(pids[0], syscall.SIGKILL) }) // when the test fails
	if !proctest.Alive(pids[0]) {
		t.Fatalf("job %d not running before the kill", pids[0])
	}
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	proctest.WaitGone(t, pids[0], 5*time.Second)
}
