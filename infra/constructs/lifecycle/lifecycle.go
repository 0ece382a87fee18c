// Package lifecycle declares the result lifecycle of free users: the archive
// queue (session-finished notices, re-enqueued with delays until due) and the
// thaw queue (the session bucket's "Object Restore Completed" events through
// EventBridge), each with its DLQ, the archiver's and thaw's event sources,
// the SES sender identity, and alarms (a DLQ not empty, a restore stuck past
// its tier's SLA). Everything is declared with native CloudFormation
// properties: no custom resource (a moto deploy cannot run one).
package lifecycle

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/functions"
)

// Limits of the lifecycle functions and their queues.
const (
	Visibility      = 6 * functions.LifecycleTimeout // AWS advises six times the function's timeout
	MaxReceiveCount = 5
	DLQRetention    = 14 // days
)

// Props are what the lifecycle uses.
type Props struct {
	Stage         config.Stage
	SessionBucket awss3.IBucket // archives live there; its restore events drive thaw
}

// Lifecycle holds the lifecycle's queues and settings.
type Lifecycle struct {
	constructs.Construct
	Settings     archive.Settings
	ArchiveQueue awssqs.IQueue
	ArchiveDLQ   awssqs.IQueue
	ThawQueue    awssqs.IQueue
	ThawDLQ      awssqs.IQueue
	RestoreRule  awsevents.Rule
	SenderARN    string // the SES identity's ARN; "" without a sender
	Alarms       []awscloudwatch.Alarm
}

// New declares the queues, the restore rule and the sender identity; Attach
// then connects the functions and alarms (the functions need the queues first).
func New(scope constructs.Construct, id string, props *Props) (*Lifecycle, error) {
	set, err := props.Stage.Settings()
	if err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	l := &Lifecycle{Construct: c, Settings: set}
	st := props.Stage.Name
	l.ArchiveQueue, l.ArchiveDLQ = queue(c, "Archive", resource.Name(resource.ArchiveQueue, st), resource.Name(resource.ArchiveDLQ, st))
	l.ThawQueue, l.ThawDLQ = queue(c, "Thaw", resource.Name(resource.ThawQueue, st), resource.Name(resource.ThawDLQ, st))

	// S3 sends its events to EventBridge (a native bucket property), a rule
	// picks the archives' restore completions. S3 -> SQS directly would make
	// the data stack's bucket name the service stack's queue: a cycle.
	bucket, ok := props.SessionBucket.Node().DefaultChild().(awss3.CfnBucket)
	if !ok {
		return nil, fmt.Errorf("lifecycle: the session bucket is not a bucket of this app")
	}
	bucket.AddPropertyOverride(jsii.String("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"), jsii.Bool(true))
	l.RestoreRule = awsevents.NewRule(c, jsii.String("RestoreCompleted"), &awsevents.RuleProps{
		RuleName:    jsii.String(fmt.Sprintf("foqus-%s-restore-completed", st)),
		Description: jsii.String("S3 Object Restore Completed of session archives -> thaw queue"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings(DetailRestoreCompleted),
			Detail: &map[string]any{
				"bucket": map[string]any{"name": []any{*props.SessionBucket.BucketName()}},
				"object": map[string]any{"key": []any{map[string]any{"suffix": ArchiveSuffix}}},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(l.ThawQueue, nil)},
	})
	if set.Sender != "" {
		awsses.NewCfnEmailIdentity(c, jsii.String("Sender"), &awsses.CfnEmailIdentityProps{EmailIdentity: jsii.String(set.Sender)})
		l.SenderARN = *awscdk.Stack_Of(c).FormatArn(&awscdk.ArnComponents{Service: jsii.String("ses"), Resource: jsii.String("identity"), ResourceName: jsii.String(set.Sender)})
	}
	return l, nil
}

// DetailRestoreCompleted and ArchiveSuffix select the events thaw gets.
const (
	DetailRestoreCompleted = archive.DetailRestoreCompleted
	ArchiveSuffix          = archive.Suffix
)

func queue(c constructs.Construct, id, name, dlqName string) (awssqs.IQueue, awssqs.IQueue) {
	dlq := awssqs.NewQueue(c, jsii.String(id+"DLQ"), &awssqs.QueueProps{
		QueueName:       jsii.String(dlqName),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(DLQRetention)),
	})
	q := awssqs.NewQueue(c, jsii.String(id+"Queue"), &awssqs.QueueProps{
		QueueName:         jsii.String(name),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(Visibility)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(MaxReceiveCount)},
	})
	return q, dlq
}

