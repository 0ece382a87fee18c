// Package updates is the update processor: it records the events workers
// publish (FOQUS-Update-Topic -> FOQUS-Update-Queue) in the session store,
// a batch of SQS messages at a time, and reports only the messages to retry.
package updates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/recorder"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/monitor"
)

// Processor applies update-queue messages.
type Processor struct {
	Recorder *recorder.Recorder
	// Monitor, when set, gets the sessions whose jobs changed once the batch
	// is recorded (the Cloud monitor's pushes); it never fails the batch.
	Monitor *monitor.Pusher
}

// ErrMisrouted is a well-formed message that does not belong on the update
// queue (a job.submit, a session control nobody here handles).
var ErrMisrouted = errors.New("not an update event")

// Handle records every message of the batch. A message that failed for a
// reason worth retrying (the store was unreachable) is reported in
// BatchItemFailures, so SQS delivers it again. A message that will never
// decode is reported too, so that after maxReceiveCount it lands in the
// dead-letter queue for inspection; when its attributes name a job, that
// job is finished as error with the reason, so its client stops waiting.
func (p *Processor) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var touched []monitor.SessionKey
	seen := map[monitor.SessionKey]bool{}
	for _, msg := range ev.Records {
		m, err := p.apply(ctx, msg)
		if err != nil {
			slog.WarnContext(ctx, "update not recorded", "message", msg.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			continue
		}
		if st, ok := m.(event.Status); ok && !seen[monitor.SessionKey{User: st.User, Session: st.Session}] {
			k := monitor.SessionKey{User: st.User, Session: st.Session}
			seen[k] = true
			touched = append(touched, k)
		}
	}
	if p.Monitor != nil {
		p.Monitor.Push(ctx, touched)
	}
	return resp, nil
}

func (p *Processor) apply(ctx context.Context, msg events.SQSMessage) (event.Message, error) {
	attrs := event.LambdaSQSAttributes(msg.MessageAttributes)
	m, err := event.Decode(msg.Body, attrs)
	var de *event.DecodeError
	if errors.As(err, &de) {
		if ferr := p.poison(ctx, attrs, de); ferr != nil {
			return nil, errors.Join(err, ferr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	switch m.(type) {
	case event.Status, event.Heartbeat:
		return m, p.Recorder.Apply(ctx, m)
	}
	return nil, fmt.Errorf("%w: %s", ErrMisrouted, m.Event())
}

// PoisonMessage prefixes the Message of a job whose update could not be read.
const PoisonMessage = "worker update could not be read: "

// poison finishes the job a refused message names as error. Attributes are
// checked as strictly as ids from a URL; without a valid job, only the
// dead-letter queue keeps the message.
func (p *Processor) poison(ctx context.Context, attrs map[string]string, de *event.DecodeError) error {
	k := job.Key{User: attrs[resource.AttrUser], Session: attrs[resource.AttrSession], ID: attrs[resource.AttrJob]}
	if objectkey.User(k.User) != nil || objectkey.ID(k.Session) != nil || objectkey.ID(k.ID) != nil {
		return nil
	}
	_, err := p.Recorder.Store.Finish(ctx, k, sessionstore.Finish{State: job.Error, Message: PoisonMessage + de.Error()})
	return recorder.Benign(err)
}
