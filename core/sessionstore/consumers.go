package sessionstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Consumers lists the workers whose last heartbeat is younger than within,
// each with the time of that beat.
func (st *Store) Consumers(ctx context.Context, within time.Duration) ([]Consumer, error) {
	cut := st.Now().Add(-within)
	var out []Consumer
	for c, err := range query[Consumer](ctx, st, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("CONSUMER")},
	}) {
		if err != nil {
			return nil, fmt.Errorf("list consumers: %w", err)
		}
		if parseTime(c.Beat).After(cut) {
			out = append(out, c)
		}
	}
	return out, nil
}
