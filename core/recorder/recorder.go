// Package recorder applies the events workers publish to the session store:
// the update processor's logic, shared by the Lambda, the local stack and
// tests. Applying an event twice, or out of order, changes nothing.
package recorder

import (
	"context"
	"errors"
	"fmt"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Recorder writes events into a session store.
type Recorder struct {
	Store *sessionstore.Store
	// OnFinal, when set, runs after every final-state event is recorded
	// (duplicates too): the result lifecycle's session-finished hook.
	OnFinal func(context.Context, job.Key) error
}

// Apply records one decoded event. Refused transitions (duplicates, late or
// out-of-order events, events for jobs already final) are no-ops and return
// nil; an error means the event should be retried.
func (r *Recorder) Apply(ctx context.Context, m event.Message) error {
	switch m := m.(type) {
	case event.Status:
		return r.status(ctx, m)
	case event.Heartbeat:
		return r.Store.Heartbeat(ctx, sessionstore.Consumer{ID: m.Consumer, Instance: m.Instance, User: m.User, Session: m.Session, Job: m.Job})
	default:
		return fmt.Errorf("recorder: no handling for %s events", m.Event())
	}
}

func (r *Recorder) status(ctx context.Context, m event.Status) error {
	k := job.Key{User: m.User, Session: m.Session, ID: m.Job}
	var err error
	if m.State.Terminal() {
		_, err = r.Store.Finish(ctx, k, sessionstore.Finish{
			State: m.State, Message: m.Message, Consumer: m.Consumer, Output: m.Output, OutputKey: m.OutputKey,
		})
		if err = Benign(err); err == nil && r.OnFinal != nil {
			err = Benign(r.OnFinal(ctx, k))
		}
	} else {
		_, err = r.Store.Transition(ctx, k, m.State, sessionstore.Change{})
	}
	return Benign(err)
}

// Benign returns nil for errors that mean "already recorded" or "no longer
// applies" (a refused transition, a job that no longer exists), err otherwise.
func Benign(err error) error {
	var te *job.TransitionError
	var he *sessionstore.HeldError
	if err == nil || errors.As(err, &te) || errors.As(err, &he) || errors.Is(err, sessionstore.ErrNotFound) {
		return nil
	}
	return err
}
