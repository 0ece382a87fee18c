package consumer_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Benchmark targets (issue 5).
const (
	maxRequestsPerJob = 10
	maxIdleRSS        = 50 << 20
	maxRunningP50     = time.Second
)

// BenchmarkZeroDurationJobs measures one worker process's overhead per job
// against moto with zero-duration fake-job jobs: idle RSS, enqueue-to-running
// latency (one job at a time, long polling), throughput (a batch at once)
// and the AWS requests the worker sends per job (its awsconf.Counter, logged
// at exit). Run: go test -run '^$' -bench ZeroDuration -benchtime 1x ./worker/consumer
func BenchmarkZeroDurationJobs(b *testing.B) {
	const latencyJobs, batch = 10, 40
	h := newHarness(b)
	w := h.startWorker("--wait", "20s", "--lease", "1m", "--extend-every", "10s")
	time.Sleep(3 * time.Second) // idle: started, one long poll in flight
	rss := vmRSS(b, w.cmd.Process.Pid)

	var toRunning []time.Duration
	for range latencyJobs {
		k := h.submit(fakeJob(`{"A":{"x":1,"y":2}}`))[0]
		j := h.waitFinal(k, 20*time.Second)
		if j.State != job.Success {
			b.Fatalf("job %+v", j)
		}
		toRunning = append(toRunning, j.RunningAt.Sub(j.Submitted))
	}
	slices.Sort(toRunning)
	p50 := toRunning[len(toRunning)/2]

	var rate float64
	jobs := latencyJobs
	b.ResetTimer()
	for range b.N {
		reqs := make([]sessionstore.NewJob, batch)
		for i := range reqs {
			reqs[i] = fakeJob(fmt.Sprintf(`{"A":{"x":%d}}`, i))
		}
		keys := h.submit(reqs...)
		// The events are collected first and recorded afterwards, so the
		// update processor's requests do not slow moto down for the worker.
		ends := h.collect(batch, 60*time.Second)
		first, last := ends[0].At, ends[0].At
		for _, e := range ends {
			if e.State != job.Success {
				b.Fatalf("job ended %s: %s", e.State, e.Message)
			}
			first, last = minTime(first, e.At), maxTime(last, e.At)
		}
		for _, k := range keys {
			h.waitFinal(k, 20*time.Second)
		}
		// Steady state: between the first and the last job's end as the
		// worker stamped them.
		rate = (batch - 1) / last.Sub(first).Seconds()
		jobs += batch
	}
	b.StopTimer()
	w.stop(b, 30*time.Second)
	floor := rawFloor(b, h, batch)
	total, ops, err := w.requests()
	if err != nil {
		b.Fatal(err)
	}
	perJob := float64(total) / float64(jobs)
	fixed := ops["DynamoDB.PutItem"] + ops["CloudWatch.PutMetricData"] // heartbeats, per minute not per job
	b.ReportMetric(rate, "jobs/s")
	b.ReportMetric(rate/floor, "ratio-to-raw-moto")
	b.ReportMetric(float64(p50.Milliseconds()), "ms-enqueue-to-running-p50")
	b.ReportMetric(perJob, "aws-req/job")
	b.ReportMetric(float64(rss)/(1<<20), "MB-idle-RSS")
	fmt.Printf("foqus-worker against moto, %d zero-duration fake-job jobs:\n"+
		"  throughput        %.1f jobs/s (batch of %d, one worker, concurrency 1); moto's floor for the\n"+
		"                    same 6 requests issued back to back: %.1f sequences/s (ratio %.2f)\n"+
		"  enqueue->running  p50 %v, max %v (one job at a time, long poll 20s)\n"+
		"  AWS requests      %.2f per job (%d total incl. %d heartbeat; by operation %v)\n"+
		"  idle RSS          %.1f MB\n",
		jobs, rate, batch, floor, rate/floor, p50, toRunning[len(toRunning)-1], perJob, total, fixed, ops, float64(rss)/(1<<20))
	if perJob > maxRequestsPerJob {
		b.Errorf("%.2f AWS requests per job, target <= %d", perJob, maxRequestsPerJob)
	}
	if rss > maxIdleRSS {
		b.Errorf("idle RSS %d MB, target < %d MB", rss>>20, maxIdleRSS>>20)
	}
	if p50 > maxRunningP50 {
		b.Errorf("enqueue-to-running p50 %v, target < %v", p50, maxRunningP50)
	}
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}

// rawFloor is how many times a second moto serves, back to back, the six
// requests a zero-duration job costs the worker (receive, claim, running,
// output, publish, delete) when the test issues them directly: the ceiling
// any worker reaches on this server.
func rawFloor(b *testing.B, h *harness, n int) float64 {
	b.Helper()
	ctx := context.Background()
	q, err := h.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("raw-floor")})
	if err != nil {
		b.Fatal(err)
	}
	db := dynamodb.NewFromConfig(h.Config)
	n2 := sns.NewFromConfig(h.Config)
	key := map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "RAW"}, "SK": &ddbtypes.AttributeValueMemberS{Value: "RAW"}}
	for range n {
		if _, err := h.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	for i := range n {
		out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 1 {
			b.Fatalf("raw receive: %v", err)
		}
		for range 2 {
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(h.ResourcesTable), Key: key, UpdateExpression: aws.String("SET N = :n"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(i)}},
			}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := h.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(h.SessionBucket), Key: aws.String("raw"), Body: strings.NewReader("{}")}); err != nil {
			b.Fatal(err)
		}
		// To the update topic, as the worker's event: moto fans it out to
		// the update queue (nobody reads that queue after this).
		if _, err := n2.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.UpdateTopicARN), Message: aws.String("raw")}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// collect receives n job events from the update queue without recording
// them; they are recorded by the next process calls.
func (h *harness) collect(n int, within time.Duration) []event.Status {
	h.t.Helper()
	ctx := context.Background()
	var out []event.Status
	var held []sqstypes.Message
	deadline := time.Now().Add(within)
	for len(out) < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d job events after %v", len(out), n, within)
		}
		r, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(h.UpdateQueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, VisibilityTimeout: 60,
		})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, m := range r.Messages {
			msg, err := event.Decode(aws.ToString(m.Body), event.SQSAttributes(m.MessageAttributes))
			if err != nil {
				h.t.Fatalf("the worker published an undecodable event: %v", err)
			}
			if st, ok := msg.(event.Status); ok {
				out = append(out, st)
			}
			held = append(held, m)
		}
	}
	for _, m := range held { // back to the queue for process
		if _, err := h.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(h.UpdateQueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}
