//go:build !windows

package service

import (
	"log/slog"
	"runtime"
)

// execute: without an SCM, run and debug are the same console run.
func execute(cmd Command, w Worker, log *slog.Logger) error {
	switch cmd.Verb {
	case VerbRun, VerbDebug:
		return runConsole(w, cmd.Run, log)
	case VerbInstall, VerbRemove, VerbStart, VerbStop:
		return needsWindows(cmd.Verb)
	}
	return usagef("unknown subcommand %q", cmd.Verb)
}

func needsWindows(v Verb) error { return &PlatformError{Verb: v, GOOS: runtime.GOOS} }
