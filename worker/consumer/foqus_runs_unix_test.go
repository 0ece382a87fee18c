//go:build unix

package consumer_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

const runs = "../runner/testdata/foqus-runs"

func (h *harness) putSimulation(sim, rel, path string) {
	h.t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(h.SimulationBucket), Key: aws.String(objectkey.SimulationFile("alice", sim, rel)), Body: strings.NewReader(string(body)),
	}); err != nil {
		h.t.Fatal(err)
	}
}

func runInput(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runs, "runs", name, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkInf: FOQUS's Infinity output is a success, stored in S3 and carried
// inline with B.r as the string "Infinity".
func checkInf(t *testing.T, h *harness, j job.Job) {
	t.Helper()
	if j.State != job.Success {
		t.Fatalf("inf job %s %q", j.State, j.Message)
	}
	b := h.output(j.OutputKey)["output"].(map[string]any)["B"].(map[string]any)
	var inline struct{ Output map[string]map[string]any }
	if err := json.Unmarshal(j.Output, &inline); err != nil || b["r"] != "Infinity" || inline.Output["B"]["r"] != "Infinity" {
		t.Fatalf("inf output stored %v, inline %s (%v)", b, j.Output, err)
	}
}

// Without FOQUS: the recorded inf output (a script plays the driver)
// through the worker binary is stored and reported.
func TestFOQUSInfinityOutputThroughTheWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	recorded, err := filepath.Abs(filepath.Join(runs, "runs", "inf", "output.json"))
	if err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=\"$2\"; shift; done\ncp '" + recorded + "' \"$out\"\n"
	if err := os.WriteFile(python, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	h.putSimulation("inf_node", "session.foqus", filepath.Join(runs, "sessions", "inf_node.foqus"))
	w := h.startWorker("--python", python)
	k := h.submit(sessionstore.NewJob{Application: job.AppFOQUS, Simulation: "inf_node", Input: runInput(t, "inf")})[0]
	checkInf(t, h, h.waitFinal(k, 30*time.Second))
	w.stop(t, 10*time.Second)
}

// With FOQUS_PYTHON (an interpreter where foqus_lib imports): real FOQUS
// through the worker binary: success with FOQUS's numbers, Infinity stored,
// a node's exception in the job's message.
func TestRealFOQUSThroughTheWorker(t *testing.T) {
	py := os.Getenv("FOQUS_PYTHON")
	if py == "" {
		t.Skip("FOQUS_PYTHON is unset: set it to a python3 where `import foqus_lib` works to run real FOQUS through the worker")
	}
	if err := exec.Command(py, "-c", "import foqus_lib").Run(); err != nil {
		t.Skipf("FOQUS_PYTHON=%s cannot import foqus_lib: %v", py, err)
	}
	t.Setenv("HOME", t.TempDir())
	h := newHarness(t)
	h.putSimulation("two_node", "session.foqus", filepath.Join(runs, "sessions", "two_node.foqus"))
	h.putSimulation("inf_node", "session.foqus", filepath.Join(runs, "sessions", "inf_node.foqus"))
	w := h.startWorker("--python", py, "--concurrency", "1")
	keys := h.submit(
		sessionstore.NewJob{Application: job.AppFOQUS, Simulation: "two_node", Input: runInput(t, "ok_two")},
		sessionstore.NewJob{Application: job.AppFOQUS, Simulation: "inf_node", Input: runInput(t, "inf")},
		sessionstore.NewJob{Application: job.AppFOQUS, Simulation: "two_node", Input: runInput(t, "raise")},
	)
	ok := h.waitFinal(keys[0], 2*time.Minute)
	if o := h.output(ok.OutputKey)["output"].(map[string]any); ok.State != job.Success || o["B"].(map[string]any)["r"] != 8.0 {
		t.Fatalf("ok_two %s %q: %v", ok.State, ok.Message, o)
	}
	checkInf(t, h, h.waitFinal(keys[1], 2*time.Minute))
	bad := h.waitFinal(keys[2], 2*time.Minute)
	if bad.State != job.Error || !strings.Contains(bad.Message, "node B error 21") || !strings.Contains(bad.Message, "ValueError: math domain error") {
		t.Fatalf("raise %s %q", bad.State, bad.Message)
	}
	w.stop(t, 30*time.Second)
}
