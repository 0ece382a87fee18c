// Package workers declares the Windows worker fleet: its VPC, launch template,
// Auto Scaling group (backlog-driven, zero when idle, capped at the Aspen
// seats), termination lifecycle hook, instance role and SSM config parameter.
package workers

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/data"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
)

// Scaling settings.
const (
	BacklogPerWorker = 1    // target jobs (queued + running) per in-service worker: one job runs per Aspen seat
	DrainHookSeconds = 7200 // termination waits up to this for the running job (the hook's maximum)
	WarmupSeconds    = 600  // a Windows worker needs minutes to boot and start the service
	RootVolumeGiB    = 100
)

// Workers is the worker fleet of one stage.
type Workers struct {
	constructs.Construct
	Vpc          awsec2.Vpc
	Security     awsec2.SecurityGroup // no inbound rules
	Role         awsiam.Role
	Group        awsautoscaling.AutoScalingGroup
	Config       awsssm.StringParameter
	LaunchTmpl   awsec2.LaunchTemplate
	InService    awscloudwatch.Metric
	Backlog      awscloudwatch.Metric
	Heartbeat    awscloudwatch.Metric
	ScaleFromNil awsautoscaling.StepScalingPolicy
}

// New declares the fleet.
func New(scope constructs.Construct, id string, st config.Stage, d *data.Data, m *messaging.Messaging) *Workers {
	c := constructs.NewConstruct(scope, jsii.String(id))
	w := &Workers{Construct: c}
	groupName := resource.Name(resource.WorkerGroup, st.Name)

	// Public subnets, no NAT gateway (a NAT costs more per month than an idle
	// fleet), and a security group without any inbound rule: workers only call
	// out (SQS, SNS, S3, DynamoDB, SSM, the Aspen licence server). Gateway
	// endpoints keep the S3/DynamoDB data traffic inside AWS at no charge.
	w.Vpc = awsec2.NewVpc(c, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name: jsii.String("workers"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
		}},
		// The default restriction is a custom resource; the default group is unused.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
	})
	flowLogs := awslogs.NewLogGroup(c, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays(st.RetentionName()),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	w.Vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
	})
	w.Security = awsec2.NewSecurityGroup(c, jsii.String("Workers"), &awsec2.SecurityGroupProps{
		Vpc:              w.Vpc,
		Description:      jsii.String("FOQUS workers: no inbound, outbound to AWS APIs and the licence server"),
		AllowAllOutbound: jsii.Bool(true),
	})

	cfg, err := json.Marshal(resource.WorkerConfig{
		Stage:            st.Name,
		Region:           *awscdk.Aws_REGION(),
		JobQueueURL:      *m.JobQueue.QueueUrl(),
		UpdateTopicARN:   *m.UpdateTopic.TopicArn(),
		ResourcesTable:   *d.ResourcesTable.TableName(),
		SessionBucket:    *d.SessionBucket.BucketName(),
		SimulationBucket: *d.SimulationBucket.BucketName(),
	})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	w.Config = awsssm.NewStringParameter(c, jsii.String("Config"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(fmt.Sprintf(resource.WorkerConfigSSM, st.Name)),
		Description:   jsii.String("FOQUS worker configuration (resource.WorkerConfig as JSON)"),
		StringValue:   jsii.String(string(cfg)),
	})

	w.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("FOQUS worker instances"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	m.JobQueue.GrantConsumeMessages(w.Role) // receive, delete, change visibility (lease extension)
	m.UpdateTopic.GrantPublish(w.Role)
	d.ResourcesTable.Grant(w.Role, *jsii.Strings("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem",
		"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")...)
	w.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SessionObjects"),
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject"),
		Resources: jsii.Strings(*d.SessionBucket.ArnForObjects(jsii.String("*"))),
	}))
	d.SimulationBucket.GrantRead(w.Role, nil)
	w.Config.GrantRead(w.Role)
	w.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DrainHook"),
		Actions:   jsii.Strings("autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), groupName)),
	}))
	// PutMetricData has no resource to scope to; the namespace condition narrows it.
	w.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("Heartbeat"),
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": resource.WorkerMetricNamespace}},
	}))

	w.LaunchTmpl = awsec2.NewLaunchTemplate(c, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		LaunchTemplateName: jsii.String(groupName),
		// The image pipeline publishes its latest AMI id to this parameter.
		MachineImage: awsec2.MachineImage_FromSsmParameter(jsii.String(fmt.Sprintf(resource.WorkerAMISSM, st.Name)), &awsec2.SsmParameterImageOptions{
			Os: awsec2.OperatingSystemType_WINDOWS,
		}),
		InstanceType:         awsec2.NewInstanceType(jsii.String(st.WorkerInstanceType)),
		Role:                 w.Role,
		SecurityGroup:        w.Security,
		RequireImdsv2:        jsii.Bool(true),
		InstanceMetadataTags: jsii.Bool(true), // the worker reads its stage tag from IMDS
		DetailedMonitoring:   jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/sda1"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(RootVolumeGiB), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})

	w.Group = awsautoscaling.NewAutoScalingGroup(c, jsii.String("Group"), &awsautoscaling.AutoScalingGroupProps{
		AutoScalingGroupName:  jsii.String(groupName),
		Vpc:                   w.Vpc,
		VpcSubnets:            &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		LaunchTemplate:        w.LaunchTmpl,
		MinCapacity:           jsii.Number(float64(st.MinWorkers)),
		MaxCapacity:           jsii.Number(float64(st.MaxWorkers)),
		DefaultInstanceWarmup: awscdk.Duration_Seconds(jsii.Number(WarmupSeconds)),
		Cooldown:              awscdk.Duration_Seconds(jsii.Number(WarmupSeconds)),
		GroupMetrics:          &[]awsautoscaling.GroupMetrics{awsautoscaling.NewGroupMetrics(awsautoscaling.GroupMetric_IN_SERVICE_INSTANCES())},
	})
	awscdk.Tags_Of(w.Group).Add(jsii.String(resource.TagStage), jsii.String(st.Name), &awscdk.TagProps{ApplyToLaunchedInstances: jsii.Bool(true)})

	w.Group.AddLifecycleHook(jsii.String("Drain"), &awsautoscaling.BasicLifecycleHookProps{
		LifecycleHookName:   jsii.String(resource.WorkerDrainHook),
		LifecycleTransition: awsautoscaling.LifecycleTransition_INSTANCE_TERMINATING,
		DefaultResult:       awsautoscaling.DefaultResult_CONTINUE,
		HeartbeatTimeout:    awscdk.Duration_Seconds(jsii.Number(DrainHookSeconds)),
	})

	period := awscdk.Duration_Minutes(jsii.Number(1))
	w.Backlog = m.JobQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")})
	w.InService = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String("GroupInServiceInstances"),
		DimensionsMap: &map[string]*string{"AutoScalingGroupName": jsii.String(groupName)},
		Period:        period, Statistic: jsii.String("Average"),
	})
	w.Heartbeat = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(resource.WorkerMetricNamespace), MetricName: jsii.String(resource.WorkerHeartbeatMetric),
		DimensionsMap: &map[string]*string{resource.WorkerStageDimension: jsii.String(st.Name)},
		Period:        awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
	})

	// Target tracking on jobs per in-service worker (metric math, which the L2
	// target-tracking API does not take). Jobs count queued (visible) and
	// running (in flight: a worker holds its message while it runs), so the
	// fleet does not shrink under running jobs just because nothing is queued.
	queueName := *m.JobQueue.QueueName()
	sqsMetric := func(id, name string) *awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty {
		return &awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{Id: jsii.String(id), ReturnData: jsii.Bool(false), MetricStat: &awsautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
			Stat: jsii.String("Sum"),
			Metric: &awsautoscaling.CfnScalingPolicy_MetricProperty{
				Namespace: jsii.String("AWS/SQS"), MetricName: jsii.String(name),
				Dimensions: &[]*awsautoscaling.CfnScalingPolicy_MetricDimensionProperty{{Name: jsii.String("QueueName"), Value: jsii.String(queueName)}},
			},
		}}
	}
	tt := awsautoscaling.NewCfnScalingPolicy(c, jsii.String("BacklogPerWorker"), &awsautoscaling.CfnScalingPolicyProps{
		AutoScalingGroupName:    w.Group.AutoScalingGroupName(),
		PolicyType:              jsii.String("TargetTrackingScaling"),
		EstimatedInstanceWarmup: jsii.Number(WarmupSeconds),
		TargetTrackingConfiguration: &awsautoscaling.CfnScalingPolicy_TargetTrackingConfigurationProperty{
			TargetValue: jsii.Number(BacklogPerWorker),
			CustomizedMetricSpecification: &awsautoscaling.CfnScalingPolicy_CustomizedMetricSpecificationProperty{
				Metrics: &[]*awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
					sqsMetric("queued", "ApproximateNumberOfMessagesVisible"),
					sqsMetric("running", "ApproximateNumberOfMessagesNotVisible"),
					{Id: jsii.String("workers"), ReturnData: jsii.Bool(false), MetricStat: &awsautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
						Stat: jsii.String("Average"),
						Metric: &awsautoscaling.CfnScalingPolicy_MetricProperty{
							Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String("GroupInServiceInstances"),
							Dimensions: &[]*awsautoscaling.CfnScalingPolicy_MetricDimensionProperty{{Name: jsii.String("AutoScalingGroupName"), Value: jsii.String(groupName)}},
						},
					}},
					{Id: jsii.String("jobsPerWorker"), Expression: jsii.String("(queued + running) / workers"), Label: jsii.String("jobs queued or running per in-service worker"), ReturnData: jsii.Bool(true)},
				},
			},
		},
	})
	tt.Node().AddDependency(w.Group)

	// Backlog per worker is undefined at zero workers, so target tracking
	// cannot start the fleet: a step policy sets one worker when jobs wait and
	// none is in service. It has no scale-in step (target tracking scales in).
	w.ScaleFromNil = w.Group.ScaleOnMetric(jsii.String("ScaleOutFromZero"), &awsautoscaling.BasicStepScalingPolicyProps{
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("IF(workers < 1, backlog, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"backlog": w.Backlog, "workers": w.InService},
			Label:        jsii.String("jobs waiting with no worker"),
			Period:       period,
		}),
		AdjustmentType: awsautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		ScalingSteps: &[]*awsautoscaling.ScalingInterval{
			{Upper: jsii.Number(0), Change: jsii.Number(0)},
			{Lower: jsii.Number(1), Change: jsii.Number(1)},
		},
		EvaluationPeriods: jsii.Number(1),
	})
	return w
}
