package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/connections"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/authorizer"
)

// RouteFunc is the handler of one WebSocket route, as Lambda calls it.
type RouteFunc = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// AuthorizerFunc is the $connect REQUEST authorizer.
type AuthorizerFunc = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Authorizer checks $connect's Basic credentials with the REST API's own
// check (authorizer.ParseBasic, user.Store.Authenticate).
type Authorizer struct {
	Users *user.Store
}

// Handle allows exactly the $connect method ARN for a valid user, denies a
// wrong password, an unknown or disabled user (403), and answers a missing
// or malformed header with Unauthorized (401). A failing users table is an
// error (500), never a denial.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if !strings.HasPrefix(req.MethodArn, "arn:") || !strings.HasSuffix(req.MethodArn, "/$connect") {
		slog.WarnContext(ctx, "monitor authorizer: unexpected method ARN", "arn", req.MethodArn)
		return events.APIGatewayCustomAuthorizerResponse{}, authorizer.ErrUnauthorized
	}
	h := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			h = v
		}
	}
	name, password, err := authorizer.ParseBasic(h)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, authorizer.ErrUnauthorized
	}
	u, err := a.Users.Authenticate(ctx, name, password)
	switch {
	case errors.Is(err, user.ErrUnknownUser), errors.Is(err, user.ErrWrongPassword), errors.Is(err, user.ErrDisabled):
		slog.InfoContext(ctx, "monitor authorizer: denied", "user", name, "reason", err.Error())
		return policy("denied", "Deny", req.MethodArn, nil), nil
	case err != nil:
		// Counted by the function's failure alarm (its Errors metric also counts every 401).
		slog.ErrorContext(ctx, "monitor authorizer: reading the user failed", "err", err)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("monitor authorizer: %w", err)
	}
	return policy(u.Name, "Allow", req.MethodArn, map[string]any{"tier": string(u.Tier)}), nil
}

func policy(principal, effect, arn string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{arn}}},
		},
		Context: ctx,
	}
}

// Principal is the user the $connect authorizer allowed: API Gateway passes
// its answer on every route of the connection.
func Principal(req events.APIGatewayWebsocketProxyRequest) (string, bool) {
	m, ok := req.RequestContext.Authorizer.(map[string]any)
	if !ok {
		return "", false
	}
	p, ok := m["principalId"].(string)
	return p, ok && p != ""
}

func answer(status int) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status}
}

// Routes serves the WebSocket routes.
type Routes struct {
	Conns    *connections.Store
	Send     *Sender
	Sessions *sessionstore.Store
	Fleet    Fleet
}

// Connect records the connection under its user.
func (r *Routes) Connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	u, ok := Principal(req)
	if !ok {
		return answer(http.StatusUnauthorized), nil
	}
	if err := r.Conns.Put(ctx, u, req.RequestContext.ConnectionID); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return answer(http.StatusOK), nil
}

// Disconnect forgets the connection.
func (r *Routes) Disconnect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	u, ok := Principal(req)
	if !ok {
		return answer(http.StatusOK), nil
	}
	if err := r.Conns.Delete(ctx, u, req.RequestContext.ConnectionID); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return answer(http.StatusOK), nil
}

// Status answers {"action":"status"} on the caller's connection: the fleet
// and the caller's own active sessions with their counts per state.
func (r *Routes) Status(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	u, ok := Principal(req)
	if !ok {
		return answer(http.StatusForbidden), nil
	}
	m, err := r.Fleet.Status(ctx)
	if err != nil {
		slog.WarnContext(ctx, "monitor status: fleet not read", "err", err)
		m = Message{Error: "the fleet's status could not be read; try again"}
	}
	if m.Sessions, err = ActiveSessions(ctx, r.Sessions, u); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return r.reply(ctx, u, req, m)
}

// Default answers a message no route takes with an error on that connection.
func (r *Routes) Default(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	u, _ := Principal(req)
	var body struct {
		Action *string `json:"action"`
	}
	msg := `messages are JSON objects with an "action"; the only action is "status": {"action":"status"}`
	if err := json.Unmarshal([]byte(req.Body), &body); err == nil && body.Action != nil {
		msg = fmt.Sprintf(`unknown action %q; the only action is "status": {"action":"status"}`, *body.Action)
	}
	return r.reply(ctx, u, req, Message{Error: msg})
}

func (r *Routes) reply(ctx context.Context, u string, req events.APIGatewayWebsocketProxyRequest, m Message) (events.APIGatewayProxyResponse, error) {
	err := r.Send.Send(ctx, connections.Connection{User: u, ID: req.RequestContext.ConnectionID}, m)
	if errors.Is(err, ErrGone) {
		return answer(http.StatusGone), nil
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return answer(http.StatusOK), nil
}
