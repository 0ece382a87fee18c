package sessionstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// A writer that died after taking a finish number and before writing its job
// leaves a gap: pages stop before it (a late write must not be skipped) until
// HoleTimeout has passed, then page past it.
func TestPagesPassADeadWritersNumberAfterTheTimeout(t *testing.T) {
	t.Parallel()
	stack := srv.Stack(t)
	db := dynamodb.NewFromConfig(stack.Config)
	st := sessionstore.New(db, stack.ResourcesTable)
	now := time.Now()
	st.Now = func() time.Time { return now }
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "alice", sid, 3)
	finish := func(j job.Job) {
		if _, err := st.Finish(ctx, j.Key(), sessionstore.Finish{State: job.Success}); err != nil {
			t.Fatal(err)
		}
	}
	finish(jobs[0]) // number 1
	// The dead writer: number 2 taken off the session's counter (the item
	// layout of item.go), its job never written.
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.ResourcesTable),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "USER#alice"}, "SK": &types.AttributeValueMemberS{Value: "SESSION#" + sid},
		},
		UpdateExpression:          aws.String("ADD Finished :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	finish(jobs[1]) // number 3
	gen := uuid.NewString()
	pageOf := func(want int) []job.Job {
		t.Helper()
		n, err := st.CreatePage(ctx, "alice", sid, gen, 100)
		if err != nil || n != want {
			t.Fatalf("CreatePage = %d, %v; want %d", n, err, want)
		}
		if n == 0 {
			return nil
		}
		p, err := st.Page(ctx, "alice", sid, gen, n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := pageOf(1); len(p) != 1 || p[0].ID != jobs[0].ID {
		t.Fatalf("page 1 = %v, want job 0 alone (it ends before the missing number)", p)
	}
	pageOf(1) // the gap is seen now
	now = now.Add(sessionstore.HoleTimeout / 2)
	pageOf(1) // still waiting: a slow write may land
	now = now.Add(sessionstore.HoleTimeout)
	if p := pageOf(2); len(p) != 1 || p[0].ID != jobs[1].ID {
		t.Fatalf("page 2 = %v, want job 1 after the dead number was passed", p)
	}
	finish(jobs[2])
	if p := pageOf(3); len(p) != 1 || p[0].ID != jobs[2].ID {
		t.Fatalf("page 3 = %v, want job 2", p)
	}
}
