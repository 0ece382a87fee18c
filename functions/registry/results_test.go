package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/consumers"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/openapi"
)

// The G2 client's fixed generator and a second, independent reader.
const (
	genA = "00000000-0000-0000-0000-000000000000"
	genB = "3b0f8f3e-8f0e-4a8e-b2f4-7d1c3b8e9a10"
)

func TestResultRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 5)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 5, 2)
	base := "/session/" + sid + "/result/"

	// R10 before anything finished: 0.
	if r := e.newPage("alice", sid, genA); r != "0" {
		t.Fatalf("first page number %q, want 0", r)
	}
	// Three jobs finish: inline output, output in S3, an error.
	outKey := objectkey.JobOutput("alice", sid, ids[1])
	if _, err := awsconf.NewS3(e.st.Config).PutObject(ctx, &s3.PutObjectInput{
		Bucket: &e.st.SessionBucket, Key: &outKey, Body: strings.NewReader(`{"graphError":0,"output":{"big":1e-320}}`),
	}); err != nil {
		t.Fatal(err)
	}
	finish(t, e, sid, []sessionstore.Finish{
		{ID: ids[0], State: job.Success, Output: []byte(`{"graphError":0,"output":{"y":2}}`)},
		{ID: ids[1], State: job.Success, OutputKey: outKey},
		{ID: ids[2], State: job.Error, Message: "Aspen failed"},
	})
	if r := e.newPage("alice", sid, genA); r != "1" {
		t.Fatalf("page number %q, want 1", r)
	}
	if r := e.newPage("alice", sid, genA); r != "1" {
		t.Fatalf("nothing new: page number %q, want 1 again", r)
	}
	var page []jobview.Record
	e.ok("GET", base+genA+"/1", "alice", "", &page)
	if len(page) != 3 {
		t.Fatalf("page 1 has %d records", len(page))
	}
	byID := map[string]jobview.Record{}
	for _, r := range page {
		byID[r.ID] = r
		if r.Session != sid || r.State == "" || r.Finished == "" || r.Simulation != "zzfoqus_flow" || len(r.Input) == 0 {
			t.Fatalf("record %+v", r)
		}
	}
	var out struct{ GraphError *int }
	if err := json.Unmarshal(byID[ids[0]].Output, &out); err != nil || out.GraphError == nil || byID[ids[0]].State != job.Success {
		t.Fatalf("inline output: %+v", byID[ids[0]])
	}
	if !strings.Contains(string(byID[ids[1]].Output), "1e-320") {
		t.Fatalf("S3 output lost its underflowing number: %s", byID[ids[1]].Output)
	}
	if r := byID[ids[2]]; r.State != job.Error || r.Message != "Aspen failed" || r.Output != nil {
		t.Fatalf("error record %+v", r)
	}

	// Terminated and expired jobs get records too, with State and Message.
	finish(t, e, sid, []sessionstore.Finish{
		{ID: ids[3], State: job.Expired, Message: "lease ran out 3 times"},
		{ID: ids[4], State: job.Success, OutputKey: objectkey.JobOutput("alice", sid, ids[4])}, // the object was never written
	})
	if r := e.newPage("alice", sid, genA); r != "2" {
		t.Fatalf("page number %q, want 2", r)
	}
	e.ok("GET", base+genA+"/2", "alice", "", &page)
	if len(page) != 2 || page[0].State != job.Expired || page[0].Message == "" || page[1].Message != jobview.MissingOutput {
		t.Fatalf("page 2: %+v", page)
	}

	// Another generator reads everything again; nothing was consumed.
	if r := e.newPage("alice", sid, genB); r != "1" {
		t.Fatalf("generator B page %q, want 1", r)
	}
	e.ok("GET", base+genB+"/1", "alice", "", &page)
	if len(page) != 5 {
		t.Fatalf("generator B page 1 has %d records, want 5", len(page))
	}
	e.ok("GET", base+genA+"/1", "alice", "", &page) // and A's pages read again
	if len(page) != 3 {
		t.Fatalf("page 1 read again: %d records", len(page))
	}

	// Errors.
	if msg := failed(t, e.call("GET", base+genA+"/3", "alice", nil, ""), http.StatusNotFound); msg != "no result page number 3" {
		t.Fatalf("message %q", msg)
	}
	failed(t, e.call("GET", base+genA+"/x", "alice", nil, ""), http.StatusBadRequest)
	failed(t, e.call("GET", base+genA+"/0", "alice", nil, ""), http.StatusBadRequest)
	failed(t, e.call("POST", base+"not-a-generator", "alice", nil, ""), http.StatusBadRequest)

	// R12 and R9.
	if r := e.ok("DELETE", base+genA, "alice", "", nil); r.Body != "" {
		t.Fatalf("delete answered %q", r.Body)
	}
	var gen string
	e.ok("POST", "/session/"+sid+"/result", "alice", "", &gen)
	if objectkey.ID(gen) != nil {
		t.Fatalf("generator %q", gen)
	}
}

