package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/objectkey"
)

var srv *mototest.Server

// envFakePython makes the test binary play the foqus driver: it records its
// command line and leaves what the driver left in a recorded run. The
// variable names a recorded output.json, or a directory of a recorded run
// (output.json and the driver's report.json, either may be missing); the
// exit status is the driver's for that report.
const envFakePython = "FOQUS_TEST_FAKE_PYTHON"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == FakeJobCommand {
		os.Exit(FakeJobMain(os.Args[2:]))
	}
	if os.Getenv(envFakePython) != "" {
		os.Exit(fakePython(os.Args[1:]))
	}
	if dir := os.Getenv(envPlayWorker); dir != "" {
		os.Exit(playWorker(dir))
	}
	flag.Parse()
	os.Exit(mototest.Run(m, &srv))
}

// envPlayWorker makes the test binary play a worker that runs one hanging
// fake job in the directory it names, until it is killed.
const envPlayWorker = "FOQUS_TEST_PLAY_WORKER"

func playWorker(dir string) int {
	j := Job{
		Key:         job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()},
		Application: job.AppFakeJob, Simulation: "sim", Input: json.RawMessage(`{"control":{"hang":true}}`), Dir: dir,
	}
	if _, err := runJob(context.Background(), FakeJob{Exe: os.Args[0]}, j); err != nil {
		return 1
	}
	return 0
}

