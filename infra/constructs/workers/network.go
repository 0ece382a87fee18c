package workers

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/infra/config"
)

// network declares the workers' VPC and security group: the stack's own
// VPC, or the stage's existing one (config.Network).
//
// The own VPC: public subnets, no NAT gateway (a NAT costs more per month than an idle
// fleet), and a security group without any inbound rule: workers only call
// out (SQS, SNS, S3, DynamoDB, SSM, the Aspen licence server). Gateway
// endpoints keep the S3/DynamoDB data traffic inside AWS at no charge.
func (w *Workers) network(st config.Stage) {
	c := w.Construct
	if st.Network != nil {
		w.Vpc = existingVpc(c, st.Network)
	} else {
		w.Vpc = ownVpc(c, st)
	}
	w.Security = awsec2.NewSecurityGroup(c, jsii.String("Workers"), &awsec2.SecurityGroupProps{
		Vpc:              w.Vpc,
		Description:      jsii.String("FOQUS workers: no inbound, outbound to AWS APIs and the licence server"),
		AllowAllOutbound: jsii.Bool(true),
	})
}

// existingVpc imports the stage's VPC from its ids alone (no lookup: synth
// stays offline and deterministic). Its subnets are declared as the VPC's
// public ones so the group and the image pipeline select them as they do
// the own VPC's; whether an instance gets a public address is the subnet's
// own setting. Its routes, endpoints and flow logs are its owner's: the
// stack adds none.
func existingVpc(c constructs.Construct, n *config.Network) awsec2.IVpc {
	return awsec2.Vpc_FromVpcAttributes(c, jsii.String("Vpc"), &awsec2.VpcAttributes{
		VpcId:             jsii.String(n.VpcID),
		AvailabilityZones: jsii.Strings(n.AvailabilityZones...),
		PublicSubnetIds:   jsii.Strings(n.SubnetIDs...),
	})
}

func ownVpc(c constructs.Construct, st config.Stage) awsec2.IVpc {
	vpc := awsec2.NewVpc(c, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name: jsii.String("workers"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
		}},
		// The default restriction is a custom resource; the default group is unused.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
	})
	flowLogs := awslogs.NewLogGroup(c, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays(st.RetentionName()),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
	})
	return vpc
}
