package workers

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// group declares the Auto Scaling group and its termination (drain) hook.
func (w *Workers) group(st config.Stage, groupName string) {
	c := w.Construct
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

	// The hooks' timeouts are the stage's core/scaling numbers (the worker's
	// drain heartbeats derive from the same one, through its config).
	p := st.ScalingParams()
	w.Group.AddLifecycleHook(jsii.String("Drain"), &awsautoscaling.BasicLifecycleHookProps{
		LifecycleHookName:   jsii.String(resource.WorkerDrainHook),
		LifecycleTransition: awsautoscaling.LifecycleTransition_INSTANCE_TERMINATING,
		DefaultResult:       awsautoscaling.DefaultResult_CONTINUE,
		HeartbeatTimeout:    awscdk.Duration_Seconds(jsii.Number(float64(p.DrainTimeoutSeconds))),
	})
	// A new instance waits in Pending:Wait, outside the in-service count the
	// heartbeat alarm and scaling read, until its worker service runs and
	// completes this hook; one that never does is abandoned and replaced.
	w.Group.AddLifecycleHook(jsii.String("Launch"), &awsautoscaling.BasicLifecycleHookProps{
		LifecycleHookName:   jsii.String(resource.WorkerLaunchHook),
		LifecycleTransition: awsautoscaling.LifecycleTransition_INSTANCE_LAUNCHING,
		DefaultResult:       awsautoscaling.DefaultResult_ABANDON,
		HeartbeatTimeout:    awscdk.Duration_Seconds(jsii.Number(float64(p.LaunchTimeoutSecs))),
	})
}

// scaling declares the fleet's metrics and its two scaling policies.
func (w *Workers) scaling(p *Props, groupName string) {
	c := w.Construct
	period := awscdk.Duration_Minutes(jsii.Number(1))
	w.Backlog = p.JobQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")})
	w.InService = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String("GroupInServiceInstances"),
		DimensionsMap: &map[string]*string{"AutoScalingGroupName": jsii.String(groupName)},
		Period:        period, Statistic: jsii.String("Average"),
	})
	w.Heartbeat = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(resource.WorkerMetricNamespace), MetricName: jsii.String(resource.WorkerHeartbeatMetric),
		DimensionsMap: &map[string]*string{resource.WorkerStageDimension: jsii.String(p.Stage.Name)},
		Period:        awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
	})

	// Target tracking on jobs per in-service worker (metric math, which the L2
	// target-tracking API does not take). Jobs count queued (visible) and
	// running (in flight: a worker holds its message while it runs), so the
	// fleet does not shrink under running jobs just because nothing is queued.
	queueName := *p.JobQueue.QueueName()
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
}
