package consumer_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// A fake-job job goes create -> submit -> setup -> running -> success; its
// output is in S3 before the success is recorded, and the message is gone.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	logFile := filepath.Join(t.TempDir(), "logs", "worker.log")
	w := h.startWorker("--log-file", logFile)
	k := h.submit(fakeJob(`{"A":{"x":2,"y":3},"graph":{},"control":{"delay":1.5}}`))[0]

	// While it runs, the store shows it running, held by the worker.
	running := h.waitFor(k, 20*time.Second, "running", func(j job.Job) bool { return j.State == job.Running })
	if running.Consumer == "" || running.Attempts != 1 || running.LeaseUntil.Before(time.Now()) {
		t.Fatalf("running job %+v: want a consumer, one attempt and a live lease", running)
	}
	j := h.waitFinal(k, 20*time.Second)
	if j.State != job.Success || j.FinishSeq != 1 || j.Message != "" {
		t.Fatalf("final job %+v, want success", j)
	}
	order := []time.Time{j.Created, j.Submitted, j.SetupAt, j.RunningAt, j.Finished}
	for i := 1; i < len(order); i++ {
		if order[i].IsZero() || order[i].Before(order[i-1]) {
			t.Fatalf("timestamps create %v submit %v setup %v running %v finished %v are not in order", order[0], order[1], order[2], order[3], order[4])
		}
	}
	if want := objectkey.JobOutput(k.User, k.Session, k.ID); j.OutputKey != want {
		t.Fatalf("output key %q, want %q", j.OutputKey, want)
	}
	o := h.output(j.OutputKey)
	a := o["output"].(map[string]any)["A"].(map[string]any)
	if o["graphError"] != 0.0 || a["sum"] != 5.0 || a["product"] != 6.0 {
		t.Fatalf("output %v", o)
	}
	var inline map[string]any
	if err := json.Unmarshal(j.Output, &inline); err != nil || inline["solTime"] != 1.5 {
		t.Fatalf("inline output %s: %v", j.Output, err)
	}
	if ev := h.eventsOf(k.ID); len(ev) != 1 || ev[0].State != job.Success || ev[0].Consumer != running.Consumer {
		t.Fatalf("events %+v, want one success from the running consumer", ev)
	}
	h.waitEmpty(h.JobQueueURL, 5*time.Second)

	// The heartbeat reached CloudWatch with the stage dimension.
	cw := cloudwatch.NewFromConfig(h.Config, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) })
	out, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{
		Namespace: aws.String(resource.WorkerMetricNamespace), MetricName: aws.String(resource.WorkerHeartbeatMetric),
	})
	if err != nil || len(out.Metrics) != 1 || aws.ToString(out.Metrics[0].Dimensions[0].Value) != "test" {
		t.Fatalf("heartbeat metrics %+v, %v", out, err)
	}
	w.stop(t, 10*time.Second)
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), `msg="job ended"`) || !strings.Contains(string(b), `msg="aws requests"`) {
		t.Fatalf("log file %s: %v\n%s", logFile, err, b)
	}
}

// Failures of every kind end the job as error with a reason (the output
// still written where the flowsheet produced one), and the worker goes on.
func TestFailuresEndAsErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := h.startWorker("--concurrency", "4", "--job-timeout", "2s")
	unknown := sessionstore.NewJob{Application: job.AppAspenPlus, Simulation: "sim", Input: []byte(`{}`)}
	keys := h.submit(
		fakeJob(`{"A":{"x":1},"control":{"fail":"solver diverged"}}`),
		fakeJob(`{"control":{"exit":3}}`),
		fakeJob(`{"control":{"panic":"boom"}}`),
		fakeJob(`{"control":{"hang":true}}`),
		unknown,
	)
	want := []string{
		"flowsheet error 1 (node A error 1: solver diverged)",
		"fake-job exited with status 3", // the whole message: no path, no stderr (that is in the worker's log)
		"runner panicked: boom",
		"timed out after 2s",
		`no runner for application "AspenPlus"`,
	}
	for i, k := range keys {
		j := h.waitFinal(k, 30*time.Second)
		if j.State != job.Error || !strings.Contains(j.Message, want[i]) {
			t.Errorf("job %d: %s %q, want error containing %q", i, j.State, j.Message, want[i])
		}
		if i == 1 && j.Message != want[i] {
			t.Errorf("crash message %q, want exactly %q", j.Message, want[i])
		}
		if (i == 0) != (j.OutputKey != "") {
			t.Errorf("job %d: output key %q (only the failed flowsheet has an output)", i, j.OutputKey)
		}
	}
	// Still consuming after all that.
	k := h.submit(fakeJob(`{"B":{"x":4}}`))[0]
	if j := h.waitFinal(k, 20*time.Second); j.State != job.Success {
		t.Fatalf("job after the failures: %s %q", j.State, j.Message)
	}
	w.alive(t)
	h.waitEmpty(h.JobQueueURL, 5*time.Second)
	w.stop(t, 10*time.Second)
}

// An output too big for a message (SNS's 256 KB; the original's limit) is
// in S3 only: the event carries its key, and the job records it.
func TestOutputTooBigForAMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := h.startWorker()
	k := h.submit(fakeJob(`{"A":{"x":1},"control":{"pad":300000}}`))[0]
	j := h.waitFinal(k, 20*time.Second)
	if j.State != job.Success || len(j.Output) != 0 || j.OutputKey == "" {
		t.Fatalf("job %s %q, %d bytes inline, key %q: want success with the output only in S3", j.State, j.Message, len(j.Output), j.OutputKey)
	}
	if o := h.output(j.OutputKey); len(o["padding"].(string)) != 300000 || o["graphError"] != 0.0 {
		t.Fatal("the stored output is not the whole output")
	}
	if ev := h.eventsOf(k.ID); len(ev) != 1 || len(ev[0].Output) != 0 {
		t.Fatalf("events %d, inline %d bytes", len(ev), len(ev[0].Output))
	}
	w.stop(t, 10*time.Second)
}
