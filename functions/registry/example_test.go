package registry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/functions/registry"
)

// A local gateway builds every handler once and serves a route by its
// function name, with the principal its authorizer call returned.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := awsconf.Load(ctx)
	if err != nil {
		log.Fatal(err)
	}
	set, err := registry.New(cfg, registry.OSEnv())
	if err != nil {
		log.Fatal(err)
	}
	resp, err := set.HTTP[api.FnSessionCreate](ctx, events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Resource: "/session", Path: "/session",
		RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"principalId": "alice"}},
	})
	fmt.Println(resp.StatusCode, resp.Body, err)
}

// A Lambda main builds only its own function's handler, so its bootstrap
// links only the SDK services that function uses.
func ExampleBuilder() {
	cfg, err := registry.LambdaConfig()
	if err != nil {
		log.Fatal(err)
	}
	start, err := registry.NewBuilder(cfg, registry.OSEnv()).SessionStart()
	if err != nil {
		log.Fatal(err)
	}
	_ = start // lambda.Start(start)
}
