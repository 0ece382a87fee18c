package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/local/deploy"
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

// The deployed update topic delivers worker events, raw, to the update queue.
func TestDeployedMessagingDelivers(t *testing.T) {
	asm := assembly(t)
	ctx := context.Background()
	if err := srv.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Config(ctx)
	d, err := deploy.Deploy(ctx, cfg, asm, map[string]string{"/foqus/dev/worker/ami": "ami-0000000000000dev0"})
	if err != nil {
		t.Fatal(err)
	}
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
