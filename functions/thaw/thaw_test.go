package thaw_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/functions/thaw"
)

func TestParseReadsAWSDocumentedEventBridgeEvent(t *testing.T) {
	b, err := os.ReadFile("testdata/eventbridge-object-restore-completed.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := thaw.Parse(string(b))
	if err != nil || len(got) != 1 || got[0] != (thaw.Restored{Bucket: "amzn-s3-demo-bucket1", Key: "example-key"}) {
		t.Fatalf("Parse: %+v, %v", got, err)
	}
}

func TestParseDecodesNotificationKeys(t *testing.T) {
	body := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectRestore:Completed",` +
		`"s3":{"bucket":{"name":"foqus-sessions-dev"},"object":{"key":"fran%2Farchive%2Fa+b.ndjson.gz","size":5}}}]}`
	got, err := thaw.Parse(body)
	if err != nil || len(got) != 1 || got[0].Key != "fran/archive/a b.ndjson.gz" || got[0].Bucket != "foqus-sessions-dev" {
		t.Fatalf("Parse: %+v, %v", got, err)
	}
	if got, err := thaw.Parse(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`); err != nil || len(got) != 0 {
		t.Fatalf("test event: %+v, %v", got, err)
	}
}

func TestParseRefusesOtherShapesWithTheReason(t *testing.T) {
	for body, reason := range map[string]string{
		`{"user":"fran"`:                "not JSON",
		`{"user":"fran","session":"x"}`: "neither an EventBridge event nor S3 notification records",
		`{"source":"aws.s3","detail-type":"Object Restore Initiated","detail":{}}`:         `"Object Restore Initiated" from "aws.s3"`,
		`{"source":"aws.s3","detail-type":"Object Restore Completed","detail":{}}`:         "without a bucket and object key",
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}]}`:      `record 0 is "ObjectCreated:Put"`,
		`{"Records":[{"eventName":"ObjectRestore:Completed","s3":{"object":{"key":""}}}]}`: "record 0 has no valid bucket",
	} {
		_, err := thaw.Parse(body)
		if !errors.Is(err, thaw.ErrNotS3Event) || !strings.Contains(err.Error(), reason) {
			t.Errorf("Parse(%s) = %v, want ErrNotS3Event saying %q", body, err, reason)
		}
	}
}

// A message thaw cannot read is reported for retry, so SQS moves it to the
// thaw DLQ; the rest of the batch is handled.
func TestHandleReportsUnknownShapes(t *testing.T) {
	h := &thaw.Handler{Service: &archive.Service{Bucket: "foqus-sessions-dev"}}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "poison", Body: `{"hello":"world"}`},
		{MessageId: "test", Body: `{"Event":"s3:TestEvent"}`},
		{MessageId: "other-bucket", Body: `{"source":"aws.s3","detail-type":"Object Restore Completed","detail":{"bucket":{"name":"elsewhere"},"object":{"key":"k"}}}`},
	}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "poison" {
		t.Fatalf("Handle: %+v, %v", resp, err)
	}
}
