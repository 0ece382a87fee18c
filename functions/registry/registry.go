// Package registry builds the handler of every function of api.Functions()
// from an SDK configuration and the resource names of resource.Env*. The
// Lambda mains (functions/cmd/<name>) and the local gateway both build their
// handlers here, so what runs locally is what runs in Lambda.
package registry

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/connections"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/recorder"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/authorizer"
	"github.com/foqus-cloud/stack/functions/consumers"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/openapi"
	"github.com/foqus-cloud/stack/functions/results"
	"github.com/foqus-cloud/stack/functions/sessions"
	"github.com/foqus-cloud/stack/functions/simulations"
	"github.com/foqus-cloud/stack/functions/updates"
)

// Set is the handlers New built.
type Set struct {
	// HTTP serves the routes of api.Routes, by function name.
	HTTP map[string]httpx.Handler
	// Authorizer is the REQUEST authorizer (api.FnAuthorizer).
	Authorizer func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)
	// Updates is the update processor (api.FnUpdateProcessor).
	Updates func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	// Archiver and Thaw are the result lifecycle's queue functions
	// (api.FnArchiver, api.FnThaw).
	Archiver, Thaw func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	// MonitorAuthorizer is the WebSocket API's $connect authorizer.
	MonitorAuthorizer monitor.AuthorizerFunc
	// Monitor serves the WebSocket routes (api.MonitorRoutes), by function name.
	Monitor map[string]monitor.RouteFunc
}

// Needs lists the environment variables (resource.Env*) function name reads:
// the contract in core/api, which the CDK app sets from too.
func Needs(name string) ([]string, error) {
	vars, err := api.Env(name)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return vars, nil
}

// OSEnv reads every resource.Env* variable from the process environment.
func OSEnv() map[string]string {
	env := map[string]string{}
	for _, k := range []string{resource.EnvStage, resource.EnvFleetSource} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for _, fn := range api.Functions() {
		names, _ := api.Env(fn)
		for _, k := range names {
			if v, ok := os.LookupEnv(k); ok {
				env[k] = v
			}
		}
	}
	return env
}

// AuthorizerFunc is the REQUEST authorizer's handler.
type AuthorizerFunc = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// UpdatesFunc is the update processor's handler.
type UpdatesFunc = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// New builds the handlers of the named functions (every function of
// api.Functions() when none is named) on clients made once from cfg and
// shared. It fails when env lacks a variable one of them needs.
func New(cfg aws.Config, env map[string]string, names ...string) (*Set, error) {
	if len(names) == 0 {
		names = api.Functions()
	}
	b := NewBuilder(cfg, env)
	set := &Set{HTTP: map[string]httpx.Handler{}, Monitor: map[string]monitor.RouteFunc{}}
	for _, name := range names {
		var err error
		switch name {
		case api.FnAuthorizer:
			set.Authorizer, err = b.Authorizer()
		case api.FnUpdateProcessor:
			set.Updates, err = b.Updates()
		case api.FnArchiver:
			set.Archiver, err = b.Archiver()
		case api.FnThaw:
			set.Thaw, err = b.Thaw()
		case api.FnMonitorAuthorizer:
			set.MonitorAuthorizer, err = b.MonitorAuthorizer()
		case api.FnMonitorConnect, api.FnMonitorDisconnect, api.FnMonitorStatus, api.FnMonitorDefault:
			set.Monitor[name], err = b.Monitor(name)
		default:
			set.HTTP[name], err = b.HTTP(name)
		}
		if err != nil {
			return nil, err
		}
	}
	return set, nil
}

// Builder makes each client and service once, on first use. Its methods
// build one function's handler each and touch only the clients that
// function uses: a Lambda main calls one of them, so its bootstrap links
// only its own SDK services (all of them make a bootstrap over 10 MB).
type Builder struct {
	cfg aws.Config
	env map[string]string
	db  *dynamodb.Client
	s3c *s3.Client
	st  *sessionstore.Store
}

// NewBuilder returns a Builder of handlers on cfg and the resource names in env.
func NewBuilder(cfg aws.Config, env map[string]string) *Builder {
	return &Builder{cfg: cfg, env: env}
}

