// Package monitoring declares the stage's dashboard and the alarms that page
// through the alert topic: dead letters, API 5xx, function errors and silent
// workers.
package monitoring

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/infra/config"
	apic "github.com/foqus-cloud/stack/infra/constructs/api"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
	"github.com/foqus-cloud/stack/infra/constructs/workers"
)

// Monitoring is the dashboard and alarms of one stage.
type Monitoring struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
	Alarms    []awscloudwatch.Alarm
}

// New declares the alarms (each notifying m.AlertTopic) and the dashboard.
func New(scope constructs.Construct, id string, st config.Stage, m *messaging.Messaging, a *apic.API, fns map[string]awslambda.Function, w *workers.Workers) *Monitoring {
	c := constructs.NewConstruct(scope, jsii.String(id))
	mon := &Monitoring{Construct: c}
	notify := awscloudwatchactions.NewSnsAction(m.AlertTopic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	alarm := func(id, desc string, metric awscloudwatch.IMetric, periods float64, missing awscloudwatch.TreatMissingData) {
		al := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(fmt.Sprintf("foqus-%s-%s", st.Name, id)),
			AlarmDescription:   jsii.String(desc),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   missing,
		})
		al.AddAlarmAction(notify)
		mon.Alarms = append(mon.Alarms, al)
	}

	for _, q := range []struct {
		id  string
		dlq interface {
			MetricApproximateNumberOfMessagesVisible(*awscloudwatch.MetricOptions) awscloudwatch.Metric
		}
	}{{"job-dlq-not-empty", m.JobDLQ}, {"update-dlq-not-empty", m.UpdateDLQ}} {
		alarm(q.id, "A message was dead-lettered: its job is marked error; inspect and redrive or purge.",
			q.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}),
			1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	alarm("api-5xx", "The API answered 5xx.",
		a.RestAPI.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	for _, name := range api.Functions() {
		alarm(name+"-errors", "Function "+name+" failed (error or timeout).",
			fns[name].MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
			1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	// Workers in service but no heartbeat in the period: a hung or crashed service.
	alarm("worker-heartbeat-missing", "Workers are in service but none sent a heartbeat.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("IF(workers > 0 AND FILL(heartbeat, 0) < 1, 1, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"workers": w.InService.With(&awscloudwatch.MetricOptions{Period: five}), "heartbeat": w.Heartbeat},
			Label:        jsii.String("silent fleet"),
			Period:       five,
		}), 2, awscloudwatch.TreatMissingData_NOT_BREACHING)

	mon.Dashboard = awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String("FOQUS-" + st.Name),
	})
	var fnErrors, fnDurations []awscloudwatch.IMetric
	for _, name := range api.Functions() {
		fnErrors = append(fnErrors, fns[name].MetricErrors(&awscloudwatch.MetricOptions{Period: five, Label: jsii.String(name)}))
		fnDurations = append(fnDurations, fns[name].MetricDuration(&awscloudwatch.MetricOptions{Period: five, Label: jsii.String(name), Statistic: jsii.String("p90")}))
	}
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(12)})
	}
	mon.Dashboard.AddWidgets(
		graph("API requests and errors",
			a.RestAPI.MetricCount(&awscloudwatch.MetricOptions{Period: five}),
			a.RestAPI.MetricClientError(&awscloudwatch.MetricOptions{Period: five}),
			a.RestAPI.MetricServerError(&awscloudwatch.MetricOptions{Period: five})),
		graph("API latency p90", a.RestAPI.MetricLatency(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("p90")})),
	)
	mon.Dashboard.AddWidgets(graph("Function errors", fnErrors...), graph("Function duration p90", fnDurations...))
	mon.Dashboard.AddWidgets(
		graph("Queues (visible messages)",
			m.JobQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.UpdateQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.JobDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.UpdateDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five})),
		graph("Workers in service and heartbeats", w.InService, w.Heartbeat),
	)
	return mon
}
