package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/httpx"
)

func TestAllowsEvaluatesDenyFirst(t *testing.T) {
	arn := "arn:aws:execute-api:us-east-1:1:api/dev/GET/session/abc"
	stmt := func(effect string, res ...string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: res}
	}
	doc := func(s ...events.IAMPolicyStatement) events.APIGatewayCustomAuthorizerPolicy {
		return events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: s}
	}
	if !Allows(doc(stmt("Allow", "arn:aws:execute-api:us-east-1:1:api/dev/GET/session/*")), arn) {
		t.Error("a matching Allow was refused")
	}
	if Allows(doc(stmt("Allow", "arn:aws:execute-api:us-east-1:1:api/dev/POST/session/*")), arn) {
		t.Error("an Allow for another method was honoured")
	}
	if Allows(doc(stmt("Allow", "arn:aws:execute-api:us-east-1:1:api/*"), stmt("Deny", arn)), arn) {
		t.Error("an explicit Deny lost to an Allow")
	}
	if Allows(doc(), arn) {
		t.Error("an empty policy allowed")
	}
}

// The gateway answers as API Gateway does: 401 for the authorizer's
// Unauthorized, 403 for a Deny and for unknown routes, the handler's answer
// with the principal in the request context otherwise.
func TestServeHTTP(t *testing.T) {
	var got events.APIGatewayProxyRequest
	calls := 0
	g := &Gateway{
		Stage: "dev", APIID: "local", Region: "us-east-1", Account: "1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authorizer: func(_ context.Context, r events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			calls++
			switch r.Headers["Authorization"] {
			case "":
				return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
			case "good":
				return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "alice", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
					Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"arn:aws:execute-api:us-east-1:1:local/dev/*"}}},
				}}, nil
			}
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "x", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{"*"}}},
			}}, nil
		},
		Handlers: map[string]httpx.Handler{api.FnSessionGet: func(_ context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			got = r
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "[]"}, nil
		}},
	}
	do := func(auth, path string) *http.Response {
		req := httptest.NewRequest("GET", path, strings.NewReader(""))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w.Result()
	}
	if r := do("", "/dev/session/s1"); r.StatusCode != 401 {
		t.Errorf("no header: %d", r.StatusCode)
	}
	if r := do("bad", "/dev/session/s1"); r.StatusCode != 403 {
		t.Errorf("denied: %d", r.StatusCode)
	}
	if r := do("good", "/dev/nowhere"); r.StatusCode != 403 {
		t.Errorf("unknown route: %d", r.StatusCode)
	}
	r := do("good", "/dev/session/s1")
	if r.StatusCode != 200 || got.RequestContext.Authorizer["principalId"] != "alice" || got.PathParameters["id"] != "s1" || got.Resource != "/session/{id}" {
		t.Fatalf("allowed: %d, event %+v", r.StatusCode, got)
	}
	before := calls
	if r := do("good", "/dev/session/s2/"); r.StatusCode != 200 || calls != before {
		t.Errorf("%d: the authorizer's answer was not cached for the same header, or its policy misses the trailing slash", r.StatusCode)
	}

	// What API Gateway refuses before any handler runs.
	handled := 0
	g.Handlers[api.FnInputPut] = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		handled++
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	send := func(path string, header int, body []byte) int {
		req := httptest.NewRequest("PUT", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "good")
		if header > 0 {
			req.Header.Set("X-Pad", strings.Repeat("h", header))
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w.Code
	}
	binary := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		path   string
		header int
		body   []byte
		want   int
	}{
		{"no stage prefix", "/simulation/s/input/a.bin", 0, nil, http.StatusForbidden},
		{"another stage", "/prod/simulation/s/input/a.bin", 0, nil, http.StatusForbidden},
		{"request line and headers over 10,240 bytes", "/dev/simulation/s/input/a.bin", MaxHeader, nil, http.StatusRequestHeaderFieldsTooLarge},
		{"headers just under the limit", "/dev/simulation/s/input/a.bin", MaxHeader - 200, nil, http.StatusOK},
		{"4.5 MB binary: base64 fits the 6 MB event", "/dev/simulation/s/input/a.bin", 0, binary(4500 << 10), http.StatusOK},
		{"5 MB binary: base64 does not fit the 6 MB event", "/dev/simulation/s/input/a.bin", 0, binary(5 << 20), http.StatusRequestEntityTooLarge},
		{"5.5 MB text fits", "/dev/simulation/s/input/a.txt", 0, bytes.Repeat([]byte("x"), 5500<<10), http.StatusOK},
		{"over 10 MB", "/dev/simulation/s/input/a.txt", 0, bytes.Repeat([]byte("x"), MaxBody+1), http.StatusRequestEntityTooLarge},
	} {
		before := handled
		got := send(c.path, c.header, c.body)
		if got != c.want || (c.want != http.StatusOK) != (handled == before) {
			t.Errorf("%s: %d (handler ran: %v), want %d", c.name, got, handled != before, c.want)
		}
	}
}

// A handler runs under its function's Lambda Timeout when that is shorter
// than API Gateway's integration limit, and under the limit otherwise; the
// authorizer under its own.
func TestHandlersRunUnderTheirFunctionsTimeout(t *testing.T) {
	t.Parallel()
	left := map[string]time.Duration{}
	record := func(fn string, ctx context.Context) {
		if dl, ok := ctx.Deadline(); ok {
			left[fn] = time.Until(dl)
		}
	}
	allow := events.APIGatewayCustomAuthorizerPolicy{Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}}}
	handler := func(fn string) httpx.Handler {
		return func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			record(fn, ctx)
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "[]"}, nil
		}
	}
	g := &Gateway{
		Stage: "dev", APIID: "local", Region: "us-east-1", Account: "1", Log: slog.New(slog.DiscardHandler),
		Authorizer: func(ctx context.Context, _ events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			record(api.FnAuthorizer, ctx)
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "alice", PolicyDocument: allow}, nil
		},
		Handlers: map[string]httpx.Handler{api.FnSessionGet: handler(api.FnSessionGet), api.FnSessionList: handler(api.FnSessionList)},
		Timeouts: map[string]time.Duration{api.FnAuthorizer: 3 * time.Second, api.FnSessionGet: 7 * time.Second, api.FnSessionList: time.Minute},
	}
	for _, p := range []string{"/dev/session/s1", "/dev/session"} {
		req := httptest.NewRequest("GET", p, nil)
		req.Header.Set("Authorization", "good")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
	}
	for fn, want := range map[string]time.Duration{api.FnAuthorizer: 3 * time.Second, api.FnSessionGet: 7 * time.Second, api.FnSessionList: IntegrationTime} {
		if got := left[fn]; got > want || got < want-2*time.Second {
			t.Errorf("%s had %v left at its start, want about %v", fn, got.Round(time.Millisecond), want)
		}
	}
}
