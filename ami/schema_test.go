package ami

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// doc is a parsed component document, kept as yaml.Node so key order,
// scalar tags (bool, int) and duplicates are visible.
type doc struct {
	Component
	root   *yaml.Node
	params map[string]Parameter
	steps  []step // every step of every phase, in document order
}

type step struct {
	phase  string
	index  int // within its phase
	name   string
	action string
	node   *yaml.Node
	inputs *yaml.Node
}

// text is every scalar of the step, one per line: what the step "says".
func (s step) text() string { return strings.Join(scalars(s.node), "\n") }

func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keys(m *yaml.Node) []string {
	var ks []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		ks = append(ks, m.Content[i].Value)
	}
	return ks
}

func loadDocs(t *testing.T) []doc {
	t.Helper()
	cs, err := Components()
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	for _, c := range cs {
		var file yaml.Node
		if err := yaml.Unmarshal([]byte(c.Content), &file); err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		if len(file.Content) != 1 || file.Content[0].Kind != yaml.MappingNode {
			t.Fatalf("%s: not a single YAML mapping", c.File)
		}
		d := doc{Component: c, root: file.Content[0], params: map[string]Parameter{}}
		for _, p := range c.Parameters {
			d.params[p.Name] = p
		}
		if phases := get(d.root, "phases"); phases != nil {
			for _, ph := range phases.Content {
				name := ""
				if n := get(ph, "name"); n != nil {
					name = n.Value
				}
				if ss := get(ph, "steps"); ss != nil {
					for i, s := range ss.Content {
						st := step{phase: name, index: i, node: s, inputs: get(s, "inputs")}
						if n := get(s, "name"); n != nil {
							st.name = n.Value
						}
						if a := get(s, "action"); a != nil {
							st.action = a.Value
						}
						d.steps = append(d.steps, st)
					}
				}
			}
		}
		docs = append(docs, d)
	}
	return docs
}

var (
	componentName = regexp.MustCompile(`^[A-Za-z0-9][-_A-Za-z0-9]{1,126}[-_A-Za-z0-9]$`)
	identifier    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	reference     = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)
	semver        = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
)

func allowedKeys(t *testing.T, where string, m *yaml.Node, allowed ...string) {
	t.Helper()
	if m == nil || m.Kind != yaml.MappingNode {
		t.Errorf("%s: want a mapping", where)
		return
	}
	for _, k := range keys(m) {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			t.Errorf("%s: unknown key %q (allowed: %v)", where, k, allowed)
		}
	}
}

func TestDocumentsFollowAWSTOESchema(t *testing.T) {
	docs := loadDocs(t)
	if len(docs) != 6 {
		t.Fatalf("%d components, want 6 (one per concern)", len(docs))
	}
	seenNames := map[string]bool{}
	for _, d := range docs {
		t.Run(d.Name, func(t *testing.T) {
			allowedKeys(t, d.File, d.root, "name", "description", "schemaVersion", "parameters", "phases")
			if !componentName.MatchString(d.Name) || seenNames[d.Name] {
				t.Errorf("component name %q invalid or repeated", d.Name)
			}
			seenNames[d.Name] = true
			if !semver.MatchString(d.Version) {
				t.Errorf("version %q is not major.minor.patch", d.Version)
			}
			if v := get(d.root, "schemaVersion"); v == nil || v.Value != "1.0" {
				t.Errorf("schemaVersion must be 1.0")
			}
			// CreateComponent takes inline data up to 16,000 characters.
			if n := len([]rune(d.Content)); n > 16000 {
				t.Errorf("%d characters, over Image Builder's 16000 for inline component data", n)
			}
			if d.Description == "" || len(d.Description) > 1024 {
				t.Errorf("description empty or over 1024 characters")
			}
			checkParameters(t, d)
			checkPhases(t, d)
			checkReferences(t, d)
		})
	}
}

func checkParameters(t *testing.T, d doc) {
	ks := keys(d.root)
	pi, phi := -1, -1
	for i, k := range ks {
		switch k {
		case "parameters":
			pi = i
		case "phases":
			phi = i
		}
	}
	if pi >= 0 && pi > phi {
		t.Errorf("parameters must be declared before phases")
	}
	params := get(d.root, "parameters")
	if params == nil {
		return
	}
	if params.Kind != yaml.SequenceNode {
		t.Fatalf("parameters must be a list")
	}
	seen := map[string]bool{}
	for _, p := range params.Content {
		if p.Kind != yaml.MappingNode || len(p.Content) != 2 {
			t.Errorf("parameter entry must be a one-key mapping")
			continue
		}
		name, decl := p.Content[0].Value, p.Content[1]
		if !identifier.MatchString(name) || seen[name] {
			t.Errorf("parameter name %q invalid or repeated", name)
		}
		seen[name] = true
		allowedKeys(t, "parameter "+name, decl, "type", "default", "description")
		if ty := get(decl, "type"); ty == nil || ty.Value != "string" {
			t.Errorf("parameter %s: type must be string", name)
		}
		if desc := get(decl, "description"); desc == nil || desc.Value == "" {
			t.Errorf("parameter %s: no description", name)
		}
	}
}

