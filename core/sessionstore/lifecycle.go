package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
)

// Archive states of a session's results (Lifecycle.Archive). A session
// without one is live: its outputs are in the job items and the bucket.
//
//	live --ClaimArchive--> archiving --MarkArchived--> archived --MarkRestoring--> restoring
//	  ^                        |                          |                           |
//	  +------AbortArchive------+                          +---------FinishThaw--------+
//
// Every arrow is a conditional write naming the archive object's key, so a
// step repeated after a crash, or a late step of a superseded run, is refused.
// Apart from the state, MarkDropped records that the archiver has removed
// the live outputs (archived or restoring): a thaw waits for it, since a thaw
// before it would re-home outputs the archiver then removes.
const (
	Archiving = "archiving" // an archive object is being written; live outputs are the truth
	Archived  = "archived"  // the archive object is the truth; live outputs are (being) removed
	Restoring = "restoring" // a restore of the archive object was requested
)

// Lifecycle is the result-lifecycle part of a session.
type Lifecycle struct {
	Done         int64  // jobs counted final (CountFinished); Done >= Jobs: nothing left to run
	Notified     int64  // the Done count a completion notice was last sent for
	Archive      string // "", Archiving, Archived or Restoring
	ArchiveKey   string // the session's archive object in the session bucket
	ArchiveClass string // its storage class
	Dropped      bool   // the archiver removed the live outputs (MarkDropped)
}

// Complete reports whether no job of the session is left to run.
func (s Session) Complete() bool { return s.Jobs > 0 && s.Done >= s.Jobs }

type lifecycleAttrs struct {
	Done         int64  `dynamodbav:"Done,omitempty"`
	Notified     int64  `dynamodbav:"Notified,omitempty"`
	Archive      string `dynamodbav:"ArchiveState,omitempty"`
	ArchiveKey   string `dynamodbav:"ArchiveKey,omitempty"`
	ArchiveClass string `dynamodbav:"ArchiveClass,omitempty"`
	Dropped      bool   `dynamodbav:"LiveDropped,omitempty"`
}

func (a lifecycleAttrs) lifecycle() Lifecycle {
	return Lifecycle(a)
}

// ErrArchiveState says a lifecycle step does not apply to the session as it
// is now (another run moved it, or it was never in the step's start state).
var ErrArchiveState = errors.New("session is not in the archive state this step starts from")

// ArchivedError refuses to add work to a session whose results are archived,
// or being archived or restored (State): its jobs are settled.
type ArchivedError struct{ Session, State string }

func (e *ArchivedError) Error() string {
	return fmt.Sprintf("session %s is %s", e.Session, e.State)
}

// ErrTierChanged says the user's tier changed under an archive: the
// transaction that would have marked the session archived was cancelled.
var ErrTierChanged = errors.New("the user's tier changed during the archive")

// CountFinished counts job k, once it is final, towards its session's Done
// count and returns the session as it is afterwards. The job's Counted flag
// and the session's counter change in one transaction, so a retry after a
// crash, or a duplicate event, never counts a job twice, and every final job
// is counted by whichever delivery of its event comes first.
func (st *Store) CountFinished(ctx context.Context, k job.Key) (Session, error) {
	if err := validJob(k); err != nil {
		return Session{}, err
	}
	values := map[string]types.AttributeValue{":yes": &types.AttributeValueMemberBOOL{Value: true}}
	cond := "attribute_exists(PK) AND attribute_not_exists(Counted) AND " + inStates("#st", terminalStates(), values)
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &st.table, Key: jobKey(k), UpdateExpression: aws.String("SET Counted = :yes"),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#st": "State"},
			ExpressionAttributeValues: values,
		}},
		{Update: &types.Update{
			TableName: &st.table, Key: keyOf(userPK(k.User), sessionSK(k.Session)),
			UpdateExpression: aws.String("ADD Done :one"), ConditionExpression: aws.String("attribute_exists(PK)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		}},
	}})
	var tce *types.TransactionCanceledException
	if err != nil && !errors.As(err, &tce) { // cancelled: counted before, not final, or gone
		return Session{}, fmt.Errorf("count job %s finished: %w", k.ID, err)
	}
	return st.GetSession(ctx, k.User, k.Session)
}

func terminalStates() []job.State {
	var out []job.State
	for _, s := range job.States {
		if s.Terminal() {
			out = append(out, s)
		}
	}
	return out
}

// MarkNotified records that a completion notice for the session's current
// Done count goes out; false when one already did (a duplicate trigger).
func (st *Store) MarkNotified(ctx context.Context, user, sid string, done int64) (bool, error) {
	err := st.sessionUpdate(ctx, user, sid, "SET Notified = :d", "attribute_not_exists(Notified) OR Notified < :d",
		map[string]types.AttributeValue{":d": n(done)})
	if errors.Is(err, ErrArchiveState) {
		return false, nil
	}
	return err == nil, err
}

// ClaimArchive starts an archive of a complete, live session under key, or
// resumes one that a crashed run started (the session then keeps its first
// key, which it returns). It refuses (ErrArchiveState) a session with jobs
// left to run or already past archiving.
func (st *Store) ClaimArchive(ctx context.Context, user, sid, key, class string) (Session, error) {
	if err := validSession(user, sid); err != nil {
		return Session{}, err
	}
	if err := st.sessionUpdate(ctx, user, sid,
		"SET ArchiveState = :a, ArchiveKey = if_not_exists(ArchiveKey, :k), ArchiveClass = if_not_exists(ArchiveClass, :c)",
		"Done >= Jobs AND (attribute_not_exists(ArchiveState) OR ArchiveState = :a)",
		map[string]types.AttributeValue{":a": s(Archiving), ":k": s(key), ":c": s(class)}); err != nil {
		return Session{}, err
	}
	return st.GetSession(ctx, user, sid)
}

