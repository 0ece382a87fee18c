package stacks_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
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
}

// motoNoPhysicalID are types moto creates but lists without a physical id.
var motoNoPhysicalID = map[string]bool{
	"AWS::ApiGateway::Deployment": true,
	"AWS::ApiGateway::Method":     true,
	"AWS::Lambda::Permission":     true,
}

// motoCompatible adapts what moto 5.2.1 cannot parse and AWS requires, and
// says what it changed: moto reads IntegrationHttpMethod and Uri of every
// API Gateway integration (KeyError otherwise), while AWS forbids a Uri on the
// MOCK integrations CDK declares for CORS preflight. Everything else deploys
// as synthesized.
func motoCompatible(t *testing.T, body []byte) []byte {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal(body, &tmpl); err != nil {
		t.Fatal(err)
	}
	patched := 0
	for _, r := range tmpl["Resources"].(map[string]any) {
		integ, ok := path(r, "Properties", "Integration").(map[string]any)
		if path(r, "Type") != "AWS::ApiGateway::Method" || !ok || integ["Type"] != "MOCK" {
			continue
		}
		integ["IntegrationHttpMethod"], integ["Uri"] = "OPTIONS", ""
		patched++
	}
	if patched > 0 {
		t.Logf("moto shim: IntegrationHttpMethod and Uri set on %d MOCK integrations", patched)
	}
	out, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CDK bootstrap names of the default synthesizer (what `cdk bootstrap` creates).
const (
	bootstrapVersionParam = "/cdk-bootstrap/hnb659fds/version"
	bootstrapVersion      = "30"
	testAMI               = "ami-0fd0b1b2c3d4e5f60"
)

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
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ssmc := ssm.NewFromConfig(cfg)
	cfn := cloudformation.NewFromConfig(cfg)
	ident, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account, region := *ident.Account, cfg.Region

	// What `cdk bootstrap` and the image pipeline provide in a real account.
	for name, value := range map[string]string{
		bootstrapVersionParam:   bootstrapVersion,
		"/foqus/dev/worker/ami": testAMI,
	} {
		if _, err := ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: "String"}); err != nil {
			t.Fatal(err)
		}
	}

	for _, stack := range []string{*dev.stage.Data.StackName(), *dev.stage.Service.StackName()} {
		publishAssets(ctx, t, s3c, dev.outDir, stack, account, region)
		body, err := os.ReadFile(filepath.Join(dev.outDir, stack+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(stack),
			TemplateBody: aws.String(string(motoCompatible(t, body))),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
		}, func(o *cloudformation.Options) { o.RetryMaxAttempts = 1 }); err != nil { // a retry would hide the first error

			t.Fatalf("create %s: %v", stack, err)
		}
		status := waitForStack(ctx, t, cfn, stack)
		if status != cfntypes.StackStatusCreateComplete {
			t.Fatalf("%s: %s", stack, status)
		}
		tmpl := dev.data
		if stack == *dev.stage.Service.StackName() {
			tmpl = dev.svc
		}
		compareResources(ctx, t, cfn, stack, tmpl)
	}

	checkFunctionEnvironments(ctx, t, cfg)
	checkWorkerConfig(ctx, t, cfg)
}

// publishAssets does what cdk-assets does: the stack's file assets (zipped
// directories, plain files) into the bootstrap bucket under their hashed keys.
func publishAssets(ctx context.Context, t *testing.T, s3c *s3.Client, outDir, stack, account, region string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(outDir, stack+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Files map[string]struct {
			Source struct {
				Path      string `json:"path"`
				Packaging string `json:"packaging"`
			} `json:"source"`
			Destinations map[string]struct {
				BucketName string `json:"bucketName"`
				ObjectKey  string `json:"objectKey"`
			} `json:"destinations"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	subst := strings.NewReplacer("${AWS::AccountId}", account, "${AWS::Region}", region, "${AWS::Partition}", "aws")
	for hash, f := range manifest.Files {
		src := filepath.Join(outDir, f.Source.Path)
		var body []byte
		if f.Source.Packaging == "zip" {
			body = zipDir(t, src)
		} else if body, err = os.ReadFile(src); err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Destinations {
			bucket := subst.Replace(d.BucketName)
			if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
				if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
					t.Fatalf("asset bucket %s: %v", bucket, err)
				}
			}
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(subst.Replace(d.ObjectKey)), Body: bytes.NewReader(body)}); err != nil {
				t.Fatalf("asset %s: %v", hash, err)
			}
		}
	}
}

func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(rel)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func waitForStack(ctx context.Context, t *testing.T, cfn *cloudformation.Client, stack string) cfntypes.StackStatus {
	t.Helper()
	for {
		out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		if err != nil {
			t.Fatal(err)
		}
		st := out.Stacks[0].StackStatus
		if !strings.HasSuffix(string(st), "_IN_PROGRESS") {
			if st != cfntypes.StackStatusCreateComplete {
				ev, _ := cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stack)})
				for _, e := range ev.StackEvents {
					if e.ResourceStatusReason != nil {
						t.Logf("%s %s: %s", aws.ToString(e.LogicalResourceId), e.ResourceStatus, *e.ResourceStatusReason)
					}
				}
			}
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still %s: %v", stack, st, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
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
	case resource.EnvUsersTable, resource.EnvResourcesTable:
		_, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(value)})
		return err
	case resource.EnvSessionBucket, resource.EnvSimulationBucket:
		_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(value)})
		return err
	case resource.EnvJobTopicARN, resource.EnvUpdateTopicARN:
		_, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(value)})
		return err
	case resource.EnvJobQueueURL, resource.EnvUpdateQueueURL:
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
