// Package authorizer is the API Gateway REQUEST authorizer: HTTP Basic
// credentials checked against the bcrypt hashes of core/user. Its Allow
// policy names each route of this API's stage (api.Resources), not the whole API, and it
// never logs the header or a password.
package authorizer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/user"
)

// ErrUnauthorized is the error API Gateway turns into 401: the exact text
// "Unauthorized" is what it recognises.
var ErrUnauthorized = errors.New("Unauthorized")

// Authorizer checks credentials against a user store.
type Authorizer struct {
	Users *user.Store
}

// ParseBasic reads "Basic base64(name:password)". The scheme is
// case-insensitive (RFC 7617); the name may not contain a colon.
func ParseBasic(header string) (name, password string, err error) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", ErrUnauthorized
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", ErrUnauthorized
	}
	name, password, ok = strings.Cut(string(raw), ":")
	if !ok || name == "" {
		return "", "", ErrUnauthorized
	}
	return name, password, nil
}

// header finds Authorization whatever its case: API Gateway passes header
// names as the client wrote them.
func header(req events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, bool) {
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			return v, true
		}
	}
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, "Authorization") && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

// Handle answers one authorization request: an error "Unauthorized" (401)
// for a missing or malformed header, a Deny policy (403) for an unknown user,
// a wrong password or a disabled user, an Allow policy with the user as
// principal and its tier in the context otherwise. A failure to read the
// users table is an error (500), so a transient fault never denies a user.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	resources, err := api.Resources(req.MethodArn)
	if err != nil {
		slog.WarnContext(ctx, "authorizer: unexpected method ARN", "err", err)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	h, ok := header(req)
	if !ok {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	name, password, err := ParseBasic(h)
	if err != nil {
		slog.InfoContext(ctx, "authorizer: malformed Authorization header")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	u, err := a.Users.Authenticate(ctx, name, password)
	switch {
	case errors.Is(err, user.ErrUnknownUser), errors.Is(err, user.ErrWrongPassword), errors.Is(err, user.ErrDisabled):
		slog.InfoContext(ctx, "authorizer: denied", "user", name, "reason", err.Error())
		return policy("denied", "Deny", resources, nil), nil
	case err != nil:
		// The one error level line: the function's failure alarm counts these
		// (its Errors metric also counts every 401).
		slog.ErrorContext(ctx, "authorizer: reading the user failed", "err", err)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorizer: %w", err)
	}
	return policy(u.Name, "Allow", resources, map[string]any{"tier": string(u.Tier)}), nil
}

func policy(principal, effect string, resources []string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: resources}},
		},
		Context: ctx,
	}
}
