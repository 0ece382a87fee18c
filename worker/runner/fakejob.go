package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FakeJobCommand is the hidden subcommand the worker binary runs the
// fake-job child as: `<exe> fake-job-exec <dir>`.
const FakeJobCommand = "fake-job-exec"

// Files of a fake-job run directory.
const (
	FakeJobInput  = "input.json"
	FakeJobOutput = "output.json"
	FakeJobPIDs   = "pids"    // the child's and grandchild's pids, one a line (control "spawn")
	fakeJobLog    = "run.log" // the child's stdout and stderr
)

// Control is the optional "control" object of a fake-job input. It steers
// the run through every path a real flowsheet can take.
type Control struct {
	Delay float64 `json:"delay,omitempty"` // seconds to compute
	Fail  string  `json:"fail,omitempty"`  // the flowsheet fails (graphError 1) with this message
	Exit  int     `json:"exit,omitempty"`  // the child crashes with this exit status
	Hang  bool    `json:"hang,omitempty"`  // the child never finishes (timeout and kill paths)
	Spawn bool    `json:"spawn,omitempty"` // the child starts a grandchild that sleeps (process-tree kill)
	Panic string  `json:"panic,omitempty"` // the worker's runner code panics with this value
	Pad   int     `json:"pad,omitempty"`   // the output grows by this many bytes (outputs too big for a message)
}

// FakeJob runs the original's test application: outputs computed from the
// inputs, in a child process (the worker binary itself, FakeJobCommand), so
// timeouts and kills end a real process tree.
type FakeJob struct {
	Exe string // the worker executable (or any that runs FakeJobMain for FakeJobCommand)
}

// Stage implements Runner: it writes the input for the child.
func (f FakeJob) Stage(_ context.Context, j Job) (Run, error) {
	var in struct {
		Control Control `json:"control"`
	}
	if err := json.Unmarshal(j.Input, &in); err != nil {
		return nil, fmt.Errorf("fake-job input: %w", err)
	}
	if err := os.WriteFile(filepath.Join(j.Dir, FakeJobInput), j.Input, 0o600); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (Result, error) {
		if in.Control.Panic != "" {
			panic(in.Control.Panic)
		}
		return f.run(ctx, j)
	}, nil
}

func (f FakeJob) run(ctx context.Context, j Job) (Result, error) {
	log, err := openLog(j.Dir, fakeJobLog)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = log.Close() }() // a log; the output file is what counts
	cmd := exec.Command(f.Exe, FakeJobCommand, j.Dir)
	cmd.Dir = j.Dir
	if err := runTree(ctx, child{cmd: cmd, program: "fake-job", log: log}); err != nil {
		return Result{}, err
	}
	raw, err := os.ReadFile(filepath.Join(j.Dir, FakeJobOutput))
	if err != nil {
		return Result{}, &OutputError{Path: FakeJobOutput, Reason: "the run wrote no output"}
	}
	return ParseOutput(raw)
}

// FakeJobMain is the fake-job child: it reads dir/input.json, obeys its
// control and writes FOQUS's value dump to dir/output.json. The result of
// each node is the sum, product and count of its numeric inputs. It returns
// the process exit status.
func FakeJobMain(args []string) int {
	if len(args) == 1 && args[0] == "--sleep" { // the grandchild of "spawn"
		time.Sleep(24 * time.Hour)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "usage: %s <run directory>\n", FakeJobCommand)
		return 2
	}
	dir := args[0]
	raw, err := os.ReadFile(filepath.Join(dir, FakeJobInput))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "input:", err)
		return 2
	}
	var c Control
	if b, ok := in["control"]; ok {
		if err := json.Unmarshal(b, &c); err != nil {
			fmt.Fprintln(os.Stderr, "control:", err)
			return 2
		}
		delete(in, "control")
	}
	pids := strconv.Itoa(os.Getpid()) + "\n"
	if c.Spawn {
		exe, err := os.Executable()
		if err == nil {
			child := exec.Command(exe, FakeJobCommand, "--sleep")
			if err = child.Start(); err == nil {
				pids += strconv.Itoa(child.Process.Pid) + "\n"
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			return 2
		}
	}
	if err := os.WriteFile(filepath.Join(dir, FakeJobPIDs), []byte(pids), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	time.Sleep(time.Duration(c.Delay * float64(time.Second)))
	if c.Hang {
		time.Sleep(24 * time.Hour)
	}
	if c.Exit != 0 {
		fmt.Fprintf(os.Stderr, "fake-job: crashing with status %d as asked\n", c.Exit)
		return c.Exit
	}
	out, err := json.Marshal(fakeOutput(in, c))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := os.WriteFile(filepath.Join(dir, FakeJobOutput), out, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// fakeOutput builds a FOQUS-shaped value dump for the input nodes.
func fakeOutput(in map[string]json.RawMessage, c Control) map[string]any {
	input := map[string]any{}
	outputs := map[string]any{"graph": map[string]any{"error": 0.0}}
	nodeErr := map[string]int{}
	msgs := map[string]string{}
	nodes := make([]string, 0, len(in))
	for n := range in {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		var vars map[string]any
		_ = json.Unmarshal(in[n], &vars) // a node that is not an object has no variables
		input[n] = vars
		if n == "graph" {
			continue
		}
		sum, prod, count := 0.0, 1.0, 0
		for _, v := range vars {
			if x, ok := v.(float64); ok && !math.IsNaN(x) {
				sum, prod, count = sum+x, prod*x, count+1
			}
		}
		outputs[n] = map[string]any{"sum": sum, "product": prod, "count": count}
		nodeErr[n], msgs[n] = 0, ""
	}
	graphError := 0
	if c.Fail != "" {
		graphError = 1
		n := "fake"
		for _, x := range nodes {
			if x != "graph" {
				n = x
				break
			}
		}
		nodeErr[n], msgs[n] = 1, c.Fail
	}
	o := map[string]any{
		"input": input, "output": outputs, "graphError": graphError, "nodeError": nodeErr,
		"nodeSettings": map[string]any{}, "turbineMessages": msgs, "solTime": c.Delay,
	}
	if c.Pad > 0 {
		o["padding"] = strings.Repeat("x", c.Pad)
	}
	return o
}
