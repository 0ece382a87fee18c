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
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/data"
	"github.com/foqus-cloud/stack/infra/constructs/messaging"
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

// Functions holds every Lambda function by its base name (api.Fn*).
type Functions struct {
	constructs.Construct
	ByName map[string]awslambda.Function
}

// New declares every function of api.Functions(). It fails, naming them, when
// bootstraps are missing from buildDir: synth must not ship an empty asset.
func New(scope constructs.Construct, id string, st config.Stage, buildDir string, d *data.Data, m *messaging.Messaging) (*Functions, error) {
	var missing []error
	for _, name := range api.Functions() {
		if _, err := os.Stat(Bootstrap(buildDir, name)); err != nil {
			missing = append(missing, fmt.Errorf("missing %s", Bootstrap(buildDir, name)))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("function bootstraps not built (run `make build`, or set FOQUS_BUILD_DIR): %w", errors.Join(missing...))
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &Functions{Construct: c, ByName: map[string]awslambda.Function{}}
	retention := awslogs.RetentionDays(st.RetentionName())

	for _, name := range api.Functions() {
		timeout := APITimeoutSeconds
		if name == api.FnUpdateProcessor {
			timeout = ProcessorTimeout
		}
		fnName := resource.Name(name, st.Name)
		// An explicit log group, not logRetention: that one is a custom resource.
		logs := awslogs.NewLogGroup(c, jsii.String(name+"-logs"), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String("/aws/lambda/" + fnName),
			Retention:     retention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		// An own role with log writes scoped to that group, instead of the
		// managed AWSLambdaBasicExecutionRole (logs:* on every group).
		role := awsiam.NewRole(c, jsii.String(name+"-role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("FOQUS function " + fnName),
		})
		logs.GrantWrite(role)
		f.ByName[name] = awslambda.NewFunction(c, jsii.String(name), &awslambda.FunctionProps{
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

	env := func(fn awslambda.Function, kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			fn.AddEnvironment(jsii.String(kv[i]), jsii.String(kv[i+1]), nil)
		}
	}
	usersTable := func(fn awslambda.Function) {
		d.UsersTable.Grant(fn, jsii.String("dynamodb:GetItem"))
		env(fn, resource.EnvUsersTable, *d.UsersTable.TableName())
	}
	// Item-level actions only: TransactWriteItems is authorised through them.
	resourcesTable := func(fn awslambda.Function, write bool) {
		actions := []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
		if write {
			actions = append(actions, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
		}
		d.ResourcesTable.Grant(fn, *jsii.Strings(actions...)...)
		env(fn, resource.EnvResourcesTable, *d.ResourcesTable.TableName())
	}
	sessionBucket := func(fn awslambda.Function, write bool) {
		if write {
			d.SessionBucket.GrantReadWrite(fn, nil)
		} else {
			d.SessionBucket.GrantRead(fn, nil)
		}
		env(fn, resource.EnvSessionBucket, *d.SessionBucket.BucketName())
	}
	simulationBucket := func(fn awslambda.Function, write bool) {
		if write {
			d.SimulationBucket.GrantReadWrite(fn, nil)
		} else {
			d.SimulationBucket.GrantRead(fn, nil)
		}
		env(fn, resource.EnvSimulationBucket, *d.SimulationBucket.BucketName())
	}
	jobTopic := func(fn awslambda.Function) {
		m.JobTopic.GrantPublish(fn)
		env(fn, resource.EnvJobTopicARN, *m.JobTopic.TopicArn())
	}
	updateTopic := func(fn awslambda.Function) {
		m.UpdateTopic.GrantPublish(fn)
		env(fn, resource.EnvUpdateTopicARN, *m.UpdateTopic.TopicArn())
	}

	usersTable(f.ByName[api.FnAuthorizer])
	for _, name := range []string{
		api.FnSessionCreate, api.FnSessionList, api.FnSessionGet, api.FnSessionAppend,
		api.FnSessionStart, api.FnSessionKill, api.FnSessionStop, api.FnSessionResult, api.FnResultPage,
	} {
		resourcesTable(f.ByName[name], true)
	}
	jobTopic(f.ByName[api.FnSessionStart])
	updateTopic(f.ByName[api.FnSessionKill])
	updateTopic(f.ByName[api.FnSessionStop])
	sessionBucket(f.ByName[api.FnSessionResult], false)
	sessionBucket(f.ByName[api.FnResultPage], false)
	simulationBucket(f.ByName[api.FnSessionAppend], false)
	for _, name := range []string{api.FnSimulationRoot, api.FnSimulationGet, api.FnInputGet} {
		simulationBucket(f.ByName[name], false)
	}
	// Uploads and presigned URLs (a presigned PUT carries the signer's rights).
	for _, name := range []string{api.FnSimulationPut, api.FnInputPut, api.FnInputSignedURL} {
		simulationBucket(f.ByName[name], true)
	}

	proc := f.ByName[api.FnUpdateProcessor]
	resourcesTable(proc, true)
	sessionBucket(proc, true)
	jobTopic(proc)
	proc.AddEventSource(awslambdaeventsources.NewSqsEventSource(m.UpdateQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	env(proc, resource.EnvUpdateQueueURL, *m.UpdateQueue.QueueUrl())
	return f, nil
}
