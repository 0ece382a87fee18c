package event

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/backoff"
	"github.com/foqus-cloud/stack/core/batch"
)

// Publishing limits and retry policy.
const (
	PublishParallel    = 8 // batches in flight at once
	MaxPublishAttempts = 6
	publishBackoff     = 50 * time.Millisecond // failed entries (throttled) wait from this
	publishMaxDelay    = 2 * time.Second
)

// Publisher sends messages to one SNS topic.
type Publisher struct {
	sns   *sns.Client
	topic string
}

// NewPublisher returns a Publisher for topicARN.
func NewPublisher(c *sns.Client, topicARN string) *Publisher {
	return &Publisher{sns: c, topic: topicARN}
}

// Publish sends one message.
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	body, attrs, err := Encode(m)
	if err != nil {
		return err
	}
	_, err = p.sns.Publish(ctx, &sns.PublishInput{TopicArn: &p.topic, Message: &body, MessageAttributes: snsAttrs(attrs)})
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.Event(), err)
	}
	return nil
}

// PublishAll sends msgs in batches within PublishBatch's limits (10 entries,
// 256 KiB with attributes: batch.SNSPublish), several batches at once, and
// retries the entries SNS failed with backoff. It returns nil only when SNS
// confirmed every message.
func (p *Publisher) PublishAll(ctx context.Context, msgs []Message) error {
	type entry struct {
		e    snstypes.PublishBatchRequestEntry
		size int
	}
	entries := make([]entry, len(msgs))
	for i, m := range msgs {
		body, attrs, err := Encode(m)
		if err != nil {
			return err
		}
		entries[i] = entry{
			e:    snstypes.PublishBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), Message: aws.String(body), MessageAttributes: snsAttrs(attrs)},
			size: batch.MessageSize(body, attrs),
		}
	}
	batches, err := batch.Split(entries, func(e entry) int { return e.size }, batch.SNSPublish)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(PublishParallel)
	for _, b := range batches {
		req := make([]snstypes.PublishBatchRequestEntry, len(b))
		for i, e := range b {
			req[i] = e.e
		}
		g.Go(func() error { return p.publishBatch(ctx, req) })
	}
	return g.Wait()
}

func (p *Publisher) publishBatch(ctx context.Context, batch []snstypes.PublishBatchRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := p.sns.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: &p.topic, PublishBatchRequestEntries: batch})
		if err != nil {
			return fmt.Errorf("publish batch: %w", err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		if attempt+1 == MaxPublishAttempts {
			f := out.Failed[0]
			return fmt.Errorf("publish batch: %d messages failed after %d attempts, e.g. %s: %s", len(out.Failed), attempt+1, aws.ToString(f.Code), aws.ToString(f.Message))
		}
		failed := map[string]bool{}
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = true
		}
		retry := batch[:0:0]
		for _, e := range batch {
			if failed[aws.ToString(e.Id)] {
				retry = append(retry, e)
			}
		}
		batch = retry
		if err := backoff.Sleep(ctx, backoff.Delay(attempt+1, publishBackoff, publishMaxDelay)); err != nil {
			return err
		}
	}
}

func snsAttrs(attrs map[string]string) map[string]snstypes.MessageAttributeValue {
	out := make(map[string]snstypes.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

// SQSAttributes reads the string attributes of a message received with the SDK.
func SQSAttributes(attrs map[string]sqstypes.MessageAttributeValue) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if v.StringValue != nil {
			out[k] = *v.StringValue
		}
	}
	return out
}

// LambdaSQSAttributes reads the string attributes of a message of a Lambda SQS event.
func LambdaSQSAttributes(attrs map[string]events.SQSMessageAttribute) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if v.StringValue != nil {
			out[k] = *v.StringValue
		}
	}
	return out
}
