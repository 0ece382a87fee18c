package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/stacks"
)

// One synthesis per stage for the whole test binary (a CDK synth costs seconds).
var (
	dev, prod   *synthesized
	img         *synthesized // dev with image overrides and alarm e-mails
	custom      *synthesized // dev with its own retention, drain hook and an existing VPC (settings_test.go)
	fakeBuild   string
	stagesInCDK any
)

type synthesized struct {
	stage  *stacks.Stage
	outDir string
	data   template
	svc    template
}

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		tmp, err := os.MkdirTemp("", "foqus-infra-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		if err := setup(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "synth for the tests:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setup(tmp string) error {
	// Stand-in bootstraps, distinct per function so each gets its own asset:
	// the tests must not depend on the functions being built.
	fakeBuild = filepath.Join(tmp, "build")
	for _, name := range api.Functions() {
		p := filepath.Join(fakeBuild, "functions", name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n# test stand-in for "+name+"\n"), 0o755); err != nil {
			return err
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	cdkJSON, err := config.FindCDKJSON(wd)
	if err != nil {
		return err
	}
	ctx, err := config.FileContext(cdkJSON)
	if err != nil {
		return err
	}
	stagesInCDK = ctx["stages"]
	if dev, err = synth(filepath.Join(tmp, "dev"), "dev"); err != nil {
		return err
	}
	if prod, err = synth(filepath.Join(tmp, "prod"), "prod"); err != nil {
		return err
	}
	st, err := config.Parse(stagesInCDK, "dev")
	if err != nil {
		return err
	}
	st.Name, st.Image = "img", &config.Image{Parameters: imageParameters()}
	st.AlarmEmails = []string{"ops@example.com", "oncall@example.com"}
	if img, err = synthStage(filepath.Join(tmp, "img"), st); err != nil {
		return err
	}
	custom, err = synthStage(filepath.Join(tmp, "custom"), customStage(st))
	return err
}

// imageParameters are overrides of some recipe parameters (the manifest
// supplies the others).
func imageParameters() map[string]string {
	return map[string]string{
		"WorkerSha256": strings.Repeat("f", 64), "AspenLicenseServer": "slm.example.internal", "FoqusVersion": "3.24.1",
	}
}

func synth(outDir, stage string) (*synthesized, error) {
	st, err := config.Parse(stagesInCDK, stage)
	if err != nil {
		return nil, err
	}
	return synthStage(outDir, st)
}

func synthStage(outDir string, st config.Stage) (*synthesized, error) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir)})
	s, err := stacks.Build(app, st, fakeBuild)
	if err != nil {
		return nil, err
	}
	app.Synth(nil)
	out := &synthesized{stage: s, outDir: outDir}
	if out.data, err = readTemplate(outDir, *s.Data.StackName()); err != nil {
		return nil, err
	}
	if out.svc, err = readTemplate(outDir, *s.Service.StackName()); err != nil {
		return nil, err
	}
	return out, nil
}

// template is a synthesized CloudFormation template as parsed JSON.
type template struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Resources  map[string]cfnResource    `json:"Resources"`
	Outputs    map[string]map[string]any `json:"Outputs"`
}

type cfnResource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	DependsOn      any            `json:"DependsOn"`
}

func readTemplate(dir, stack string) (template, error) {
	var t template
	b, err := os.ReadFile(filepath.Join(dir, stack+".template.json"))
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal(b, &t)
}

// ofType returns the logical ids and resources of one type.
func (t template) ofType(typ string) map[string]cfnResource {
	out := map[string]cfnResource{}
	for id, r := range t.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// path walks nested maps and lists: path(v, "A", "B", 0, "C").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// refOf returns the logical id v points at through Ref or Fn::GetAtt, else "".
func refOf(v any) string {
	if s, ok := path(v, "Ref").(string); ok {
		return s
	}
	if s, ok := path(v, "Fn::GetAtt", 0).(string); ok {
		return s
	}
	return ""
}

// mentions reports whether the JSON of v contains s (for intrinsic-function soup).
func mentions(v any, s string) bool {
	b, _ := json.Marshal(v)
	return strings.Contains(string(b), s)
}
