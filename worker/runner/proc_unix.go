//go:build !windows

package runner

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// prepareTree starts the child as the leader of a new process group, which
// its children join: one kill(-pgid) reaches all of them.
func prepareTree(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

type processTree struct{ pgid int }

func attachTree(p *os.Process) (*processTree, error) { return &processTree{pgid: p.Pid}, nil }

func (t *processTree) kill() error {
	err := syscall.Kill(-t.pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) { // the group is already gone
		return nil
	}
	return err
}

func (t *processTree) close() {}
