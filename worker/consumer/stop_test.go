package consumer_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
)

// On stop the worker lets the running job finish within the drain period.
func TestStopLetsTheRunningJobFinish(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := h.startWorker("--drain", "20s")
	k := h.submit(fakeJob(`{"A":{"x":1},"control":{"delay":1.5}}`))[0]
	h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	w.stop(t, 20*time.Second)
	if j := h.waitFinal(k, 10*time.Second); j.State != job.Success || j.Attempts != 1 {
		t.Fatalf("job %+v: want success on the first attempt", j)
	}
	h.waitEmpty(h.JobQueueURL, 5*time.Second)
}

// A job that outlasts the drain period is handed back: lease released and
// message visible at once, so another worker takes it over long before the
// lease would have run out.
func TestStopHandsBackAfterTheDrain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.startWorker("--drain", "500ms", "--lease", "30s")
	k := h.submit(fakeJob(`{"A":{"x":1},"control":{"delay":3}}`))[0]
	h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	stopped := time.Now()
	a.stop(t, 10*time.Second)
	if !strings.Contains(a.out.String(), "job handed back") {
		t.Fatalf("no hand-back in the log:\n%s", a.out.String())
	}
	if j := h.job(k); j.State != job.Running || j.LeaseUntil.After(time.Now()) {
		t.Fatalf("handed-back job %+v: want running with its lease released", j)
	}
	b := h.startWorker("--lease", "30s")
	j := h.waitFinal(k, 20*time.Second)
	if j.State != job.Success || j.Attempts != 2 || time.Since(stopped) > 15*time.Second {
		t.Fatalf("job %+v %v after the stop: want success on the second attempt, well within the 30s lease", j, time.Since(stopped))
	}
	b.stop(t, 10*time.Second)
}

// imdsStandIn serves the instance metadata a worker polls (IMDSv2: token
// first). Nothing is scheduled until a test sets lifecycle or spot.
type imdsStandIn struct {
	lifecycle, spot atomic.Value // string
}

func (m *imdsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
		_, _ = w.Write([]byte("tok"))
		return
	}
	if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "tok" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	var v string
	switch r.URL.Path {
	case "/latest/meta-data/autoscaling/target-lifecycle-state":
		v, _ = m.lifecycle.Load().(string)
	case "/latest/meta-data/spot/instance-action":
		v, _ = m.spot.Load().(string)
	}
	if v == "" {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(v))
}

// A termination notice from instance metadata stops the worker taking jobs:
// the lifecycle hook lets the running job finish, then the worker completes
// the lifecycle action; a spot notice hands the job back at once. Either
// way the worker then idles until the system stops it.
func TestTerminationNotices(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spot  bool
		final job.State
	}{{"lifecycle", false, job.Success}, {"spot", true, job.Running}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			meta := &imdsStandIn{}
			ts := httptest.NewServer(meta)
			defer ts.Close()
			t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ts.URL)
			w := h.startWorker("--imds-poll", "200ms", "--drain", "20s", "--instance", "i-0abc", "--lease", "30s")
			k := h.submit(fakeJob(`{"A":{"x":1},"control":{"delay":1.5}}`))[0]
			h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
			if tc.spot {
				meta.spot.Store(`{"action":"terminate","time":"2026-11-23T12:00:00Z"}`)
			} else {
				meta.lifecycle.Store("Terminated")
			}
			eventually.True(t, 10*time.Second, "the worker stopping taking jobs", func() bool {
				return strings.Contains(w.out.String(), `msg="stopping: no new jobs"`)
			})
			if tc.spot {
				h.waitFor(k, 10*time.Second, "handed back", func(j job.Job) bool { return j.LeaseUntil.Before(time.Now()) })
			} else {
				h.waitFinal(k, 10*time.Second)
			}
			if j := h.job(k); j.State != tc.final {
				t.Fatalf("job after the notice: %s, want %s", j.State, tc.final)
			}
			later := h.submit(fakeJob(`{}`))[0]
			if _, taken := eventually.Within(2*time.Second, func() bool { return h.job(later).State != job.Submit }); taken {
				t.Fatalf("a job submitted after the notice was taken: %s", h.job(later).State)
			}
			w.alive(t) // idle until the system stops it, not restarted by the SCM
			w.stop(t, 10*time.Second)
			_, ops, err := w.requests()
			if err != nil {
				t.Fatal(err)
			}
			// moto 5.2.1 does not implement CompleteLifecycleAction: the call
			// is made but answered with an error, which the worker logs. The
			// launch hook's completion is sent either way (lifecycle_test.go).
			if got := strings.Contains(w.out.String(), "termination lifecycle action"); got == tc.spot {
				t.Fatalf("termination hook completed: %v, want %v (requests %v)", got, !tc.spot, ops)
			}
		})
	}
}
