package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/backoff"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/worker/runner"
)

// Publish retries on top of the SDK's own, before the message is left to
// come back after its lease.
const (
	publishAttempts = 3
	publishMaxDelay = 4 * time.Second
)

// handle decodes one message and runs its job; visibleUntil is when the
// message becomes visible again unless extended.
func (c *Consumer) handle(ctx context.Context, m sqstypes.Message, visibleUntil time.Time) {
	defer func() {
		if r := recover(); r != nil { // a bug here must not take the worker down
			c.log.Error("panic handling a message; it will be delivered again", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	attrs := event.SQSAttributes(m.MessageAttributes)
	msg, err := event.Decode(aws.ToString(m.Body), attrs)
	sub, ok := msg.(event.Submit)
	if err == nil && !ok {
		err = &event.DecodeError{Kind: event.UnknownType, Field: "type", Reason: msg.Event() + " is not a job to run"}
	}
	if err != nil {
		c.poison(ctx, m, attrs, err)
		return
	}
	c.process(ctx, m, sub, visibleUntil)
}

// process claims, stages, runs and reports one job.
func (c *Consumer) process(ctx context.Context, m sqstypes.Message, sub event.Submit, visibleUntil time.Time) {
	k := job.Key{User: sub.User, Session: sub.Session, ID: sub.Job}
	log := c.log.With("job", k.ID, "session", k.Session, "user", k.User)
	j, err := c.store.Claim(ctx, k, c.ID, c.s.Lease)
	if err != nil {
		c.refused(ctx, m, log, err)
		return
	}
	log = log.With("attempt", j.Attempts)
	if j.Attempts > c.s.MaxAttempts {
		c.abandon(ctx, m, j, log)
		return
	}
	c.track(k, true)
	defer c.track(k, false)

	// One context for setup and run: the timeout, a kill, a lost lease and a
	// hand-back end either, and the lease is extended throughout.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, c.s.JobTimeout, &TimeoutError{After: c.s.JobTimeout})
	defer cancelTimeout()
	stopExtending := c.extend(runCtx, stop, k, m, visibleUntil, log)
	res, runErr := c.run(runCtx, j, log)
	cause := context.Cause(runCtx)
	stopExtending()

	// The job's context may be gone (hand-back): end the job on a fresh one.
	end, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var te *TimeoutError
	var pe *progressError
	switch {
	case errors.Is(cause, errKilled), errors.Is(runErr, job.ErrAlreadyFinal):
		log.Info("job killed: its process tree is ended", "run_error", runErr)
		c.delete(end, m, log)
		return
	case errors.Is(cause, errLost):
		log.Warn("job lost to another consumer; dropping this run", "run_error", runErr)
		return
	case errors.Is(cause, errHandBack) && runErr != nil, errors.As(runErr, &pe):
		c.handBack(end, k, m, log, runErr)
		return
	}
	st := event.Status{User: k.User, Session: k.Session, Job: k.ID, State: job.Success, Consumer: c.ID, Instance: c.s.Instance}
	switch {
	case runErr != nil && errors.As(cause, &te):
		st.State, st.Message = job.Error, te.Error()
	case runErr != nil:
		st.State, st.Message = job.Error, c.failure(runErr, log)
	case res.GraphError != 0:
		st.State, st.Message = job.Error, res.Message
	}
	if len(res.Output) > 0 {
		if err := c.saveOutput(end, k, res.Output); err != nil {
			st.State, st.Message = job.Error, "store output: "+err.Error()
		} else {
			st.OutputKey = objectkey.JobOutput(k.User, k.Session, k.ID)
			if len(res.Output) <= MaxInlineOutput {
				st.Output = res.Output
			}
		}
	}
	st.At = time.Now().UTC()
	if err := c.publish(end, st); err != nil {
		log.Error("could not publish the job's end; the message comes back after its lease", "err", err)
		return
	}
	log.Info("job ended", "state", st.State, "message", st.Message)
	c.delete(end, m, log)
}

// failure is the message of a run that failed: the runner's reason, with
// the worker's work directory removed in case an error named a file there.
// What a failed process wrote goes to the worker's log, not to the user.
func (c *Consumer) failure(err error, log *slog.Logger) string {
	var ee *runner.ExitError
	if errors.As(err, &ee) {
		log.Warn("job process failed", "program", ee.Program, "status", ee.Code, "stderr", ee.Stderr)
	}
	msg := err.Error()
	if c.s.WorkDir != "" {
		msg = strings.ReplaceAll(msg, c.s.WorkDir, "<work directory>")
	}
	return msg
}

// abandon ends a job whose earlier runs all ended without a result: the
// worker running it crashed, was killed or stopped every time.
func (c *Consumer) abandon(ctx context.Context, m sqstypes.Message, j job.Job, log *slog.Logger) {
	st := event.Status{
		User: j.User, Session: j.Session, Job: j.ID, State: job.Error, Consumer: c.ID, Instance: c.s.Instance, At: time.Now().UTC(),
		Message: fmt.Sprintf("abandoned after %d attempts without a result (the worker crashed, was killed or stopped)", j.Attempts-1),
	}
	if err := c.publish(ctx, st); err != nil {
		log.Error("could not publish the end of an abandoned job", "err", err)
		return
	}
	log.Warn("job abandoned", "attempts", j.Attempts-1)
	c.delete(ctx, m, log)
}

// progressError: the store did not take the job's move to running for a
// reason other than a kill (a transient failure, or a takeover).
type progressError struct{ err error }

func (e *progressError) Error() string { return "mark the job running: " + e.err.Error() }
func (e *progressError) Unwrap() error { return e.err }

// run stages j in a fresh work directory (the job is in setup), marks it
// running with a conditional write and runs it. A runner's panic becomes its
// error; a refused move to running is returned as is when the job is final
// (killed during setup), else as a *progressError.
func (c *Consumer) run(ctx context.Context, j job.Job, log *slog.Logger) (res runner.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("runner panicked", "panic", r, "stack", string(debug.Stack()))
			err = &PanicError{Value: r}
		}
	}()
	r, err := c.runners.For(j.Application)
	if err != nil {
		return runner.Result{}, err
	}
	// One directory per attempt: a crashed worker's orphans cannot write into it.
	dir := filepath.Join(c.s.WorkDir, j.ID, strconv.Itoa(j.Attempts))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return runner.Result{}, err
	}
	if !c.s.KeepWork {
		defer func() {
			if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
				log.Warn("work directory not removed", "err", err)
			}
		}()
	}
	run, err := r.Stage(ctx, runner.Job{
		Key: j.Key(), Application: j.Application, Simulation: j.Simulation, Input: j.Input,
		Reset: j.Reset, Initialize: j.Initialize, Dir: dir,
	})
	if err != nil {
		return runner.Result{}, err
	}
	if _, err := c.store.Transition(ctx, j.Key(), job.Running, sessionstore.Change{Consumer: c.ID}); err != nil {
		if errors.Is(err, job.ErrAlreadyFinal) {
			return runner.Result{}, err
		}
		return runner.Result{}, &progressError{err: err}
	}
	log.Info("job running", "application", j.Application, "simulation", j.Simulation)
	return run(ctx)
}

