// Package messaging declares the job and update topics, the queues they feed
// (with their dead-letter queues) and the KMS key the topics are encrypted with.
package messaging

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// MaxReceiveCount is how often a message is delivered before it goes to its DLQ.
const MaxReceiveCount = 5

// UpdateVisibility is the update queue's visibility timeout: six times the
// update processor's timeout, as AWS advises for SQS event sources.
const UpdateVisibility = 6 * 60 // seconds

// Props configure the messaging construct.
type Props struct {
	Stage config.Stage
}

// Messaging holds the topics and queues of one stage.
type Messaging struct {
	constructs.Construct
	Key         awskms.IKey // encrypts the topics (SNS needs a KMS key; queues use SSE-SQS)
	JobTopic    awssns.ITopic
	UpdateTopic awssns.ITopic
	AlertTopic  awssns.ITopic
	JobQueue    awssqs.IQueue
	UpdateQueue awssqs.IQueue
	JobDLQ      awssqs.IQueue
	UpdateDLQ   awssqs.IQueue
}

// New declares SNS job topic -> job queue (only job.submit events) and SNS
// update topic -> update queue, both with raw delivery, and the alert topic.
func New(scope constructs.Construct, id string, props *Props) *Messaging {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := &Messaging{Construct: c}
	m.topics(props.Stage)
	m.queues(props.Stage)
	m.subscriptions()
	return m
}

// topics declares the topic key and the job, update and alert topics.
func (m *Messaging) topics(st config.Stage) {
	c := m.Construct
	key := awskms.NewKey(c, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String(fmt.Sprintf("FOQUS %s: encrypts the SNS topics", st.Name)),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY, // protects only messages in flight
	})
	// CloudWatch alarms publish to the encrypted alert topic; the key must let them.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy "*" means this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), jsii.Bool(false))

	topic := func(id, base string) awssns.Topic {
		return awssns.NewTopic(c, jsii.String(id), &awssns.TopicProps{
			TopicName:  jsii.String(resource.Name(base, st.Name)),
			MasterKey:  key,
			EnforceSSL: jsii.Bool(true),
		})
	}
	m.JobTopic = topic("JobTopic", resource.JobTopic)
	m.UpdateTopic = topic("UpdateTopic", resource.UpdateTopic)
	m.AlertTopic = topic("AlertTopic", resource.AlertTopic)
	m.Key = key
}

// queues declares the job and update queues and their dead-letter queues.
func (m *Messaging) queues(st config.Stage) {
	c := m.Construct
	queue := func(id, base string, visibility float64, dlq awssqs.IQueue) awssqs.IQueue {
		props := &awssqs.QueueProps{
			QueueName:         jsii.String(resource.Name(base, st.Name)),
			Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			RetentionPeriod:   awscdk.Duration_Days(jsii.Number(14)),
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibility)),
		}
		if dlq != nil {
			props.DeadLetterQueue = &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(MaxReceiveCount)}
			props.RetentionPeriod = awscdk.Duration_Days(jsii.Number(4))
		}
		return awssqs.NewQueue(c, jsii.String(id), props)
	}
	m.JobDLQ = queue("JobDLQ", resource.JobDLQ, 30, nil)
	m.UpdateDLQ = queue("UpdateDLQ", resource.UpdateDLQ, 30, nil)
	// The worker holds a job for as long as it runs and extends the visibility
	// while it does; the initial lease covers staging and the first extension.
	m.JobQueue = queue("JobQueue", resource.JobQueue, float64(st.JobLeaseMinutes*60), m.JobDLQ)
	m.UpdateQueue = queue("UpdateQueue", resource.UpdateQueue, UpdateVisibility, m.UpdateDLQ)
}

// subscriptions feed the queues from their topics with raw delivery; the job
// queue takes only job.submit events.
func (m *Messaging) subscriptions() {

	m.JobTopic.AddSubscription(awssnssubscriptions.NewSqsSubscription(m.JobQueue, &awssnssubscriptions.SqsSubscriptionProps{
		RawMessageDelivery: jsii.Bool(true),
		FilterPolicy: &map[string]awssns.SubscriptionFilter{
			resource.AttrEvent: awssns.SubscriptionFilter_StringFilter(&awssns.StringConditions{
				Allowlist: jsii.Strings(resource.EventJobSubmit),
			}),
		},
	}))
	m.UpdateTopic.AddSubscription(awssnssubscriptions.NewSqsSubscription(m.UpdateQueue, &awssnssubscriptions.SqsSubscriptionProps{
		RawMessageDelivery: jsii.Bool(true),
	}))
}
