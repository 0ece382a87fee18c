//go:build unix

package service

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// The worker signals its own process only after it is running, that is
// after runConsole has called signal.Notify, so the signal cannot kill the
// test binary.

func TestRunStopsOnSIGTERM(t *testing.T) {
	cmd, err := ParseCommand([]string{"run", "--stop-grace", "10s"})
	if err != nil {
		t.Fatal(err)
	}
	finished := false
	start := time.Now()
	err = Execute(cmd, func(ctx context.Context) error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			return errors.New("context not cancelled by SIGTERM")
		}
		time.Sleep(20 * time.Millisecond) // finish the running job
		finished = true
		return ctx.Err()
	}, nil)
	if err != nil {
		t.Fatalf("Execute(run) = %v, want a clean stop", err)
	}
	if !finished {
		t.Fatal("Execute returned before the worker loop did")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stop took %v", d)
	}
}

func TestDebugStopsOnSIGINTAndSecondSignalForces(t *testing.T) {
	cmd, err := ParseCommand([]string{"debug", "--stop-grace", "1m"})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	err = Execute(cmd, func(ctx context.Context) error {
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM) // impatient operator
		<-release                                      // a job that will not end
		return nil
	}, nil)
	if !errors.Is(err, ErrForcedStop) {
		t.Fatalf("Execute(debug) = %v, want ErrForcedStop", err)
	}
}

func TestRunGraceExpires(t *testing.T) {
	cmd, err := ParseCommand([]string{"run", "--stop-grace", "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	err = Execute(cmd, func(ctx context.Context) error {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-release
		return nil
	}, nil)
	if !errors.Is(err, ErrStopTimeout) {
		t.Fatalf("Execute(run) = %v, want ErrStopTimeout", err)
	}
}

func TestServiceVerbsNeedWindows(t *testing.T) {
	for _, args := range [][]string{{"install"}, {"remove"}, {"start"}, {"stop", "--wait", "5"}} {
		cmd, err := ParseCommand(args)
		if err != nil {
			t.Fatal(err)
		}
		err = Execute(cmd, nil, nil)
		var pe *PlatformError
		if !errors.Is(err, ErrNeedsWindows) || !errors.As(err, &pe) || pe.Verb != cmd.Verb {
			t.Errorf("Execute(%v) = %v, want a *PlatformError for %s", args, err, cmd.Verb)
		}
	}
}
