//go:build !linux

package devstack

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere a killed
// stack's workers stop at their next failed call to the gone emulator.
func dieWithParent(*exec.Cmd) {}
