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

	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/api"
	"github.com/foqus-cloud/stack/infra/constructs/data"
	"github.com/foqus-cloud/stack/infra/constructs/functions"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
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
	Monitoring *monitoring.Monitoring
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

	s.Tables = data.New(s.Data, "Data", st)
	s.Messaging = messaging.New(s.Service, "Messaging", st)
	fns, err := functions.New(s.Service, "Functions", st, buildDir, s.Tables, s.Messaging)
	if err != nil {
		return nil, err
	}
	s.Functions = fns
	s.API = api.New(s.Service, "Api", st, fns.ByName)
	s.Workers = workers.New(s.Service, "Workers", st, s.Tables, s.Messaging)
	// Image pipeline: the Image Builder components live in ami/ (another
	// issue); when they exist, a constructs/imagepipeline construct builds the
	// AMI and writes its id to resource.WorkerAMISSM, which the launch template
	// already reads. Until then that parameter must be set by hand.
	s.Monitoring = monitoring.New(s.Service, "Monitoring", st, s.Messaging, s.API, fns.ByName, s.Workers)

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
