package deploy

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/foqus-cloud/stack/core/awsconf"
)

// Emulator-side facts a real account has before a deploy: the CDK bootstrap
// version the templates check, and the AMI the image pipeline publishes.
const (
	BootstrapVersionParam = "/cdk-bootstrap/hnb659fds/version"
	BootstrapVersion      = "30"
	Account               = "123456789012" // moto's default account
)

// Deployment is what a deploy created: every stack's resources and exports.
type Deployment struct {
	cfg      aws.Config
	Stacks   []Stack
	physical map[string]map[string]string // stack -> logical id -> physical id
	exports  map[string]string
	Skipped  []string // template resources moto does not emulate and nothing here applied
	Applied  []string // template resources applied through the service APIs after CreateStack
}

// Deploy creates every stack of asm in the emulator cfg points at. params are
// SSM parameters to put first (e.g. the worker AMI id the image pipeline would publish).
func Deploy(ctx context.Context, cfg aws.Config, asm *Assembly, params map[string]string) (*Deployment, error) {
	d := &Deployment{cfg: cfg, Stacks: asm.Stacks, physical: map[string]map[string]string{}, exports: map[string]string{}}
	ssmc := ssm.NewFromConfig(cfg)
	all := map[string]string{BootstrapVersionParam: BootstrapVersion}
	for k, v := range params {
		all[k] = v
	}
	for k, v := range all {
		if _, err := ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(k), Value: aws.String(v), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
			return nil, fmt.Errorf("put parameter %s: %w", k, err)
		}
	}
	cfn := cloudformation.NewFromConfig(cfg)
	for _, st := range asm.Stacks {
		if err := publishAssets(ctx, awsconf.NewS3(cfg), st, cfg.Region); err != nil {
			return nil, err
		}
		body, err := os.ReadFile(st.TemplateFile)
		if err != nil {
			return nil, err
		}
		if body, err = motoCompatible(body); err != nil {
			return nil, err
		}
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName: aws.String(st.Name), TemplateBody: aws.String(string(body)),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
		}); err != nil {
			return nil, fmt.Errorf("create stack %s: %w", st.Name, err)
		}
		if err := waitCreated(ctx, cfn, st.Name); err != nil {
			return nil, err
		}
		if d.physical[st.Name], err = stackResources(ctx, cfn, st.Name); err != nil {
			return nil, err
		}
		if err := d.readExports(ctx, cfn); err != nil {
			return nil, err
		}
		if err := d.applySkipped(ctx, st); err != nil {
			return nil, err
		}
	}
	if err := d.disableMotoMappings(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// disableMotoMappings turns off moto's own SQS event source mappings: moto
// would take every message off the queue to invoke the function itself, which
// it cannot without Docker, and so push every message into the DLQ. The local
// stack plays the mappings instead (see QueueMappings).
func (d *Deployment) disableMotoMappings(ctx context.Context) error {
	lc := lambda.NewFromConfig(d.cfg)
	p := lambda.NewListEventSourceMappingsPaginator(lc, &lambda.ListEventSourceMappingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list event source mappings: %w", err)
		}
		for _, m := range page.EventSourceMappings {
			if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)}); err != nil {
				return fmt.Errorf("disable event source mapping %s: %w", aws.ToString(m.UUID), err)
			}
		}
	}
	return nil
}

// Physical returns the physical id of a stack's logical resource.
func (d *Deployment) Physical(stack, logical string) (string, bool) {
	id, ok := d.physical[stack][logical]
	return id, ok && id != ""
}

// Resources lists the template resources of one type across stacks.
func (d *Deployment) Resources(typ string) []Ref {
	var out []Ref
	for _, st := range d.Stacks {
		for id, r := range st.Template.Resources {
			if r.Type == typ {
				out = append(out, Ref{Stack: st.Name, Logical: id, Resource: r})
			}
		}
	}
	return out
}

// Ref names one template resource.
type Ref struct {
	Stack, Logical string
	Resource       Resource
}

