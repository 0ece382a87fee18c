package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	do("good", "/session/s2")
	if calls != before {
		t.Error("the authorizer's answer was not cached for the same header")
	}
}
