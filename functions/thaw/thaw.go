// Package thaw is the thaw queue's function: the session bucket's
// ObjectRestore:Completed events, each naming an archive S3 restored. It
// re-homes the archive's results as live data (core/archive Thaw) and mails
// the user. Test events and other keys are dropped; an archive whose restore
// is not readable yet, or a failure, is reported so SQS retries it.
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

// s3Event is the part of an S3 event notification thaw reads (the fields of
// events.S3Event it needs; the whole of it would also parse eventTime, which
// emulators send without a zone).
type s3Event struct {
	Event      string `json:"Event"`       // s3:TestEvent, sent when the notification is configured
	DetailType string `json:"detail-type"` // the same event through EventBridge (the deployed path)
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
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// ErrNotS3Event is a thaw-queue message that is not an S3 event notification.
var ErrNotS3Event = errors.New("not an S3 event notification")

func (h *Handler) handle(ctx context.Context, body string) error {
	var ev s3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return fmt.Errorf("%w: %v", ErrNotS3Event, err)
	}
	if ev.Event == "s3:TestEvent" {
		return nil
	}
	if ev.DetailType == DetailRestoreCompleted {
		if ev.Detail.Bucket.Name != h.Service.Bucket {
			return nil
		}
		return h.thaw(ctx, ev.Detail.Object.Key)
	}
	if ev.Records == nil {
		return ErrNotS3Event
	}
	for _, r := range ev.Records {
		if !strings.HasPrefix(r.EventName, EventRestoreCompleted) || r.S3.Bucket.Name != h.Service.Bucket {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key) // S3 event keys arrive URL-encoded
		if err != nil {
			return fmt.Errorf("restore event key %q: %w", r.S3.Object.Key, err)
		}
		if err := h.thaw(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// DetailRestoreCompleted is the EventBridge detail type of a finished restore.
const DetailRestoreCompleted = "Object Restore Completed"

func (h *Handler) thaw(ctx context.Context, key string) error {
	if _, _, err := archive.ParseKey(key); err != nil {
		slog.WarnContext(ctx, "restore event for a key that is no archive", "key", key)
		return nil
	}
	th, err := h.Service.Thaw(ctx, key)
	if err != nil {
		return err
	}
	if th.Jobs > 0 {
		if _, err := h.Notifier.Send(ctx, th.User, notify.Restored(th.Session, th.Counts)); err != nil {
			slog.WarnContext(ctx, "restore notice not sent", "user", th.User, "err", err)
		}
	}
	return nil
}