// check fails when env lacks a variable function name needs.
func (b *Builder) check(name string) error {
	vars, err := Needs(name)
	if err != nil {
		return err
	}
	for _, k := range vars {
		if b.env[k] == "" {
			return fmt.Errorf("registry: %s needs the environment variable %s", name, k)
		}
		if k == resource.EnvRetentionDays {
			if _, err := sessionstore.RetentionDays(b.env[k]); err != nil {
				return fmt.Errorf("registry: %s: %w", name, err)
			}
		}
	}
	return nil
}

func (b *Builder) dynamo() *dynamodb.Client {
	if b.db == nil {
		b.db = dynamodb.NewFromConfig(b.cfg)
	}
	return b.db
}

func (b *Builder) s3() *s3.Client {
	if b.s3c == nil {
		b.s3c = awsconf.NewS3(b.cfg)
	}
	return b.s3c
}

func (b *Builder) store() *sessionstore.Store {
	if b.st == nil {
		b.st = sessionstore.New(b.dynamo(), b.env[resource.EnvResourcesTable])
		// check validated it for every function on the table.
		b.st.Retention, _ = sessionstore.RetentionDays(b.env[resource.EnvRetentionDays])
	}
	return b.st
}

func (b *Builder) outputs() *jobview.Loader {
	return &jobview.Loader{S3: b.s3(), Bucket: b.env[resource.EnvSessionBucket]}
}

func (b *Builder) simulations() *simulations.Service {
	c := b.s3()
	return &simulations.Service{S3: c, Presign: s3.NewPresignClient(c), Bucket: b.env[resource.EnvSimulationBucket]}
}

// Authorizer builds the REQUEST authorizer.
func (b *Builder) Authorizer() (AuthorizerFunc, error) {
	if err := b.check(api.FnAuthorizer); err != nil {
		return nil, err
	}
	a := &authorizer.Authorizer{Users: user.NewStore(b.dynamo(), b.env[resource.EnvUsersTable])}
	return a.Handle, nil
}

// Updates builds the update processor.
func (b *Builder) Updates() (UpdatesFunc, error) {
	if err := b.check(api.FnUpdateProcessor); err != nil {
		return nil, err
	}
	p := &updates.Processor{Recorder: &recorder.Recorder{Store: b.store(), OnFinal: b.tracker().JobFinal}, Monitor: monitor.NewPusher(b.sender(), b.store(), b.fleet())}
	return p.Handle, nil
}

func (b *Builder) connections() *connections.Store {
	return connections.New(b.dynamo(), b.env[resource.EnvConnectionsTable])
}

// sender posts through the Management API of EnvMonitorEndpoint; it forgets
// gone connections when the function may (it names the connections table).
func (b *Builder) sender() *monitor.Sender {
	endpoint := b.env[resource.EnvMonitorEndpoint]
	s := &monitor.Sender{API: apigatewaymanagementapi.NewFromConfig(b.cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = &endpoint
	})}
	if b.env[resource.EnvConnectionsTable] != "" {
		s.Conns = b.connections()
	}
	return s
}

// fleet is the deployed worker group, or the local workers' heartbeats.
func (b *Builder) fleet() monitor.Fleet {
	q := monitor.Queue{SQS: sqs.NewFromConfig(b.cfg), URL: b.env[resource.EnvJobQueueURL]}
	group := resource.Name(resource.WorkerGroup, b.env[resource.EnvStage])
	if b.env[resource.EnvFleetSource] == resource.FleetFromHeartbeats {
		return &monitor.HeartbeatFleet{Queue: q, Sessions: b.store(), Group: group, Platform: runtime.GOOS}
	}
	return &monitor.AWSFleet{Queue: q, AutoScaling: autoscaling.NewFromConfig(b.cfg), EC2: ec2.NewFromConfig(b.cfg), Group: group}
}

// MonitorAuthorizer builds the WebSocket API's $connect authorizer.
func (b *Builder) MonitorAuthorizer() (monitor.AuthorizerFunc, error) {
	if err := b.check(api.FnMonitorAuthorizer); err != nil {
		return nil, err
	}
	a := &monitor.Authorizer{Users: user.NewStore(b.dynamo(), b.env[resource.EnvUsersTable])}
	return a.Handle, nil
}

