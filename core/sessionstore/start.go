package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
)

// ErrStartBusy says another start call is publishing this session right now.
var ErrStartBusy = errors.New("another start of this session is in progress")

// AcquireStart gives the caller the session's publishing for lease: while it
// holds it, no other start publishes the session, so concurrent starts never
// enqueue a job twice. A crashed holder's lease runs out and the next start
// publishes what the crash left pending.
func (st *Store) AcquireStart(ctx context.Context, user, sid string, lease time.Duration) error {
	if err := validSession(user, sid); err != nil {
		return err
	}
	now := st.Now()
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &st.table,
		Key:                 keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression:    aws.String("SET StartLease = :until"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(StartLease) OR StartLease < :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": n(now.Add(lease).UnixMilli()), ":now": n(now.UnixMilli()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		if _, gerr := st.GetSession(ctx, user, sid); gerr != nil {
			return gerr
		}
		return ErrStartBusy
	case errors.As(err, &ccf):
		return ErrStartBusy
	case err != nil:
		return fmt.Errorf("start session %s: %w", sid, err)
	}
	return nil
}

// ReleaseStart ends the caller's start lease.
func (st *Store) ReleaseStart(ctx context.Context, user, sid string) error {
	if _, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression: aws.String("REMOVE StartLease"), ConditionExpression: aws.String("attribute_exists(PK)"),
	}); err != nil {
		return fmt.Errorf("release start of session %s: %w", sid, err)
	}
	return nil
}

// Pending lists the jobs of a session not yet confirmed on the queue, in
// append order: new ones (create), resumed ones and those a crashed start left.
func (st *Store) Pending(ctx context.Context, user, sid string) iter.Seq2[job.Job, error] {
	return func(yield func(job.Job, error) bool) {
		if err := validSession(user, sid); err != nil {
			yield(job.Job{}, err)
			return
		}
		for it, err := range query[jobItem](ctx, st, &dynamodb.QueryInput{
			TableName: &st.table, IndexName: aws.String(resource.PendingIndex),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(sessionPK(user, sid))},
		}) {
			if !yield(it.job(), err) || err != nil {
				return
			}
		}
	}
}

// SetSessionState records a session's state (active, stopped, killed).
func (st *Store) SetSessionState(ctx context.Context, user, sid, state string) error {
	if err := validSession(user, sid); err != nil {
		return err
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression:          aws.String("SET #st = :st"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#st": "State"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": s(state)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("session %s: %w", sid, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set state of session %s: %w", sid, err)
	}
	return nil
}
