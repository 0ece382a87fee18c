package stacks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/local/deploy"
)

// motoSkips are the resource types moto's CloudFormation accepts but does not
// create (it still reports CREATE_COMPLETE): measured, see TOOLCHAIN.md. Every
// other resource of a template must exist in the deployed stack.
var motoSkips = map[string]bool{
	"AWS::SNS::Subscription":            true,
	"AWS::SQS::QueuePolicy":             true,
	"AWS::SNS::TopicPolicy":             true,
	"AWS::S3::BucketPolicy":             true,
	"AWS::ApiGateway::Account":          true,
	"AWS::ApiGateway::Authorizer":       true,
	"AWS::ApiGateway::Stage":            true,
	"AWS::AutoScaling::LifecycleHook":   true,
	"AWS::AutoScaling::ScalingPolicy":   true,
	"AWS::CloudWatch::Alarm":            true,
	"AWS::ApiGateway::GatewayResponse":  true,
	"AWS::ApiGateway::RequestValidator": true,
	"AWS::SES::EmailIdentity":           true,
	"AWS::Logs::MetricFilter":           true, // the authorizers' failure counts: moto 5.2.1's CloudFormation creates none (measured)
	// The Cloud monitor's WebSocket API: moto 5.2.1's CloudFormation creates
	// none of these (measured); the local gateway serves the WebSocket API.
	"AWS::ApiGatewayV2::Api":         true,
	"AWS::ApiGatewayV2::Authorizer":  true,
	"AWS::ApiGatewayV2::Integration": true,
	"AWS::ApiGatewayV2::Route":       true,
	"AWS::ApiGatewayV2::Stage":       true,
	// moto has no Image Builder ("No Moto CloudFormation support"); make
	// image's tests talk to a wire-level fake of it instead.
	"AWS::ImageBuilder::Component":                   true,
	"AWS::ImageBuilder::ImageRecipe":                 true,
	"AWS::ImageBuilder::InfrastructureConfiguration": true,
	"AWS::ImageBuilder::DistributionConfiguration":   true,
	"AWS::ImageBuilder::ImagePipeline":               true,
}

// motoNoPhysicalID are types moto creates but lists without a physical id.
var motoNoPhysicalID = map[string]bool{
	"AWS::ApiGateway::Deployment": true,
	"AWS::ApiGateway::Method":     true,
	"AWS::Lambda::Permission":     true,
}

const testAMI = "ami-0fd0b1b2c3d4e5f60" // what the image pipeline would publish

