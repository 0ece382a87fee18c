package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// MaxDelay is SQS's longest per-message delay: a later due time takes
// several hops on the archive queue.
const MaxDelay = 900 * time.Second

// Notice is the archive queue's message: a session had no job left to run
// at Finished. The first one (Notify) also asks for the completion e-mail.
// A notice with Restore instead follows a restore of the session's archive.
type Notice struct {
	User     string        `json:"user"`
	Session  string        `json:"session"`
	Finished int64         `json:"finished,omitempty"` // unix seconds
	Notify   bool          `json:"notify,omitempty"`
	Restore  *RestoreWatch `json:"restore,omitempty"`
}

// DecodeNotice parses and validates an archive-queue message body.
func DecodeNotice(body string) (Notice, error) {
	var n Notice
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return Notice{}, fmt.Errorf("archive notice is not JSON: %w", err)
	}
	if err := objectkey.User(n.User); err != nil {
		return Notice{}, fmt.Errorf("archive notice: %w", err)
	}
	if err := objectkey.ID(n.Session); err != nil {
		return Notice{}, fmt.Errorf("archive notice: %w", err)
	}
	if n.Restore != nil {
		if err := n.Restore.validate(n.User, n.Session); err != nil {
			return Notice{}, err
		}
		return n, nil
	}
	if n.Finished <= 0 {
		return Notice{}, fmt.Errorf("archive notice for session %s has no finish time", n.Session)
	}
	return n, nil
}

// Due is when the session's results are due for archive.
func (n Notice) Due(window time.Duration) time.Time {
	return time.Unix(n.Finished, 0).Add(window)
}

// Delay is the delay of the next hop towards due: at most MaxDelay,
// rounded up to whole seconds, 0 once due.
func Delay(now, due time.Time) int32 {
	d := due.Sub(now)
	if d <= 0 {
		return 0
	}
	return int32(math.Ceil(min(d, MaxDelay).Seconds()))
}

// Queue sends notices to the archive queue.
type Queue struct {
	SQS *sqs.Client
	URL string
}

// Send enqueues n to be received after delay seconds (0..900).
func (q *Queue) Send(ctx context.Context, n Notice, delay int32) error {
	if delay < 0 || delay > int32(MaxDelay/time.Second) {
		return fmt.Errorf("archive notice delay %ds: SQS allows 0..%d", delay, int(MaxDelay/time.Second))
	}
	b, _ := json.Marshal(n)
	if _, err := q.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: aws.String(string(b)), DelaySeconds: delay}); err != nil {
		return fmt.Errorf("enqueue archive notice of session %s: %w", n.Session, err)
	}
	return nil
}

// Tracker counts final jobs towards their session's completion and, when a
// session has no job left to run, enqueues its notice: the update
// processor's session-finished hook.
type Tracker struct {
	Store *sessionstore.Store
	Queue *Queue
	Now   func() time.Time
}

// JobFinal is called for every final-state event of job k, duplicates
// included: counting is idempotent, and a notice enqueued twice is harmless
// (the archiver's steps and the e-mail's mark are conditional).
func (t *Tracker) JobFinal(ctx context.Context, k job.Key) error {
	sess, err := t.Store.CountFinished(ctx, k)
	if err != nil || !sess.Complete() {
		return err
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	return t.Queue.Send(ctx, Notice{User: k.User, Session: k.Session, Finished: now().Unix(), Notify: true}, 0)
}
