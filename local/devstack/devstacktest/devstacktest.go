// Package devstacktest starts the whole local stack for a test from the
// repository's synthesized app and built worker (make test builds both;
// FOQUS_E2E=1 makes their absence a failure instead of a skip).
package devstacktest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/local/devstack"
)

// Start starts a stack with two workers and the user alice, changed by edit
// (nil keeps them), and closes it when the test ends.
func Start(tb testing.TB, edit func(*devstack.Options)) *devstack.Stack {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	cdkOut, worker := filepath.Join(root, "cdk.out"), filepath.Join(root, "build", "worker", "foqus-worker")
	for _, p := range []string{filepath.Join(cdkOut, "manifest.json"), worker} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("FOQUS_E2E") != "" {
				tb.Fatalf("%s is missing: run make synth build", p)
			}
			tb.Skipf("%s is missing: run make synth build (or make test)", p)
		}
	}
	o := devstack.Options{
		Stage: "dev", CDKOut: cdkOut, Addr: "127.0.0.1:0", Workers: 2, WorkerBin: worker,
		User: "alice", Password: "alice-password-1", Log: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&o)
	}
	began := time.Now()
	st, err := devstack.Start(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	tb.Logf("local stack up in %.1fs at %s", time.Since(began).Seconds(), st.BaseURL)
	return st
}

// repoRoot is the nearest directory above the working directory (a test's
// is its package's) that holds go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run the tests inside the repository")
		}
		dir = parent
	}
}
