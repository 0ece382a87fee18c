// Package httpx is what every API handler shares: the authenticated principal,
// request bodies and parameters, and responses shaped as the original API
// answered (JSON, CORS header, errors as {"Message": ...}), so that no failure
// ever leaves API Gateway waiting.
package httpx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Handler is a Lambda proxy handler, as lambda.Start and a local gateway call it.
type Handler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// UserHandler serves a request for an authenticated user.
type UserHandler func(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error)

// Error is a failed request: the status and the message the client sees. Err,
// when set, is the cause, logged but never shown.
type Error struct {
	Status  int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(status int, format string, a ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, a...)}
}

// headers of every response; the original allowed every origin.
func headers(contentType string) map[string]string {
	return map[string]string{"Access-Control-Allow-Origin": "*", "Content-Type": contentType}
}

// MaxResponseBody is the largest body answered: Lambda carries at most 6 MB
// of response, and the body is escaped once more inside it.
const MaxResponseBody = 5 << 20

// JSON answers v as JSON; a body over MaxResponseBody is a 500 that says
// so, where Lambda would fail the invocation and API Gateway answer 502.
func JSON(status int, v any) (events.APIGatewayProxyResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("encode response: %w", err)
	}
	if len(b) > MaxResponseBody {
		return events.APIGatewayProxyResponse{}, Errorf(http.StatusInternalServerError, "response of %d bytes is over the %d an API answer carries", len(b), MaxResponseBody)
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers("application/json"), Body: string(b)}, nil
}

// Raw answers body verbatim with contentType.
func Raw(status int, contentType, body string) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers(contentType), Body: body}
}

// Binary answers b, base64-encoded for API Gateway when it is not UTF-8 text
// (the original sent every file as text and corrupted binaries).
func Binary(b []byte) events.APIGatewayProxyResponse {
	r := Raw(http.StatusOK, "application/octet-stream", "")
	if isText(b) {
		r.Body = string(b)
	} else {
		r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString(b), true
	}
	return r
}

func isText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }

// Redirect answers 302 with Location, as the client expects for signed URLs.
func Redirect(url string) events.APIGatewayProxyResponse {
	h := headers("application/json")
	h["Location"] = url
	return events.APIGatewayProxyResponse{StatusCode: http.StatusFound, Headers: h, Body: ""}
}

// Fail turns err into the response the client sees: an *Error as it says,
// an invalid name 400, a missing item 404, anything else 500 (logged).
func Fail(ctx context.Context, err error) events.APIGatewayProxyResponse {
	var he *Error
	var inv *objectkey.InvalidError
	switch {
	case errors.As(err, &he):
		switch {
		case he.Status >= 500:
			slog.ErrorContext(ctx, "request failed", "status", he.Status, "err", err)
		case he.Err != nil: // the detail the client is not shown
			slog.InfoContext(ctx, "request refused", "status", he.Status, "err", err)
		}
	case errors.As(err, &inv):
		he = &Error{Status: http.StatusBadRequest, Message: inv.Error()}
	case errors.Is(err, sessionstore.ErrNotFound):
		he = &Error{Status: http.StatusNotFound, Message: err.Error()} // says what: "session <id>: not found"
	case errors.Is(err, context.DeadlineExceeded):
		slog.ErrorContext(ctx, "request timed out", "err", err)
		he = &Error{Status: http.StatusInternalServerError, Message: "timed out"}
	default:
		slog.ErrorContext(ctx, "request failed", "err", err)
		he = &Error{Status: http.StatusInternalServerError, Message: "internal error"}
	}
	r, _ := JSON(he.Status, map[string]string{"Message": he.Message})
	return r
}

// Principal is the user the authorizer let through, or a 401 *Error.
func Principal(req events.APIGatewayProxyRequest) (string, error) {
	p, _ := req.RequestContext.Authorizer["principalId"].(string)
	if p == "" || objectkey.User(p) != nil {
		return "", &Error{Status: http.StatusUnauthorized, Message: "Unauthorized"}
	}
	return p, nil
}

// Authenticated serves h for the request's principal; without one it answers
// 401 (the original answered 200 [] there). Errors and panics become JSON
// responses, never a Lambda error, so API Gateway never answers 502 or waits.
func Authenticated(h UserHandler) Handler {
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
		defer func() {
			if p := recover(); p != nil {
				resp, err = Fail(ctx, fmt.Errorf("panic: %v", p)), nil
			}
		}()
		user, err := Principal(req)
		if err != nil {
			return Fail(ctx, err), nil
		}
		resp, err = h(ctx, req, user)
		if err != nil {
			return Fail(ctx, err), nil
		}
		return resp, nil
	}
}

// Body returns the request body, decoded when API Gateway base64-encoded it.
func Body(req events.APIGatewayProxyRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "body is not valid base64")
	}
	return b, nil
}

// LimitedBody is Body refused with 413 beyond limit bytes.
func LimitedBody(req events.APIGatewayProxyRequest, limit int) ([]byte, error) {
	b, err := Body(req)
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", len(b), limit)
	}
	return b, nil
}

// Query returns a query-string parameter and whether it is present.
func Query(req events.APIGatewayProxyRequest, name string) (string, bool) {
	if v, ok := req.QueryStringParameters[name]; ok {
		return v, true
	}
	if vs, ok := req.MultiValueQueryStringParameters[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// SessionID returns the validated {id} path parameter.
func SessionID(req events.APIGatewayProxyRequest) (string, error) {
	id := req.PathParameters["id"]
	if err := objectkey.ID(id); err != nil {
		return "", err
	}
	return id, nil
}
