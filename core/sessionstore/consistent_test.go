package sessionstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Every Query the store sends is strongly consistent. DynamoDB's default is
// eventually consistent (moto is always consistent, so only the request can
// show it): a start right after an append could then miss the new jobs and
// never publish them, and a result page end before jobs just finished.
func TestEveryQueryIsStronglyConsistent(t *testing.T) {
	t.Parallel()
	stack := srv.Stack(t)
	cfg := stack.Config.Copy()
	var mu sync.Mutex
	var queries []*dynamodb.QueryInput
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordQuery",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if q, ok := in.Parameters.(*dynamodb.QueryInput); ok {
					mu.Lock()
					queries = append(queries, q)
					mu.Unlock()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	st := sessionstore.New(dynamodb.NewFromConfig(cfg), stack.ResourcesTable)
	ctx := context.Background()
	sid := uuid.NewString()
	jobs := appendSubmitted(t, st, "u1", sid, 2) // Append, then Pending's and TransitionMany's reads
	for _, err := range st.Pending(ctx, "u1", sid) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range jobs {
		if _, err := st.Finish(ctx, j.Key(), sessionstore.Finish{State: job.Success, Output: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	gen := uuid.NewString()
	if n, err := st.CreatePage(ctx, "u1", sid, gen, 10); err != nil || n != 1 {
		t.Fatalf("page: %d, %v", n, err)
	}
	if _, err := st.Page(ctx, "u1", sid, gen, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Jobs(ctx, "u1", sid); err != nil {
		t.Fatal(err)
	}
	for _, err := range st.Sessions(ctx, "u1") {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range st.Consumers(ctx) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSession(ctx, "u1", sid, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	indexes := map[string]bool{}
	for _, q := range queries {
		indexes[aws.ToString(q.IndexName)] = true
		if !aws.ToBool(q.ConsistentRead) {
			t.Errorf("query of index %q on %q is eventually consistent", aws.ToString(q.IndexName), aws.ToString(q.KeyConditionExpression))
		}
	}
	if len(queries) < 7 || !indexes[resource.PendingIndex] || !indexes[resource.FinishedIndex] || !indexes[""] {
		t.Fatalf("%d queries on indexes %v: the test did not reach every kind", len(queries), indexes)
	}
}
