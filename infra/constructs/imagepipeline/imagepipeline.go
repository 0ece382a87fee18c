// Package imagepipeline declares the EC2 Image Builder pipeline that bakes the
// Windows worker AMI from the component documents of package ami, and
// publishes each new AMI id to the SSM parameter the workers' launch template
// reads (resource.WorkerAMISSM).
package imagepipeline

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsimagebuilder"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/ami"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// ArtifactsParameter is the component parameter the stack fills with the
// artifacts bucket's name.
const ArtifactsParameter = "ArtifactsBucket"

// ParentImage is the AWS-managed Windows Server 2022 image the recipe builds on.
const ParentImage = "windows-server-2022-english-full-base-x86"

// Pipeline is the image pipeline of one stage.
type Pipeline struct {
	constructs.Construct
	Components []awsimagebuilder.CfnComponent
	Recipe     awsimagebuilder.CfnImageRecipe
	Infra      awsimagebuilder.CfnInfrastructureConfiguration
	Dist       awsimagebuilder.CfnDistributionConfiguration
	Pipeline   awsimagebuilder.CfnImagePipeline
	Role       awsiam.Role
	RootVolume int // GiB, the recipe's root volume: what Fast Launch's template launches with
}

// Props are where the pipeline builds and what it reads.
type Props struct {
	Stage     config.Stage
	Artifacts awss3.IBucket // installers the components download
	Subnet    awsec2.ISubnet
	Security  awsec2.ISecurityGroup
	// RootVolumeGiB of the image (Aspen media and Anaconda are large): the
	// workers launch with the same size.
	RootVolumeGiB int
}

