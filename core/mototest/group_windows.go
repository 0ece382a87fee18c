//go:build windows

package mototest

import (
	"os"
	"os/exec"
)

// ownGroup: moto's server is one process on Windows; Close kills it.
func ownGroup(*exec.Cmd) {}

func killGroup(p *os.Process) { _ = p.Kill() }
