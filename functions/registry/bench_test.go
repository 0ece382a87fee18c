package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/recorder"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/registry"
)

// latencies runs f n times and returns the p50 and p99 in milliseconds.
func latencies(b *testing.B, n int, f func()) (p50, p99 float64) {
	b.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		t := time.Now()
		f()
		d[i] = time.Since(t)
	}
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / 1e6 }
	return ms(0.50), ms(0.99)
}

// BenchmarkHandlers measures each handler's p50/p99 latency against moto,
// next to the p99 of the store and S3 calls it makes, made directly.
//
//	go test -run '^$' -bench Handlers -benchtime 1x ./functions/registry
func BenchmarkHandlers(b *testing.B) {
	const n = 30
	e := newEnv(b)
	ctx := context.Background()
	s3c := awsconf.NewS3(e.st.Config)
	if _, err := e.users.Create(ctx, "alice", "correct horse battery", ""); err != nil {
		b.Fatal(err)
	}
	sid, ids := e.newSession("alice", 50)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 50, 2)
	fs := make([]sessionstore.Finish, 20)
	for i := range fs {
		fs[i] = sessionstore.Finish{ID: ids[i], State: job.Success, Output: []byte(`{"graphError":0,"output":{"y":1.5}}`)}
	}
	finish(b, e, sid, fs)
	e.newPage("alice", sid, genA)
	e.ok("PUT", "/simulation/flow", "alice", `{"Application":"foqus"}`, nil)
	for i := range 10 {
		e.ok("PUT", "/simulation/flow/input/in"+strconv.Itoa(i)+".txt", "alice", strings.Repeat("x", 1000), nil)
	}
	killed, _ := e.newSession("alice", 5)
	e.ok("POST", "/session/"+killed+"/kill", "alice", "", nil)
	appendTo, _ := e.newSession("alice", 1)
	body20 := jobsBody(0, 20, "fake-job")
	reqs20 := make([]sessionstore.NewJob, 20)
	for i := range reqs20 {
		reqs20[i] = sessionstore.NewJob{Application: job.AppFakeJob, Simulation: "zzfoqus_flow", Input: []byte(`{"graph":{},"node":{"x":` + strconv.Itoa(i) + `}}`)}
	}
	list := func(prefix string) {
		p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: &e.st.SimulationBucket, Prefix: &prefix})
		for p.HasMorePages() {
			if _, err := p.NextPage(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	var authReq events.APIGatewayCustomAuthorizerRequestTypeRequest
	fixture(b, "apigw-authorizer-request.json", &authReq)
	authReq.Headers["authorization"] = "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5" // alice:correct horse battery

	cases := []struct {
		name   string
		call   func()
		direct func() // the store and S3 calls the handler makes
	}{
		{"get-application", func() { e.ok("GET", "/application", "alice", "", nil) }, nil},
		{"post-session-create", func() { e.ok("POST", "/session", "alice", "", nil) }, nil},
		{"get-session-list", func() { e.ok("GET", "/session", "alice", "", nil) }, func() {
			for _, err := range e.store.Sessions(ctx, "alice") {
				must(err)
			}
		}},
		{"get-session", func() { e.ok("GET", "/session/"+sid, "alice", "", nil) }, func() {
			_, err := e.store.GetSession(ctx, "alice", sid)
			must(err)
			_, err = e.store.Jobs(ctx, "alice", sid)
			must(err)
		}},
		{"post-session-append", func() { e.ok("POST", "/session/"+appendTo, "alice", body20, nil) }, func() {
			_, err := e.store.Append(ctx, "alice", appendTo, reqs20)
			must(err)
		}},
		{"post-session-start", func() { e.ok("POST", "/session/"+sid+"/start", "alice", "", nil) }, func() {
			_, err := e.store.GetSession(ctx, "alice", sid)
			must(err)
			must(e.store.AcquireStart(ctx, "alice", sid, time.Minute))
			for _, err := range e.store.Pending(ctx, "alice", sid) {
				must(err)
			}
			must(e.store.ReleaseStart(ctx, "alice", sid))
		}},
		{"post-session-kill", func() { e.ok("POST", "/session/"+killed+"/kill", "alice", "", nil) }, func() {
			_, err := e.store.GetSession(ctx, "alice", killed)
			must(err)
			_, err = e.store.Jobs(ctx, "alice", killed)
			must(err)
			must(e.store.SetSessionState(ctx, "alice", killed, sessionstore.SessionKilled))
		}},
		{"post-session-stop", func() { e.ok("POST", "/session/"+killed+"/stop", "alice", "", nil) }, func() {
			must(e.store.AcquireStart(ctx, "alice", killed, time.Minute))
			_, err := e.store.Jobs(ctx, "alice", killed)
			must(err)
			must(e.store.SetSessionState(ctx, "alice", killed, sessionstore.SessionStopped))
			must(e.store.ReleaseStart(ctx, "alice", killed))
		}},
		{"post-session-result", func() { e.ok("POST", "/session/"+sid+"/result/"+genA, "alice", "", nil) }, func() {
			_, err := e.store.CreatePage(ctx, "alice", sid, genA, sessionstore.DefaultPageSize)
			must(err)
		}},
		{"get-session-result-page", func() { e.ok("GET", "/session/"+sid+"/result/"+genA+"/1", "alice", "", nil) }, func() {
			_, err := e.store.Page(ctx, "alice", sid, genA, 1)
			must(err)
		}},
		{"get-simulation-root", func() { e.ok("GET", "/simulation", "alice", "", nil) }, func() { list("alice/") }},
		{"get-simulation", func() { e.ok("GET", "/simulation/flow", "alice", "", nil) }, func() { list("alice/flow/") }},
		{"put-simulation-name", func() { e.ok("PUT", "/simulation/flow", "alice", `{"Application":"foqus"}`, nil) }, func() {
			list("alice/flow/")
			_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/flow/meta.json"), Body: strings.NewReader(`{"Application":"foqus"}`)})
			must(err)
		}},
		{"put-simulation-input", func() { e.ok("PUT", "/simulation/flow/input/in0.txt", "alice", strings.Repeat("y", 1000), nil) }, func() {
			list("alice/flow/")
			_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/flow/in0.txt"), Body: strings.NewReader(strings.Repeat("y", 1000))})
			must(err)
		}},
		{"get-simulation-input-file", func() { e.ok("GET", "/simulation/flow/input/in1.txt", "alice", "", nil) }, func() {
			list("alice/flow/")
			o, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.st.SimulationBucket, Key: aws.String("alice/flow/in1.txt")})
			must(err)
			must(o.Body.Close())
		}},
		{"post-simulation-signed-url", func() {
			if r := e.call("POST", "/simulation/flow/input/in1.txt", "alice", map[string]string{"method": "putObject"}, ""); r.StatusCode != 302 {
				b.Fatal(r.Body)
			}
		}, func() { list("alice/flow/") }},
		{"http-basic-authorizer", func() {
			if r, err := e.set.Authorizer(ctx, authReq); err != nil || r.PrincipalID != "alice" {
				b.Fatal(r, err)
			}
		}, func() {
			_, err := e.users.Authenticate(ctx, "alice", "correct horse battery")
			must(err)
		}},
		{"foqus-update-processor (10 heartbeats)", func() {
			var ev events.SQSEvent
			for i := range 10 {
				body, attrs, _ := event.Encode(event.Heartbeat{Consumer: ids[i], At: time.Now()})
				m := events.SQSMessage{MessageId: strconv.Itoa(i), Body: body, MessageAttributes: map[string]events.SQSMessageAttribute{}}
				for k, v := range attrs {
					m.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: aws.String(v), DataType: "String"}
				}
				ev.Records = append(ev.Records, m)
			}
			if r, err := e.set.Updates(ctx, ev); err != nil || len(r.BatchItemFailures) > 0 {
				b.Fatal(r, err)
			}
		}, func() {
			r := recorder.Recorder{Store: e.store}
			for i := range 10 {
				must(r.Apply(ctx, event.Heartbeat{Consumer: ids[i], At: time.Now()}))
			}
		}},
	}
	b.ResetTimer()
	for range b.N {
		var rows []string
		for _, c := range cases {
			p50, p99 := latencies(b, n, c.call)
			row := fmt.Sprintf("%-40s p50 %7.1f ms  p99 %7.1f ms", c.name, p50, p99)
			b.ReportMetric(p99, strings.Fields(c.name)[0]+"-p99-ms")
			if c.direct != nil {
				_, d99 := latencies(b, n, c.direct)
				row += fmt.Sprintf("   store calls p99 %7.1f ms   ratio %.2f", d99, p99/d99)
			}
			rows = append(rows, row)
			b.Log(row)
		}
		b.Logf("handler latency against moto, %d calls each:\n%s", n, strings.Join(rows, "\n"))
	}
}

