package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
)

var update = flag.Bool("update", false, "write openapi.json from the routes and types (make openapi)")

// The committed document is what the routes, the Operations and the Go
// types make: a route, a status or a body type changed without it fails here.
func TestDocumentIsCurrent(t *testing.T) {
	got, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, JSON) {
		t.Fatal("openapi.json is not what core/api's routes and the handlers' types make: run make openapi and commit it")
	}
}

type document struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Parameters []struct{ Name, In string }
		Responses  map[string]struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func TestEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	var d document
	if err := json.Unmarshal(JSON, &d); err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", d.OpenAPI)
	}
	for _, r := range api.Routes {
		p := strings.ReplaceAll(r.Path, "+}", "}")
		op, ok := d.Paths[p][strings.ToLower(r.Method)]
		if !ok {
			t.Fatalf("%s %s is not in the document", r.Method, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, "{") {
				found := false
				for _, prm := range op.Parameters {
					found = found || prm.In == "path" && "{"+prm.Name+"}" == seg
				}
				if !found {
					t.Fatalf("%s %s: path parameter %s undocumented", r.Method, p, seg)
				}
			}
		}
		success := false
		for code, a := range op.Responses {
			n, _ := strconv.Atoi(code)
			success = success || n >= 200 && n < 400
			for _, c := range a.Content {
				if ref, _ := c.Schema["$ref"].(string); ref != "" {
					if _, ok := d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
						t.Fatalf("%s %s %s: dangling %s", r.Method, p, code, ref)
					}
				}
			}
		}
		if !success || op.Responses["403"].Content == nil || op.Responses["429"].Content == nil {
			t.Fatalf("%s %s: responses %v", r.Method, p, op.Responses)
		}
	}
	// The record's State is the job states, not just any string.
	state, _ := d.Components.Schemas["Record"]["properties"].(map[string]any)["State"].(map[string]any)
	if enum, _ := state["enum"].([]any); len(enum) != 10 {
		t.Fatalf("Record.State: %v", state)
	}
}

// A route without an Operation, or an Operation without a route, is refused.
func TestDocumentRefusesDrift(t *testing.T) {
	saved := api.Routes
	t.Cleanup(func() { api.Routes = saved })
	api.Routes = append(append([]api.Route{}, saved...), api.Route{Method: "PATCH", Path: "/session/{id}", Function: api.FnSessionGet})
	if _, err := Document(); err == nil || !strings.Contains(err.Error(), "route PATCH /session/{id} has no Operation") {
		t.Fatalf("undocumented route: %v", err)
	}
	api.Routes = saved[1:]
	if _, err := Document(); err == nil || !strings.Contains(err.Error(), "operations without a route in api.Routes: "+saved[0].Method+" "+saved[0].Path) {
		t.Fatalf("route gone: %v", err)
	}
}

// openapi-spec-validator (the image's python3; make test exports
// FOQUS_PYTHON) accepts the document as OpenAPI 3.1.
func TestValidatorAccepts(t *testing.T) {
	t.Parallel()
	py := os.Getenv("FOQUS_PYTHON")
	required := py != ""
	if py == "" {
		py = "python3"
	}
	if err := exec.Command(py, "-c", "import openapi_spec_validator").Run(); err != nil {
		if required {
			t.Fatalf("%s has no openapi_spec_validator: pip install openapi-spec-validator", py)
		}
		t.Skip("no python3 with openapi_spec_validator (make test sets FOQUS_PYTHON)")
	}
	out, err := exec.Command(py, "-m", "openapi_spec_validator", "--schema", "3.1", "openapi.json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openapi-spec-validator: %v\n%s", err, out)
	}
	// And it is not a rubber stamp: a response without a description fails.
	var doc map[string]any
	_ = json.Unmarshal(JSON, &doc)
	delete(doc["paths"].(map[string]any)["/session"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any), "description")
	bad, _ := json.Marshal(doc)
	p := t.TempDir() + "/bad.json"
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-m", "openapi_spec_validator", "--schema", "3.1", p).CombinedOutput(); err == nil {
		t.Fatalf("a response without description passed:\n%s", out)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	resp, err := Serve(context.Background(), events.APIGatewayProxyRequest{}, "alice")
	if err != nil || resp.StatusCode != 200 || resp.Body != string(JSON) || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("%d %v %q", resp.StatusCode, err, resp.Headers)
	}
}
