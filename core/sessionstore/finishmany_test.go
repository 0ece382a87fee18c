package sessionstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// A kill of a partly finished session: two FinishMany calls over the same 32
// jobs run at once, a third of which had already ended and two of which do not
// exist. Each job ends once, each refusal says why, and (under -race) the
// goroutines of one call share no error variable.
func TestFinishManyConcurrentWithMixedRefusals(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "alice", sid, 30)
	done := map[string]bool{}
	var early []sessionstore.Finish
	for i := 0; i < len(jobs); i += 3 {
		early = append(early, sessionstore.Finish{ID: jobs[i].ID, State: job.Success})
		done[jobs[i].ID] = true
	}
	if _, err := st.FinishMany(ctx, "alice", sid, early); err != nil {
		t.Fatal(err)
	}
	missing := map[string]bool{uuid.NewString(): true, uuid.NewString(): true}
	var fs []sessionstore.Finish
	for _, j := range jobs {
		fs = append(fs, sessionstore.Finish{ID: j.ID, State: job.Terminate, Message: "killed by user"})
	}
	for id := range missing {
		fs = append(fs, sessionstore.Finish{ID: id, State: job.Terminate})
	}
	if len(fs) != 32 {
		t.Fatalf("%d finishes, want 32", len(fs))
	}
	var wg sync.WaitGroup
	res := make([][]sessionstore.FinishResult, 2)
	errs := make([]error, 2)
	for c := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[c], errs[c] = st.FinishMany(ctx, "alice", sid, fs)
		}()
	}
	wg.Wait()
	won := map[string]int{}
	for c := range res {
		if errs[c] != nil {
			t.Fatalf("call %d: %v", c, errs[c])
		}
		if len(res[c]) != len(fs) {
			t.Fatalf("call %d: %d results, want %d", c, len(res[c]), len(fs))
		}
		for i, r := range res[c] {
			id := fs[i].ID
			switch {
			case r.ID != id:
				t.Fatalf("call %d result %d is for %s, want %s", c, i, r.ID, id)
			case missing[id]:
				if !errors.Is(r.Err, sessionstore.ErrNotFound) {
					t.Fatalf("job %s that does not exist: %v, want not found", id, r.Err)
				}
			case done[id]:
				if !errors.Is(r.Err, job.ErrAlreadyFinal) {
					t.Fatalf("job %s that had succeeded: %v, want already final", id, r.Err)
				}
			case r.Err == nil:
				won[id]++
			case !errors.Is(r.Err, job.ErrDuplicate):
				t.Fatalf("job %s lost the race with %v, want duplicate", id, r.Err)
			}
		}
	}
	for _, j := range jobs {
		if !done[j.ID] && won[j.ID] != 1 {
			t.Fatalf("job %s ended %d times, want once", j.ID, won[j.ID])
		}
	}
	all, err := st.Jobs(ctx, "alice", sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range all {
		want := job.Terminate
		if done[j.ID] {
			want = job.Success
		}
		if j.State != want {
			t.Fatalf("job %s is %s, want %s", j.ID, j.State, want)
		}
	}
}

// A bad key anywhere in a batch refuses the whole batch before any write.
func TestTransitionManyValidatesEveryKeyFirst(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs, err := st.Append(ctx, "alice", sid, newJobs(40))
	if err != nil {
		t.Fatal(err)
	}
	var keys []job.Key
	for _, j := range jobs {
		keys = append(keys, j.Key())
	}
	keys = append(keys, job.Key{User: "alice", Session: sid, ID: "../not-an-id"})
	if done, err := st.TransitionMany(ctx, keys, job.Submit); err == nil {
		t.Fatalf("batch with a bad key moved %d jobs, want an error", len(done))
	}
	all, err := st.Jobs(ctx, "alice", sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range all {
		if j.State != job.Create {
			t.Fatalf("job %s is %s after a refused batch, want %s", j.ID, j.State, job.Create)
		}
	}
}