// New declares the pipeline. The build instance runs in the workers' subnet
// with their security group (no inbound; SSM for Image Builder's agent).
func New(scope constructs.Construct, id string, props *Props) (*Pipeline, error) {
	st, artifacts := props.Stage, props.Artifacts
	comps, err := ami.Components()
	if err != nil {
		return nil, err
	}
	var overrides map[string]string
	if st.Image != nil {
		overrides = st.Image.Parameters
	}
	known := map[string]bool{}
	for _, c := range comps {
		for _, p := range c.Parameters {
			known[p.Name] = true
		}
	}
	for name := range overrides {
		if !known[name] || name == ArtifactsParameter {
			return nil, fmt.Errorf("stage %s: image parameter %q is not a component parameter the stage may set", st.Name, name)
		}
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	p := &Pipeline{Construct: c, RootVolume: props.RootVolumeGiB}
	name := "foqus-worker-" + st.Name

	var configs []*awsimagebuilder.CfnImageRecipe_ComponentConfigurationProperty
	in := RecipeInput{RootVolumeGiB: props.RootVolumeGiB, VolumeType: rootVolumeType, Parent: ParentImage + "/" + parentVersion(st)}
	for _, comp := range comps {
		cc := awsimagebuilder.NewCfnComponent(c, jsii.String(comp.Name), &awsimagebuilder.CfnComponentProps{
			Name:        jsii.String(comp.Name + "-" + st.Name),
			Platform:    jsii.String(comp.Platform),
			Version:     jsii.String(comp.Version),
			Description: jsii.String(comp.Description),
			Data:        jsii.String(comp.Content),
		})
		p.Components = append(p.Components, cc)
		used := RecipeComponent{Name: comp.Name, Version: comp.Version, Content: comp.Content, Parameters: map[string]string{}}
		var params []*awsimagebuilder.CfnImageRecipe_ComponentParameterProperty
		for _, prm := range comp.Parameters {
			var value string
			switch v, ok := overrides[prm.Name]; {
			case prm.Name == ArtifactsParameter:
				value = *artifacts.BucketName()
			case ok:
				value = v
				used.Parameters[prm.Name] = v
			default:
				continue // the document's default (the manifest's value for checksums and site settings)
			}
			params = append(params, &awsimagebuilder.CfnImageRecipe_ComponentParameterProperty{Name: jsii.String(prm.Name), Value: jsii.Strings(value)})
		}
		in.Components = append(in.Components, used)
		cfg := &awsimagebuilder.CfnImageRecipe_ComponentConfigurationProperty{ComponentArn: cc.AttrArn()}
		if len(params) > 0 {
			cfg.Parameters = &params
		}
		configs = append(configs, cfg)
	}
	p.Recipe = awsimagebuilder.NewCfnImageRecipe(c, jsii.String("Recipe"), &awsimagebuilder.CfnImageRecipeProps{
		Name:        jsii.String(name),
		Version:     jsii.String(in.Version()),
		ParentImage: jsii.String(fmt.Sprintf("arn:%s:imagebuilder:%s:aws:image/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), in.Parent)),
		Components:  &configs,
		BlockDeviceMappings: &[]*awsimagebuilder.CfnImageRecipe_InstanceBlockDeviceMappingProperty{{
			DeviceName: jsii.String(RootDevice),
			Ebs: &awsimagebuilder.CfnImageRecipe_EbsInstanceBlockDeviceSpecificationProperty{
				VolumeSize: jsii.Number(float64(props.RootVolumeGiB)), VolumeType: jsii.String(rootVolumeType), Encrypted: jsii.Bool(true), DeleteOnTermination: jsii.Bool(true),
			},
		}},
	})

	p.Role = awsiam.NewRole(c, jsii.String("BuildRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("FOQUS worker image build and test instances"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("EC2InstanceProfileForImageBuilder")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	// The components download with S3Download: GetObject on the bucket, nothing more.
	p.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Installers"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(*artifacts.ArnForObjects(jsii.String("*"))),
	}))
	profile := awsiam.NewInstanceProfile(c, jsii.String("BuildProfile"), &awsiam.InstanceProfileProps{Role: p.Role})

	instanceType := st.WorkerInstanceType
	if st.Image != nil && st.Image.InstanceType != "" {
		instanceType = st.Image.InstanceType
	}
	p.Infra = awsimagebuilder.NewCfnInfrastructureConfiguration(c, jsii.String("Infrastructure"), &awsimagebuilder.CfnInfrastructureConfigurationProps{
		Name:                       jsii.String(name),
		InstanceProfileName:        profile.InstanceProfileName(),
		InstanceTypes:              jsii.Strings(instanceType),
		SubnetId:                   props.Subnet.SubnetId(),
		SecurityGroupIds:           jsii.Strings(*props.Security.SecurityGroupId()),
		TerminateInstanceOnFailure: jsii.Bool(true),
		InstanceMetadataOptions: &awsimagebuilder.CfnInfrastructureConfiguration_InstanceMetadataOptionsProperty{
			HttpTokens: jsii.String("required"), HttpPutResponseHopLimit: jsii.Number(2),
		},
	})

	p.Dist = awsimagebuilder.NewCfnDistributionConfiguration(c, jsii.String("Distribution"), &awsimagebuilder.CfnDistributionConfigurationProps{
		Name: jsii.String(name),
		Distributions: &[]*awsimagebuilder.CfnDistributionConfiguration_DistributionProperty{{
			Region: awscdk.Aws_REGION(),
			// A Json-typed property in CloudFormation: the L1 passes it verbatim,
			// so it is spelled with CloudFormation's keys.
			AmiDistributionConfiguration: map[string]any{"Name": name + "-{{ imagebuilder:buildDate }}"},
			// The launch template reads this parameter (resource.WorkerAMISSM).
			SsmParameterConfigurations: &[]*awsimagebuilder.CfnDistributionConfiguration_SsmParameterConfigurationProperty{{
				ParameterName: jsii.String(fmt.Sprintf(resource.WorkerAMISSM, st.Name)),
				DataType:      jsii.String("aws:ec2:image"),
			}},
		}},
	})

	p.Pipeline = awsimagebuilder.NewCfnImagePipeline(c, jsii.String("Pipeline"), &awsimagebuilder.CfnImagePipelineProps{
		Name:                           jsii.String(name),
		Description:                    jsii.String("Bakes the FOQUS Windows worker AMI; make image uploads the installers and runs it (ami/README.md)"),
		ImageRecipeArn:                 p.Recipe.AttrArn(),
		InfrastructureConfigurationArn: p.Infra.AttrArn(),
		DistributionConfigurationArn:   p.Dist.AttrArn(),
		EnhancedImageMetadataEnabled:   jsii.Bool(true),
		ImageTestsConfiguration: &awsimagebuilder.CfnImagePipeline_ImageTestsConfigurationProperty{
			ImageTestsEnabled: jsii.Bool(true), TimeoutMinutes: jsii.Number(120),
		},
		Status: jsii.String("ENABLED"),
	})
	return p, nil
}
