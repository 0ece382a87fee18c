package stacks_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/ami"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/imagepipeline"
	"github.com/foqus-cloud/stack/infra/stacks"
)

// The recipe holds every ami component, in ami's order, with its document
// verbatim and every parameter it needs; the distribution publishes the AMI
// id to the parameter the launch template reads.
func TestImagePipelineBakesTheAMIDocuments(t *testing.T) {
	comps, err := ami.Components()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := img.svc
	byID := tmpl.ofType("AWS::ImageBuilder::Component")
	if len(byID) != len(comps) {
		t.Fatalf("%d components, want %d (ami.Components)", len(byID), len(comps))
	}
	recipes := tmpl.ofType("AWS::ImageBuilder::ImageRecipe")
	if len(recipes) != 1 {
		t.Fatalf("%d recipes, want 1", len(recipes))
	}
	var recipeID string
	var recipe cfnResource
	for id, r := range recipes {
		recipeID, recipe = id, r
	}
	if !strings.Contains(fmt.Sprint(recipe.Properties["ParentImage"]), imagepipeline.ParentImage) {
		t.Errorf("parent image %v", recipe.Properties["ParentImage"])
	}
	artifacts := ""
	for id, b := range img.data.ofType("AWS::S3::Bucket") {
		if mentions(b.Properties["BucketName"], resource.ArtifactsBucket) {
			artifacts = id
		}
	}
	configs, _ := recipe.Properties["Components"].([]any)
	if len(configs) != len(comps) {
		t.Fatalf("recipe lists %d components, want %d", len(configs), len(comps))
	}
	given := imageParameters()
	for i, c := range comps {
		cc := byID[refOf(path(configs[i], "ComponentArn"))]
		if cc.Properties["Name"] != c.Name+"-img" || cc.Properties["Data"] != c.Content ||
			cc.Properties["Version"] != c.Version || cc.Properties["Platform"] != "Windows" {
			t.Errorf("recipe component %d: %v %v, want %s %s with its document", i, cc.Properties["Name"], cc.Properties["Version"], c.Name, c.Version)
		}
		params := map[string]any{}
		list, _ := path(configs[i], "Parameters").([]any)
		for _, p := range list {
			params[path(p, "Name").(string)] = path(p, "Value", 0)
		}
		for _, req := range c.Required() {
			v, ok := params[req]
			switch {
			case !ok:
				t.Errorf("%s: required parameter %s not given", c.Name, req)
			case req == imagepipeline.ArtifactsParameter:
				if !mentions(v, artifacts) && !mentions(v, "DataArtifacts") {
					t.Errorf("%s: %s = %v, want the artifacts bucket", c.Name, req, v)
				}
			case v != given[req]:
				t.Errorf("%s: %s = %v, want %s", c.Name, req, v, given[req])
			}
		}
	}
	for _, d := range tmpl.ofType("AWS::ImageBuilder::DistributionConfiguration") {
		ssm := path(d.Properties, "Distributions", 0, "SsmParameterConfigurations", 0, "ParameterName")
		if ssm != fmt.Sprintf(resource.WorkerAMISSM, "img") {
			t.Errorf("distribution writes %v, want %s", ssm, fmt.Sprintf(resource.WorkerAMISSM, "img"))
		}
	}
	for _, ic := range tmpl.ofType("AWS::ImageBuilder::InfrastructureConfiguration") {
		if path(ic.Properties, "InstanceMetadataOptions", "HttpTokens") != "required" || ic.Properties["SubnetId"] == nil || ic.Properties["SecurityGroupIds"] == nil {
			t.Errorf("infrastructure %v: want IMDSv2, the workers' subnet and security group", ic.Properties)
		}
	}
	pipes := tmpl.ofType("AWS::ImageBuilder::ImagePipeline")
	if len(pipes) != 1 {
		t.Fatalf("%d pipelines, want 1", len(pipes))
	}
	for _, p := range pipes {
		if refOf(p.Properties["ImageRecipeArn"]) != recipeID || p.Properties["DistributionConfigurationArn"] == nil {
			t.Errorf("pipeline %v", p.Properties)
		}
	}
	// The build role reads installers and nothing else of the stack's data.
	var s3Actions []string
	for _, st := range iamStatements(tmpl) {
		if strings.Contains(st.where, "ImagePipeline") {
			for _, a := range strs(st.s["Action"]) {
				if strings.HasPrefix(a, "s3:") {
					s3Actions = append(s3Actions, a)
				}
			}
		}
	}
	if !reflect.DeepEqual(s3Actions, []string{"s3:GetObject"}) {
		t.Errorf("build role S3 actions %v, want [s3:GetObject]", s3Actions)
	}
}

// Without image settings the stage has no pipeline and says so.
func TestNoImageSettingsNoPipelineAndAWarning(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		if n := len(s.svc.ofType("AWS::ImageBuilder::ImagePipeline")); n != 0 {
			t.Errorf("%s: %d pipelines without image settings", s.stage.Config.Name, n)
		}
		w := assertions.Annotations_FromStack(s.stage.Service).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("no worker image pipeline")))
		if len(*w) != 1 {
			t.Errorf("%s: %d image-pipeline warnings, want 1", s.stage.Config.Name, len(*w))
		}
	}
}

func TestPartialImageSettingsFail(t *testing.T) {
	st, err := config.Parse(stagesInCDK, "dev")
	if err != nil {
		t.Fatal(err)
	}
	params := imageParameters()
	delete(params, "AspenLicenseServer")
	st.Image = &config.Image{Parameters: params}
	_, err = stacks.Build(awscdk.NewApp(nil), st, fakeBuild)
	if err == nil || !strings.Contains(err.Error(), "AspenLicenseServer") {
		t.Errorf("Build with a partial image section: %v, want an error naming AspenLicenseServer", err)
	}
}
