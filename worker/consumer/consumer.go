// Package consumer is the worker's job loop. It long-polls the job queue,
// claims each job in the session store with a conditional write, runs it
// with the runner of its application, writes the output to S3, publishes the
// job's one terminal event to the update topic and only then deletes the
// message. One file per background component: receive.go (the poll loop),
// process.go (one job), extend.go (lease, visibility and kill poll),
// poison.go (messages that never decode), heartbeat.go, instance.go
// (termination notices and the lifecycle hook).
//
// A job that runs shorter than one extension period costs the worker six
// AWS requests: ReceiveMessage, UpdateItem (claim: submit -> setup),
// UpdateItem (setup -> running), PutObject (output), Publish (the end) and
// DeleteMessage. The update processor records the end (core/recorder).
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/worker/config"
	"github.com/foqus-cloud/stack/worker/runner"
)

// MaxInlineOutput is the largest output also carried inside the terminal
// event; the S3 object is always written. The margin leaves room for the
// envelope and the attributes within SNS's 256 KB.
const MaxInlineOutput = event.MaxBody - 8<<10

// cleanupTimeout bounds the AWS calls that end a job after its context is gone
// (hand-back, publish, delete).
const cleanupTimeout = 30 * time.Second

// Clients are the AWS clients of a Consumer. CloudWatch, AutoScaling and
// IMDS are optional: without them there is no heartbeat metric, no
// lifecycle completion and no termination watch.
type Clients struct {
	SQS         *sqs.Client
	S3          *s3.Client
	DynamoDB    *dynamodb.Client
	SNS         *sns.Client
	CloudWatch  *cloudwatch.Client
	AutoScaling *autoscaling.Client
	IMDS        *imds.Client
}

// Consumer runs jobs from the job queue.
type Consumer struct {
	// ID names this worker process in claims, heartbeats and events.
	ID string

	s       config.Settings
	c       Clients
	store   *sessionstore.Store
	pub     *event.Publisher
	runners runner.Set
	log     *slog.Logger

	mu      sync.Mutex
	running map[job.Key]bool // for heartbeats

	protMu    sync.Mutex // serialises scale-in protection changes (lifecycle.go)
	protected bool
}

// New returns a Consumer with a fresh consumer id.
func New(s config.Settings, c Clients, runners runner.Set, log *slog.Logger) *Consumer {
	id := uuid.NewString()
	store := sessionstore.New(c.DynamoDB, s.Stack.ResourcesTable)
	store.Retention = time.Duration(s.Stack.RetentionDays) * 24 * time.Hour // validated: at least a day
	return &Consumer{
		ID: id, s: s, c: c, runners: runners, log: log.With("consumer", id),
		store:   store,
		pub:     event.NewPublisher(c.SNS, s.Stack.UpdateTopicARN),
		running: map[job.Key]bool{},
	}
}

// Reasons a running job stops other than by ending.
var (
	errKilled   = errors.New("the job was ended while it ran (killed)")
	errLost     = errors.New("another consumer holds the job now")
	errHandBack = errors.New("the worker is stopping: the job goes back to the queue")
)

// TimeoutError ends a run that exceeded the job timeout.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %v", e.After) }

// PanicError is a runner's panic, turned into the job's error.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("runner panicked: %v", e.Value) }

// Run consumes jobs until ctx ends or the instance is going away (a spot
// interruption or the Auto Scaling termination hook, seen through instance
// metadata). Then it stops receiving, lets running jobs finish within the
// drain period, hands back those still running (lease released, message
// visible again), completes the lifecycle action and returns. It never
// returns because a job failed.
func (c *Consumer) Run(ctx context.Context) error {
	if err := os.MkdirAll(c.s.WorkDir, 0o700); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	// Jobs outlive ctx: a stop lets them finish, then hands them back.
	jobs, handBack := context.WithCancelCause(context.WithoutCancel(ctx))
	defer handBack(nil)
	recv, stopReceiving := context.WithCancelCause(ctx)
	defer stopReceiving(nil)
	alive, stopBeating := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { c.heartbeat(alive) })
	if c.s.IMDSPoll > 0 && c.c.IMDS != nil {
		bg.Go(func() { c.watchInstance(recv, stopReceiving) })
	}
	c.log.Info("worker started", "queue", c.s.Stack.JobQueueURL, "concurrency", c.s.Concurrency, "instance", c.s.Instance)
	c.completeLaunch(ctx)

	var work sync.WaitGroup
	c.receive(recv, jobs, &work)

	why := context.Cause(recv)
	var notice *TerminationNotice
	drain := c.s.Drain
	beats, stopDrainBeats := context.WithCancel(context.WithoutCancel(ctx))
	switch {
	case errors.As(why, &notice) && notice.Spot:
		drain = 0 // two minutes' warning: no job finishes in time, hand them back now
	case notice != nil:
		// The drain hook waits: let the job finish, keeping the hook open.
		drain = c.terminationDrain()
		go c.drainHeartbeats(beats, c.drainHeartbeatEvery())
	}
	c.log.Info("stopping: no new jobs", "reason", why, "drain", drain)
	c.drain(&work, drain, handBack)
	stopDrainBeats()
	stopBeating()
	bg.Wait()
	if notice != nil {
		if !notice.Spot {
			c.completeLifecycle(context.WithoutCancel(ctx))
		}
		// The instance is going away: stay idle until the system stops us,
		// rather than exit and be restarted by the service manager.
		<-ctx.Done()
	}
	c.log.Info("worker stopped")
	return nil
}

// drain waits for running jobs up to grace, then hands back the rest.
func (c *Consumer) drain(work *sync.WaitGroup, grace time.Duration, handBack context.CancelCauseFunc) {
	done := make(chan struct{})
	go func() { work.Wait(); close(done) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	c.log.Warn("drain period over: handing back the running jobs")
	handBack(errHandBack)
	<-done
}

// track records which jobs run, for heartbeats and scale-in protection.
func (c *Consumer) track(k job.Key, on bool) {
	c.mu.Lock()
	if on {
		c.running[k] = true
	} else {
		delete(c.running, k)
	}
	c.mu.Unlock()
	c.syncProtection()
}
