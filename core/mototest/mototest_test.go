package mototest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/resource"
)

var srv *Server

func TestMain(m *testing.M) { os.Exit(Run(m, &srv)) }

// The job topic delivers only job.submit events, raw, to the job queue.
func TestStackWiresTopicsToQueues(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	n, q := sns.NewFromConfig(st.Config), sqs.NewFromConfig(st.Config)
	for _, ev := range []string{"job.submit", "job.other"} {
		if _, err := n.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String(st.JobTopicARN), Message: aws.String(`{"e":"` + ev + `"}`),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"event": {DataType: aws.String("String"), StringValue: aws.String(ev)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.JobQueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || *out.Messages[0].Body != `{"e":"job.submit"}` {
		t.Fatalf("job queue got %d messages (%v), want the raw job.submit only", len(out.Messages), out.Messages)
	}
}

// Each Stack is the test's own: what one test writes, another's stack does
// not hold, and the queues have the numbers the CDK app gives them.
func TestStacksAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := srv.Stack(t), srv.Stack(t)
	if a.UsersTable == b.UsersTable || a.SessionBucket == b.SessionBucket || a.JobQueueURL == b.JobQueueURL || a.UpdateTopicARN == b.UpdateTopicARN {
		t.Fatalf("two stacks share names: %+v and %+v", a, b)
	}
	db := dynamodb.NewFromConfig(a.Config)
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(a.UsersTable), Item: map[string]ddbtypes.AttributeValue{"Username": &ddbtypes.AttributeValueMemberS{Value: "x"}}}); err != nil {
		t.Fatal(err)
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(b.UsersTable)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 0 {
		t.Fatalf("the second stack's users table has %d items", out.Count)
	}
	q := sqs.NewFromConfig(a.Config)
	for url, want := range map[string]int{a.UpdateQueueURL: resource.UpdateVisibilitySeconds, a.JobQueueURL: JobLeaseSeconds, a.JobDLQURL: resource.DLQVisibilitySeconds} {
		attrs, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}})
		if err != nil {
			t.Fatal(err)
		}
		if got := attrs.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)]; got != fmt.Sprint(want) {
			t.Errorf("%s: visibility %s s, want %d", url, got, want)
		}
	}
}

func TestPythonHasMoto(t *testing.T) {
	t.Parallel()
	p, err := Python()
	if err != nil || !strings.Contains(p, "python") {
		t.Fatalf("Python() = %q, %v", p, err)
	}
}

// Packages whose tests run on moto are vetted for Windows too (the worker
// is a Windows service): this package must compile there.
func TestCompilesForWindows(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "vet", ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go vet: %v\n%s", err, out)
	}
}

// Conditional writes are atomic, as in DynamoDB: of 50 racing creates of one
// item, exactly one succeeds (moto's own threaded server lets several through).
func TestConditionalWritesAreAtomic(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	db := dynamodb.NewFromConfig(st.Config)
	var wg sync.WaitGroup
	var won atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{
				TableName: aws.String(st.UsersTable), ConditionExpression: aws.String("attribute_not_exists(Username)"),
				Item: map[string]ddbtypes.AttributeValue{"Username": &ddbtypes.AttributeValueMemberS{Value: "race"}, "N": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}},
			})
			if err == nil {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d racing conditional creates succeeded, want 1", won.Load())
	}
}
