package consumer

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/backoff"
)

// maxReceive is SQS's limit of messages per ReceiveMessage.
const maxReceive = 10

// receiveMaxDelay caps the wait after failed receives (SQS unreachable).
const receiveMaxDelay = 30 * time.Second

// receive long-polls the job queue until ctx ends and starts one goroutine
// per message, never more than Concurrency at once. Jobs run under jobs, so
// they survive the end of ctx.
func (c *Consumer) receive(ctx, jobs context.Context, work *sync.WaitGroup) {
	slots := make(chan struct{}, c.s.Concurrency)
	failures := 0
	for {
		select { // wait for a free slot, then take every free one
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1
		for free < maxReceive && len(slots) < cap(slots) {
			slots <- struct{}{}
			free++
		}
		out, err := c.c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(c.s.Stack.JobQueueURL),
			MaxNumberOfMessages:         int32(free),
			WaitTimeSeconds:             int32(c.s.Wait / time.Second),
			VisibilityTimeout:           seconds(c.s.Lease),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		received := time.Now()
		var msgs []sqstypes.Message
		if out != nil {
			msgs = out.Messages
		}
		for range free - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait := backoff.Delay(failures, time.Second, receiveMaxDelay)
			c.log.Error("receive from the job queue failed", "err", err, "retry_in", wait)
			_ = backoff.Sleep(ctx, wait) // ctx's end is seen at the loop's top
			continue
		}
		failures = 0
		for _, m := range msgs {
			work.Go(func() {
				defer func() { <-slots }()
				c.handle(jobs, m, received.Add(c.s.Lease))
			})
		}
	}
}

// seconds rounds d up to whole seconds, as SQS counts.
func seconds(d time.Duration) int32 { return int32((d + time.Second - 1) / time.Second) }
