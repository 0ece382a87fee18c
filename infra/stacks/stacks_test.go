package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/functions"
	"github.com/foqus-cloud/stack/infra/stacks"
	"github.com/foqus-cloud/stack/worker/consumer"
)

// functionsByName maps the deployed function name to its logical id.
func functionsByName(t *testing.T, tmpl template) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range tmpl.ofType("AWS::Lambda::Function") {
		name, _ := r.Properties["FunctionName"].(string)
		out[name] = id
	}
	return out
}

func TestEveryFunctionHasItsNameRuntimeAndArchitecture(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		st := s.stage.Config
		byName := functionsByName(t, s.svc)
		if len(byName) != len(api.Functions()) {
			t.Errorf("%s: %d functions, want %d (api.Functions)", st.Name, len(byName), len(api.Functions()))
		}
		for _, base := range api.Functions() {
			name := resource.Name(base, st.Name)
			id, ok := byName[name]
			if !ok {
				t.Errorf("%s: no function named %q", st.Name, name)
				continue
			}
			p := s.svc.Resources[id].Properties
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
				t.Errorf("%s: runtime %v handler %v, want provided.al2023 bootstrap", name, p["Runtime"], p["Handler"])
			}
			if !reflect.DeepEqual(p["Architectures"], []any{"arm64"}) {
				t.Errorf("%s: architectures %v, want [arm64]", name, p["Architectures"])
			}
			if p["MemorySize"] == nil || p["Timeout"] == nil {
				t.Errorf("%s: memory %v timeout %v, want both explicit", name, p["MemorySize"], p["Timeout"])
			}
			if path(p, "TracingConfig", "Mode") != "Active" {
				t.Errorf("%s: X-Ray tracing %v, want Active", name, path(p, "TracingConfig", "Mode"))
			}
			lg := s.svc.Resources[refOf(path(p, "LoggingConfig", "LogGroup"))]
			if lg.Type != "AWS::Logs::LogGroup" || lg.Properties["LogGroupName"] != "/aws/lambda/"+name ||
				lg.Properties["RetentionInDays"] != float64(st.LogRetentionDays) {
				t.Errorf("%s: log group %v %v, want /aws/lambda/%s kept %d days", name, lg.Type, lg.Properties, name, st.LogRetentionDays)
			}
			if path(p, "Environment", "Variables", resource.EnvStage) != st.Name {
				t.Errorf("%s: %s = %v, want %s", name, resource.EnvStage, path(p, "Environment", "Variables", resource.EnvStage), st.Name)
			}
		}
	}
}

// Each function is told exactly what core/api says it reads (the handler
// registry refuses to start without it), and its stage.
func TestFunctionsEnvironmentIsTheAPIContract(t *testing.T) {
	byName := functionsByName(t, dev.svc)
	for _, base := range api.Functions() {
		want, err := api.Env(base)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, resource.EnvStage)
		sort.Strings(want)
		vars, _ := path(dev.svc.Resources[byName[resource.Name(base, "dev")]].Properties, "Environment", "Variables").(map[string]any)
		var got []string
		for k := range vars {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: environment %v, want %v", base, got, want)
		}
	}
}

// functionAccess is what one function's role may do: actions by the data or
// messaging resource they apply to.
func functionAccess(tmpl template, fnID string) map[string]map[string]bool {
	role := refOf(tmpl.Resources[fnID].Properties["Role"])
	access := map[string]map[string]bool{}
	for id, p := range tmpl.ofType("AWS::IAM::Policy") {
		if !mentions(p.Properties["Roles"], `"`+role+`"`) {
			continue
		}
		for _, st := range iamStatements(template{Resources: map[string]cfnResource{id: p}}) {
			for _, target := range []string{"DataUsers", "DataResources", "DataSessions", "DataSimulations", "MessagingJobTopic", "MessagingUpdateTopic", "MessagingUpdateQueue", "MessagingJobQueue"} {
				if !mentions(st.s["Resource"], target) {
					continue
				}
				if access[target] == nil {
					access[target] = map[string]bool{}
				}
				for _, a := range strs(st.s["Action"]) {
					access[target][a] = true
				}
			}
		}
	}
	return access
}

