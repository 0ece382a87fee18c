package consumer

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// maxReceive is SQS's limit of messages per ReceiveMessage.
const maxReceive = 10

// receive long-polls the job queue until ctx ends and starts one goroutine
// per message, never more than Concurrency at once. Jobs run under jobs, so
// they survive the end of ctx.
func (c *Consumer) receive(ctx, jobs context.Context, work *sync.WaitGroup) {
	slots := make(chan struct{}, c.s.Concurrency)
	backoff := time.Duration(0)
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
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			c.log.Error("receive from the job queue failed", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
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

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
