//go:build !windows

package runner

import (
	"errors"
	"os/exec"
	"syscall"

	"github.com/foqus-cloud/stack/core/parentdeath"
)

// prepareTree starts the child as the leader of a new process group, which
// its children join: one kill(-pgid) reaches all of them, and a Ctrl+C in
// the worker's terminal reaches the worker alone (it drains instead). On
// Linux the child also dies with the worker (a SIGKILLed worker leaves no job
// running unseen; its redelivery runs the job again).
func prepareTree(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	parentdeath.Set(cmd.SysProcAttr)
}

type processTree struct{ pgid int }

// startTree starts cmd; its process group exists from its first instruction.
func startTree(cmd *exec.Cmd) (*processTree, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &processTree{pgid: cmd.Process.Pid}, nil
}

func (t *processTree) kill() error {
	err := syscall.Kill(-t.pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) { // the group is already gone
		return nil
	}
	return err
}

func (t *processTree) close() {}
