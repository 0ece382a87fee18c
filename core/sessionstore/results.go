package sessionstore

import (
	"context"
	"errors"
	"fmt"

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
	Pages int   `dynamodbav:"Pages"`
	Upto  int64 `dynamodbav:"Upto"` // last FSeq on a page
}

type pageItem struct {
	From int64 `dynamodbav:"From"` // first FSeq on the page
	To   int64 `dynamodbav:"To"`   // last FSeq on the page
}

// CreatePage puts the jobs finished since generator gen's last page on a new
// page and returns its number; with nothing new it returns the last page's
// number (0 before the first). Pages are per generator and never consumed:
// every generator, and a reconnecting client, sees every finished job once.
func (st *Store) CreatePage(ctx context.Context, user, sid, gen string, size int) (int, error) {
	if err := validSession(user, sid); err != nil {
		return 0, err
	}
	if err := objectkey.ID(gen); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
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
		page := pageItem{From: cur.Upto + 1, To: min(sess.Finished, cur.Upto+int64(size))}
		next := cur.Pages + 1
		pageAV, _ := attributevalue.MarshalMap(page)
		pageAV[resource.PK], pageAV[resource.SK], pageAV["Type"] = s(sessionPK(user, sid)), s(pageSK(gen, next)), s(typePage)
		pageAV[resource.TTLAttribute] = n(st.ttl())
		cond := "attribute_not_exists(PK)"
		if cur.Pages > 0 {
			cond = "Pages = :old"
		}
		values := map[string]types.AttributeValue{
			":t": s(typeCursor), ":pages": n(int64(next)), ":upto": n(page.To), ":ttl": n(st.ttl()),
		}
		if cur.Pages > 0 {
			values[":old"] = n(int64(cur.Pages))
		}
		_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &st.table, Item: pageAV, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			{Update: &types.Update{
				TableName: &st.table, Key: keyOf(sessionPK(user, sid), cursorSK(gen)),
				UpdateExpression:          aws.String("SET #t = :t, Pages = :pages, Upto = :upto, #ttl = :ttl"),
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  map[string]string{"#t": "Type", "#ttl": resource.TTLAttribute},
				ExpressionAttributeValues: values,
			}},
		}})
		if err == nil {
			return next, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || attempt == MaxBatchAttempts {
			return 0, fmt.Errorf("create result page of session %s: %w", sid, err)
		}
		// Another call of the same generator made this page first: read again.
	}
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
		jobs = append(jobs, it.job())
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