// motoCompatible adapts what moto 5.2.1 cannot parse though AWS requires it:
// moto reads IntegrationHttpMethod and Uri of every API Gateway integration,
// while AWS forbids a Uri on the MOCK integrations CDK declares for CORS.
func motoCompatible(body []byte) ([]byte, error) {
	var tmpl map[string]any
	if err := json.Unmarshal(body, &tmpl); err != nil {
		return nil, err
	}
	res, _ := tmpl["Resources"].(map[string]any)
	for _, r := range res {
		rm, _ := r.(map[string]any)
		props, _ := rm["Properties"].(map[string]any)
		integ, ok := props["Integration"].(map[string]any)
		if rm["Type"] == "AWS::ApiGateway::Method" && ok && integ["Type"] == "MOCK" {
			integ["IntegrationHttpMethod"], integ["Uri"] = "OPTIONS", ""
		}
	}
	return json.Marshal(tmpl)
}

// publishAssets does what cdk-assets does for file assets: each (zipped when
// a directory) into the bootstrap bucket under its hashed key.
func publishAssets(ctx context.Context, s3c *s3.Client, st Stack, region string) error {
	if st.AssetsFile == "" {
		return nil
	}
	b, err := os.ReadFile(st.AssetsFile)
	if err != nil {
		return err
	}
	var m struct {
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
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parse %s: %w", st.AssetsFile, err)
	}
	subst := strings.NewReplacer("${AWS::AccountId}", Account, "${AWS::Region}", region, "${AWS::Partition}", "aws")
	dir := filepath.Dir(st.AssetsFile)
	for hash, f := range m.Files {
		src := filepath.Join(dir, f.Source.Path)
		var body []byte
		if f.Source.Packaging == "zip" {
			body, err = zipped(src, filepath.Join(dir, zipCache, hash+".zip"))
		} else {
			body, err = os.ReadFile(src)
		}
		if err != nil {
			return fmt.Errorf("asset %s: %w", hash, err)
		}
		for _, dst := range f.Destinations {
			bucket := subst.Replace(dst.BucketName)
			if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
				if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
					return fmt.Errorf("asset bucket %s: %w", bucket, err)
				}
			}
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(subst.Replace(dst.ObjectKey)), Body: bytes.NewReader(body)}); err != nil {
				return fmt.Errorf("asset %s: %w", hash, err)
			}
		}
	}
	return nil
}

// zipCache is the directory of the cloud assembly that keeps zipped
// directory assets between deploys.
const zipCache = ".local-deploy-zips"

// zipped returns the zip of the asset directory dir, kept at cache: an
// asset's hash is that of its content, so a kept zip is never stale.
// Deflating a function's 9 MB bootstrap took half a second, and 7 to 16 s
// under the race detector; a stack has about 30 of them, and every test of
// the local stack deploys it. A cache that cannot be written is skipped.
func zipped(dir, cache string) ([]byte, error) {
	if b, err := os.ReadFile(cache); err == nil {
		return b, nil
	}
	b, err := zipDir(dir)
	if err != nil {
		return nil, err
	}
	_ = writeAtomic(cache, b)
	return b, nil
}

// writeAtomic writes b to path through a temporary file and a rename, so
// deploys running at once never read half a zip.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func zipDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// Deflate's fastest level: a third of the default's time, 10% larger.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
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
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StackWait is the longest a stack's creation is waited for.
const StackWait = 5 * time.Minute

// waitCreated waits with the SDK's CloudFormation waiter (its backoff, its
// terminal states); a failure says the stack's status and reason.
func waitCreated(ctx context.Context, cfn *cloudformation.Client, stack string) error {
	in := &cloudformation.DescribeStacksInput{StackName: aws.String(stack)}
	w := cloudformation.NewStackCreateCompleteWaiter(cfn, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second // moto creates a stack in about a second
	})
	err := w.Wait(ctx, in, StackWait)
	if err == nil {
		return nil
	}
	if out, derr := cfn.DescribeStacks(ctx, in); derr == nil && len(out.Stacks) > 0 {
		return fmt.Errorf("stack %s: %s: %s: %w", stack, out.Stacks[0].StackStatus, aws.ToString(out.Stacks[0].StackStatusReason), err)
	}
	return fmt.Errorf("stack %s: %w", stack, err)
}

func stackResources(ctx context.Context, cfn *cloudformation.Client, stack string) (map[string]string, error) {
	out := map[string]string{}
	p := cloudformation.NewListStackResourcesPaginator(cfn, &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("resources of %s: %w", stack, err)
		}
		for _, r := range page.StackResourceSummaries {
			out[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		}
	}
	return out, nil
}

