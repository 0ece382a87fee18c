package mototest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/resource"
)

// Stage is the stage a Stack's functions and workers are told (FOQUS_STAGE);
// its resources' names add a number of their own to it.
const Stage = "test"

// Stack is the stack's stateful resources created in moto: the same tables,
// buckets, topics and queues the CDK app declares, wired the same way.
type Stack struct {
	Config           aws.Config
	UsersTable       string
	ResourcesTable   string
	SessionBucket    string
	SimulationBucket string
	JobTopicARN      string
	UpdateTopicARN   string
	JobQueueURL      string
	JobDLQURL        string
	UpdateQueueURL   string
	UpdateDLQURL     string
	Lifecycle        // the result lifecycle's queues (lifecycle.go)
	ConnectionsTable string
	// MonitorEndpoint is the Management API the monitor's pushes go to; tests
	// that push serve one (local/gateway) and set it. The default answers nothing.
	MonitorEndpoint string
}

// Env is the stack's names as the environment variables functions and workers read.
func (st *Stack) Env() map[string]string {
	return map[string]string{
		resource.EnvStage:            Stage,
		resource.EnvUsersTable:       st.UsersTable,
		resource.EnvResourcesTable:   st.ResourcesTable,
		resource.EnvRetentionDays:    RetentionDays,
		resource.EnvSessionBucket:    st.SessionBucket,
		resource.EnvSimulationBucket: st.SimulationBucket,
		resource.EnvJobTopicARN:      st.JobTopicARN,
		resource.EnvUpdateTopicARN:   st.UpdateTopicARN,
		resource.EnvJobQueueURL:      st.JobQueueURL,
		resource.EnvUpdateQueueURL:   st.UpdateQueueURL,
		resource.EnvArchiveQueueURL:  st.ArchiveQueueURL,
		resource.EnvThawQueueURL:     st.ThawQueueURL,
		resource.EnvFreeWindow:       LifecycleWindow,
		resource.EnvArchiveClass:     "GLACIER",
		resource.EnvRestoreTier:      "Expedited",
		resource.EnvFreeJobLimit:     FreeJobLimit,
		resource.EnvSender:           Sender,
		resource.EnvConnectionsTable: st.ConnectionsTable,
		resource.EnvMonitorEndpoint:  st.MonitorEndpoint,
	}
}

// Stack creates a stack of the test's own for one test: its tables, buckets,
// queues and topics have names no other stack on the server has, so tests
// using it can run in parallel (t.Parallel) on one server. Its tables and
// queues are deleted when the test ends (buckets stay: emptying them would
// cost more than they take).
func (s *Server) Stack(t testing.TB) *Stack {
	t.Helper()
	ctx := context.Background()
	cfg, err := s.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := CreateStack(ctx, cfg, fmt.Sprintf("%s-%d", Stage, s.stacks.Add(1)))
	if err != nil {
		t.Fatalf("create the stack in moto: %v", err)
	}
	t.Cleanup(func() { st.delete(context.Background()) })
	return st
}

// delete removes the stack's tables, queues and topics, best effort: the
// server ends with the test binary anyway.
func (st *Stack) delete(ctx context.Context) {
	db, q, n := dynamodb.NewFromConfig(st.Config), sqs.NewFromConfig(st.Config), sns.NewFromConfig(st.Config)
	for _, tb := range []string{st.UsersTable, st.ResourcesTable, st.ConnectionsTable} {
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(tb)})
	}
	for _, u := range []string{st.JobQueueURL, st.JobDLQURL, st.UpdateQueueURL, st.UpdateDLQURL, st.ArchiveQueueURL, st.ArchiveDLQURL, st.ThawQueueURL, st.ThawDLQURL} {
		_, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	}
	for _, a := range []string{st.JobTopicARN, st.UpdateTopicARN} {
		_, _ = n.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(a)})
	}
}

// MaxReceiveCount is how often a message is received before it moves to its DLQ.
const MaxReceiveCount = resource.MaxReceiveCount

// RetentionDays is the stack's FOQUS_RETENTION_DAYS: its stores' items
// expire this many days after their last change (dev's dataExpirationDays).
const RetentionDays = "14"

// JobLeaseSeconds is the job queue's visibility: every stage's jobLeaseMinutes
// in cdk.json (15); the worker extends it while it runs.
const JobLeaseSeconds = 15 * 60

