package runner

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/pyjson"
)

// driver runs one job with FOQUS's session API; see foqus_driver.py.
//
//go:embed foqus_driver.py
var driver []byte

// Layout of a foqus run directory.
const (
	FOQUSSession    = "session.foqus" // the flowsheet a foqus simulation must hold
	FOQUSSimDir     = "simulation"    // the job's simulation
	FOQUSModelDir   = "models"        // models/<name>: the simulation of a Turbine (ACM, Aspen Plus) node
	FOQUSPluginDir  = "user_plugins"  // Python plugin models, where FOQUS looks for them
	FOQUSInput      = "input.json"
	FOQUSOutput     = "output.json"
	FOQUSReport     = "report.json" // the driver's account of what failed (see foqus_driver.py)
	foqusDriver     = "foqus_driver.py"
	foqusLog        = "driver.log"
	pluginMarker    = "foqus-user-plugin.json"
	sinterConfigFmt = "%s_sinter.json" // per Turbine application, lower case
)

// DefaultGrace is how long a killed FOQUS run has to stop its TurbineLite
// consumers (and so close Aspen) before its tree is killed.
const DefaultGrace = 60 * time.Second

// The driver's exit statuses (foqus_driver.py).
const (
	driverFailed  = 1 // FOQUS raised; the report has the exception
	driverRefused = 3 // the job cannot run; the report says why
)

// turbineModelExt is the model file a Turbine application's simulation holds exactly one of.
var turbineModelExt = map[string]string{"acm": ".acmf", "aspenplus": ".bkp"}

// StagingError: the simulation's files could not be staged.
type StagingError struct {
	Key    string
	Reason string
}

func (e *StagingError) Error() string { return fmt.Sprintf("stage %s: %s", e.Key, e.Reason) }

// FlowsheetError: FOQUS refused the job or raised before it wrote an output.
// Reason is in FOQUS's terms (the node, variable or value at fault).
type FlowsheetError struct{ Reason string }

func (e *FlowsheetError) Error() string { return e.Reason }

// FOQUS stages a job's simulation from the simulation bucket into the run
// directory, with the simulations its flowsheet's nodes name (a Turbine
// model, Python plugins), and runs it with FOQUS through the embedded driver.
type FOQUS struct {
	S3     *s3.Client
	Bucket string // the simulation bucket
	Python string // the interpreter that imports foqus_lib
	// Grace is how long a killed run has to stop by itself (0: DefaultGrace).
	Grace time.Duration
}

// turbineNode is the flowsheet's Turbine node, staged under models/.
type turbineNode struct{ Model, App, Dir string }

// Stage implements Runner: it stages the simulations, the input and the
// driver into the run directory.
func (f FOQUS) Stage(ctx context.Context, j Job) (Run, error) {
	turbine, err := f.stage(ctx, j)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(j.Dir, FOQUSInput), j.Input, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(j.Dir, foqusDriver), driver, 0o600); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (Result, error) { return f.run(ctx, j, turbine) }, nil
}

func (f FOQUS) run(ctx context.Context, j Job, turbine *turbineNode) (Result, error) {
	log, err := openLog(j.Dir, foqusLog)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = log.Close() }() // a log; the output file is what counts
	grace := f.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	cmd := exec.Command(f.Python, f.args(j, turbine)...)
	cmd.Dir = j.Dir
	runErr := runTree(ctx, child{cmd: cmd, program: "FOQUS", log: log, grace: grace, stopDir: j.Dir})
	rep := readReport(j.Dir)
	var ee *ExitError
	switch {
	case errors.As(runErr, &ee) && ee.Code == driverRefused && rep.Refused != "":
		return Result{}, &FlowsheetError{Reason: scrub(rep.Refused, j.Dir)}
	case errors.As(runErr, &ee) && ee.Code == driverFailed && rep.Failed != "":
		return Result{}, &FlowsheetError{Reason: "FOQUS raised " + scrub(rep.Failed, j.Dir)}
	case runErr != nil:
		return Result{}, runErr
	}
	raw, err := os.ReadFile(filepath.Join(j.Dir, FOQUSOutput))
	if err != nil {
		return Result{}, &OutputError{Path: FOQUSOutput, Reason: "FOQUS wrote no output"}
	}
	res, err := parseOutput(raw, rep)
	res.Message = scrub(res.Message, j.Dir)
	return res, err
}

// driverReport is the driver's report.json.
type driverReport struct {
	Refused       string                  `json:"refused"`
	Failed        string                  `json:"failed"`
	ImportSeconds float64                 `json:"importSeconds"`
	RunSeconds    float64                 `json:"runSeconds"`
	Graph         *statusReport           `json:"graph"`
	Nodes         map[string]statusReport `json:"nodes"`
}

