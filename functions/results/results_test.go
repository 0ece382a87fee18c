package results

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/foqus-cloud/stack/core/sessionstore"
)

// fakeDynamoDB answers every DynamoDB call the way a busy table does: with
// ThrottlingException (throttle), or not before the caller gives up (hang).
// moto never throttles and never stalls, so it cannot show either answer.
type fakeDynamoDB struct {
	hang  bool
	calls atomic.Int32
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.hang {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a client gone only once the body is read
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`))
}

func generatorRequest() events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		PathParameters: map[string]string{
			"id": "5e0d5a4c-3a7e-4f0e-9d2b-6c1f0a9b8e7d", "generator": "00000000-0000-0000-0000-000000000000",
		},
	}
}

// FOQUS's results loop ends for good on any answer but 200 (spec R10), so a
// store that throttles, or does not answer within the budget, is answered
// 200 "0" with Retry-After and X-Foqus-Result: retry: FOQUS polls again and
// other clients can tell "busy" from "nothing new".
func TestGeneratorAnswersABusyStorePollAgain(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		hang bool
	}{{"throttled", false}, {"over budget", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeDynamoDB{hang: c.hang}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			// The SDK's own retries, with short backoffs so the throttled case
			// runs out of them, not of the budget.
			db := dynamodb.New(dynamodb.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{},
				Retryer: retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 10 * time.Millisecond }),
			})
			s := &Service{Store: sessionstore.New(db, "FOQUS-Resources-test")}
			if c.hang {
				s.Budget = 500 * time.Millisecond
			}
			start := time.Now()
			resp, err := s.Generator(context.Background(), generatorRequest(), "alice")
			if err != nil {
				t.Fatalf("handler error %v: API Gateway would answer 502 and FOQUS stop polling", err)
			}
			if resp.StatusCode != http.StatusOK || resp.Body != "0" || resp.Headers["Retry-After"] != "1" || resp.Headers[RetryHeader] != "retry" {
				t.Fatalf("answered %d %q %v, want 200 \"0\" with Retry-After: 1 and %s: retry", resp.StatusCode, resp.Body, resp.Headers, RetryHeader)
			}
			if c.hang && time.Since(start) > 5*time.Second {
				t.Fatalf("answered after %v: the budget is %v", time.Since(start), s.Budget)
			}
			if !c.hang && (int(fake.calls.Load()) != retry.DefaultMaxAttempts || time.Since(start) > ResultBudget/2) {
				t.Fatalf("%d calls in %v: want the SDK's %d attempts spent, well inside the budget", fake.calls.Load(), time.Since(start), retry.DefaultMaxAttempts)
			}
		})
	}
}

// A failure that is not "busy" stays an error: answering it 0 would hide it.
func TestGeneratorDoesNotHideOtherStoreErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}`))
	}))
	defer srv.Close()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	s := &Service{Store: sessionstore.New(db, "FOQUS-Resources-test")}
	if resp, err := s.Generator(context.Background(), generatorRequest(), "alice"); err == nil {
		t.Fatalf("answered %d %q %v, want the error", resp.StatusCode, resp.Body, resp.Headers)
	}
}
