// Package monitoring declares the stage's dashboard and the alarms that page
// through the alert topic: dead letters, API 5xx, function errors and silent
// workers.
package monitoring

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/functions"
)

// Monitoring is the dashboard and alarms of one stage.
type Monitoring struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
	Alarms    []awscloudwatch.Alarm
}

// Props are what the alarms and the dashboard watch.
type Props struct {
	Stage       config.Stage
	AlertTopic  awssns.ITopic
	JobQueue    awssqs.IQueue
	UpdateQueue awssqs.IQueue
	JobDLQ      awssqs.IQueue
	UpdateDLQ   awssqs.IQueue
	RestAPI     awsapigateway.RestApi // its metric helpers are not on IRestApi
	Functions   map[string]awslambda.IFunction
	InService   awscloudwatch.Metric // workers in service
	Heartbeat   awscloudwatch.Metric // worker heartbeats
}

// New declares the alarms (each notifying the alert topic) and the dashboard.
func New(scope constructs.Construct, id string, props *Props) *Monitoring {
	c := constructs.NewConstruct(scope, jsii.String(id))
	mon := &Monitoring{Construct: c}
	mon.alarms(props)
	mon.dashboard(props)
	return mon
}

// alarms declares the alarms: dead letters, API 5xx, function errors, a
// silent fleet.
func (mon *Monitoring) alarms(p *Props) {
	c, st, fns := mon.Construct, p.Stage, p.Functions
	notify := awscloudwatchactions.NewSnsAction(p.AlertTopic)
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
	}{{"job-dlq-not-empty", p.JobDLQ}, {"update-dlq-not-empty", p.UpdateDLQ}} {
		alarm(q.id, "A message was dead-lettered: its job is marked error; inspect and redrive or purge.",
			q.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}),
			1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	alarm("api-5xx", "The API answered 5xx.",
		p.RestAPI.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	for _, name := range api.Functions() {
		var metric awscloudwatch.IMetric = fns[name].MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
		if authorizers[name] {
			metric = authorizerFailures(c, resource.Name(name, st.Name), fns[name], five)
		}
		alarm(name+"-errors", "Function "+name+" failed (error or timeout).", metric, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	// Workers in service but no heartbeat in the period: a hung or crashed service.
	alarm("worker-heartbeat-missing", "Workers are in service but none sent a heartbeat.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("IF(workers > 0 AND FILL(heartbeat, 0) < 1, 1, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"workers": p.InService.With(&awscloudwatch.MetricOptions{Period: five}), "heartbeat": p.Heartbeat},
			Label:        jsii.String("silent fleet"),
			Period:       five,
		}), 2, awscloudwatch.TreatMissingData_NOT_BREACHING)
}

// authorizers answer a client without valid credentials with the error
// "Unauthorized" (API Gateway's 401): Lambda counts it in Errors like a
// failure, so their alarms count only what they log as an error instead.
var authorizers = map[string]bool{api.FnAuthorizer: true, api.FnMonitorAuthorizer: true}

// FailureNamespace holds the authorizers' failure counts (log metric filters).
const FailureNamespace = "FOQUS/Functions"

// authorizerFailures counts the ERROR lines of fn's JSON log (slog's level
// field): the users table failing, never a client's bad credentials. The
// metric is named for the function (resource.Name).
func authorizerFailures(c constructs.Construct, fnName string, fn awslambda.IFunction, period awscdk.Duration) awscloudwatch.IMetric {
	// The group functions.New declares for fn; the filter follows fn, and so the group.
	logs := awslogs.LogGroup_FromLogGroupName(c, jsii.String(fnName+"-logs"), jsii.String(functions.LogGroupName(fnName)))
	mf := awslogs.NewMetricFilter(c, jsii.String(fnName+"-failures"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.level"), jsii.String("="), jsii.String("ERROR")),
		MetricNamespace: jsii.String(FailureNamespace),
		MetricName:      jsii.String(fnName + "-failures"),
		MetricValue:     jsii.String("1"),
	})
	mf.Node().AddDependency(fn)
	return mf.Metric(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")})
}

// dashboard declares the stage's dashboard.
func (mon *Monitoring) dashboard(p *Props) {
	c, st, fns, a, m := mon.Construct, p.Stage, p.Functions, p.RestAPI, p
	five := awscdk.Duration_Minutes(jsii.Number(5))
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
			a.MetricCount(&awscloudwatch.MetricOptions{Period: five}),
			a.MetricClientError(&awscloudwatch.MetricOptions{Period: five}),
			a.MetricServerError(&awscloudwatch.MetricOptions{Period: five})),
		graph("API latency p90", a.MetricLatency(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("p90")})),
	)
	mon.Dashboard.AddWidgets(graph("Function errors", fnErrors...), graph("Function duration p90", fnDurations...))
	mon.Dashboard.AddWidgets(
		graph("Queues (visible messages)",
			m.JobQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.UpdateQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.JobDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five}),
			m.UpdateDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five})),
		graph("Workers in service and heartbeats", p.InService, p.Heartbeat),
	)
}
