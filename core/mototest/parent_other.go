//go:build !linux && !windows

package mototest

import "syscall"

// dieWithParent: only Linux has a parent-death signal.
func dieWithParent(*syscall.SysProcAttr) {}
