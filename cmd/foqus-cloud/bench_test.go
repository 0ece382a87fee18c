package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkThousandJobs times a scripted study against the local stack (the
// fake-job runner, FOQUS_BENCH_WORKERS workers): foqus-cloud submit, watch,
// results; then, when TURB_CLIENT names a turb_client checkout, the same
// with turb_client's scripts (session_create, session_append, session_start,
// session_results polled until every job has a record) on the same stack.
// The run itself is bound by the workers; the client phases are the clients'.
//
//	FOQUS_E2E=1 TURB_CLIENT=/tmp/turb go test -run '^$' -bench ThousandJobs -benchtime 1x ./cmd/foqus-cloud
func BenchmarkThousandJobs(b *testing.B) {
	n, workers := envInt("FOQUS_BENCH_JOBS", 1000), envInt("FOQUS_BENCH_WORKERS", 4)
	// Jobs per append and start, for both clients (turb_client's CSV launcher
	// batches 500; a start of 500 timed out against moto on a loaded machine).
	chunk := envInt("FOQUS_BENCH_CHUNK", 100)
	st := startStack(b, workers)
	dir := b.TempDir()
	cfg := writeFile(b, dir, "turbine.cfg", st.TurbineConfig())
	cli := foqusCloud{t: b, config: cfg}
	const sim = "zzbench"
	cli.ok(0, "simulation", "upload", sim, "--application", "fake-job")
	var ins, jobs []string
	for i := range n {
		in := fmt.Sprintf(`{"x":{"a":%d,"b":2}}`, i)
		ins = append(ins, in)
		jobs = append(jobs, fmt.Sprintf(`{"Simulation":%q,"Application":"fake-job","Input":%s,"Reset":false}`, sim, in))
	}
	inputs := writeFile(b, dir, "inputs.json", "["+strings.Join(ins, ",")+"]")
	for range b.N {
		began := time.Now()
		sid := strings.TrimSpace(cli.ok(0, "session", "submit", sim, inputs, "--chunk", strconv.Itoa(chunk)).stdout)
		submitted := time.Now()
		cli.ok(0, "session", "watch", sid, "--interval", "500ms")
		finished := time.Now()
		cli.ok(0, "session", "results", sid, "-o", filepath.Join(dir, "results.csv"))
		done := time.Now()
		b.Logf("foqus-cloud, %d jobs, %d workers: submit %.1fs, run %.1fs, results %.1fs, total %.1fs (%.1f jobs/s)",
			n, workers, submitted.Sub(began).Seconds(), finished.Sub(submitted).Seconds(), done.Sub(finished).Seconds(),
			done.Sub(began).Seconds(), float64(n)/done.Sub(began).Seconds())
		b.ReportMetric(done.Sub(began).Seconds(), "cli-s")
		b.ReportMetric(submitted.Sub(began).Seconds()+done.Sub(finished).Seconds(), "cli-client-s")
	}

	tc := os.Getenv("TURB_CLIENT")
	if tc == "" {
		b.Log("TURB_CLIENT unset: turb_client not measured")
		return
	}
	py := func(script string, args ...string) string {
		b.Helper()
		cmd := exec.Command("/usr/bin/python3", append([]string{filepath.Join(tc, "scripts", script)}, args...)...)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+tc)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			b.Fatalf("turb_client %s %v: %v\n%s\n%s", script, args, err, out, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	began := time.Now()
	sid := strings.Trim(py("turbine_session_create", cfg), `"`)
	for i := 0; i < n; i += chunk {
		part := writeFile(b, dir, fmt.Sprintf("jobs-%d.json", i), "["+strings.Join(jobs[i:min(i+chunk, n)], ",")+"]")
		py("turbine_session_append", sid, part, cfg)
		py("turbine_session_start", sid, cfg)
	}
	submitted := time.Now()
	records, read, polls := 0, 0, 0
	for records < n {
		if time.Since(submitted) > 30*time.Minute {
			b.Fatalf("turb_client: %d of %d records after 30 min", records, n)
		}
		page, err := strconv.Atoi(py("turbine_session_results", sid, cfg))
		polls++
		if err != nil {
			b.Fatal(err)
		}
		for ; read < page; read++ {
			var recs []json.RawMessage
			if err := json.Unmarshal([]byte(py("turbine_session_results", sid, cfg, "--result", strconv.Itoa(read+1))), &recs); err != nil {
				b.Fatal(err)
			}
			records += len(recs)
		}
		if records < n {
			time.Sleep(500 * time.Millisecond)
		}
	}
	done := time.Now()
	b.Logf("turb_client, %d jobs, %d workers: submit %.1fs, run and results %.1fs (%d polls, %d pages), total %.1fs (%.1f jobs/s)",
		n, workers, submitted.Sub(began).Seconds(), done.Sub(submitted).Seconds(), polls, read, done.Sub(began).Seconds(), float64(n)/done.Sub(began).Seconds())
	b.ReportMetric(done.Sub(began).Seconds(), "turb_client-s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
