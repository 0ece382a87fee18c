package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
)

// HeldError says another worker holds the job under an unexpired lease.
type HeldError struct {
	Consumer string
	Until    time.Time
	State    job.State
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("job is %s, held by consumer %s until %s", e.State, e.Consumer, e.Until.Format(time.RFC3339))
}

// Change is what a non-final transition records besides the state.
type Change struct {
	Consumer string // when set, the job must be held by this consumer
}

// stateAttr is the timestamp attribute each state sets.
var stateAttr = map[job.State]string{
	job.Submit: "Submitted", job.Setup: "SetupAt", job.Running: "RunningAt",
}

// Transition moves one job to a non-final state (submit, stop, setup,
// running) with a conditional write. A refused move returns the
// *job.TransitionError that job.Check gives for the stored state, so
// duplicates and out-of-order events are recognisable no-ops.
// Final states go through Finish, which also orders them for result pages.
func (st *Store) Transition(ctx context.Context, k job.Key, to job.State, c Change) (job.Job, error) {
	if to.Terminal() || !to.Valid() {
		return job.Job{}, fmt.Errorf("transition to %q: use Finish for final states", to)
	}
	if err := validJob(k); err != nil {
		return job.Job{}, err
	}
	in := st.transitionUpdate(k, to, c)
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: in.Key, UpdateExpression: in.UpdateExpression,
		ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
		ExpressionAttributeValues: in.ExpressionAttributeValues, ReturnValues: types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return job.Job{}, st.refusal(ctx, k, to, err)
	}
	return decodeJob(out.Attributes)
}

// transitionUpdate builds the conditional update of one job to a non-final state.
func (st *Store) transitionUpdate(k job.Key, to job.State, c Change) *types.Update {
	names := map[string]string{"#st": "State", "#ttl": resource.TTLAttribute}
	values := map[string]types.AttributeValue{":to": s(string(to)), ":ttl": n(st.ttl())}
	set := []string{"#st = :to", "#ttl = :ttl"}
	if a, ok := stateAttr[to]; ok {
		set = append(set, a+" = :at")
		values[":at"] = s(fmtTime(st.Now()))
	}
	expr := "SET " + strings.Join(set, ", ")
	switch to {
	case job.Stop: // a paused job leaves the pending index; resume puts it back
		expr += " REMOVE Pending"
	case job.Submit: // resume: pending again until it is confirmed on the queue
		expr += ", Pending = Seq + :one"
		values[":one"] = n(1)
	}
	cond := inStates("#st", job.AllowedFrom(to), values)
	if c.Consumer != "" {
		cond += " AND Consumer = :c"
		values[":c"] = s(c.Consumer)
	}
	return &types.Update{
		TableName: &st.table, Key: jobKey(k), UpdateExpression: aws.String(expr),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}
}

// inStates renders "attr IN (:s0, :s1, ...)" and adds the values.
func inStates(attr string, states []job.State, values map[string]types.AttributeValue) string {
	ph := make([]string, len(states))
	for i, x := range states {
		ph[i] = fmt.Sprintf(":s%d", i)
		values[ph[i]] = s(string(x))
	}
	return attr + " IN (" + strings.Join(ph, ", ") + ")"
}

// refusal turns a failed conditional write into the typed reason, from the
// item DynamoDB returned with the failure (or, where it did not, a fresh read).
func (st *Store) refusal(ctx context.Context, k job.Key, to job.State, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("update job %s: %w", k.ID, err)
	}
	return st.classify(ctx, k, to, ccf.Item)
}

func (st *Store) classify(ctx context.Context, k job.Key, to job.State, old map[string]types.AttributeValue) error {
	var cur job.Job
	if old != nil {
		var err error
		if cur, err = decodeJob(old); err != nil {
			return err
		}
	} else {
		var err error
		if cur, err = st.GetJob(ctx, k); err != nil {
			return err
		}
	}
	if err := job.Check(cur.State, to); err != nil {
		return err
	}
	return &HeldError{Consumer: cur.Consumer, Until: cur.LeaseUntil, State: cur.State}
}

// TransitionMany moves many jobs to a non-final state, several writes at a
// time. Jobs whose state refuses the move are left out; done lists the moved
// ones. (One conditional write per job rather than transactions: a
// transaction fails whole on one refused job, and an emulator copies the table
// per transaction item.)
func (st *Store) TransitionMany(ctx context.Context, keys []job.Key, to job.State) (done []job.Key, err error) {
	if to.Terminal() || !to.Valid() {
		return nil, fmt.Errorf("transition to %q: use Finish for final states", to)
	}
	return st.updateEach(ctx, keys, func(k job.Key) *types.Update { return st.transitionUpdate(k, to, Change{}) })
}

// MarkQueued takes jobs out of the pending index once their messages are
// confirmed on the queue.
func (st *Store) MarkQueued(ctx context.Context, keys []job.Key) error {
	_, err := st.updateEach(ctx, keys, func(k job.Key) *types.Update {
		return &types.Update{
			TableName: &st.table, Key: jobKey(k), UpdateExpression: aws.String("REMOVE Pending"),
			ConditionExpression: aws.String("attribute_exists(PK)"),
		}
	})
	return err
}

// WriteParallel is how many single-item writes a batch operation keeps in flight.
const WriteParallel = 16

// updateEach runs one conditional update per key, WriteParallel at a time,
// and returns the keys whose condition held.
func (st *Store) updateEach(ctx context.Context, keys []job.Key, update func(job.Key) *types.Update) ([]job.Key, error) {
	for _, k := range keys { // all before the first write: a bad key writes nothing
		if err := validJob(k); err != nil {
			return nil, err
		}
	}
	ok := make([]bool, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(WriteParallel)
	for i, k := range keys {
		g.Go(func() error {
			u := update(k)
			_, err := st.db.UpdateItem(gctx, &dynamodb.UpdateItemInput{
				TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
				ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
				ExpressionAttributeValues: u.ExpressionAttributeValues,
			})
			var ccf *types.ConditionalCheckFailedException
			switch {
			case errors.As(err, &ccf):
				return nil
			case err != nil:
				return fmt.Errorf("update job %s: %w", k.ID, err)
			}
			ok[i] = true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var done []job.Key
	for i, k := range keys {
		if ok[i] {
			done = append(done, k)
		}
	}
	return done, nil
}
