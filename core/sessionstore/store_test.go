package sessionstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// newStore gives a fresh stack and a store on it whose requests are counted.
func newStore(t testing.TB) (*sessionstore.Store, *awsconf.Counter) {
	st := srv.Stack(t)
	cfg := st.Config.Copy()
	c := &awsconf.Counter{}
	c.Attach(&cfg)
	return sessionstore.New(dynamodb.NewFromConfig(cfg), st.ResourcesTable), c
}

func newJobs(n int) []sessionstore.NewJob {
	out := make([]sessionstore.NewJob, n)
	for i := range out {
		out[i] = sessionstore.NewJob{Simulation: "zzfoqus_demo", Input: []byte(fmt.Sprintf(`{"x":{"a":%d},"graph":{}}`, i))}
	}
	return out
}

func appendSubmitted(t testing.TB, st *sessionstore.Store, user, sid string, n int) []job.Job {
	t.Helper()
	ctx := context.Background()
	jobs, err := st.Append(ctx, user, sid, newJobs(n))
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]job.Key, len(jobs))
	for i, j := range jobs {
		keys[i] = j.Key()
	}
	if done, err := st.TransitionMany(ctx, keys, job.Submit); err != nil || len(done) != n {
		t.Fatalf("submit: %d of %d, %v", len(done), n, err)
	}
	return jobs
}

