package imagepipeline_test

import (
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/ami"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/imagepipeline"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// recipe synthesizes the pipeline alone in a stack and returns its recipe's
// version and root volume size.
func recipe(t *testing.T, st config.Stage, rootGiB int) (version string, volume float64) {
	t.Helper()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Image"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(1), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC}}})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("Sg"), &awsec2.SecurityGroupProps{Vpc: vpc})
	bucket := awss3.NewBucket(stack, jsii.String("Artifacts"), nil)
	if _, err := imagepipeline.New(stack, "ImagePipeline", &imagepipeline.Props{
		Stage: st, Artifacts: bucket, Subnet: (*vpc.PublicSubnets())[0], Security: sg, RootVolumeGiB: rootGiB,
	}); err != nil {
		t.Fatal(err)
	}
	tmpl := app.Synth(nil).GetStackByName(jsii.String("Image")).Template().(map[string]any)
	var found int
	for _, r := range tmpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::ImageBuilder::ImageRecipe" {
			continue
		}
		found++
		p := r["Properties"].(map[string]any)
		version = p["Version"].(string)
		volume = p["BlockDeviceMappings"].([]any)[0].(map[string]any)["Ebs"].(map[string]any)["VolumeSize"].(float64)
	}
	if found != 1 {
		t.Fatalf("%d recipes", found)
	}
	return version, volume
}

// A recipe is immutable (CloudFormation cannot update one in place): every
// input of it gives a new version, the same input the same version.
func TestRecipeVersionFollowsEveryInput(t *testing.T) {
	base := config.Stage{Name: "dev", WorkerInstanceType: "t3.xlarge"}
	v0, vol := recipe(t, base, 150)
	if vol != 150 {
		t.Fatalf("root volume %v", vol)
	}
	if again, _ := recipe(t, base, 150); again != v0 {
		t.Errorf("identical input: versions %s and %s", v0, again)
	}
	// The build instance type is not part of the recipe: same version.
	typ := base
	typ.Image = &config.Image{InstanceType: "m6i.2xlarge"}
	if v, _ := recipe(t, typ, 150); v != v0 {
		t.Errorf("a build instance type changed the recipe version: %s -> %s", v0, v)
	}
	parent := base
	parent.Image = &config.Image{ParentVersion: "2025.11.12"}
	override := base
	override.Image = &config.Image{Parameters: map[string]string{"AspenLicenseServer": "slm.example.internal"}}
	override2 := base
	override2.Image = &config.Image{Parameters: map[string]string{"AspenLicenseServer": "slm2.example.internal"}}
	seen := map[string]string{v0: "base"}
	for name, tc := range map[string]struct {
		st   config.Stage
		root int
	}{
		"root volume":      {base, 200},
		"parent version":   {parent, 150},
		"override":         {override, 150},
		"override's value": {override2, 150},
	} {
		v, _ := recipe(t, tc.st, tc.root)
		if prev, ok := seen[v]; ok {
			t.Errorf("%s: version %s, the same as %s", name, v, prev)
		}
		seen[v] = name
	}
}

// The version is the input's: a component's document, version or a
// parameter value, the parent and the volume type each change it.
func TestRecipeInputVersion(t *testing.T) {
	comps, err := ami.Components()
	if err != nil {
		t.Fatal(err)
	}
	in := func() imagepipeline.RecipeInput {
		r := imagepipeline.RecipeInput{Parent: imagepipeline.ParentImage + "/x.x.x", RootVolumeGiB: 150, VolumeType: "gp3"}
		for _, c := range comps {
			r.Components = append(r.Components, imagepipeline.RecipeComponent{Name: c.Name, Version: c.Version, Content: c.Content, Parameters: map[string]string{"A": "1", "B": "2"}})
		}
		return r
	}
	v0 := in().Version()
	if v := in().Version(); v != v0 {
		t.Fatalf("not deterministic: %s, %s", v0, v)
	}
	for name, edit := range map[string]func(*imagepipeline.RecipeInput){
		"document": func(r *imagepipeline.RecipeInput) { r.Components[2].Content += "\n# edited\n" },
		"version":  func(r *imagepipeline.RecipeInput) { r.Components[0].Version = "9.9.9" },
		"value":    func(r *imagepipeline.RecipeInput) { r.Components[5].Parameters["A"] = "3" },
		"order": func(r *imagepipeline.RecipeInput) {
			r.Components[0], r.Components[1] = r.Components[1], r.Components[0]
		},
		"parent":      func(r *imagepipeline.RecipeInput) { r.Parent = imagepipeline.ParentImage + "/2025.1.1" },
		"volume type": func(r *imagepipeline.RecipeInput) { r.VolumeType = "io2" },
		"volume size": func(r *imagepipeline.RecipeInput) { r.RootVolumeGiB = 151 },
	} {
		r := in()
		edit(&r)
		if v := r.Version(); v == v0 {
			t.Errorf("%s changed, version %s stayed", name, v)
		}
	}
}
