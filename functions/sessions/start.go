package sessions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Start publishes pending jobs in chunks, several chunks at once; each chunk
// is moved to submit, published (PublishAll parallelises its batches) and
// taken out of the pending index once SNS confirmed it.
const (
	StartChunk    = 100
	StartParallel = 6
)

// StartSession submits every pending job of the session and returns the ids
// it submitted, in append order, once SNS confirmed each message:
//   - only one start publishes a session at a time (the store's start lease);
//     a concurrent call returns no ids at once, as the original did when
//     nothing was pending;
//   - a stopped session is resumed: its stopped jobs become pending again;
//   - jobs a crashed start left pending in submit are published again (a
//     worker claims a job with a conditional write, so a duplicate message
//     runs nothing twice);
//   - a job whose message cannot be built (e.g. stored before today's
//     validation) is finished as invalid with the reason, never left waiting.
func (s *Service) StartSession(ctx context.Context, user, sid string) ([]string, error) {
	sess, err := s.Store.GetSession(ctx, user, sid)
	if err != nil {
		return nil, err
	}
	if sess.Archive != "" { // nothing can be pending: append refuses archived sessions
		return nil, archivedConflict("Failed to start jobs", sid, sess.Archive)
	}
	switch err := s.Store.AcquireStart(ctx, user, sid, sessionstore.DefaultStartLease); {
	case errors.Is(err, sessionstore.ErrStartBusy):
		return []string{}, nil
	case err != nil:
		return nil, err
	}
	defer s.release(ctx, user, sid)

	if sess.State == sessionstore.SessionStopped {
		if err := s.resume(ctx, user, sid); err != nil {
			return nil, err
		}
	}
	var pending []job.Job
	for j, err := range s.Store.Pending(ctx, user, sid) {
		if err != nil {
			return nil, err
		}
		pending = append(pending, j)
	}
	chunks := make([][]string, (len(pending)+StartChunk-1)/StartChunk)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(StartParallel)
	for c := range chunks {
		part := pending[c*StartChunk : min((c+1)*StartChunk, len(pending))]
		g.Go(func() (err error) {
			chunks[c], err = s.submit(gctx, user, sid, part)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, c := range chunks {
		ids = append(ids, c...)
	}
	if sess.State == sessionstore.SessionKilled && len(ids) > 0 {
		// Jobs appended after a kill run: the session is active again.
		if err := s.Store.SetSessionState(ctx, user, sid, sessionstore.SessionActive); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// resume makes the stopped jobs of a session pending again.
func (s *Service) resume(ctx context.Context, user, sid string) error {
	jobs, err := s.Store.Jobs(ctx, user, sid)
	if err != nil {
		return err
	}
	var keys []job.Key
	for _, j := range jobs {
		if j.State == job.Stop {
			keys = append(keys, j.Key())
		}
	}
	if _, err := s.Store.TransitionMany(ctx, keys, job.Submit); err != nil {
		return err
	}
	return s.Store.SetSessionState(ctx, user, sid, sessionstore.SessionActive)
}

// submit publishes one chunk of pending jobs and returns the ids published.
func (s *Service) submit(ctx context.Context, user, sid string, part []job.Job) ([]string, error) {
	var fresh []job.Key
	queued := make([]job.Key, 0, len(part)) // off the pending index once published
	for _, j := range part {
		switch j.State {
		case job.Create:
			fresh = append(fresh, j.Key())
		case job.Setup, job.Running: // published by a crashed start and already claimed
			queued = append(queued, j.Key())
		}
	}
	moved, err := s.Store.TransitionMany(ctx, fresh, job.Submit)
	if err != nil {
		return nil, err
	}
	send := make(map[string]bool, len(part))
	for _, k := range moved {
		send[k.ID] = true
	}
	var ids []string
	var msgs []event.Message
	var invalid []sessionstore.Finish
	for _, j := range part { // append order; moved jobs, and submit ones left by a crash
		if !send[j.ID] && j.State != job.Submit {
			continue
		}
		m := event.Submit{
			User: user, Session: sid, Job: j.ID, Application: j.Application, Simulation: j.Simulation,
			Input: j.Input, Reset: j.Reset, Initialize: j.Initialize,
		}
		if _, _, err := event.Encode(m); err != nil {
			invalid = append(invalid, sessionstore.Finish{ID: j.ID, State: job.Invalid, Message: "cannot be submitted: " + err.Error()})
			continue
		}
		ids, msgs = append(ids, j.ID), append(msgs, m)
		queued = append(queued, j.Key())
	}
	if len(invalid) > 0 {
		slog.WarnContext(ctx, "start: jobs finished as invalid", "session", sid, "count", len(invalid))
		if err := s.finish(ctx, user, sid, invalid, nil); err != nil {
			return nil, err
		}
	}
	if err := s.Jobs.PublishAll(ctx, msgs); err != nil {
		return nil, err
	}
	if err := s.Store.MarkQueued(ctx, queued); err != nil {
		return nil, err
	}
	return ids, nil
}

// release ends the start lease even when the request's context is done: a
// lease left behind would block the session's starts until it runs out.
func (s *Service) release(ctx context.Context, user, sid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Store.ReleaseStart(ctx, user, sid); err != nil {
		slog.WarnContext(ctx, "release start lease", "session", sid, "err", err)
	}
}
