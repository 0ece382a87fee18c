// Package connections keeps the Cloud monitor's open WebSocket connections in
// their own DynamoDB table, keyed by user: a push to one user is one Query on
// that user's partition, a fleet broadcast one Scan of a table that holds
// nothing else. Items expire (TTL) when API Gateway would have closed the
// connection, so a $disconnect that never ran leaves nothing behind for long.
package connections

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// MaxAge is API Gateway's longest WebSocket connection: the TTL of an item.
const MaxAge = 2 * time.Hour

// Connection is one open WebSocket connection of a user.
type Connection struct {
	User      string `dynamodbav:"User"`
	ID        string `dynamodbav:"ConnectionId"`
	Connected string `dynamodbav:"Connected"`
	TTL       int64  `dynamodbav:"TTL"`
}

// Store reads and writes the connections table.
type Store struct {
	db    *dynamodb.Client
	table string
	Now   func() time.Time
}

// New returns a Store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, Now: time.Now}
}

func key(user, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resource.ConnUserKey: &types.AttributeValueMemberS{Value: user},
		resource.ConnIDKey:   &types.AttributeValueMemberS{Value: id},
	}
}

// Put records that user opened connection id.
func (s *Store) Put(ctx context.Context, user, id string) error {
	if err := objectkey.User(user); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("connection of %s: no connection id", user)
	}
	now := s.Now().UTC()
	av, err := attributevalue.MarshalMap(Connection{User: user, ID: id, Connected: now.Format(time.RFC3339), TTL: now.Add(MaxAge).Unix()})
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av}); err != nil {
		return fmt.Errorf("record connection of %s: %w", user, err)
	}
	return nil
}

// Delete forgets a connection; forgetting one already gone is no error.
func (s *Store) Delete(ctx context.Context, user, id string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(user, id)}); err != nil {
		return fmt.Errorf("forget connection of %s: %w", user, err)
	}
	return nil
}

// OfUser yields user's live connections (expired items DynamoDB has not
// removed yet are skipped).
func (s *Store) OfUser(ctx context.Context, user string) iter.Seq2[Connection, error] {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": resource.ConnUserKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: user}},
	})
	return s.each(p.HasMorePages, func() ([]map[string]types.AttributeValue, error) {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connections of %s: %w", user, err)
		}
		return out.Items, nil
	})
}

// All yields every live connection, page by page.
func (s *Store) All(ctx context.Context) iter.Seq2[Connection, error] {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.table})
	return s.each(p.HasMorePages, func() ([]map[string]types.AttributeValue, error) {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		return out.Items, nil
	})
}

// each yields the live connections of every page (the SDK's Query and Scan
// paginators share no interface).
func (s *Store) each(more func() bool, next func() ([]map[string]types.AttributeValue, error)) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		now := s.Now().Unix()
		for more() {
			items, err := next()
			if err != nil {
				yield(Connection{}, err)
				return
			}
			for _, av := range items {
				var c Connection
				if err := attributevalue.UnmarshalMap(av, &c); err != nil {
					yield(Connection{}, err)
					return
				}
				if c.TTL > now && !yield(c, nil) {
					return
				}
			}
		}
	}
}
