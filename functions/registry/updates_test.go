package registry_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/functions/updates"
)

// sqsEvent is the Lambda event the SQS event source mapping makes of received messages.
func sqsEvent(msgs []sqstypes.Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			MessageAttributes: attrs, EventSource: "aws:sqs", AWSRegion: mototest.Region,
		})
	}
	return ev
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

func stringAttrs(kv ...string) map[string]sqstypes.MessageAttributeValue {
	out := map[string]sqstypes.MessageAttributeValue{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(kv[i+1])}
	}
	return out
}

func TestUpdateProcessor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 3)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 3, 2)
	consumer := "7f1f9a8e-2a53-4c0e-8f0a-0f6c1d2b3a4c"
	if _, err := e.store.Claim(ctx, job.Key{User: "alice", Session: sid, ID: ids[0]}, consumer, time.Minute); err != nil {
		t.Fatal(err)
	}

	// Worker events through the update topic, as workers publish them.
	pub := event.NewPublisher(sns.NewFromConfig(e.st.Config), e.st.UpdateTopicARN)
	st := func(id string, s job.State, out string) event.Message {
		return event.Status{User: "alice", Session: sid, Job: id, State: s, Consumer: consumer, Output: []byte(out), At: time.Now()}
	}
	if err := pub.PublishAll(ctx, []event.Message{
		st(ids[0], job.Running, ""),
		st(ids[0], job.Success, `{"graphError":0}`),
		st(ids[0], job.Success, `{"graphError":0}`), // a duplicate
		st(ids[0], job.Setup, ""),                   // late: out of order
		event.Heartbeat{Consumer: consumer, Instance: "i-0abc", User: "alice", Session: sid, Job: ids[0], At: time.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	// A poison message naming ids[1], one naming nothing, and a misrouted job.submit.
	send := func(body string, attrs map[string]sqstypes.MessageAttributeValue) string {
		out, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &e.st.UpdateQueueURL, MessageBody: &body, MessageAttributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return *out.MessageId
	}
	poison := send(`[{"resource":"job","status":"success"}]`, stringAttrs(resource.AttrEvent, "job.success", resource.AttrUser, "alice", resource.AttrSession, sid, resource.AttrJob, ids[1]))
	anonymous := send("not json", nil)
	submitBody, submitAttrs, _ := event.Encode(event.Submit{User: "alice", Session: sid, Job: ids[2], Application: "foqus", Simulation: "s", Input: []byte(`{}`)})
	var sa []string
	for k, v := range submitAttrs {
		sa = append(sa, k, v)
	}
	misrouted := send(submitBody, stringAttrs(sa...))

	msgs := e.drain(e.st.UpdateQueueURL, 8, 2)
	if len(msgs) != 8 {
		t.Fatalf("%d messages on the update queue, want 8", len(msgs))
	}
	resp, err := e.set.Updates(ctx, sqsEvent(msgs))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{poison, anonymous, misrouted}
	slices.Sort(want)
	if got := failedIDs(resp); !slices.Equal(got, want) {
		t.Fatalf("batch item failures %v, want the poison, anonymous and misrouted messages %v", got, want)
	}
	j0, _ := e.store.GetJob(ctx, job.Key{User: "alice", Session: sid, ID: ids[0]})
	if j0.State != job.Success || string(j0.Output) != `{"graphError":0}` || j0.RunningAt.IsZero() || j0.FinishSeq != 1 {
		t.Fatalf("job 0: %+v", j0)
	}
	j1, _ := e.store.GetJob(ctx, job.Key{User: "alice", Session: sid, ID: ids[1]})
	if j1.State != job.Error || !strings.HasPrefix(j1.Message, updates.PoisonMessage) {
		t.Fatalf("job named by the poison message: %+v", j1)
	}
	if j2, _ := e.store.GetJob(ctx, job.Key{User: "alice", Session: sid, ID: ids[2]}); j2.State != job.Submit {
		t.Fatalf("the misrouted submit changed job 2: %+v", j2)
	}
	// The client sees the poisoned job's end on a result page.
	e.newPage("alice", sid, genA)
	if r := e.ok("GET", "/session/"+sid+"/result/"+genA+"/1", "alice", "", nil); !strings.Contains(r.Body, updates.PoisonMessage) {
		t.Fatalf("page: %s", r.Body)
	}
}

// A poison message, reported as failed each time, ends in the dead-letter
// queue after maxReceiveCount receives.
func TestPoisonMessageReachesTheDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &e.st.UpdateQueueURL, MessageBody: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	for range mototest.MaxReceiveCount + 1 {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.st.UpdateQueueURL, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		resp, _ := e.set.Updates(ctx, sqsEvent(out.Messages))
		if len(resp.BatchItemFailures) != 1 {
			t.Fatalf("poison message not reported: %+v", resp)
		}
		// Lambda leaves a failed message invisible for the visibility timeout; skip the wait.
		if _, err := e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &e.st.UpdateQueueURL, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.drain(e.st.UpdateDLQURL, 1, 2); len(got) != 1 || *got[0].Body != "{}" {
		t.Fatalf("DLQ holds %d messages, want the poison message", len(got))
	}
}

// A store failure is worth a retry: every message of the batch is reported.
func TestUpdateProcessorRetriesStoreFailures(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	env := st.Env()
	env[resource.EnvResourcesTable] = "no-such-table"
	set, err := registry.New(st.Config, env, api.FnUpdateProcessor)
	if err != nil {
		t.Fatal(err)
	}
	sid, jid := "5e4b1d52-cf0b-4a4c-9a6d-2a3f0c6b9a11", "0d4c0b8e-3f51-4a36-9c1b-1f1e7a2f0a55"
	body, attrs, err := event.Encode(event.Status{User: "alice", Session: sid, Job: jid, State: job.Running, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body, MessageAttributes: map[string]events.SQSMessageAttribute{}}}}
	for k, v := range attrs {
		ev.Records[0].MessageAttributes[k] = events.SQSMessageAttribute{StringValue: aws.String(v), DataType: "String"}
	}
	resp, err := set.Updates(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("%+v %v, want m1 reported for retry", resp, err)
	}
}
