package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/sessionstore"
)

// RestoreWatch follows one requested restore on the archive queue. S3's
// restore-completed event drives the thaw, but nothing else would notice an
// event that never comes or a restore that stalls: the watch looks at the
// archive when its tier's SLA is due (in hops of at most MaxDelay), thaws a
// restore that finished without its event reaching thaw, asks again for one
// S3 has no record of, and reports one past its SLA (LogRestoreOverdue).
type RestoreWatch struct {
	Key       string `json:"key"`
	Tier      string `json:"tier"`      // the tier S3 accepted
	Requested int64  `json:"requested"` // unix seconds
}

// LogRestoreOverdue is the log message of a restore past its tier's SLA:
// the stage's restore-stuck alarm counts these lines.
const LogRestoreOverdue = "restore overdue"

// Watched is what one look at a restore found.
type Watched string

// The outcomes of WatchRestore.
const (
	WatchDone    Watched = "done"    // the session no longer waits for this restore: nothing to follow
	WatchThawed  Watched = "thawed"  // the restore had finished: thawed here
	WatchWaiting Watched = "waiting" // the restore runs, within its SLA (or was asked for again)
	WatchOverdue Watched = "overdue" // the restore runs past its SLA
)

// WatchResult is one look at a restore.
type WatchResult struct {
	Outcome Watched
	Thawed  Thawed       // WatchThawed: what the thaw did
	Next    RestoreWatch // waiting, overdue: the watch to send again (a restore asked for again starts anew)
	Again   int32        // its delay in seconds
}

// WatchRetry is how soon a restore that finished is looked at again while
// the archiver still drops the session's live outputs (it thaws when done).
const WatchRetry = 60 * time.Second

// due is when the restore w follows should be done: its tier's SLA for an
// archive in class, from the request.
func (w RestoreWatch) due(class s3types.StorageClass) time.Time {
	return time.Unix(w.Requested, 0).Add(RestoreSLA(class, s3types.Tier(w.Tier)))
}

func (w RestoreWatch) validate(user, sid string) error {
	u, s, err := ParseKey(w.Key)
	switch {
	case err != nil:
		return err
	case u != user || s != sid:
		return fmt.Errorf("restore watch of %s names another session's archive", sid)
	case w.Requested <= 0:
		return fmt.Errorf("restore watch of session %s has no request time", sid)
	}
	switch s3types.Tier(w.Tier) {
	case s3types.TierExpedited, s3types.TierStandard, s3types.TierBulk:
		return nil
	}
	return fmt.Errorf("restore watch of session %s: tier %q", sid, w.Tier)
}

// WatchRestore looks at the restore w follows, of session sid of user.
func (s *Service) WatchRestore(ctx context.Context, user, sid string, w RestoreWatch) (WatchResult, error) {
	sess, err := s.Store.GetSession(ctx, user, sid)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return WatchResult{Outcome: WatchDone}, nil
	}
	if err != nil {
		return WatchResult{}, err
	}
	if sess.Archive != sessionstore.Restoring || sess.ArchiveKey != w.Key {
		return WatchResult{Outcome: WatchDone}, nil
	}
	class := s3types.StorageClass(sess.ArchiveClass)
	head, err := s.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: aws.String(w.Key)})
	if err != nil {
		return WatchResult{}, fmt.Errorf("restore of %s: %w", w.Key, err)
	}
	now := s.now()
	next := w
	switch restore := aws.ToString(head.Restore); {
	case restore == "": // S3 has no restore of it (never asked, or expired unread): ask again
		r, err := s.RequestRestore(ctx, w.Key, class)
		if err != nil {
			return WatchResult{}, err
		}
		next.Tier, next.Requested = string(r.Tier), now.Unix()
	case strings.Contains(restore, `ongoing-request="false"`):
		th, err := s.Restored(ctx, w.Key)
		if errors.Is(err, ErrNotDropped) {
			return WatchResult{Outcome: WatchWaiting, Next: next, Again: int32(WatchRetry / time.Second)}, nil
		}
		if err != nil {
			return WatchResult{}, err
		}
		return WatchResult{Outcome: WatchThawed, Thawed: th}, nil
	case now.After(w.due(class)):
		return WatchResult{Outcome: WatchOverdue, Next: next, Again: int32(MaxDelay / time.Second)}, nil
	}
	return WatchResult{Outcome: WatchWaiting, Next: next, Again: max(Delay(now, next.due(class)), 1)}, nil
}

// FirstWatch is the notice that follows restore r of sess, requested at
// now, and its delay: the restore's SLA (its first hop of at most MaxDelay).
func FirstWatch(now time.Time, sess sessionstore.Session, r Restore) (Notice, int32) {
	w := RestoreWatch{Key: sess.ArchiveKey, Tier: string(r.Tier), Requested: now.Unix()}
	return Notice{User: sess.User, Session: sess.ID, Restore: &w}, Delay(now, w.due(s3types.StorageClass(sess.ArchiveClass)))
}

// watch sends the first look at a restore just requested.
func (s *Service) watch(ctx context.Context, sess sessionstore.Session, r Restore) error {
	if s.Watches == nil {
		return nil
	}
	n, delay := FirstWatch(s.now(), sess, r)
	return s.Watches.Send(ctx, n, delay)
}