func (d *Deployment) readExports(ctx context.Context, cfn *cloudformation.Client) error {
	p := cloudformation.NewListExportsPaginator(cfn, &cloudformation.ListExportsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list exports: %w", err)
		}
		for _, e := range page.Exports {
			d.exports[aws.ToString(e.Name)] = aws.ToString(e.Value)
		}
	}
	return nil
}

// applySkipped creates what moto's CloudFormation skipped and the app needs
// to work: SNS -> SQS subscriptions, with raw delivery and filter policies.
// (Queue, topic and bucket policies only restrict access, which moto does not check.)
func (d *Deployment) applySkipped(ctx context.Context, st Stack) error {
	for id, r := range st.Template.Resources {
		if r.Type != "AWS::SNS::Subscription" {
			continue
		}
		if _, created := d.Physical(st.Name, id); created {
			continue // a moto that does create them
		}
		if err := d.subscribe(ctx, st.Name, r.Properties); err != nil {
			return fmt.Errorf("%s/%s: %w", st.Name, id, err)
		}
		d.Applied = append(d.Applied, st.Name+"/"+id)
	}
	return nil
}

func (d *Deployment) subscribe(ctx context.Context, stack string, p map[string]any) error {
	topic, err := d.Resolve(ctx, stack, p["TopicArn"])
	if err != nil {
		return err
	}
	endpoint, err := d.Resolve(ctx, stack, p["Endpoint"])
	if err != nil {
		return err
	}
	attrs := map[string]string{}
	if raw, ok := p["RawMessageDelivery"]; ok {
		attrs["RawMessageDelivery"] = fmt.Sprint(raw)
	}
	for _, k := range []string{"FilterPolicy", "RedrivePolicy"} {
		if v, ok := p[k]; ok {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			attrs[k] = string(b)
		}
	}
	if v, ok := p["FilterPolicyScope"].(string); ok {
		attrs["FilterPolicyScope"] = v
	}
	proto, _ := p["Protocol"].(string)
	_, err = sns.NewFromConfig(d.cfg).Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topic), Protocol: aws.String(proto), Endpoint: aws.String(endpoint), Attributes: attrs,
	})
	return err
}

// Resolve evaluates the intrinsic functions the app's subscriptions and
// mappings use: Ref, Fn::GetAtt of an Arn, Fn::ImportValue, Fn::Join.
func (d *Deployment) Resolve(ctx context.Context, stack string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			if id, ok := d.Physical(stack, ref); ok {
				return id, nil
			}
			return "", fmt.Errorf("Ref %s: no such resource in %s", ref, stack)
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 && ga[1] == "Arn" {
			return d.arnOf(ctx, stack, fmt.Sprint(ga[0]))
		}
		if name, ok := v["Fn::ImportValue"]; ok {
			n, err := d.Resolve(ctx, stack, name)
			if err != nil {
				return "", err
			}
			if val, ok := d.exports[n]; ok {
				return val, nil
			}
			return "", fmt.Errorf("no export %s", n)
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				s, err := d.Resolve(ctx, stack, p)
				if err != nil {
					return "", err
				}
				out[i] = s
			}
			return strings.Join(out, fmt.Sprint(j[0])), nil
		}
	}
	return "", fmt.Errorf("cannot resolve %v", v)
}

// arnOf returns the ARN of a queue, topic or function of the stack.
func (d *Deployment) arnOf(ctx context.Context, stack, logical string) (string, error) {
	id, ok := d.Physical(stack, logical)
	if !ok {
		return "", fmt.Errorf("GetAtt %s.Arn: no such resource in %s", logical, stack)
	}
	st := d.stack(stack)
	switch st.Template.Resources[logical].Type {
	case "AWS::SQS::Queue":
		out, err := sqs.NewFromConfig(d.cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(id), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return "", fmt.Errorf("arn of queue %s: %w", id, err)
		}
		return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
	case "AWS::SNS::Topic":
		return id, nil // a topic's physical id is its ARN
	case "AWS::Lambda::Function":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", d.cfg.Region, Account, id), nil
	}
	return "", errors.New("GetAtt Arn of " + st.Template.Resources[logical].Type + " is not supported")
}

func (d *Deployment) stack(name string) Stack {
	for _, s := range d.Stacks {
		if s.Name == name {
			return s
		}
	}
	return Stack{}
}
