// Package functions declares every Lambda function of the API and the update
// processor from prebuilt bootstrap binaries (make build), with the environment
// naming what each uses and only the grants it needs.
package functions

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// Defaults for a function serving the API (API Gateway gives up after 29 s).
const (
	APIMemoryMB       = 256
	APITimeoutSeconds = 20
	ProcessorTimeout  = 60 // seconds; the update queue's visibility is six times this
)

// Bootstrap is where make build puts a function's binary under the build dir.
func Bootstrap(buildDir, name string) string {
	return filepath.Join(buildDir, "functions", name, "bootstrap")
}

// Props are what the functions use: their bootstraps and the stores and
// messaging their environment names.
type Props struct {
	Stage            config.Stage
	BuildDir         string // holds functions/<name>/bootstrap
	UsersTable       awsdynamodb.ITable
	ResourcesTable   awsdynamodb.ITable
	SessionBucket    awss3.IBucket
	SimulationBucket awss3.IBucket
	JobTopic         awssns.ITopic
	UpdateTopic      awssns.ITopic
	UpdateQueue      awssqs.IQueue // feeds the update processor
	// Deferred variables are set, with their grants, by the construct that
	// declares what they name after the functions (monitorapi.Env).
	Deferred map[string]bool
}

// Functions holds every Lambda function by its base name (api.Fn*).
type Functions struct {
	constructs.Construct
	ByName map[string]awslambda.IFunction
}

// New declares every function of api.Functions(). It fails, naming them, when
// bootstraps are missing from BuildDir: synth must not ship an empty asset.
func New(scope constructs.Construct, id string, props *Props) (*Functions, error) {
	if err := checkBootstraps(props.BuildDir); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &Functions{Construct: c, ByName: map[string]awslambda.IFunction{}}
	// Every function gets the variables core/api says it reads, and access to
	// what they name; the level of access is decided here.
	for _, name := range api.Functions() {
		fn := function(c, props.Stage, props.BuildDir, name)
		vars, err := api.Env(name)
		if err != nil {
			return nil, err
		}
		for _, key := range vars {
			if props.Deferred[key] {
				continue
			}
			value, err := grant(fn, name, key, props)
			if err != nil {
				return nil, err
			}
			fn.AddEnvironment(jsii.String(key), jsii.String(value), nil)
		}
		f.ByName[name] = fn
	}
	f.ByName[api.FnUpdateProcessor].AddEventSource(awslambdaeventsources.NewSqsEventSource(props.UpdateQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	return f, nil
}

// checkBootstraps names every bootstrap missing from buildDir.
func checkBootstraps(buildDir string) error {
	var missing []error
	for _, name := range api.Functions() {
		if _, err := os.Stat(Bootstrap(buildDir, name)); err != nil {
			missing = append(missing, fmt.Errorf("missing %s", Bootstrap(buildDir, name)))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("function bootstraps not built (run `make build`, or set FOQUS_BUILD_DIR): %w", errors.Join(missing...))
	}
	return nil
}

// function declares one function with its own log group and role.
func function(c constructs.Construct, st config.Stage, buildDir, name string) awslambda.Function {
	timeout := APITimeoutSeconds
	if name == api.FnUpdateProcessor {
		timeout = ProcessorTimeout
	}
	fnName := resource.Name(name, st.Name)
	// An explicit log group, not logRetention: that one is a custom resource.
	logs := awslogs.NewLogGroup(c, jsii.String(name+"-logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + fnName),
		Retention:     awslogs.RetentionDays(st.RetentionName()),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// An own role with log writes scoped to that group, instead of the
	// managed AWSLambdaBasicExecutionRole (logs:* on every group).
	role := awsiam.NewRole(c, jsii.String(name+"-role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("FOQUS function " + fnName),
	})
	logs.GrantWrite(role)
	return awslambda.NewFunction(c, jsii.String(name), &awslambda.FunctionProps{
		FunctionName: jsii.String(fnName),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Dir(Bootstrap(buildDir, name))), nil),
		MemorySize:   jsii.Number(APIMemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Tracing:      awslambda.Tracing_ACTIVE,
		LogGroup:     logs,
		Role:         role,
		Environment:  &map[string]*string{resource.EnvStage: jsii.String(st.Name)},
	})
}

// Functions that change items of FOQUS_Resources or objects of the simulation
// bucket; the others that name them only read.
var (
	WritesResources = map[string]bool{
		api.FnSessionAppend: true, api.FnSessionStart: true, api.FnSessionKill: true,
		api.FnSessionStop: true, api.FnSessionResult: true, api.FnUpdateProcessor: true,
	}
	WritesSimulations = map[string]bool{
		api.FnSimulationPut: true, api.FnInputPut: true,
		api.FnInputSignedURL: true, // a presigned PUT carries the signer's rights
	}
)

// grant gives fn the access its variable key implies and returns the value.
// Item-level DynamoDB actions only: TransactWriteItems is authorised through them.
func grant(fn awslambda.Function, name, key string, p *Props) (string, error) {
	switch key {
	case resource.EnvUsersTable:
		p.UsersTable.Grant(fn, jsii.String("dynamodb:GetItem"))
		return *p.UsersTable.TableName(), nil
	case resource.EnvResourcesTable:
		actions := []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
		if WritesResources[name] {
			actions = append(actions, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
		}
		p.ResourcesTable.Grant(fn, *jsii.Strings(actions...)...)
		return *p.ResourcesTable.TableName(), nil
	case resource.EnvSessionBucket:
		p.SessionBucket.GrantRead(fn, nil) // the workers write outputs; functions read them
		return *p.SessionBucket.BucketName(), nil
	case resource.EnvSimulationBucket:
		if WritesSimulations[name] {
			p.SimulationBucket.GrantReadWrite(fn, nil)
		} else {
			p.SimulationBucket.GrantRead(fn, nil)
		}
		return *p.SimulationBucket.BucketName(), nil
	case resource.EnvJobTopicARN:
		p.JobTopic.GrantPublish(fn)
		return *p.JobTopic.TopicArn(), nil
	case resource.EnvUpdateTopicARN:
		p.UpdateTopic.GrantPublish(fn)
		return *p.UpdateTopic.TopicArn(), nil
	}
	return "", fmt.Errorf("function %s reads %s: the CDK app has no grant for it yet (constructs/functions)", name, key)
}
