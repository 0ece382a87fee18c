// Package stacks wires the constructs of one stage into its two stacks: the
// stateful data stack (tables, buckets) and the service stack (messaging,
// functions, API, workers, monitoring), and applies tags and cdk-nag.
package stacks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/foqus-cloud/stack/ami"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/api"
	"github.com/foqus-cloud/stack/infra/constructs/data"
	"github.com/foqus-cloud/stack/infra/constructs/functions"
	"github.com/foqus-cloud/stack/infra/constructs/imagepipeline"
	"github.com/foqus-cloud/stack/infra/constructs/lifecycle"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
	"github.com/foqus-cloud/stack/infra/constructs/monitorapi"
	"github.com/foqus-cloud/stack/infra/constructs/monitoring"
	"github.com/foqus-cloud/stack/infra/constructs/workers"
)

// EnvBuildDir overrides where the function bootstraps are read from.
const EnvBuildDir = "FOQUS_BUILD_DIR"

// Tags on every resource, for cost allocation.
const (
	TagProject   = "Project"
	ProjectName  = "foqus-cloud"
	TagStage     = "Stage"
	TagComponent = "Component"
)

// FeatureFlags are CDK feature flags the stacks depend on; Build sets them on
// the app (they are in cdk.json too).
var FeatureFlags = map[string]any{
	// Server access logs delivered through a bucket policy, not an ACL, so the
	// buckets can enforce object ownership.
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
	// The service stack imports the data stack's names and ARNs: keep the
	// exports protected while they are imported (CDK's current default, pinned).
	"@aws-cdk/core:defaultCrossStackReferences": "strong",
}

// Stage is the stacks and constructs of one deployed stage.
type Stage struct {
	Config     config.Stage
	Data       awscdk.Stack
	Service    awscdk.Stack
	Tables     *data.Data
	Messaging  *messaging.Messaging
	Functions  *functions.Functions
	API        *api.API
	Workers    *workers.Workers
	Scaling    *workers.Scaling        // the stage's core/scaling numbers, deployed
	Image      *imagepipeline.Pipeline // the worker image pipeline (every stage)
	Monitoring *monitoring.Monitoring
	Lifecycle  *lifecycle.Lifecycle
	Monitor    *monitorapi.MonitorAPI // the Cloud monitor's WebSocket API
}

// StackNames of a stage, in deploy order.
func StackNames(stage string) []string {
	return []string{"foqus-data-" + stage, "foqus-service-" + stage}
}

// BuildDir is $FOQUS_BUILD_DIR, else build/ at the repository root (the
// directory holding cdk.json above the working directory).
func BuildDir() (string, error) {
	if d := os.Getenv(EnvBuildDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	cdkJSON, err := config.FindCDKJSON(wd)
	if err != nil {
		return "", fmt.Errorf("set %s or run from the repository: %w", EnvBuildDir, err)
	}
	return filepath.Join(filepath.Dir(cdkJSON), "build"), nil
}

// Build declares the stage's stacks in app, which must still be empty.
func Build(app awscdk.App, st config.Stage, buildDir string) (*Stage, error) {
	for k, v := range FeatureFlags {
		app.Node().SetContext(jsii.String(k), v)
	}
	var env *awscdk.Environment
	if st.Account != "" || st.Region != "" {
		env = &awscdk.Environment{}
		if st.Account != "" {
			env.Account = jsii.String(st.Account)
		}
		if st.Region != "" {
			env.Region = jsii.String(st.Region)
		}
	}
	names := StackNames(st.Name)
	s := &Stage{Config: st}
	s.Data = awscdk.NewStack(app, jsii.String(names[0]), &awscdk.StackProps{
		Env:                   env,
		Description:           jsii.String(fmt.Sprintf("FOQUS cloud %s: tables and buckets (stateful)", st.Name)),
		TerminationProtection: jsii.Bool(st.Retain()),
	})
	s.Service = awscdk.NewStack(app, jsii.String(names[1]), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String(fmt.Sprintf("FOQUS cloud %s: API, functions, messaging, workers, monitoring", st.Name)),
	})
	s.Service.AddStackDependency(s.Data, jsii.String("uses the tables and buckets"))

	if err := s.wire(st, buildDir); err != nil {
		return nil, err
	}

	// CloudFormation's dashboard resource takes no tags (cfn-lint E3002).
	// moto 5.2.1 fails on Tags of a KMS key (KeyError 'TagKey') and of an SSM
	// parameter (expects a list), and the local stack deploys this template
	// into moto: those two get the same tags from the stack-level tags that
	// CloudFormation propagates on a real deploy.
	tagProps := &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard", "AWS::KMS::Key", "AWS::SSM::Parameter")}
	awscdk.Tags_Of(app).Add(jsii.String(TagProject), jsii.String(ProjectName), tagProps)
	awscdk.Tags_Of(app).Add(jsii.String(TagStage), jsii.String(st.Name), tagProps)
	awscdk.Tags_Of(s.Data).Add(jsii.String(TagComponent), jsii.String("data"), tagProps)
	awscdk.Tags_Of(s.Service).Add(jsii.String(TagComponent), jsii.String("service"), tagProps)

	suppress(s)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return s, nil
}