// BenchmarkStartThroughput compares start (2,000 jobs appended, then one
// start) with raw SQS SendMessageBatch and raw SNS PublishBatch of as many
// messages of the same size into the same empty job queue, in the same run.
// moto's SQS slows with queue depth, so only the ratio means something.
//
//	go test -run '^$' -bench StartThroughput -benchtime 1x ./functions/registry
func BenchmarkStartThroughput(b *testing.B) {
	const total = 2000
	e := newEnv(b)
	ctx := context.Background()
	var sid string
	e.ok("POST", "/session", "alice", "", &sid)
	e.ok("POST", "/session/"+sid, "alice", jobsBody(0, total, "fake-job"), nil)
	jobs, err := e.store.Jobs(ctx, "alice", sid)
	if err != nil {
		b.Fatal(err)
	}
	body, attrs, err := event.Encode(event.Submit{User: "alice", Session: sid, Job: jobs[0].ID, Application: jobs[0].Application, Simulation: jobs[0].Simulation, Input: jobs[0].Input})
	if err != nil {
		b.Fatal(err)
	}
	snsc := sns.NewFromConfig(e.st.Config)
	purge := func() {
		if _, err := e.sqs.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &e.st.JobQueueURL}); err != nil {
			b.Fatal(err)
		}
	}
	// batches sends total messages in batches of 10, event.PublishParallel at once.
	batches := func(send func(ctx context.Context) error) float64 {
		t := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(event.PublishParallel)
		for range total / 10 {
			g.Go(func() error { return send(gctx) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		return total / time.Since(t).Seconds()
	}
	sqsAttrs := map[string]sqstypes.MessageAttributeValue{}
	snsAttrs := map[string]snstypes.MessageAttributeValue{}
	for k, v := range attrs {
		sqsAttrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		snsAttrs[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	b.ResetTimer()
	for range b.N {
		purge()
		rawSQS := batches(func(ctx context.Context) error {
			entries := make([]sqstypes.SendMessageBatchRequestEntry, 10)
			for i := range entries {
				entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: &body, MessageAttributes: sqsAttrs}
			}
			_, err := e.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &e.st.JobQueueURL, Entries: entries})
			return err
		})
		purge()
		rawSNS := batches(func(ctx context.Context) error {
			entries := make([]snstypes.PublishBatchRequestEntry, 10)
			for i := range entries {
				entries[i] = snstypes.PublishBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), Message: &body, MessageAttributes: snsAttrs}
			}
			_, err := snsc.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: &e.st.JobTopicARN, PublishBatchRequestEntries: entries})
			return err
		})
		purge()
		t := time.Now()
		var ids []string
		e.ok("POST", "/session/"+sid+"/start", "alice", "", &ids)
		start := float64(len(ids)) / time.Since(t).Seconds()
		if len(ids) != total {
			b.Fatalf("start submitted %d jobs", len(ids))
		}
		b.ReportMetric(start, "start-jobs/s")
		b.ReportMetric(rawSQS, "raw-sqs-msgs/s")
		b.ReportMetric(rawSNS, "raw-sns-msgs/s")
		b.ReportMetric(start/rawSQS, "start/raw-sqs")
		b.Logf("%d jobs into the empty job queue: start %.0f jobs/s, raw SQS SendMessageBatch %.0f msgs/s, raw SNS PublishBatch %.0f msgs/s; start/SQS %.2f, start/SNS %.2f",
			total, start, rawSQS, rawSNS, start/rawSQS, start/rawSNS)
	}
}

