package api

import (
	"strings"
)

// Segments splits a request path into the segments API Gateway resolves a
// resource from. Empty segments are dropped: REST API resource matching
// ignores a trailing slash ("/application/"), and FOQUS joins a base URL
// ending in "/" with a path starting with one ("/simulation//<name>/input");
// both reach the route they name.
func Segments(p string) []string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

// Params names the path parameters of the route's template, in order
// ("{path+}" gives "path").
func (r Route) Params() []string {
	var names []string
	for _, part := range Segments(r.Path) {
		if name, ok := param(part); ok {
			names = append(names, name)
		}
	}
	return names
}

// param reads "{name}" or "{name+}".
func param(part string) (string, bool) {
	if len(part) < 3 || part[0] != '{' || part[len(part)-1] != '}' {
		return "", false
	}
	return strings.TrimSuffix(part[1:len(part)-1], "+"), true
}

func greedy(part string) bool { return strings.HasSuffix(part, "+}") }

// match fits the request segments to the route's template: its path
// parameters and how many literal segments matched, or false.
func (r Route) match(segs []string) (map[string]string, int, bool) {
	parts := Segments(r.Path)
	params := map[string]string{}
	literals := 0
	for i, part := range parts {
		if i >= len(segs) {
			return nil, 0, false
		}
		name, isParam := param(part)
		switch {
		case isParam && greedy(part):
			params[name] = strings.Join(segs[i:], "/")
			return params, literals, true
		case isParam:
			params[name] = segs[i]
		case part != segs[i]:
			return nil, 0, false
		default:
			literals++
		}
	}
	return params, literals, len(parts) == len(segs)
}

// Match finds the route of method and request path p (without the stage) as
// API Gateway does: literal segments win over path parameters, "{name+}"
// takes the rest, trailing and doubled slashes are ignored. When no route has
// that method, ok is false and route is still some route of that path (its
// Path non-empty) if one exists, so a caller can tell an unknown path from
// an unsupported method (CORS preflight answers the latter).
func Match(method, p string) (route Route, params map[string]string, ok bool) {
	segs := Segments(p)
	best := -1
	for _, r := range Routes {
		ps, literals, fits := r.match(segs)
		if !fits {
			continue
		}
		if !ok && route.Path == "" {
			route = r
		}
		if r.Method == method && literals > best {
			route, params, best, ok = r, ps, literals, true
		}
	}
	return route, params, ok
}

// Fill is the path of route template tmpl with its parameters replaced by
// values (missing ones stay as written): how tests and tools build requests.
func Fill(tmpl string, values map[string]string) string {
	parts := strings.Split(tmpl, "/")
	for i, part := range parts {
		if name, ok := param(part); ok {
			if v, has := values[name]; has {
				parts[i] = v
			}
		}
	}
	return strings.Join(parts, "/")
}
