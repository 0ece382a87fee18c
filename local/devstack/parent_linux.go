package devstack

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a worker when the stack's process dies,
// however it dies (kill -9 included): no worker outlives its stack.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
