// Package workers declares the Windows worker fleet: its VPC, launch template,
// Auto Scaling group (backlog-driven, zero when idle, capped at the Aspen
// seats), termination lifecycle hook, instance role and SSM config parameter.
package workers

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// Scaling settings.
const (
	BacklogPerWorker = 1   // target jobs (queued + running) per in-service worker: one job runs per Aspen seat
	WarmupSeconds    = 600 // a Windows worker needs minutes to boot and start the service
	// RootVolumeGiB is the workers' root volume and the image recipe's (the
	// stack hands it to the pipeline): a launch with a smaller volume than the
	// image's snapshot fails.
	RootVolumeGiB = 150
)

// Props are what the workers use: the job queue they consume, the topic they
// report to and the stores they read and write.
type Props struct {
	Stage            config.Stage
	JobQueue         awssqs.IQueue
	UpdateTopic      awssns.ITopic
	ResourcesTable   awsdynamodb.ITable
	SessionBucket    awss3.IBucket
	SimulationBucket awss3.IBucket
}

// Workers is the worker fleet of one stage.
type Workers struct {
	constructs.Construct
	Vpc          awsec2.IVpc
	Security     awsec2.ISecurityGroup // no inbound rules
	Role         awsiam.IRole
	Group        awsautoscaling.AutoScalingGroup
	Config       awsssm.IStringParameter
	LaunchTmpl   awsec2.ILaunchTemplate
	InService    awscloudwatch.Metric
	Backlog      awscloudwatch.Metric
	Heartbeat    awscloudwatch.Metric
	ScaleFromNil awsautoscaling.StepScalingPolicy
}

// New declares the fleet: network, instance role, launch template, group and
// its scaling (one file each).
func New(scope constructs.Construct, id string, props *Props) *Workers {
	c := constructs.NewConstruct(scope, jsii.String(id))
	w := &Workers{Construct: c}
	st := props.Stage
	groupName := resource.Name(resource.WorkerGroup, st.Name)
	w.network(st)
	w.configParameter(props)
	w.role(props, groupName)
	w.launchTemplate(st, groupName)
	w.group(st, groupName)
	w.scaling(props, groupName)
	return w
}
