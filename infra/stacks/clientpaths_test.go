package stacks_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/api"
)

// Every path a client may send (as declared, with a trailing slash, with
// FOQUS's doubled slash before a parameter) resolves, among the synthesized
// template's methods, to the method of its route, behind the authorizer,
// with the path parameters the handler reads; and the authorizer's policy
// allows the method ARN API Gateway builds from it.
func TestClientPathsReachTheirMethodAndThePolicyAllowsThem(t *testing.T) {
	tmpl := dev.svc
	paths := apiPaths(tmpl)
	var methods []api.Route
	props := map[api.Route]map[string]any{}
	for _, m := range tmpl.ofType("AWS::ApiGateway::Method") {
		if m.Properties["HttpMethod"] == "OPTIONS" {
			continue
		}
		r := api.Route{Method: m.Properties["HttpMethod"].(string), Path: paths[refOf(m.Properties["ResourceId"])]}
		methods = append(methods, r)
		props[r] = m.Properties
	}
	res, err := api.Resources(api.MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "dev", "GET", "/application/"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"id": "0f8c2f5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f", "generator": "00000000-0000-0000-0000-000000000000", "page": "1", "name": "flow", "path": "extra data.txt"}
	checked := 0
	for _, r := range api.Routes {
		filled := api.Fill(r.Path, values)
		forms := []string{filled, filled + "/"}
		if tmplSegs := api.Segments(r.Path); len(tmplSegs) > 1 && strings.HasPrefix(tmplSegs[1], "{") {
			first, rest, _ := strings.Cut(filled[1:], "/")
			forms = append(forms, "/"+first+"//"+rest)
		}
		for _, p := range forms {
			got, params, ok := api.MatchIn(methods, r.Method, p)
			if !ok || got.Path != r.Path {
				t.Errorf("%s %s: the template resolves %s %v, want %s", r.Method, p, got.Path, ok, r.Path)
				continue
			}
			for _, name := range r.Params() {
				if params[name] != values[name] {
					t.Errorf("%s %s: parameter %s = %q", r.Method, p, name, params[name])
				}
			}
			mp := props[got]
			if mp["AuthorizationType"] != "CUSTOM" {
				t.Errorf("%s %s: authorization %v", r.Method, p, mp["AuthorizationType"])
			}
			var declared []string
			for k := range asMap(mp["RequestParameters"]) {
				declared = append(declared, strings.TrimPrefix(k, "method.request.path."))
			}
			slices.Sort(declared)
			want := slices.Sorted(slices.Values(r.Params()))
			if !slices.Equal(declared, want) {
				t.Errorf("%s %s: request parameters %v, want %v", r.Method, r.Path, declared, want)
			}
			arn := api.MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "dev", r.Method, p)
			if !slices.ContainsFunc(res, func(pat string) bool { return api.ARNMatches(pat, arn) }) {
				t.Errorf("the authorizer's policy denies %s", arn)
			}
			checked++
		}
	}
	t.Logf("%d client paths of %d routes checked against the template", checked, len(api.Routes))
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