// BenchmarkStart10000 starts a 10,000-job session on a job topic without
// subscribers (moto's SQS work grows with queue depth; this measures start
// itself) and prints how long it took and the AWS requests it made, from
// which its time against AWS follows.
//
//	go test -run '^$' -bench Start10000 -benchtime 1x ./functions/registry
func BenchmarkStart10000(b *testing.B) {
	const total, chunk = 10000, 1000
	e := newEnv(b)
	ctx := context.Background()
	topic, err := sns.NewFromConfig(e.st.Config).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("unsubscribed")})
	if err != nil {
		b.Fatal(err)
	}
	env := e.st.Env()
	env[resource.EnvJobTopicARN] = *topic.TopicArn
	var counter awsconf.Counter
	cfg := e.st.Config.Copy()
	counter.Attach(&cfg)
	set, err := registry.New(cfg, env, api.FnSessionStart)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var sid string
		e.ok("POST", "/session", "alice", "", &sid)
		for i := 0; i < total; i += chunk {
			e.ok("POST", "/session/"+sid, "alice", jobsBody(i, chunk, "fake-job"), nil)
		}
		counter.Reset()
		req, _ := request(b, "POST", "/session/"+sid+"/start", "alice", nil, "")
		b.StartTimer()
		t := time.Now()
		resp, err := set.HTTP[api.FnSessionStart](ctx, req)
		d := time.Since(t)
		var ids []string
		if err != nil || json.Unmarshal([]byte(resp.Body), &ids) != nil || len(ids) != total {
			b.Fatalf("start: %d %.200s %v", resp.StatusCode, resp.Body, err)
		}
		b.ReportMetric(d.Seconds(), "start-s")
		b.ReportMetric(total/d.Seconds(), "jobs/s")
		b.Logf("start of %d jobs on moto: %v (%.0f jobs/s); AWS requests %v", total, d.Round(time.Millisecond), total/d.Seconds(), counter.Snapshot())
	}
}
