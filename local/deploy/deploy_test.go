package deploy_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/local/deploy"
	"github.com/foqus-cloud/stack/local/eventsource"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

func assembly(t *testing.T) *deploy.Assembly {
	dir, _ := filepath.Abs("../../cdk.out")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		if os.Getenv("FOQUS_E2E") != "" {
			t.Fatalf("no cloud assembly in %s: run make synth", dir)
		}
		t.Skipf("no cloud assembly in %s: run make synth (or make test)", dir)
	}
	asm, err := deploy.ReadAssembly(dir)
	if err != nil {
		t.Fatal(err)
	}
	return asm
}

var (
	deployOnce sync.Once
	deployment *deploy.Deployment
	deployErr  error
)

// deployed deploys the synthesized app into the package's moto once (a
// deploy takes minutes under load); the tests share it and use their own
// messages on its queues.
func deployed(t *testing.T) (*deploy.Deployment, aws.Config) {
	t.Helper()
	asm := assembly(t)
	ctx := context.Background()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deployOnce.Do(func() {
		deployment, deployErr = deploy.Deploy(ctx, cfg, asm, map[string]string{"/foqus/dev/worker/ami": "ami-0000000000000dev0"})
	})
	if deployErr != nil {
		t.Fatal(deployErr)
	}
	return deployment, cfg
}

// The deployed update topic delivers worker events, raw, to the update queue.
func TestDeployedMessagingDelivers(t *testing.T) {
	ctx := context.Background()
	d, cfg := deployed(t)
	topic, queue := find(t, d, "AWS::SNS::Topic", "Update"), find(t, d, "AWS::SQS::Queue", "UpdateQueue")
	pub := event.NewPublisher(sns.NewFromConfig(cfg), topic)
	q := sqs.NewFromConfig(cfg)
	const total = 60
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < total/2; i++ {
				m := event.Status{User: "alice", Session: uuid.NewString(), Job: uuid.NewString(), State: job.Success, At: time.Now()}
				if err := pub.Publish(ctx, m); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	got := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < total && time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got[*m.Body] = true
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	if len(got) != total {
		t.Fatalf("received %d of %d messages", len(got), total)
	}
}

func find(t *testing.T, d *deploy.Deployment, typ, contains string) string {
	t.Helper()
	for _, r := range d.Resources(typ) {
		if id, ok := d.Physical(r.Stack, r.Logical); ok && contains != "" && strings.Contains(r.Logical, contains) {
			return id
		}
	}
	t.Fatalf("no %s with %q in its id", typ, contains)
	return ""
}

// Each event source mapping's poller runs a batch under its function's
// Timeout, as Lambda does: the handler sees the deadline the template
// declares for that function (the update processor's, the archiver's, ...).
func TestMappingsRunUnderTheTemplatesTimeout(t *testing.T) {
	ctx := context.Background()
	d, cfg := deployed(t)
	fns, err := d.Functions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]time.Duration{} // by physical name, from the template
	for _, r := range d.Resources("AWS::Lambda::Function") {
		name, _ := d.Physical(r.Stack, r.Logical)
		secs, ok := r.Resource.Properties["Timeout"].(float64)
		if !ok {
			t.Fatalf("function %s declares no Timeout", name)
		}
		declared[name] = time.Duration(secs) * time.Second
		if fns[name].Timeout != declared[name] {
			t.Errorf("function %s: deployed Timeout %v, template declares %v", name, fns[name].Timeout, declared[name])
		}
	}
	maps, err := d.QueueMappings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	for _, m := range maps {
		t.Run(m.Function, func(t *testing.T) {
			left := make(chan time.Duration, 1)
			p := &eventsource.Poller{
				SQS: q, QueueURL: m.QueueURL, BatchSize: m.BatchSize, ReportFailures: m.ReportFailures,
				Timeout: fns[m.Function].Timeout, Log: slog.New(slog.DiscardHandler), WaitSeconds: 1,
				Handler: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
					dl, ok := ctx.Deadline()
					if !ok {
						dl = time.Time{}
					}
					select {
					case left <- time.Until(dl):
					default:
					}
					return events.SQSEventResponse{}, nil
				},
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = p.Run(runCtx); close(done) }()
			defer func() { cancel(); <-done }()
			if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(m.QueueURL), MessageBody: aws.String(`{}`)}); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-left:
				want := declared[m.Function]
				if got > want || got < want-5*time.Second {
					t.Fatalf("handler had %v left at its start; the template declares a %v Timeout", got.Round(time.Millisecond), want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the poller handed the handler no batch")
			}
		})
	}
	if len(maps) < 3 {
		t.Fatalf("%d event source mappings; want the update processor's, the archiver's and thaw's", len(maps))
	}
}
