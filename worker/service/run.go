package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Worker is the worker's main loop. It runs until ctx is cancelled, then
// stops taking jobs, lets the running job finish or hands it back, and
// returns. A nil or context.Canceled return after cancellation is a clean stop.
type Worker func(ctx context.Context) error

// ErrNeedsWindows is matched (errors.Is) by the error install, remove,
// start and stop return on systems other than Windows.
var ErrNeedsWindows = errors.New("needs Windows")

// PlatformError says a subcommand needs Windows.
type PlatformError struct {
	Verb Verb
	GOOS string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("foqus-worker %s manages the Windows service %s and needs Windows (this is %s); use `foqus-worker run` here", e.Verb, Name, e.GOOS)
}

// Is makes errors.Is(err, ErrNeedsWindows) true.
func (e *PlatformError) Is(target error) bool { return target == ErrNeedsWindows }

// ErrStopTimeout: the worker loop did not return within the stop grace period.
var ErrStopTimeout = errors.New("worker did not stop within the grace period")

// ErrForcedStop: a second interrupt in the console ended the wait early.
var ErrForcedStop = errors.New("worker stop forced by a second signal")

// stopWaitTick is how often a stop in progress reports that it is alive
// (the SCM's checkpoint).
const stopWaitTick = 5 * time.Second

// supervision is what supervise reports to its host (console or SCM).
type supervision struct {
	// stopping is called once when a stop request arrives.
	stopping func(reason string)
	// waiting is called every tick while the loop winds down.
	waiting func()
	tick    time.Duration
	// forceOnSecond ends the wait at the second stop request (console Ctrl+C twice).
	forceOnSecond bool
}

// supervise runs w until it returns or a stop request arrives on stop; then
// it cancels w's context and waits up to grace for w to return.
func supervise(w Worker, stop <-chan string, grace time.Duration, sv supervision) (stopped bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w(ctx) }()

	select {
	case err := <-done:
		return false, err
	case reason := <-stop:
		if sv.stopping != nil {
			sv.stopping(reason)
		}
	}
	cancel()
	if sv.tick <= 0 {
		sv.tick = stopWaitTick
	}
	ticker := time.NewTicker(sv.tick)
	defer ticker.Stop()
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for {
		select {
		case err := <-done:
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return true, err
		case <-deadline.C:
			return true, fmt.Errorf("%w (%v)", ErrStopTimeout, grace)
		case <-ticker.C:
			if sv.waiting != nil {
				sv.waiting()
			}
		case reason := <-stop:
			if sv.forceOnSecond {
				return true, fmt.Errorf("%w (%s)", ErrForcedStop, reason)
			}
		}
	}
}

// stopSignals are the signals that stop the worker in the console.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// runConsole runs w in the foreground; SIGINT/SIGTERM stop it gracefully
// and a second one forces the exit.
func runConsole(w Worker, opts RunOptions, log *slog.Logger) error {
	opts = opts.withDefaults()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	stop := make(chan string)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case s := <-sigs:
				select {
				case stop <- s.String():
				case <-quit:
					return
				}
			case <-quit:
				return
			}
		}
	}()
	return consoleSupervise(w, stop, opts.StopGrace, log)
}

func consoleSupervise(w Worker, stop <-chan string, grace time.Duration, log *slog.Logger) error {
	_, err := supervise(w, stop, grace, supervision{
		stopping: func(reason string) {
			log.Info("stopping worker", "reason", reason, "grace", grace)
		},
		waiting: func() { log.Info("waiting for the running job to finish or be handed back") },
		tick:    stopWaitTick, forceOnSecond: true,
	})
	return err
}

// Execute carries out cmd: install, remove, start and stop manage the
// Windows service (elsewhere they return a *PlatformError); run runs w as
// the service when the SCM started the process and in the console otherwise;
// debug runs the service handler in the console on Windows and is run
// elsewhere. Lifecycle messages go to log in the console and to the
// Application event log as a service.
func Execute(cmd Command, w Worker, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	switch cmd.Verb {
	case VerbRun, VerbDebug:
		if w == nil {
			return errors.New("foqus-worker: no worker loop given")
		}
	}
	return execute(cmd, w, log)
}
