// Package sessions serves the session routes: create, list, read, append,
// start, kill and stop (spec R2-R9). Every state change goes through the
// session store's conditional writes; start enqueues each job exactly once
// and answers only after SNS confirmed every message.
package sessions

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// Service holds what the session routes use.
type Service struct {
	Store *sessionstore.Store
	Jobs  *event.Publisher // the job topic; start publishes there
	Tiers *Tiers           // the free tier's job limit on append; none when nil
	// Final, when set, runs for every job this service ends (a kill, or a
	// start that finds a job it cannot submit), as it runs for the jobs
	// workers end: it counts the job towards its session's completion, so a
	// killed session of a free user is archived like a finished one.
	Final func(context.Context, job.Key) error
}

// KillMessage is the Message of every job a kill ends.
const KillMessage = "killed by user"

// Create answers a fresh session id (R3) or, under /session/{id}/result, a
// fresh generator id (R9): a bare JSON string, as the original's content
// type said, text. Nothing is stored; a session exists once jobs are
// appended, and an id reveals nothing of anyone's data.
func Create(context.Context, events.APIGatewayProxyRequest, string) (events.APIGatewayProxyResponse, error) {
	return httpx.Raw(http.StatusOK, "application/text", `"`+uuid.NewString()+`"`), nil
}

// List answers the ids of the user's sessions (R2).
func (s *Service) List(ctx context.Context, _ events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	ids := []string{}
	for sess, err := range s.Store.Sessions(ctx, user) {
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		ids = append(ids, sess.ID)
	}
	return httpx.JSON(http.StatusOK, ids)
}

// Get answers the metadata of every job of a session, in append order (R4).
func (s *Service) Get(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if _, err := s.Store.GetSession(ctx, user, sid); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	jobs, err := s.Store.Jobs(ctx, user, sid)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	md := make([]jobview.Metadata, len(jobs))
	for i, j := range jobs {
		md[i] = jobview.NewMetadata(j)
	}
	return httpx.JSON(http.StatusOK, md)
}

// Append stores the body's jobs in state create and answers their new ids
// in input order (R5). The session comes into being with its first append.
func (s *Service) Append(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	body, err := httpx.LimitedBody(req, MaxAppendBody)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	reqs, err := ParseAppend(body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	jobs, err := s.appendJobs(ctx, user, sid, reqs)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return httpx.JSON(http.StatusOK, ids)
}

// Start submits the session's pending jobs and answers their ids (R6); see StartSession.
func (s *Service) Start(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	ids, err := s.StartSession(ctx, user, sid)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, ids)
}

// Kill ends every job of the session that is not final as terminate (R7),
// before answering: queued jobs are never run, and a running job's worker
// loses its lease and stops the run. A session with no jobs yet (POST
// /session stores nothing) has nothing to kill: 200, as the original
// answered FOQUS's Stop button.
func (s *Service) Kill(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if err := s.KillSession(ctx, user, sid); err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, sid)
}

// Stop pauses the session's jobs that no worker holds yet (R8); start resumes them.
func (s *Service) Stop(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if err := s.StopSession(ctx, user, sid); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, sid)
}

// KillSession finishes every non-final job of the session as terminate.
func (s *Service) KillSession(ctx context.Context, user, sid string) error {
	sess, err := s.Store.GetSession(ctx, user, sid)
	if err != nil {
		return err
	}
	jobs, err := s.Store.Jobs(ctx, user, sid)
	if err != nil {
		return err
	}
	var fs []sessionstore.Finish
	var settled []string
	for _, j := range jobs {
		if j.State.Terminal() {
			settled = append(settled, j.ID)
		} else {
			fs = append(fs, sessionstore.Finish{ID: j.ID, State: job.Terminate, Message: KillMessage})
		}
	}
	if sess.Complete() {
		settled = nil // every end is counted
	}
	if err := s.finish(ctx, user, sid, fs, settled); err != nil {
		return err
	}
	return s.Store.SetSessionState(ctx, user, sid, sessionstore.SessionKilled)
}

// finish ends jobs of the session and runs Final for each one it ended and
// for the settled ones (counting is idempotent: a kill repeated after a
// failed count counts what the first one did not). Refusals in the results
// are jobs that finished meanwhile: whoever ended them counts them.
func (s *Service) finish(ctx context.Context, user, sid string, fs []sessionstore.Finish, settled []string) error {
	rs, err := s.Store.FinishMany(ctx, user, sid, fs)
	if err != nil || s.Final == nil {
		return err
	}
	for _, r := range rs {
		if r.Err == nil {
			settled = append(settled, r.ID)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sessionstore.WriteParallel)
	for _, id := range settled {
		g.Go(func() error { return s.Final(gctx, job.Key{User: user, Session: sid, ID: id}) })
	}
	return g.Wait()
}

// Stop waits this long for a start of the same session before it answers 409.
const (
	StopWait = 5 * time.Second
	stopPoll = 100 * time.Millisecond
)

// StopSession moves the session's create and submit jobs to stop. It holds
// the session's start lease meanwhile, so a concurrent start cannot resume
// what it pauses.
func (s *Service) StopSession(ctx context.Context, user, sid string) error {
	deadline := time.Now().Add(StopWait)
	for {
		err := s.Store.AcquireStart(ctx, user, sid, sessionstore.DefaultStartLease)
		if err == nil {
			break
		}
		if !errors.Is(err, sessionstore.ErrStartBusy) {
			return err
		}
		if time.Now().After(deadline) {
			return httpx.Errorf(http.StatusConflict, "session %s is being started; stop it again later", sid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(stopPoll):
		}
	}
	defer s.release(ctx, user, sid)
	jobs, err := s.Store.Jobs(ctx, user, sid)
	if err != nil {
		return err
	}
	var keys []job.Key
	for _, j := range jobs {
		if j.State == job.Create || j.State == job.Submit {
			keys = append(keys, j.Key())
		}
	}
	if _, err := s.Store.TransitionMany(ctx, keys, job.Stop); err != nil {
		return err
	}
	return s.Store.SetSessionState(ctx, user, sid, sessionstore.SessionStopped)
}
