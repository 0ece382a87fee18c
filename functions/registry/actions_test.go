package registry_test

import (
	"slices"
	"testing"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/registry"
)

// Every function has a row, and every action in it says where it is called.
func TestEveryFunctionHasAnActionRow(t *testing.T) {
	for _, fn := range api.Functions() {
		row := registry.Actions(fn)
		if row == nil {
			t.Errorf("%s: no row in IAMActions", fn)
		}
		for a, where := range row {
			if where == "" {
				t.Errorf("%s: %s without where it is called", fn, a)
			}
		}
	}
	if registry.Actions("no-such-function") != nil {
		t.Error("a row for an unknown function")
	}
}

// SDK requests map to the IAM actions AWS authorises them by.
func TestActionsOfSDKRequests(t *testing.T) {
	for _, c := range []struct {
		service, op string
		want        []string
	}{
		{"DynamoDB", "PutItem", []string{"dynamodb:PutItem"}},
		{"DynamoDB", "TransactWriteItems", nil},
		{"S3", "ListObjectsV2", []string{"s3:ListBucket"}},
		{"S3", "DeleteObjects", []string{"s3:DeleteObject"}},
		{"S3", "HeadObject", []string{"s3:GetObject"}},
		{"S3", "CopyObject", []string{"s3:GetObject", "s3:PutObject"}},
		{"SQS", "SendMessageBatch", []string{"sqs:SendMessage"}},
		{"SNS", "PublishBatch", []string{"sns:Publish"}},
		{"SESv2", "SendEmail", []string{"ses:SendEmail"}},
		{"ApiGatewayManagementApi", "PostToConnection", []string{"execute-api:ManageConnections"}},
		{"Auto Scaling", "DescribeAutoScalingGroups", []string{"autoscaling:DescribeAutoScalingGroups"}},
	} {
		got, ok := registry.ActionsOf(c.service, c.op)
		if !ok || !slices.Equal(got, c.want) {
			t.Errorf("%s.%s: %v %v, want %v", c.service, c.op, got, ok, c.want)
		}
	}
	if _, ok := registry.ActionsOf("Glacier", "UploadArchive"); ok {
		t.Error("a rule for a service the stack does not use")
	}
}
