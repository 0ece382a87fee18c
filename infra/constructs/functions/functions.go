// Package functions declares every Lambda function of the API and the update
// processor from prebuilt bootstrap binaries (make build), with the environment
// naming what each uses and only the grants it needs.
package functions

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// Defaults for a function serving the API (API Gateway gives up after 29 s).
const (
	APIMemoryMB       = 256
	APITimeoutSeconds = 20
	ProcessorTimeout  = resource.ProcessorTimeoutSeconds      // the update queue's visibility is six times this
	LifecycleTimeout  = int(archive.RunTimeout / time.Second) // of the archiver and thaw: the run an archive lease outlasts
)

// Bootstrap is where make build puts a function's binary under the build dir.
func Bootstrap(buildDir, name string) string {
	return filepath.Join(buildDir, "functions", name, "bootstrap")
}

// LogGroupName is the log group of the function deployed as fnName.
func LogGroupName(fnName string) string { return "/aws/lambda/" + fnName }

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
	Lifecycle        Lifecycle     // the result lifecycle's queue, settings and sender
	// Deferred variables are set, with their grants, by the construct that
	// declares what they name after the functions (monitorapi.Env).
	Deferred map[string]bool
}

// Lifecycle is what the result lifecycle's functions use (constructs/lifecycle).
type Lifecycle struct {
	ArchiveQueue awssqs.IQueue
	Settings     map[string]string // the tier settings, as resource.Env* values
	SenderARN    string            // the SES identity notices are sent from; "" without one
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
	// A mapping of its own, not SqsEventSource: that one grants CDK's
	// grantConsumeMessages (ChangeMessageVisibility and GetQueueUrl too);
	// Lambda's poller needs exactly these three.
	updates := f.ByName[api.FnUpdateProcessor]
	props.UpdateQueue.Grant(updates, jsii.String("sqs:ReceiveMessage"), jsii.String("sqs:DeleteMessage"), jsii.String("sqs:GetQueueAttributes"))
	awslambda.NewEventSourceMapping(c, jsii.String("UpdatesSource"), &awslambda.EventSourceMappingProps{
		Target:                  updates,
		EventSourceArn:          props.UpdateQueue.QueueArn(),
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
	})
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
	switch name {
	case api.FnUpdateProcessor:
		timeout = ProcessorTimeout
	case api.FnArchiver, api.FnThaw:
		timeout = LifecycleTimeout
	}
	fnName := resource.Name(name, st.Name)
	// An explicit log group, not logRetention: that one is a custom resource.
	logs := awslogs.NewLogGroup(c, jsii.String(name+"-logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(LogGroupName(fnName)),
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
		api.FnSessionDelete: true,
		api.FnArchiver:      true, api.FnThaw: true,
	}
	// Functions that write and delete session-bucket objects (archives,
	// re-homed outputs); the others only read it.
	WritesSessions    = map[string]bool{api.FnArchiver: true, api.FnThaw: true}
	WritesSimulations = map[string]bool{
		api.FnSimulationPut: true, api.FnInputPut: true,
		api.FnInputSignedURL: true, // a presigned PUT carries the signer's rights
	}
)

// grant gives fn the access its variable key implies and returns the value.
// Item-level DynamoDB actions only: TransactWriteItems is authorised through them.
func grant(fn awslambda.Function, name, key string, p *Props) (string, error) { //nolint:gocyclo // one case per variable
	switch key {
	case resource.EnvUsersTable:
		actions := []string{"dynamodb:GetItem"}
		if name == api.FnArchiver { // its archive mark holds only while the user is free (a transaction's condition check)
			actions = append(actions, "dynamodb:ConditionCheckItem")
		}
		p.UsersTable.Grant(fn, *jsii.Strings(actions...)...)
		return *p.UsersTable.TableName(), nil
	case resource.EnvResourcesTable:
		// What core/sessionstore calls: no BatchGetItem, DeleteItem or
		// transactions (ConditionCheckItem) anywhere.
		actions := []string{"dynamodb:GetItem", "dynamodb:Query"}
		if WritesResources[name] {
			actions = append(actions, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")
		}
		if name == api.FnSessionDelete {
			actions = append(actions, "dynamodb:DeleteItem") // sessionstore.DeleteSession's conditional delete
		}
		p.ResourcesTable.Grant(fn, *jsii.Strings(actions...)...)
		return *p.ResourcesTable.TableName(), nil
	case resource.EnvSessionBucket:
		objects(fn, p.SessionBucket, "s3:GetObject") // the workers write outputs; functions read them
		if name == api.FnSessionDelete {             // a deleted session's outputs go with it (ListObjectsV2, DeleteObjects)
			objects(fn, p.SessionBucket, "s3:DeleteObject")
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(*p.SessionBucket.BucketArn()),
			}))
		}
		if WritesSessions[name] { // archives written and verified, outputs re-homed or removed
			objects(fn, p.SessionBucket, "s3:PutObject", "s3:DeleteObject")
		}
		if name == api.FnArchiver { // its restore watch asks again for a restore S3 has no record of
			objects(fn, p.SessionBucket, "s3:RestoreObject")
			// its sweep lists a session's archives (ListObjectsV2), and nothing else of the bucket
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(*p.SessionBucket.BucketArn()),
				Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": "*/" + archive.Prefix + "*"}},
			}))
		}
		return *p.SessionBucket.BucketName(), nil
	case resource.EnvRetentionDays: // the TTL of what its store writes: the session objects' expiry too (constructs/data)
		return strconv.Itoa(p.Stage.DataExpirationDays), nil
	case resource.EnvArchiveQueueURL:
		// SendMessage only: GrantSendMessages adds GetQueueAttributes and GetQueueUrl.
		p.Lifecycle.ArchiveQueue.Grant(fn, jsii.String("sqs:SendMessage"))
		return *p.Lifecycle.ArchiveQueue.QueueUrl(), nil
	case resource.EnvSender:
		if p.Lifecycle.SenderARN != "" {
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("ses:SendEmail"), Resources: jsii.Strings(p.Lifecycle.SenderARN),
			}))
		}
		return p.Lifecycle.Settings[key], nil
	case resource.EnvFreeWindow, resource.EnvArchiveClass, resource.EnvRestoreTier, resource.EnvFreeJobLimit:
		v, ok := p.Lifecycle.Settings[key]
		if !ok {
			return "", fmt.Errorf("function %s reads %s: no tier settings given", name, key)
		}
		return v, nil
	case resource.EnvSimulationBucket:
		// GetObject/PutObject (and their presigned URLs) and a listing by
		// prefix: never CDK's Delete*, Abort*, legal hold or retention.
		if WritesSimulations[name] {
			objects(fn, p.SimulationBucket, "s3:GetObject", "s3:PutObject")
		} else {
			objects(fn, p.SimulationBucket, "s3:GetObject")
		}
		if name == api.FnSimulationDel {
			objects(fn, p.SimulationBucket, "s3:DeleteObject") // DeleteObjects of the simulation's prefix
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(*p.SimulationBucket.BucketArn()),
		}))
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

// objects grants fn exactly actions on the objects of bucket.
func objects(fn awslambda.Function, bucket awss3.IBucket, actions ...string) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings(actions...), Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String("*"))),
	}))
}