// refused handles a claim the store refused.
func (c *Consumer) refused(ctx context.Context, m sqstypes.Message, log *slog.Logger, err error) {
	var he *sessionstore.HeldError
	var te *job.TransitionError
	switch {
	case errors.As(err, &he):
		// Another consumer runs it (a duplicate delivery): look again when
		// its lease ends; by then it is final, or its holder is gone.
		log.Info("job held by another consumer; message left", "holder", he.Consumer, "until", he.Until)
		c.setVisibility(ctx, m, time.Until(he.Until)+time.Second, log)
	case errors.As(err, &te) && (te.From == job.Setup || te.From == job.Running):
		log.Info("job held by another consumer; message left", "state", te.From)
	case errors.As(err, &te), errors.Is(err, sessionstore.ErrNotFound):
		// Final, stopped (a resume enqueues it again) or gone: nothing to run.
		log.Info("job not runnable; message deleted", "reason", err)
		c.delete(ctx, m, log)
	default:
		log.Error("claim failed; message retried soon", "err", err)
		c.setVisibility(ctx, m, c.s.ExtendEvery, log)
	}
}

// handBack releases the job's lease and makes its message visible at once,
// so a worker takes it over without waiting for the lease to run out.
func (c *Consumer) handBack(ctx context.Context, k job.Key, m sqstypes.Message, log *slog.Logger, why error) {
	if err := c.store.Release(ctx, k, c.ID); err != nil {
		log.Warn("release of the job's lease failed; it runs out by itself", "err", err)
	}
	c.setVisibility(ctx, m, 0, log)
	log.Info("job handed back", "reason", why)
}

func (c *Consumer) saveOutput(ctx context.Context, k job.Key, out []byte) error {
	_, err := c.c.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(c.s.Stack.SessionBucket), Key: aws.String(objectkey.JobOutput(k.User, k.Session, k.ID)),
		Body: bytes.NewReader(out), ContentType: aws.String("application/json"),
	})
	return err
}

// publish sends the job's one terminal event and returns once SNS confirmed it.
func (c *Consumer) publish(ctx context.Context, st event.Status) error {
	var err error
	for attempt := range publishAttempts {
		if attempt > 0 && backoff.Sleep(ctx, backoff.Delay(attempt, time.Second, publishMaxDelay)) != nil {
			return ctx.Err()
		}
		err = c.pub.Publish(ctx, st)
		if event.IsDecodeError(err) && len(st.Output) > 0 {
			st.Output = nil // too big for a message after all: the S3 copy is the output
			err = c.pub.Publish(ctx, st)
		}
		if err == nil || event.IsDecodeError(err) {
			return err
		}
	}
	return err
}

func (c *Consumer) delete(ctx context.Context, m sqstypes.Message, log *slog.Logger) {
	if _, err := c.c.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl: aws.String(c.s.Stack.JobQueueURL), ReceiptHandle: m.ReceiptHandle,
	}); err != nil {
		log.Warn("delete of the message failed; its redelivery will find the job final", "err", err)
	}
}

// setVisibility makes the message visible again after d (0: now).
func (c *Consumer) setVisibility(ctx context.Context, m sqstypes.Message, d time.Duration, log *slog.Logger) {
	d = min(max(d, 0), 12*time.Hour) // SQS's range
	if _, err := c.c.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.s.Stack.JobQueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds(d),
	}); err != nil {
		log.Warn("change of the message's visibility failed", "err", err)
	}
}
