// Package api declares the REST API: every route of core/api.Routes behind the
// REQUEST authorizer, as Lambda proxy integrations.
package api

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	coreapi "github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/lambdaevent"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// AuthorizerCacheSeconds is how long API Gateway caches an Authorization
// header's verdict (the original cached 3000 s; short so a changed password
// or removed user takes effect soon).
const AuthorizerCacheSeconds = 300

// API is the REST API of one stage.
type API struct {
	constructs.Construct
	RestAPI    awsapigateway.RestApi
	Authorizer awsapigateway.RequestAuthorizer
	AccessLogs awslogs.LogGroup
}

// Props configure the API.
type Props struct {
	Stage     config.Stage
	Functions map[string]awslambda.IFunction // by core/api function base name
}

// New declares the API with its authorizer and every route.
func New(scope constructs.Construct, id string, props *Props) *API {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &API{Construct: c}
	a.restAPI(props.Stage)
	a.authorizer(props.Stage, props.Functions[coreapi.FnAuthorizer])
	a.routes(props.Stage, props.Functions)
	return a
}

// restAPI declares the API with its stage settings, CORS and access logs.
func (a *API) restAPI(st config.Stage) {
	c := a.Construct
	a.AccessLogs = awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays(st.RetentionName()),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	a.RestAPI = awsapigateway.NewRestApi(c, jsii.String("RestApi"), &awsapigateway.RestApiProps{
		RestApiName: jsii.String(resource.Name(resource.RestAPI, st.Name)),
		Description: jsii.String("FOQUS cloud API, wire-compatible with the FOQUS desktop client"),
		// Execution logging needs the account-level CloudWatch role; keep it
		// when the stack goes (other APIs in the account rely on it).
		CloudWatchRole:              jsii.Bool(true),
		CloudWatchRoleRemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(st.Name),
			TracingEnabled:       jsii.Bool(true),
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(a.AccessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_JsonWithStandardFields(nil),
			ThrottlingRateLimit:  jsii.Number(float64(st.APIRateLimit)),
			ThrottlingBurstLimit: jsii.Number(float64(st.APIBurstLimit)),
		},
		// The original answers every path's OPTIONS and sends
		// Access-Control-Allow-Origin: * (spec §3).
		DefaultCorsPreflightOptions: &awsapigateway.CorsOptions{
			AllowOrigins: awsapigateway.Cors_ALL_ORIGINS(),
			AllowMethods: awsapigateway.Cors_ALL_METHODS(),
			AllowHeaders: awsapigateway.Cors_DEFAULT_HEADERS(),
		},
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// Binary bodies pass as bytes, not mangled text (core/lambdaevent).
		BinaryMediaTypes: jsii.Strings(lambdaevent.BinaryMediaTypes...),
	})
	// Authorizer and gateway errors carry the CORS header too.
	for _, rt := range []awsapigateway.ResponseType{awsapigateway.ResponseType_DEFAULT_4XX(), awsapigateway.ResponseType_DEFAULT_5XX()} {
		a.RestAPI.AddGatewayResponse(jsii.String("Cors"+*rt.ResponseType()), &awsapigateway.GatewayResponseOptions{
			Type:            rt,
			ResponseHeaders: &map[string]*string{"Access-Control-Allow-Origin": jsii.String("'*'")},
		})
	}
}

// authorizer declares the REQUEST authorizer on the Authorization header.
func (a *API) authorizer(st config.Stage, fn awslambda.IFunction) {
	a.Authorizer = awsapigateway.NewRequestAuthorizer(a.Construct, jsii.String("BasicAuth"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String(resource.Name(coreapi.FnAuthorizer, st.Name)),
		Handler:         fn,
		IdentitySources: jsii.Strings(*awsapigateway.IdentitySource_Header(jsii.String("Authorization"))),
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(AuthorizerCacheSeconds)),
	})
}

// routes declares every core/api route as a Lambda proxy integration behind
// the authorizer.
func (a *API) routes(st config.Stage, fns map[string]awslambda.IFunction) {
	validator := a.RestAPI.AddRequestValidator(jsii.String("Params"), &awsapigateway.RequestValidatorOptions{
		RequestValidatorName:      jsii.String("foqus-" + st.Name),
		ValidateRequestParameters: jsii.Bool(true),
		ValidateRequestBody:       jsii.Bool(true), // a no-op without models: the wire bodies stay as FOQUS sends them
	})

	for _, r := range coreapi.Routes {
		params := map[string]*bool{}
		for _, name := range r.Params() {
			params["method.request.path."+name] = jsii.Bool(true)
		}
		a.RestAPI.Root().ResourceForPath(jsii.String(r.Path)).AddMethod(jsii.String(r.Method),
			awsapigateway.NewLambdaIntegration(fns[r.Function], &awsapigateway.LambdaIntegrationOptions{
				Proxy:           jsii.Bool(true),
				AllowTestInvoke: jsii.Bool(false),
			}),
			&awsapigateway.MethodOptions{
				AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
				Authorizer:        a.Authorizer,
				RequestValidator:  validator,
				RequestParameters: &params,
			})
	}
}
