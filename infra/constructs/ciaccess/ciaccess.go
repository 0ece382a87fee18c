// Package ciaccess declares what GitHub Actions may do in a stage's account:
// GitHub's OIDC identity provider and, per stage, a deploy role and a diff
// role that trust only this repository's tokens and may do nothing but
// assume the CDK bootstrap roles (the CDK CLI does the rest through them).
package ciaccess

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GitHub's OIDC issuer and the audience configure-aws-credentials asks for.
const (
	Issuer   = "token.actions.githubusercontent.com"
	Audience = "sts.amazonaws.com"
)

// Props say whose tokens to trust.
type Props struct {
	Stage      string
	Repository string // "owner/name"
	// ProviderARN is the account's existing GitHub OIDC provider (an account
	// holds at most one per issuer); empty declares it here.
	ProviderARN string
	// DiffBranch is the branch whose workflow runs cdk diff for the stage.
	DiffBranch string
	// Qualifier of the CDK bootstrap stack; empty: CDK's default.
	Qualifier string
}

var repository = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)

// CIAccess is the provider and the stage's two roles.
type CIAccess struct {
	ProviderARN *string
	Deploy      awsiam.Role // `cdk deploy` from jobs of GitHub environment <stage>
	Diff        awsiam.Role // `cdk diff` from pushes to DiffBranch: the lookup role only
}

// BootstrapRoles are the CDK bootstrap roles `cdk deploy` assumes.
var BootstrapRoles = []string{"deploy", "file-publishing", "image-publishing", "lookup"}

// New declares the provider (unless p.ProviderARN names it) and the roles.
func New(scope constructs.Construct, id string, p Props) (*CIAccess, error) {
	if !repository.MatchString(p.Repository) {
		return nil, fmt.Errorf("GitHub repository %q is not owner/name", p.Repository)
	}
	if p.DiffBranch == "" {
		p.DiffBranch = "main"
	}
	if p.Qualifier == "" {
		p.Qualifier = *awscdk.DefaultStackSynthesizer_DEFAULT_QUALIFIER()
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &CIAccess{ProviderARN: jsii.String(p.ProviderARN)}
	if p.ProviderARN == "" {
		// The native resource, not awsiam.OpenIdConnectProvider: that one is a
		// custom resource (a Lambda), which the local stack cannot run. IAM
		// trusts GitHub's certificate chain itself: no thumbprint is needed.
		a.ProviderARN = awsiam.NewCfnOIDCProvider(c, jsii.String("GitHubProvider"), &awsiam.CfnOIDCProviderProps{
			Url:          jsii.String("https://" + Issuer),
			ClientIdList: jsii.Strings(Audience),
		}).AttrArn()
	}
	role := func(id, job, subject, purpose string, targets []string) awsiam.Role {
		r := awsiam.NewRole(c, jsii.String(id), &awsiam.RoleProps{
			RoleName:    jsii.String(fmt.Sprintf("foqus-github-%s-%s", job, p.Stage)),
			Description: jsii.String(purpose),
			AssumedBy: awsiam.NewWebIdentityPrincipal(a.ProviderARN, &map[string]any{
				"StringEquals": map[string]any{
					Issuer + ":aud": Audience,
					Issuer + ":sub": subject,
				},
			}),
			MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		})
		arns := make([]*string, len(targets))
		for i, t := range targets {
			arns[i] = awscdk.Fn_Sub(jsii.String(fmt.Sprintf("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-%s-%s-role-${AWS::AccountId}-${AWS::Region}", p.Qualifier, t)), nil)
		}
		r.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("AssumeCdkBootstrapRoles"),
			// The CDK CLI assumes the bootstrap roles and tags those sessions.
			Actions:   jsii.Strings("sts:AssumeRole", "sts:TagSession"),
			Resources: &arns,
		}))
		return r
	}
	a.Deploy = role("Deploy", "deploy", fmt.Sprintf("repo:%s:environment:%s", p.Repository, p.Stage),
		fmt.Sprintf("GitHub Actions deploys of %s (environment %s): may assume the CDK bootstrap roles only", p.Repository, p.Stage), BootstrapRoles)
	a.Diff = role("Diff", "diff", fmt.Sprintf("repo:%s:ref:refs/heads/%s", p.Repository, p.DiffBranch),
		fmt.Sprintf("GitHub Actions cdk diff of %s (branch %s): may assume the CDK lookup role only", p.Repository, p.DiffBranch), []string{"lookup"})
	return a, nil
}