// Least privilege: a function reaches a table, bucket or topic only when it
// reads its name, and writes only where it must.
func TestFunctionGrantsFollowTheirEnvironment(t *testing.T) {
	byName := functionsByName(t, dev.svc)
	writes := func(actions map[string]bool, list ...string) bool {
		for _, a := range list {
			if actions[a] {
				return true
			}
		}
		return false
	}
	for _, base := range api.Functions() {
		vars, _ := api.Env(base)
		reads := map[string]bool{}
		for _, v := range vars {
			reads[v] = true
		}
		acc := functionAccess(dev.svc, byName[resource.Name(base, "dev")])
		check := func(target string, want bool) {
			if got := len(acc[target]) > 0; got != want {
				t.Errorf("%s: access to %s %v, want %v (%v)", base, target, got, want, acc[target])
			}
		}
		check("DataUsers", reads[resource.EnvUsersTable])
		check("DataResources", reads[resource.EnvResourcesTable])
		check("DataSessions", reads[resource.EnvSessionBucket])
		check("DataSimulations", reads[resource.EnvSimulationBucket])
		check("MessagingJobTopic", reads[resource.EnvJobTopicARN])
		check("MessagingUpdateTopic", reads[resource.EnvUpdateTopicARN])
		check("MessagingUpdateQueue", base == api.FnUpdateProcessor)
		check("MessagingJobQueue", reads[resource.EnvJobQueueURL]) // the monitor reads its attributes
		if got := writes(acc["DataResources"], "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"); got != functions.WritesResources[base] {
			t.Errorf("%s: writes FOQUS_Resources %v, want %v", base, got, functions.WritesResources[base])
		}
		if got := writes(acc["DataSimulations"], "s3:PutObject", "s3:DeleteObject*"); got != functions.WritesSimulations[base] {
			t.Errorf("%s: writes the simulation bucket %v, want %v", base, got, functions.WritesSimulations[base])
		}
		if got := writes(acc["DataSessions"], "s3:PutObject"); got != functions.WritesSessions[base] {
			t.Errorf("%s: writes the session bucket %v, want %v", base, got, functions.WritesSessions[base])
		}
		deletes := functions.WritesSessions[base] || base == api.FnSessionDelete // a deleted session's outputs go with it
		if got := writes(acc["DataSessions"], "s3:DeleteObject", "s3:DeleteObject*"); got != deletes {
			t.Errorf("%s: deletes session objects %v, want %v", base, got, deletes)
		}
		if writes(acc["DataUsers"], "dynamodb:PutItem", "dynamodb:UpdateItem") {
			t.Errorf("%s: writes the session bucket or the users table: %v", base, acc)
		}
	}
}

// apiPaths maps every AWS::ApiGateway::Resource logical id to its full path.
func apiPaths(tmpl template) map[string]string {
	res := tmpl.ofType("AWS::ApiGateway::Resource")
	paths := map[string]string{}
	var walk func(id string) string
	walk = func(id string) string {
		if p, ok := paths[id]; ok {
			return p
		}
		r := res[id]
		parent := ""
		if pid := refOf(r.Properties["ParentId"]); pid != "" {
			if _, isRes := res[pid]; isRes {
				parent = walk(pid)
			}
		}
		paths[id] = parent + "/" + r.Properties["PathPart"].(string)
		return paths[id]
	}
	for id := range res {
		walk(id)
	}
	return paths
}

func TestEveryRouteReachesItsFunctionThroughTheAuthorizer(t *testing.T) {
	tmpl := dev.svc
	byName := functionsByName(t, tmpl)
	auths := tmpl.ofType("AWS::ApiGateway::Authorizer")
	if len(auths) != 1 {
		t.Fatalf("%d authorizers, want 1", len(auths))
	}
	var authID string
	for id, a := range auths {
		authID = id
		p := a.Properties
		if p["Type"] != "REQUEST" || p["IdentitySource"] != "method.request.header.Authorization" {
			t.Errorf("authorizer type %v identity %v, want REQUEST on the Authorization header", p["Type"], p["IdentitySource"])
		}
		if ttl, _ := p["AuthorizerResultTtlInSeconds"].(float64); ttl <= 0 || ttl > 300 {
			t.Errorf("authorizer cache %v s, want 1..300", p["AuthorizerResultTtlInSeconds"])
		}
		if !mentions(p["AuthorizerUri"], `"`+byName[resource.Name(api.FnAuthorizer, "dev")]+`"`) {
			t.Errorf("authorizer does not invoke %s: %v", api.FnAuthorizer, p["AuthorizerUri"])
		}
	}
	paths := apiPaths(tmpl)
	type key struct{ method, path string }
	got := map[key]cfnResource{}
	for _, m := range tmpl.ofType("AWS::ApiGateway::Method") {
		if m.Properties["HttpMethod"] == "OPTIONS" {
			continue // CORS preflight, a mock integration
		}
		p := paths[refOf(m.Properties["ResourceId"])]
		if p == "" {
			p = "/"
		}
		got[key{m.Properties["HttpMethod"].(string), p}] = m
	}
	if len(got) != len(api.Routes) {
		t.Errorf("%d methods besides OPTIONS, want %d (api.Routes)", len(got), len(api.Routes))
	}
	for _, r := range api.Routes {
		m, ok := got[key{r.Method, r.Path}]
		if !ok {
			t.Errorf("%s %s: no method", r.Method, r.Path)
			continue
		}
		p := m.Properties
		if p["AuthorizationType"] != "CUSTOM" || refOf(p["AuthorizerId"]) != authID {
			t.Errorf("%s %s: authorization %v by %v, want CUSTOM by %s", r.Method, r.Path, p["AuthorizationType"], p["AuthorizerId"], authID)
		}
		if path(p, "Integration", "Type") != "AWS_PROXY" {
			t.Errorf("%s %s: integration %v, want AWS_PROXY", r.Method, r.Path, path(p, "Integration", "Type"))
		}
		fnID := byName[resource.Name(r.Function, "dev")]
		if fnID == "" || !mentions(path(p, "Integration", "Uri"), `"`+fnID+`"`) {
			t.Errorf("%s %s: integration %v does not invoke %s", r.Method, r.Path, path(p, "Integration", "Uri"), r.Function)
		}
		if p["RequestValidatorId"] == nil {
			t.Errorf("%s %s: no request validator", r.Method, r.Path)
		}
	}
	// API Gateway may invoke every route function (one permission per method).
	perms := map[string]int{}
	for _, pm := range tmpl.ofType("AWS::Lambda::Permission") {
		if pm.Properties["Principal"] == "apigateway.amazonaws.com" {
			perms[refOf(pm.Properties["FunctionName"])]++
		}
	}
	for _, r := range api.Routes {
		if perms[byName[resource.Name(r.Function, "dev")]] == 0 {
			t.Errorf("%s may not be invoked by API Gateway", r.Function)
		}
	}
}

