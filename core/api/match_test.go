package api

import (
	"maps"
	"strings"
	"testing"
)

func TestMatchTrailingAndDoubledSlashes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, path, route string
		params              map[string]string
	}{
		{"GET", "/application", "/application", map[string]string{}},
		{"GET", "/application/", "/application", map[string]string{}},
		{"POST", "/session/", "/session", map[string]string{}},
		{"GET", "/simulation/", "/simulation", map[string]string{}},
		{"PUT", "/simulation/flow", "/simulation/{name}", map[string]string{"name": "flow"}},
		{"PUT", "/simulation/flow/", "/simulation/{name}", map[string]string{"name": "flow"}},
		{"POST", "/session/abc/start", "/session/{id}/start", map[string]string{"id": "abc"}},
		{"POST", "/session/abc/start/", "/session/{id}/start", map[string]string{"id": "abc"}},
		{"POST", "/session/abc", "/session/{id}", map[string]string{"id": "abc"}},
		{"GET", "/session/a/result/g/1", "/session/{id}/result/{generator}/{page}", map[string]string{"id": "a", "generator": "g", "page": "1"}},
		{"PUT", "/simulation/flow/input/configuration", "/simulation/{name}/input/{path+}", map[string]string{"name": "flow", "path": "configuration"}},
		{"PUT", "/simulation//flow/input/configuration", "/simulation/{name}/input/{path+}", map[string]string{"name": "flow", "path": "configuration"}},
		{"POST", "/simulation/flow/input/dir/extra data.txt", "/simulation/{name}/input/{path+}", map[string]string{"name": "flow", "path": "dir/extra data.txt"}},
	} {
		r, params, ok := Match(c.method, c.path)
		if !ok || r.Path != c.route || r.Method != c.method || !maps.Equal(params, c.params) {
			t.Errorf("Match(%s %q) = %s %s %v %v, want %s %v", c.method, c.path, r.Method, r.Path, params, ok, c.route, c.params)
		}
	}
}

func TestMatchUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/", "", "//", "/nope", "/session/a/b/c/d/e/f", "/application/x"} {
		if r, _, ok := Match("GET", p); ok || r.Path != "" {
			t.Errorf("GET %q matched %+v %v", p, r, ok)
		}
	}
	// A known path with another method: not a match, but the path is known
	// (API Gateway's CORS preflight answers it).
	r, _, ok := Match("PATCH", "/application/")
	if ok || r.Path != "/application" {
		t.Errorf("PATCH /application/: %+v %v, want the path known and no match", r, ok)
	}
	if r, _, ok := Match("GET", "/nope/"); ok || r.Path != "" {
		t.Errorf("GET /nope/: %+v %v", r, ok)
	}
}

func TestParamsAndFill(t *testing.T) {
	t.Parallel()
	r := Route{"GET", "/session/{id}/result/{generator}/{page}", FnResultPage}
	if got := strings.Join(r.Params(), ","); got != "id,generator,page" {
		t.Errorf("Params = %s", got)
	}
	if got := (Route{"PUT", "/simulation/{name}/input/{path+}", FnInputPut}).Params(); len(got) != 2 || got[1] != "path" {
		t.Errorf("greedy Params = %v", got)
	}
	if got := Fill("/simulation/{name}/input/{path+}", map[string]string{"name": "f", "path": "a/b"}); got != "/simulation/f/input/a/b" {
		t.Errorf("Fill = %s", got)
	}
}

// clientForms are the paths a client may send for route r with its
// parameters filled: as declared, with a trailing slash, and with the doubled
// slash FOQUS produces before a parameter ("/simulation//<name>/input").
func clientForms(r Route) []string {
	return forms(r, Fill(r.Path, map[string]string{"id": "0f8c2f5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f", "generator": "00000000-0000-0000-0000-000000000000", "page": "1", "name": "flow", "path": "configuration"}))
}

func forms(r Route, filled string) []string {
	out := []string{filled, filled + "/"}
	tmpl := Segments(r.Path)
	if len(tmpl) > 1 {
		if _, isParam := param(tmpl[1]); isParam {
			first, rest, _ := strings.Cut(filled[1:], "/")
			out = append(out, "/"+first+"//"+rest, "/"+first+"//"+rest+"/")
		}
	}
	return out
}

