package devstack_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/syncbuf"
	"github.com/foqus-cloud/stack/local/devstack"
)

// A worker that crashes twice is restarted each time (and the restart is
// logged), and every job still finishes once.
func TestWorkerCrashesTwiceJobsStillFinish(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	st := startStackWith(t, func(o *devstack.Options) { o.Workers = 1; o.Log = slogTo(&logs) })
	alice := &client{t: t, base: st.BaseURL, user: st.User, pass: st.Password}
	alice.uploadSimulation("zzfoqus_heal")
	sid, ids := alice.runSession("zzfoqus_heal", inputs(4, map[string]any{"delay": 1.0}))
	for crash := 1; crash <= 2; crash++ {
		var victim *exec.Cmd
		eventually.True(t, time.Minute, "a worker running", func() bool {
			w := st.Workers()
			if len(w) == 1 {
				victim = w[0]
			}
			return victim != nil
		})
		if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, time.Minute, fmt.Sprintf("restarted after crash %d", crash), func() bool {
			return st.Restarts() >= crash && len(st.Workers()) == 1 && st.Workers()[0] != victim
		})
	}
	recs := alice.results(sid, ids, 3*time.Minute)
	for _, r := range recs {
		if r.State != "success" {
			t.Fatalf("after two worker crashes: %+v", r)
		}
	}
	if n := strings.Count(logs.String(), "worker exited; restarting"); n < 2 {
		t.Fatalf("%d restarts logged, want 2:\n%s", n, logs.String())
	}
}

// kill -9 of make dev's process group leaves no moto or worker behind: they
// die with the stack's process, and nothing answers on the emulator's port.
func TestKilledStackLeavesNoOrphans(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	cdkOut, worker := filepath.Join(root, "cdk.out"), filepath.Join(root, "build", "worker", "foqus-worker")
	if _, err := os.Stat(worker); err != nil {
		t.Skipf("%s is missing: run make build", worker)
	}
	bin := filepath.Join(t.TempDir(), "foqus-local")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/foqus-local").CombinedOutput(); err != nil {
		t.Fatalf("build foqus-local: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "dev", "turbine.cfg")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[Authentication]\nusername = stale\n"), 0o400); err != nil { // a killed run's left-over
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-workers", "2", "-cdk-out", cdkOut, "-worker", worker, "-turbine-cfg", cfg)
	cmd.Env = append(os.Environ(), "DEV_PASSWORD=fixed-dev-password")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make's process group
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	var endpoint string
	lines := bufio.NewScanner(out)
	for endpoint == "" && lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) >= 3 && f[0] == "AWS" && f[1] == "emulator" {
			endpoint = f[2]
		}
	}
	if endpoint == "" {
		t.Fatal("foqus-local did not print its emulator endpoint")
	}
	go func() { // keep draining stdout
		for lines.Scan() {
		}
	}()
	if b, err := os.ReadFile(cfg); err != nil || !bytes.Contains(b, []byte("password = fixed-dev-password")) {
		t.Fatalf("turbine.cfg after a stale one: %q, %v; want DEV_PASSWORD's password", b, err)
	}
	var children []int
	eventually.True(t, time.Minute, "moto and two workers running", func() bool {
		children = childrenOf(cmd.Process.Pid)
		return len(children) >= 3
	})
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	eventually.True(t, 30*time.Second, fmt.Sprintf("children %v gone", children), func() bool {
		for _, pid := range children {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	if resp, err := http.Get(endpoint + "/moto-api/"); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("moto still answers on %s after its stack was killed", endpoint)
	}
}

// childrenOf lists the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _ := stat(p); ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, state := stat(pid)
	return state != "" && state != "Z" && state != "X"
}

// stat reads a process's parent and state from /proc/<pid>/stat.
func stat(pid int) (ppid int, state string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // after "pid (comm)"
	if len(f) < 2 {
		return 0, ""
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0]
}
