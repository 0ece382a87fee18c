// Package parentdeath has the kernel kill a child process when its parent
// dies, however it dies (SIGKILL included): no moto, worker or job outlives
// the process that started it. Only Linux has such a signal; elsewhere Set
// does nothing (Windows job objects do it for the worker's jobs).
//
// The signal follows the OS thread that started the child. Go keeps its
// threads for the life of the process unless a goroutine locked to one
// (runtime.LockOSThread) exits, which this project's code never does.
package parentdeath

import "syscall"

// Set asks for SIGKILL to the child when the parent dies.
func Set(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
