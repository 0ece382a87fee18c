package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/recorder"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/syncbuf"
)

var (
	srv       *mototest.Server
	workerBin string
)

// TestMain builds the worker binary once: every test runs it as a real
// process against moto.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foqus-worker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "foqus-worker")
	if out, err := exec.Command("go", "build", "-o", workerBin, "github.com/foqus-cloud/stack/worker/cmd/foqus-worker").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build foqus-worker: %v\n%s", err, out)
		os.Exit(1)
	}
	code := mototest.Run(m, &srv)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// harness is one test's stack in moto, with the clients that play the API
// (submitting jobs as post-session-start does) and the update processor
// (recorder.Apply on the update queue).
type harness struct {
	*mototest.Stack
	t     testing.TB
	store *sessionstore.Store
	jobs  *event.Publisher
	sqs   *sqs.Client
	s3    *s3.Client
	rec   recorder.Recorder

	mu     sync.Mutex
	events []event.Status // every job event the workers published, in arrival order
}

func newHarness(t testing.TB) *harness {
	st := srv.Stack(t)
	store := sessionstore.New(dynamodb.NewFromConfig(st.Config), st.ResourcesTable)
	return &harness{
		Stack: st, t: t, store: store, jobs: event.NewPublisher(sns.NewFromConfig(st.Config), st.JobTopicARN),
		sqs: sqs.NewFromConfig(st.Config), s3: awsconf.NewS3(st.Config), rec: recorder.Recorder{Store: store},
	}
}

// fakeJob is a fake-job request with the given input object.
func fakeJob(input string) sessionstore.NewJob {
	return sessionstore.NewJob{Application: job.AppFakeJob, Simulation: "fake", Input: []byte(input)}
}

// append stores jobs in a new session in state create.
func (h *harness) append(reqs ...sessionstore.NewJob) []job.Job {
	h.t.Helper()
	jobs, err := h.store.Append(context.Background(), "alice", uuid.NewString(), reqs)
	if err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

// submit starts jobs as post-session-start does: create -> submit, then one
// job.submit event each on the job topic. It returns when SNS confirmed them.
func (h *harness) submit(reqs ...sessionstore.NewJob) []job.Key {
	h.t.Helper()
	jobs := h.append(reqs...)
	keys := make([]job.Key, len(jobs))
	msgs := make([]event.Message, len(jobs))
	for i, j := range jobs {
		keys[i] = j.Key()
		msgs[i] = submitOf(j)
	}
	ctx := context.Background()
	if _, err := h.store.TransitionMany(ctx, keys, job.Submit); err != nil {
		h.t.Fatal(err)
	}
	if err := h.jobs.PublishAll(ctx, msgs); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.MarkQueued(ctx, keys); err != nil {
		h.t.Fatal(err)
	}
	return keys
}

func submitOf(j job.Job) event.Submit {
	return event.Submit{User: j.User, Session: j.Session, Job: j.ID, Application: j.Application, Simulation: j.Simulation, Input: j.Input}
}

// process plays the update processor once: one long poll of the update
// queue, each event decoded and applied.
func (h *harness) process() {
	h.t.Helper()
	ctx := context.Background()
	out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(h.UpdateQueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range out.Messages {
		msg, err := event.Decode(aws.ToString(m.Body), event.SQSAttributes(m.MessageAttributes))
		if err != nil {
			h.t.Fatalf("the worker published an undecodable event: %v", err)
		}
		if st, ok := msg.(event.Status); ok {
			h.mu.Lock()
			h.events = append(h.events, st)
			h.mu.Unlock()
		}
		if err := h.rec.Apply(ctx, msg); err != nil {
			h.t.Fatal(err)
		}
		if _, err := h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.UpdateQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// eventsOf returns the events published for job id.
func (h *harness) eventsOf(id string) []event.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event.Status
	for _, e := range h.events {
		if e.Job == id {
			out = append(out, e)
		}
	}
	return out
}

// job reads a job from the store.
func (h *harness) job(k job.Key) job.Job {
	h.t.Helper()
	j, err := h.store.GetJob(context.Background(), k)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// waitFor processes events until cond holds for the job, or fails the test.
func (h *harness) waitFor(k job.Key, within time.Duration, what string, cond func(job.Job) bool) job.Job {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := h.job(k)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s not %s within %v: %+v", k.ID, what, within, j)
		}
		h.process()
	}
}

func (h *harness) waitFinal(k job.Key, within time.Duration) job.Job {
	h.t.Helper()
	return h.waitFor(k, within, "final", func(j job.Job) bool { return j.State.Terminal() })
}

// queueDepth counts the messages of a queue, visible or in flight.
func (h *harness) queueDepth(url string) int {
	h.t.Helper()
	out, err := h.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		x, _ := strconv.Atoi(v)
		n += x
	}
	return n
}

// waitEmpty processes events until url holds no message.
func (h *harness) waitEmpty(url string, within time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for h.queueDepth(url) > 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("queue %s still holds %d messages after %v", url, h.queueDepth(url), within)
		}
		h.process()
	}
}