func TestAPIStageLogsTracesAndThrottles(t *testing.T) {
	st := dev.stage.Config
	stages := dev.svc.ofType("AWS::ApiGateway::Stage")
	if len(stages) != 1 {
		t.Fatalf("%d API stages, want 1", len(stages))
	}
	apis := dev.svc.ofType("AWS::ApiGateway::RestApi")
	for _, a := range apis {
		if a.Properties["Name"] != resource.Name(resource.RestAPI, st.Name) {
			t.Errorf("API name %v, want %q", a.Properties["Name"], resource.Name(resource.RestAPI, st.Name))
		}
	}
	for _, s := range stages {
		p := s.Properties
		if p["TracingEnabled"] != true {
			t.Error("API stage without X-Ray tracing")
		}
		lg := dev.svc.Resources[refOf(path(p, "AccessLogSetting", "DestinationArn"))]
		if lg.Type != "AWS::Logs::LogGroup" || lg.Properties["RetentionInDays"] != float64(st.LogRetentionDays) {
			t.Errorf("access logs go to %v %v, want an explicit log group with retention", lg.Type, lg.Properties)
		}
		ms := path(p, "MethodSettings", 0)
		if path(ms, "ThrottlingRateLimit") != float64(st.APIRateLimit) || path(ms, "ThrottlingBurstLimit") != float64(st.APIBurstLimit) {
			t.Errorf("throttling %v, want rate %d burst %d", ms, st.APIRateLimit, st.APIBurstLimit)
		}
	}
}

// statement is one IAM policy statement with where it came from.
type statement struct {
	where string
	s     map[string]any
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(x)
				out = append(out, string(b))
			}
		}
		return out
	}
	return nil
}

func iamStatements(tmpl template) []statement {
	var out []statement
	add := func(where string, doc any) {
		list, _ := path(doc, "Statement").([]any)
		for _, s := range list {
			out = append(out, statement{where, s.(map[string]any)})
		}
	}
	for id, r := range tmpl.Resources {
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			add(id, r.Properties["PolicyDocument"])
		case "AWS::IAM::Role":
			pols, _ := r.Properties["Policies"].([]any)
			for _, p := range pols {
				add(id, path(p, "PolicyDocument"))
			}
		}
	}
	return out
}

// resourceStar lists the only actions allowed on Resource "*", and why.
var resourceStar = map[string]string{
	"xray:PutTraceSegments":                 "X-Ray has no resource-level permissions (function tracing)",
	"xray:PutTelemetryRecords":              "X-Ray has no resource-level permissions (function tracing)",
	"cloudwatch:PutMetricData":              "no resource-level permissions; conditioned on the worker namespace",
	"autoscaling:DescribeAutoScalingGroups": "no resource-level permissions (the monitor's fleet status)",
	"ec2:DescribeInstances":                 "no resource-level permissions (the monitor's fleet status)",
}

// managedPolicies lists the only AWS managed policies attached, and why.
var managedPolicies = map[string]string{
	"AmazonSSMManagedInstanceCore":         "Session Manager on workers instead of inbound RDP",
	"AmazonAPIGatewayPushToCloudWatchLogs": "API Gateway's account-level logging role",
	"EC2InstanceProfileForImageBuilder":    "Image Builder's documented policy for build instances",
}

