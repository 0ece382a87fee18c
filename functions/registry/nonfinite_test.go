package registry_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/worker/runner"
)

// FOQUS's real output with B.r = Infinity (the recorded inf run) is a
// success: the worker's form of it (inline) and FOQUS's own bytes (an S3
// object) both come back on a result page, where Python's json and float()
// (what FOQUS's results loop does) read Infinity.
func TestNonFiniteOutputOnResultPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	raw, err := os.ReadFile("../../worker/runner/testdata/foqus-runs/runs/inf/output.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := runner.ParseOutput(raw)
	if err != nil || res.GraphError != 0 {
		t.Fatalf("worker: %+v, %v", res, err)
	}
	sid, ids := e.newSession("alice", 2)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 2, 2)
	key := objectkey.JobOutput("alice", sid, ids[1])
	if _, err := awsconf.NewS3(e.st.Config).PutObject(ctx, &s3.PutObjectInput{
		Bucket: &e.st.SessionBucket, Key: &key, Body: strings.NewReader(string(raw)),
	}); err != nil {
		t.Fatal(err)
	}
	finish(t, e, sid, []sessionstore.Finish{
		{ID: ids[0], State: job.Success, Output: res.Output},
		{ID: ids[1], State: job.Success, OutputKey: key},
	})
	base := "/session/" + sid + "/result/00000000-0000-0000-0000-000000000000"
	e.newPage("alice", sid, genA)
	r := e.ok("GET", base+"/1", "alice", "", nil)
	var page []jobview.Record
	if err := json.Unmarshal([]byte(r.Body), &page); err != nil || len(page) != 2 {
		t.Fatalf("page %s: %v", r.Body, err)
	}
	for _, rec := range page {
		var o struct {
			Output map[string]map[string]any `json:"output"`
		}
		if err := json.Unmarshal(rec.Output, &o); err != nil || o.Output["B"]["r"] != "Infinity" || o.Output["A"]["s"] != 3.0 {
			t.Fatalf("job %s output %s: %v", rec.ID, rec.Output, err)
		}
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to read the page as FOQUS does")
	}
	read := `import json, math, sys
page = json.load(sys.stdin)
vals = [float(rec["Output"]["output"]["B"]["r"]) for rec in page]
sys.exit(0 if len(vals) == 2 and all(math.isinf(v) and v > 0 for v in vals) else 1)`
	cmd := exec.Command(py, "-c", read)
	cmd.Stdin = strings.NewReader(r.Body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Python did not read Infinity from the page: %v %s", err, out)
	}
}
