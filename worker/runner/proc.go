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

// ExitError: the runner's process failed.
type ExitError struct {
	Command string
	Code    int    // -1 when it died by a signal
	Stderr  string // the end of what it wrote to stderr
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Command, e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// KilledError: the run was ended from outside (timeout, kill, hand-back)
// and its whole process tree was killed. Cause is context.Cause of the run.
type KilledError struct {
	Command string
	Cause   error
}

func (e *KilledError) Error() string { return fmt.Sprintf("%s killed: %v", e.Command, e.Cause) }
func (e *KilledError) Unwrap() error { return e.Cause }

// runTree runs cmd, logging its output to log, until it exits or ctx is done.
// The process and everything it starts form one tree (a process group on
// Unix, a job object on Windows); the tree is killed when ctx is done, and
// also after a normal exit, so no stray child outlives its job.
func runTree(ctx context.Context, cmd *exec.Cmd, log io.Writer) error {
	name := cmd.Args[0]
	tail := &tailBuffer{max: 2 << 10}
	cmd.Stdout = log
	cmd.Stderr = io.MultiWriter(log, tail)
	cmd.WaitDelay = KillWait
	prepareTree(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	tree, err := attachTree(cmd.Process)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer tree.close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
		_ = tree.kill() // stragglers of a finished run
	case <-ctx.Done():
		kerr := tree.kill()
		<-done //nolint:errcheck // a killed process's exit status says nothing more
		if kerr != nil {
			return fmt.Errorf("kill %s: %w (after: %w)", name, kerr, context.Cause(ctx))
		}
		return &KilledError{Command: name, Cause: context.Cause(ctx)}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Command: name, Code: ee.ExitCode(), Stderr: tail.String()}
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
