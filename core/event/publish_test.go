package event

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/foqus-cloud/stack/core/batch"
)

// fakeSNS answers PublishBatch on the query protocol as SNS does, including
// its BatchRequestTooLong refusal of a request over 256 KiB (moto does not
// enforce it), and records each accepted batch's entry count and size.
type fakeSNS struct {
	mu      sync.Mutex
	batches [][2]int // entries, bytes
}

var entryField = regexp.MustCompile(`^PublishBatchRequestEntries\.member\.(\d+)\.(.+)$`)

func (f *fakeSNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "PublishBatch" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	ids, size := map[string]string{}, 0
	for k, v := range r.Form {
		m := entryField.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		switch {
		case m[2] == "Id":
			ids[m[1]] = v[0]
		case m[2] == "Message", strings.HasSuffix(m[2], ".Name"), strings.HasSuffix(m[2], ".Value.StringValue"), strings.HasSuffix(m[2], ".Value.DataType"):
			size += len(v[0])
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	if len(ids) > 10 || size > 256<<10 {
		w.WriteHeader(http.StatusBadRequest)
		code := "TooManyEntriesInBatchRequest"
		if size > 256<<10 {
			code = "BatchRequestTooLong"
		}
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>The batch request is too long</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code)
		return
	}
	f.mu.Lock()
	f.batches = append(f.batches, [2]int{len(ids), size})
	f.mu.Unlock()
	var ok strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&ok, "<member><Id>%s</Id><MessageId>m-%s</MessageId></member>", id, id)
	}
	_, _ = fmt.Fprintf(w, `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>%s</Successful><Failed/></PublishBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>`, ok.String())
}

// Start of ten jobs of ~30 KB each: by count alone that is one request of
// 300 KB, which SNS refuses every time; by count and bytes it goes through.
func TestPublishAllSplitsTenThirtyKBJobsByBytes(t *testing.T) {
	t.Parallel()
	fake := &fakeSNS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := sns.New(sns.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{},
	})
	pub := NewPublisher(c, "arn:aws:sns:us-east-1:123456789012:FOQUS-Job-Topic-dev")
	input := json.RawMessage(`{"x":"` + strings.Repeat("a", 30<<10) + `"}`)
	var msgs []Message
	for i := range 10 {
		msgs = append(msgs, Submit{User: "alice", Session: sid, Job: fmt.Sprintf("0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2%02d", i), Application: "fake-job", Simulation: "zzfoqus_demo", Input: input})
	}
	if err := pub.PublishAll(context.Background(), msgs); err != nil {
		t.Fatalf("PublishAll: %v", err)
	}
	total, largest := 0, 0
	for _, b := range fake.batches {
		total += b[0]
		largest = max(largest, b[1])
	}
	if total != 10 || len(fake.batches) < 2 {
		t.Fatalf("batches %v: want all 10 messages in at least 2 requests", fake.batches)
	}
	t.Logf("10 x 30 KB start: %d PublishBatch requests %v (entries, bytes); largest %d bytes of %d", len(fake.batches), fake.batches, largest, batch.SNSPublish.Bytes)
}

func TestEncodeRefusesAMessageOverTheLimitWithAttributes(t *testing.T) {
	t.Parallel()
	submit := func(n int) Submit {
		return Submit{User: "alice", Session: sid, Job: jid, Application: "fake-job", Simulation: "zzfoqus_demo",
			Input: json.RawMessage(`{"x":"` + strings.Repeat("a", n) + `"}`)}
	}
	small, _, err := Encode(submit(1))
	if err != nil {
		t.Fatal(err)
	}
	// A body 10 bytes under the limit: alone it fits, with its attributes not.
	n := 1 + MaxBody - 10 - len(small)
	if _, _, err := Encode(submit(n)); err == nil || !strings.Contains(err.Error(), "with its attributes") {
		t.Fatalf("err %v, want the size refusal counting attributes", err)
	}
	if _, _, err := Encode(submit(n - 400)); err != nil {
		t.Fatalf("a message that fits with its attributes: %v", err)
	}
}
