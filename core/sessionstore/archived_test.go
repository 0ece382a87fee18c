package sessionstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
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
	sid, _ := completeSession(t, st, "u1", 2)
	if _, err := st.ClaimArchive(ctx, "u1", sid, "u1/archive/"+sid+"/k.ndjson.gz", "GLACIER", lease("a", time.Now())); err != nil {
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

// completeSession is a session of n jobs that all ended and were counted:
// due for archive.
func completeSession(t *testing.T, st *sessionstore.Store, user string, n int) (string, []job.Job) {
	t.Helper()
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, user, sid, n)
	var fs []sessionstore.Finish
	for _, j := range jobs {
		fs = append(fs, sessionstore.Finish{ID: j.ID, State: job.Terminate})
	}
	if _, err := st.FinishMany(ctx, user, sid, fs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if _, err := st.CountFinished(ctx, j.Key()); err != nil {
			t.Fatal(err)
		}
	}
	return sid, jobs
}

// lease is run's lease taken at now, for a minute.
func lease(run string, now time.Time) sessionstore.Lease {
	return sessionstore.Lease{Run: run, Now: now, Until: now.Add(time.Minute)}
}

// One archive run at a time: while run a holds the lease (from its claim to
// its drop mark) run b is refused with when the lease ends, and b's steps
// fail on a's; once the lease has run out (its holder is gone by then) b
// takes over, and the late a can no longer mark. A session already dropped
// answers a drop claim as it is, taking no lease.
func TestArchiveLeaseAdmitsOneRunAtATime(t *testing.T) {
	t.Parallel()
	stack := srv.Stack(t)
	st := sessionstore.New(dynamodb.NewFromConfig(stack.Config), stack.ResourcesTable)
	ctx := context.Background()
	sid, jobs := completeSession(t, st, "u1", 2)
	key := "u1/archive/" + sid + "/k.ndjson.gz"
	guard := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{ // the tier check's stand-in: another item that holds
		TableName: aws.String(stack.ResourcesTable), ConditionExpression: aws.String("attribute_exists(PK)"),
		Key: map[string]types.AttributeValue{
			resource.PK: &types.AttributeValueMemberS{Value: "SESSION#u1#" + sid}, resource.SK: &types.AttributeValueMemberS{Value: "JOB#" + jobs[0].ID},
		},
	}}
	t0 := time.Now()
	a, b := lease("a", t0), lease("b", t0.Add(time.Second))
	if _, err := st.ClaimArchive(ctx, "u1", sid, key, "GLACIER", a); err != nil {
		t.Fatal(err)
	}
	var le *sessionstore.LeaseError
	if _, err := st.ClaimArchive(ctx, "u1", sid, "u1/archive/"+sid+"/other.ndjson.gz", "GLACIER", b); !errors.As(err, &le) || !le.Until.Equal(a.Until.Truncate(time.Millisecond)) {
		t.Fatalf("claim during a's lease: %v, want a LeaseError until %s", err, a.Until)
	}
	if err := st.MarkArchived(ctx, "u1", sid, key, "b", guard); !errors.Is(err, sessionstore.ErrArchiveState) {
		t.Fatalf("b marks during a's lease: %v", err)
	}
	if err := st.MarkArchived(ctx, "u1", sid, key, "a", guard); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimDrop(ctx, "u1", sid, key, b); !errors.As(err, &le) {
		t.Fatalf("drop claim during a's lease: %v", err)
	}
	late := lease("b", a.Until.Add(time.Second))
	sess, err := st.ClaimDrop(ctx, "u1", sid, key, late)
	if err != nil || sess.LeaseRun != "b" || sess.Dropped {
		t.Fatalf("drop claim after a's lease: %+v, %v", sess.Lifecycle, err)
	}
	if _, err := st.MarkDropped(ctx, "u1", sid, key, "a"); !errors.Is(err, sessionstore.ErrArchiveState) {
		t.Fatalf("a marks dropped after losing the lease: %v", err)
	}
	if sess, err = st.MarkDropped(ctx, "u1", sid, key, "b"); err != nil || !sess.Dropped || sess.LeaseRun != "" {
		t.Fatalf("b marks dropped: %+v, %v", sess.Lifecycle, err)
	}
	if sess, err = st.ClaimDrop(ctx, "u1", sid, key, lease("c", time.Now())); err != nil || !sess.Dropped || sess.LeaseRun != "" {
		t.Fatalf("drop claim on a dropped session: %+v, %v", sess.Lifecycle, err)
	}
	if _, err := st.ClaimDrop(ctx, "u1", sid, "u1/archive/"+sid+"/other.ndjson.gz", lease("c", time.Now())); !errors.Is(err, sessionstore.ErrArchiveState) {
		t.Fatalf("drop claim under another key: %v", err)
	}
}
