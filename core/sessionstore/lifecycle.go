package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
//
// From ClaimArchive (or ClaimDrop) to MarkDropped one run holds the
// session's lease: SQS may deliver one archive notice twice at once, and two
// runs writing and dropping side by side could delete outputs a thaw has just
// re-homed. The lease lasts past the run's own deadline (see Lease), so it
// never changes hands while its holder can still act.
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
	LeaseRun     string // the run holding the archive's lease (ClaimArchive, ClaimDrop)
	LeaseUntil   int64  // when that lease ends, unix milliseconds
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
	LeaseRun     string `dynamodbav:"LeaseRun,omitempty"`
	LeaseUntil   int64  `dynamodbav:"LeaseUntil,omitempty"`
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

// Lease is one archive run's hold on a session: Run names the run, Until is
// when the hold ends (the run's deadline plus a margin: the run can no longer
// act by then), Now is the run's clock at the claim.
type Lease struct {
	Run        string
	Now, Until time.Time
}

// LeaseError says another run holds the session's archive lease until Until.
type LeaseError struct {
	Session string
	Until   time.Time
}

func (e *LeaseError) Error() string {
	return fmt.Sprintf("session %s: another archive run holds it until %s", e.Session, e.Until.UTC().Format(time.RFC3339))
}

// leaseFree is the condition that the session's lease is free for l (none,
// run out, or l's own), with its values.
func leaseFree(l Lease, values map[string]types.AttributeValue) string {
	values[":run"], values[":now"], values[":until"] = s(l.Run), n(l.Now.UnixMilli()), n(l.Until.UnixMilli())
	return "(attribute_not_exists(LeaseRun) OR LeaseUntil < :now OR LeaseRun = :run)"
}

