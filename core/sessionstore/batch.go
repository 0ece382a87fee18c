package sessionstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/backoff"
)

// Retry policy for items DynamoDB leaves unprocessed under load.
const (
	MaxBatchAttempts = 8
	batchBackoff     = 25 * time.Millisecond // the first re-drive waits below 50 ms
	batchMaxDelay    = 5 * time.Second
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
			if err := backoff.Sleep(ctx, backoff.Delay(attempt, batchBackoff, batchMaxDelay)); err != nil {
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
