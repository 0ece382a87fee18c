package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/constructs/ciaccess"
)

// Context keys of the CI access stack: given on the command line of the one
// deploy an administrator makes (CI's own roles cannot create themselves),
// `cdk deploy -c stage=dev -c githubRepository=owner/name foqus-ci-dev`.
const (
	CtxGitHubRepository = "githubRepository"
	CtxGitHubProvider   = "githubOidcProvider" // ARN of the account's existing provider, if any
)

// CIStackName is the CI access stack of a stage.
func CIStackName(stage string) string { return "foqus-ci-" + stage }

// BuildCI declares the stage's CI access stack (GitHub OIDC provider, deploy
// and diff roles) when the app's context names the repository; it returns
// nil otherwise (make synth, the local stack).
func BuildCI(app awscdk.App, st config.Stage) (awscdk.Stack, error) {
	repo, _ := app.Node().TryGetContext(jsii.String(CtxGitHubRepository)).(string)
	if repo == "" {
		return nil, nil
	}
	provider, _ := app.Node().TryGetContext(jsii.String(CtxGitHubProvider)).(string)
	var env *awscdk.Environment
	if st.Account != "" || st.Region != "" {
		env = &awscdk.Environment{Account: strOrNil(st.Account), Region: strOrNil(st.Region)}
	}
	stack := awscdk.NewStack(app, jsii.String(CIStackName(st.Name)), &awscdk.StackProps{
		Env:                   env,
		Description:           jsii.String(fmt.Sprintf("FOQUS cloud %s: GitHub Actions OIDC access for %s (deploy and diff roles)", st.Name, repo)),
		TerminationProtection: jsii.Bool(st.Retain()),
	})
	a, err := ciaccess.New(stack, "GitHub", ciaccess.Props{Stage: st.Name, Repository: repo, ProviderARN: provider})
	if err != nil {
		return nil, err
	}
	awscdk.NewCfnOutput(stack, jsii.String("DeployRoleArn"), &awscdk.CfnOutputProps{
		Value: a.Deploy.RoleArn(), Description: jsii.String("the GitHub environment's AWS_DEPLOY_ROLE_ARN variable"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("DiffRoleArn"), &awscdk.CfnOutputProps{
		Value: a.Diff.RoleArn(), Description: jsii.String(fmt.Sprintf("the repository's AWS_DIFF_ROLE_ARN_%s variable", st.Name)),
	})
	awscdk.Tags_Of(stack).Add(jsii.String(TagComponent), jsii.String("ci"), nil)
	return stack, nil
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
