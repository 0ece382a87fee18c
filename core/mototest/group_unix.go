//go:build !windows

package mototest

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup starts moto in a process group of its own, so Close ends the
// server with everything it started.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
