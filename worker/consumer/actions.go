package consumer

// IAMActions are the AWS actions the worker service calls, each with where:
// the stack grants its instance role exactly these (infra/stacks tests the
// role against this list), so a call added here without its grant, or a
// grant without a call, fails a test.
var IAMActions = map[string]string{
	"sqs:ReceiveMessage":                         "receive.go",
	"sqs:ChangeMessageVisibility":                "extend.go (lease extension), process.go (hand-back)",
	"sqs:DeleteMessage":                          "process.go, poison.go",
	"sns:Publish":                                "process.go via event.Publisher.Publish (the job's terminal event)",
	"kms:GenerateDataKey*":                       "sns:Publish to the KMS-encrypted update topic",
	"kms:Decrypt":                                "sns:Publish to the KMS-encrypted update topic",
	"dynamodb:UpdateItem":                        "core/sessionstore Claim, Transition, ExtendLease, Release",
	"dynamodb:PutItem":                           "core/sessionstore Heartbeat",
	"s3:PutObject":                               "process.go (the job's output)",
	"s3:GetObject":                               "worker/runner (simulation files, job inputs)",
	"ssm:GetParameter":                           "worker/config (the stage's worker configuration)",
	"cloudwatch:PutMetricData":                   "heartbeat.go",
	"autoscaling:SetInstanceProtection":          "lifecycle.go",
	"autoscaling:CompleteLifecycleAction":        "lifecycle.go (launch hook), instance.go (drain hook)",
	"autoscaling:RecordLifecycleActionHeartbeat": "lifecycle.go (drain hook)",
}