func TestIAMHasNoWildcardActionsAndStarResourcesOnlyWhereUnscopable(t *testing.T) {
	for _, tmpl := range []template{dev.data, dev.svc, img.svc} {
		for _, st := range iamStatements(tmpl) {
			if st.s["Effect"] != "Allow" {
				continue
			}
			actions := strs(st.s["Action"])
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: statement allows action %q", st.where, a)
				}
			}
			if st.s["NotAction"] != nil || st.s["NotResource"] != nil {
				t.Errorf("%s: NotAction/NotResource in an Allow: %v", st.where, st.s)
			}
			for _, r := range strs(st.s["Resource"]) {
				if r != "*" {
					continue
				}
				for _, a := range actions {
					if _, ok := resourceStar[a]; !ok {
						t.Errorf("%s: %s on Resource * is not in the allow-list", st.where, a)
					}
					if a == "cloudwatch:PutMetricData" && path(st.s, "Condition", "StringEquals", "cloudwatch:namespace") != resource.WorkerMetricNamespace {
						t.Errorf("%s: PutMetricData not restricted to %s: %v", st.where, resource.WorkerMetricNamespace, st.s["Condition"])
					}
				}
			}
		}
		for id, r := range tmpl.ofType("AWS::IAM::Role") {
			arns, _ := r.Properties["ManagedPolicyArns"].([]any)
			for _, arn := range arns {
				b, _ := json.Marshal(arn)
				ok := false
				for name := range managedPolicies {
					ok = ok || strings.Contains(string(b), "/"+name+`"`)
				}
				if !ok {
					t.Errorf("%s: managed policy %s is not in the allow-list", id, b)
				}
			}
		}
	}
}

// The worker role can do its job and no more than the listed actions.
func TestWorkerRoleGrants(t *testing.T) {
	// The role of the workers' launch template's instance profile (the image
	// pipeline's build instances have an EC2 role of their own).
	roleID := ""
	for _, lt := range dev.svc.ofType("AWS::EC2::LaunchTemplate") {
		profile, _ := path(lt.Properties, "LaunchTemplateData", "IamInstanceProfile", "Arn", "Fn::GetAtt", 0).(string)
		if p, ok := dev.svc.Resources[profile]; ok && p.Type == "AWS::IAM::InstanceProfile" {
			roleID = refOf(path(p.Properties, "Roles", 0))
		}
	}
	if roleID == "" {
		t.Fatal("no worker role")
	}
	got := map[string]bool{}
	for id, p := range dev.svc.ofType("AWS::IAM::Policy") {
		if !mentions(p.Properties["Roles"], `"`+roleID+`"`) {
			continue
		}
		for _, st := range iamStatements(template{Resources: map[string]cfnResource{id: p}}) {
			for _, a := range strs(st.s["Action"]) {
				got[a] = true
			}
		}
	}
	// The role grants exactly what the worker calls (worker/consumer.IAMActions).
	for a, where := range consumer.IAMActions {
		if !got[a] {
			t.Errorf("worker role lacks %s, which %s calls", a, where)
		}
	}
	for a := range got {
		if _, ok := consumer.IAMActions[a]; !ok {
			t.Errorf("worker role grants %s, which the worker never calls", a)
		}
	}
	for _, a := range []string{"s3:DeleteObject*", "dynamodb:DeleteItem", "sqs:SendMessage", "dynamodb:Scan", "logs:PutLogEvents", "sns:Subscribe"} {
		if got[a] {
			t.Errorf("worker role has %s, which it does not need", a)
		}
	}
}

func denyInsecure(t *testing.T, tmpl template, policyType, targetProp string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range tmpl.ofType(policyType) {
		for _, st := range iamStatements(template{Resources: map[string]cfnResource{"p": {Type: "AWS::IAM::Policy", Properties: map[string]any{"PolicyDocument": p.Properties["PolicyDocument"]}}}}) {
			if st.s["Effect"] == "Deny" && path(st.s, "Condition", "Bool", "aws:SecureTransport") == "false" {
				targets, ok := p.Properties[targetProp].([]any)
				if !ok {
					targets = []any{p.Properties[targetProp]}
				}
				for _, target := range targets {
					out[refOf(target)] = true
				}
			}
		}
	}
	return out
}

func TestBucketsAreLockedDown(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		buckets := s.data.ofType("AWS::S3::Bucket")
		if len(buckets) != 4 {
			t.Errorf("%s: %d buckets, want sessions, simulations, artifacts and access logs", s.stage.Config.Name, len(buckets))
		}
		tls := denyInsecure(t, s.data, "AWS::S3::BucketPolicy", "Bucket")
		for id, b := range buckets {
			p := b.Properties
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				if path(p, "PublicAccessBlockConfiguration", k) != true {
					t.Errorf("%s: %s not set", id, k)
				}
			}
			if path(p, "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault", "SSEAlgorithm") == nil {
				t.Errorf("%s: no default encryption", id)
			}
			if path(p, "VersioningConfiguration", "Status") != "Enabled" {
				t.Errorf("%s: not versioned", id)
			}
			if rules, _ := path(p, "LifecycleConfiguration", "Rules").([]any); len(rules) == 0 {
				t.Errorf("%s: no lifecycle rules", id)
			}
			if !tls[id] {
				t.Errorf("%s: no TLS-only bucket policy", id)
			}
			isLogBucket := mentions(p["BucketName"], resource.AccessLogBucket)
			if !isLogBucket && path(p, "LoggingConfiguration", "DestinationBucketName") == nil {
				t.Errorf("%s: no server access logs", id)
			}
			wantPolicy := "Delete"
			if s.stage.Config.Retain() {
				wantPolicy = "Retain"
			}
			if b.DeletionPolicy != wantPolicy {
				t.Errorf("%s %s: deletion policy %q, want %q", s.stage.Config.Name, id, b.DeletionPolicy, wantPolicy)
			}
		}
	}
}

