package registry_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/event"
)

// MaxBootstrap is the size every bootstrap stays under.
const MaxBootstrap = 10 << 20

// buildBootstraps builds every functions/cmd main for goarch as the Makefile
// does and returns the directory holding them, one file per function.
func buildBootstraps(b *testing.B, goarch string) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir+"/", "github.com/foqus-cloud/stack/functions/cmd/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s bootstraps: %v\n%s", goarch, err, out)
	}
	return dir
}

// fakeRuntime is the Lambda Runtime API on loopback: it hands out one event
// and reports when and how the function answered it.
type fakeRuntime struct {
	event    []byte
	answered chan string    // "response: <body>", "error: <body>" or "init error: <body>"
	ready    chan time.Time // when the function first asked for an event: its init is done
	served   bool
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
		if f.served { // the function waits for its next event: until it is killed
			<-r.Context().Done()
			return
		}
		f.served = true
		f.ready <- time.Now()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "c0ld-5tart")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
		_, _ = w.Write(f.event)
	case strings.HasSuffix(r.URL.Path, "/response"):
		w.WriteHeader(http.StatusAccepted)
		f.answered <- "response: " + string(body)
	case strings.HasSuffix(r.URL.Path, "/init/error"):
		w.WriteHeader(http.StatusAccepted)
		f.answered <- "init error: " + string(body)
	case strings.HasSuffix(r.URL.Path, "/error"):
		w.WriteHeader(http.StatusAccepted)
		f.answered <- "error: " + string(body)
	default:
		http.NotFound(w, r)
	}
}

// coldEvent is a first event for function fn that makes it do its real work.
func coldEvent(b *testing.B, fn, sid string) []byte {
	var v any
	switch fn {
	case api.FnAuthorizer:
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		fixture(b, "apigw-authorizer-request.json", &req)
		v = req
	case api.FnUpdateProcessor:
		body, attrs, _ := event.Encode(event.Heartbeat{Consumer: sid, At: time.Now()})
		m := events.SQSMessage{MessageId: "m1", Body: body, MessageAttributes: map[string]events.SQSMessageAttribute{}}
		for k, val := range attrs {
			m.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: &val, DataType: "String"}
		}
		v = events.SQSEvent{Records: []events.SQSMessage{m}}
	default:
		i := slices.IndexFunc(api.Routes, func(r api.Route) bool { return r.Function == fn })
		r := api.Routes[i]
		path := strings.NewReplacer("{id}", sid, "{generator}", genA, "{page}", "1", "{name}", "flow", "{path+}", "configuration").Replace(r.Path)
		v, _ = request(b, r.Method, path, "alice", map[string]string{"method": "getObject"}, jobsBody(0, 1, ""))
	}
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkBootstraps prints each function's bootstrap size (linux/arm64,
// as deployed; it fails at 10 MB or more) and its cold start: from process
// start to its first request for an event (init: config, clients) and to its
// answer of a first real event, whose moto calls are included (linux/amd64
// build of the same main, against a fake Lambda Runtime API on loopback).
//
//	go test -run '^$' -bench Bootstraps -benchtime 1x -v ./functions/registry
func BenchmarkBootstraps(b *testing.B) {
	e := newEnv(b)
	sid, _ := e.newSession("alice", 1)
	e.ok("PUT", "/simulation/flow", "alice", `{"Application":"foqus"}`, nil)
	arm := buildBootstraps(b, "arm64")
	amd := buildBootstraps(b, "amd64")
	environ := []string{
		"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_ENDPOINT_URL=" + srv.Endpoint(),
	}
	for k, v := range e.st.Env() {
		environ = append(environ, k+"="+v)
	}
	b.ResetTimer()
	for range b.N {
		var rows []string
		var largest int64
		var slowest, slowestInit time.Duration
		for _, fn := range api.Functions() {
			fi, err := os.Stat(filepath.Join(arm, fn))
			if err != nil {
				b.Fatal(err)
			}
			largest = max(largest, fi.Size())
			rt := &fakeRuntime{event: coldEvent(b, fn, sid), answered: make(chan string, 1), ready: make(chan time.Time, 1)}
			ts := httptest.NewServer(rt)
			cmd := exec.Command(filepath.Join(amd, fn))
			cmd.Env = append(slices.Clone(environ), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(ts.URL, "http://"), "AWS_LAMBDA_FUNCTION_NAME="+fn)
			began := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			var answer string
			select {
			case answer = <-rt.answered:
			case <-time.After(10 * time.Second):
				answer = "no answer in 10 s"
			}
			cold := time.Since(began)
			var init time.Duration
			select {
			case t := <-rt.ready:
				init = t.Sub(began)
			default:
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			ts.Close()
			if ok := strings.HasPrefix(answer, "response: ") || fn == api.FnAuthorizer && strings.Contains(answer, "Unauthorized"); !ok {
				b.Errorf("%s answered %.200s", fn, answer)
			}
			slowest, slowestInit = max(slowest, cold), max(slowestInit, init)
			rows = append(rows, fmt.Sprintf("%-28s %5.2f MB  init %5.1f ms  first answer %6.1f ms  (%.50s)",
				fn, float64(fi.Size())/(1<<20), float64(init)/1e6, float64(cold)/1e6, answer))
			if fi.Size() >= MaxBootstrap {
				b.Errorf("%s bootstrap is %d bytes, over %d", fn, fi.Size(), MaxBootstrap)
			}
		}
		b.ReportMetric(float64(largest)/(1<<20), "largest-MB")
		b.ReportMetric(float64(slowestInit)/1e6, "slowest-init-ms")
		b.ReportMetric(float64(slowest)/1e6, "slowest-first-answer-ms")
		b.Logf("bootstraps: linux/arm64 size; linux/amd64 build from process start to its first event request (init) and to its answer (first answer, moto calls included):\n%s", strings.Join(rows, "\n"))
	}
}
