// Package archiver is the archive queue's function: each message is a
// session that had no job left to run. The first delivery sends the
// completion e-mail; for a free user the message then hops on the queue
// (SQS delays of at most 900 s) until the stage's window has passed, and the
// session's results are archived (core/archive). Messages that fail are
// reported, so SQS retries them and, past maxReceiveCount, moves them to the
// archive DLQ.
package archiver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/notify"
)

// Handler archives the sessions of archive-queue messages.
type Handler struct {
	Service  *archive.Service
	Queue    *archive.Queue
	Notifier *notify.Notifier
	Now      func() time.Time
}

// Handle processes a batch and reports the messages to retry.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, msg := range ev.Records {
		if err := h.handle(ctx, msg.Body); err != nil {
			slog.WarnContext(ctx, "archive notice not handled", "message", msg.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) handle(ctx context.Context, body string) error {
	n, err := archive.DecodeNotice(body)
	if err != nil {
		return err
	}
	if n.Restore != nil {
		return h.watch(ctx, n)
	}
	u, err := h.Service.Users.Get(ctx, n.User)
	if err != nil {
		return err
	}
	if n.Notify {
		if err := h.notify(ctx, n, u.Tier); err != nil {
			return err
		}
	}
	if u.Tier == user.Premium {
		return nil
	}
	if d := archive.Delay(h.now(), n.Due(h.Service.Settings.Window)); d > 0 {
		n.Notify = false
		return h.Queue.Send(ctx, n, d)
	}
	out, err := h.Service.Archive(ctx, n.User, n.Session)
	var le *sessionstore.LeaseError
	if errors.As(err, &le) {
		// Another delivery of this notice is archiving the session: this copy
		// comes back when that run's lease ends, in case the run died. Sent
		// again rather than failed, it spends none of the message's receives.
		slog.InfoContext(ctx, "archive", "user", n.User, "session", n.Session, "outcome", "held by another run", "until", le.Until)
		n.Notify = false
		return h.Queue.Send(ctx, n, archive.Delay(h.now(), le.Until))
	}
	if err == nil {
		slog.InfoContext(ctx, "archive", "user", n.User, "session", n.Session, "outcome", out)
	}
	return err
}

// watch looks at the restore a notice follows and sends it on while the
// restore runs; one past its tier's SLA is logged as LogRestoreOverdue, which
// the stage's restore-stuck alarm counts.
func (h *Handler) watch(ctx context.Context, n archive.Notice) error {
	res, err := h.Service.WatchRestore(ctx, n.User, n.Session, *n.Restore)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case archive.WatchThawed:
		slog.InfoContext(ctx, "restore thawed without its event", "user", n.User, "session", n.Session, "key", n.Restore.Key)
		h.Notifier.SendRestored(ctx, res.Thawed)
		return nil
	case archive.WatchDone:
		return nil
	case archive.WatchOverdue:
		slog.ErrorContext(ctx, archive.LogRestoreOverdue, "user", n.User, "session", n.Session, "key", n.Restore.Key,
			"tier", n.Restore.Tier, "requested", time.Unix(n.Restore.Requested, 0).UTC())
	}
	n.Restore = &res.Next
	return h.Queue.Send(ctx, n, res.Again)
}

// notify mails the completion notice once per completion: the session's
// mark is set first, so a redelivery does not mail again.
func (h *Handler) notify(ctx context.Context, n archive.Notice, tier user.Tier) error {
	sess, err := h.Service.Store.GetSession(ctx, n.User, n.Session)
	if err != nil {
		return err
	}
	first, err := h.Service.Store.MarkNotified(ctx, n.User, n.Session, sess.Done)
	if err != nil || !first {
		return err
	}
	jobs, err := h.Service.Store.Jobs(ctx, n.User, n.Session)
	if err != nil {
		return err
	}
	counts := map[job.State]int{}
	for _, j := range jobs {
		counts[j.State]++
	}
	// At most once: a failed send is logged, never retried (nor does it hold up the archive).
	if _, err := h.Notifier.Send(ctx, n.User, notify.Finished(n.Session, counts, tier, h.Service.Settings.Window)); err != nil {
		slog.WarnContext(ctx, "completion notice not sent", "user", n.User, "session", n.Session, "err", err)
	}
	return nil
}