// MarkArchived makes the archive object under key the truth of the session,
// in one transaction with guard (the user's tier check): ErrTierChanged when
// the guard fails, ErrArchiveState when the session is not archiving under key.
func (st *Store) MarkArchived(ctx context.Context, user, sid, key string, guard types.TransactWriteItem) error {
	if err := validSession(user, sid); err != nil {
		return err
	}
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		guard,
		{Update: &types.Update{
			TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
			UpdateExpression:          aws.String("SET ArchiveState = :to"),
			ConditionExpression:       aws.String("ArchiveState = :from AND ArchiveKey = :k"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":to": s(Archived), ":from": s(Archiving), ":k": s(key)},
		}},
	}})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return ErrTierChanged
		}
		return fmt.Errorf("session %s: %w", sid, ErrArchiveState)
	}
	if err != nil {
		return fmt.Errorf("mark session %s archived: %w", sid, err)
	}
	return nil
}

// AbortArchive returns an archiving session to live (the archive under key
// is to be deleted by the caller).
func (st *Store) AbortArchive(ctx context.Context, user, sid, key string) error {
	return st.sessionUpdate(ctx, user, sid, "REMOVE "+archiveAttrs, "ArchiveState = :a AND ArchiveKey = :k",
		map[string]types.AttributeValue{":a": s(Archiving), ":k": s(key)})
}

// MarkRestoring notes that the user wants the archive under key back (its
// restore is requested, or a GLACIER_IR archive is thawed at once) and
// returns the session as this write left it: Dropped false means the
// archiver is still removing live outputs, and thaws when it is done. A
// session already restoring under key is left as it is.
func (st *Store) MarkRestoring(ctx context.Context, user, sid, key string) (Session, error) {
	return st.sessionUpdateNew(ctx, user, sid, "SET ArchiveState = :to", "ArchiveState IN (:from, :to) AND ArchiveKey = :k",
		map[string]types.AttributeValue{":to": s(Restoring), ":from": s(Archived), ":k": s(key)})
}

// MarkDropped records that the live outputs of a session archived (or
// restoring) under key are removed, and returns the session as this write
// left it: Restoring means an upgrade came meanwhile and did not thaw, so
// the caller does. Repeating it is harmless.
func (st *Store) MarkDropped(ctx context.Context, user, sid, key string) (Session, error) {
	return st.sessionUpdateNew(ctx, user, sid, "SET LiveDropped = :yes", "ArchiveState IN (:a, :r) AND ArchiveKey = :k",
		map[string]types.AttributeValue{":yes": &types.AttributeValueMemberBOOL{Value: true}, ":a": s(Archived), ":r": s(Restoring), ":k": s(key)})
}

// FinishThaw makes a session archived under key live again (its outputs
// were re-homed first).
func (st *Store) FinishThaw(ctx context.Context, user, sid, key string) error {
	return st.sessionUpdate(ctx, user, sid, "REMOVE "+archiveAttrs, "ArchiveState IN (:a, :r) AND ArchiveKey = :k",
		map[string]types.AttributeValue{":a": s(Archived), ":r": s(Restoring), ":k": s(key)})
}

// archiveAttrs are the attributes a live session has none of.
const archiveAttrs = "ArchiveState, ArchiveKey, ArchiveClass, LiveDropped"

func (st *Store) sessionUpdate(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue) error {
	_, err := st.update(ctx, user, sid, expr, cond, values, types.ReturnValueNone)
	return err
}

// sessionUpdateNew is sessionUpdate answering the session as the write left
// it, read atomically with the write.
func (st *Store) sessionUpdateNew(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue) (Session, error) {
	out, err := st.update(ctx, user, sid, expr, cond, values, types.ReturnValueAllNew)
	if err != nil {
		return Session{}, err
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return Session{}, fmt.Errorf("session %s: %w", sid, err)
	}
	return it.session(), nil
}

func (st *Store) update(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue, rv types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	if err := validSession(user, sid); err != nil {
		return nil, err
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(PK) AND (" + cond + ")"),
		ExpressionAttributeValues: values, ReturnValues: rv,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, fmt.Errorf("session %s: %w", sid, ErrArchiveState)
	}
	if err != nil {
		return nil, fmt.Errorf("update session %s: %w", sid, err)
	}
	return out, nil
}

// SetOutput replaces the output a job item holds: output inline (nil removes
// it) and outputKey, the output's object in the session bucket ("" removes
// it). The archiver leaves a stub there; thaw puts the original back.
func (st *Store) SetOutput(ctx context.Context, k job.Key, output []byte, outputKey string) error {
	if err := validJob(k); err != nil {
		return err
	}
	var set, remove []string
	names := map[string]string{"#o": "Output"}
	values := map[string]types.AttributeValue{":ttl": n(st.ttl())}
	set = append(set, "#ttl = :ttl")
	names["#ttl"] = resource.TTLAttribute
	if output != nil {
		set, values[":o"] = append(set, "#o = :o"), s(string(output))
	} else {
		remove = append(remove, "#o")
	}
	if outputKey != "" {
		set, values[":k"] = append(set, "OutputKey = :k"), s(outputKey)
	} else {
		remove = append(remove, "OutputKey")
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: jobKey(k), UpdateExpression: aws.String(expr),
		ConditionExpression: aws.String("attribute_exists(PK)"), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("job %s: %w", k.ID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set output of job %s: %w", k.ID, err)
	}
	return nil
}