// statusReport is a graph's or node's status in FOQUS's words.
type statusReport struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
	Exception   string `json:"exception"`
}

// readReport reads the driver's report; a missing or broken one is empty
// (the exit status and output still say what happened).
func readReport(dir string) *driverReport {
	var r driverReport
	if raw, err := os.ReadFile(filepath.Join(dir, FOQUSReport)); err == nil {
		if std, _, err := pyjson.Standard(raw); err == nil {
			_ = json.Unmarshal(std, &r)
		}
	}
	return &r
}

// scrub removes the run directory from a message: exception texts may name
// staged files by their path on the worker.
func scrub(msg, dir string) string {
	for _, d := range []string{dir, filepath.ToSlash(dir), strings.ReplaceAll(dir, `\`, `\\`)} {
		if d == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, d+string(filepath.Separator), "")
		msg = strings.ReplaceAll(msg, d+"/", "")
		msg = strings.ReplaceAll(msg, d, ".")
	}
	return msg
}

// args is the driver's command line for j.
func (f FOQUS) args(j Job, turbine *turbineNode) []string {
	a := []string{
		filepath.Join(j.Dir, foqusDriver),
		"--session", filepath.Join(j.Dir, FOQUSSimDir, FOQUSSession),
		"--input", filepath.Join(j.Dir, FOQUSInput),
		"--output", filepath.Join(j.Dir, FOQUSOutput),
		"--report", filepath.Join(j.Dir, FOQUSReport),
		"--stop-file", filepath.Join(j.Dir, StopFile),
	}
	if j.Reset {
		a = append(a, "--reset")
	}
	if j.Initialize {
		a = append(a, "--initialize")
	}
	if turbine != nil {
		a = append(a, "--turbine-model", turbine.Model, "--turbine-app", turbine.App, "--turbine-dir", turbine.Dir)
	}
	return a
}

// flowsheetNode is what staging reads of a node in session.foqus.
type flowsheetNode struct {
	ModelName string `json:"modelName"`
	TurbApp   []any  `json:"turbApp"` // [application, ...] for a Turbine node, else null
}

// stage downloads the job's simulation, then the simulation of each node
// that names one: the Turbine node's (at most one, as with TurbineLite's
// single consumer) into models/<name>, Python plugins into user_plugins.
func (f FOQUS) stage(ctx context.Context, j Job) (*turbineNode, error) {
	prefix := objectkey.SimulationPrefix(j.Key.User, j.Simulation)
	files, err := f.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(files, FOQUSSession) {
		return nil, &StagingError{Key: prefix + FOQUSSession, Reason: "the simulation has no " + FOQUSSession}
	}
	if err := (caseSet{}).add(prefix, files); err != nil {
		return nil, err
	}
	if err := f.fetch(ctx, prefix, files, filepath.Join(j.Dir, FOQUSSimDir)); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(j.Dir, FOQUSSimDir, FOQUSSession))
	if err != nil {
		return nil, err
	}
	nodes, err := sessionNodes(raw)
	if err != nil {
		return nil, &StagingError{Key: prefix + FOQUSSession, Reason: err.Error()}
	}
	var turbine *turbineNode
	plugins := caseSet{}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		n := nodes[name]
		if n.ModelName == "" || n.ModelName == j.Simulation {
			continue
		}
		if err := objectkey.Simulation(n.ModelName); err != nil {
			return nil, &StagingError{Key: name, Reason: "node model: " + err.Error()}
		}
		mprefix := objectkey.SimulationPrefix(j.Key.User, n.ModelName)
		if len(n.TurbApp) > 0 && !isPluginApp(n.TurbApp[0]) {
			if turbine != nil {
				return nil, &StagingError{Key: name, Reason: "more than one Turbine node in the flowsheet"}
			}
			if turbine, err = f.stageTurbine(ctx, j, name, n, mprefix); err != nil {
				return nil, err
			}
			continue
		}
		files, err := f.list(ctx, mprefix)
		if err != nil {
			return nil, err
		}
		if slices.Contains(files, pluginMarker) {
			if err := plugins.add(mprefix, files); err != nil {
				return nil, err
			}
			if err := f.fetch(ctx, mprefix, files, filepath.Join(j.Dir, FOQUSPluginDir)); err != nil {
				return nil, err
			}
		}
	}
	return turbine, nil
}

// isPluginApp: FOQUS runs a node whose Turbine application is
// foqus-user-plugin as a Python plugin (service/flowsheet.py).
func isPluginApp(app any) bool {
	s, _ := app.(string)
	return strings.EqualFold(s, "foqus-user-plugin")
}

// stageTurbine stages a Turbine node's simulation: its SimSinter
// configuration and exactly one model file, with any other files.
func (f FOQUS) stageTurbine(ctx context.Context, j Job, node string, n flowsheetNode, prefix string) (*turbineNode, error) {
	app, _ := n.TurbApp[0].(string)
	ext, ok := turbineModelExt[strings.ToLower(app)]
	if !ok {
		return nil, &StagingError{Key: node, Reason: fmt.Sprintf("unknown Turbine application %q", app)}
	}
	files, err := f.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(files, fmt.Sprintf(sinterConfigFmt, strings.ToLower(app))) {
		return nil, &StagingError{Key: prefix, Reason: fmt.Sprintf("node %s: no SimSinter configuration %s", node, fmt.Sprintf(sinterConfigFmt, strings.ToLower(app)))}
	}
	models := 0
	for _, name := range files {
		if strings.HasSuffix(strings.ToLower(name), ext) {
			models++
		}
	}
	if models != 1 {
		return nil, &StagingError{Key: prefix, Reason: fmt.Sprintf("node %s: %d %s model files, want exactly one", node, models, ext)}
	}
	if err := (caseSet{}).add(prefix, files); err != nil {
		return nil, err
	}
	dir := filepath.Join(j.Dir, FOQUSModelDir, n.ModelName)
	if err := f.fetch(ctx, prefix, files, dir); err != nil {
		return nil, err
	}
	return &turbineNode{Model: n.ModelName, App: app, Dir: dir}, nil
}

// list returns the files under prefix (relative paths), page by page.
func (f FOQUS) list(ctx context.Context, prefix string) ([]string, error) {
	var files []string
	p := s3.NewListObjectsV2Paginator(f.S3, &s3.ListObjectsV2Input{Bucket: &f.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, &StagingError{Key: prefix, Reason: err.Error()}
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(rel, "/") { // folder markers
				continue
			}
			if err := objectkey.InputPath(rel); err != nil {
				return nil, &StagingError{Key: key, Reason: err.Error()}
			}
			files = append(files, rel)
		}
	}
	return files, nil
}

// fetch downloads prefix+rel for each of files into dir/rel.
func (f FOQUS) fetch(ctx context.Context, prefix string, files []string, dir string) error {
	for _, rel := range files {
		if err := f.download(ctx, prefix+rel, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

func (f FOQUS) download(ctx context.Context, key, path string) error {
	out, err := f.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &f.Bucket, Key: &key})
	if err != nil {
		return &StagingError{Key: key, Reason: err.Error()}
	}
	defer func() { _ = out.Body.Close() }()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return &StagingError{Key: key, Reason: localReason(err)}
	}
	file, err := os.Create(path)
	if err != nil {
		return &StagingError{Key: key, Reason: localReason(err)}
	}
	if _, err := io.Copy(file, out.Body); err != nil {
		_ = file.Close()
		return &StagingError{Key: key, Reason: localReason(err)}
	}
	if err := file.Close(); err != nil {
		return &StagingError{Key: key, Reason: localReason(err)}
	}
	return nil
}

// localReason says why a file could not be written on the worker without
// its path there (the key names the file).
func localReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot " + pe.Op + " it on the worker: " + pe.Err.Error()
	}
	return err.Error()
}

// sessionNodes reads the nodes of a session file without a strict decode
// (session files hold NaN and Infinity; the staged copy stays byte for byte).
func sessionNodes(raw []byte) (map[string]flowsheetNode, error) {
	std, _, err := pyjson.Standard(raw)
	if err != nil {
		return nil, errors.New("not a FOQUS session: not JSON")
	}
	var session struct {
		Flowsheet *struct {
			Nodes map[string]json.RawMessage `json:"nodes"`
		} `json:"flowsheet"`
	}
	if json.Unmarshal(std, &session) != nil {
		return nil, errors.New("not a FOQUS session: not a JSON object")
	}
	if session.Flowsheet == nil {
		return nil, errors.New("not a FOQUS session: it has no flowsheet")
	}
	nodes := make(map[string]flowsheetNode, len(session.Flowsheet.Nodes))
	for name, b := range session.Flowsheet.Nodes {
		var n flowsheetNode
		if json.Unmarshal(b, &n) != nil {
			return nil, fmt.Errorf("not a FOQUS session: node %s is not a node object", name)
		}
		nodes[name] = n
	}
	return nodes, nil
}

// caseSet holds the names staged into one directory, folded: NTFS cannot
// hold two names that differ only by case, and one would overwrite the other.
type caseSet map[string]string

func (c caseSet) add(prefix string, files []string) error {
	for _, rel := range files {
		k := strings.ToLower(rel)
		if prev, ok := c[k]; ok && prev != rel {
			return &StagingError{Key: prefix + rel, Reason: fmt.Sprintf("the name differs from %s only by case (Windows holds one of them)", prev)}
		}
		c[k] = rel
	}
	return nil
}
