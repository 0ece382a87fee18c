package consumer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
)

// The same job.submit delivered again while the job runs (SNS and SQS
// deliver at least once): one run. The second delivery finds the job held,
// waits out the lease, then finds it final and is deleted. (Both deliveries
// in one receive would race two claims inside moto, whose conditional
// writes are not atomic under concurrent requests; DynamoDB's are.)
func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := h.append(fakeJob(`{"A":{"x":3},"control":{"delay":1.5}}`))
	k := jobs[0].Key()
	if _, err := h.store.TransitionMany(context.Background(), []job.Key{k}, job.Submit); err != nil {
		t.Fatal(err)
	}
	sub := submitOf(jobs[0])
	w := h.startWorker("--concurrency", "2")
	if err := h.jobs.Publish(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	if err := h.jobs.Publish(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	j := h.waitFinal(k, 20*time.Second)
	h.waitEmpty(h.JobQueueURL, 20*time.Second)
	if j.State != job.Success || j.Attempts != 1 || j.FinishSeq != 1 {
		t.Fatalf("job %+v: want one successful attempt", j)
	}
	if ev := h.eventsOf(k.ID); len(ev) != 1 {
		t.Fatalf("%d terminal events, want 1", len(ev))
	}
	log := w.out.String()
	if strings.Count(log, `msg="job running"`) != 1 || !strings.Contains(log, "job held by another consumer") {
		t.Fatalf("want one run and one delivery left for the holder:\n%s", log)
	}
	w.stop(t, 10*time.Second)
}

// A message that never decodes is not deleted: SQS moves it to the
// dead-letter queue after its last receive, and the job its attributes name
// ends as error with the reason.
func TestPoisonMessageGoesToTheDLQAndEndsItsJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := h.append(fakeJob(`{}`))
	k := jobs[0].Key()
	if _, err := h.store.TransitionMany(context.Background(), []job.Key{k}, job.Submit); err != nil {
		t.Fatal(err)
	}
	attr := func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if _, err := h.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(h.JobQueueURL), MessageBody: aws.String(`{"v":1,"type":"job.submit","msg":{"user":"alice"`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			resource.AttrEvent: attr(event.TypeSubmit), resource.AttrUser: attr(k.User), resource.AttrSession: attr(k.Session), resource.AttrJob: attr(k.ID),
		},
	}); err != nil {
		t.Fatal(err)
	}
	w := h.startWorker()
	j := h.waitFinal(k, 20*time.Second)
	if j.State != job.Error || !strings.Contains(j.Message, "undeliverable job message: decode message: not a JSON envelope") {
		t.Fatalf("job %s %q, want error with the decode reason", j.State, j.Message)
	}
	eventually.True(t, 30*time.Second, "the poison message in the DLQ", func() bool { return h.queueDepth(h.JobDLQURL) == 1 })
	h.waitEmpty(h.JobQueueURL, 5*time.Second)
	if j := h.job(k); j.FinishSeq != 1 {
		t.Fatalf("job finished %d times", j.FinishSeq)
	}
	w.alive(t)
	w.stop(t, 10*time.Second)
}
