// Package deploy puts a synthesized CDK cloud assembly (cdk.out) into an AWS
// emulator the way `cdk deploy` puts it into AWS: file assets into the
// bootstrap bucket, each stack through CloudFormation in dependency order.
// Then it applies from the same templates what moto's CloudFormation accepts
// but skips (SNS subscriptions with their filter policies), so the local stack
// runs exactly the infrastructure the CDK app declares.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Assembly is the part of a cloud assembly a deploy needs.
type Assembly struct {
	Dir    string
	Stacks []Stack // in deploy order: every stack after the stacks it depends on
}

// Stack is one CloudFormation stack of the assembly.
type Stack struct {
	Name         string
	TemplateFile string
	AssetsFile   string // its asset manifest, if it has assets
	Template     Template
}

// Template is the part of a CloudFormation template a deploy reads.
type Template struct {
	Resources map[string]Resource `json:"Resources"`
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

type manifest struct {
	Artifacts map[string]struct {
		Type         string   `json:"type"`
		Dependencies []string `json:"dependencies"`
		Properties   struct {
			TemplateFile string `json:"templateFile"`
			File         string `json:"file"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// ReadAssembly reads dir/manifest.json and the templates it names.
func ReadAssembly(dir string) (*Assembly, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read the cloud assembly (run `make synth`): %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s/manifest.json: %w", dir, err)
	}
	stacks := map[string]*Stack{}
	deps := map[string][]string{}
	for name, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		st := &Stack{Name: name, TemplateFile: filepath.Join(dir, a.Properties.TemplateFile)}
		for _, d := range a.Dependencies {
			dep := m.Artifacts[d]
			switch dep.Type {
			case "cdk:asset-manifest":
				st.AssetsFile = filepath.Join(dir, dep.Properties.File)
			case "aws:cloudformation:stack":
				deps[name] = append(deps[name], d)
			}
		}
		tb, err := os.ReadFile(st.TemplateFile)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(tb, &st.Template); err != nil {
			return nil, fmt.Errorf("parse %s: %w", st.TemplateFile, err)
		}
		stacks[name] = st
	}
	if len(stacks) == 0 {
		return nil, fmt.Errorf("%s holds no CloudFormation stack", dir)
	}
	order, err := topo(stacks, deps)
	if err != nil {
		return nil, err
	}
	asm := &Assembly{Dir: dir}
	for _, n := range order {
		asm.Stacks = append(asm.Stacks, *stacks[n])
	}
	return asm, nil
}

// topo orders stacks after their dependencies (names sorted for a stable order).
func topo(stacks map[string]*Stack, deps map[string][]string) ([]string, error) {
	names := make([]string, 0, len(stacks))
	for n := range stacks {
		names = append(names, n)
	}
	sort.Strings(names)
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("stack dependency cycle at %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range deps[n] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}