// The synthesized templates deploy into moto in order (the service stack
// imports the data stack's exports), every emulated resource is created, and
// the deployed functions and the worker config name resources that exist.
func TestDeploysIntoMoto(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := mototest.Start(ctx)
	if errors.Is(err, mototest.ErrNoMoto) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	asm, err := deploy.ReadAssembly(dev.outDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := deploy.Deploy(ctx, cfg, asm, map[string]string{"/foqus/dev/worker/ami": testAMI})
	if err != nil {
		t.Fatal(err)
	}
	cfn := cloudformation.NewFromConfig(cfg)
	compareResources(ctx, t, cfn, *dev.stage.Data.StackName(), dev.data)
	compareResources(ctx, t, cfn, *dev.stage.Service.StackName(), dev.svc)
	if subs := len(d.Resources("AWS::SNS::Subscription")); len(d.Applied) != subs || subs == 0 {
		t.Errorf("applied %v, want the template's %d subscriptions", d.Applied, subs)
	}

	checkFunctionEnvironments(ctx, t, cfg)
	checkWorkerConfig(ctx, t, cfg)
}

// compareResources checks every template resource of a type moto emulates is
// in the deployed stack, created, with a physical id.
func compareResources(ctx context.Context, t *testing.T, cfn *cloudformation.Client, stack string, tmpl template) {
	t.Helper()
	deployed := map[string]cfntypes.StackResourceSummary{}
	p := cloudformation.NewListStackResourcesPaginator(cfn, &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.StackResourceSummaries {
			deployed[aws.ToString(r.LogicalResourceId)] = r
		}
	}
	skipped := map[string]int{}
	created := 0
	for id, r := range tmpl.Resources {
		d, ok := deployed[id]
		switch {
		case !ok && motoSkips[r.Type]:
			skipped[r.Type]++
		case !ok:
			t.Errorf("%s: %s (%s) was not created", stack, id, r.Type)
		case d.ResourceStatus != cfntypes.ResourceStatusCreateComplete || aws.ToString(d.PhysicalResourceId) == "" && !motoNoPhysicalID[r.Type]:
			t.Errorf("%s: %s (%s) is %s, physical id %q", stack, id, r.Type, d.ResourceStatus, aws.ToString(d.PhysicalResourceId))
		default:
			created++
		}
	}
	var names []string
	for typ, n := range skipped {
		names = append(names, fmt.Sprintf("%s×%d", typ, n))
	}
	sort.Strings(names)
	t.Logf("%s: %d of %d resources created; not emulated by moto: %s", stack, created, len(tmpl.Resources), strings.Join(names, ", "))
}

// resourceExists checks that the resource an environment variable names exists.
func resourceExists(ctx context.Context, cfg aws.Config, key, value string) error {
	switch key {
	case resource.EnvStage:
		if value != "dev" {
			return errors.New("stage is " + value)
		}
		return nil
	case resource.EnvMonitorEndpoint:
		// The WebSocket API's Management endpoint; moto creates no v2 API, so
		// only its shape can be checked: https, execute-api, the stage.
		if !strings.HasPrefix(value, "https://") || !strings.Contains(value, ".execute-api.") || !strings.HasSuffix(value, "/dev") {
			return errors.New("not an execute-api stage URL: " + value)
		}
		return nil
	case resource.EnvUsersTable, resource.EnvResourcesTable, resource.EnvConnectionsTable:
		_, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(value)})
		return err
	case resource.EnvSessionBucket, resource.EnvSimulationBucket:
		_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(value)})
		return err
	case resource.EnvJobTopicARN, resource.EnvUpdateTopicARN:
		_, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(value)})
		return err
	case resource.EnvFreeWindow, resource.EnvArchiveClass, resource.EnvRestoreTier, resource.EnvFreeJobLimit, resource.EnvSender:
		_, err := archive.SettingsFromEnv(map[string]string{key: value})
		return err
	case resource.EnvRetentionDays:
		_, err := sessionstore.RetentionDays(value)
		return err
	case resource.EnvJobQueueURL, resource.EnvUpdateQueueURL, resource.EnvArchiveQueueURL:
		_, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(value)})
		return err
	}
	return errors.New("no check for this variable: add one")
}

func checkFunctionEnvironments(ctx context.Context, t *testing.T, cfg aws.Config) {
	t.Helper()
	lc := lambda.NewFromConfig(cfg)
	byName := functionsByName(t, dev.svc)
	if len(byName) == 0 {
		t.Fatal("no functions in the template")
	}
	checked := 0
	defer func() {
		t.Logf("%d functions deployed, %d environment variables checked against moto", len(byName), checked)
	}()
	for name := range byName {
		out, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Errorf("function %s: %v", name, err)
			continue
		}
		if out.Environment == nil || len(out.Environment.Variables) == 0 {
			t.Errorf("function %s: no environment", name)
			continue
		}
		for k, v := range out.Environment.Variables {
			checked++
			if err := resourceExists(ctx, cfg, k, v); err != nil {
				t.Errorf("function %s: %s=%s: %v", name, k, v, err)
			}
		}
	}
}

func checkWorkerConfig(ctx context.Context, t *testing.T, cfg aws.Config) {
	t.Helper()
	out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/foqus/dev/worker/config")})
	if err != nil {
		t.Fatal(err)
	}
	var wc resource.WorkerConfig
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &wc); err != nil {
		t.Fatalf("worker config: %v: %s", err, aws.ToString(out.Parameter.Value))
	}
	if wc.Region != cfg.Region {
		t.Errorf("worker config region %q, want %q", wc.Region, cfg.Region)
	}
	for k, v := range map[string]string{
		resource.EnvStage: wc.Stage, resource.EnvJobQueueURL: wc.JobQueueURL, resource.EnvUpdateTopicARN: wc.UpdateTopicARN,
		resource.EnvResourcesTable: wc.ResourcesTable, resource.EnvSessionBucket: wc.SessionBucket, resource.EnvSimulationBucket: wc.SimulationBucket,
	} {
		if err := resourceExists(ctx, cfg, k, v); err != nil {
			t.Errorf("worker config %s=%q: %v", k, v, err)
		}
	}
}
