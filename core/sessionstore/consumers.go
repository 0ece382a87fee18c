package sessionstore

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Consumers lists the heartbeat records of the workers whose last beat is
// within ConsumerTTL (DynamoDB's TTL deletes expired ones only eventually),
// page by page.
func (st *Store) Consumers(ctx context.Context) iter.Seq2[Consumer, error] {
	return func(yield func(Consumer, error) bool) {
		oldest := st.Now().Add(-ConsumerTTL)
		for c, err := range query[Consumer](ctx, st, &dynamodb.QueryInput{
			TableName:                 &st.table,
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("CONSUMER"), ":sk": s("CONSUMER#")},
		}) {
			if err != nil {
				yield(Consumer{}, fmt.Errorf("consumers: %w", err))
				return
			}
			if c.LastBeat().Before(oldest) {
				continue
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// LastBeat is the time of the consumer's last heartbeat.
func (c Consumer) LastBeat() time.Time { return parseTime(c.Beat) }