func TestTablesKeysAndProtection(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		st := s.stage.Config
		tables := map[string]cfnResource{}
		for _, tb := range s.data.ofType("AWS::DynamoDB::Table") {
			tables[tb.Properties["TableName"].(string)] = tb
		}
		users, res := tables[resource.Name(resource.UsersTable, st.Name)], tables[resource.Name(resource.ResourcesTable, st.Name)]
		if users.Type == "" || res.Type == "" || len(tables) != 2 {
			t.Fatalf("%s: tables %v, want %s and %s", st.Name, tables, resource.UsersTable, resource.ResourcesTable)
		}
		for name, tb := range tables {
			p := tb.Properties
			if p["BillingMode"] != "PAY_PER_REQUEST" {
				t.Errorf("%s: billing %v, want on-demand", name, p["BillingMode"])
			}
			if path(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") != true {
				t.Errorf("%s: no point-in-time recovery", name)
			}
			if path(p, "SSESpecification", "SSEEnabled") != true {
				t.Errorf("%s: no KMS server-side encryption", name)
			}
			if got := p["DeletionProtectionEnabled"] == true; got != st.Retain() {
				t.Errorf("%s: deletion protection %v, want %v", name, got, st.Retain())
			}
			if got := tb.DeletionPolicy == "Retain"; got != st.Retain() {
				t.Errorf("%s: deletion policy %q (retain %v)", name, tb.DeletionPolicy, st.Retain())
			}
		}
		keys := func(v any) map[string]string {
			out := map[string]string{}
			for _, k := range v.([]any) {
				out[path(k, "KeyType").(string)] = path(k, "AttributeName").(string)
			}
			return out
		}
		if got := keys(users.Properties["KeySchema"]); !reflect.DeepEqual(got, map[string]string{"HASH": resource.UsersKey}) {
			t.Errorf("users key %v", got)
		}
		if got := keys(res.Properties["KeySchema"]); !reflect.DeepEqual(got, map[string]string{"HASH": resource.PK, "RANGE": resource.SK}) {
			t.Errorf("resources key %v", got)
		}
		if path(res.Properties, "TimeToLiveSpecification", "AttributeName") != resource.TTLAttribute {
			t.Errorf("resources TTL %v", res.Properties["TimeToLiveSpecification"])
		}
		lsis := map[string]string{}
		for _, l := range res.Properties["LocalSecondaryIndexes"].([]any) {
			if path(l, "Projection", "ProjectionType") != "ALL" {
				t.Errorf("index %v projection %v", path(l, "IndexName"), path(l, "Projection"))
			}
			lsis[path(l, "IndexName").(string)] = keys(path(l, "KeySchema"))["RANGE"]
		}
		if want := map[string]string{resource.FinishedIndex: resource.FinishedSeq, resource.PendingIndex: resource.PendingSeq}; !reflect.DeepEqual(lsis, want) {
			t.Errorf("local indexes %v, want %v", lsis, want)
		}
		// core/sessionstore reads every query strongly consistent, which a
		// global index refuses (ValidationException; moto accepts it).
		if g := res.Properties["GlobalSecondaryIndexes"]; g != nil {
			t.Errorf("resources table has global indexes %v: core/sessionstore's consistent queries would fail on them", g)
		}
		for _, a := range res.Properties["AttributeDefinitions"].([]any) {
			n := path(a, "AttributeName")
			if (n == resource.FinishedSeq || n == resource.PendingSeq) && path(a, "AttributeType") != "N" {
				t.Errorf("%v is %v, want N", n, path(a, "AttributeType"))
			}
		}
	}
}