// CreateStack creates the stack's resources through cfg's endpoint, each
// named for suffix as resource.Name names them for a stage.
func CreateStack(ctx context.Context, cfg aws.Config, suffix string) (*Stack, error) {
	st := &Stack{
		Config:           cfg,
		UsersTable:       resource.Name(resource.UsersTable, suffix),
		ResourcesTable:   resource.Name(resource.ResourcesTable, suffix),
		SessionBucket:    resource.Name(resource.SessionBucket, suffix),
		SimulationBucket: resource.Name(resource.SimulationBkt, suffix),
		ConnectionsTable: resource.Name(resource.ConnectionsTable, suffix),
		MonitorEndpoint:  "http://127.0.0.1:9/" + suffix, // the discard port: no Management API
	}
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, UsersTableInput(st.UsersTable)); err != nil {
		return nil, fmt.Errorf("create %s: %w", st.UsersTable, err)
	}
	if _, err := db.CreateTable(ctx, ResourcesTableInput(st.ResourcesTable)); err != nil {
		return nil, fmt.Errorf("create %s: %w", st.ResourcesTable, err)
	}
	if _, err := db.CreateTable(ctx, ConnectionsTableInput(st.ConnectionsTable)); err != nil {
		return nil, fmt.Errorf("create %s: %w", st.ConnectionsTable, err)
	}
	s3c := awsconf.NewS3(cfg)
	for _, b := range []string{st.SessionBucket, st.SimulationBucket} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	q := sqs.NewFromConfig(cfg)
	var err error
	if st.JobQueueURL, st.JobDLQURL, err = queueWithDLQ(ctx, q, suffix, resource.JobQueue, resource.JobDLQ, JobLeaseSeconds); err != nil {
		return nil, err
	}
	if st.UpdateQueueURL, st.UpdateDLQURL, err = queueWithDLQ(ctx, q, suffix, resource.UpdateQueue, resource.UpdateDLQ, resource.UpdateVisibilitySeconds); err != nil {
		return nil, err
	}
	n := sns.NewFromConfig(cfg)
	if st.JobTopicARN, err = topicToQueue(ctx, n, q, resource.Name(resource.JobTopic, suffix), st.JobQueueURL, `{"event":["job.submit"]}`); err != nil {
		return nil, err
	}
	if st.UpdateTopicARN, err = topicToQueue(ctx, n, q, resource.Name(resource.UpdateTopic, suffix), st.UpdateQueueURL, ""); err != nil {
		return nil, err
	}
	if st.Lifecycle, err = st.createLifecycle(ctx, suffix); err != nil {
		return nil, err
	}
	return st, nil
}

// queueWithDLQ declares a queue and its DLQ with the numbers the CDK app gives them.
func queueWithDLQ(ctx context.Context, q *sqs.Client, suffix, name, dlqName string, visibility int) (url, dlqURL string, err error) {
	days := func(d int) string { return strconv.Itoa(d * 24 * 3600) }
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(resource.Name(dlqName, suffix)),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(resource.DLQVisibilitySeconds),
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): days(resource.DLQRetentionDays),
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", dlqName, err)
	}
	arn, err := queueARN(ctx, q, *dlq.QueueUrl)
	if err != nil {
		return "", "", err
	}
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": arn, "maxReceiveCount": fmt.Sprint(MaxReceiveCount)})
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(resource.Name(name, suffix)),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameRedrivePolicy):          string(redrive),
			string(sqstypes.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(visibility),
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): days(resource.SourceRetentionDays),
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return *out.QueueUrl, *dlq.QueueUrl, nil
}

func queueARN(ctx context.Context, q *sqs.Client, url string) (string, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("queue arn of %s: %w", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// topicToQueue creates a topic and subscribes queueURL with raw delivery and,
// when given, a filter policy on the message attributes.
func topicToQueue(ctx context.Context, n *sns.Client, q *sqs.Client, name, queueURL, filter string) (string, error) {
	t, err := n.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create topic %s: %w", name, err)
	}
	arn, err := queueARN(ctx, q, queueURL)
	if err != nil {
		return "", err
	}
	attrs := map[string]string{"RawMessageDelivery": "true"}
	if filter != "" {
		attrs["FilterPolicy"] = filter
	}
	if _, err := n.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: t.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(arn), Attributes: attrs,
	}); err != nil {
		return "", fmt.Errorf("subscribe %s to %s: %w", queueURL, name, err)
	}
	return *t.TopicArn, nil
}

// UsersTableInput declares TurbineUsers as the CDK app does.
func UsersTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(resource.UsersKey), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(resource.UsersKey), KeyType: ddbtypes.KeyTypeHash}},
	}
}

// ConnectionsTableInput declares the monitor's connections table as the CDK app does.
func ConnectionsTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resource.ConnUserKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resource.ConnIDKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resource.ConnUserKey), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resource.ConnIDKey), KeyType: ddbtypes.KeyTypeRange},
		},
	}
}

// ResourcesTableInput declares FOQUS_Resources with its two local indexes.
func ResourcesTableInput(name string) *dynamodb.CreateTableInput {
	lsi := func(index, attr string) ddbtypes.LocalSecondaryIndex {
		return ddbtypes.LocalSecondaryIndex{
			IndexName: aws.String(index),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String(resource.PK), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String(attr), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resource.PK), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resource.SK), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resource.PendingSeq), AttributeType: ddbtypes.ScalarAttributeTypeN},
			{AttributeName: aws.String(resource.FinishedSeq), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resource.PK), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resource.SK), KeyType: ddbtypes.KeyTypeRange},
		},
		LocalSecondaryIndexes: []ddbtypes.LocalSecondaryIndex{
			lsi(resource.PendingIndex, resource.PendingSeq),
			lsi(resource.FinishedIndex, resource.FinishedSeq),
		},
	}
}