func checkPhases(t *testing.T, d doc) {
	phases := get(d.root, "phases")
	if phases == nil || phases.Kind != yaml.SequenceNode {
		t.Fatalf("phases must be a list")
	}
	var names []string
	for _, ph := range phases.Content {
		allowedKeys(t, "phase", ph, "name", "steps")
		n := get(ph, "name")
		if n == nil {
			t.Errorf("phase without name")
			continue
		}
		switch n.Value {
		case "build", "validate", "test":
		default:
			t.Errorf("phase %q: only build, validate and test exist", n.Value)
		}
		for _, prev := range names {
			if prev == n.Value {
				t.Errorf("phase %q repeated", n.Value)
			}
		}
		names = append(names, n.Value)
		if ss := get(ph, "steps"); ss == nil || ss.Kind != yaml.SequenceNode || len(ss.Content) == 0 {
			t.Errorf("phase %q has no steps", n.Value)
		}
	}
	if strings.Join(names, ",") != "build,validate,test" {
		t.Errorf("phases %v, want build, validate, test", names)
	}
	seen := map[string]bool{}
	for _, s := range d.steps {
		where := fmt.Sprintf("%s/%s", s.phase, s.name)
		allowedKeys(t, where, s.node, "name", "action", "inputs", "onFailure", "maxAttempts", "timeoutSeconds")
		if !identifier.MatchString(s.name) || seen[s.name] {
			t.Errorf("%s: step name invalid or repeated", where)
		}
		seen[s.name] = true
		if of := get(s.node, "onFailure"); of != nil && of.Value != "Abort" && of.Value != "Continue" && of.Value != "Ignore" {
			t.Errorf("%s: onFailure %q", where, of.Value)
		}
		for _, k := range []string{"maxAttempts", "timeoutSeconds"} {
			if v := get(s.node, k); v != nil {
				if n, err := strconv.Atoi(v.Value); v.Tag != "!!int" || err != nil || n < 1 {
					t.Errorf("%s: %s must be a positive integer", where, k)
				}
			}
		}
		if s.action == "Reboot" && get(s.node, "timeoutSeconds") != nil {
			t.Errorf("%s: Reboot does not support timeoutSeconds", where)
		}
		checkInputs(t, d, where, s)
	}
}

// resolve substitutes parameter defaults, for checks on values that are
// parameter references.
func (d doc) resolve(s string) string {
	return reference.ReplaceAllStringFunc(s, func(m string) string {
		name := reference.FindStringSubmatch(m)[1]
		if p, ok := d.params[name]; ok && p.HasDefault {
			return p.Default
		}
		return m
	})
}

