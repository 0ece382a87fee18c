package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// KillWait bounds how long a run waits, after killing its process tree, for
// the pipes of processes that escaped the tree to close.
const KillWait = 5 * time.Second

// StopFile is the file a run's child is asked to stop through before its
// tree is killed: a file works the same for a service on Windows (which has
// no console to send Ctrl+Break through) and on Unix.
const StopFile = "stop"

// ExitError: the runner's process failed. Its message names the program,
// never its path or what it wrote: Stderr is for the worker's log.
type ExitError struct {
	Program string
	Code    int    // -1 when it died by a signal
	Stderr  string // the end of what it wrote to stderr
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited with status %d", e.Program, e.Code)
}

// KilledError: the run was ended from outside (timeout, kill, hand-back)
// and its whole process tree was killed. Cause is context.Cause of the run.
type KilledError struct {
	Program string
	Cause   error
}

func (e *KilledError) Error() string { return fmt.Sprintf("%s killed: %v", e.Program, e.Cause) }
func (e *KilledError) Unwrap() error { return e.Cause }

// child is a process to run as one tree.
type child struct {
	cmd     *exec.Cmd
	program string // what messages call it
	log     io.Writer
	// grace is how long the child has, once StopFile is written into
	// stopDir, to end by itself before its tree is killed (0: killed at once).
	grace   time.Duration
	stopDir string
}

// runTree runs c until it exits or ctx is done. The process and everything
// it starts form one tree (a process group on Unix, a job object on
// Windows); the tree is killed when ctx is done (after the grace period),
// and also after a normal exit, so no stray child outlives its job.
func runTree(ctx context.Context, c child) error {
	cmd := c.cmd
	tail := &tailBuffer{max: 2 << 10}
	cmd.Stdout = c.log
	cmd.Stderr = io.MultiWriter(c.log, tail)
	cmd.WaitDelay = KillWait
	prepareTree(cmd)
	tree, err := startTree(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.program, err)
	}
	defer tree.close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
		_ = tree.kill() // stragglers of a finished run
	case <-ctx.Done():
		if c.grace > 0 && os.WriteFile(filepath.Join(c.stopDir, StopFile), nil, 0o600) == nil {
			select {
			case <-done:
				_ = tree.kill()
				return &KilledError{Program: c.program, Cause: context.Cause(ctx)}
			case <-time.After(c.grace):
			}
		}
		kerr := tree.kill()
		<-done //nolint:errcheck // a killed process's exit status says nothing more
		if kerr != nil {
			return fmt.Errorf("kill %s: %w (after: %w)", c.program, kerr, context.Cause(ctx))
		}
		return &KilledError{Program: c.program, Cause: context.Cause(ctx)}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Program: c.program, Code: ee.ExitCode(), Stderr: tail.String()}
	}
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(bytes.ToValidUTF8(t.buf, nil)))
}

// openLog creates the run's log file in its work directory.
func openLog(dir, name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("create run log: %w", err)
	}
	return f, nil
}
