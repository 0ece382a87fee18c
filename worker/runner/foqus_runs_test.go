package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/pyjson"
)

// EnvFOQUSPython names an interpreter where `import foqus_lib` works; with
// it, TestFOQUSRealEngine runs every recorded case through real FOQUS.
const EnvFOQUSPython = "FOQUS_PYTHON"

var record = flag.Bool("record", false, "TestFOQUSRealEngine writes the driver's report.json of each case into testdata")

// runsDir holds real FOQUS runs (../shared/spec/fixtures-foqus-runs, with
// the driver's report.json of each run, recorded with -record).
const runsDir = "testdata/foqus-runs"

// foqusCase is one recorded run and what the worker must make of it.
type foqusCase struct {
	name, session string
	plugin        string   // the plugin simulation the flowsheet's node names
	reset         bool     // --reset --initialize
	ok            bool     // the job ends in success
	message       []string // all in the job's message
}

var foqusCases = []foqusCase{
	{name: "ok_two", session: "two_node", ok: true},
	{name: "ok_reset", session: "two_node", reset: true, ok: true},
	{name: "raise", session: "two_node", message: []string{
		"flowsheet error 1", "node B error 21", "Error in Python node script code", "ValueError: math domain error"}},
	{name: "graph_exc", session: "bad_edge", message: []string{"flowsheet error 19", "Exception during graph execution", "KeyError: 'missing'"}},
	{name: "inf", session: "inf_node", ok: true},
	{name: "plugin_ok", session: "plugin_node", plugin: "zz_plug", ok: true},
	{name: "plugin_raise", session: "plugin_node", plugin: "zz_plug", message: []string{
		"flowsheet error 19", "node P", "ValueError: x2 must not be negative"}},
	{name: "unknown_var", session: "two_node", message: []string{"input A.nope", "node A has no input variable nope"}},
	{name: "unknown_node", session: "two_node", message: []string{"input Z", "no node Z"}},
	{name: "string_val", session: "two_node", message: []string{"input A.x", `"abc" is not a float`}},
	{name: "nonfoqus", message: []string{"not a FOQUS session", "no flowsheet"}},
}

