// Package ami holds the Windows worker image as EC2 Image Builder component
// documents (AWSTOE YAML, one per concern, in components/) and hands them to
// the CDK app, which turns each into an imagebuilder.CfnComponent and lists
// them, in Components order, in the image recipe.
package ami

import (
	"embed"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"
)

//go:embed components/*.yaml
var documents embed.FS

// Platform of every component.
const Platform = "Windows"

// RebootMarker is the file a component leaves when it changed something
// Windows reads only at boot; the worker-service component (the last one)
// reboots once if it exists.
const RebootMarker = `C:\ProgramData\FOQUS\image\reboot-pending`

// recipe is the order the components must run in, with the version each is
// published as. Image Builder components are immutable: a changed document
// needs a new version (the tests pin each version's content hash).
var recipe = []struct{ file, version string }{
	{"foqus-python.yaml", "1.0.2"},
	{"turbinelite.yaml", "1.0.1"},
	{"aspen.yaml", "1.0.2"},
	{"machine-path.yaml", "1.0.0"},
	{"interactive-services.yaml", "1.0.0"},
	{"worker-service.yaml", "1.0.2"},
}

// Parameter is a component parameter; the recipe must give a value for
// every parameter without a default.
type Parameter struct {
	Name        string
	Type        string
	Default     string
	HasDefault  bool
	Description string
}

// Component is one Image Builder component document.
type Component struct {
	Name        string // the document's name; the CDK app may add the stage
	Version     string // semantic version for imagebuilder.CfnComponent
	Description string
	Platform    string
	File        string // path inside this package, e.g. components/aspen.yaml
	Content     string // the AWSTOE document, for CfnComponent's data
	Parameters  []Parameter
}

// Required lists the parameters the recipe must supply (no default).
func (c Component) Required() []string {
	var names []string
	for _, p := range c.Parameters {
		if !p.HasDefault {
			names = append(names, p.Name)
		}
	}
	return names
}

// header is the part of a document this package reads; the tests check the rest.
type header struct {
	Name        string                            `yaml:"name"`
	Description string                            `yaml:"description"`
	Parameters  []map[string]parameterDeclaration `yaml:"parameters"`
}

type parameterDeclaration struct {
	Type        string  `yaml:"type"`
	Default     *string `yaml:"default"`
	Description string  `yaml:"description"`
}

// Components returns every component in recipe order.
func Components() ([]Component, error) {
	out := make([]Component, 0, len(recipe))
	for _, r := range recipe {
		c, err := load(r.file, r.version)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Lookup returns the component named name.
func Lookup(name string) (Component, error) {
	all, err := Components()
	if err != nil {
		return Component{}, err
	}
	for _, c := range all {
		if c.Name == name {
			return c, nil
		}
	}
	return Component{}, fmt.Errorf("ami: no component named %q", name)
}

func load(file, version string) (Component, error) {
	p := path.Join("components", file)
	b, err := documents.ReadFile(p)
	if err != nil {
		return Component{}, err
	}
	var h header
	if err := yaml.Unmarshal(b, &h); err != nil {
		return Component{}, fmt.Errorf("ami: %s: %w", p, err)
	}
	c := Component{Name: h.Name, Version: version, Description: h.Description, Platform: Platform, File: p, Content: string(b)}
	for _, m := range h.Parameters {
		if len(m) != 1 {
			return Component{}, fmt.Errorf("ami: %s: a parameter entry must declare exactly one name", p)
		}
		for name, d := range m {
			prm := Parameter{Name: name, Type: d.Type, Description: d.Description}
			if d.Default != nil {
				prm.Default, prm.HasDefault = *d.Default, true
			}
			c.Parameters = append(c.Parameters, prm)
		}
	}
	return c, nil
}
