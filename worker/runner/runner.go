// Package runner runs one job's flowsheet. A Runner is chosen by the job's
// Application: fake-job (deterministic, with controls for every failure
// path) or foqus (FOQUS's own session API through a Python driver). Both run
// their work in a child process, so a kill or a timeout ends the whole
// process tree the same way.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/pyjson"
)

// Job is what a runner is given: the stored job and an empty work directory
// that belongs to this run alone.
type Job struct {
	Key         job.Key
	Application string
	Simulation  string
	Input       json.RawMessage // the client's input object: {"<node>": {"<var>": value}, "graph": {}}
	Reset       bool
	Initialize  bool
	Dir         string
}

// Result is a finished flowsheet run.
type Result struct {
	// Output is FOQUS's flowsheet value dump (input, output, graphError,
	// nodeError, nodeSettings, turbineMessages, solTime), kept verbatim.
	Output json.RawMessage
	// GraphError is FOQUS's error status of the whole graph: 0 is success.
	GraphError int
	// Message says why the flowsheet failed when GraphError is not 0.
	Message string
}

// Runner runs the jobs of one application in two steps: Stage prepares the
// work directory (downloads, input files) while the job is in setup, and the
// Run it returns runs the staged job.
type Runner interface {
	Stage(ctx context.Context, j Job) (Run, error)
}

// Run runs a staged job. It returns when the run ends or ctx is done; in the
// latter case it has killed every process it started and returns an error
// wrapping context.Cause(ctx).
type Run func(ctx context.Context) (Result, error)

// Set maps applications to their runners.
type Set map[string]Runner

// UnknownApplicationError: no runner for the job's application.
type UnknownApplicationError struct{ Application string }

func (e *UnknownApplicationError) Error() string {
	return fmt.Sprintf("no runner for application %q", e.Application)
}

// For returns the runner of app.
func (s Set) For(app string) (Runner, error) {
	if r, ok := s[app]; ok {
		return r, nil
	}
	return nil, &UnknownApplicationError{Application: app}
}

// OutputError: the run ended but left no readable output. Path is the
// output's name in the run directory.
type OutputError struct {
	Path   string
	Reason string
}

func (e *OutputError) Error() string { return fmt.Sprintf("output %s: %s", e.Path, e.Reason) }

// output is the part of FOQUS's value dump the worker interprets.
type output struct {
	GraphError      *json.Number      `json:"graphError"`
	NodeError       map[string]any    `json:"nodeError"`
	TurbineMessages map[string]string `json:"turbineMessages"`
}

// ParseOutput reads FOQUS's value dump (output.json of a run). Non-finite
// numbers (Python's NaN, Infinity) are a result like any other: Output holds
// them as strings (package pyjson says why).
func ParseOutput(raw []byte) (Result, error) { return parseOutput(raw, nil) }

// parseOutput is ParseOutput with the driver's report, whose FOQUS status
// texts and exceptions make the message.
func parseOutput(raw []byte, rep *driverReport) (Result, error) {
	std, _, err := pyjson.Standard(raw)
	if err != nil {
		return Result{}, &OutputError{Path: FOQUSOutput, Reason: "not JSON"}
	}
	var o output
	if err := json.Unmarshal(std, &o); err != nil {
		return Result{}, &OutputError{Path: FOQUSOutput, Reason: "not FOQUS's value dump (graphError, nodeError)"}
	}
	if o.GraphError == nil {
		return Result{}, &OutputError{Path: FOQUSOutput, Reason: "no graphError"}
	}
	ge, err := o.GraphError.Float64()
	if err != nil {
		return Result{}, &OutputError{Path: FOQUSOutput, Reason: "graphError is not a number"}
	}
	r := Result{Output: json.RawMessage(std), GraphError: int(ge)}
	if r.GraphError != 0 {
		r.Message = failure(r.GraphError, o, rep)
	}
	return r, nil
}

// failure summarises a failed graph: its status (with FOQUS's description
// and exception when the driver reported them) and each failed node's
// status, exception and Turbine message, in node order.
func failure(graphError int, o output, rep *driverReport) string {
	if rep == nil {
		rep = &driverReport{}
	}
	msg := fmt.Sprintf("flowsheet error %d", graphError)
	var graphExc string
	if g := rep.Graph; g != nil {
		if d := strings.TrimSuffix(g.Description, " (see foqus.log)"); d != "" {
			msg += ": " + d
		}
		graphExc = g.Exception
	}
	var parts []string
	nodes := make([]string, 0, len(o.NodeError))
	for n := range o.NodeError {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		nr, reported := rep.Nodes[n]
		code, isNum := o.NodeError[n].(float64)
		// -1 is "did not finish": a node the failure stopped, not at fault itself.
		if nr.Exception == "" && isNum && (code == 0 || reported && code == -1) {
			continue
		}
		p := fmt.Sprintf("node %s error %v", n, o.NodeError[n])
		if nr.Description != "" {
			p += ": " + nr.Description
		}
		if nr.Exception != "" {
			p += ": " + nr.Exception
			if nr.Exception == graphExc {
				graphExc = ""
			}
		}
		if m := o.TurbineMessages[n]; m != "" {
			p += ": " + m
		}
		parts = append(parts, p)
	}
	if graphExc != "" {
		msg += ": " + graphExc
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return msg
}