func fakePython(args []string) int {
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	out := fs.String("output", "", "")
	report := fs.String("report", "", "")
	stopFile := fs.String("stop-file", "", "")
	for _, f := range []string{"session", "input", "turbine-model", "turbine-app", "turbine-dir"} {
		fs.String(f, "", "")
	}
	for _, f := range []string{"reset", "initialize"} {
		fs.Bool(f, false, "")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if os.WriteFile(filepath.Join(filepath.Dir(*out), "argv.json"), must(json.Marshal(args)), 0o600) != nil {
		return 2
	}
	src := os.Getenv(envFakePython)
	if src == "hang" { // a run that stops only when asked, as the driver does
		for {
			if _, err := os.Stat(*stopFile); err == nil {
				_ = os.WriteFile(filepath.Join(filepath.Dir(*out), "stopped"), nil, 0o600)
				return 4
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		rec, err := os.ReadFile(src)
		if err != nil || os.WriteFile(*out, rec, 0o600) != nil {
			return 2
		}
		return 0
	}
	if rec, err := os.ReadFile(filepath.Join(src, FOQUSOutput)); err == nil && os.WriteFile(*out, rec, 0o600) != nil {
		return 2
	}
	rec, err := os.ReadFile(filepath.Join(src, FOQUSReport))
	if err != nil {
		return 0
	}
	if os.WriteFile(*report, rec, 0o600) != nil {
		return 2
	}
	var r driverReport
	_ = json.Unmarshal(rec, &r)
	fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\n  File \"/opt/foqus/foqus_lib/x.py\", line 1\nKeyError: 'nope'")
	switch {
	case r.Refused != "":
		return driverRefused
	case r.Failed != "":
		return driverFailed
	}
	return 0
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// runJob stages and runs j as the worker does.
func runJob(ctx context.Context, r Runner, j Job) (Result, error) {
	run, err := r.Stage(ctx, j)
	if err != nil {
		return Result{}, err
	}
	return run(ctx)
}

func fakeJob(t *testing.T, input string) Job {
	t.Helper()
	return Job{
		Key:         job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()},
		Application: job.AppFakeJob, Simulation: "sim", Input: json.RawMessage(input), Dir: t.TempDir(),
	}
}

func TestFakeJobComputesFOQUSShapedOutput(t *testing.T) {
	t.Parallel()
	r := FakeJob{Exe: os.Args[0]}
	res, err := runJob(context.Background(), r, fakeJob(t, `{"A":{"x":2,"y":3.5},"B":{"z":-1},"graph":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Output     map[string]map[string]float64
		GraphError *int
		Input      map[string]map[string]float64
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatal(err)
	}
	if res.GraphError != 0 || out.GraphError == nil || *out.GraphError != 0 {
		t.Fatalf("graphError %d / %v, want 0", res.GraphError, out.GraphError)
	}
	if a := out.Output["A"]; a["sum"] != 5.5 || a["product"] != 7 || a["count"] != 2 {
		t.Fatalf("node A output %v", a)
	}
	if out.Output["B"]["sum"] != -1 || out.Input["A"]["x"] != 2 {
		t.Fatalf("output %+v", out)
	}
}

func TestFakeJobFailureControls(t *testing.T) {
	t.Parallel()
	r := FakeJob{Exe: os.Args[0]}
	ctx := context.Background()

	res, err := runJob(ctx, r, fakeJob(t, `{"A":{"x":1},"control":{"fail":"solver diverged"}}`))
	if err != nil || res.GraphError != 1 || !strings.Contains(res.Message, "node A error 1: solver diverged") {
		t.Fatalf("fail control: %+v, %v", res, err)
	}

	_, err = runJob(ctx, r, fakeJob(t, `{"control":{"exit":3}}`))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(ee.Stderr, "crashing with status 3") {
		t.Fatalf("exit control: %v, want an ExitError with status 3 and stderr", err)
	}
	if msg := err.Error(); msg != "fake-job exited with status 3" {
		t.Fatalf("exit control message %q: want the program's name, no path and no stderr", msg)
	}

	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("panic control: recovered %v, want boom", v)
			}
		}()
		_, _ = runJob(ctx, r, fakeJob(t, `{"control":{"panic":"boom"}}`))
	}()

	if _, err := runJob(ctx, r, fakeJob(t, `[1]`)); err == nil {
		t.Fatal("an input that is not an object ran")
	}
}

func TestParseRecordedFOQUSOutput(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/foqus-output.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseOutput(raw)
	if err != nil || res.GraphError != 0 || res.Message != "" || !bytes.Equal(res.Output, raw) {
		t.Fatalf("recorded output: graphError %d, message %q, err %v", res.GraphError, res.Message, err)
	}
	var o map[string]any
	_ = json.Unmarshal(raw, &o)
	o["graphError"], o["nodeError"], o["turbineMessages"] = 5, map[string]any{"BFB": 3}, map[string]any{"BFB": "ACM did not converge"}
	failed, _ := json.Marshal(o)
	res, err = ParseOutput(failed)
	if err != nil || res.GraphError != 5 || res.Message != "flowsheet error 5 (node BFB error 3: ACM did not converge)" {
		t.Fatalf("failed output: %+v, %v", res.Message, err)
	}
	for _, bad := range []string{`{"input":{}}`, `{"graphError":"x"}`, `nope`} {
		var oe *OutputError
		if _, err := ParseOutput([]byte(bad)); !errors.As(err, &oe) {
			t.Fatalf("ParseOutput(%s) = %v, want an OutputError", bad, err)
		}
	}
}

// The foqus runner stages the simulation and the simulations its nodes name
// from S3, starts the driver with the right command line and parses the
// output it leaves (a recorded one here: FOQUS cannot run on this machine).
func TestFOQUSStagesRunsAndParses(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	s3c := awsconf.NewS3(st.Config)
	j := Job{
		Key:         job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()},
		Application: job.AppFOQUS, Simulation: "zzfoqus_BFB", Input: json.RawMessage(`{"BFB":{"fg_flow":100377.0},"graph":{}}`),
		Reset: true, Dir: t.TempDir(),
	}
	session := `{"Type":"FOQUS_Session","flowsheet":{"nodes":{
		"BFB":{"modelType":2,"modelName":"BFB_v11","turbApp":["ACM","BFB_v11.acmf"]},
		"Cost":{"modelType":1,"modelName":"cost_plugin","turbApp":null},
		"Calc":{"modelType":0,"modelName":"","turbApp":null}}}}`
	sims := map[string]map[string]string{
		j.Simulation:  {"session.foqus": session, "meta.json": `{}`, "extra/notes.txt": "n"},
		"BFB_v11":     {"acm_sinter.json": `{}`, "BFB_v11.acmf": "model", "data/init.txt": "i"},
		"cost_plugin": {"foqus-user-plugin.json": `{}`, "cost_plugin.py": "print(1)"},
	}
	for sim, files := range sims {
		for rel, body := range files {
			put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", sim, rel), body)
		}
	}
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alicex", j.Simulation, "other.txt"), "not hers")
	abs, _ := filepath.Abs("testdata/foqus-output.json")
	t.Setenv(envFakePython, abs)
	runner := FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: os.Args[0]}

	res, err := runJob(ctx, runner, j)
	if err != nil {
		t.Fatal(err)
	}
	if res.GraphError != 0 || !json.Valid(res.Output) {
		t.Fatalf("result %+v", res)
	}
	staged := map[string]string{}
	for rel, body := range sims[j.Simulation] {
		staged[filepath.Join(FOQUSSimDir, rel)] = body
	}
	for rel, body := range sims["BFB_v11"] {
		staged[filepath.Join(FOQUSModelDir, "BFB_v11", rel)] = body
	}
	for rel, body := range sims["cost_plugin"] {
		staged[filepath.Join(FOQUSPluginDir, rel)] = body
	}
	for rel, body := range staged {
		got, err := os.ReadFile(filepath.Join(j.Dir, filepath.FromSlash(rel)))
		if err != nil || string(got) != body {
			t.Fatalf("staged %s = %q, %v", rel, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(j.Dir, FOQUSSimDir, "other.txt")); err == nil {
		t.Fatal("staged another user's file")
	}
	var argv []string
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(j.Dir, "argv.json"))), &argv); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(j.Dir, "foqus_driver.py"), "--session", filepath.Join(j.Dir, FOQUSSimDir, "session.foqus"),
		"--input", filepath.Join(j.Dir, "input.json"), "--output", filepath.Join(j.Dir, "output.json"),
		"--report", filepath.Join(j.Dir, "report.json"), "--stop-file", filepath.Join(j.Dir, "stop"), "--reset",
		"--turbine-model", "BFB_v11", "--turbine-app", "ACM", "--turbine-dir", filepath.Join(j.Dir, FOQUSModelDir, "BFB_v11")}
	if strings.Join(argv, " ") != strings.Join(want, " ") {
		t.Fatalf("driver command line\n got %q\nwant %q", argv, want)
	}
	if d, _ := os.ReadFile(want[0]); !bytes.Equal(d, driver) || !bytes.Contains(d, []byte("saveFlowsheetValues")) {
		t.Fatal("the embedded driver was not written to the run directory")
	}
	if in, _ := os.ReadFile(filepath.Join(j.Dir, "input.json")); !bytes.Equal(in, j.Input) {
		t.Fatalf("input.json = %s", in)
	}

	// Refused before anything runs: no session.foqus; a Turbine node whose
	// simulation lacks its model file.
	var se *StagingError
	j.Simulation, j.Dir = "empty", t.TempDir()
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "empty", "model.bkp"), "x")
	if _, err := runJob(ctx, runner, j); !errors.As(err, &se) {
		t.Fatalf("run without session.foqus: %v, want a StagingError", err)
	}
	j.Simulation, j.Dir = "broken", t.TempDir()
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "broken", "session.foqus"),
		`{"flowsheet":{"nodes":{"A":{"modelName":"nomodel","turbApp":["AspenPlus",""]}}}}`)
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "nomodel", "aspenplus_sinter.json"), "{}")
	if _, err := runJob(ctx, runner, j); !errors.As(err, &se) || !strings.Contains(se.Reason, "0 .bkp model files") {
		t.Fatalf("Turbine node without its model: %v, want a StagingError", err)
	}
}

func put(t testing.TB, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}
