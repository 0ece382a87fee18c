package stacks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
)

// The Cloud monitor: one WebSocket API with the route model's routes,
// $connect behind the REQUEST authorizer on Authorization, a stage with
// access logs, the connections table with its TTL, and PostToConnection
// granted on this API and stage only.
func TestMonitorWebSocketAPI(t *testing.T) {
	tmpl := dev.svc
	apis := tmpl.ofType("AWS::ApiGatewayV2::Api")
	if len(apis) != 1 {
		t.Fatalf("%d ApiGatewayV2 APIs, want 1", len(apis))
	}
	var apiID string
	for id, a := range apis {
		apiID = id
		if a.Properties["ProtocolType"] != "WEBSOCKET" || a.Properties["RouteSelectionExpression"] != api.MonitorRouteSelection ||
			a.Properties["Name"] != resource.Name(resource.MonitorAPI, "dev") {
			t.Errorf("API %v", a.Properties)
		}
	}
	byName := functionsByName(t, tmpl)
	routes := map[string]cfnResource{}
	for _, r := range tmpl.ofType("AWS::ApiGatewayV2::Route") {
		routes[r.Properties["RouteKey"].(string)] = r
	}
	integrations := tmpl.ofType("AWS::ApiGatewayV2::Integration")
	for _, want := range api.MonitorRoutes {
		r, ok := routes[want.Key]
		if !ok {
			t.Errorf("no route %s", want.Key)
			continue
		}
		in := integrations[strings.TrimPrefix(path(r.Properties, "Target").(map[string]any)["Fn::Join"].([]any)[1].([]any)[1].(map[string]any)["Ref"].(string), "")]
		if !mentions(in.Properties["IntegrationUri"], byName[resource.Name(want.Function, "dev")]) {
			t.Errorf("route %s does not reach %s: %v", want.Key, want.Function, in.Properties["IntegrationUri"])
		}
		auth := r.Properties["AuthorizationType"]
		if want.Key == "$connect" && auth != "CUSTOM" || want.Key != "$connect" && auth != nil && auth != "NONE" {
			t.Errorf("route %s authorization %v", want.Key, auth)
		}
	}
	if len(routes) != len(api.MonitorRoutes) {
		t.Errorf("%d routes, want %d", len(routes), len(api.MonitorRoutes))
	}
	for _, a := range tmpl.ofType("AWS::ApiGatewayV2::Authorizer") {
		if a.Properties["AuthorizerType"] != "REQUEST" || !mentions(a.Properties["IdentitySource"], "route.request.header.Authorization") ||
			!mentions(a.Properties["AuthorizerUri"], byName[resource.Name(api.FnMonitorAuthorizer, "dev")]) {
			t.Errorf("authorizer %v", a.Properties)
		}
	}
	stages := tmpl.ofType("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("%d WebSocket stages", len(stages))
	}
	for _, s := range stages {
		if s.Properties["StageName"] != "dev" || path(s.Properties, "AccessLogSettings", "DestinationArn") == nil || path(s.Properties, "DefaultRouteSettings", "ThrottlingRateLimit") == nil {
			t.Errorf("stage %v", s.Properties)
		}
	}
	found := false
	for _, tb := range tmpl.ofType("AWS::DynamoDB::Table") {
		if tb.Properties["TableName"] != resource.Name(resource.ConnectionsTable, "dev") {
			continue
		}
		found = true
		if path(tb.Properties, "TimeToLiveSpecification", "AttributeName") != resource.TTLAttribute || path(tb.Properties, "TimeToLiveSpecification", "Enabled") != true ||
			path(tb.Properties, "SSESpecification", "SSEEnabled") != true || !mentions(tb.Properties["KeySchema"], resource.ConnUserKey) {
			t.Errorf("connections table %v", tb.Properties)
		}
	}
	if !found {
		t.Fatal("no connections table")
	}
	// ManageConnections only on POST @connections of this API's dev stage.
	manage := 0
	for _, st := range iamStatements(tmpl) {
		for _, a := range strs(st.s["Action"]) {
			if a != "execute-api:ManageConnections" {
				continue
			}
			manage++
			b, _ := json.Marshal(st.s["Resource"])
			if !strings.Contains(string(b), apiID) || !strings.Contains(string(b), "/dev/POST/@connections/*") {
				t.Errorf("%s: ManageConnections on %s, want this API's dev stage POST @connections", st.where, b)
			}
		}
	}
	var pushers int
	for _, fn := range api.Functions() {
		vars, _ := api.Env(fn)
		for _, v := range vars {
			if v == resource.EnvMonitorEndpoint {
				pushers++
			}
		}
	}
	if manage != pushers {
		t.Errorf("%d ManageConnections statements, want one per function that posts (%d)", manage, pushers)
	}
}
