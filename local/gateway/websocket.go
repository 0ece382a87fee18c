package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/monitor"
)

// API Gateway's WebSocket limits that clients can observe.
const (
	MaxWSMessage = 128 << 10 // a message (and a PostToConnection) over this is refused
)

// WebSocket serves the Cloud monitor's WebSocket API as API Gateway does:
// the $connect authorizer on the upgrade request, then each route's handler
// (api.MonitorRoutes) with the event API Gateway builds, selected on the
// message's "action". It also serves the Management API
// (POST/GET/DELETE /<stage>/@connections/<id>), so the functions' pushes take
// the same code path as in AWS.
type WebSocket struct {
	Stage, APIID, Region, Account string
	Authorizer                    monitor.AuthorizerFunc
	Routes                        map[string]monitor.RouteFunc // by route key ($connect, status, ...)
	// Timeouts are the functions' Lambda Timeouts, by function name without
	// stage (api.MonitorRoutes names each route's): a route's handler, and
	// the authorizer, run under the earlier of their own and IntegrationTime.
	Timeouts map[string]time.Duration
	Log      *slog.Logger

	mu    sync.Mutex
	conns map[string]*wsConn
}

type wsConn struct {
	c         *websocket.Conn
	authCtx   map[string]any
	connected time.Time
	sourceIP  string
}

// WithWebSocket serves ws's upgrade requests and Management API on the same
// listener as the REST API rest.
func WithWebSocket(rest http.Handler, ws *WebSocket) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/@connections/") || strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			ws.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// ServeHTTP accepts a connection or answers a Management API call.
func (g *WebSocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/"+g.Stage)
	if id, ok := strings.CutPrefix(p, "/@connections/"); ok {
		g.manage(w, r, id)
		return
	}
	g.connect(w, r)
}

func (g *WebSocket) methodARN(route string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s", g.Region, g.Account, g.APIID, g.Stage, route)
}

func (g *WebSocket) connect(w http.ResponseWriter, r *http.Request) {
	headers, multi := map[string]string{}, map[string][]string{}
	for k, v := range r.Header {
		headers[k], multi[k] = v[len(v)-1], v
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = v[len(v)-1]
	}
	arn := g.methodARN("$connect")
	id := connectionID()
	// API Gateway answers 401 itself when the identity source (the
	// Authorization header) is missing, without calling the authorizer.
	if r.Header.Get("Authorization") == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	actx, cancel := invocation(r.Context(), g.Timeouts[api.FnMonitorAuthorizer])
	defer cancel()
	pol, err := g.Authorizer(actx, events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: arn, Headers: headers, MultiValueHeaders: multi, QueryStringParameters: query,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{AccountID: g.Account, Stage: g.Stage, APIID: g.APIID, RequestID: uuid.NewString()},
	})
	switch {
	case err != nil && err.Error() == "Unauthorized":
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	case err != nil:
		g.Log.Error("monitor authorizer failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal server error"})
		return
	case !Allows(pol.PolicyDocument, arn):
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
		return
	}
	authCtx := map[string]any{"principalId": pol.PrincipalID}
	for k, v := range pol.Context {
		authCtx[k] = v
	}
	conn := &wsConn{authCtx: authCtx, connected: time.Now(), sourceIP: strings.Split(r.RemoteAddr, ":")[0]}
	ev := g.event(id, "$connect", "CONNECT", conn, "")
	ev.Headers, ev.MultiValueHeaders, ev.QueryStringParameters = headers, multi, query
	resp, err := g.invoke(r.Context(), "$connect", ev)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		g.Log.Warn("websocket upgrade failed", "err", err)
		return
	}
	c.SetReadLimit(MaxWSMessage)
	conn.c = c
	g.mu.Lock()
	if g.conns == nil {
		g.conns = map[string]*wsConn{}
	}
	g.conns[id] = conn
	g.mu.Unlock()
	g.serve(context.WithoutCancel(r.Context()), id, conn)
}

