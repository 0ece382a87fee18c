//go:build !linux

package parentdeath

import "syscall"

// Set does nothing: only Linux has a parent-death signal.
func Set(*syscall.SysProcAttr) {}
