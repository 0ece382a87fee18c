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

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// DefaultPageSize is the most finished jobs one result page holds.
const DefaultPageSize = 500

// cursorItem is how far one generator has paged through a session's finished jobs.
type cursorItem struct {
	Pages    int   `dynamodbav:"Pages"`
	Upto     int64 `dynamodbav:"Upto"`               // last FSeq on a page
	GapSeq   int64 `dynamodbav:"GapSeq,omitempty"`   // a finish number seen missing...
	GapSince int64 `dynamodbav:"GapSince,omitempty"` // ...since then (unix ms)
}

type pageItem struct {
	From int64 `dynamodbav:"From"` // first FSeq on the page
	To   int64 `dynamodbav:"To"`   // last FSeq on the page
}

// HoleTimeout is how long a finish number may stay missing before paging
// passes it: longer than any write can be in flight (a Lambda's 15 min), so
// only numbers whose writer died are passed.
const HoleTimeout = 16 * time.Minute

// CreatePage puts the jobs finished since generator gen's last page on a new
// page and returns its number; with nothing new it returns the last page's
// number (0 before the first). Pages are per generator and never consumed:
// every generator, and a reconnecting client, sees every finished job once.
// A page ends before the first finish number still in flight, so a job whose
// write lands late is not skipped.
func (st *Store) CreatePage(ctx context.Context, user, sid, gen string, size int) (int, error) {
	if err := validSession(user, sid); err != nil {
		return 0, err
	}
	if err := objectkey.ID(gen); err != nil {
		return 0, err
	}
	for attempt := 0; attempt < MaxBatchAttempts; attempt++ {
		sess, err := st.GetSession(ctx, user, sid)
		if err != nil {
			return 0, err
		}
		var cur cursorItem
		if err := st.getItem(ctx, sessionPK(user, sid), cursorSK(gen), &cur); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
		if sess.Finished <= cur.Upto {
			return cur.Pages, nil
		}
		to, err := st.settled(ctx, user, sid, cur.Upto, min(sess.Finished, cur.Upto+int64(size)))
		if err != nil {
			return 0, err
		}
		if to == cur.Upto { // the next number is still in flight, or its writer died
			if err := st.gap(ctx, user, sid, gen, &cur); err != nil {
				return 0, err
			}
			if cur.GapSeq != 0 {
				return cur.Pages, nil
			}
			continue // a dead writer's number was marked as a hole: page again
		}
		next, err := st.putPage(ctx, user, sid, gen, cur, pageItem{From: cur.Upto + 1, To: to})
		if errors.Is(err, errRaced) {
			continue // another call of the same generator moved first: read again
		}
		return next, err
	}
	return 0, fmt.Errorf("create result page of session %s: still racing after %d attempts", sid, MaxBatchAttempts)
}

// settled returns the last finish number of the run upto+1, upto+2, ...
// (at most limit) whose jobs or hole markers are all written.
func (st *Store) settled(ctx context.Context, user, sid string, upto, limit int64) (int64, error) {
	for it, err := range query[struct{ FSeq int64 }](ctx, st, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String(resource.FinishedIndex),
		KeyConditionExpression:    aws.String("PK = :pk AND FSeq BETWEEN :from AND :to"),
		ProjectionExpression:      aws.String(resource.FinishedSeq),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(sessionPK(user, sid)), ":from": n(upto + 1), ":to": n(limit)},
	}) {
		if err != nil {
			return 0, fmt.Errorf("finished jobs of session %s: %w", sid, err)
		}
		if it.FSeq != upto+1 {
			break
		}
		upto++
	}
	return upto, nil
}

// gap notes when the generator first saw its next finish number missing and,
// once that is HoleTimeout ago, marks the number as a hole (cur.GapSeq = 0).
func (st *Store) gap(ctx context.Context, user, sid, gen string, cur *cursorItem) error {
	missing, now := cur.Upto+1, st.Now().UnixMilli()
	if cur.GapSeq == missing && now-cur.GapSince > HoleTimeout.Milliseconds() {
		cur.GapSeq = 0
		return st.putHole(ctx, user, sid, missing)
	}
	if cur.GapSeq == missing {
		return nil
	}
	cur.GapSeq, cur.GapSince = missing, now
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(sessionPK(user, sid), cursorSK(gen)),
		UpdateExpression:          aws.String("SET #t = :t, Pages = if_not_exists(Pages, :zero), Upto = if_not_exists(Upto, :zero), GapSeq = :g, GapSince = :since, #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#t": "Type", "#ttl": resource.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s(typeCursor), ":zero": n(0), ":g": n(missing), ":since": n(now), ":ttl": n(st.ttl())},
	})
	return err
}

var errRaced = errors.New("raced")

// putPage writes page cur.Pages+1, then moves the cursor past it. A page left
// by a call that died between the two writes is adopted, not written again.
func (st *Store) putPage(ctx context.Context, user, sid, gen string, cur cursorItem, page pageItem) (int, error) {
	next := cur.Pages + 1
	av, _ := attributevalue.MarshalMap(page)
	av[resource.PK], av[resource.SK], av["Type"] = s(sessionPK(user, sid)), s(pageSK(gen, next)), s(typePage)
	av[resource.TTLAttribute] = n(st.ttl())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if err := st.getItem(ctx, sessionPK(user, sid), pageSK(gen, next), &page); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, fmt.Errorf("write result page %d: %w", next, err)
	}
	cond := "attribute_not_exists(Pages) OR Pages = :old"
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(sessionPK(user, sid), cursorSK(gen)),
		UpdateExpression:          aws.String("SET #t = :t, Pages = :pages, Upto = :upto, #ttl = :ttl REMOVE GapSeq, GapSince"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#t": "Type", "#ttl": resource.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s(typeCursor), ":pages": n(int64(next)), ":upto": n(page.To), ":old": n(int64(cur.Pages)), ":ttl": n(st.ttl())},
	})
	if errors.As(err, &ccf) {
		return 0, errRaced
	}
	if err != nil {
		return 0, fmt.Errorf("advance result cursor: %w", err)
	}
	return next, nil
}

// Page returns result page n of generator gen: the finished jobs on it, in
// finishing order.
func (st *Store) Page(ctx context.Context, user, sid, gen string, num int) ([]job.Job, error) {
	if err := validSession(user, sid); err != nil {
		return nil, err
	}
	if err := objectkey.ID(gen); err != nil {
		return nil, err
	}
	var p pageItem
	if err := st.getItem(ctx, sessionPK(user, sid), pageSK(gen, num), &p); err != nil {
		return nil, fmt.Errorf("result page %d: %w", num, err)
	}
	jobs := make([]job.Job, 0, p.To-p.From+1)
	for it, err := range query[jobItem](ctx, st, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String(resource.FinishedIndex),
		KeyConditionExpression: aws.String("PK = :pk AND FSeq BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(sessionPK(user, sid)), ":from": n(p.From), ":to": n(p.To),
		},
	}) {
		if err != nil {
			return nil, fmt.Errorf("result page %d: %w", num, err)
		}
		if it.Type == typeJob {
			jobs = append(jobs, it.job())
		}
	}
	return jobs, nil
}

func (st *Store) getItem(ctx context.Context, pk, sk string, v any) error {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return ErrNotFound
	}
	return attributevalue.UnmarshalMap(out.Item, v)
}