// serve routes each message until the connection closes, then runs $disconnect.
func (g *WebSocket) serve(ctx context.Context, id string, conn *wsConn) {
	defer func() {
		g.mu.Lock()
		delete(g.conns, id)
		g.mu.Unlock()
		if _, err := g.invoke(ctx, "$disconnect", g.event(id, "$disconnect", "DISCONNECT", conn, "")); err != nil {
			g.Log.Warn("monitor $disconnect failed", "err", err)
		}
	}()
	for {
		typ, data, err := conn.c.Read(ctx)
		if err != nil {
			return
		}
		body := string(data)
		ev := g.event(id, routeKey(body, g.Routes), "MESSAGE", conn, body)
		if typ == websocket.MessageBinary {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(data), true
		}
		if _, err := g.invoke(ctx, ev.RequestContext.RouteKey, ev); err != nil {
			g.Log.Warn("monitor route failed", "route", ev.RequestContext.RouteKey, "err", err)
			_ = conn.c.Write(ctx, websocket.MessageText, []byte(`{"message": "Internal server error"}`))
		}
	}
}

// routeKey applies the route selection expression ($request.body.action).
func routeKey(body string, routes map[string]monitor.RouteFunc) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) == nil {
		if a, ok := m["action"].(string); ok && !strings.HasPrefix(a, "$") {
			if _, ok := routes[a]; ok {
				return a
			}
		}
	}
	return "$default"
}

func (g *WebSocket) invoke(ctx context.Context, route string, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	h, ok := g.Routes[route]
	if !ok {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("no handler for route %s", route)
	}
	var timeout time.Duration
	for _, r := range api.MonitorRoutes {
		if r.Key == route {
			timeout = g.Timeouts[r.Function]
		}
	}
	ctx, cancel := invocation(ctx, timeout)
	defer cancel()
	return h(ctx, ev)
}

func (g *WebSocket) event(id, route, typ string, conn *wsConn, body string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	return events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID: g.Account, APIID: g.APIID, Stage: g.Stage, RouteKey: route, EventType: typ,
			ConnectionID: id, ConnectedAt: conn.connected.UnixMilli(), RequestID: uuid.NewString(),
			MessageDirection: "IN", RequestTimeEpoch: now.UnixMilli(), RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			Identity: events.APIGatewayRequestIdentity{SourceIP: conn.sourceIP}, Authorizer: conn.authCtx,
			DomainName: "localhost", MessageID: uuid.NewString(),
		},
	}
}

// manage is the Management API: POST sends, GET describes, DELETE closes;
// an unknown connection is 410 GoneException, as API Gateway answers.
func (g *WebSocket) manage(w http.ResponseWriter, r *http.Request, id string) {
	g.mu.Lock()
	conn, ok := g.conns[id]
	g.mu.Unlock()
	if !ok {
		w.Header().Set("X-Amzn-Errortype", "GoneException")
		writeJSON(w, http.StatusGone, map[string]string{"message": "connection " + id + " is gone"})
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxWSMessage+1))
		if err != nil || len(body) > MaxWSMessage {
			w.Header().Set("X-Amzn-Errortype", "PayloadTooLargeException")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "message over 128 KB"})
			return
		}
		if err := conn.c.Write(r.Context(), websocket.MessageText, body); err != nil {
			w.Header().Set("X-Amzn-Errortype", "GoneException")
			writeJSON(w, http.StatusGone, map[string]string{"message": "connection " + id + " is gone"})
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"connectedAt": conn.connected.UTC().Format(time.RFC3339), "identity": map[string]string{"sourceIp": conn.sourceIP}})
	case http.MethodDelete:
		_ = conn.c.Close(websocket.StatusNormalClosure, "closed by the Management API")
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
	}
}

// connectionID is an id shaped like API Gateway's: random bytes in base64 (URL-safe: it is a path segment).
func connectionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Connections reports how many WebSocket connections are open.
func (g *WebSocket) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}
