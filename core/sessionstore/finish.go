package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// Finish is the end of one job.
type Finish struct {
	ID        string
	State     job.State // success, error, terminate, expired or invalid
	Message   string
	Consumer  string
	Output    []byte // JSON, kept inline when small
	OutputKey string // where the full output lives in the session bucket
}

// MaxInlineOutput is the largest output kept in the job item; a larger one is
// read from S3 through OutputKey (DynamoDB items stop at 400 KB).
const MaxInlineOutput = 256 << 10

// FinishResult is the outcome for one job of FinishMany.
type FinishResult struct {
	ID  string
	Seq int64 // its place in the session's finishing order, when Err is nil
	Err error // a *job.TransitionError (e.g. already final) or ErrNotFound
}

// FinishMany ends jobs of one session. Each job's final state is written
// once, whatever the races: its conditional write admits only non-final
// states. The same write gives the job its FSeq, its place in the session's
// finishing order (result pages), from a block taken off the session's finish
// counter first; a number whose job refused the write becomes a hole marker,
// so the order has no gaps that result paging would wait on.
func (st *Store) FinishMany(ctx context.Context, user, sid string, fs []Finish) ([]FinishResult, error) {
	if err := validSession(user, sid); err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, nil
	}
	for _, f := range fs {
		if !f.State.Terminal() {
			return nil, fmt.Errorf("finish job %s as %q: not a final state", f.ID, f.State)
		}
		if err := objectkey.ID(f.ID); err != nil {
			return nil, err
		}
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression:          aws.String("ADD Finished :k"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": n(int64(len(fs)))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, fmt.Errorf("session %s: %w", sid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("finish jobs of session %s: %w", sid, err)
	}
	var counts struct{ Finished int64 }
	if err := attributevalue.UnmarshalMap(out.Attributes, &counts); err != nil {
		return nil, err
	}
	first := counts.Finished - int64(len(fs)) + 1
	results := make([]FinishResult, len(fs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(WriteParallel)
	for i, f := range fs {
		seq := first + int64(i)
		g.Go(func() error {
			u := st.finishUpdate(user, sid, f, seq)
			_, err := st.db.UpdateItem(gctx, &dynamodb.UpdateItemInput{
				TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
				ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
				ExpressionAttributeValues:           u.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
			results[i] = FinishResult{ID: f.ID, Seq: seq}
			if err == nil {
				return nil
			}
			// Each goroutine its own target: errors.As writes through it.
			var refused *types.ConditionalCheckFailedException
			if !errors.As(err, &refused) {
				return fmt.Errorf("finish job %s: %w", f.ID, err)
			}
			results[i] = FinishResult{ID: f.ID, Err: st.classify(gctx, job.Key{User: user, Session: sid, ID: f.ID}, f.State, refused.Item)}
			return st.putHole(gctx, user, sid, seq)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return results, nil
}

// Finish ends one job; see FinishMany.
func (st *Store) Finish(ctx context.Context, k job.Key, f Finish) (int64, error) {
	f.ID = k.ID
	r, err := st.FinishMany(ctx, k.User, k.Session, []Finish{f})
	if err != nil {
		return 0, err
	}
	return r[0].Seq, r[0].Err
}

// putHole marks a finish number no job took.
func (st *Store) putHole(ctx context.Context, user, sid string, seq int64) error {
	item := keyOf(sessionPK(user, sid), holeSK(seq))
	item["Type"], item[resource.FinishedSeq], item[resource.TTLAttribute] = s(typeHole), n(seq), n(st.ttl())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: item})
	if err != nil {
		return fmt.Errorf("mark finish number %d unused: %w", seq, err)
	}
	return nil
}

func (st *Store) finishUpdate(user, sid string, f Finish, seq int64) *types.Update {
	names := map[string]string{"#st": "State", "#ttl": resource.TTLAttribute}
	values := map[string]types.AttributeValue{
		":to": s(string(f.State)), ":at": s(fmtTime(st.Now())), ":seq": n(seq), ":ttl": n(st.ttl()),
	}
	expr := "SET #st = :to, Finished = :at, FSeq = :seq, #ttl = :ttl"
	for attr, v := range map[string]string{"Message": f.Message, "Consumer": f.Consumer, "OutputKey": f.OutputKey} {
		if v != "" { // names are aliased: DynamoDB reserves words like Output
			expr += ", #" + attr + " = :" + attr
			names["#"+attr], values[":"+attr] = attr, s(v)
		}
	}
	if len(f.Output) > 0 && len(f.Output) <= MaxInlineOutput {
		expr += ", #Output = :Output"
		names["#Output"], values[":Output"] = "Output", s(string(f.Output))
	}
	expr += " REMOVE Pending, LeaseUntil"
	cond := "attribute_exists(PK) AND " + inStates("#st", job.AllowedFrom(f.State), values)
	return &types.Update{
		TableName: &st.table, Key: jobKey(job.Key{User: user, Session: sid, ID: f.ID}),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// Claim gives a queued job to consumer: submit -> setup, or a job in setup or
// running whose holder's lease has run out (the holder crashed). The job is
// the consumer's until the lease ends; ExtendLease keeps it.
func (st *Store) Claim(ctx context.Context, k job.Key, consumer string, lease time.Duration) (job.Job, error) {
	if err := validJob(k); err != nil {
		return job.Job{}, err
	}
	now := st.Now()
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.table,
		Key:                      jobKey(k),
		UpdateExpression:         aws.String("SET #st = :setup, Consumer = :c, LeaseUntil = :until, SetupAt = :at, #ttl = :ttl ADD Attempts :one"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND (#st = :submit OR (#st IN (:setup, :running) AND LeaseUntil < :now))"),
		ExpressionAttributeNames: map[string]string{"#st": "State", "#ttl": resource.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":setup": s(string(job.Setup)), ":running": s(string(job.Running)), ":submit": s(string(job.Submit)),
			":c": s(consumer), ":until": n(now.Add(lease).UnixMilli()), ":now": n(now.UnixMilli()),
			":at": s(fmtTime(now)), ":ttl": n(st.ttl()), ":one": n(1),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item != nil {
		cur, derr := decodeJob(ccf.Item)
		if derr == nil && (cur.State == job.Setup || cur.State == job.Running) {
			return job.Job{}, &HeldError{Consumer: cur.Consumer, Until: cur.LeaseUntil, State: cur.State}
		}
	}
	if err != nil {
		return job.Job{}, st.refusal(ctx, k, job.Setup, err)
	}
	return decodeJob(out.Attributes)
}

// ExtendLease keeps consumer's hold on a running job until until. It fails
// with the job's refusal when the job was ended meanwhile (killed: the worker
// stops the run) or taken over.
func (st *Store) ExtendLease(ctx context.Context, k job.Key, consumer string, until time.Time) (job.Job, error) {
	return st.setLease(ctx, k, consumer, until.UnixMilli())
}

// Release hands a held job back: its lease ends now, so the next delivery of
// its message claims it at once (graceful stop of a worker).
func (st *Store) Release(ctx context.Context, k job.Key, consumer string) error {
	_, err := st.setLease(ctx, k, consumer, 0)
	return err
}

func (st *Store) setLease(ctx context.Context, k job.Key, consumer string, until int64) (job.Job, error) {
	if err := validJob(k); err != nil {
		return job.Job{}, err
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.table,
		Key:                      jobKey(k),
		UpdateExpression:         aws.String("SET LeaseUntil = :until"),
		ConditionExpression:      aws.String("Consumer = :c AND #st IN (:setup, :running)"),
		ExpressionAttributeNames: map[string]string{"#st": "State"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": n(until), ":c": s(consumer), ":setup": s(string(job.Setup)), ":running": s(string(job.Running)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return job.Job{}, st.refusal(ctx, k, job.Running, err)
	}
	return decodeJob(out.Attributes)
}

// Consumer is a worker process's heartbeat record.
type Consumer struct {
	ID       string `dynamodbav:"Id"`
	Instance string `dynamodbav:"Instance"`
	Job      string `dynamodbav:"Job,omitempty"`
	Session  string `dynamodbav:"Session,omitempty"`
	User     string `dynamodbav:"User,omitempty"`
	Beat     string `dynamodbav:"Beat"`
}

// ConsumerTTL is how long a heartbeat record outlives its last beat.
const ConsumerTTL = time.Hour

// Heartbeat records that consumer is alive.
func (st *Store) Heartbeat(ctx context.Context, c Consumer) error {
	c.Beat = fmtTime(st.Now())
	av, err := attributevalue.MarshalMap(c)
	if err != nil {
		return err
	}
	av[resource.PK], av[resource.SK] = s("CONSUMER"), s("CONSUMER#"+c.ID)
	av["Type"], av[resource.TTLAttribute] = s(typeConsumer), n(st.Now().Add(ConsumerTTL).Unix())
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: av}); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", c.ID, err)
	}
	return nil
}
