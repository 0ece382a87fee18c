package sessionstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// Retry policy for items DynamoDB leaves unprocessed under load.
const (
	MaxBatchAttempts = 8
	batchBackoff     = 25 * time.Millisecond
	batchParallel    = 4
)

// batchPut writes items in BatchWriteItem calls of 25, a few in parallel, and
// re-drives unprocessed items with jittered exponential backoff.
func (st *Store) batchPut(ctx context.Context, items []map[string]types.AttributeValue) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(batchParallel)
	for start := 0; start < len(items); start += BatchWriteSize {
		chunk := items[start:min(start+BatchWriteSize, len(items))]
		g.Go(func() error {
			reqs := make([]types.WriteRequest, len(chunk))
			for i, it := range chunk {
				reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
			}
			return st.batchWrite(ctx, reqs)
		})
	}
	return g.Wait()
}

func (st *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt == MaxBatchAttempts {
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(reqs), attempt)
		}
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
		}
		out, err := st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{st.table: reqs},
		})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		reqs = out.UnprocessedItems[st.table]
	}
	return nil
}

// backoff is full-jitter exponential backoff for attempt >= 1.
func backoff(attempt int) time.Duration {
	d := batchBackoff << min(attempt, 8)
	return time.Duration(rand.Int64N(int64(d))) + time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
