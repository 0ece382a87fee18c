// Package gateway serves the API on a local port the way API Gateway serves
// it in AWS: it matches api.Routes, runs the REQUEST authorizer (caching its
// policy per Authorization header), evaluates the policy against the method
// ARN, and calls the route's Lambda proxy handler with the event API Gateway
// would build. The handlers are the functions' own (functions/registry).
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/registry"
)

// API Gateway's limits and defaults that clients can observe.
const (
	MaxBody         = 10 << 20               // a REST API refuses larger payloads (413)
	MaxHeader       = 10240                  // request line and headers (431)
	MaxEvent        = 6 << 20                // a synchronous Lambda event, JSON, base64 bodies included (413)
	AuthorizerTTL   = api.AuthorizerCacheTTL // the stack's authorizer result cache
	IntegrationTime = 29 * time.Second       // a handler answering later is a 504
)

// Gateway is an http.Handler for the whole API.
type Gateway struct {
	Stage      string
	APIID      string
	Region     string
	Account    string
	Handlers   map[string]httpx.Handler // by function name without stage (api.Fn*)
	Authorizer registry.AuthorizerFunc
	// Timeouts are the functions' Lambda Timeouts, by function name without
	// stage: a handler runs under the earlier of its own and IntegrationTime.
	Timeouts map[string]time.Duration
	Log      *slog.Logger

	mu    sync.Mutex
	cache map[string]cached // authorizer results by Authorization header
}

type cached struct {
	resp  events.APIGatewayCustomAuthorizerResponse
	until time.Time
}

// ServeHTTP answers one request under "/<stage>", as the deployed URL has
// it, refusing what API Gateway refuses before a handler runs.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if headerBytes(r) > MaxHeader {
		writeJSON(w, http.StatusRequestHeaderFieldsTooLarge, map[string]string{"message": "Request Header Fields Too Large"})
		return
	}
	pre := "/" + g.Stage
	if !strings.HasPrefix(r.URL.Path, pre+"/") && r.URL.Path != pre {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
		return
	}
	p := strings.TrimPrefix(r.URL.Path, pre)
	route, params, ok := api.Match(r.Method, p)
	if r.Method == http.MethodOptions && route.Path != "" { // CORS preflight, a MOCK integration in the stack
		g.cors(w)
		return
	}
	if !ok {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Missing Authentication Token"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "could not read the request body"})
		return
	}
	if len(body) > MaxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Too Long"})
		return
	}
	req := g.event(r, route, p, params, body)
	principal, authCtx, status := g.authorize(r.Context(), req)
	if status != 0 {
		msg := map[int]string{http.StatusUnauthorized: "Unauthorized", http.StatusForbidden: "User is not authorized to access this resource with an explicit deny", http.StatusInternalServerError: "Internal server error"}[status]
		writeJSON(w, status, map[string]string{"message": msg})
		return
	}
	authCtx["principalId"] = principal
	req.RequestContext.Authorizer = authCtx
	if ev, err := json.Marshal(req); err != nil || len(ev) > MaxEvent {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Too Long"})
		return
	}
	h, ok := g.Handlers[route.Function]
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal server error"})
		return
	}
	ctx, cancel := invocation(r.Context(), g.Timeouts[route.Function])
	defer cancel()
	resp, err := h(ctx, req)
	if err != nil {
		g.Log.Error("handler failed", "function", route.Function, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
		return
	}
	writeResponse(w, resp)
}

// invocation is a handler's context: API Gateway waits IntegrationTime at
// most, and Lambda ends the function at its own timeout, if that is earlier.
func invocation(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 || timeout > IntegrationTime {
		timeout = IntegrationTime
	}
	return context.WithTimeout(ctx, timeout)
}

// headerBytes is the size of the request line and headers as sent.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

func (g *Gateway) event(r *http.Request, route api.Route, p string, params map[string]string, body []byte) events.APIGatewayProxyRequest {
	headers, multi := map[string]string{}, map[string][]string{}
	for k, v := range r.Header {
		headers[k], multi[k] = v[len(v)-1], v
	}
	query, mquery := map[string]string{}, map[string][]string{}
	for k, v := range r.URL.Query() {
		query[k], mquery[k] = v[len(v)-1], v
	}
	req := events.APIGatewayProxyRequest{
		Resource: route.Path, Path: p, HTTPMethod: r.Method, Headers: headers, MultiValueHeaders: multi,
		QueryStringParameters: query, MultiValueQueryStringParameters: mquery, PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: g.Account, Stage: g.Stage, RequestID: uuid.NewString(), ResourcePath: route.Path,
			HTTPMethod: r.Method, APIID: g.APIID, Path: "/" + g.Stage + p,
			Identity:         events.APIGatewayRequestIdentity{SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent()},
			RequestTimeEpoch: time.Now().UnixMilli(),
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			req.Body = string(body)
		} else {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return req
}

// authorize runs the authorizer (or its cached answer) and evaluates its
// policy: the principal and context, or the status API Gateway answers with.
func (g *Gateway) authorize(ctx context.Context, req events.APIGatewayProxyRequest) (string, map[string]any, int) {
	header := req.Headers["Authorization"]
	arn := api.MethodARN(g.Region, g.Account, g.APIID, g.Stage, req.HTTPMethod, req.Path)
	g.mu.Lock()
	c, hit := g.cache[header]
	g.mu.Unlock()
	if !hit || time.Now().After(c.until) {
		ctx, cancel := invocation(ctx, g.Timeouts[api.FnAuthorizer])
		defer cancel()
		resp, err := g.Authorizer(ctx, events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: arn, Resource: req.Resource, Path: req.Path, HTTPMethod: req.HTTPMethod,
			Headers: req.Headers, MultiValueHeaders: req.MultiValueHeaders, QueryStringParameters: req.QueryStringParameters,
			PathParameters: req.PathParameters,
			RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
				AccountID: g.Account, Stage: g.Stage, APIID: g.APIID, ResourcePath: req.Resource, HTTPMethod: req.HTTPMethod, RequestID: req.RequestContext.RequestID,
			},
		})
		if err != nil {
			if err.Error() == "Unauthorized" {
				return "", nil, http.StatusUnauthorized
			}
			g.Log.Error("authorizer failed", "err", err)
			return "", nil, http.StatusInternalServerError
		}
		c = cached{resp: resp, until: time.Now().Add(AuthorizerTTL)}
		if header != "" {
			g.mu.Lock()
			if g.cache == nil {
				g.cache = map[string]cached{}
			}
			g.cache[header] = c
			g.mu.Unlock()
		}
	}
	if !Allows(c.resp.PolicyDocument, arn) {
		return "", nil, http.StatusForbidden
	}
	authCtx := map[string]any{}
	for k, v := range c.resp.Context {
		authCtx[k] = v
	}
	return c.resp.PrincipalID, authCtx, 0
}

// Allows evaluates an IAM policy for execute-api:Invoke on arn: an explicit
// Deny wins, else some Allow must match.
func Allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		if !matchesAny(st.Action, "execute-api:Invoke") || !matchesAny(st.Resource, arn) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if api.ARNMatches(p, s) {
			return true
		}
	}
	return false
}

func (g *Gateway) cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "Content-Type,Authorization")
	h.Set("Access-Control-Allow-Methods", "OPTIONS,GET,PUT,POST,DELETE")
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
			return
		}
		body = b
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
