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

// Each benchmark times a store operation and the bare SDK call it wraps on
// the same moto in the same run, and reports both rates and their ratio.

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func report(b *testing.B, name string, store, bare float64) {
	b.ReportMetric(store, name+"/s")
	b.ReportMetric(bare, "bare-"+name+"/s")
	b.ReportMetric(store/bare, "ratio")
	b.Logf("%s: store %.0f/s, bare SDK %.0f/s, ratio %.2f", name, store, bare, store/bare)
}

func benchStack(b *testing.B) (*sessionstore.Store, *dynamodb.Client, string) {
	st := srv.Stack(b)
	db := dynamodb.NewFromConfig(st.Config)
	return sessionstore.New(db, st.ResourcesTable), db, st.ResourcesTable
}

// Conditional transitions (submit -> setup claims) against unconditional UpdateItem.
func BenchmarkTransition(b *testing.B) {
	const n = 300
	for range b.N {
		store, db, table := benchStack(b)
		ctx := context.Background()
		jobs := appendSubmitted(b, store, "alice", uuid.NewString(), n)
		start := time.Now()
		for _, j := range jobs {
			if _, err := store.Claim(ctx, j.Key(), "bench", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		storeRate := rate(n, time.Since(start))
		sid := uuid.NewString()
		others := appendSubmitted(b, store, "alice", sid, n)
		start = time.Now()
		for _, j := range others {
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: &table, Key: map[string]types.AttributeValue{
					"PK": &types.AttributeValueMemberS{Value: "SESSION#alice#" + sid}, "SK": &types.AttributeValueMemberS{Value: "JOB#" + j.ID},
				},
				UpdateExpression:         aws.String("SET #st = :setup, Consumer = :c, LeaseUntil = :until ADD Attempts :one"),
				ConditionExpression:      aws.String("#st = :submit"),
				ExpressionAttributeNames: map[string]string{"#st": "State"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":setup": &types.AttributeValueMemberS{Value: string(job.Setup)}, ":submit": &types.AttributeValueMemberS{Value: string(job.Submit)},
					":c": &types.AttributeValueMemberS{Value: "bench"}, ":until": &types.AttributeValueMemberN{Value: "1"}, ":one": &types.AttributeValueMemberN{Value: "1"},
				},
				ReturnValues: types.ReturnValueAllNew,
			}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, "transitions", storeRate, rate(n, time.Since(start)))
	}
}

// Batched job writes (Append) against bare BatchWriteItem of the same items.
func BenchmarkAppend(b *testing.B) {
	const n = 2500
	for range b.N {
		store, db, table := benchStack(b)
		ctx := context.Background()
		start := time.Now()
		jobs, err := store.Append(ctx, "alice", uuid.NewString(), newJobs(n))
		if err != nil || len(jobs) != n {
			b.Fatal(err)
		}
		storeRate := rate(n, time.Since(start))
		items := sameItems(b, db, table, "SESSION#alice#"+jobs[0].Session)
		start = time.Now()
		for i := 0; i < n; i += 25 {
			if _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: items[i:min(i+25, n)]}}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, "job-writes", storeRate, rate(n, time.Since(start)))
	}
}

// Paginated reads of a 2,500-job session against a bare Query paginator.
func BenchmarkSessionRead(b *testing.B) {
	const n = 2500
	for range b.N {
		store, db, table := benchStack(b)
		ctx := context.Background()
		sid := uuid.NewString()
		if _, err := store.Append(ctx, "alice", sid, newJobs(n)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		jobs, err := store.Jobs(ctx, "alice", sid)
		if err != nil || len(jobs) != n {
			b.Fatalf("read %d jobs: %v", len(jobs), err)
		}
		storeRate := rate(n, time.Since(start))
		start = time.Now()
		p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
			TableName: &table, KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: "SESSION#alice#" + sid}, ":sk": &types.AttributeValueMemberS{Value: "JOB#"},
			},
		})
		got := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got += len(page.Items)
		}
		if got != n {
			b.Fatalf("bare read %d items", got)
		}
		report(b, "session-reads", storeRate, rate(n, time.Since(start)))
	}
}

// sameItems reads a session's job items and re-keys them under another
// session: the bare call writes exactly what the store wrote.
func sameItems(b *testing.B, db *dynamodb.Client, table, pk string) []types.WriteRequest {
	var out []types.WriteRequest
	p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":sk": &types.AttributeValueMemberS{Value: "JOB#"}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range page.Items {
			it["PK"] = &types.AttributeValueMemberS{Value: pk + "-bare"}
			out = append(out, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
	}
	return out
}
