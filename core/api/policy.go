package api

import (
	"fmt"
	"path"
	"strings"
)

// MethodARN is the ARN API Gateway hands the REQUEST authorizer and checks
// its policy against: the request path as the client sent it (trailing and
// doubled slashes kept), after the stage.
func MethodARN(region, account, apiID, stage, method, p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", region, account, apiID, stage, method, p)
}

// Resources lists the execute-api ARNs an Allow policy must name so every
// route of Routes, in the API and stage of methodArn, is callable in each
// form a client sends: each route as declared and with a trailing slash,
// path parameters as "*" (which in IAM matches any characters, so a doubled
// slash before a parameter is covered too). API Gateway caches the policy per
// Authorization header and applies it to every route, so it names them all,
// and nothing else.
func Resources(methodArn string) ([]string, error) {
	parts := strings.SplitN(methodArn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return nil, fmt.Errorf("not an execute-api ARN: %q", methodArn)
	}
	apiID, rest, ok := strings.Cut(parts[5], "/")
	stage, _, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || apiID == "" || stage == "" || apiID == "*" || stage == "*" {
		return nil, fmt.Errorf("no API id and stage in %q", methodArn)
	}
	base := strings.Join(parts[:5], ":") + ":" + apiID + "/" + stage + "/"
	seen := map[string]bool{}
	var out []string
	add := func(arn string) {
		if !seen[arn] {
			seen[arn] = true
			out = append(out, arn)
		}
	}
	for _, r := range Routes {
		segs := Segments(r.Path)
		for i, s := range segs {
			if _, isParam := param(s); isParam {
				segs[i] = "*"
			}
		}
		arn := base + r.Method + "/" + strings.Join(segs, "/")
		add(arn)
		if !strings.HasSuffix(arn, "*") { // "*" already takes a trailing slash
			add(arn + "/")
		}
	}
	return out, nil
}

// ARNMatches reports whether an IAM resource pattern matches arn: "*" is any
// run of characters (slashes included), "?" any one character.
func ARNMatches(pattern, arn string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == arn
	}
	// path.Match's "*" stops at "/"; swap it for a byte neither side holds.
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(arn, "/", "\x00"))
	return err == nil && ok
}
