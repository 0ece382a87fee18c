package sessionstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Once an archive of a session is claimed, an append is refused in the same
// write that would take the new jobs' places (so an append racing the
// archiver either lands first, and the claim fails, or is refused); the
// free tier's limit refusal stays distinct.
func TestAppendToAnArchivingSessionIsRefused(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "u1", sid, 2)
	var fs []sessionstore.Finish
	for _, j := range jobs {
		fs = append(fs, sessionstore.Finish{ID: j.ID, State: job.Terminate})
	}
	if _, err := st.FinishMany(ctx, "u1", sid, fs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if _, err := st.CountFinished(ctx, j.Key()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.ClaimArchive(ctx, "u1", sid, "u1/archive/"+sid+"/k.ndjson.gz", "GLACIER"); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{0, 10} {
		_, err := st.AppendUpTo(ctx, "u1", sid, newJobs(1), limit)
		var ae *sessionstore.ArchivedError
		if !errors.As(err, &ae) || ae.State != sessionstore.Archiving || ae.Session != sid {
			t.Fatalf("append (limit %d) to an archiving session: %v", limit, err)
		}
	}
	other := uuid.NewString()
	appendSubmitted(t, st, "u1", other, 2)
	var le *sessionstore.JobLimitError
	if _, err := st.AppendUpTo(ctx, "u1", other, newJobs(1), 2); !errors.As(err, &le) {
		t.Fatalf("append past the limit: %v, want JobLimitError", err)
	}
}
