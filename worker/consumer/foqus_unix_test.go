//go:build unix

package consumer_test

import (
	"context"
	"os"
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

// A foqus job through the whole worker: the simulation is staged from S3,
// the driver is started (a script plays Python, as FOQUS cannot run here,
// and leaves the output a real FOQUS run produced) and its output is
// parsed, stored and reported.
func TestFOQUSJobEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	recorded, err := filepath.Abs("../runner/testdata/foqus-output.json")
	if err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=\"$2\"; shift; done\ncp '" + recorded + "' \"$out\"\n"
	if err := os.WriteFile(python, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	for rel, body := range map[string]string{
		"session.foqus": `{"Type":"FOQUS_Session","flowsheet":{"nodes":{"BFB":{"modelName":"","turbApp":null}}}}`,
		"meta.json":     `{"Application":"foqus"}`,
	} {
		if _, err := h.s3.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(h.SimulationBucket), Key: aws.String(objectkey.SimulationFile("alice", "zzfoqus_BFB", rel)), Body: strings.NewReader(body),
		}); err != nil {
			t.Fatal(err)
		}
	}
	w := h.startWorker("--python", python)
	k := h.submit(sessionstore.NewJob{Application: job.AppFOQUS, Simulation: "zzfoqus_BFB", Input: []byte(`{"BFB":{"fg_flow":100377.0},"graph":{}}`)})[0]
	j := h.waitFinal(k, 20*time.Second)
	if j.State != job.Success {
		t.Fatalf("foqus job %s %q", j.State, j.Message)
	}
	o := h.output(j.OutputKey)
	bfb := o["output"].(map[string]any)["BFB"].(map[string]any)
	if o["graphError"] != 0.0 || bfb["Cost_coe"] != 138.85964658190665 {
		t.Fatalf("stored output %v", o)
	}
	w.stop(t, 10*time.Second)
}
