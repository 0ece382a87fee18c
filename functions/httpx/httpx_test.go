package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

func authed(user string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"principalId": user}}}
}

// Every failure, a panic included, is a JSON answer with the right status,
// never a Lambda error (API Gateway would answer 502).
func TestAuthenticatedAnswersEveryFailure(t *testing.T) {
	for _, c := range []struct {
		name   string
		req    events.APIGatewayProxyRequest
		err    error
		panics bool
		status int
		msg    string
	}{
		{"no authorizer", events.APIGatewayProxyRequest{}, nil, false, http.StatusUnauthorized, "Unauthorized"},
		{"invalid principal", authed("../x"), nil, false, http.StatusUnauthorized, "Unauthorized"},
		{"typed", authed("alice"), Errorf(http.StatusConflict, "busy %d", 1), false, http.StatusConflict, "busy 1"},
		{"invalid name", authed("alice"), fmt.Errorf("wrapped: %w", &objectkey.InvalidError{Kind: "id", Value: "x"}), false, http.StatusBadRequest, `invalid id "x"`},
		{"not found", authed("alice"), fmt.Errorf("session: %w", sessionstore.ErrNotFound), false, http.StatusNotFound, "session: not found"},
		{"timeout", authed("alice"), context.DeadlineExceeded, false, http.StatusInternalServerError, "timed out"},
		{"internal", authed("alice"), errors.New("secret detail"), false, http.StatusInternalServerError, "internal error"},
		{"panic", authed("alice"), nil, true, http.StatusInternalServerError, "internal error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := Authenticated(func(context.Context, events.APIGatewayProxyRequest, string) (events.APIGatewayProxyResponse, error) {
				if c.panics {
					panic("boom")
				}
				return events.APIGatewayProxyResponse{}, c.err
			})
			resp, err := h(context.Background(), c.req)
			var body struct{ Message string }
			if err != nil || resp.StatusCode != c.status || json.Unmarshal([]byte(resp.Body), &body) != nil || body.Message != c.msg {
				t.Fatalf("got %d %q %v, want %d {Message: %q}", resp.StatusCode, resp.Body, err, c.status, c.msg)
			}
			if resp.Headers["Access-Control-Allow-Origin"] != "*" || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("headers %v", resp.Headers)
			}
		})
	}
}

func TestBinaryAndBody(t *testing.T) {
	if r := Binary([]byte("héllo\n")); r.IsBase64Encoded || r.Body != "héllo\n" {
		t.Fatalf("text answered as %+v", r)
	}
	if r := Binary([]byte{0xff, 0x00}); !r.IsBase64Encoded || r.Body != "/wA=" {
		t.Fatalf("binary answered as %+v", r)
	}
	b, err := Body(events.APIGatewayProxyRequest{Body: "/wA=", IsBase64Encoded: true})
	if err != nil || string(b) != "\xff\x00" {
		t.Fatalf("Body = %q, %v", b, err)
	}
	if _, err := LimitedBody(events.APIGatewayProxyRequest{Body: "12345"}, 4); err == nil || err.(*Error).Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("LimitedBody: %v", err)
	}
	if _, err := Body(events.APIGatewayProxyRequest{Body: "%%", IsBase64Encoded: true}); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

// An answer Lambda could not carry is a 500 that says why, not a 502.
func TestJSONRefusesOversizedAnswers(t *testing.T) {
	_, err := JSON(http.StatusOK, strings.Repeat("x", MaxResponseBody))
	var he *Error
	if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || !strings.Contains(he.Message, "over the") {
		t.Fatalf("JSON of an oversized body: %v", err)
	}
}

func TestDescribeJSONInTheRequestsTerms(t *testing.T) {
	type req struct {
		Name  *string  `json:"Name"`
		Flag  bool     `json:"Flag"`
		Count int      `json:"Count"`
		Tags  []string `json:"Tags"`
	}
	for _, c := range []struct{ body, msg string }{
		{`{"Name":1}`, "body: Name is a number, not a string"},
		{`{"Flag":"yes"}`, "body: Flag is a string, not true or false"},
		{`{"Count":1.5}`, "body: Count is the number 1.5, not a whole number in range"},
		{`{"Tags":{}}`, "body: Tags is an object, not an array"},
		{`[1]`, "body: is an array, not an object"},
		{`{"Name":`, "body: not valid JSON (it ends early)"},
		{`{"Name" 1}`, "body: not valid JSON (at byte 9)"},
	} {
		var v req
		err := DecodeJSON("body", []byte(c.body), &v)
		var he *Error
		if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Message != c.msg || he.Err == nil {
			t.Errorf("%s: got %v, want 400 %q with the cause kept", c.body, err, c.msg)
		}
	}
	for _, c := range []struct{ body, msg string }{
		{`{"a":[1,2e308]}`, "x holds the number 2e308, outside the range of a double"},
		{"{\"a\":\"\xff\"}", "x is not valid UTF-8 text"},
		{`{"a":1e-400,"b":"ok"}`, ""},
	} {
		err := CheckJSONText("x", []byte(c.body))
		if c.msg == "" && err != nil || c.msg != "" && (err == nil || err.(*Error).Message != c.msg) {
			t.Errorf("%s: got %v, want %q", c.body, err, c.msg)
		}
	}
}
