// Package openapi is the API's OpenAPI 3.1 document, generated from the
// route model (api.Routes) and the Go types the handlers decode and answer
// (jobview, simulations, sessions): Operations says, per route, its
// parameters, body and every status its handler answers; Document joins them.
// The generated document is committed as openapi.json (make openapi), served
// at GET /openapi.json, and a test fails when it is not what Document builds.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/invopop/jsonschema"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// JSON is the committed document, as GET /openapi.json answers it.
//
//go:embed openapi.json
var JSON []byte

// Path is where the API serves the document.
const Path = "/openapi.json"

// Serve answers the document (GET /openapi.json, behind the authorizer like
// every route).
func Serve(context.Context, events.APIGatewayProxyRequest, string) (events.APIGatewayProxyResponse, error) {
	return httpx.Raw(http.StatusOK, "application/json", string(JSON)), nil
}

// Operation documents one route.
type Operation struct {
	ID      string // operationId
	Summary string
	Query   []Param
	Request *Content
	// Answers by status. Error statuses without Content answer ErrorBody.
	Answers map[int]*Content
}

// Param is a query-string parameter.
type Param struct {
	Name, Description string
	Enum              []string
}

// Content is a body: its media type and the Go value whose type it has, or a
// schema for what no Go type names (a bare integer, any bytes).
type Content struct {
	Description string
	MediaType   string
	Body        any
	Schema      map[string]any
	Headers     map[string]string // name: description
}

// ErrorBody is what a handler answers on every error.
type ErrorBody struct {
	Message string `json:"Message"`
}

// GatewayError is what API Gateway itself answers (no credentials, denied, throttled).
type GatewayError struct {
	Message string `json:"message"`
}

// Gateway answers these before any handler runs, on every route.
var gatewayAnswers = map[int]string{
	401: "no Authorization header: API Gateway answers without calling the authorizer",
	403: "the authorizer denied the credentials (unknown or disabled user, wrong password)",
	429: "throttled: over the stage's rate or burst limit; retry later",
}

func (o Operation) validate() error {
	for status, c := range o.Answers {
		if status < 200 || status > 599 {
			return fmt.Errorf("status %d", status)
		}
		if c != nil && c.MediaType == "" {
			return fmt.Errorf("status %d: no media type", status)
		}
	}
	return nil
}

// pathParam turns an API Gateway resource path into an OpenAPI path and its
// parameters ({path+} is {path}: it spans slashes).
var pathParam = regexp.MustCompile(`\{([a-z]+)(\+?)\}`)

var paramDescriptions = map[string]string{
	"id":        "session id (a UUID)",
	"generator": "result generator id (a UUID): each generator pages through every finished job once",
	"page":      "result page number, from 1",
	"name":      "simulation name",
	"path":      "input file path within the simulation (may contain slashes); `configuration` is the simulation's configuration",
}

