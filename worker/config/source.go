package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/worker/service"
)

// SourceError: the --config source could not be read.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("worker config from %s: %v", e.Source, e.Err)
}
func (e *SourceError) Unwrap() error { return e.Err }

// Resolve completes s from source (a worker/service --config value) and
// validates the result. Stack settings given by flag or environment win over
// the source's. Only the imds source (EC2) watches instance metadata for
// termination notices unless --imds-poll was given.
func Resolve(ctx context.Context, source string, s Settings, cfg aws.Config) (Settings, error) {
	var loaded resource.WorkerConfig
	var err error
	switch {
	case source == service.ConfigEnv:
	case source == service.ConfigIMDS:
		loaded, err = fromIMDS(ctx, &s, cfg)
	case strings.HasPrefix(source, service.ConfigSSMPrefix):
		loaded, err = fromSSM(ctx, ssm.NewFromConfig(cfg), strings.TrimPrefix(source, service.ConfigSSMPrefix))
	case strings.HasPrefix(source, service.ConfigFilePrefix):
		loaded, err = fromFile(strings.TrimPrefix(source, service.ConfigFilePrefix))
	default:
		err = service.ValidateConfig(source)
	}
	if err != nil {
		return Settings{}, &SourceError{Source: source, Err: err}
	}
	fill(&s.Stack, loaded)
	if source != service.ConfigIMDS && !s.explicit["imds-poll"] {
		s.IMDSPoll = 0
	}
	if s.Instance == "" {
		s.Instance, _ = os.Hostname()
	}
	return s, s.Validate()
}

// fill sets the empty fields of dst from src.
func fill(dst *resource.WorkerConfig, src resource.WorkerConfig) {
	for _, f := range []struct {
		d *string
		s string
	}{
		{&dst.Stage, src.Stage}, {&dst.Region, src.Region}, {&dst.JobQueueURL, src.JobQueueURL},
		{&dst.UpdateTopicARN, src.UpdateTopicARN}, {&dst.ResourcesTable, src.ResourcesTable},
		{&dst.SessionBucket, src.SessionBucket}, {&dst.SimulationBucket, src.SimulationBucket},
	} {
		if *f.d == "" {
			*f.d = f.s
		}
	}
	for _, f := range []struct{ d, s *int }{{&dst.RetentionDays, &src.RetentionDays}, {&dst.DrainHookSeconds, &src.DrainHookSeconds}} {
		if *f.d == 0 {
			*f.d = *f.s
		}
	}
}

func decode(r io.Reader) (resource.WorkerConfig, error) {
	var c resource.WorkerConfig
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("not a worker config: %w", err)
	}
	return c, nil
}

func fromFile(path string) (resource.WorkerConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return resource.WorkerConfig{}, err
	}
	return decode(bytes.NewReader(b))
}

func fromSSM(ctx context.Context, c *ssm.Client, name string) (resource.WorkerConfig, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: &name})
	if err != nil {
		return resource.WorkerConfig{}, err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return resource.WorkerConfig{}, errors.New("parameter " + name + " has no value")
	}
	return decode(strings.NewReader(*out.Parameter.Value))
}

// ErrNoStage: the instance has no stage tag. Image Builder's build and test
// instances are such: the worker idles there instead of failing, which would
// make the SCM restart it over and over.
var ErrNoStage = errors.New("the instance has no stage tag (an image build or test instance)")

// fromIMDS reads the instance id, region and stage tag from instance
// metadata (IMDSv2), then the stage's SSM parameter.
func fromIMDS(ctx context.Context, s *Settings, cfg aws.Config) (resource.WorkerConfig, error) {
	meta := imds.NewFromConfig(cfg)
	id, err := Metadata(ctx, meta, "instance-id")
	if err != nil {
		return resource.WorkerConfig{}, err
	}
	region, err := Metadata(ctx, meta, "placement/region")
	if err != nil {
		return resource.WorkerConfig{}, err
	}
	stage, err := Metadata(ctx, meta, "tags/instance/"+resource.TagStage)
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return resource.WorkerConfig{}, fmt.Errorf("%w (%s)", ErrNoStage, id)
	}
	if err != nil {
		return resource.WorkerConfig{}, fmt.Errorf("%w (the launch template must allow tags in metadata)", err)
	}
	if s.Instance == "" {
		s.Instance = id
	}
	if s.Stack.Region == "" {
		s.Stack.Region = region
	}
	c := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = s.Stack.Region })
	return fromSSM(ctx, c, fmt.Sprintf(resource.WorkerConfigSSM, stage))
}

// Metadata reads one instance metadata path (under meta-data/) as text.
func Metadata(ctx context.Context, c *imds.Client, path string) (string, error) {
	out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	b, err := io.ReadAll(out.Content)
	_ = out.Content.Close() // read to the end: nothing left to report
	if err != nil {
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
