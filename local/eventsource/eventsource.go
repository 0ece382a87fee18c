// Package eventsource plays a Lambda SQS event source mapping on the local
// stack: it long-polls a queue, hands batches to the function's handler as
// SQS events and deletes what the handler did not report as failed. Failed
// messages become visible again and, after maxReceiveCount, move to the DLQ,
// as in AWS.
package eventsource

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/functions/registry"
)

// LambdaPollers is how many batches Lambda's SQS event source mapping has
// in flight when it starts polling a queue: five (it scales up from there
// with the backlog; the local stack stays at five).
const LambdaPollers = 5

// Poller consumes one queue for one function.
type Poller struct {
	SQS            *sqs.Client
	QueueURL       string
	QueueARN       string
	BatchSize      int
	ReportFailures bool
	Handler        registry.UpdatesFunc
	// Timeout is the function's: each batch runs under it, as Lambda gives
	// an invocation its function's Timeout (zero: no deadline).
	Timeout time.Duration
	Log     *slog.Logger
	// WaitSeconds is the long-poll wait; short enough that a stop is quick.
	WaitSeconds int32
	// Concurrency is how many batches are in flight at once, each received,
	// handled and deleted on its own (LambdaPollers in the local stack; zero
	// means one).
	Concurrency int
}

// Run polls until ctx ends, Concurrency batches at a time.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range max(p.Concurrency, 1) {
		wg.Add(1)
		go func() { defer wg.Done(); p.loop(ctx) }()
	}
	wg.Wait()
	return nil
}

func (p *Poller) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if err := p.poll(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("event source", "queue", p.QueueURL, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// invoke runs the handler on one batch under the function's deadline.
func (p *Poller) invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	return p.Handler(ctx, ev)
}

func (p *Poller) poll(ctx context.Context) error {
	out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(p.QueueURL), MaxNumberOfMessages: int32(min(max(p.BatchSize, 1), 10)),
		WaitTimeSeconds: p.WaitSeconds, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) == 0 {
		return err
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	for i, m := range out.Messages {
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records[i] = events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes, MessageAttributes: attrs,
			EventSource: "aws:sqs", EventSourceARN: p.QueueARN, AWSRegion: "us-east-1",
		}
	}
	resp, err := p.invoke(ctx, ev)
	if err != nil {
		return err // the whole batch comes back after its visibility timeout
	}
	p.Log.Info("event source batch", "queue", p.QueueURL, "messages", len(out.Messages), "failed", len(resp.BatchItemFailures))
	failed := map[string]bool{}
	if p.ReportFailures {
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !failed[aws.ToString(m.MessageId)] {
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(del) == 0 {
		return nil
	}
	d, err := p.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: del})
	if err == nil && len(d.Failed) > 0 {
		err = errors.New("delete failed for " + strconv.Itoa(len(d.Failed)) + " messages: " + aws.ToString(d.Failed[0].Message))
	}
	return err
}
