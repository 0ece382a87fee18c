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
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
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

// SES's sends stay readable (SentMails) once the account has a Lambda
// function, as every deployed stack does: moto's state dump failed with a
// 500 on a function's Docker client when no Docker daemon runs.
func TestSentMailsWithALambdaFunction(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	ctx := context.Background()
	const template = `{"Resources": {
	  "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17",
	    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
	  "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12", "Handler": "index.handler",
	    "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "def handler(e, c): return e"}}}}}`
	name := "mail-" + strings.ReplaceAll(st.UsersTable, "_", "-")
	cfn := cloudformation.NewFromConfig(st.Config)
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(template),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}}); err != nil {
		t.Fatal(err)
	}
	res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	fns := 0
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::Lambda::Function" && r.ResourceStatus == cfntypes.ResourceStatusCreateComplete {
			fns++
		}
	}
	if fns != 1 {
		t.Fatalf("stack %s: %d functions created, want 1", name, fns)
	}
	to := name + "@example.org"
	if _, err := sesv2.NewFromConfig(st.Config).SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(Sender), Destination: &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("subject " + to)}, Body: &sestypes.Body{Text: &sestypes.Content{Data: aws.String("body")}},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	mails, err := SentMails(ctx, srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range mails {
		found = found || m.Subject == "subject "+to && strings.Contains(fmt.Sprint(m.Destinations), to)
	}
	if !found {
		t.Fatalf("the mail to %s is not among the %d recorded", to, len(mails))
	}
}

// Servers started at once (as go test starts packages side by side) each
// get a port of their own: the kernel picks it as moto binds.
func TestServersStartedAtOnceAreApart(t *testing.T) {
	ctx := context.Background()
	servers := make([]*Server, 3)
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = Start(ctx) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(s.Close)
		if seen[s.Endpoint()] {
			t.Fatalf("two servers on %s", s.Endpoint())
		}
		seen[s.Endpoint()] = true
	}
	cfg, err := servers[0].Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, UsersTableInput("apart")); err != nil {
		t.Fatal(err)
	}
	other, err := servers[1].Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := dynamodb.NewFromConfig(other).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil || len(out.TableNames) != 0 {
		t.Fatalf("the second server lists %v, %v: want none of the first's tables", out.TableNames, err)
	}
}
