//go:build unix

package consumer_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/proctest"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/worker/runner"
)

// The worker is SIGKILLed mid-job: once its lease and the message's
// visibility run out, the job is delivered again, another worker takes it
// over and it finishes exactly once.
func TestSIGKILLMidJobFinishesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.startWorker()
	k := h.submit(fakeJob(`{"A":{"x":7},"control":{"delay":3}}`))[0]
	first := h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	// Past the first lease extension: the kill hits a job whose lease was renewed.
	eventually.True(t, 10*time.Second, "the job's lease extended", func() bool { return h.job(k).LeaseUntil.After(first.LeaseUntil) })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done

	b := h.startWorker()
	j := h.waitFinal(k, 30*time.Second)
	if j.State != job.Success || j.Attempts != 2 || j.Consumer == first.Consumer || j.FinishSeq != 1 {
		t.Fatalf("job %+v: want success on the second attempt by another consumer, finished once", j)
	}
	h.waitEmpty(h.JobQueueURL, 10*time.Second)
	s, err := h.store.GetSession(context.Background(), k.User, k.Session)
	if err != nil || s.Finished != 1 {
		t.Fatalf("session finished count %d (%v), want 1", s.Finished, err)
	}
	if ev := h.eventsOf(k.ID); len(ev) != 1 {
		t.Fatalf("%d terminal events, want 1: %+v", len(ev), ev)
	}
	b.stop(t, 10*time.Second)
}

// Killed while running (the API finishes it as terminate): the worker
// notices at its next lease extension, kills the runner's whole process tree
// within 15 s, publishes nothing, deletes the message and goes on.
func TestKillDuringRunEndsTheProcessTree(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := h.startWorker()
	k := h.submit(fakeJob(`{"control":{"hang":true,"spawn":true}}`))[0]
	pids := proctest.WaitPIDs(t, filepath.Join(w.dir, k.ID, "1", runner.FakeJobPIDs), 2, 20*time.Second)
	for _, pid := range pids {
		if !proctest.Alive(pid) {
			t.Fatalf("runner process %d not running before the kill", pid)
		}
	}
	res, err := h.store.FinishMany(context.Background(), k.User, k.Session, []sessionstore.Finish{{ID: k.ID, State: job.Terminate, Message: "user initiated kill session"}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("kill: %v %+v", err, res)
	}
	took := eventually.True(t, 15*time.Second, "the runner's process tree ended after the kill", func() bool {
		return !proctest.Alive(pids[0]) && !proctest.Alive(pids[1])
	})
	t.Logf("process tree ended %v after the kill", took.Round(time.Millisecond))
	h.waitEmpty(h.JobQueueURL, 10*time.Second)
	if j := h.job(k); j.State != job.Terminate || j.FinishSeq != 1 {
		t.Fatalf("killed job %+v, want it to stay terminate", j)
	}
	if ev := h.eventsOf(k.ID); len(ev) != 0 {
		t.Fatalf("events for a killed job: %+v", ev)
	}
	next := h.submit(fakeJob(`{"A":{"x":1}}`))[0]
	if j := h.waitFinal(next, 20*time.Second); j.State != job.Success {
		t.Fatalf("job after the kill: %+v", j)
	}
	w.stop(t, 10*time.Second)
}

// A job whose runs keep dying with their worker ends as error once its
// attempts are used up, instead of looping until its message dead-letters.
func TestCrashLoopEndsAsError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.startWorker("--max-attempts", "1")
	k := h.submit(fakeJob(`{"control":{"delay":5}}`))[0]
	h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	b := h.startWorker("--max-attempts", "1")
	j := h.waitFinal(k, 30*time.Second)
	if j.State != job.Error || j.Message != "abandoned after 1 attempts without a result (the worker crashed, was killed or stopped)" {
		t.Fatalf("job %s %q, want abandoned", j.State, j.Message)
	}
	h.waitEmpty(h.JobQueueURL, 10*time.Second)
	if strings.Contains(b.out.String(), `msg="job running"`) {
		t.Fatal("the second worker ran the job again")
	}
	b.stop(t, 10*time.Second)
}
