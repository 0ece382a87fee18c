package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/worker/config"
	"github.com/foqus-cloud/stack/worker/service"
)

func build(t *testing.T, goos string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "foqus-worker")
	if goos == "windows" {
		out += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=%s go build: %v\n%s", goos, err, b)
	}
	return out
}

// The service binary the image installs is a windows/amd64 executable.
func TestBuildsForWindows(t *testing.T) {
	t.Parallel()
	exe := build(t, "windows")
	b, err := os.ReadFile(exe)
	if err != nil || !bytes.HasPrefix(b, []byte("MZ")) {
		t.Fatalf("%s is not a Windows executable (%v)", exe, err)
	}
}

// --help documents every subcommand, service flag and worker setting, from
// anywhere on the command line; bad settings exit 2 before anything starts.
func TestHelpAndUsageErrors(t *testing.T) {
	t.Parallel()
	exe := build(t, "linux")
	var want bytes.Buffer
	service.Usage(&want)
	if err := config.Usage(&want); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--help"}, {"run", "--", "--help"}} {
		out, err := exec.Command(exe, args...).Output()
		if err != nil || string(out) != want.String() {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	for _, args := range [][]string{{"run", "--", "--lease", "soon"}, {"frobnicate"}, {"run", "--", "stray"}} {
		cmd := exec.Command(exe, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var ee *exec.ExitError
		if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "--help") {
			t.Fatalf("%v: %v, stderr %q; want exit 2 pointing at --help", args, err, stderr.String())
		}
	}
}