// stageCase puts the case's simulations into the simulation bucket and
// returns its job.
func stageCase(t testing.TB, c foqusCase, put func(sim, rel string, body []byte)) Job {
	t.Helper()
	sim := "case_" + c.name
	session := []byte(`{"Type":"something else"}`)
	if c.session != "" {
		session = must(os.ReadFile(filepath.Join(runsDir, "sessions", c.session+".foqus")))
	}
	put(sim, FOQUSSession, session)
	if c.plugin != "" {
		dir := filepath.Join(runsDir, "sessions", c.plugin)
		for _, e := range must2(os.ReadDir(dir)) {
			put(c.plugin, e.Name(), must(os.ReadFile(filepath.Join(dir, e.Name()))))
		}
	}
	return Job{
		Key:         job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()},
		Application: job.AppFOQUS, Simulation: sim, Input: must(os.ReadFile(filepath.Join(runsDir, "runs", c.name, "input.json"))),
		Reset: c.reset, Initialize: c.reset, Dir: t.TempDir(),
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkOutcome checks a run's result against the case: its state, its
// message in FOQUS's terms without a path or traceback, and FOQUS's
// recorded output (graphError, node errors, outputs).
func checkOutcome(t *testing.T, c foqusCase, j Job, res Result, err error) {
	t.Helper()
	msg := res.Message
	if err != nil {
		msg = err.Error()
	}
	if ok := err == nil && res.GraphError == 0; ok != c.ok {
		t.Fatalf("%s: success %v (%+v, %v), want %v", c.name, ok, res.Message, err, c.ok)
	}
	for _, want := range c.message {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: message %q lacks %q", c.name, msg, want)
		}
	}
	for _, bad := range []string{j.Dir, "Traceback", "/tmp/", ".py\"", "line "} {
		if strings.Contains(msg, bad) {
			t.Errorf("%s: message %q contains %q", c.name, msg, bad)
		}
	}
	rec, rerr := os.ReadFile(filepath.Join(runsDir, "runs", c.name, FOQUSOutput))
	if rerr != nil { // FOQUS raised before writing one: so must the run
		var fe *FlowsheetError
		var se *StagingError
		if !errors.As(err, &fe) && !errors.As(err, &se) {
			t.Fatalf("%s: %v, want a FlowsheetError or StagingError", c.name, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	want, got := comparable(t, rec), comparable(t, res.Output)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: output\n got %v\nwant %v", c.name, got, want)
	}
}

// comparable is the part of a value dump that FOQUS determines (solTime
// varies from run to run).
func comparable(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	std, _, err := pyjson.Standard(raw)
	if err != nil {
		t.Fatalf("output %s: %v", raw, err)
	}
	var o map[string]any
	if err := json.Unmarshal(std, &o); err != nil {
		t.Fatal(err)
	}
	delete(o, "solTime")
	return o
}

// Without FOQUS: the recorded runs (FOQUS's output and the driver's report)
// through the foqus runner, the test binary playing the driver.
func TestFOQUSRecordedRuns(t *testing.T) {
	st := srv.Stack(t)
	s3c := awsconf.NewS3(st.Config)
	runner := FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: os.Args[0]}
	for _, c := range foqusCases {
		t.Run(c.name, func(t *testing.T) {
			j := stageCase(t, c, func(sim, rel string, body []byte) {
				put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", sim, rel), string(body))
			})
			abs, _ := filepath.Abs(filepath.Join(runsDir, "runs", c.name))
			t.Setenv(envFakePython, abs)
			res, err := runJob(context.Background(), runner, j)
			checkOutcome(t, c, j, res, err)
		})
	}
}

// FOQUS's output with Infinity is a success whose output holds it as a
// string; parsing the recorded outputs gives FOQUS's graphError.
func TestParseRecordedNonFiniteOutput(t *testing.T) {
	t.Parallel()
	raw := must(os.ReadFile(filepath.Join(runsDir, "runs", "inf", FOQUSOutput)))
	if !bytes.Contains(raw, []byte(`"r":Infinity`)) {
		t.Fatal("the recorded inf output lost its Infinity")
	}
	res, err := ParseOutput(raw)
	if err != nil || res.GraphError != 0 || !json.Valid(res.Output) {
		t.Fatalf("inf output: %+v, %v", res, err)
	}
	var o struct{ Output map[string]map[string]any }
	if err := json.Unmarshal(res.Output, &o); err != nil || o.Output["B"]["r"] != "Infinity" || o.Output["A"]["s"] != 3.0 {
		t.Fatalf("inf output decoded %v, %v", o.Output, err)
	}
	for name, ge := range map[string]int{"ok_two": 0, "raise": 1, "graph_exc": 19, "plugin_raise": 19} {
		res, err := ParseOutput(must(os.ReadFile(filepath.Join(runsDir, "runs", name, FOQUSOutput))))
		if err != nil || res.GraphError != ge || (ge != 0) != (res.Message != "") {
			t.Fatalf("%s: graphError %d message %q, %v; want %d", name, res.GraphError, res.Message, err, ge)
		}
	}
}

// A session file with NaN and Infinity (FOQUS writes them in variable
// bounds) is staged byte for byte and classified without a strict decode.
func TestStageSessionWithNonFiniteNumbers(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	s3c := awsconf.NewS3(st.Config)
	session := []byte("{\"Type\":\"FOQUS_Session\",\"flowsheet\":{\"nodes\":{\"A\":{\"modelName\":\"\",\"turbApp\":null}}," +
		"\"input\":{\"A\":{\"x\":{\"min\":-Infinity,\"max\":Infinity,\"value\":NaN}}}}}\n")
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "nan_sim", FOQUSSession), string(session))
	j := Job{Key: job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()}, Application: job.AppFOQUS,
		Simulation: "nan_sim", Input: json.RawMessage(`{}`), Dir: t.TempDir()}
	if _, err := (FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: os.Args[0]}).Stage(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if got := must(os.ReadFile(filepath.Join(j.Dir, FOQUSSimDir, FOQUSSession))); !bytes.Equal(got, session) {
		t.Fatalf("staged session\n got %q\nwant %q", got, session)
	}
}

// Names that NTFS cannot hold side by side are refused before anything runs.
func TestStageRefusesNamesDifferingByCase(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	s3c := awsconf.NewS3(st.Config)
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "cased", FOQUSSession), `{"flowsheet":{"nodes":{}}}`)
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "cased", "data/Init.txt"), "a")
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "cased", "data/init.txt"), "b")
	j := Job{Key: job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()}, Application: job.AppFOQUS,
		Simulation: "cased", Input: json.RawMessage(`{}`), Dir: t.TempDir()}
	_, err := (FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: os.Args[0]}).Stage(context.Background(), j)
	var se *StagingError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "only by case") || strings.Contains(err.Error(), j.Dir) {
		t.Fatalf("stage = %v, want a StagingError about case", err)
	}
	if err := (caseSet{}).add("p/", []string{"a.py", "b/A.py", "b/a.txt"}); err != nil {
		t.Fatalf("distinct names refused: %v", err)
	}
}