// Document builds the OpenAPI document of api.Routes and the Operations.
// It fails when a route has no Operation or an Operation no route.
func Document() ([]byte, error) {
	paths := map[string]map[string]any{}
	seen := map[string]bool{}
	schemas := map[string]any{}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Path
		op, ok := Operations[key]
		if !ok {
			return nil, fmt.Errorf("route %s has no Operation: document it in functions/openapi", key)
		}
		if err := op.validate(); err != nil {
			return nil, fmt.Errorf("route %s: %w", key, err)
		}
		seen[key] = true
		oaPath := pathParam.ReplaceAllString(r.Path, "{$1}")
		if paths[oaPath] == nil {
			paths[oaPath] = map[string]any{}
		}
		paths[oaPath][strings.ToLower(r.Method)] = operation(r, op, schemas)
	}
	var extra []string
	for key := range Operations {
		if !seen[key] {
			extra = append(extra, key)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("operations without a route in api.Routes: %s", strings.Join(extra, ", "))
	}
	schemas["ErrorBody"] = schemaOf(ErrorBody{}, schemas)
	schemas["GatewayError"] = schemaOf(GatewayError{}, schemas)
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "FOQUS cloud API",
			"version": "1",
			"description": "The FOQUS cloud's HTTP API, wire-compatible with the original FOQUS cloud (FOQUS desktop, turb_client). " +
				"Paths are relative to the stage's base URL. Every path is also accepted with a trailing slash and with doubled slashes, as FOQUS sends them " +
				"(e.g. `GET /session/`, `GET /simulation//<name>/input`). Generated from core/api's routes and the handlers' Go types: do not edit, run `make openapi`.",
		},
		"servers": []any{map[string]any{
			"url":         "https://{api}.execute-api.{region}.amazonaws.com/{stage}",
			"description": "a deployed stage (the foqus-service-<stage> stack's API URL output); the local stack serves the same paths",
			"variables": map[string]any{
				"api":    map[string]any{"default": "api-id"},
				"region": map[string]any{"default": "us-east-1"},
				"stage":  map[string]any{"default": "dev", "enum": []string{"dev", "test", "prod"}},
			},
		}},
		"security": []any{map[string]any{"basic": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"basic": map[string]any{
				"type": "http", "scheme": "basic",
				"description": "a user of the stage's TurbineUsers table (cmd/foqus-users); checked by the REQUEST authorizer on every route",
			}},
			"schemas": schemas,
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func operation(r api.Route, op Operation, schemas map[string]any) map[string]any {
	out := map[string]any{"operationId": op.ID, "summary": op.Summary, "tags": []string{strings.Split(strings.TrimPrefix(r.Path, "/"), "/")[0]}}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
		params = append(params, map[string]any{
			"name": m[1], "in": "path", "required": true,
			"description": paramDescriptions[m[1]], "schema": map[string]any{"type": "string"},
		})
	}
	for _, q := range op.Query {
		s := map[string]any{"type": "string"}
		if len(q.Enum) > 0 {
			s["enum"] = q.Enum
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": s})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.Request != nil {
		out["requestBody"] = map[string]any{
			"required": true, "description": op.Request.Description,
			"content": map[string]any{op.Request.MediaType: map[string]any{"schema": bodySchema(op.Request, schemas)}},
		}
	}
	answers := map[string]any{}
	for status, c := range op.Answers {
		answers[strconv.Itoa(status)] = answer(status, c, "ErrorBody", schemas)
	}
	for status, why := range gatewayAnswers {
		answers[strconv.Itoa(status)] = answer(status, &Content{Description: why, MediaType: "application/json", Schema: ref("GatewayError")}, "", schemas)
	}
	out["responses"] = answers
	return out
}

func answer(status int, c *Content, errorSchema string, schemas map[string]any) map[string]any {
	if c == nil { // an error of the handler's usual shape
		return map[string]any{
			"description": "error: the Message says what, in the request's terms",
			"content":     map[string]any{"application/json": map[string]any{"schema": ref(errorSchema)}},
		}
	}
	a := map[string]any{"description": c.Description}
	if c.Body != nil || c.Schema != nil {
		a["content"] = map[string]any{c.MediaType: map[string]any{"schema": bodySchema(c, schemas)}}
	}
	if len(c.Headers) > 0 {
		h := map[string]any{}
		for name, d := range c.Headers {
			h[name] = map[string]any{"description": d, "schema": map[string]any{"type": "string"}}
		}
		a["headers"] = h
	}
	if a["description"] == "" {
		a["description"] = strconv.Itoa(status)
	}
	return a
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// bodySchema is the content's schema: a reference to the component of a
// named Go type (arrays of one as arrays of references), else inline.
func bodySchema(c *Content, schemas map[string]any) any {
	if c.Schema != nil {
		return c.Schema
	}
	t := reflect.TypeOf(c.Body)
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		return map[string]any{"type": "array", "items": component(t.Elem(), schemas)}
	}
	if t.Kind() == reflect.Struct {
		return component(t, schemas)
	}
	return schemaOf(c.Body, schemas)
}

// required overrides what reflection infers (every field without omitempty)
// where a handler checks fewer: ParseAppend needs only Simulation and Input.
var required = map[string][]string{"JobRequest": {"Simulation", "Input"}}

func component(t reflect.Type, schemas map[string]any) map[string]any {
	name := strings.ToUpper(t.Name()[:1]) + t.Name()[1:] // sessions.JobRequest aliases an unexported type
	if _, ok := schemas[name]; !ok {
		s := schemaOf(reflect.New(t).Elem().Interface(), schemas)
		if r, ok := required[name]; ok {
			s.Required = r
		}
		schemas[name] = s
	}
	return ref(name)
}

var (
	stateType = reflect.TypeOf(job.State(""))
	rawType   = reflect.TypeOf(json.RawMessage(nil))
)

// schemaOf reflects v's type into JSON Schema 2020-12 (OpenAPI 3.1's dialect).
func schemaOf(v any, _ map[string]any) *jsonschema.Schema {
	r := &jsonschema.Reflector{
		DoNotReference: true, ExpandedStruct: true, Anonymous: true,
		// Requests may carry fields the handler ignores (FOQUS sends client ids),
		// and answers may grow: no additionalProperties: false.
		AllowAdditionalProperties: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case stateType:
				enum := make([]any, len(job.States))
				for i, s := range job.States {
					enum[i] = string(s)
				}
				return &jsonschema.Schema{Type: "string", Enum: enum, Description: "job state"}
			case rawType:
				return &jsonschema.Schema{Description: "JSON, as the client sent it or the flowsheet produced it"}
			}
			return nil
		},
	}
	s := r.Reflect(v)
	s.Version, s.ID = "", ""
	return s
}
