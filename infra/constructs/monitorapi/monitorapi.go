// Package monitorapi declares the Cloud monitor's WebSocket API: $connect
// behind a REQUEST authorizer on the Authorization header, the routes of
// api.MonitorRoutes, a stage per deployment stage with access logs and
// throttling, the connections table (TTL), and for each function what its
// monitor variables name: the table, the stage's Management API (POST to
// @connections of this API and stage only) and the job queue with the worker
// fleet it describes.
package monitorapi

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// Env is the variables this construct sets (constructs/functions leaves
// them alone): what they name is declared here, after the functions.
var Env = map[string]bool{resource.EnvConnectionsTable: true, resource.EnvMonitorEndpoint: true, resource.EnvJobQueueURL: true}

// ConnectionWrites is which item writes each function makes on the
// connections table; every other function that names it only reads.
var ConnectionWrites = map[string][]string{
	api.FnMonitorConnect:    {"dynamodb:PutItem"},
	api.FnMonitorDisconnect: {"dynamodb:DeleteItem"},
	api.FnMonitorStatus:     {"dynamodb:DeleteItem"}, // a gone connection
	api.FnUpdateProcessor:   {"dynamodb:DeleteItem"},
}

// ConnectionReads is what a function that pushes reads: its user's
// connections (Query) and, for the fleet broadcast, all of them (Scan).
var ConnectionReads = []string{"dynamodb:Query", "dynamodb:Scan"}

// Throttling of the stage: FOQUS sends one status per monitor window.
const (
	RateLimit  = 50
	BurstLimit = 100
)

// Props are what the WebSocket API uses.
type Props struct {
	Stage     config.Stage
	Functions map[string]awslambda.IFunction // by api.Fn*
	JobQueue  awssqs.IQueue
}

// MonitorAPI is the WebSocket API and its stage.
type MonitorAPI struct {
	constructs.Construct
	API         awsapigatewayv2.WebSocketApi
	Stage       awsapigatewayv2.WebSocketStage
	Connections awsdynamodb.Table
}