// wire declares the constructs, each given what it uses through its Props.
func (s *Stage) wire(st config.Stage, buildDir string) error {
	d := data.New(s.Data, "Data", &data.Props{Stage: st})
	m := messaging.New(s.Service, "Messaging", &messaging.Props{Stage: st})
	lc, err := lifecycle.New(s.Service, "Lifecycle", &lifecycle.Props{Stage: st, SessionBucket: d.SessionBucket})
	if err != nil {
		return err
	}
	fns, err := functions.New(s.Service, "Functions", &functions.Props{
		Stage: st, BuildDir: buildDir,
		UsersTable: d.UsersTable, ResourcesTable: d.ResourcesTable,
		SessionBucket: d.SessionBucket, SimulationBucket: d.SimulationBucket,
		JobTopic: m.JobTopic, UpdateTopic: m.UpdateTopic, UpdateQueue: m.UpdateQueue,
		Lifecycle: functions.Lifecycle{ArchiveQueue: lc.ArchiveQueue, Settings: lc.Env(), SenderARN: lc.SenderARN},
		Deferred:  monitorapi.Env,
	})
	if err != nil {
		return err
	}
	lc.Attach(fns.ByName, m.AlertTopic, st.Name)
	s.Lifecycle = lc
	if s.Monitor, err = monitorapi.New(s.Service, "Monitor", &monitorapi.Props{Stage: st, Functions: fns.ByName, JobQueue: m.JobQueue}); err != nil {
		return err
	}
	a := api.New(s.Service, "Api", &api.Props{Stage: st, Functions: fns.ByName})
	w := workers.New(s.Service, "Workers", &workers.Props{
		Stage: st, JobQueue: m.JobQueue, UpdateTopic: m.UpdateTopic,
		ResourcesTable: d.ResourcesTable, SessionBucket: d.SessionBucket, SimulationBucket: d.SimulationBucket,
	})
	s.Tables, s.Messaging, s.Functions, s.API, s.Workers = d, m, fns, a, w
	s.Scaling = w.Scale(st.Name, st.ScalingParams(), m)
	if err := s.imagePipeline(st); err != nil {
		return err
	}
	s.Image.EnableFastLaunch(s.Scaling.Params, w.Vpc, w.Security, st.WorkerInstanceType)
	s.Monitoring = monitoring.New(s.Service, "Monitoring", &monitoring.Props{
		Stage: st, AlertTopic: m.AlertTopic,
		JobQueue: m.JobQueue, UpdateQueue: m.UpdateQueue, JobDLQ: m.JobDLQ, UpdateDLQ: m.UpdateDLQ,
		RestAPI: a.RestAPI, Functions: fns.ByName, InService: w.InService, Heartbeat: w.Heartbeat,
	})
	s.Monitoring.AddScaling(m, w, s.Scaling)
	return nil
}

// imagePipeline declares the worker image pipeline, in every stage: its
// checksums and site settings come from the manifest make image uploads
// (ami.ManifestKey), a stage's image.parameters only override them. The
// service stack's outputs name the bucket and pipeline for make image.
func (s *Stage) imagePipeline(st config.Stage) error {
	var err error
	s.Image, err = imagepipeline.New(s.Service, "ImagePipeline", &imagepipeline.Props{
		Stage: st, Artifacts: s.Tables.Artifacts,
		Subnet: (*s.Workers.Vpc.PublicSubnets())[0], Security: s.Workers.Security,
		RootVolumeGiB: workers.RootVolumeGiB,
	})
	if err != nil {
		return err
	}
	awscdk.NewCfnOutput(s.Service, jsii.String(ami.OutputArtifactsBucket), &awscdk.CfnOutputProps{
		Description: jsii.String("Bucket make image uploads the installers and their manifest to"),
		Value:       s.Tables.Artifacts.BucketName(),
	})
	awscdk.NewCfnOutput(s.Service, jsii.String(ami.OutputPipelineARN), &awscdk.CfnOutputProps{
		Description: jsii.String("Image Builder pipeline that bakes the worker AMI (make image starts it)"),
		Value:       s.Image.Pipeline.Ref(), // its ARN (Ref of an Image Builder resource)
	})
	return nil
}
