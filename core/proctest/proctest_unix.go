//go:build unix

// Package proctest is how tests watch the processes a worker starts: read
// the pids a fake job wrote, and tell whether a pid still runs.
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
)

// WaitPIDs waits until the file at path lists n pids (one a line) and
// returns them.
func WaitPIDs(tb testing.TB, path string, n int, within time.Duration) []int {
	tb.Helper()
	var f []string
	eventually.True(tb, within, fmt.Sprintf("%d pids in %s", n, path), func() bool {
		b, _ := os.ReadFile(path)
		f = strings.Fields(string(b))
		return len(f) == n
	})
	pids := make([]int, n)
	for i, s := range f {
		pids[i], _ = strconv.Atoi(s)
	}
	return pids
}

// Alive reports whether pid runs: it exists and is not a zombie (killed,
// not yet reaped by its parent).
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// WaitGone waits until pid no longer runs.
func WaitGone(tb testing.TB, pid int, within time.Duration) {
	tb.Helper()
	eventually.True(tb, within, fmt.Sprintf("process %d gone", pid), func() bool { return !Alive(pid) })
}