func checkInputs(t *testing.T, d doc, where string, s step) {
	in := s.inputs
	str := func(m *yaml.Node, key string, required bool) *yaml.Node {
		v := get(m, key)
		if v == nil {
			if required {
				t.Errorf("%s: %s input needs %q", where, s.action, key)
			}
			return nil
		}
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			t.Errorf("%s: %q must be a non-empty scalar", where, key)
		}
		return v
	}
	boolean := func(m *yaml.Node, key string) {
		if v := get(m, key); v != nil && v.Tag != "!!bool" {
			t.Errorf("%s: %q must be a boolean", where, key)
		}
	}
	list := func() []*yaml.Node {
		if in == nil || in.Kind != yaml.SequenceNode || len(in.Content) == 0 {
			t.Errorf("%s: %s inputs must be a non-empty list", where, s.action)
			return nil
		}
		return in.Content
	}
	switch s.action {
	case "ExecutePowerShell":
		allowedKeys(t, where, in, "commands", "file")
		cmds, file := get(in, "commands"), get(in, "file")
		if (cmds == nil) == (file == nil) {
			t.Errorf("%s: exactly one of commands or file", where)
		}
		if cmds != nil {
			if cmds.Kind != yaml.SequenceNode || len(cmds.Content) == 0 {
				t.Errorf("%s: commands must be a non-empty list", where)
			}
			for _, c := range cmds.Content {
				if c.Kind != yaml.ScalarNode || strings.TrimSpace(c.Value) == "" {
					t.Errorf("%s: every command must be a non-empty string", where)
				}
			}
		}
		if file != nil && !strings.HasSuffix(strings.ToLower(file.Value), ".ps1") {
			t.Errorf("%s: file must be a .ps1", where)
		}
	case "ExecuteBinary":
		allowedKeys(t, where, in, "path", "arguments")
		str(in, "path", true)
		if a := get(in, "arguments"); a != nil {
			if a.Kind != yaml.SequenceNode {
				t.Errorf("%s: arguments must be a list", where)
			}
			for _, x := range a.Content {
				if x.Kind != yaml.ScalarNode || x.Tag != "!!str" {
					t.Errorf("%s: argument %q must be a string", where, x.Value)
				}
			}
		}
	case "S3Download":
		for _, e := range list() {
			allowedKeys(t, where, e, "source", "destination", "expectedBucketOwner", "overwrite")
			if src := str(e, "source", true); src != nil && !strings.HasPrefix(src.Value, "s3://") {
				t.Errorf("%s: source %q is not s3://", where, src.Value)
			}
			str(e, "destination", true)
			boolean(e, "overwrite")
		}
	case "WebDownload":
		for _, e := range list() {
			allowedKeys(t, where, e, "source", "destination", "overwrite", "checksum", "algorithm")
			if src := str(e, "source", true); src != nil && !strings.HasPrefix(src.Value, "https://") {
				t.Errorf("%s: source %q is not https://", where, src.Value)
			}
			str(e, "destination", true)
			boolean(e, "overwrite")
		}
	case "CreateFolder":
		for _, e := range list() {
			allowedKeys(t, where, e, "path", "permissions", "owner", "group", "overwrite")
			str(e, "path", true)
			boolean(e, "overwrite")
		}
	case "InstallMSI":
		allowedKeys(t, where, in, "path", "reboot", "logOptions", "logFile", "properties", "ignoreAuthenticodeSignatureErrors", "allowUnsignedInstaller")
		str(in, "path", true)
		if r := get(in, "reboot"); r != nil && r.Value != "Allow" && r.Value != "Force" && r.Value != "Skip" {
			t.Errorf("%s: reboot %q", where, r.Value)
		}
		if p := get(in, "properties"); p != nil && p.Kind != yaml.MappingNode {
			t.Errorf("%s: properties must be a mapping", where)
		}
		boolean(in, "ignoreAuthenticodeSignatureErrors")
		boolean(in, "allowUnsignedInstaller")
	case "SetRegistry":
		for _, e := range list() {
			allowedKeys(t, where, e, "path", "name", "value", "type")
			if p := str(e, "path", true); p != nil {
				path := d.resolve(p.Value)
				ok := false
				for _, prefix := range []string{"HKEY_CLASSES_ROOT", "HKCR:", "HKEY_USERS", "HKU:", "HKEY_LOCAL_MACHINE", "HKLM:", "HKEY_CURRENT_CONFIG", "HKCC:", "HKEY_CURRENT_USER", "HKCU:"} {
					ok = ok || strings.HasPrefix(path, prefix)
				}
				if !ok {
					t.Errorf("%s: registry path %q has no supported hive prefix", where, path)
				}
			}
			str(e, "name", true)
			if get(e, "value") == nil {
				t.Errorf("%s: SetRegistry needs value", where)
			}
			switch ty := str(e, "type", true); {
			case ty == nil:
			case strings.Contains(" BINARY DWORD QWORD SZ EXPAND_SZ MULTI_SZ ", " "+ty.Value+" "):
				if v := get(e, "value"); (ty.Value == "DWORD" || ty.Value == "QWORD") && v != nil && v.Tag != "!!int" {
					t.Errorf("%s: %s value %q is not an integer", where, ty.Value, v.Value)
				}
			default:
				t.Errorf("%s: registry type %q", where, ty.Value)
			}
		}
	case "Reboot":
		if in != nil {
			allowedKeys(t, where, in, "delaySeconds")
		}
	default:
		t.Errorf("%s: unknown or unsupported action module %q", where, s.action)
	}
}

// checkReferences: every {{ name }} is a declared parameter, and every
// declared parameter is used.
func checkReferences(t *testing.T, d doc) {
	used := map[string]bool{}
	for _, s := range d.steps {
		for _, m := range reference.FindAllStringSubmatch(s.text(), -1) {
			used[m[1]] = true
			if _, ok := d.params[m[1]]; !ok {
				t.Errorf("step %s uses {{ %s }}, which is not a declared parameter", s.name, m[1])
			}
		}
	}
	for name := range d.params {
		if !used[name] {
			t.Errorf("parameter %s is declared but never used", name)
		}
	}
	// Outside the steps only the header may hold text; no references there.
	for _, k := range []string{"name", "description"} {
		if v := get(d.root, k); v != nil && reference.MatchString(v.Value) {
			t.Errorf("%s must not reference parameters", k)
		}
	}
}