// New declares the WebSocket API and wires the functions that name it.
func New(scope constructs.Construct, id string, p *Props) (*MonitorAPI, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := &MonitorAPI{Construct: c}
	fn := func(name string) (awslambda.IFunction, error) {
		f, ok := p.Functions[name]
		if !ok {
			return nil, fmt.Errorf("monitorapi: no function %s", name)
		}
		return f, nil
	}
	m.Connections = awsdynamodb.NewTable(c, jsii.String("Connections"), &awsdynamodb.TableProps{
		TableName:           jsii.String(resource.Name(resource.ConnectionsTable, p.Stage.Name)),
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(resource.ConnUserKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String(resource.ConnIDKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		TimeToLiveAttribute: jsii.String(resource.TTLAttribute),
		// Connections live two hours at most: nothing worth a backup or a retain.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	authFn, err := fn(api.FnMonitorAuthorizer)
	if err != nil {
		return nil, err
	}
	authorizer := awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("Authorizer"), authFn, &awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps{
		AuthorizerName: jsii.String("http-basic"),
		IdentitySource: jsii.Strings("route.request.header.Authorization"),
	})
	integration := func(r api.MonitorRoute) (*awsapigatewayv2.WebSocketRouteOptions, error) {
		f, err := fn(r.Function)
		if err != nil {
			return nil, err
		}
		return &awsapigatewayv2.WebSocketRouteOptions{Integration: awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String(r.Function), f, nil)}, nil
	}
	props := &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  jsii.String(resource.Name(resource.MonitorAPI, p.Stage.Name)),
		Description:              jsii.String("FOQUS Cloud monitor: each user's own session counts and the worker fleet"),
		RouteSelectionExpression: jsii.String(api.MonitorRouteSelection),
	}
	var others []api.MonitorRoute
	for _, r := range api.MonitorRoutes {
		o, err := integration(r)
		if err != nil {
			return nil, err
		}
		switch r.Key {
		case "$connect":
			o.Authorizer = authorizer
			props.ConnectRouteOptions = o
		case "$disconnect":
			props.DisconnectRouteOptions = o
		case "$default":
			props.DefaultRouteOptions = o
		default:
			others = append(others, r)
		}
	}
	m.API = awsapigatewayv2.NewWebSocketApi(c, jsii.String("Api"), props)
	for _, r := range others {
		o, _ := integration(r)
		m.API.AddRoute(jsii.String(r.Key), o)
	}
	logs := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays(p.Stage.RetentionName()), RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	m.Stage = awsapigatewayv2.NewWebSocketStage(c, jsii.String("Stage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: m.API, StageName: jsii.String(p.Stage.Name), AutoDeploy: jsii.Bool(true),
		AccessLogSettings: &accessLogs{awsapigatewayv2.NewLogGroupLogDestination(logs)},
		Throttle:          &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(RateLimit), BurstLimit: jsii.Number(BurstLimit)},
	})

	for _, name := range api.Functions() {
		vars, err := api.Env(name)
		if err != nil {
			return nil, err
		}
		for _, key := range vars {
			if !Env[key] {
				continue
			}
			f, err := fn(name)
			if err != nil {
				return nil, err
			}
			lf, ok := f.(awslambda.Function)
			if !ok {
				return nil, fmt.Errorf("monitorapi: %s cannot take environment variables", name)
			}
			lf.AddEnvironment(jsii.String(key), m.wire(lf, name, key, p), nil)
		}
	}
	awscdk.NewCfnOutput(c, jsii.String("NotificationURL"), &awscdk.CfnOutputProps{
		Value:       m.Stage.Url(),
		Description: jsii.String("turbine.cfg [Notification] url (FOQUS's Cloud monitor)"),
	})
	return m, nil
}

// wire grants f what its variable key names and returns the value.
func (m *MonitorAPI) wire(f awslambda.Function, name, key string, p *Props) *string {
	switch key {
	case resource.EnvConnectionsTable:
		actions := ConnectionWrites[name]
		if name != api.FnMonitorConnect && name != api.FnMonitorDisconnect {
			actions = append(actions, ConnectionReads...)
		}
		m.Connections.Grant(f, *jsii.Strings(actions...)...)
		return m.Connections.TableName()
	case resource.EnvMonitorEndpoint:
		// PostToConnection only (GrantManagementApiAccess would allow every method).
		f.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("execute-api:ManageConnections"),
			Resources: jsii.Strings(*awscdk.Stack_Of(m.API).FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("execute-api"), Resource: m.API.ApiId(), ResourceName: jsii.String(p.Stage.Name + "/POST/@connections/*"),
			})),
		}))
		return m.Stage.CallbackUrl()
	default: // resource.EnvJobQueueURL: the fleet's status
		f.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("sqs:GetQueueAttributes"), Resources: jsii.Strings(*p.JobQueue.QueueArn()),
		}))
		// Neither has resource-level permissions.
		f.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"), Resources: jsii.Strings("*"),
		}))
		return p.JobQueue.QueueUrl()
	}
}

// accessLogs is the stage's access log settings (jsii interface
// IAccessLogSettings, which has no struct form): one JSON line per request
// with the fields a WebSocket API has.
type accessLogs struct {
	dest awsapigatewayv2.IAccessLogDestination
}

func (a *accessLogs) Destination() awsapigatewayv2.IAccessLogDestination { return a.dest }

func (a *accessLogs) Format() awsapigateway.AccessLogFormat {
	return awsapigateway.AccessLogFormat_Custom(jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","routeKey":"$context.routeKey","eventType":"$context.eventType","status":"$context.status","connectionId":"$context.connectionId","user":"$context.authorizer.principalId","error":"$context.error.message"}`))
}
