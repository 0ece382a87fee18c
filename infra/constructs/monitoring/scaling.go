package monitoring

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
	"github.com/foqus-cloud/stack/infra/constructs/workers"
)

// AddScaling adds the fleet's scaling row to the dashboard, on the 1-minute
// periods the policies evaluate: backlog, jobs per worker against the target,
// in-service / pending / warm instances, desired capacity (its steps are the
// scale events), queue wait, and the alarms that drive and guard them.
func (mon *Monitoring) AddScaling(m *messaging.Messaging, w *workers.Workers, s *workers.Scaling) {
	period := awscdk.Duration_Seconds(jsii.Number(scaling.PeriodSeconds))
	opt := func(label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum"), Label: jsii.String(label)}
	}
	queued := m.JobQueue.MetricApproximateNumberOfMessagesVisible(opt("queued"))
	running := m.JobQueue.MetricApproximateNumberOfMessagesNotVisible(opt("running"))
	perWorker := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("(queued + running) / workers"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"queued": queued, "running": running, "workers": w.InService},
		Label:        jsii.String("jobs per in-service worker"),
		Period:       period,
	})
	graph := func(title string, width float64, left []awscloudwatch.IMetric, ann *[]*awscloudwatch.HorizontalAnnotation) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(width), LeftAnnotations: ann})
	}
	mon.Dashboard.AddWidgets(
		graph("Job backlog (queued, running)", 8, []awscloudwatch.IMetric{queued, running}, nil),
		graph("Jobs per in-service worker", 8, []awscloudwatch.IMetric{perWorker}, &[]*awscloudwatch.HorizontalAnnotation{
			{Value: jsii.Number(s.Params.TargetJobsPerWorker), Label: jsii.String("target")},
		}),
		graph("Queue wait (oldest job, s)", 8, []awscloudwatch.IMetric{s.QueueWait}, nil),
	)
	mon.Dashboard.AddWidgets(
		graph("Workers: desired (scale events), in service, pending, warm", 12, []awscloudwatch.IMetric{
			s.Desired.With(&awscloudwatch.MetricOptions{Label: jsii.String("desired")}),
			w.InService.With(&awscloudwatch.MetricOptions{Label: jsii.String("in service")}),
			s.Pending.With(&awscloudwatch.MetricOptions{Label: jsii.String("pending")}),
			s.Warm.With(&awscloudwatch.MetricOptions{Label: jsii.String("warm pool")}),
		}, &[]*awscloudwatch.HorizontalAnnotation{{Value: jsii.Number(float64(s.Params.MaxWorkers)), Label: jsii.String("max (Aspen seats)")}}),
		awscloudwatch.NewAlarmWidget(&awscloudwatch.AlarmWidgetProps{Title: jsii.String("Start from zero"), Alarm: mon.byName("StartAlarm", s.StartAlarm), Width: jsii.Number(6)}),
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{Title: jsii.String("Alarms"), Alarms: mon.alarmRefs(append(mon.Alarms, s.StartAlarm)), Width: jsii.Number(6)}),
	)
}

// byName refers to an alarm by its ARN built from its name, not Fn::GetAtt
// (which the local stack's CloudFormation, moto, cannot resolve for alarms).
func (mon *Monitoring) byName(id string, a awscloudwatch.Alarm) awscloudwatch.IAlarm {
	return awscloudwatch.Alarm_FromAlarmName(mon.Construct, jsii.String("Ref"+id), a.Node().DefaultChild().(awscloudwatch.CfnAlarm).AlarmName())
}

func (mon *Monitoring) alarmRefs(as []awscloudwatch.Alarm) *[]interfacesawscloudwatch.IAlarmRef {
	out := make([]interfacesawscloudwatch.IAlarmRef, len(as))
	for i, a := range as {
		out[i] = mon.byName(fmt.Sprint(i), a)
	}
	return &out
}
