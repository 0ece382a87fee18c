package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/resource"
)

// ErrSessionBusy refuses to delete a session with jobs not yet final, or
// one that changed (an append) while it was being deleted.
var ErrSessionBusy = errors.New("session has jobs not yet final")

// keyItem reads only an item's key.
type keyItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

// DeleteSession removes a session whose jobs are all final: its jobs,
// result cursors, pages and holes, then the session item. before runs after
// the check and before anything is deleted (the caller removes the
// session's outputs there, so a failure leaves the session readable, not
// items pointing at nothing). The session item goes first, conditional on
// its job count, so an append racing the delete is refused (409) rather
// than lost; the partition's items read before are deleted after, by key,
// so a session re-created by a later append keeps its new jobs.
func (st *Store) DeleteSession(ctx context.Context, user, sid string, before func(context.Context) error) error {
	sess, err := st.GetSession(ctx, user, sid)
	if err != nil {
		return err
	}
	var keys []keyItem
	for it, err := range query[keyItem](ctx, st, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(sessionPK(user, sid))},
		ProjectionExpression:      aws.String("PK, SK"),
	}) {
		if err != nil {
			return fmt.Errorf("items of session %s: %w", sid, err)
		}
		keys = append(keys, it)
	}
	jobs, err := st.Jobs(ctx, user, sid)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !j.State.Terminal() {
			return fmt.Errorf("session %s: job %s is %s: %w", sid, j.ID, j.State, ErrSessionBusy)
		}
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return err
		}
	}
	_, err = st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &st.table,
		Key:                       keyOf(userPK(user), sessionSK(sid)),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #jobs = :jobs"),
		ExpressionAttributeNames:  map[string]string{"#jobs": "Jobs"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":jobs": &types.AttributeValueMemberN{Value: strconv.FormatInt(sess.Jobs, 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("session %s changed while it was deleted: %w", sid, ErrSessionBusy)
	}
	if err != nil {
		return fmt.Errorf("delete session %s: %w", sid, err)
	}
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{resource.PK: s(k.PK), resource.SK: s(k.SK)}}}
	}
	for start := 0; start < len(reqs); start += BatchWriteSize {
		if err := st.batchWrite(ctx, reqs[start:min(start+BatchWriteSize, len(reqs))]); err != nil {
			return fmt.Errorf("delete items of session %s: %w", sid, err)
		}
	}
	return nil
}
