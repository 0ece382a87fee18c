package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/monitor"
)

// A WebSocket route's handler runs under its own function's Lambda Timeout
// when that is shorter than API Gateway's integration limit, and under the
// limit otherwise; the $connect authorizer under its own.
func TestWebSocketRoutesRunUnderTheirFunctionsTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	left := map[string]time.Duration{}
	record := func(fn string, ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		if dl, ok := ctx.Deadline(); ok {
			left[fn] = time.Until(dl)
		}
	}
	statusDone := make(chan struct{})
	route := func(fn string) monitor.RouteFunc {
		return func(ctx context.Context, _ events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			record(fn, ctx)
			if fn == api.FnMonitorStatus {
				close(statusDone)
			}
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}
	}
	allow := events.APIGatewayCustomAuthorizerPolicy{Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}}}
	ws := &WebSocket{
		Stage: "dev", APIID: "local", Region: "us-east-1", Account: "1", Log: slog.New(slog.DiscardHandler),
		Authorizer: func(ctx context.Context, _ events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			record(api.FnMonitorAuthorizer, ctx)
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "alice", PolicyDocument: allow}, nil
		},
		Routes: map[string]monitor.RouteFunc{
			"$connect": route(api.FnMonitorConnect), "status": route(api.FnMonitorStatus),
		},
		Timeouts: map[string]time.Duration{api.FnMonitorAuthorizer: 3 * time.Second, api.FnMonitorConnect: time.Minute, api.FnMonitorStatus: 7 * time.Second},
	}
	hs := httptest.NewServer(ws)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http://", "ws://", 1)+"/dev", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"good"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"status"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-statusDone:
	case <-ctx.Done():
		t.Fatal("the status route was never invoked")
	}
	mu.Lock()
	defer mu.Unlock()
	for fn, want := range map[string]time.Duration{api.FnMonitorAuthorizer: 3 * time.Second, api.FnMonitorConnect: IntegrationTime, api.FnMonitorStatus: 7 * time.Second} {
		if got := left[fn]; got > want || got < want-2*time.Second {
			t.Errorf("%s had %v left at its start, want about %v", fn, got.Round(time.Millisecond), want)
		}
	}
}
