package workers

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// launchTemplate declares what each worker instance launches with.
func (w *Workers) launchTemplate(st config.Stage, groupName string) {
	w.LaunchTmpl = awsec2.NewLaunchTemplate(w.Construct, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		LaunchTemplateName: jsii.String(groupName),
		// The image pipeline publishes its latest AMI id to this parameter.
		MachineImage: awsec2.MachineImage_FromSsmParameter(jsii.String(fmt.Sprintf(resource.WorkerAMISSM, st.Name)), &awsec2.SsmParameterImageOptions{
			Os: awsec2.OperatingSystemType_WINDOWS,
		}),
		InstanceType:         awsec2.NewInstanceType(jsii.String(st.WorkerInstanceType)),
		Role:                 w.Role,
		SecurityGroup:        w.Security,
		RequireImdsv2:        jsii.Bool(true),
		InstanceMetadataTags: jsii.Bool(true), // the worker reads its stage tag from IMDS
		DetailedMonitoring:   jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/sda1"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(RootVolumeGiB), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})
}
