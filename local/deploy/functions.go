package deploy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Function is a deployed Lambda function: its name, the environment its
// handler reads (the resource names the CDK app gave it) and its Timeout,
// the deadline Lambda gives each invocation.
type Function struct {
	Name    string
	Env     map[string]string
	Timeout time.Duration
}

// Functions reads every deployed function's configuration, by function name.
func (d *Deployment) Functions(ctx context.Context) (map[string]Function, error) {
	lc := lambda.NewFromConfig(d.cfg)
	out := map[string]Function{}
	for _, r := range d.Resources("AWS::Lambda::Function") {
		name, ok := d.Physical(r.Stack, r.Logical)
		if !ok {
			return nil, fmt.Errorf("function %s/%s was not created", r.Stack, r.Logical)
		}
		c, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		f := Function{Name: name, Env: map[string]string{}, Timeout: time.Duration(aws.ToInt32(c.Timeout)) * time.Second}
		if c.Environment != nil {
			f.Env = c.Environment.Variables
		}
		out[name] = f
	}
	return out, nil
}

// QueueMapping is an SQS event source mapping of the template: which
// function consumes which queue, in batches of how many.
type QueueMapping struct {
	Function       string
	QueueURL       string
	BatchSize      int
	ReportFailures bool // ReportBatchItemFailures: failed messages stay, the rest are deleted
}

// QueueMappings resolves the template's event source mappings.
func (d *Deployment) QueueMappings(ctx context.Context) ([]QueueMapping, error) {
	var out []QueueMapping
	for _, r := range d.Resources("AWS::Lambda::EventSourceMapping") {
		p := r.Resource.Properties
		fn, err := d.Resolve(ctx, r.Stack, p["FunctionName"])
		if err != nil {
			return nil, err
		}
		ga, ok := p["EventSourceArn"].(map[string]any)["Fn::GetAtt"].([]any)
		if !ok || len(ga) != 2 {
			return nil, fmt.Errorf("%s: event source is not a queue of the stack", r.Logical)
		}
		url, ok := d.Physical(r.Stack, fmt.Sprint(ga[0]))
		if !ok {
			return nil, fmt.Errorf("%s: queue %v was not created", r.Logical, ga[0])
		}
		m := QueueMapping{Function: fn, QueueURL: url, BatchSize: 10}
		if b, err := strconv.Atoi(fmt.Sprint(p["BatchSize"])); err == nil {
			m.BatchSize = b
		}
		types, _ := p["FunctionResponseTypes"].([]any)
		for _, t := range types {
			m.ReportFailures = m.ReportFailures || t == "ReportBatchItemFailures"
		}
		out = append(out, m)
	}
	return out, nil
}