// With FOQUS_PYTHON: every recorded case through the runner and real FOQUS
// gives FOQUS's recorded result. It prints how many cases ran and how long
// each job took, FOQUS's import included.
func TestFOQUSRealEngine(t *testing.T) {
	py := os.Getenv(EnvFOQUSPython)
	if py == "" {
		t.Skip("FOQUS_PYTHON is unset: set it to a python3 where `import foqus_lib` works to run the recorded cases with real FOQUS")
	}
	if out, err := exec.Command(py, "-c", "import foqus_lib").CombinedOutput(); err != nil {
		t.Skipf("FOQUS_PYTHON=%s cannot import foqus_lib: %s", py, lastLine(out))
	}
	t.Setenv("HOME", t.TempDir()) // FOQUS writes its .foqus.cfg there
	st := srv.Stack(t)
	s3c := awsconf.NewS3(st.Config)
	runner := FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: py}
	ran := 0
	for _, c := range foqusCases {
		j := stageCase(t, c, func(sim, rel string, body []byte) {
			put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", sim, rel), string(body))
		})
		start := time.Now()
		res, err := runJob(context.Background(), runner, j)
		rep := readReport(j.Dir)
		t.Logf("%-12s %6.2fs (FOQUS import %.2fs)", c.name, time.Since(start).Seconds(), rep.ImportSeconds)
		checkOutcome(t, c, j, res, err)
		if *record {
			if raw, err := os.ReadFile(filepath.Join(j.Dir, FOQUSReport)); err == nil {
				if err := os.WriteFile(filepath.Join(runsDir, "runs", c.name, FOQUSReport), raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		ran++
	}
	t.Logf("ran %d of %d recorded cases with real FOQUS (%s)", ran, len(foqusCases), py)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// A killed FOQUS run is asked to stop (the stop file) and given its grace
// period: the driver stops TurbineLite's consumers and exits before the
// tree is killed.
func TestFOQUSKillGivesTheDriverItsGrace(t *testing.T) {
	st := srv.Stack(t)
	s3c := awsconf.NewS3(st.Config)
	put(t, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", "hang", FOQUSSession), `{"flowsheet":{"nodes":{}}}`)
	j := Job{Key: job.Key{User: "alice", Session: uuid.NewString(), ID: uuid.NewString()}, Application: job.AppFOQUS,
		Simulation: "hang", Input: json.RawMessage(`{}`), Dir: t.TempDir()}
	t.Setenv(envFakePython, "hang")
	ctx, cancel := context.WithCancelCause(context.Background())
	run, err := (FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: os.Args[0], Grace: time.Minute}).Stage(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("killed by the test")
	time.AfterFunc(500*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, err = run(ctx)
	var ke *KilledError
	if !errors.As(err, &ke) || !errors.Is(err, cause) {
		t.Fatalf("run = %v, want a KilledError with the cause", err)
	}
	if _, serr := os.Stat(filepath.Join(j.Dir, "stopped")); serr != nil {
		t.Fatal("the driver was killed without being asked to stop")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("stop took %v: the run waited out its grace instead of ending when the driver did", d)
	}
}

// BenchmarkFOQUSJob runs ok_two through the foqus runner with real FOQUS
// (FOQUS_PYTHON) and reports the wall time per job, start-up included, and
// the part of it that is FOQUS's import (the driver measures it).
func BenchmarkFOQUSJob(b *testing.B) {
	py := os.Getenv(EnvFOQUSPython)
	if py == "" {
		b.Skip("FOQUS_PYTHON is unset: set it to a python3 where `import foqus_lib` works")
	}
	b.Setenv("HOME", b.TempDir())
	st := srv.Stack(b)
	s3c := awsconf.NewS3(st.Config)
	runner := FOQUS{S3: s3c, Bucket: st.SimulationBucket, Python: py}
	c := foqusCases[0]
	var wall, imp time.Duration
	for b.Loop() {
		j := stageCase(b, c, func(sim, rel string, body []byte) {
			put(b, s3c, st.SimulationBucket, objectkey.SimulationFile("alice", sim, rel), string(body))
		})
		start := time.Now()
		res, err := runJob(context.Background(), runner, j)
		wall += time.Since(start)
		if err != nil || res.GraphError != 0 {
			b.Fatalf("ok_two: %+v, %v", res, err)
		}
		imp += time.Duration(readReport(j.Dir).ImportSeconds * float64(time.Second))
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "s/job")
	b.ReportMetric(imp.Seconds()/n, "import-s/job")
	b.ReportMetric(imp.Seconds()/wall.Seconds()*100, "import-%")
}
