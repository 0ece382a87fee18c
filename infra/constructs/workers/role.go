package workers

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
)

// configParameter declares the SSM parameter the worker reads its settings from.
func (w *Workers) configParameter(p *Props) {
	cfg, err := json.Marshal(resource.WorkerConfig{
		Stage:            p.Stage.Name,
		Region:           *awscdk.Aws_REGION(),
		JobQueueURL:      *p.JobQueue.QueueUrl(),
		UpdateTopicARN:   *p.UpdateTopic.TopicArn(),
		ResourcesTable:   *p.ResourcesTable.TableName(),
		SessionBucket:    *p.SessionBucket.BucketName(),
		SimulationBucket: *p.SimulationBucket.BucketName(),
		RetentionDays:    p.Stage.DataExpirationDays,
		DrainHookSeconds: p.Stage.ScalingParams().DrainTimeoutSeconds,
	})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	w.Config = awsssm.NewStringParameter(w.Construct, jsii.String("Config"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(fmt.Sprintf(resource.WorkerConfigSSM, p.Stage.Name)),
		Description:   jsii.String("FOQUS worker configuration (resource.WorkerConfig as JSON)"),
		StringValue:   jsii.String(string(cfg)),
	})
}

// role declares the instance role with what the worker service calls.
func (w *Workers) role(p *Props, groupName string) {
	role := awsiam.NewRole(w.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("FOQUS worker instances"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	// Exactly what the worker calls (worker/consumer.IAMActions): CDK's
	// GrantConsumeMessages would add GetQueueUrl/GetQueueAttributes, GrantRead
	// List*/GetBucket*/GetObject* and SSM parameter history.
	p.JobQueue.Grant(role, jsii.String("sqs:ReceiveMessage"), jsii.String("sqs:ChangeMessageVisibility"), jsii.String("sqs:DeleteMessage"))
	p.UpdateTopic.GrantPublish(role)
	p.ResourcesTable.Grant(role, jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:UpdateItem"))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SessionObjects"),
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject"),
		Resources: jsii.Strings(*p.SessionBucket.ArnForObjects(jsii.String("*"))),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SimulationFiles"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(*p.SimulationBucket.ArnForObjects(jsii.String("*"))),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Config"),
		Actions:   jsii.Strings("ssm:GetParameter"),
		Resources: jsii.Strings(*w.Config.ParameterArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("OwnInstance"),
		// worker/consumer/lifecycle.go: scale-in protection while a job
		// runs, the launch and drain hooks.
		Actions:   jsii.Strings("autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:SetInstanceProtection"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), groupName)),
	}))
	// PutMetricData has no resource to scope to; the namespace condition narrows it.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("Heartbeat"),
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": resource.WorkerMetricNamespace}},
	}))
	w.Role = role
}
