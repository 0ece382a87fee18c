package devstack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/syncbuf"
	"github.com/foqus-cloud/stack/local/devstack"
)

var workerTotal = regexp.MustCompile(`msg="aws requests" total=(\d+)`)

// BenchmarkEndToEnd runs zero-duration fake-job jobs through the whole local
// stack as the FOQUS client does (append 20 at a time, start, poll result
// pages) and reports the warm start-up time, end-to-end jobs/s, and AWS
// requests and Lambda invocations per job, per component.
func BenchmarkEndToEnd(b *testing.B) {
	const jobs = 100
	root, _ := filepath.Abs("../..")
	for range b.N {
		var wlog syncbuf.Buffer
		began := time.Now()
		st, err := devstack.Start(context.Background(), devstack.Options{
			Stage: "dev", CDKOut: filepath.Join(root, "cdk.out"), Addr: "127.0.0.1:0", Workers: 2,
			WorkerBin: filepath.Join(root, "build", "worker", "foqus-worker"), User: "alice", Password: "alice-password-1", WorkerLog: &wlog,
		})
		if err != nil {
			b.Fatal(err)
		}
		startup := time.Since(began)
		c := &client{t: b, base: st.BaseURL, user: st.User, pass: st.Password}
		began = time.Now()
		sid, ids := c.runSession("zzfoqus_bench", inputs(jobs, nil))
		c.results(sid, ids, 5*time.Minute)
		elapsed := time.Since(began)
		usage := st.Usage()
		st.StopWorkers()
		st.Close()
		workers := 0
		for _, m := range workerTotal.FindAllStringSubmatch(wlog.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			workers += n
		}
		if workers == 0 {
			b.Fatal("the workers reported no request count")
		}
		lambda, calls := 0, 0
		var lines []string
		for fn, n := range usage.Requests {
			lambda += n
			lines = append(lines, fmtLine(fn, n, usage.Invocations[fn], jobs))
		}
		for fn, n := range usage.Invocations {
			calls += n
			if usage.Requests[fn] == 0 {
				lines = append(lines, fmtLine(fn, 0, n, jobs))
			}
		}
		sort.Strings(lines)
		b.Logf("per job (%d jobs): component  AWS requests  invocations\n%s\n  %-28s %6.2f\n  %-28s %6.2f %6.2f",
			jobs, strings.Join(lines, "\n"), "workers (2 processes)", float64(workers)/jobs, "all", float64(lambda+workers)/jobs, float64(calls)/jobs)
		b.ReportMetric(startup.Seconds(), "startup-s")
		b.ReportMetric(jobs/elapsed.Seconds(), "jobs/s")
		b.ReportMetric(float64(lambda+workers)/jobs, "requests/job")
		b.ReportMetric(float64(lambda)/jobs, "lambda-requests/job")
		b.ReportMetric(float64(workers)/jobs, "worker-requests/job")
		b.ReportMetric(float64(calls)/jobs, "invocations/job")
	}
}

func fmtLine(fn string, requests, invocations, jobs int) string {
	return fmt.Sprintf("  %-28s %6.2f %6.2f", fn, float64(requests)/float64(jobs), float64(invocations)/float64(jobs))
}
