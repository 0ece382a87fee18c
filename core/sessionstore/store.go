// Package sessionstore keeps sessions, jobs, result cursors and worker
// heartbeats in the FOQUS_Resources table. Every state change is a conditional
// write derived from job.Check, so duplicates and out-of-order events are
// refused by DynamoDB itself, and a final state is never overwritten.
package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// Defaults of a Store.
const (
	DefaultRetention  = 30 * 24 * time.Hour // items expire (TTL) this long after their last change, unless told (RetentionDays)
	DefaultStartLease = time.Minute         // how long one start call holds a session's publishing
	BatchWriteSize    = 25                  // DynamoDB's BatchWriteItem limit
)

// ErrNotFound is returned for a session, job or page the user does not have.
var ErrNotFound = errors.New("not found")

// Session states.
const (
	SessionActive  = "active"
	SessionStopped = "stopped"
	SessionKilled  = "killed"
)

// Session is a user's batch of jobs.
type Session struct {
	ID, User, State string
	Created         time.Time
	Jobs            int64 // appended
	Finished        int64 // finish numbers given out (finished jobs, and holes of refused finishes)
	Lifecycle             // result lifecycle: done count, archive state (lifecycle.go)
}

// Store reads and writes FOQUS_Resources.
type Store struct {
	db        *dynamodb.Client
	table     string
	Retention time.Duration
	Now       func() time.Time
	PageLimit int32 // items per Query page; 0 leaves it to DynamoDB (1 MB pages)
}

// New returns a Store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, Retention: DefaultRetention, Now: time.Now}
}

// RetentionDays parses the stage's retention (resource.EnvRetentionDays, the
// stage's dataExpirationDays) into a Store's Retention.
func RetentionDays(days string) (time.Duration, error) {
	n, err := strconv.Atoi(days)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of days, at least 1", resource.EnvRetentionDays, days)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func (st *Store) ttl() int64 { return st.Now().Add(st.Retention).Unix() }

// NewJob is one job as a client appends it.
type NewJob struct {
	Application string
	Simulation  string
	Input       []byte // JSON object
	Reset       bool
	Initialize  bool
}

// Append stores jobs in state create, in order, and returns them with their
// new ids. The session is created by its first append.
func (st *Store) Append(ctx context.Context, user, sid string, reqs []NewJob) ([]job.Job, error) {
	return st.AppendUpTo(ctx, user, sid, reqs, 0)
}

// JobLimitError refuses an append that would take a session past Limit jobs.
type JobLimitError struct{ Limit int64 }

func (e *JobLimitError) Error() string {
	return fmt.Sprintf("a session holds at most %d jobs on this plan", e.Limit)
}

// AppendUpTo is Append with a limit on the session's jobs (0: none), checked
// in the same write that takes the new jobs' places.
func (st *Store) AppendUpTo(ctx context.Context, user, sid string, reqs []NewJob, limit int64) ([]job.Job, error) {
	if err := validSession(user, sid); err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, nil
	}
	// An archived session's jobs are settled: no append, in the same write.
	cond := "attribute_not_exists(ArchiveState)"
	if limit > 0 {
		if int64(len(reqs)) > limit {
			return nil, &JobLimitError{Limit: limit}
		}
		cond += " AND (attribute_not_exists(Jobs) OR Jobs <= :room)"
	}
	now := st.Now().UTC()
	values := map[string]types.AttributeValue{
		":t": s(typeSession), ":id": s(sid), ":u": s(user), ":active": s(SessionActive),
		":now": s(fmtTime(now)), ":zero": n(0), ":ttl": n(st.ttl()), ":n": n(int64(len(reqs))),
	}
	if limit > 0 {
		values[":room"] = n(limit - int64(len(reqs)))
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		ConditionExpression:                 aws.String(cond),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		TableName:                           &st.table,
		Key:                                 keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression:                    aws.String("SET #t = :t, Id = :id, #u = :u, #st = if_not_exists(#st, :active), Created = if_not_exists(Created, :now), Finished = if_not_exists(Finished, :zero), #ttl = :ttl ADD Jobs :n"),
		ExpressionAttributeNames: map[string]string{
			"#t": "Type", "#u": "User", "#st": "State", "#ttl": resource.TTLAttribute,
		},
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old lifecycleAttrs
		if attributevalue.UnmarshalMap(ccf.Item, &old) == nil && old.Archive != "" {
			return nil, &ArchivedError{Session: sid, State: old.Archive}
		}
		return nil, &JobLimitError{Limit: limit}
	}
	if err != nil {
		return nil, fmt.Errorf("append to session %s: %w", sid, err)
	}
	var counts struct{ Jobs int64 }
	if err := attributevalue.UnmarshalMap(out.Attributes, &counts); err != nil {
		return nil, err
	}
	first := counts.Jobs - int64(len(reqs))
	jobs := make([]job.Job, len(reqs))
	items := make([]map[string]types.AttributeValue, len(reqs))
	for i, r := range reqs {
		app := r.Application
		if app == "" {
			app = job.AppFOQUS
		}
		seq := first + int64(i)
		it := jobItem{
			PK: sessionPK(user, sid), SK: "", Type: typeJob, ID: uuid.NewString(), User: user, Session: sid,
			Seq: seq, State: string(job.Create), Application: app, Simulation: r.Simulation, Input: string(r.Input),
			Reset: r.Reset, Initialize: r.Initialize, Created: fmtTime(now), Pending: seq + 1, TTL: st.ttl(),
		}
		it.SK = jobSK(it.ID)
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			return nil, err
		}
		items[i], jobs[i] = av, it.job()
	}
	if err := st.batchPut(ctx, items); err != nil {
		return nil, fmt.Errorf("append to session %s: %w", sid, err)
	}
	return jobs, nil
}