func TestQueuesTopicsAndSubscriptions(t *testing.T) {
	st := dev.stage.Config
	tmpl := dev.svc
	queues := map[string]string{} // name -> logical id
	for id, q := range tmpl.ofType("AWS::SQS::Queue") {
		queues[q.Properties["QueueName"].(string)] = id
		if q.Properties["SqsManagedSseEnabled"] != true && q.Properties["KmsMasterKeyId"] == nil {
			t.Errorf("queue %v: no server-side encryption", q.Properties["QueueName"])
		}
	}
	tls := denyInsecure(t, tmpl, "AWS::SQS::QueuePolicy", "Queues")
	for _, base := range []string{resource.JobQueue, resource.UpdateQueue, resource.JobDLQ, resource.UpdateDLQ} {
		id, ok := queues[resource.Name(base, st.Name)]
		if !ok {
			t.Errorf("no queue %s", resource.Name(base, st.Name))
			continue
		}
		if !tls[id] {
			t.Errorf("queue %s: no TLS-only policy", base)
		}
	}
	for q, dlq := range map[string]string{resource.JobQueue: resource.JobDLQ, resource.UpdateQueue: resource.UpdateDLQ} {
		p := tmpl.Resources[queues[resource.Name(q, st.Name)]].Properties
		if refOf(path(p, "RedrivePolicy", "deadLetterTargetArn")) != queues[resource.Name(dlq, st.Name)] || path(p, "RedrivePolicy", "maxReceiveCount") != float64(5) {
			t.Errorf("%s: redrive %v, want %s after 5 receives", q, p["RedrivePolicy"], dlq)
		}
	}
	if v := tmpl.Resources[queues[resource.Name(resource.JobQueue, st.Name)]].Properties["VisibilityTimeout"]; v != float64(st.JobLeaseMinutes*60) {
		t.Errorf("job queue visibility %v, want %d", v, st.JobLeaseMinutes*60)
	}

	topics := map[string]string{}
	for id, tp := range tmpl.ofType("AWS::SNS::Topic") {
		topics[tp.Properties["TopicName"].(string)] = id
		if tp.Properties["KmsMasterKeyId"] == nil {
			t.Errorf("topic %v: no KMS encryption", tp.Properties["TopicName"])
		}
	}
	ttls := denyInsecure(t, tmpl, "AWS::SNS::TopicPolicy", "Topics")
	for _, base := range []string{resource.JobTopic, resource.UpdateTopic, resource.AlertTopic} {
		id, ok := topics[resource.Name(base, st.Name)]
		if !ok || !ttls[id] {
			t.Errorf("topic %s: exists %v, TLS-only %v", base, ok, ttls[id])
		}
	}
	for _, k := range tmpl.ofType("AWS::KMS::Key") {
		if k.Properties["EnableKeyRotation"] != true {
			t.Error("topic key without rotation")
		}
	}

	type sub struct{ topic, queue string }
	subs := map[sub]map[string]any{}
	for _, s := range tmpl.ofType("AWS::SNS::Subscription") {
		if s.Properties["Protocol"] != "sqs" || s.Properties["RawMessageDelivery"] != true {
			t.Errorf("subscription %v: want raw sqs delivery", s.Properties)
		}
		subs[sub{refOf(s.Properties["TopicArn"]), refOf(s.Properties["Endpoint"])}] = s.Properties
	}
	job, ok := subs[sub{topics[resource.Name(resource.JobTopic, st.Name)], queues[resource.Name(resource.JobQueue, st.Name)]}]
	if !ok || !reflect.DeepEqual(job["FilterPolicy"], map[string]any{resource.AttrEvent: []any{resource.EventJobSubmit}}) {
		t.Errorf("job topic -> job queue: %v, want filter %s=%s", job, resource.AttrEvent, resource.EventJobSubmit)
	}
	upd, ok := subs[sub{topics[resource.Name(resource.UpdateTopic, st.Name)], queues[resource.Name(resource.UpdateQueue, st.Name)]}]
	if !ok || upd["FilterPolicy"] != nil {
		t.Errorf("update topic -> update queue: %v, want unfiltered", upd)
	}
	if len(subs) != 2 {
		t.Errorf("%d subscriptions, want 2", len(subs))
	}

	esms := tmpl.ofType("AWS::Lambda::EventSourceMapping")
	proc := functionsByName(t, tmpl)[resource.Name(api.FnUpdateProcessor, st.Name)]
	if len(esms) != 3 {
		t.Fatalf("%d event source mappings, want 3 (update processor, archiver, thaw; lifecycle_test.go checks the last two)", len(esms))
	}
	for _, e := range esms {
		if refOf(e.Properties["EventSourceArn"]) != queues[resource.Name(resource.UpdateQueue, st.Name)] {
			continue
		}
		if refOf(e.Properties["FunctionName"]) != proc || refOf(e.Properties["EventSourceArn"]) != queues[resource.Name(resource.UpdateQueue, st.Name)] ||
			!reflect.DeepEqual(e.Properties["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}) {
			t.Errorf("event source mapping %v, want update queue -> %s with ReportBatchItemFailures", e.Properties, api.FnUpdateProcessor)
		}
	}
}

func TestWorkerFleet(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		st := s.stage.Config
		tmpl := s.svc
		asgs := tmpl.ofType("AWS::AutoScaling::AutoScalingGroup")
		if len(asgs) != 1 {
			t.Fatalf("%s: %d auto scaling groups, want 1", st.Name, len(asgs))
		}
		for _, g := range asgs {
			p := g.Properties
			if p["MaxSize"] != strconv.Itoa(st.MaxWorkers) || p["MinSize"] != strconv.Itoa(st.MinWorkers) {
				t.Errorf("%s: group min %v max %v, want %d..%d (seats)", st.Name, p["MinSize"], p["MaxSize"], st.MinWorkers, st.MaxWorkers)
			}
			if p["AutoScalingGroupName"] != resource.Name(resource.WorkerGroup, st.Name) {
				t.Errorf("group name %v", p["AutoScalingGroupName"])
			}
			lt := tmpl.Resources[refOf(path(p, "LaunchTemplate", "LaunchTemplateId"))]
			d := lt.Properties["LaunchTemplateData"]
			if path(d, "MetadataOptions", "HttpTokens") != "required" {
				t.Errorf("%s: IMDSv2 not required: %v", st.Name, path(d, "MetadataOptions"))
			}
			if path(d, "InstanceType") != st.WorkerInstanceType {
				t.Errorf("instance type %v, want %s", path(d, "InstanceType"), st.WorkerInstanceType)
			}
			// Resolved at launch: the stage deploys before the pipeline made an image.
			if want := "resolve:ssm:" + fmt.Sprintf(resource.WorkerAMISSM, st.Name); path(d, "ImageId") != want {
				t.Errorf("AMI from %v, want %s", path(d, "ImageId"), want)
			}
		}
		for id, sg := range tmpl.ofType("AWS::EC2::SecurityGroup") {
			if sg.Properties["SecurityGroupIngress"] != nil {
				t.Errorf("%s: inbound rules %v", id, sg.Properties["SecurityGroupIngress"])
			}
		}
		if n := len(tmpl.ofType("AWS::EC2::SecurityGroupIngress")); n != 0 {
			t.Errorf("%d inbound rules, want none", n)
		}
		// Both hooks' names and timeouts: TestLifecycleHooks.
		if hooks := tmpl.ofType("AWS::AutoScaling::LifecycleHook"); len(hooks) != 2 {
			t.Errorf("%d lifecycle hooks, want the launch and the termination hook", len(hooks))
		}
		kinds := map[string]int{}
		for _, sp := range tmpl.ofType("AWS::AutoScaling::ScalingPolicy") {
			kinds[sp.Properties["PolicyType"].(string)]++
			if sp.Properties["PolicyType"] != "TargetTrackingScaling" {
				continue
			}
			for _, m := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible", "GroupInServiceInstances", "(queued + running) / workers"} {
				if !mentions(sp.Properties["TargetTrackingConfiguration"], m) {
					t.Errorf("target tracking is not on jobs per in-service worker (no %s): %v", m, sp.Properties["TargetTrackingConfiguration"])
				}
			}
		}
		if kinds["TargetTrackingScaling"] != 1 || kinds["StepScaling"] != 1 {
			t.Errorf("scaling policies %v, want one target tracking (backlog per worker) and one step (out from zero)", kinds)
		}
	}
}