func finish(t testing.TB, e *env, sid string, fs []sessionstore.Finish) {
	t.Helper()
	res, err := e.store.FinishMany(context.Background(), "alice", sid, fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// User bob gets 404 for every route that reads or changes alice's session
// or simulation; the routes that create (append, PUT simulation, a
// generator id) create bob's own and leave alice's untouched.
func TestUsersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 2)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 2, 2)
	finish(t, e, sid, []sessionstore.Finish{{ID: ids[0], State: job.Success, Output: []byte(`{}`)}})
	e.newPage("alice", sid, genA)
	e.ok("PUT", "/simulation/flow", "alice", `{"Application":"foqus","StagedInputs":[],"Name":"flow"}`, nil)
	e.ok("PUT", "/simulation/flow/input/model.bkp", "alice", "alice's", nil)

	covered := map[string]bool{}
	for _, c := range []struct {
		method, path string
		query        map[string]string
		body         string
	}{
		{"GET", "/session/" + sid, nil, ""},
		{"POST", "/session/" + sid + "/start", nil, ""},
		{"POST", "/session/" + sid + "/stop", nil, ""},
		{"DELETE", "/simulation/flow", nil, ""},
		{"DELETE", "/session/" + sid, nil, ""},
		{"DELETE", "/session/" + sid + "/result/" + genA, nil, ""},
		{"GET", "/session/" + sid + "/result/" + genA + "/1", nil, ""},
		{"GET", "/simulation/flow", nil, ""},
		{"GET", "/simulation/flow/input/model.bkp", nil, ""},
		{"GET", "/simulation/flow/input/configuration", nil, ""},
		{"GET", "/simulation/flow/input/model.bkp", map[string]string{"SignedUrl": "true"}, ""},
		{"PUT", "/simulation/flow/input/model.bkp", nil, "bob's"},
		{"POST", "/simulation/flow/input/model.bkp", map[string]string{"method": "getObject"}, ""},
		{"POST", "/simulation/flow/input/model.bkp", map[string]string{"method": "putObject"}, ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			_, fn := request(t, c.method, c.path, "bob", c.query, c.body)
			covered[fn] = true
			failed(t, e.call(c.method, c.path, "bob", c.query, c.body), http.StatusNotFound)
		})
	}

	// Listings show bob nothing of alice's.
	if r := e.ok("GET", "/session", "bob", "", nil); r.Body != "[]" {
		t.Fatalf("bob's sessions: %s", r.Body)
	}
	if r := e.ok("GET", "/simulation", "bob", "", nil); r.Body != "[]" {
		t.Fatalf("bob's simulations: %s", r.Body)
	}
	// Kill and the result generator answer 200 where the original did (FOQUS
	// stops polling on anything else), and touch nothing of alice's.
	if r := e.ok("POST", "/session/"+sid+"/kill", "bob", "", nil); r.Body != `"`+sid+`"` {
		t.Fatalf("bob's kill of alice's session: %q", r.Body)
	}
	if r := e.ok("POST", "/session/"+sid+"/result/"+genA, "bob", "", nil); r.Body != "0" {
		t.Fatalf("bob's result generator on alice's session: %q", r.Body)
	}
	if jobs, _ := e.store.Jobs(ctx, "alice", sid); jobs[1].State.Terminal() {
		t.Fatalf("bob's kill ended alice's job: %+v", jobs[1])
	}
	covered["post-session-kill"], covered["post-session-result"] = true, true

	// The workers are shared: bob sees alice's worker busy, never her job.
	if err := e.store.Heartbeat(ctx, sessionstore.Consumer{ID: "c-alice", Instance: "i-1", User: "alice", Session: sid, Job: ids[1]}); err != nil {
		t.Fatal(err)
	}
	var workers []consumers.Consumer
	r := e.ok("GET", "/consumer/", "bob", "", &workers)
	if len(workers) != 1 || workers[0].Status != "busy" || workers[0].Job != "" || strings.Contains(r.Body, ids[1]) || strings.Contains(r.Body, sid) {
		t.Fatalf("bob's consumer list: %s", r.Body)
	}
	covered["get-consumer-list"] = true
	covered["get-session-list"], covered["get-simulation-root"], covered["get-application"] = true, true, true
	if r := e.ok("GET", "/openapi.json", "bob", "", nil); r.Body != string(openapi.JSON) { // the same for everyone, nobody's data
		t.Fatalf("bob's OpenAPI document: %d bytes", len(r.Body))
	}
	covered["get-openapi"] = true

	// Creating routes make bob's own.
	var bobs []string
	e.ok("POST", "/session/"+sid, "bob", jobsBody(0, 1, ""), &bobs)
	e.ok("PUT", "/simulation/flow", "bob", `{"Application":"ACM"}`, nil)
	var gen string
	e.ok("POST", "/session/"+sid+"/result", "bob", "", &gen)
	if objectkey.ID(gen) != nil {
		t.Fatalf("generator %q", gen)
	}
	covered["post-session-append"], covered["put-simulation-name"], covered["post-session-create"] = true, true, true
	if jobs, _ := e.store.Jobs(ctx, "alice", sid); len(jobs) != 2 {
		t.Fatalf("alice's session has %d jobs after bob's append", len(jobs))
	}
	var sim struct{ Application string }
	if e.ok("GET", "/simulation/flow", "alice", "", &sim); sim.Application != "foqus" {
		t.Fatalf("alice's simulation is now %q", sim.Application)
	}
	obj, err := awsconf.NewS3(e.st.Config).GetObject(ctx, &s3.GetObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/flow/model.bkp")})
	if err != nil {
		t.Fatal(err)
	}
	if err := obj.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(obj.ContentLength) != int64(len("alice's")) {
		t.Fatal("bob's PUT changed alice's input")
	}
	for fn := range e.set.HTTP {
		if !covered[fn] {
			t.Errorf("route function %s not covered", fn)
		}
	}
}