func TestAppendKeepsOrderAndDefaults(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	a, err := st.Append(ctx, "alice", sid, newJobs(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Append(ctx, "alice", sid, newJobs(2))
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.Jobs(ctx, "alice", sid)
	if err != nil {
		t.Fatal(err)
	}
	want := append(a, b...)
	if len(all) != 5 {
		t.Fatalf("session has %d jobs, want 5", len(all))
	}
	for i := range want {
		if all[i].ID != want[i].ID || all[i].Seq != int64(i) || all[i].State != job.Create || all[i].Application != job.AppFOQUS {
			t.Fatalf("job %d = %+v, want id %s seq %d in create with app foqus", i, all[i], want[i].ID, i)
		}
	}
	var in map[string]any
	if err := json.Unmarshal(all[4].Input, &in); err != nil || in["x"].(map[string]any)["a"] != float64(1) {
		t.Fatalf("input not kept verbatim: %s", all[4].Input)
	}
	if _, err := st.Append(ctx, "alice", "../etc", newJobs(1)); err == nil {
		t.Fatal("a session id that is not a UUID was accepted")
	}
}

// A 2,500-job session lists completely through many pages; another user sees none of it.
func TestSessionOf2500JobsPaginates(t *testing.T) {
	t.Parallel()
	st, calls := newStore(t)
	st.PageLimit = 100
	ctx := context.Background()
	sid := uuid.NewString()
	for i := 0; i < 5; i++ {
		if _, err := st.Append(ctx, "alice", sid, newJobs(500)); err != nil {
			t.Fatal(err)
		}
	}
	calls.Reset()
	jobs, err := st.Jobs(ctx, "alice", sid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, j := range jobs {
		if j.Seq != int64(i) || seen[j.ID] {
			t.Fatalf("job %d: seq %d, duplicate %v", i, j.Seq, seen[j.ID])
		}
		seen[j.ID] = true
	}
	if len(jobs) != 2500 {
		t.Fatalf("listed %d jobs, want 2500", len(jobs))
	}
	if q := calls.Snapshot(); len(q) != 1 || q[0].Count < 25 {
		t.Fatalf("want at least 25 paginated Query calls, got %v", q)
	}
	if other, err := st.Jobs(ctx, "bob", sid); err != nil || len(other) != 0 {
		t.Fatalf("bob sees %d of alice's jobs (err %v)", len(other), err)
	}
	for s, err := range st.Sessions(ctx, "bob") {
		t.Fatalf("bob lists a session: %v %v", s, err)
	}
	if _, err := st.GetSession(ctx, "bob", sid); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("bob reads alice's session: %v", err)
	}
	n := 0
	for s, err := range st.Sessions(ctx, "alice") {
		if err != nil || s.ID != sid || s.Jobs != 2500 {
			t.Fatalf("alice's session %+v, %v", s, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("alice has %d sessions, want 1", n)
	}
}

// 50 goroutines race to end the same job with different outcomes: one wins,
// the others are told it is already final, and the winner's record stays.
func TestFinishRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	j := appendSubmitted(t, st, "alice", sid, 1)[0]
	outcomes := []job.State{job.Success, job.Error, job.Terminate, job.Expired, job.Invalid}
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Finish(ctx, j.Key(), sessionstore.Finish{State: outcomes[i%len(outcomes)], Message: fmt.Sprint("racer ", i)})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, job.ErrAlreadyFinal) && !errors.Is(err, job.ErrDuplicate):
			t.Fatalf("racer %d: %v, want already final", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	got, err := st.GetJob(ctx, j.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got.State != outcomes[winner%len(outcomes)] || got.Message != fmt.Sprint("racer ", winner) || got.FinishSeq < 1 {
		t.Fatalf("stored %s %q seq %d, want the winner's %s %q with a finish number", got.State, got.Message, got.FinishSeq, outcomes[winner%len(outcomes)], fmt.Sprint("racer ", winner))
	}
	gen := uuid.NewString()
	p, err := st.CreatePage(ctx, "alice", sid, gen, 100)
	if err != nil || p != 1 {
		t.Fatalf("result page after the race: %d, %v", p, err)
	}
	page, err := st.Page(ctx, "alice", sid, gen, 1)
	if err != nil || len(page) != 1 || page[0].ID != j.ID || page[0].State != got.State {
		t.Fatalf("result page holds %+v (%v), want the one winning record", page, err)
	}
}

func TestTransitionsRefuseDuplicatesAndRegressions(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	j := appendSubmitted(t, st, "alice", uuid.NewString(), 1)[0]
	if _, err := st.Transition(ctx, j.Key(), job.Submit, sessionstore.Change{}); !errors.Is(err, job.ErrDuplicate) {
		t.Fatalf("second submit: %v, want duplicate", err)
	}
	if _, err := st.Claim(ctx, j.Key(), "c1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Transition(ctx, j.Key(), job.Running, sessionstore.Change{Consumer: "c2"}); err == nil {
		t.Fatal("another consumer moved a held job")
	}
	if _, err := st.Transition(ctx, j.Key(), job.Running, sessionstore.Change{Consumer: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Transition(ctx, j.Key(), job.Setup, sessionstore.Change{}); !errors.Is(err, job.ErrOutOfOrder) {
		t.Fatalf("setup after running: %v, want out of order", err)
	}
	if _, err := st.Transition(ctx, job.Key{User: "alice", Session: j.Session, ID: uuid.NewString()}, job.Submit, sessionstore.Change{}); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("unknown job: %v, want not found", err)
	}
}

func TestClaimLeaseAndTakeover(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	j := appendSubmitted(t, st, "alice", uuid.NewString(), 1)[0]
	got, err := st.Claim(ctx, j.Key(), "c1", time.Minute)
	if err != nil || got.State != job.Setup || got.Consumer != "c1" || got.Attempts != 1 {
		t.Fatalf("claim: %+v, %v", got, err)
	}
	var held *sessionstore.HeldError
	if _, err := st.Claim(ctx, j.Key(), "c2", time.Minute); !errors.As(err, &held) || held.Consumer != "c1" {
		t.Fatalf("claim of a held job: %v, want held by c1", err)
	}
	if err := st.Release(ctx, j.Key(), "c1"); err != nil {
		t.Fatal(err)
	}
	got, err = st.Claim(ctx, j.Key(), "c2", time.Minute)
	if err != nil || got.Consumer != "c2" || got.Attempts != 2 {
		t.Fatalf("takeover after release: %+v, %v", got, err)
	}
	if _, err := st.ExtendLease(ctx, j.Key(), "c1", time.Now().Add(time.Minute)); !errors.As(err, &held) {
		t.Fatalf("old holder extends: %v, want held", err)
	}
	if _, err := st.Finish(ctx, j.Key(), sessionstore.Finish{State: job.Terminate, Message: "killed"}); err != nil {
		t.Fatal(err)
	}
	_, err = st.ExtendLease(ctx, j.Key(), "c2", time.Now().Add(time.Minute))
	var te *job.TransitionError
	if !errors.As(err, &te) || te.From != job.Terminate {
		t.Fatalf("extend after kill: %v, want a refusal from terminate", err)
	}
	if _, err := st.Claim(ctx, j.Key(), "c3", time.Minute); !errors.Is(err, job.ErrAlreadyFinal) {
		t.Fatalf("claim of a final job: %v", err)
	}
}

func TestStartLeaseAndPending(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	if err := st.AcquireStart(ctx, "alice", sid, time.Minute); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("start of a missing session: %v", err)
	}
	jobs, err := st.Append(ctx, "alice", sid, newJobs(30))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AcquireStart(ctx, "alice", sid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.AcquireStart(ctx, "alice", sid, time.Minute); !errors.Is(err, sessionstore.ErrStartBusy) {
		t.Fatalf("second start: %v, want busy", err)
	}
	var keys []job.Key
	for j, err := range st.Pending(ctx, "alice", sid) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, j.Key())
	}
	if len(keys) != 30 || keys[0].ID != jobs[0].ID || keys[29].ID != jobs[29].ID {
		t.Fatalf("pending lists %d jobs out of order", len(keys))
	}
	if _, err := st.FinishMany(ctx, "alice", sid, []sessionstore.Finish{{ID: jobs[3].ID, State: job.Terminate}}); err != nil {
		t.Fatal(err)
	}
	done, err := st.TransitionMany(ctx, keys, job.Submit)
	if err != nil || len(done) != 29 {
		t.Fatalf("submitted %d, want 29 (one was killed): %v", len(done), err)
	}
	if err := st.MarkQueued(ctx, done[:10]); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range st.Pending(ctx, "alice", sid) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 19 {
		t.Fatalf("%d pending after 10 queued and 1 killed, want 19", n)
	}
	if err := st.ReleaseStart(ctx, "alice", sid); err != nil {
		t.Fatal(err)
	}
	if err := st.AcquireStart(ctx, "alice", sid, time.Minute); err != nil {
		t.Fatalf("start after release: %v", err)
	}
}

// Two generators each page through every finished job; pages are not consumed.
func TestResultPagesPerGenerator(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "alice", sid, 250)
	g1, g2 := uuid.NewString(), uuid.NewString()
	if p, err := st.CreatePage(ctx, "alice", sid, g1, 100); err != nil || p != 0 {
		t.Fatalf("page before any finish: %d, %v", p, err)
	}
	finish := func(js []job.Job) {
		fs := make([]sessionstore.Finish, len(js))
		for i, j := range js {
			fs[i] = sessionstore.Finish{ID: j.ID, State: job.Success, Output: []byte(`{"graphError":0}`)}
		}
		res, err := st.FinishMany(ctx, "alice", sid, fs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	finish(jobs[:150])
	read := func(gen string, seen map[string]int) {
		for {
			last, err := st.CreatePage(ctx, "alice", sid, gen, 100)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := seen[fmt.Sprint("page", last)]; ok || last == 0 {
				return
			}
			seen[fmt.Sprint("page", last)] = 1
			page, err := st.Page(ctx, "alice", sid, gen, last)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				seen[j.ID]++
				if j.State != job.Success || string(j.Output) != `{"graphError":0}` {
					t.Fatalf("record %+v", j)
				}
			}
		}
	}
	s1, s2 := map[string]int{}, map[string]int{}
	read(g1, s1)
	finish(jobs[150:])
	read(g1, s1)
	read(g2, s2)
	for _, seen := range []map[string]int{s1, s2} {
		for _, j := range jobs {
			if seen[j.ID] != 1 {
				t.Fatalf("job %s seen %d times, want once", j.ID, seen[j.ID])
			}
		}
	}
	if _, err := st.Page(ctx, "alice", sid, g1, 99); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("missing page: %v", err)
	}
	if _, err := st.Page(ctx, "bob", sid, g1, 1); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("bob reads alice's page: %v", err)
	}
	again, err := st.Page(ctx, "alice", sid, g1, 1)
	if err != nil || len(again) != 100 {
		t.Fatalf("page 1 read again: %d records, %v", len(again), err)
	}
}

// Kill-sized batches: 250 jobs end in one call, numbered 1..250 without gaps.
func TestFinishManyNumbersWithoutGaps(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "alice", sid, 250)
	fs := make([]sessionstore.Finish, len(jobs))
	for i, j := range jobs {
		fs[i] = sessionstore.Finish{ID: j.ID, State: job.Terminate, Message: "killed by user"}
	}
	res, err := st.FinishMany(ctx, "alice", sid, fs)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]bool{}
	for _, r := range res {
		if r.Err != nil || r.Seq < 1 || r.Seq > 250 || seqs[r.Seq] {
			t.Fatalf("result %+v", r)
		}
		seqs[r.Seq] = true
	}
	if len(seqs) != 250 {
		t.Fatalf("%d sequence numbers, want 250", len(seqs))
	}
	res, err = st.FinishMany(ctx, "alice", sid, fs[:3])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !errors.Is(r.Err, job.ErrDuplicate) {
			t.Fatalf("second kill of %s: %v, want duplicate", r.ID, r.Err)
		}
	}
}
