// Package thaw is the thaw queue's function: the session bucket's
// "Object Restore Completed" events, each naming an archive S3 restored. It
// re-homes the archive's results as live data (core/archive Restored) and
// mails the user. Test events, other keys and sessions nobody asked to
// restore are dropped with a log line; a message of another shape, an
// archive whose restore is not readable yet, or a failure, is reported so
// SQS retries it (into the thaw DLQ).
package thaw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/functions/notify"
)

// EventRestoreCompleted is the S3 event name thaw acts on.
const EventRestoreCompleted = "ObjectRestore:Completed"

// Handler thaws the archives of thaw-queue messages.
type Handler struct {
	Service  *archive.Service
	Notifier *notify.Notifier
}

// Handle processes a batch and reports the messages to retry.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, msg := range ev.Records {
		if err := h.handle(ctx, msg.Body); err != nil {
			slog.WarnContext(ctx, "restore event not handled", "message", msg.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

// s3Event is the part of a thaw-queue message thaw reads: S3's "Object
// Restore Completed" event through EventBridge (the deployed path, see
// testdata/eventbridge-object-restore-completed.json), or an S3 event
// notification sent to the queue directly (the local stack). It names the
// fields of events.S3Event it needs: the whole of it would also parse
// eventTime, which emulators send without a zone.
type s3Event struct {
	Event      string `json:"Event"` // s3:TestEvent, sent when a notification is configured
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key string `json:"key"` // not URL-encoded on EventBridge
		} `json:"object"`
	} `json:"detail"`
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"` // URL-encoded
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// ErrNotS3Event is a thaw-queue message that is not an S3 restore-completed
// event: it is retried into the thaw DLQ, its reason logged.
var ErrNotS3Event = errors.New("not an S3 restore-completed event")

// Restored is one finished restore an event reports.
type Restored struct{ Bucket, Key string }

// Parse reads the restores a thaw-queue message reports; a message of any
// other shape is ErrNotS3Event with the reason. S3's test event reports none.
func Parse(body string) ([]Restored, error) {
	var ev s3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return nil, fmt.Errorf("%w: the message is not JSON", ErrNotS3Event)
	}
	switch {
	case ev.Event == "s3:TestEvent":
		return nil, nil
	case ev.DetailType != "" || ev.Source != "":
		if ev.Source != "aws.s3" || ev.DetailType != archive.DetailRestoreCompleted {
			return nil, fmt.Errorf("%w: EventBridge event %q from %q, thaw takes %q from aws.s3", ErrNotS3Event, ev.DetailType, ev.Source, archive.DetailRestoreCompleted)
		}
		if ev.Detail.Bucket.Name == "" || ev.Detail.Object.Key == "" {
			return nil, fmt.Errorf("%w: %q event without a bucket and object key", ErrNotS3Event, archive.DetailRestoreCompleted)
		}
		return []Restored{{ev.Detail.Bucket.Name, ev.Detail.Object.Key}}, nil
	case len(ev.Records) > 0:
		out := make([]Restored, 0, len(ev.Records))
		for i, r := range ev.Records {
			if !strings.HasPrefix(r.EventName, EventRestoreCompleted) {
				return nil, fmt.Errorf("%w: record %d is %q", ErrNotS3Event, i, r.EventName)
			}
			key, err := url.QueryUnescape(r.S3.Object.Key) // S3 notification keys arrive URL-encoded
			if err != nil || key == "" || r.S3.Bucket.Name == "" {
				return nil, fmt.Errorf("%w: record %d has no valid bucket and object key", ErrNotS3Event, i)
			}
			out = append(out, Restored{r.S3.Bucket.Name, key})
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: neither an EventBridge event nor S3 notification records", ErrNotS3Event)
}

func (h *Handler) handle(ctx context.Context, body string) error {
	rs, err := Parse(body)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Bucket != h.Service.Bucket {
			slog.WarnContext(ctx, "restore event of another bucket dropped", "bucket", r.Bucket, "key", r.Key)
			continue
		}
		if err := h.thaw(ctx, r.Key); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) thaw(ctx context.Context, key string) error {
	if _, _, err := archive.ParseKey(key); err != nil {
		slog.WarnContext(ctx, "restore event for a key that is no archive", "key", key)
		return nil
	}
	th, err := h.Service.Restored(ctx, key)
	if errors.Is(err, archive.ErrNotRequested) {
		slog.InfoContext(ctx, "restore event for a session not being restored dropped", "key", key)
		return nil
	}
	if err != nil {
		return err
	}
	h.Notifier.SendRestored(ctx, th)
	return nil
}
