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
// verbatim, the artifacts bucket and exactly the stage's overrides (the
// manifest supplies checksums and site settings); the distribution publishes
// the AMI id to the parameter the launch template reads. The default stage
// (no image section) has all of it.
func TestImagePipelineBakesTheAMIDocuments(t *testing.T) {
	for _, s := range []*synthesized{dev, img} {
		t.Run(s.stage.Config.Name, func(t *testing.T) { checkPipeline(t, s) })
	}
}

func checkPipeline(t *testing.T, s *synthesized) {
	comps, err := ami.Components()
	if err != nil {
		t.Fatal(err)
	}
	stage := s.stage.Config.Name
	tmpl := s.svc
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
	for id, b := range s.data.ofType("AWS::S3::Bucket") {
		if mentions(b.Properties["BucketName"], resource.ArtifactsBucket) {
			artifacts = id
		}
	}
	configs, _ := recipe.Properties["Components"].([]any)
	if len(configs) != len(comps) {
		t.Fatalf("recipe lists %d components, want %d", len(configs), len(comps))
	}
	var given map[string]string
	if s.stage.Config.Image != nil {
		given = s.stage.Config.Image.Parameters
	}
	set := 0
	for i, c := range comps {
		cc := byID[refOf(path(configs[i], "ComponentArn"))]
		if cc.Properties["Name"] != c.Name+"-"+stage || cc.Properties["Data"] != c.Content ||
			cc.Properties["Version"] != c.Version || cc.Properties["Platform"] != "Windows" {
			t.Errorf("recipe component %d: %v %v, want %s %s with its document", i, cc.Properties["Name"], cc.Properties["Version"], c.Name, c.Version)
		}
		params := map[string]any{}
		list, _ := path(configs[i], "Parameters").([]any)
		for _, p := range list {
			params[path(p, "Name").(string)] = path(p, "Value", 0)
		}
		for _, prm := range c.Parameters {
			v, ok := params[prm.Name]
			switch {
			case prm.Name == imagepipeline.ArtifactsParameter:
				if !mentions(v, artifacts) && !mentions(v, "DataArtifacts") {
					t.Errorf("%s: %s = %v, want the artifacts bucket", c.Name, prm.Name, v)
				}
			case given[prm.Name] != "":
				set++
				if v != given[prm.Name] {
					t.Errorf("%s: %s = %v, want the stage's override %s", c.Name, prm.Name, v, given[prm.Name])
				}
			case ok:
				t.Errorf("%s: %s = %v set without an override (the document's default is %q)", c.Name, prm.Name, v, prm.Default)
			}
		}
	}
	// An override names one parameter; AspenLicenseServer is in aspen only.
	if set != len(given) {
		t.Errorf("%d overrides in the recipe, the stage gives %d", set, len(given))
	}
	for _, d := range tmpl.ofType("AWS::ImageBuilder::DistributionConfiguration") {
		ssm := path(d.Properties, "Distributions", 0, "SsmParameterConfigurations", 0, "ParameterName")
		if ssm != fmt.Sprintf(resource.WorkerAMISSM, stage) {
			t.Errorf("distribution writes %v, want %s", ssm, fmt.Sprintf(resource.WorkerAMISSM, stage))
		}
	}
	if n := len(tmpl.ofType("AWS::ImageBuilder::DistributionConfiguration")); n != 1 {
		t.Errorf("%d distribution configurations, want 1", n)
	}
	if n := len(tmpl.ofType("AWS::ImageBuilder::InfrastructureConfiguration")); n != 1 {
		t.Errorf("%d infrastructure configurations, want 1", n)
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
	for id, p := range pipes {
		if refOf(p.Properties["ImageRecipeArn"]) != recipeID || p.Properties["DistributionConfigurationArn"] == nil || p.Properties["InfrastructureConfigurationArn"] == nil {
			t.Errorf("pipeline %v", p.Properties)
		}
		// make image finds the pipeline and the bucket by these outputs.
		if out := tmpl.Outputs[ami.OutputPipelineARN]; refOf(out["Value"]) != id {
			t.Errorf("output %s = %v, want the pipeline %s", ami.OutputPipelineARN, out["Value"], id)
		}
		if out := tmpl.Outputs[ami.OutputArtifactsBucket]; !mentions(out["Value"], "DataArtifacts") {
			t.Errorf("output %s = %v, want the artifacts bucket", ami.OutputArtifactsBucket, out["Value"])
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

// Every stage has the pipeline, and no warning about it.
func TestEveryStageHasThePipeline(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		for _, typ := range []string{"AWS::ImageBuilder::ImagePipeline", "AWS::ImageBuilder::ImageRecipe",
			"AWS::ImageBuilder::InfrastructureConfiguration", "AWS::ImageBuilder::DistributionConfiguration"} {
			if n := len(s.svc.ofType(typ)); n != 1 {
				t.Errorf("%s: %d %s, want 1", s.stage.Config.Name, n, typ)
			}
		}
		comps, _ := ami.Components()
		if n := len(s.svc.ofType("AWS::ImageBuilder::Component")); n != len(comps) || n == 0 {
			t.Errorf("%s: %d components, want %d", s.stage.Config.Name, n, len(comps))
		}
		w := assertions.Annotations_FromStack(s.stage.Service).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("image")))
		if len(*w) != 0 {
			t.Errorf("%s: %d image warnings, want none", s.stage.Config.Name, len(*w))
		}
	}
}

func TestUnknownImageParameterFails(t *testing.T) {
	st, err := config.Parse(stagesInCDK, "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"AspenLicenceServer", imagepipeline.ArtifactsParameter} {
		st.Image = &config.Image{Parameters: map[string]string{name: "x"}}
		_, err = stacks.Build(awscdk.NewApp(nil), st, fakeBuild)
		if err == nil || !strings.Contains(err.Error(), `image parameter "`+name+`"`) {
			t.Errorf("Build with image parameter %s: %v, want an error naming it", name, err)
		}
	}
}

// make image finds the pipeline through the service stack's outputs, by the
// stack name package ami gives it.
func TestImageToolFindsTheServiceStack(t *testing.T) {
	for _, stage := range []string{"dev", "alice-dev"} {
		if got := stacks.StackNames(stage)[1]; got != ami.ServiceStack(stage) {
			t.Errorf("service stack %s, ami.ServiceStack %s", got, ami.ServiceStack(stage))
		}
	}
}
