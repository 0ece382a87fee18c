package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/user"
)

func TestAuthorizer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	for _, u := range []struct {
		name string
		tier user.Tier
	}{{"alice", user.Premium}, {"carol", user.Free}} {
		if _, err := e.users.Create(ctx, u.name, "correct horse battery", u.tier); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.users.SetDisabled(ctx, "carol", true); err != nil {
		t.Fatal(err)
	}
	basic := func(cred string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) }
	authorize := func(header string, set bool) (events.APIGatewayCustomAuthorizerResponse, error) {
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		fixture(t, "apigw-authorizer-request.json", &req)
		delete(req.Headers, "authorization")
		delete(req.MultiValueHeaders, "authorization")
		if set {
			req.Headers["Authorization"] = header
		}
		return e.set.Authorizer(ctx, req)
	}

	for _, c := range []struct {
		name, header string
		set          bool
	}{
		{"missing", "", false},
		{"empty", "", true},
		{"not basic", "Bearer abc", true},
		{"not base64", "Basic %%%", true},
		{"no colon", basic("alice"), true},
	} {
		if _, err := authorize(c.header, c.set); err == nil || err.Error() != "Unauthorized" {
			t.Errorf("%s header: %v, want the error Unauthorized (401)", c.name, err)
		}
	}
	for _, c := range []struct{ name, cred string }{
		{"unknown user", "mallory:correct horse battery"},
		{"wrong password", "alice:Tr0ub4dor&3"},
		{"disabled user", "carol:correct horse battery"},
		{"invalid user name", "../alice:correct horse battery"},
	} {
		resp, err := authorize(basic(c.cred), true)
		if err != nil || len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Deny" {
			t.Errorf("%s: %+v %v, want a Deny policy (403)", c.name, resp, err)
		}
		if resp.PrincipalID == "alice" || resp.Context != nil {
			t.Errorf("%s: a denied request carries principal %q context %v", c.name, resp.PrincipalID, resp.Context)
		}
	}

	resp, err := authorize(basic("alice:correct horse battery"), true)
	if err != nil {
		t.Fatal(err)
	}
	if resp.PrincipalID != "alice" || resp.Context["tier"] != "premium" || len(resp.PolicyDocument.Statement) != 1 {
		t.Fatalf("allow: %+v", resp)
	}
	st := resp.PolicyDocument.Statement[0]
	if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"execute-api:Invoke"}) {
		t.Fatalf("statement %+v", st)
	}
	// Scoped: this API and stage, one resource per route, no wildcard method or API.
	prefix := "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/"
	for _, want := range []string{prefix + "POST/session/*/start", prefix + "GET/session", prefix + "GET/simulation/*/input/*", prefix + "GET/session/*/result/*/*"} {
		if !slices.Contains(st.Resource, want) {
			t.Errorf("policy lacks %s", want)
		}
	}
	if want, _ := api.Resources(prefix + "GET/application/"); !slices.Equal(st.Resource, want) {
		t.Errorf("resources %v, want api.Resources %v", st.Resource, want)
	}
	for _, r := range st.Resource {
		if !strings.HasPrefix(r, prefix) || strings.HasPrefix(r, prefix+"*") || strings.HasSuffix(r, "/dev/*") {
			t.Errorf("resource %s is not scoped to one route", r)
		}
	}
	// The answer serialises as API Gateway reads it, and never echoes the password.
	b, _ := json.Marshal(resp)
	if !strings.Contains(string(b), `"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow"`) || strings.Contains(string(b), "horse") {
		t.Fatalf("response JSON %s", b)
	}
	if l := logs.String(); !strings.Contains(l, "wrong password") || strings.Contains(l, "horse") || strings.Contains(l, "Tr0ub4dor") || strings.Contains(l, "Basic ") {
		t.Fatalf("logs must say why, never the password or header:\n%s", l)
	}
}
