package stacks

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppression is one accepted cdk-nag finding: the rule, why, and (for IAM5)
// exactly which wildcard findings it covers.
type Suppression struct {
	Rule      string
	Reason    string
	AppliesTo []string // literal finding ids, or regexes when written /.../
}

// ServiceSuppressions are the accepted findings of the service stack. Every
// Resource::* statement is further held to an allow-list by the tests.
var ServiceSuppressions = []Suppression{
	{Rule: "AwsSolutions-IAM5", Reason: "CDK grant action groups (GetObject*, List*, GetBucket*, DeleteObject*, Abort*) on one bucket, and GenerateDataKey* on the one topic key publishers need",
		AppliesTo: []string{"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*", "Action::kms:GenerateDataKey*"}},
	{Rule: "AwsSolutions-IAM5", Reason: "objects of one bucket (bucket ARN/*) and the indexes of one table (table ARN/index/*) are the narrowest resources of those grants",
		// A reference renders as <Id.Arn> in the first synthesis and as its
		// export name once the cross-stack reference is resolved.
		AppliesTo: []string{
			`/^Resource::(<Data(Sessions|Simulations|Artifacts)[0-9A-F]{8}\.Arn>|foqus-data-[a-z0-9-]+:ExportsOutputFnGetAttData(Sessions|Simulations|Artifacts)[0-9A-F]{8}Arn[0-9A-F]{8})\/\*$/`,
			`/^Resource::(<DataResources[0-9A-F]{8}\.Arn>|foqus-data-[a-z0-9-]+:ExportsOutputFnGetAttDataResources[0-9A-F]{8}Arn[0-9A-F]{8})\/index\/\*$/`,
		}},
	{Rule: "AwsSolutions-IAM5", Reason: "xray:PutTraceSegments/PutTelemetryRecords and cloudwatch:PutMetricData (conditioned on the FOQUS/Worker namespace) have no resource-level permissions",
		AppliesTo: []string{"Resource::*"}},
	{Rule: "AwsSolutions-IAM5", Reason: "the group's ARN embeds a UUID CloudFormation does not expose; the group is pinned by its name",
		AppliesTo: []string{`/^Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:\*:autoScalingGroupName\/FOQUS-Workers-[a-z0-9-]+$/`}},
	{Rule: "AwsSolutions-IAM4", Reason: "AmazonSSMManagedInstanceCore is the AWS-maintained minimum for Session Manager access (instead of open RDP); AmazonAPIGatewayPushToCloudWatchLogs is the account-level role API Gateway execution logging requires; EC2InstanceProfileForImageBuilder is what Image Builder documents for its build instances",
		AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore", "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/EC2InstanceProfileForImageBuilder"}},
	{Rule: "AwsSolutions-IAM5", Reason: "PostToConnection on any connection of the monitor's own API and stage: connection ids are made per client at run time",
		AppliesTo: []string{`/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<MonitorApi[0-9A-F]{8}>\/[a-z0-9-]+\/POST\/@connections\/\*$/`}},
	{Rule: "AwsSolutions-APIG4", Reason: "a WebSocket API authorizes on $connect only (API Gateway takes no authorizer on other routes); every later route runs on that authorized connection"},
	{Rule: "AwsSolutions-COG4", Reason: "the FOQUS desktop client authenticates with HTTP Basic (spec §3.1): a REQUEST Lambda authorizer guards every route instead of Cognito"},
	{Rule: "AwsSolutions-AS3", Reason: "scaling failures surface through the heartbeat-missing and dead-letter alarms; ASG notifications to the KMS-encrypted alert topic would need the autoscaling service-linked role (absent before the first group) in the key policy"},
}

func suppress(s *Stage) {
	cdknag.NagSuppressions_AddStackSuppressions(s.Service, nagSuppressions(ServiceSuppressions), jsii.Bool(false))
}

func nagSuppressions(list []Suppression) *[]*cdknag.NagPackSuppression {
	out := make([]*cdknag.NagPackSuppression, 0, len(list))
	for _, sp := range list {
		n := &cdknag.NagPackSuppression{Id: jsii.String(sp.Rule), Reason: jsii.String(sp.Reason)}
		if len(sp.AppliesTo) > 0 {
			applies := make([]any, 0, len(sp.AppliesTo))
			for _, a := range sp.AppliesTo {
				if len(a) > 1 && a[0] == '/' {
					applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
				} else {
					applies = append(applies, jsii.String(a))
				}
			}
			n.AppliesTo = &applies
		}
		out = append(out, n)
	}
	return &out
}