// Attach gives the archiver and thaw their queues as event sources and
// declares the alarms, which notify alert.
func (l *Lifecycle) Attach(fns map[string]awslambda.IFunction, alert awssns.ITopic, stage string) {
	for fn, q := range map[string]awssqs.IQueue{api.FnArchiver: l.ArchiveQueue, api.FnThaw: l.ThawQueue} {
		fns[fn].AddEventSource(awslambdaeventsources.NewSqsEventSource(q, &awslambdaeventsources.SqsEventSourceProps{
			BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true),
		}))
	}
	notify := awscloudwatchactions.NewSnsAction(alert)
	alarm := func(id, desc string, m awscloudwatch.Metric, threshold float64) {
		a := awscloudwatch.NewAlarm(l.Construct, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName: jsii.String(fmt.Sprintf("foqus-%s-%s", stage, id)), AlarmDescription: jsii.String(desc),
			Metric: m, Threshold: jsii.Number(threshold), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		l.Alarms = append(l.Alarms, a)
	}
	period := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}
	alarm("archive-dlq-not-empty", "an archive notice failed five times: a session's results may stay live past the free window",
		l.ArchiveDLQ.MetricApproximateNumberOfMessagesVisible(period), 0)
	alarm("thaw-dlq-not-empty", "a restore event failed five times: an upgraded user's results are not back",
		l.ThawDLQ.MetricApproximateNumberOfMessagesVisible(period), 0)
	// A restore past its tier's SLA: the archiver's restore watch looks at
	// every restore requested when its SLA is due and logs the overdue ones.
	sla := archive.RestoreSLA(l.Settings.StorageClass, l.Settings.RestoreTier)
	alarm("restore-stuck", fmt.Sprintf("a restore runs past its tier's SLA (%s for %s restores from %s): an upgraded user's results are not back", sla, l.Settings.RestoreTier, l.Settings.StorageClass),
		l.overdueRestores(fns[api.FnArchiver], stage), 0)
}

// OverdueNamespace holds the count of restores past their SLA.
const OverdueNamespace = "FOQUS/Lifecycle"

// overdueRestores counts the archiver's archive.LogRestoreOverdue lines
// (slog's JSON msg field), a metric named for the stage.
func (l *Lifecycle) overdueRestores(archiver awslambda.IFunction, stage string) awscloudwatch.Metric {
	name := resource.Name(api.FnArchiver, stage)
	// The group functions.New declares for the archiver; the filter follows the function, and so the group.
	logs := awslogs.LogGroup_FromLogGroupName(l.Construct, jsii.String("ArchiverLogs"), jsii.String(functions.LogGroupName(name)))
	mf := awslogs.NewMetricFilter(l.Construct, jsii.String("RestoreOverdue"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(archive.LogRestoreOverdue)),
		MetricNamespace: jsii.String(OverdueNamespace),
		MetricName:      jsii.String("restore-overdue-" + stage),
		MetricValue:     jsii.String("1"),
	})
	mf.Node().AddDependency(archiver)
	return mf.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(30)), Statistic: jsii.String("Sum")}) // two looks of a watch (MaxDelay apart): no gap between periods
}

// Env is the tier settings as the functions' environment (resource.Env*).
func (l *Lifecycle) Env() map[string]string { return l.Settings.Env() }