// The worker config parameter is resource.WorkerConfig as JSON, every field set.
func TestWorkerConfigParameter(t *testing.T) {
	cfg := workerConfig(t, dev)
	fields := reflect.TypeOf(resource.WorkerConfig{})
	for i := range fields.NumField() {
		tag := strings.Split(fields.Field(i).Tag.Get("json"), ",")[0]
		if v := cfg[tag]; v == nil || v == "" || v == float64(0) {
			t.Errorf("worker config %q is empty", tag)
		}
	}
	if cfg["stage"] != dev.stage.Config.Name {
		t.Errorf("worker config stage %v", cfg["stage"])
	}
}

func TestAlarmsNotifyTheAlertTopic(t *testing.T) {
	tmpl := dev.svc
	alert := ""
	for id, tp := range tmpl.ofType("AWS::SNS::Topic") {
		if tp.Properties["TopicName"] == resource.Name(resource.AlertTopic, "dev") {
			alert = id
		}
	}
	names := map[string]bool{}
	for _, a := range tmpl.ofType("AWS::CloudWatch::Alarm") {
		if strings.Contains(fmt.Sprint(a.Properties["AlarmDescription"]), "scaling") {
			continue // the step policy's own alarm acts on the group
		}
		names[a.Properties["AlarmName"].(string)] = true
		if refOf(path(a.Properties, "AlarmActions", 0)) != alert {
			t.Errorf("alarm %v notifies %v, want the alert topic", a.Properties["AlarmName"], a.Properties["AlarmActions"])
		}
	}
	want := []string{"job-dlq-not-empty", "update-dlq-not-empty", "api-5xx", "worker-heartbeat-missing"}
	for _, fn := range api.Functions() {
		want = append(want, fn+"-errors")
	}
	for _, w := range want {
		if !names["foqus-dev-"+w] {
			t.Errorf("no alarm foqus-dev-%s", w)
		}
	}
	if len(tmpl.ofType("AWS::CloudWatch::Dashboard")) != 1 {
		t.Error("no dashboard")
	}
}