// heldByOther reports, from the session as a refused claim found it, whether
// another run's lease is what refused it.
func heldByOther(old *sessionItem, sid string, l Lease) error {
	if old.LeaseRun != "" && old.LeaseRun != l.Run && old.LeaseUntil >= l.Now.UnixMilli() {
		return &LeaseError{Session: sid, Until: time.UnixMilli(old.LeaseUntil)}
	}
	return nil
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
// key, which it returns), and takes the session's lease for l. It refuses a
// session whose lease another run holds (LeaseError), and one with jobs left
// to run or already past archiving (ErrArchiveState).
func (st *Store) ClaimArchive(ctx context.Context, user, sid, key, class string, l Lease) (Session, error) {
	values := map[string]types.AttributeValue{":a": s(Archiving), ":k": s(key), ":c": s(class)}
	cond := "Done >= Jobs AND (attribute_not_exists(ArchiveState) OR (ArchiveState = :a AND " + leaseFree(l, values) + "))"
	sess, old, err := st.updateSession(ctx, user, sid,
		"SET ArchiveState = :a, ArchiveKey = if_not_exists(ArchiveKey, :k), ArchiveClass = if_not_exists(ArchiveClass, :c), LeaseRun = :run, LeaseUntil = :until",
		cond, values)
	if old != nil {
		if lerr := heldByOther(old, sid, l); lerr != nil {
			return Session{}, lerr
		}
	}
	return sess, err
}

// ClaimDrop takes the lease of a session archived (or restoring) under key
// whose live outputs are still to be dropped, for l. A session already
// dropped is answered as it is, with no lease taken; one whose lease another
// run holds is refused (LeaseError).
func (st *Store) ClaimDrop(ctx context.Context, user, sid, key string, l Lease) (Session, error) {
	values := map[string]types.AttributeValue{":a": s(Archived), ":r": s(Restoring), ":k": s(key)}
	cond := "ArchiveState IN (:a, :r) AND ArchiveKey = :k AND attribute_not_exists(LiveDropped) AND " + leaseFree(l, values)
	sess, old, err := st.updateSession(ctx, user, sid, "SET LeaseRun = :run, LeaseUntil = :until", cond, values)
	switch {
	case old == nil || (old.Archive != Archived && old.Archive != Restoring) || old.ArchiveKey != key:
		return sess, err
	case old.Dropped:
		return old.session(), nil
	}
	if lerr := heldByOther(old, sid, l); lerr != nil {
		return Session{}, lerr
	}
	return sess, err
}

// updateSession is a conditional session write answering the session as it
// left it or, refused (ErrArchiveState), the item as the refusal found it.
func (st *Store) updateSession(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue) (Session, *sessionItem, error) {
	if err := validSession(user, sid); err != nil {
		return Session{}, nil, err
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(PK) AND (" + cond + ")"),
		ExpressionAttributeValues: values, ReturnValues: types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old *sessionItem
		if len(ccf.Item) > 0 {
			old = &sessionItem{}
			if attributevalue.UnmarshalMap(ccf.Item, old) != nil {
				old = nil
			}
		}
		return Session{}, old, fmt.Errorf("session %s: %w", sid, ErrArchiveState)
	}
	if err != nil {
		return Session{}, nil, fmt.Errorf("update session %s: %w", sid, err)
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return Session{}, nil, fmt.Errorf("session %s: %w", sid, err)
	}
	return it.session(), nil, nil
}

// MarkArchived makes the archive object under key the truth of the session,
// in one transaction with guard (the user's tier check): ErrTierChanged when
// the guard fails, ErrArchiveState when the session is not archiving under
// key with run's lease.
func (st *Store) MarkArchived(ctx context.Context, user, sid, key, run string, guard types.TransactWriteItem) error {
	if err := validSession(user, sid); err != nil {
		return err
	}
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		guard,
		{Update: &types.Update{
			TableName: &st.table, Key: keyOf(userPK(user), sessionSK(sid)),
			UpdateExpression:          aws.String("SET ArchiveState = :to"),
			ConditionExpression:       aws.String("ArchiveState = :from AND ArchiveKey = :k AND LeaseRun = :run"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":to": s(Archived), ":from": s(Archiving), ":k": s(key), ":run": s(run)},
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
// restoring) under key are removed, ends run's lease, and returns the session
// as this write left it: Restoring means an upgrade came meanwhile and did
// not thaw, so the caller does.
func (st *Store) MarkDropped(ctx context.Context, user, sid, key, run string) (Session, error) {
	return st.sessionUpdateNew(ctx, user, sid, "SET LiveDropped = :yes REMOVE LeaseRun, LeaseUntil", "ArchiveState IN (:a, :r) AND ArchiveKey = :k AND LeaseRun = :run",
		map[string]types.AttributeValue{":yes": &types.AttributeValueMemberBOOL{Value: true}, ":a": s(Archived), ":r": s(Restoring), ":k": s(key), ":run": s(run)})
}

// FinishThaw makes a session archived under key live again (its outputs
// were re-homed first).
func (st *Store) FinishThaw(ctx context.Context, user, sid, key string) error {
	return st.sessionUpdate(ctx, user, sid, "REMOVE "+archiveAttrs, "ArchiveState IN (:a, :r) AND ArchiveKey = :k",
		map[string]types.AttributeValue{":a": s(Archived), ":r": s(Restoring), ":k": s(key)})
}

// archiveAttrs are the attributes a live session has none of.
const archiveAttrs = "ArchiveState, ArchiveKey, ArchiveClass, LiveDropped, LeaseRun, LeaseUntil"

func (st *Store) sessionUpdate(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue) error {
	_, err := st.sessionUpdateNew(ctx, user, sid, expr, cond, values)
	return err
}

// sessionUpdateNew is sessionUpdate answering the session as the write left
// it, read atomically with the write.
func (st *Store) sessionUpdateNew(ctx context.Context, user, sid, expr, cond string, values map[string]types.AttributeValue) (Session, error) {
	sess, _, err := st.updateSession(ctx, user, sid, expr, cond, values)
	return sess, err
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