// Monitor builds the handler of a WebSocket route's function by name.
func (b *Builder) Monitor(name string) (monitor.RouteFunc, error) {
	if err := b.check(name); err != nil {
		return nil, err
	}
	switch name {
	case api.FnMonitorConnect:
		return (&monitor.Routes{Conns: b.connections()}).Connect, nil
	case api.FnMonitorDisconnect:
		return (&monitor.Routes{Conns: b.connections()}).Disconnect, nil
	case api.FnMonitorStatus:
		return (&monitor.Routes{Send: b.sender(), Sessions: b.store(), Fleet: b.fleet()}).Status, nil
	case api.FnMonitorDefault:
		return (&monitor.Routes{Send: b.sender()}).Default, nil
	}
	return nil, fmt.Errorf("registry: %q is not a WebSocket function", name)
}

// HTTP builds the handler of an HTTP function by name (it links every
// service; Lambda mains call the function's own method instead).
func (b *Builder) HTTP(name string) (httpx.Handler, error) {
	switch name {
	case api.FnApplications:
		return b.Applications()
	case api.FnSessionCreate:
		return b.SessionCreate()
	case api.FnSessionList:
		return b.SessionList()
	case api.FnSessionGet:
		return b.SessionGet()
	case api.FnSessionAppend:
		return b.SessionAppend()
	case api.FnSessionStart:
		return b.SessionStart()
	case api.FnSessionKill:
		return b.SessionKill()
	case api.FnSessionStop:
		return b.SessionStop()
	case api.FnSessionResult:
		return b.SessionResult()
	case api.FnResultPage:
		return b.ResultPage()
	case api.FnSimulationRoot:
		return b.SimulationRoot()
	case api.FnSimulationGet:
		return b.SimulationGet()
	case api.FnSimulationPut:
		return b.SimulationPut()
	case api.FnInputPut:
		return b.InputPut()
	case api.FnInputGet:
		return b.InputGet()
	case api.FnInputSignedURL:
		return b.InputSignedURL()
	case api.FnSimulationDel:
		return b.SimulationDelete()
	case api.FnConsumerList:
		return b.ConsumerList()
	case api.FnOpenAPI:
		return b.OpenAPI()
	case api.FnSessionDelete:
		return b.SessionDelete()
	}
	return nil, fmt.Errorf("registry: %q is not an HTTP function", name)
}

// handler checks name's environment and wraps h with authentication.
func (b *Builder) handler(name string, h func() httpx.UserHandler) (httpx.Handler, error) {
	if err := b.check(name); err != nil {
		return nil, err
	}
	return httpx.Authenticated(h()), nil
}

// Applications builds the handler of get-application.
func (b *Builder) Applications() (httpx.Handler, error) {
	return b.handler(api.FnApplications, func() httpx.UserHandler { return simulations.ListApplications })
}

// OpenAPI builds the handler of get-openapi: the committed document.
func (b *Builder) OpenAPI() (httpx.Handler, error) {
	return b.handler(api.FnOpenAPI, func() httpx.UserHandler { return openapi.Serve })
}

func (b *Builder) sessions() *sessions.Service { return &sessions.Service{Store: b.store()} }

// SessionCreate builds the handler of post-session-create.
func (b *Builder) SessionCreate() (httpx.Handler, error) {
	return b.handler(api.FnSessionCreate, func() httpx.UserHandler { return sessions.Create })
}

// SessionList builds the handler of get-session-list.
func (b *Builder) SessionList() (httpx.Handler, error) {
	return b.handler(api.FnSessionList, func() httpx.UserHandler { return b.sessions().List })
}

// SessionGet builds the handler of get-session.
func (b *Builder) SessionGet() (httpx.Handler, error) {
	return b.handler(api.FnSessionGet, func() httpx.UserHandler { return b.sessions().Get })
}

// SessionAppend builds the handler of post-session-append.
func (b *Builder) SessionAppend() (httpx.Handler, error) {
	return b.handler(api.FnSessionAppend, func() httpx.UserHandler {
		s := b.sessions()
		limit, _ := strconv.ParseInt(b.env[resource.EnvFreeJobLimit], 10, 64)
		s.Tiers = &sessions.Tiers{Users: user.NewStore(b.dynamo(), b.env[resource.EnvUsersTable]), FreeJobLimit: limit}
		return s.Append
	})
}

