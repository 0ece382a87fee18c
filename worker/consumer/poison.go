package consumer

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// poison handles a message that will never decode. It is not deleted: SQS's
// redrive moves it to the dead-letter queue after its last receive, where it
// stays for inspection; making it visible at once gets it there sooner. If
// its attributes name a job, the job ends as error with the reason, so the
// client is not left waiting; every receive publishes it again, and the
// update processor records only the first.
func (c *Consumer) poison(ctx context.Context, m sqstypes.Message, attrs map[string]string, derr error) {
	log := c.log.With("message", aws.ToString(m.MessageId), "receives", m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	log.Warn("undecodable job message; left for the dead-letter queue", "err", derr)
	user, sid, jid := attrs[resource.AttrUser], attrs[resource.AttrSession], attrs[resource.AttrJob]
	if objectkey.User(user) == nil && objectkey.ID(sid) == nil && objectkey.ID(jid) == nil {
		st := event.Status{
			User: user, Session: sid, Job: jid, State: job.Error, Consumer: c.ID, Instance: c.s.Instance,
			Message: "undeliverable job message: " + derr.Error(), At: time.Now().UTC(),
		}
		if err := c.publish(ctx, st); err != nil {
			log.Error("could not publish the error of the job named by an undecodable message", "err", err)
		}
	}
	c.setVisibility(ctx, m, 0, log)
}
