package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/functions/results"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// env is a fresh stack in moto with every handler built on it.
type env struct {
	t     testing.TB
	st    *mototest.Stack
	set   *registry.Set
	store *sessionstore.Store
	users *user.Store
	sqs   *sqs.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st := srv.Stack(t)
	set, err := registry.New(st.Config, st.Env())
	if err != nil {
		t.Fatal(err)
	}
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.UsersTable)
	users.Cost = bcrypt.MinCost
	return &env{
		t: t, st: st, set: set, users: users, sqs: sqs.NewFromConfig(st.Config),
		store: sessionstore.New(dynamodb.NewFromConfig(st.Config), st.ResourcesTable),
	}
}

// fixture reads a JSON event from testdata into v.
func fixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// request is the fixture proxy event rewritten for method, path, principal
// (none when empty), query and body.
func request(t testing.TB, method, path, principal string, query map[string]string, body string) (events.APIGatewayProxyRequest, string) {
	t.Helper()
	r, params, ok := api.Match(method, path)
	if !ok {
		t.Fatalf("no route for %s %s", method, path)
	}
	var req events.APIGatewayProxyRequest
	fixture(t, "apigw-request.json", &req)
	req.Resource, req.Path, req.HTTPMethod, req.PathParameters = r.Path, path, method, params
	req.RequestContext.ResourcePath, req.RequestContext.HTTPMethod = r.Path, method
	req.QueryStringParameters, req.Body = query, body
	if principal == "" {
		req.RequestContext.Authorizer = nil
	} else {
		req.RequestContext.Authorizer["principalId"] = principal
	}
	return req, r.Function
}

// call serves one request through the handler API Gateway would invoke.
func (e *env) call(method, path, principal string, query map[string]string, body string) events.APIGatewayProxyResponse {
	e.t.Helper()
	req, fn := request(e.t, method, path, principal, query, body)
	h := e.set.HTTP[fn]
	if h == nil {
		e.t.Fatalf("no handler for %s", fn)
	}
	resp, err := h(context.Background(), req)
	if err != nil {
		e.t.Fatalf("%s %s: handler error %v (API Gateway would answer 502)", method, path, err)
	}
	if resp.Headers["Access-Control-Allow-Origin"] != "*" {
		e.t.Errorf("%s %s: no CORS header: %v", method, path, resp.Headers)
	}
	return resp
}

// ok calls and requires 200, decoding the body into v when not nil.
func (e *env) ok(method, path, principal string, body string, v any) events.APIGatewayProxyResponse {
	e.t.Helper()
	resp := e.call(method, path, principal, nil, body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, resp.Body)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(resp.Body), v); err != nil {
			e.t.Fatalf("%s %s: body %q: %v", method, path, resp.Body, err)
		}
	}
	return resp
}

// newPage is POST /session/{sid}/result/{gen} as FOQUS's results loop sends
// it: an answer marked "store busy" (results.RetryHeader) is polled again
// after its Retry-After, as FOQUS polls again on any 0. It returns the page
// number the store gave.
func (e *env) newPage(principal, sid, gen string) string {
	e.t.Helper()
	for range 120 {
		r := e.ok("POST", "/session/"+sid+"/result/"+gen, principal, "", nil)
		if r.Headers[results.RetryHeader] == "" {
			return r.Body
		}
		time.Sleep(time.Second)
	}
	e.t.Fatalf("result generator %s of session %s: store still busy after 120 polls", gen, sid)
	return ""
}

// failed requires status and a JSON {"Message": ...} body, and returns the message.
func failed(t testing.TB, resp events.APIGatewayProxyResponse, status int) string {
	t.Helper()
	var m struct{ Message *string }
	if resp.StatusCode != status || json.Unmarshal([]byte(resp.Body), &m) != nil || m.Message == nil || *m.Message == "" {
		t.Fatalf("got %d %q, want %d with a JSON Message", resp.StatusCode, resp.Body, status)
	}
	return *m.Message
}

// jobsBody is an append body of n FOQUS-style jobs numbered from first.
func jobsBody(first, n int, app string) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		in, _ := json.Marshal(map[string]any{"node": map[string]any{"x": first + i}, "graph": map[string]any{}})
		b.WriteString(`{"Simulation":"zzfoqus_flow","Input":` + string(in) + `,"Reset":false,"Application":"` + app + `"}`)
	}
	b.WriteString("]")
	return b.String()
}

// newSession creates a session of user with n appended jobs and returns its id and the job ids.
func (e *env) newSession(principal string, n int) (string, []string) {
	e.t.Helper()
	var sid string
	e.ok("POST", "/session", principal, "", &sid)
	var ids []string
	e.ok("POST", "/session/"+sid, principal, jobsBody(0, n, "fake-job"), &ids)
	return sid, ids
}

// drain receives and deletes up to max messages from a queue, waiting at most
// idle polls with nothing to receive.
func (e *env) drain(queueURL string, max, idle int) []sqstypes.Message {
	e.t.Helper()
	var got []sqstypes.Message
	for empty := 0; len(got) < max && empty < idle; {
		msgs, err := e.receive(queueURL)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
		}
		got = append(got, msgs...)
	}
	return got
}

// visible is how many messages the queue holds for a receive now.
func (e *env) visible(queueURL string) int {
	out, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		e.t.Error(err)
		return 0
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}

// receive receives and deletes up to 10 messages, waiting a second for them.
func (e *env) receive(queueURL string) ([]sqstypes.Message, error) {
	ctx := context.Background()
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
	})
	if err != nil || len(out.Messages) == 0 {
		return nil, err
	}
	entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
	for i, m := range out.Messages {
		entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	if _, err := e.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &queueURL, Entries: entries}); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Drainers is how many receivers drain a queue while it fills: moto spends
// time proportional to the queue's depth on every message operation, so
// they must keep up with the publishers.
const Drainers = 3

// drainWhile receives and deletes messages with Drainers receivers until
// done is closed and the queue is empty: an empty poll alone does not say so,
// since a deep queue can outlast moto's one-second wait.
func (e *env) drainWhile(queueURL string, done <-chan struct{}) []sqstypes.Message {
	var mu sync.Mutex
	var got []sqstypes.Message
	var wg sync.WaitGroup
	for range Drainers {
		wg.Go(func() {
			finished := false
			for {
				select {
				case <-done:
					finished = true
				default:
				}
				msgs, err := e.receive(queueURL)
				if err != nil {
					e.t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, msgs...)
				mu.Unlock()
				if finished && len(msgs) == 0 && e.visible(queueURL) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return got
}