// SessionStart builds the handler of post-session-start.
func (b *Builder) SessionStart() (httpx.Handler, error) {
	return b.handler(api.FnSessionStart, func() httpx.UserHandler {
		s := b.sessions()
		s.Jobs = event.NewPublisher(sns.NewFromConfig(b.cfg), b.env[resource.EnvJobTopicARN])
		s.Final = b.tracker().JobFinal
		return s.Start
	})
}

// SessionKill builds the handler of post-session-kill.
func (b *Builder) SessionKill() (httpx.Handler, error) {
	return b.handler(api.FnSessionKill, func() httpx.UserHandler {
		s := b.sessions()
		s.Final = b.tracker().JobFinal
		return s.Kill
	})
}

// SessionStop builds the handler of post-session-stop.
func (b *Builder) SessionStop() (httpx.Handler, error) {
	return b.handler(api.FnSessionStop, func() httpx.UserHandler { return b.sessions().Stop })
}

// SessionResult builds the handler of post-session-result.
func (b *Builder) SessionResult() (httpx.Handler, error) {
	return b.handler(api.FnSessionResult, func() httpx.UserHandler {
		return (&results.Service{Store: b.store()}).Generator
	})
}

// ResultPage builds the handler of get-session-result-page.
func (b *Builder) ResultPage() (httpx.Handler, error) {
	return b.handler(api.FnResultPage, func() httpx.UserHandler {
		return (&results.Service{Store: b.store(), Outputs: b.outputs()}).Page
	})
}

// SimulationRoot builds the handler of get-simulation-root.
func (b *Builder) SimulationRoot() (httpx.Handler, error) {
	return b.handler(api.FnSimulationRoot, func() httpx.UserHandler { return b.simulations().List })
}

// SimulationGet builds the handler of get-simulation.
func (b *Builder) SimulationGet() (httpx.Handler, error) {
	return b.handler(api.FnSimulationGet, func() httpx.UserHandler { return b.simulations().Get })
}

// SimulationPut builds the handler of put-simulation-name.
func (b *Builder) SimulationPut() (httpx.Handler, error) {
	return b.handler(api.FnSimulationPut, func() httpx.UserHandler { return b.simulations().Put })
}

// InputPut builds the handler of put-simulation-input.
func (b *Builder) InputPut() (httpx.Handler, error) {
	return b.handler(api.FnInputPut, func() httpx.UserHandler { return b.simulations().PutInput })
}

// InputGet builds the handler of get-simulation-input-file.
func (b *Builder) InputGet() (httpx.Handler, error) {
	return b.handler(api.FnInputGet, func() httpx.UserHandler { return b.simulations().GetInput })
}

// InputSignedURL builds the handler of post-simulation-signed-url.
func (b *Builder) InputSignedURL() (httpx.Handler, error) {
	return b.handler(api.FnInputSignedURL, func() httpx.UserHandler { return b.simulations().SignedURL })
}

// LambdaConfig is the SDK configuration of a Lambda function, read from the
// variables Lambda sets: the region, the execution role's credentials, and
// AWS_ENDPOINT_URL when an emulator plays AWS. It is what awsconf.Load finds
// there, without linking the shared-config, SSO and IMDS providers (1.2 MB).
func LambdaConfig() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("registry: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN")),
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// SimulationDelete builds the handler of delete-simulation.
func (b *Builder) SimulationDelete() (httpx.Handler, error) {
	return b.handler(api.FnSimulationDel, func() httpx.UserHandler {
		return (&simulations.Deleter{Service: b.simulations(), Store: b.store()}).Delete
	})
}

// ConsumerList builds the handler of get-consumer-list.
func (b *Builder) ConsumerList() (httpx.Handler, error) {
	return b.handler(api.FnConsumerList, func() httpx.UserHandler { return (&consumers.Service{Store: b.store()}).List })
}

// SessionDelete builds the handler of delete-session.
func (b *Builder) SessionDelete() (httpx.Handler, error) {
	return b.handler(api.FnSessionDelete, func() httpx.UserHandler {
		return (&sessions.Deleter{Store: b.store(), S3: b.s3(), Bucket: b.env[resource.EnvSessionBucket]}).Delete
	})
}
