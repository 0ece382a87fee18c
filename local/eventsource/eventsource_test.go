package eventsource_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/local/eventsource"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// Every message published while the poller runs reaches the handler once,
// and the queue ends empty.
func TestPollerDeliversEveryMessage(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	var seen sync.Map
	var n atomic.Int64
	p := &eventsource.Poller{
		SQS: sqs.NewFromConfig(st.Config), QueueURL: st.UpdateQueueURL, BatchSize: 10, ReportFailures: true,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), WaitSeconds: 1,
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				if _, dup := seen.LoadOrStore(r.Body, true); !dup {
					n.Add(1)
				}
			}
			return events.SQSEventResponse{}, nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	pub := event.NewPublisher(sns.NewFromConfig(st.Config), st.UpdateTopicARN)
	const total = 60
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < total/2; i++ {
				m := event.Status{User: "alice", Session: uuid.NewString(), Job: uuid.NewString(), State: job.Success, At: time.Now()}
				if err := pub.Publish(ctx, m); err != nil {
					t.Error(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	eventually.Within(20*time.Second, func() bool { return n.Load() >= total }) // short is reported below
	cancel()
	<-done
	if n.Load() != total {
		t.Fatalf("handler saw %d of %d messages", n.Load(), total)
	}
}

// With Concurrency n, n batches are in flight at once (Lambda's five
// pollers), never more; every message is handled and then deleted. A
// standard queue delivers at least once, and moto's concurrent receives do
// hand one message to two pollers now and then, as SQS may: what the
// poller owns is that nothing it handled stays on the queue.
func TestPollerRunsConcurrentBatches(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	q := sqs.NewFromConfig(st.Config)
	const pollers, total = 5, 15
	var mu sync.Mutex
	inFlight, peak, handled := 0, 0, map[string]int{}
	reached := make(chan struct{})
	p := &eventsource.Poller{
		SQS: q, QueueURL: st.UpdateQueueURL, BatchSize: 1, ReportFailures: true, Concurrency: pollers,
		Log: slog.New(slog.DiscardHandler), WaitSeconds: 1,
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			if inFlight == pollers {
				close(reached)
			}
			for _, r := range ev.Records {
				handled[r.Body]++
			}
			mu.Unlock()
			select { // hold the batch until all pollers hold one (or give up)
			case <-reached:
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return events.SQSEventResponse{}, nil
		},
	}
	for i := range total {
		if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &st.UpdateQueueURL, MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(handled) }
	left := func() map[string]string {
		attrs, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &st.UpdateQueueURL, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return attrs.Attributes
	}
	empty := func() bool {
		for _, v := range left() {
			if v != "0" {
				return false
			}
		}
		return true
	}
	eventually.Within(30*time.Second, func() bool { return count() >= total && empty() })
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if peak != pollers {
		t.Errorf("%d batches in flight at most, want %d", peak, pollers)
	}
	for i := range total {
		if n := handled[strconv.Itoa(i)]; n < 1 {
			t.Errorf("message %d never handled", i)
		}
	}
	for name, v := range left() {
		if v != "0" {
			t.Errorf("queue %s = %s after every message was handled: a handled message was not deleted", name, v)
		}
	}
}
