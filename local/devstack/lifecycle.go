package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/resource"
)

// applyLifecycle does for the result lifecycle what moto's CloudFormation
// skips: it verifies the stage's SES sender (so sends are recorded, and shown
// by make dev) and, in place of the template's EventBridge rule (moto does not
// deliver S3 events to EventBridge rules from a template), sends the session
// bucket's restore completions of archives straight to the thaw queue.
func (s *Stack) applyLifecycle(ctx context.Context) error {
	if sender := s.Env[resource.EnvSender]; sender != "" && sender != archive.SenderOff {
		if _, err := sesv2.NewFromConfig(s.Config).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
			return fmt.Errorf("verify sender %s: %w", sender, err)
		}
	}
	q := sqs.NewFromConfig(s.Config)
	u, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(resource.Name(resource.ThawQueue, s.opts.Stage))})
	if err != nil {
		return fmt.Errorf("thaw queue: %w", err)
	}
	a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("thaw queue: %w", err)
	}
	_, err = awsconf.NewS3(s.Config).PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(s.Env[resource.EnvSessionBucket]),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			Events:   []s3types.Event{"s3:ObjectRestore:Completed"},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNameSuffix, Value: aws.String(".ndjson.gz")},
			}}},
		}}},
	})
	if err != nil {
		return fmt.Errorf("session bucket restore events: %w", err)
	}
	return nil
}
