package stacks_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/stacks"
)

// synthCI synthesizes only the CI access stack of stage with the given context.
func synthCI(t *testing.T, stage string, ctx map[string]any) (awscdk.Stack, template) {
	t.Helper()
	st, err := config.Parse(stagesInCDK, stage)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), Context: &ctx})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	stack, err := stacks.BuildCI(app, st)
	if err != nil || stack == nil {
		t.Fatalf("BuildCI: %v, %v", stack, err)
	}
	app.Synth(nil)
	tpl, err := readTemplate(dir, stacks.CIStackName(stage))
	if err != nil {
		t.Fatal(err)
	}
	return stack, tpl
}

// statements returns a policy document's statements.
func statements(doc any) []map[string]any {
	var out []map[string]any
	list, _ := path(doc, "Statement").([]any)
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// values lists a policy element that is one value or a list of them, each
// non-string as its JSON (a Fn::Sub).
func values(v any) []string {
	if _, ok := v.(map[string]any); ok {
		v = []any{v}
	}
	return strs(v)
}

func TestCIStack(t *testing.T) {
	const repo = "foqus-cloud/stack"
	stack, tpl := synthCI(t, "prod", map[string]any{stacks.CtxGitHubRepository: repo})

	providers := tpl.ofType("AWS::IAM::OIDCProvider")
	if len(providers) != 1 {
		t.Fatalf("%d OIDC providers, want 1", len(providers))
	}
	var providerID string
	for id, p := range providers {
		providerID = id
		if p.Properties["Url"] != "https://token.actions.githubusercontent.com" || !slices.Equal(strs(p.Properties["ClientIdList"]), []string{"sts.amazonaws.com"}) {
			t.Fatalf("provider: %v", p.Properties)
		}
	}

	roles := tpl.ofType("AWS::IAM::Role")
	subjects := map[string]string{}
	for id, r := range roles {
		trust := statements(r.Properties["AssumeRolePolicyDocument"])
		if len(trust) != 1 {
			t.Fatalf("role %s: %d trust statements", id, len(trust))
		}
		s := trust[0]
		if s["Action"] != "sts:AssumeRoleWithWebIdentity" || s["Effect"] != "Allow" || refOf(path(s, "Principal", "Federated")) != providerID {
			t.Fatalf("role %s trusts %v", id, s)
		}
		cond, _ := path(s, "Condition").(map[string]any)
		eq, _ := cond["StringEquals"].(map[string]any)
		if len(cond) != 1 || len(eq) != 2 || eq["token.actions.githubusercontent.com:aud"] != "sts.amazonaws.com" {
			t.Fatalf("role %s: trust condition %v, want exactly StringEquals on aud and sub", id, cond)
		}
		sub, _ := eq["token.actions.githubusercontent.com:sub"].(string)
		subjects[r.Properties["RoleName"].(string)] = sub
		if r.Properties["ManagedPolicyArns"] != nil || r.Properties["Policies"] != nil {
			t.Fatalf("role %s has other policies: %v", id, r.Properties)
		}
	}
	want := map[string]string{
		"foqus-github-deploy-prod": "repo:" + repo + ":environment:prod",
		"foqus-github-diff-prod":   "repo:" + repo + ":ref:refs/heads/main",
	}
	if len(subjects) != len(want) {
		t.Fatalf("roles %v, want %v", subjects, want)
	}
	for name, sub := range want {
		if subjects[name] != sub {
			t.Fatalf("role %s trusts subject %q, want %q (all: %v)", name, subjects[name], sub, subjects)
		}
	}

	// Each role may only assume CDK bootstrap roles: exact actions, exact ARNs.
	allowed := map[string][]string{}
	for id, p := range tpl.ofType("AWS::IAM::Policy") {
		rolesOf, _ := p.Properties["Roles"].([]any)
		if len(rolesOf) != 1 {
			t.Fatalf("policy %s on %d roles", id, len(rolesOf))
		}
		name, _ := roles[refOf(rolesOf[0])].Properties["RoleName"].(string)
		for _, s := range statements(p.Properties["PolicyDocument"]) {
			actions := strs(s["Action"])
			if s["Effect"] != "Allow" || !slices.Equal(actions, []string{"sts:AssumeRole", "sts:TagSession"}) {
				t.Fatalf("policy %s: %v", id, s)
			}
			for _, res := range values(s["Resource"]) {
				if strings.Contains(strings.ReplaceAll(res, "${AWS::", ""), "*") {
					t.Fatalf("policy %s: wildcard resource %s", id, res)
				}
				allowed[name] = append(allowed[name], res)
			}
		}
	}
	bootstrap := func(kinds ...string) []string {
		var out []string
		for _, k := range kinds {
			out = append(out, `{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-`+k+`-role-${AWS::AccountId}-${AWS::Region}"}`)
		}
		return out
	}
	for name, res := range map[string][]string{
		"foqus-github-deploy-prod": bootstrap("deploy", "file-publishing", "image-publishing", "lookup"),
		"foqus-github-diff-prod":   bootstrap("lookup"),
	} {
		if !slices.Equal(allowed[name], res) {
			t.Fatalf("role %s may assume %v, want %v", name, allowed[name], res)
		}
	}
	for _, out := range []string{"DeployRoleArn", "DiffRoleArn"} {
		if tpl.Outputs[out] == nil {
			t.Fatalf("no output %s: %v", out, tpl.Outputs)
		}
	}
	errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	if len(*errs) > 0 {
		b, _ := json.Marshal(errs)
		t.Fatalf("cdk-nag findings on the CI stack: %s", b)
	}
}

// An account that already has GitHub's provider (one per issuer and account)
// gets roles that trust it, and no second provider.
func TestCIStackExistingProvider(t *testing.T) {
	arn := "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	_, tpl := synthCI(t, "dev", map[string]any{stacks.CtxGitHubRepository: "o/r", stacks.CtxGitHubProvider: arn})
	if n := len(tpl.ofType("AWS::IAM::OIDCProvider")); n != 0 {
		t.Fatalf("%d providers declared, want none", n)
	}
	for id, r := range tpl.ofType("AWS::IAM::Role") {
		if got := path(statements(r.Properties["AssumeRolePolicyDocument"])[0], "Principal", "Federated"); got != arn {
			t.Fatalf("role %s trusts %v, want %s", id, got, arn)
		}
	}
}

func TestCIStackNeedsRepository(t *testing.T) {
	st, err := config.Parse(stagesInCDK, "dev")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(t.TempDir(), "a"))})
	if s, err := stacks.BuildCI(app, st); s != nil || err != nil {
		t.Fatalf("without %s: %v, %v; want no stack", stacks.CtxGitHubRepository, s, err)
	}
	ctx := map[string]any{stacks.CtxGitHubRepository: "not a repo"}
	app = awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(t.TempDir(), "b")), Context: &ctx})
	if _, err := stacks.BuildCI(app, st); err == nil || !strings.Contains(err.Error(), `GitHub repository "not a repo" is not owner/name`) {
		t.Fatalf("bad repository: %v", err)
	}
}
