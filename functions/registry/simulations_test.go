package registry_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/functions/simulations"
)

func TestSimulationRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	s3c := awsconf.NewS3(e.st.Config)
	get := func(key string) string {
		t.Helper()
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.st.SimulationBucket, Key: &key})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer func() { _ = obj.Body.Close() }()
		b, _ := io.ReadAll(obj.Body)
		return string(b)
	}

	// R1.
	var apps []simulations.Application
	e.ok("GET", "/application", "alice", "", &apps)
	if len(apps) < 3 || apps[0].Name != "foqus" || apps[0].Inputs[0] != "flowsheet" {
		t.Fatalf("applications %+v", apps)
	}

	// R15: the client's body, echoed; meta.json and the marker written.
	meta := `{"Application": "foqus", "StagedInputs": [], "Name": "zzfoqus_flow"}`
	if r := e.ok("PUT", "/simulation/zzfoqus_flow", "alice", meta, nil); r.Body != meta {
		t.Fatalf("PUT answered %q", r.Body)
	}
	if get("alice/zzfoqus_flow/meta.json") != meta || get("alice/zzfoqus_flow/session.foqus") != "{}" {
		t.Fatal("meta.json or marker not written")
	}
	e.ok("PUT", "/simulation/zzfoqus_flow", "alice", meta, nil) // again: same application is fine
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow", "alice", nil, `{"Application":"ACM"}`), http.StatusConflict)
	if msg := failed(t, e.call("PUT", "/simulation/x", "alice", nil, `{"Application":"Excel"}`), http.StatusBadRequest); !strings.Contains(msg, "Unsupported application") {
		t.Fatalf("message %q", msg)
	}
	failed(t, e.call("PUT", "/simulation/..", "alice", nil, meta), http.StatusBadRequest)

	// R17: the configuration is classified and stored under the marker.
	flowsheet := `{"Type":"FOQUS_Session","flowsheet":{"nodes":{}}}`
	e.ok("PUT", "/simulation/zzfoqus_flow/input/configuration", "alice", flowsheet, nil)
	if get("alice/zzfoqus_flow/session.foqus") != flowsheet {
		t.Fatal("configuration not stored as session.foqus")
	}
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/configuration", "alice", nil, `{"what":"ever"}`), http.StatusBadRequest)
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/configuration", "alice", map[string]string{"SignedUrl": "true"}, flowsheet), http.StatusBadRequest)
	e.ok("PUT", "/simulation/zzfoqus_flow/input/data/extra.csv", "alice", "a,b\n1,2\n", nil)
	binary := []byte{0x00, 0xff, 0x10, 0x80}
	req, fn := request(t, "PUT", "/simulation/zzfoqus_flow/input/model.bkp", "alice", nil, base64.StdEncoding.EncodeToString(binary))
	req.IsBase64Encoded = true
	if r, err := e.set.HTTP[fn](ctx, req); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("binary PUT: %v %v", r, err)
	}
	if get("alice/zzfoqus_flow/model.bkp") != string(binary) {
		t.Fatal("binary input corrupted")
	}
	for _, p := range []string{"../bob/x", "a/../../b", "con.txt", "a:b", "trailing.", "meta.json", "Session.FOQUS", "acm_sinter.json"} { // "a//b" reaches "a/b" (api.Segments)
		failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/"+p, "alice", nil, "x"), http.StatusBadRequest)
	}
	// Names the desktop's file system allows are staged as they are.
	for _, p := range []string{"extra data.txt", "run (2)+final.csv", "Größe_é.txt", ".hidden"} {
		e.ok("PUT", "/simulation/zzfoqus_flow/input/"+p, "alice", "x", nil)
		if get("alice/zzfoqus_flow/"+p) != "x" {
			t.Fatalf("%q not staged under its name", p)
		}
	}
	// Names one file apart on Windows: the second is refused, on PUT and signed upload.
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/EXTRA DATA.txt", "alice", nil, "y"), http.StatusConflict)
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/Data/other.csv", "alice", nil, "y"), http.StatusConflict)
	failed(t, e.call("POST", "/simulation/zzfoqus_flow/input/Extra Data.TXT", "alice", map[string]string{"method": "putObject"}, ""), http.StatusConflict)
	e.ok("PUT", "/simulation/zzfoqus_flow/input/extra data.txt", "alice", "x2", nil) // the same name replaces
	failed(t, e.call("PUT", "/simulation/nosuch/input/a.txt", "alice", nil, "x"), http.StatusNotFound)

	// R16.
	if r := e.ok("GET", "/simulation/zzfoqus_flow/input/configuration", "alice", "", nil); r.Body != flowsheet {
		t.Fatalf("configuration read back as %q", r.Body)
	}
	if r := e.ok("GET", "/simulation/zzfoqus_flow/input/data/extra.csv", "alice", "", nil); r.Body != "a,b\n1,2\n" || r.IsBase64Encoded {
		t.Fatalf("text input read back as %+v", r)
	}
	if r := e.ok("GET", "/simulation/zzfoqus_flow/input/model.bkp", "alice", "", nil); !r.IsBase64Encoded || r.Body != base64.StdEncoding.EncodeToString(binary) {
		t.Fatalf("binary input read back as %+v", r)
	}
	if msg := failed(t, e.call("GET", "/simulation/zzfoqus_flow/input/none.txt", "alice", nil, ""), http.StatusNotFound); msg != "No such file: none.txt" {
		t.Fatalf("message %q", msg)
	}
	failed(t, e.call("GET", "/simulation/zzfoqus_flow/input/configuration", "alice", map[string]string{"SignedUrl": "true"}, ""), http.StatusNotAcceptable)
	r := e.call("GET", "/simulation/zzfoqus_flow/input/data/extra.csv", "alice", map[string]string{"SignedUrl": "true"}, "")
	if body := fetch(t, r, http.MethodGet, ""); body != "a,b\n1,2\n" {
		t.Fatalf("signed GET read %q", body)
	}

	// R18: 302 to a signed URL the client then uses with Content-Type application/json.
	r = e.call("POST", "/simulation/zzfoqus_flow/input/big/model.acmf", "alice", map[string]string{"method": "putObject"}, "")
	fetch(t, r, http.MethodPut, "uploaded through S3")
	if get("alice/zzfoqus_flow/big/model.acmf") != "uploaded through S3" {
		t.Fatal("signed upload not stored")
	}
	r = e.call("POST", "/simulation/zzfoqus_flow/input/big/model.acmf", "alice", map[string]string{"method": "getObject"}, "")
	if body := fetch(t, r, http.MethodGet, ""); body != "uploaded through S3" {
		t.Fatalf("signed download read %q", body)
	}
	if msg := failed(t, e.call("POST", "/simulation/zzfoqus_flow/input/a.txt", "alice", map[string]string{"method": "deleteObject"}, ""), http.StatusMethodNotAllowed); msg != "unsupported s3 method" {
		t.Fatalf("message %q", msg)
	}
	failed(t, e.call("POST", "/simulation/zzfoqus_flow/input/configuration", "alice", map[string]string{"method": "putObject"}, ""), http.StatusBadRequest)

	// R13 and R14; bobby's simulations are not bob's (the original's prefix had no slash).
	e.ok("PUT", "/simulation/acm_model", "alice", `{"Application":"acm"}`, nil)
	e.ok("PUT", "/simulation/theirs", "alicex", `{"Application":"fake-job"}`, nil)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/not_a_sim/file.txt"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	var list []simulations.Simulation
	e.ok("GET", "/simulation", "alice", "", &list)
	if len(list) != 2 || list[0].Name != "acm_model" || list[0].Application != "ACM" || list[1].Name != "zzfoqus_flow" || list[1].Application != "foqus" || len(list[1].StagedInputs) != 0 {
		t.Fatalf("list %+v", list)
	}
	e.call("GET", "/simulation", "alice", map[string]string{"verbose": ""}, "")
	resp := e.call("GET", "/simulation", "alice", map[string]string{"verbose": "true"}, "")
	if !strings.Contains(resp.Body, `{"Name":"alice/zzfoqus_flow/data/extra.csv"}`) || strings.Contains(resp.Body, "meta.json") {
		t.Fatalf("verbose list %s", resp.Body)
	}
	var sim simulations.Simulation
	e.ok("GET", "/simulation/zzfoqus_flow", "alice", "", &sim)
	if sim.Name != "zzfoqus_flow" || sim.Application != "foqus" || len(sim.StagedInputs) != 8 {
		t.Fatalf("R14: %+v", sim)
	}
	var inputs []simulations.StagedInput
	e.ok("GET", "/simulation//zzfoqus_flow/input", "alice", "", &inputs)
	if !slices.Equal(inputs, sim.StagedInputs) {
		t.Fatalf("input list %+v, want %+v", inputs, sim.StagedInputs)
	}
	failed(t, e.call("GET", "/simulation/not_a_sim/input", "alice", nil, ""), http.StatusNotFound)
	failed(t, e.call("GET", "/simulation/not_a_sim", "alice", nil, ""), http.StatusNotFound)

	// Files too large for an answer: 413 on the way in, 302 to a signed URL on the way out.
	failed(t, e.call("PUT", "/simulation/zzfoqus_flow/input/big.bin", "alice", nil, strings.Repeat("x", simulations.MaxInputBody+1)), http.StatusRequestEntityTooLarge)
	large := strings.Repeat("y", simulations.MaxInlineFile+1)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/zzfoqus_flow/large.bin"), Body: strings.NewReader(large)}); err != nil {
		t.Fatal(err)
	}
	if body := fetch(t, e.call("GET", "/simulation/zzfoqus_flow/input/large.bin", "alice", nil, ""), http.MethodGet, ""); body != large {
		t.Fatalf("large file read back as %d bytes", len(body))
	}
}

// fetch follows a 302 answer with method, as the client does, and returns
// what S3 answered.
func fetch(t *testing.T, r events.APIGatewayProxyResponse, method, body string) string {
	t.Helper()
	loc := r.Headers["Location"]
	u, err := url.Parse(loc)
	if r.StatusCode != http.StatusFound || err != nil || u.Query().Get("X-Amz-Expires") != "120" {
		t.Fatalf("got %d Location %q, want 302 to a URL signed for 120 s", r.StatusCode, loc)
	}
	req, err := http.NewRequest(method, loc, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s signed URL: %d %s", method, resp.StatusCode, b)
	}
	return string(b)
}