// output reads a job's output object from the session bucket.
func (h *harness) output(key string) map[string]any {
	h.t.Helper()
	out, err := h.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(h.SessionBucket), Key: aws.String(key)})
	if err != nil {
		h.t.Fatalf("output %s: %v", key, err)
	}
	defer func() { _ = out.Body.Close() }()
	var o map[string]any
	if err := json.NewDecoder(out.Body).Decode(&o); err != nil {
		h.t.Fatal(err)
	}
	return o
}

// testFlags make jobs, leases and stops quick.
var testFlags = []string{"--wait", "1s", "--lease", "3s", "--extend-every", "500ms", "--drain", "5s", "--heartbeat", "1m"}

// worker is a running foqus-worker process.
type worker struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	err  error
	dir  string // its work directory
}

// startWorker runs foqus-worker with the stack's names in its environment.
func (h *harness) startWorker(flags ...string) *worker {
	h.t.Helper()
	w := &worker{out: &syncbuf.Buffer{}, done: make(chan struct{}), dir: h.t.TempDir()}
	args := append([]string{"run", "--config", "env", "--stop-grace", "30s", "--"}, testFlags...)
	w.cmd = exec.Command(workerBin, append(append(args, "--keep-work"), flags...)...)
	w.cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION="+mototest.Region, "FOQUS_WORKER_WORK_DIR="+w.dir)
	for k, v := range h.Env() {
		w.cmd.Env = append(w.cmd.Env, k+"="+v)
	}
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	h.t.Cleanup(func() {
		w.kill()
		if h.t.Failed() {
			h.t.Logf("worker %d log:\n%s", w.cmd.Process.Pid, w.out.String())
		}
	})
	return w
}

func (w *worker) kill() {
	select {
	case <-w.done:
	default:
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// stop sends SIGTERM and waits for the exit.
func (w *worker) stop(t testing.TB, within time.Duration) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
		if w.err != nil {
			t.Fatalf("worker exit after stop: %v\n%s", w.err, w.out.String())
		}
	case <-time.After(within):
		t.Fatalf("worker still running %v after SIGTERM", within)
	}
}

// alive fails the test if the worker process has exited.
func (w *worker) alive(t testing.TB) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("worker exited: %v\n%s", w.err, w.out.String())
	default:
	}
}

var opCount = regexp.MustCompile(`("[^"]+"|[^\s"=]+)=(\d+)`)

// requests parses the worker's "aws requests" exit line: total and per
// operation ("Service.Operation", quoted by slog when the service has a space).
func (w *worker) requests() (int, map[string]int, error) {
	for _, line := range strings.Split(w.out.String(), "\n") {
		if !strings.Contains(line, `msg="aws requests"`) {
			continue
		}
		ops := map[string]int{}
		total := -1
		for _, m := range opCount.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[2])
			switch k := strings.Trim(m[1], `"`); {
			case k == "total":
				total = n
			case strings.Contains(k, "."): // Service.Operation
				ops[k] = n
			}
		}
		return total, ops, nil
	}
	return 0, nil, errors.New("no aws requests line in the worker's log")
}