func TestEveryClientFormReachesItsRouteAndIsAllowed(t *testing.T) {
	t.Parallel()
	res, err := Resources(MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "dev", "GET", "/application/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Routes {
		for _, p := range clientForms(r) {
			got, _, ok := Match(r.Method, p)
			if !ok || got != r {
				t.Errorf("%s %s reaches %+v, want %s", r.Method, p, got, r.Path)
			}
			if arn := MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "dev", r.Method, p); !allowed(res, arn) {
				t.Errorf("the policy does not allow %s", arn)
			}
			for _, other := range []string{
				MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "prod", r.Method, p),
				MethodARN("us-east-1", "123456789012", "zzzzzzzzzz", "dev", r.Method, p),
				MethodARN("us-east-1", "123456789012", "a1b2c3d4e5", "dev", "PATCH", p),
			} {
				if allowed(res, other) {
					t.Errorf("the policy allows %s", other)
				}
			}
		}
	}
	for _, p := range res {
		if !strings.HasPrefix(p, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/") || strings.Contains(p, "/dev/*") {
			t.Errorf("resource %s is not scoped to one route", p)
		}
	}
}

func TestResourcesRefusesOtherARNs(t *testing.T) {
	t.Parallel()
	for _, arn := range []string{"", "arn:aws:s3:::bucket", "arn:aws:execute-api:us-east-1:1:api", "arn:aws:execute-api:us-east-1:1:*/dev/GET/", "arn:aws:execute-api:us-east-1:1:api/*/GET/"} {
		if _, err := Resources(arn); err == nil {
			t.Errorf("Resources(%q) accepted", arn)
		}
	}
}

func TestARNMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, arn string
		want         bool
	}{
		{"a/dev/GET/session", "a/dev/GET/session", true},
		{"a/dev/GET/session", "a/dev/GET/session/", false},
		{"a/dev/GET/session/*", "a/dev/GET/session/x", true},
		{"a/dev/GET/simulation/*/input", "a/dev/GET/simulation//x/input", true},
		{"a/dev/GET/simulation/*/input", "a/dev/GET/simulation/x/input/", false},
		{"a/dev/GET/?", "a/dev/GET/x", true},
		{"a/dev/POST/*", "a/dev/GET/x", false},
	} {
		if got := ARNMatches(c.pattern, c.arn); got != c.want {
			t.Errorf("ARNMatches(%q, %q) = %v", c.pattern, c.arn, got)
		}
	}
}

// FuzzMatch: any method and path either match no route or a route whose
// template, filled with the parameters found, matches the same route again
// with the same parameters; the policy allows the request's ARN.
func FuzzMatch(f *testing.F) {
	for _, r := range Routes {
		for _, p := range clientForms(r) {
			f.Add(r.Method, p)
		}
	}
	f.Add("GET", "//")
	f.Add("PUT", "/simulation/a/input/../../x")
	res, err := Resources(MethodARN("us-east-1", "1", "api", "dev", "GET", "/"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, p string) {
		r, params, ok := Match(method, p)
		if !ok {
			return
		}
		if r.Method != method {
			t.Fatalf("%s %q matched a %s route", method, p, r.Method)
		}
		again, params2, ok := Match(method, Fill(r.Path, params))
		if !ok || again != r || !maps.Equal(params, params2) {
			t.Fatalf("%s %q: %+v %v, refilled %+v %v", method, p, r, params, again, params2)
		}
		for _, v := range params {
			if v == "" || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.Contains(v, "//") {
				t.Fatalf("%s %q: parameter %q has an empty segment", method, p, v)
			}
		}
		// Every form a client sends of the path reached is allowed.
		for _, form := range forms(r, "/"+strings.Join(Segments(p), "/")) {
			if !allowed(res, MethodARN("us-east-1", "1", "api", "dev", method, form)) {
				t.Fatalf("%s %q reaches %s but the policy denies %s", method, p, r.Path, form)
			}
		}
	})
}

func allowed(res []string, arn string) bool {
	for _, p := range res {
		if ARNMatches(p, arn) {
			return true
		}
	}
	return false
}
