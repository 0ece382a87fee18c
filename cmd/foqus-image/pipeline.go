package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/ami"
)

// targets are the deployed stage's bucket and pipeline.
type targets struct {
	Bucket, PipelineARN string
}

// findTargets reads the service stack's outputs.
func findTargets(ctx context.Context, cfn *cloudformation.Client, stage string) (targets, error) {
	stack := ami.ServiceStack(stage)
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" {
		return targets{}, fmt.Errorf("stage %s is not deployed here: no stack %s (%s); deploy it first: make deploy STAGE=%s", stage, stack, apiErr.ErrorMessage(), stage)
	}
	if err != nil {
		return targets{}, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return targets{}, fmt.Errorf("describe stack %s: %d stacks", stack, len(out.Stacks))
	}
	var t targets
	for _, o := range out.Stacks[0].Outputs {
		switch aws.ToString(o.OutputKey) {
		case ami.OutputArtifactsBucket:
			t.Bucket = aws.ToString(o.OutputValue)
		case ami.OutputPipelineARN:
			t.PipelineARN = aws.ToString(o.OutputValue)
		}
	}
	if t.Bucket == "" || t.PipelineARN == "" {
		return targets{}, fmt.Errorf("stack %s has no outputs %s and %s: deploy this version of the app (make deploy STAGE=%s)", stack, ami.OutputArtifactsBucket, ami.OutputPipelineARN, stage)
	}
	return t, nil
}

// start runs the pipeline once and returns the image build version ARN.
func start(ctx context.Context, ib *imagebuilder.Client, pipeline string) (string, error) {
	out, err := ib.StartImagePipelineExecution(ctx, &imagebuilder.StartImagePipelineExecutionInput{
		ImagePipelineArn: aws.String(pipeline), ClientToken: aws.String(uuid.NewString()),
	})
	if err != nil {
		return "", fmt.Errorf("start pipeline %s: %w", pipeline, err)
	}
	if aws.ToString(out.ImageBuildVersionArn) == "" {
		return "", fmt.Errorf("start pipeline %s: no image build version in the answer", pipeline)
	}
	return aws.ToString(out.ImageBuildVersionArn), nil
}

// BuildError is an image build that ended without an AMI.
type BuildError struct {
	Image  string
	Status ibtypes.ImageStatus
	Reason string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("image %s %s: %s (the failing step's log: CloudWatch Logs /aws/imagebuilder/<image name>, ami/README.md)", e.Image, e.Status, e.Reason)
}

// wait polls the image until it is AVAILABLE (its AMI ids) or ended otherwise.
func wait(ctx context.Context, ib *imagebuilder.Client, image string, poll time.Duration, p *progress) ([]string, error) {
	for {
		out, err := ib.GetImage(ctx, &imagebuilder.GetImageInput{ImageBuildVersionArn: aws.String(image)})
		if err != nil {
			return nil, fmt.Errorf("get image %s: %w", image, err)
		}
		if out.Image == nil || out.Image.State == nil {
			return nil, fmt.Errorf("get image %s: no state in the answer", image)
		}
		st := out.Image.State
		p.state(string(st.Status), aws.ToString(st.Reason))
		switch st.Status {
		case ibtypes.ImageStatusAvailable:
			p.done()
			var amis []string
			if out.Image.OutputResources != nil {
				for _, a := range out.Image.OutputResources.Amis {
					amis = append(amis, aws.ToString(a.Image))
				}
			}
			if len(amis) == 0 {
				return nil, fmt.Errorf("image %s is available but names no AMI", image)
			}
			return amis, nil
		case ibtypes.ImageStatusFailed, ibtypes.ImageStatusCancelled, ibtypes.ImageStatusDeleted, ibtypes.ImageStatusDeprecated, ibtypes.ImageStatusDisabled:
			p.done()
			return nil, &BuildError{Image: image, Status: st.Status, Reason: aws.ToString(st.Reason)}
		}
		select {
		case <-ctx.Done():
			p.done()
			return nil, fmt.Errorf("stopped waiting for %s (the build goes on): %w", image, ctx.Err())
		case <-time.After(poll):
		}
	}
}