func TestCostTagsOnEverything(t *testing.T) {
	// Stack-level tags: CloudFormation propagates them to every taggable resource.
	for _, stack := range []awscdk.Stack{dev.stage.Data, dev.stage.Service} {
		tags := *stack.Tags().TagValues()
		if tags[stacks.TagProject] == nil || *tags[stacks.TagProject] != stacks.ProjectName || tags[stacks.TagStage] == nil || *tags[stacks.TagStage] != "dev" {
			t.Errorf("%s: stack tags %v", *stack.StackName(), tags)
		}
	}
	untaggable := map[string]bool{"AWS::CloudWatch::Dashboard": true}
	for _, tmpl := range []template{dev.data, dev.svc} {
		for id, r := range tmpl.Resources {
			tags, ok := r.Properties["Tags"]
			if !ok || untaggable[r.Type] {
				continue // types without a Tags property
			}
			// A list of {Key, Value} (most types) or a map (API Gateway v2).
			has := func(k string) bool { return mentions(tags, `"Key":"`+k+`"`) || mentions(tags, `"`+k+`":`) }
			if !has(stacks.TagProject) || !has(stacks.TagStage) {
				t.Errorf("%s (%s): tags %v lack %s/%s", id, r.Type, tags, stacks.TagProject, stacks.TagStage)
			}
		}
		for _, typ := range []string{"AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::AutoScaling::AutoScalingGroup"} {
			for id, r := range tmpl.ofType(typ) {
				if r.Properties["Tags"] == nil {
					t.Errorf("%s (%s) has no tags", id, typ)
				}
			}
		}
	}
}

// moto cannot run custom-resource Lambdas, and a real deploy should not need them.
func TestNoCustomResources(t *testing.T) {
	for _, tmpl := range []template{dev.data, dev.svc, prod.data, prod.svc, img.svc} {
		for id, r := range tmpl.Resources {
			if strings.HasPrefix(r.Type, "Custom::") || r.Type == "AWS::CloudFormation::CustomResource" {
				t.Errorf("%s is a custom resource (%s)", id, r.Type)
			}
		}
	}
}

func TestCDKNagHasNoUnsuppressedErrors(t *testing.T) {
	for _, s := range []*synthesized{dev, prod, img} {
		for _, stack := range []awscdk.Stack{s.stage.Data, s.stage.Service} {
			errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, e := range *errs {
				t.Errorf("%s: %s: %v", *stack.StackName(), *e.Id, e.Entry.Data) //nolint:staticcheck // the type moved package in TypeScript; Go still returns it
			}
		}
	}
	for _, sp := range stacks.ServiceSuppressions {
		if !strings.HasPrefix(sp.Rule, "AwsSolutions-") || len(sp.Reason) < 20 {
			t.Errorf("suppression %q needs a rule id and a reason: %q", sp.Rule, sp.Reason)
		}
	}
}

// cfn-lint (from the interpreter the Makefile found) reports no errors.
func TestCfnLint(t *testing.T) {
	py := os.Getenv("MOTO_PYTHON")
	if py == "" {
		t.Skip("MOTO_PYTHON is unset: run under `make test`, or set it to a python3 that has cfn-lint")
	}
	var files []string
	for _, s := range []*synthesized{dev, prod, img} {
		for _, stack := range []awscdk.Stack{s.stage.Data, s.stage.Service} {
			files = append(files, filepath.Join(s.outDir, *stack.StackName()+".template.json"))
		}
	}
	// cfn-lint 1.x has no __main__ module: call its runner. One process for
	// every template (its start-up dominates).
	args := append([]string{"-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())", "--format", "parseable"}, files...)
	cmd := exec.Command(py, args...)
	out, err := cmd.CombinedOutput()
	var errLines []string
	for _, l := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`:E\d{4}:`).MatchString(l) {
			errLines = append(errLines, l)
		}
	}
	// Exit status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 a crash.
	code := cmd.ProcessState.ExitCode()
	if len(errLines) > 0 || code&2 != 0 || code == 1 || code < 0 {
		t.Errorf("cfn-lint: exit %d (%v)\n%s", code, err, strings.Join(errLines, "\n"))
		if len(errLines) == 0 {
			t.Log(string(out))
		}
	}
}

func TestMissingBootstrapFailsWithItsPath(t *testing.T) {
	st, err := config.Parse(stagesInCDK, "dev")
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	_, err = stacks.Build(awscdk.NewApp(nil), st, empty)
	want := filepath.Join(empty, "functions", api.FnAuthorizer, "bootstrap")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make build") {
		t.Errorf("Build with no bootstraps: %v, want an error naming %s and make build", err, want)
	}
}
