package service

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestSuperviseWorkerReturnsOnItsOwn(t *testing.T) {
	boom := errors.New("boom")
	stopped, err := supervise(func(context.Context) error { return boom }, make(chan string), time.Second, supervision{})
	if stopped || !errors.Is(err, boom) {
		t.Fatalf("stopped=%v err=%v, want false, boom", stopped, err)
	}
}

func TestSuperviseStopCancelsAndWaits(t *testing.T) {
	stop := make(chan string, 1)
	var reason string
	var ticks atomic.Int32
	stop <- "stop"
	stopped, err := supervise(func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(30 * time.Millisecond) // the running job finishes
		return ctx.Err()
	}, stop, 5*time.Second, supervision{
		stopping: func(r string) { reason = r },
		waiting:  func() { ticks.Add(1) },
		tick:     5 * time.Millisecond,
	})
	if !stopped || err != nil {
		t.Fatalf("stopped=%v err=%v, want a clean stop (context.Canceled is clean)", stopped, err)
	}
	if reason != "stop" || ticks.Load() == 0 {
		t.Fatalf("reason=%q ticks=%d, want stop and progress ticks while waiting", reason, ticks.Load())
	}
}

func TestSuperviseGraceExpires(t *testing.T) {
	stop := make(chan string, 1)
	stop <- "shutdown"
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	stopped, err := supervise(func(context.Context) error { <-release; return nil }, stop, 50*time.Millisecond, supervision{})
	if !stopped || !errors.Is(err, ErrStopTimeout) {
		t.Fatalf("stopped=%v err=%v, want ErrStopTimeout", stopped, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v for a 50ms grace", d)
	}
}

func TestSuperviseSecondStop(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := func(context.Context) error { <-release; return nil }
	for _, force := range []bool{true, false} {
		stop := make(chan string, 2)
		stop <- "interrupt"
		stop <- "interrupt"
		_, err := supervise(hang, stop, 100*time.Millisecond, supervision{forceOnSecond: force})
		want := ErrStopTimeout // the SCM may repeat Stop: that must not cut the grace short
		if force {
			want = ErrForcedStop
		}
		if !errors.Is(err, want) {
			t.Errorf("force=%v: err=%v, want %v", force, err, want)
		}
	}
}

func TestWorkerErrorIsReturned(t *testing.T) {
	stop := make(chan string, 1)
	stop <- "stop"
	boom := errors.New("hand-back failed")
	_, err := supervise(func(ctx context.Context) error { <-ctx.Done(); return boom }, stop, time.Second, supervision{})
	if !errors.Is(err, boom) {
		t.Fatalf("err=%v, want the worker's error", err)
	}
}

func TestExecuteNeedsWorker(t *testing.T) {
	if err := Execute(Command{Verb: VerbRun}, nil, nil); err == nil {
		t.Fatal("run without a worker loop succeeded")
	}
}

// TestWindowsBuild cross-compiles a program wired like foqus-worker for
// windows/amd64 and vets the package for Windows, so the svc/mgr/eventlog
// code is checked on every `go test`.
func TestWindowsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles for windows/amd64")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), Executable)
	env := append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	for _, args := range [][]string{
		{"build", "-o", out, "./testdata/winservice"},
		{"vet", "."},
	} {
		cmd := exec.Command(goBin, args...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOOS=windows go %v: %v\n%s", args, err, b)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || string(b[:2]) != "MZ" {
		t.Fatalf("%s is not a Windows executable", out)
	}
}
