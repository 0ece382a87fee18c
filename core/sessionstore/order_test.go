package sessionstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// A page holds every finished job up to its size: the finish index orders
// numbers as numbers (1, 2, ..., 10, not 1, 10, 100, 2).
func TestPageIsFullAcrossDigitCounts(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "alice", sid, 120)
	fs := make([]sessionstore.Finish, len(jobs))
	for i, j := range jobs {
		fs[i] = sessionstore.Finish{ID: j.ID, State: job.Success}
	}
	if _, err := st.FinishMany(ctx, "alice", sid, fs); err != nil {
		t.Fatal(err)
	}
	gen := uuid.NewString()
	if p, err := st.CreatePage(ctx, "alice", sid, gen, 500); err != nil || p != 1 {
		t.Fatalf("page %d, %v", p, err)
	}
	page, err := st.Page(ctx, "alice", sid, gen, 1)
	if err != nil || len(page) != 120 {
		t.Fatalf("page 1 holds %d of 120 finished jobs (%v)", len(page), err)
	}
}
