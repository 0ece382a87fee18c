package imagepipeline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/scaling"
)

// EnableFastLaunch turns on EC2 Fast Launch for every AMI the pipeline
// distributes, with the stage's snapshot count and parallelism
// (core/scaling): EC2 keeps pre-provisioned snapshots that have been through
// Sysprep and the first boot, so a cold worker launch skips both. EC2
// pre-provisions by launching the image; the launch template puts those
// instances in the workers' subnet and security group (no default VPC needed)
// and, as for the workers, leaves a public address to the subnet's own
// setting: an existing VPC's private subnet gets none.
func (p *Pipeline) EnableFastLaunch(sp scaling.Params, vpc awsec2.IVpc, sg awsec2.ISecurityGroup, instanceType string) awsec2.CfnLaunchTemplate {
	if !sp.FastLaunch.Enabled {
		return nil
	}
	lt := awsec2.NewCfnLaunchTemplate(p.Construct, jsii.String("FastLaunchTemplate"), &awsec2.CfnLaunchTemplateProps{
		LaunchTemplateData: &awsec2.CfnLaunchTemplate_LaunchTemplateDataProperty{
			InstanceType: jsii.String(instanceType),
			NetworkInterfaces: &[]*awsec2.CfnLaunchTemplate_NetworkInterfaceProperty{{
				DeviceIndex: jsii.Number(0), SubnetId: (*vpc.PublicSubnets())[0].SubnetId(),
				Groups: jsii.Strings(*sg.SecurityGroupId()),
			}},
			MetadataOptions: &awsec2.CfnLaunchTemplate_MetadataOptionsProperty{HttpTokens: jsii.String("required")},
			BlockDeviceMappings: &[]*awsec2.CfnLaunchTemplate_BlockDeviceMappingProperty{{
				DeviceName: jsii.String(RootDevice),
				Ebs: &awsec2.CfnLaunchTemplate_EbsProperty{
					VolumeSize: jsii.Number(float64(p.RootVolume)), VolumeType: jsii.String(rootVolumeType), Encrypted: jsii.Bool(true), DeleteOnTermination: jsii.Bool(true),
				},
			}},
		},
	})
	p.Dist.AddPropertyOverride(jsii.String("Distributions.0.FastLaunchConfigurations"), []map[string]any{{
		"Enabled":               true,
		"MaxParallelLaunches":   sp.FastLaunch.Parallel,
		"SnapshotConfiguration": map[string]any{"TargetResourceCount": sp.FastLaunch.Snapshots},
		"LaunchTemplate":        map[string]any{"LaunchTemplateId": lt.Ref(), "LaunchTemplateVersion": lt.AttrLatestVersionNumber()},
	}})
	return lt
}
