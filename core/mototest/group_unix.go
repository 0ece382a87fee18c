//go:build !windows

package mototest

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/foqus-cloud/stack/core/parentdeath"
)

// ownGroup starts moto in a process group of its own, so Close ends the
// server with everything it started; on Linux the kernel also kills it when
// the process that started it dies (kill -9 of make dev or of a test binary
// leaves no emulator serving on its port).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	parentdeath.Set(cmd.SysProcAttr)
}

func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