// GetSession returns one of user's sessions.
func (st *Store) GetSession(ctx context.Context, user, sid string) (Session, error) {
	if err := validSession(user, sid); err != nil {
		return Session{}, err
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", sid, err)
	}
	if out.Item == nil {
		return Session{}, fmt.Errorf("session %s: %w", sid, ErrNotFound)
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Session{}, err
	}
	return it.session(), nil
}

func (it *sessionItem) session() Session {
	return Session{ID: it.ID, User: it.User, State: it.State, Created: parseTime(it.Created), Jobs: it.Jobs, Finished: it.Finished, Lifecycle: it.lifecycle()}
}

// Sessions lists user's sessions, page by page.
func (st *Store) Sessions(ctx context.Context, user string) iter.Seq2[Session, error] {
	return func(yield func(Session, error) bool) {
		if err := objectkey.User(user); err != nil {
			yield(Session{}, err)
			return
		}
		q := &dynamodb.QueryInput{
			TableName:                 &st.table,
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(userPK(user)), ":sk": s("SESSION#")},
		}
		for it, err := range query[sessionItem](ctx, st, q) {
			if !yield(it.session(), err) || err != nil {
				return
			}
		}
	}
}

// Jobs lists the jobs of a session in append order.
func (st *Store) Jobs(ctx context.Context, user, sid string) ([]job.Job, error) {
	if err := validSession(user, sid); err != nil {
		return nil, err
	}
	var jobs []job.Job
	for it, err := range query[jobItem](ctx, st, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(sessionPK(user, sid)), ":sk": s("JOB#")},
	}) {
		if err != nil {
			return nil, fmt.Errorf("jobs of session %s: %w", sid, err)
		}
		jobs = append(jobs, it.job())
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].Seq < jobs[k].Seq })
	return jobs, nil
}

// GetJob reads one job.
func (st *Store) GetJob(ctx context.Context, k job.Key) (job.Job, error) {
	if err := validJob(k); err != nil {
		return job.Job{}, err
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: jobKey(k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return job.Job{}, fmt.Errorf("get job %s: %w", k.ID, err)
	}
	if out.Item == nil {
		return job.Job{}, fmt.Errorf("job %s: %w", k.ID, ErrNotFound)
	}
	return decodeJob(out.Item)
}

// query runs a paginated Query and yields every item. Every read is
// strongly consistent: a Query is eventually consistent by default, so a
// start right after an append (FOQUS sends them back to back) could miss the
// jobs just appended and never publish them, and a result page could end
// before jobs just finished. The table's indexes are all local, which allow
// it (a global one would refuse it: infra/stacks checks there is none).
func query[T any](ctx context.Context, st *Store, in *dynamodb.QueryInput) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		in.ConsistentRead = aws.Bool(true)
		if st.PageLimit > 0 {
			in.Limit = aws.Int32(st.PageLimit)
		}
		p := dynamodb.NewQueryPaginator(st.db, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, av := range page.Items {
				var it T
				if err := attributevalue.UnmarshalMap(av, &it); err != nil {
					yield(zero, err)
					return
				}
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

func validSession(user, sid string) error {
	if err := objectkey.User(user); err != nil {
		return err
	}
	return objectkey.ID(sid)
}

func validJob(k job.Key) error {
	if err := validSession(k.User, k.Session); err != nil {
		return err
	}
	return objectkey.ID(k.ID)
}
