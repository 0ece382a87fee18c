package workers

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
)

// Construct ids of what New declares that Scale tunes or replaces.
const (
	trackingPolicyID = "BacklogPerWorker"
	oldStartID       = "ScaleOutFromZero"
)

// Scaling is the fleet's scaling as a stage's core/scaling numbers deploy it.
type Scaling struct {
	Params     scaling.Params
	Start      awsautoscaling.StepScalingAction // start from zero: exact capacity for the backlog
	StartAlarm awscloudwatch.Alarm
	WarmPool   awsautoscaling.WarmPool // nil without one
	Pending    awscloudwatch.Metric
	Desired    awscloudwatch.Metric
	Warm       awscloudwatch.Metric
	QueueWait  awscloudwatch.Metric // age of the oldest queued job
}

// groupMetrics are what the dashboard shows of the group (all 1-minute).
var groupMetrics = []string{"GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances",
	"GroupDesiredCapacity", "WarmPoolWarmedCapacity", "WarmPoolPendingCapacity"}

// Scale applies p, the numbers the simulator replays (core/scaling), to the
// fleet New declared: the group's warm-up and cooldown, the target tracking
// policy's target and warm-up (the hooks' timeouts New took from the
// stage's numbers); it replaces the +1
// start-from-zero policy by one that sets the backlog's capacity at once
// (target tracking cannot act at zero workers and would otherwise wait for
// the first worker's boot, 3 periods and a second boot), adds the launch
// lifecycle hook the worker completes when its service is up (unless the
// group has one) and, when the stage asks for it, a Stopped warm pool.
func (w *Workers) Scale(stage string, p scaling.Params, m *messaging.Messaging) *Scaling {
	s := &Scaling{Params: p}
	group := w.Group.Node().DefaultChild().(awsautoscaling.CfnAutoScalingGroup)
	group.AddPropertyOverride(jsii.String("DefaultInstanceWarmup"), p.WarmupSeconds)
	group.AddPropertyOverride(jsii.String("Cooldown"), strconv.Itoa(p.CooldownSeconds))
	group.AddPropertyOverride(jsii.String("MetricsCollection"), []map[string]any{{"Granularity": "1Minute", "Metrics": groupMetrics}})

	tt := w.Node().FindChild(jsii.String(trackingPolicyID)).(awsautoscaling.CfnScalingPolicy)
	tt.AddPropertyOverride(jsii.String("TargetTrackingConfiguration.TargetValue"), p.TargetJobsPerWorker)
	tt.AddPropertyOverride(jsii.String("EstimatedInstanceWarmup"), p.WarmupSeconds)

	w.Group.Node().TryRemoveChild(jsii.String(oldStartID))
	w.ScaleFromNil = nil
	s.Start = awsautoscaling.NewStepScalingAction(w.Group, jsii.String("StartFromZero"), &awsautoscaling.StepScalingActionProps{
		AutoScalingGroup:        w.Group,
		AdjustmentType:          awsautoscaling.AdjustmentType_EXACT_CAPACITY,
		MetricAggregationType:   awsautoscaling.MetricAggregationType_MAXIMUM,
		EstimatedInstanceWarmup: awscdk.Duration_Seconds(jsii.Number(float64(p.WarmupSeconds))),
	})
	steps := scaling.StartSteps(p)
	for i, st := range steps {
		tier := &awsautoscaling.AdjustmentTier{Adjustment: jsii.Number(float64(st.Capacity)), LowerBound: jsii.Number(st.Jobs - StartThreshold)}
		if i+1 < len(steps) {
			tier.UpperBound = jsii.Number(steps[i+1].Jobs - StartThreshold)
		}
		s.Start.AddAdjustment(tier)
	}
	period := awscdk.Duration_Seconds(jsii.Number(scaling.PeriodSeconds))
	s.StartAlarm = awscloudwatch.NewAlarm(w.Group, jsii.String("StartFromZeroAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:        jsii.String("foqus-" + stage + "-start-from-zero"),
		AlarmDescription: jsii.String("Start-from-zero scaling: jobs are queued and no worker is in service; sets the backlog's capacity."),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(StartExpression),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"backlog": w.Backlog, "workers": w.InService},
			Label:        jsii.String("jobs queued with no worker in service"),
			Period:       period,
		}),
		Threshold:          jsii.Number(StartThreshold),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(float64(p.StartPeriods)),
		DatapointsToAlarm:  jsii.Number(float64(p.StartPeriods)),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	s.StartAlarm.AddAlarmAction(awscloudwatchactions.NewAutoScalingAction(s.Start))

	if p.WarmPool.Size > 0 {
		// AWS-LIMITS.md: a warm pool takes no mixed instances policy or Spot;
		// the group launches from one launch template (tested).
		s.WarmPool = w.Group.AddWarmPool(&awsautoscaling.WarmPoolOptions{
			PoolState:                awsautoscaling.PoolState_STOPPED,
			MinSize:                  jsii.Number(0),
			MaxGroupPreparedCapacity: jsii.Number(float64(p.WarmPool.Size)),
			ReuseOnScaleIn:           jsii.Bool(p.WarmPool.ReuseOnScaleIn),
		})
	}

	groupMetric := func(name, stat string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"AutoScalingGroupName": w.Group.AutoScalingGroupName()},
			Period:        period, Statistic: jsii.String(stat),
		})
	}
	s.Pending = groupMetric("GroupPendingInstances", "Maximum")
	s.Desired = groupMetric("GroupDesiredCapacity", "Maximum")
	s.Warm = groupMetric("WarmPoolWarmedCapacity", "Maximum")
	s.QueueWait = m.JobQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")})
	return s
}

// The start-from-zero alarm: the backlog while no worker is in service.
const (
	StartExpression = "IF(FILL(workers, 0) < 1, backlog, 0)"
	StartThreshold  = 1.0
)
