package ami

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/worker/service"
	"gopkg.in/yaml.v3"
)

func find(t *testing.T, docs []doc, name string) doc {
	t.Helper()
	for _, d := range docs {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no component %s", name)
	return doc{}
}

// TestEveryDownloadIsVerifiedBeforeUse: each installer a component downloads
// is checked with Get-FileHash against the SHA-256 the manifest lists for
// its object key (or the stage's override of its checksum parameter), after
// the component fetched the manifest; a missing entry and a mismatch both
// delete the file and throw; nothing touches the file in between, and the
// file is then used (installed).
func TestEveryDownloadIsVerifiedBeforeUse(t *testing.T) {
	installers, err := Installers()
	if err != nil {
		t.Fatal(err)
	}
	byKeyParam := map[string]Installer{}
	for _, in := range installers {
		byKeyParam[in.KeyParameter] = in
	}
	source := regexp.MustCompile(`^s3://\{\{ ArtifactsBucket \}\}/\{\{ (\w+) \}\}$`)
	downloads, manifests := 0, 0
	for _, d := range loadDocs(t) {
		manifestAt := map[string]int{} // phase -> index of its manifest download
		for i, s := range d.steps {
			if s.action != "S3Download" && s.action != "WebDownload" {
				continue
			}
			for _, in := range s.inputs.Content {
				dest := get(in, "destination").Value
				where := fmt.Sprintf("%s %s -> %s", d.Name, s.name, dest)
				m := source.FindStringSubmatch(get(in, "source").Value)
				if s.action != "S3Download" || m == nil {
					t.Errorf("%s: not a download of a key parameter from the artifacts bucket", where)
					continue
				}
				if m[1] == "ManifestKey" {
					manifests++
					if dest != ManifestPath || d.params["ManifestKey"].Default != ManifestKey {
						t.Errorf("%s: the manifest goes to %s, from %s by default", where, ManifestPath, ManifestKey)
					}
					manifestAt[s.phase] = i
					continue
				}
				downloads++
				inst, ok := byKeyParam[m[1]]
				if !ok || inst.Component != d.Name {
					t.Errorf("%s: %s is not an installer key of this component (ami.Installers)", where, m[1])
					continue
				}
				verify := -1
				for j := i + 1; j < len(d.steps) && d.steps[j].phase == s.phase; j++ {
					txt := d.steps[j].text()
					if !strings.Contains(txt, dest) {
						continue
					}
					if d.steps[j].action == "ExecutePowerShell" && strings.Contains(txt, "Get-FileHash -Algorithm SHA256") {
						verify = j
						break
					}
					t.Errorf("%s: step %s uses the file before any SHA-256 check", where, d.steps[j].name)
				}
				if verify < 0 {
					t.Errorf("%s: no SHA-256 verification follows the download", where)
					continue
				}
				v := d.steps[verify]
				txt := v.text()
				if at, ok := manifestAt[s.phase]; !ok || at > verify {
					t.Errorf("%s: %s runs before the component downloaded the manifest", where, v.name)
				}
				// The file's key and checksum parameter: on the file's own line
				// (a table of files) or the assignments of a one-file check.
				keyRef, shaRef := "{{ "+inst.KeyParameter+" }}", "{{ "+inst.ChecksumParameter+" }}"
				bound := false
				for _, l := range strings.Split(txt, "\n") {
					bound = bound || strings.Contains(l, dest) && strings.Contains(l, keyRef) && strings.Contains(l, shaRef)
				}
				bound = bound || strings.Contains(txt, "$file = '"+dest+"'") && strings.Contains(txt, "$key = '"+keyRef+"'") && strings.Contains(txt, "$want = '"+shaRef+"'.Trim()")
				if !bound {
					t.Errorf("%s: %s does not compare the file with %s or the manifest entry for %s", where, v.name, inst.ChecksumParameter, inst.KeyParameter)
				}
				for _, must := range []string{
					"$manifest = Get-Content -Raw -LiteralPath '" + ManifestPath + "' | ConvertFrom-Json",
					"if ($want -eq '" + FromManifest + "') { $want = \"$($manifest.files.$key)\".Trim() }",
					"if (-not $want) {",
					"lists no SHA-256 for ${key}",
					"if ($got -ne $want.ToUpperInvariant()) {",
					"SHA256 mismatch for ${file}",
				} {
					if !strings.Contains(txt, must) {
						t.Errorf("%s: %s lacks %q", where, v.name, must)
					}
				}
				// Both failures delete the file before throwing.
				if strings.Count(txt, "Remove-Item -LiteralPath $file -Force") != 2 || strings.Count(txt, "throw") != 2 {
					t.Errorf("%s: %s must delete the file and throw on a missing entry and on a mismatch", where, v.name)
				}
				if p := d.params[inst.ChecksumParameter]; p.Default != FromManifest {
					t.Errorf("%s: %s must default to %q (an override, never required)", where, inst.ChecksumParameter, FromManifest)
				}
				used := false
				for _, u := range d.steps[verify+1:] {
					switch u.action {
					case "InstallMSI":
						used = used || get(u.inputs, "path").Value == dest
					case "ExecutePowerShell":
						ut := u.text()
						used = used || strings.Contains(ut, dest) && regexp.MustCompile(`Start-Process|Copy-Item|Expand-Archive|tar\.exe`).MatchString(ut)
					}
				}
				if !used {
					t.Errorf("%s: downloaded but never installed", where)
				}
			}
		}
	}
	if downloads != 6 || len(installers) != 6 {
		t.Errorf("%d downloads, %d installers, want 6 (Anaconda, SQL Compact, SimSinter, TurbineLite, Aspen, worker)", downloads, len(installers))
	}
	if manifests != 4 {
		t.Errorf("%d manifest downloads, want one per downloading component (4)", manifests)
	}
}

// TestServiceInstallUsesTheWorkersCommandLine holds the image to the
// worker's own definition: renaming a flag in worker/service breaks it.
func TestServiceInstallUsesTheWorkersCommandLine(t *testing.T) {
	d := find(t, loadDocs(t), "foqus-worker-service")
	want := service.InstallArgs(service.ImageInstallOptions())
	exe := `C:\Program Files\FOQUS Cloud\` + service.Executable
	installs := 0
	for _, s := range d.steps {
		if s.action == "ExecuteBinary" && get(s.inputs, "path").Value == exe {
			installs++
			var got []string
			for _, a := range get(s.inputs, "arguments").Content {
				got = append(got, a.Value)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s runs %s %q, want %q (service.InstallArgs)", s.name, service.Executable, got, want)
			}
			if _, err := service.ParseCommand(got); err != nil {
				t.Errorf("the worker rejects the image's install line: %v", err)
			}
		}
		if s.action == "ExecutePowerShell" && regexp.MustCompile(`foqus-worker(\.exe)?'?\s+install`).MatchString(s.text()) {
			t.Errorf("%s installs the service from a script; use the ExecuteBinary step", s.name)
		}
	}
	if installs != 1 {
		t.Fatalf("%d ExecuteBinary steps run %s, want 1", installs, exe)
	}
	content := d.Content
	pathName := `"` + exe + `" ` + strings.Join(service.ServiceArgs(service.ImageInstallOptions()), " ")
	if !strings.Contains(content, pathName) {
		t.Errorf("validate does not check the service command line %s", pathName)
	}
	if !strings.Contains(content, "Name='"+service.Name+"'") || !strings.Contains(content, "qfailure "+service.Name) {
		t.Errorf("validate does not look at service %s", service.Name)
	}
	var ms []string
	for _, d := range service.RecoveryDelays {
		ms = append(ms, fmt.Sprint(d.Milliseconds()))
	}
	if !strings.Contains(content, "foreach ($ms in "+strings.Join(ms, ", ")+")") {
		t.Errorf("validate does not check the recovery delays %v", ms)
	}
	if service.ImageInstallOptions().Startup != service.StartupDelayed || !strings.Contains(content, "DelayedAutoStart") {
		t.Errorf("the image must install and validate a delayed automatic start")
	}
}

var pathKey = func(p string) string { return strings.ToLower(strings.TrimRight(strings.TrimSpace(p), `\`)) }

func TestMachinePathMerges(t *testing.T) {
	docs := loadDocs(t)
	setx := regexp.MustCompile(`(?i)\bsetx(\.exe)?\b`)
	setEnv := regexp.MustCompile(`SetEnvironmentVariable\(([^)]*)\)`)
	calls := 0
	for _, d := range docs {
		for _, s := range d.steps {
			if setx.MatchString(s.text()) {
				t.Errorf("%s/%s uses setx, which truncates the value", d.Name, s.name)
			}
			for _, m := range setEnv.FindAllStringSubmatch(s.text(), -1) {
				calls++
				if !strings.HasSuffix(strings.TrimSpace(m[1]), "'Machine'") {
					t.Errorf("%s/%s: SetEnvironmentVariable(%s) does not target the machine", d.Name, s.name, m[1])
				}
			}
		}
	}
	if calls != 1 {
		t.Errorf("%d SetEnvironmentVariable calls, want exactly the PATH merge", calls)
	}

	d := find(t, docs, "foqus-machine-path")
	p := d.params["PathEntries"]
	entries := strings.Split(p.Default, ";")
	seen := map[string]bool{}
	for _, e := range entries {
		if strings.TrimSpace(e) == "" || seen[pathKey(e)] {
			t.Errorf("PathEntries has an empty or repeated entry %q", e)
		}
		seen[pathKey(e)] = true
	}
	for _, want := range []string{`\envs\foqus`, `\anaconda3`, `sql server compact`, `aspentech shared`} {
		found := false
		for k := range seen {
			found = found || strings.Contains(k, want)
		}
		if !found {
			t.Errorf("PathEntries lacks an entry for %q", want)
		}
	}
	if pathKey(entries[0]) != `c:\programdata\anaconda3\envs\foqus` {
		t.Errorf("the foqus environment must come first (its python.exe must win): %q", entries[0])
	}

	var merge string
	for _, s := range d.steps {
		if s.name == "MergeMachinePath" {
			merge = s.text()
		}
	}
	// The script's shape: start from every current entry, append only
	// missing wanted ones, write only when something was added.
	for _, must := range []string{
		"$current = [Environment]::GetEnvironmentVariable('Path', 'Machine')",
		"foreach ($e in \"$current\".Split(';'))",
		"$entries.Add($e)",
		"foreach ($want in '{{ PathEntries }}'.Split(';'))",
		"if ($have.ContainsKey((Key $want))) { continue }",
		"$entries.Add($want.Trim())",
		"$have[(Key $want)] = $true",
		"if ($added.Count -eq 0) {",
		"$merged = $entries -join ';'",
		"[Environment]::SetEnvironmentVariable('Path', $merged, 'Machine')",
		RebootMarker,
	} {
		if !strings.Contains(merge, must) {
			t.Errorf("MergeMachinePath lacks %q", must)
		}
	}
	if strings.Index(merge, "exit 0") > strings.Index(merge, "SetEnvironmentVariable") {
		t.Errorf("MergeMachinePath must leave before writing when nothing is missing")
	}
	if v := d.Content; !strings.Contains(v, "want exactly once") {
		t.Errorf("validate must check each entry appears exactly once")
	}
}

// TestMachinePathScriptWithPwsh runs the merge script for real when
// PowerShell is installed, with the machine PATH replaced by a file.
func TestMachinePathScriptWithPwsh(t *testing.T) {
	pwsh, err := exec.LookPath("pwsh")
	if err != nil {
		t.Skip("pwsh not installed: the script is checked by text only (TestMachinePathMerges)")
	}
	d := find(t, loadDocs(t), "foqus-machine-path")
	var script string
	for _, s := range d.steps {
		if s.name == "MergeMachinePath" {
			script = s.text()
		}
	}
	dir := t.TempDir()
	state, marker := filepath.Join(dir, "path.txt"), filepath.Join(dir, "reboot-pending")
	r := strings.NewReplacer(
		"{{ PathEntries }}", d.params["PathEntries"].Default,
		"[Environment]::GetEnvironmentVariable('Path', 'Machine')", "(Get-Content -Raw -LiteralPath '"+state+"')",
		"[Environment]::SetEnvironmentVariable('Path', $merged, 'Machine')", "Set-Content -NoNewline -LiteralPath '"+state+"' -Value $merged",
		"New-Item -ItemType Directory -Force -Path 'C:\\ProgramData\\FOQUS\\image' | Out-Null", "",
		RebootMarker, marker,
	)
	file := filepath.Join(dir, "merge.ps1")
	if err := os.WriteFile(file, []byte(r.Replace(script)), 0o600); err != nil {
		t.Fatal(err)
	}
	initial := `C:\Windows\system32;C:\Windows;c:\programdata\anaconda3\condabin\;C:\Tools`
	if err := os.WriteFile(state, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		if out, err := exec.Command(pwsh, "-NoProfile", "-File", file).CombinedOutput(); err != nil {
			t.Fatalf("pwsh: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(state)
		return string(b)
	}
	first := run()
	if !strings.HasPrefix(first, initial+";") {
		t.Fatalf("existing entries not kept in front: %q", first)
	}
	counts := map[string]int{}
	for _, e := range strings.Split(first, ";") {
		counts[pathKey(e)]++
	}
	for _, e := range strings.Split(d.params["PathEntries"].Default, ";") {
		if counts[pathKey(e)] != 1 {
			t.Errorf("%q appears %d times", e, counts[pathKey(e)])
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("a change must leave the reboot marker: %v", err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if second := run(); second != first {
		t.Errorf("second run changed the PATH:\n%q\n%q", first, second)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a run without change asked for a reboot")
	}
}

func TestNoInteractiveServicesIsDWORDZero(t *testing.T) {
	found := 0
	for _, d := range loadDocs(t) {
		for _, s := range d.steps {
			if s.action != "SetRegistry" {
				continue
			}
			for _, in := range s.inputs.Content {
				if get(in, "name").Value != "NoInteractiveServices" {
					continue
				}
				found++
				path := strings.ToUpper(strings.Replace(get(in, "path").Value, "HKEY_LOCAL_MACHINE", "HKLM:", 1))
				if path != `HKLM:\SYSTEM\CURRENTCONTROLSET\CONTROL\WINDOWS` {
					t.Errorf("NoInteractiveServices written under %s", path)
				}
				if ty := get(in, "type").Value; ty != "DWORD" {
					t.Errorf("NoInteractiveServices type %s, want DWORD", ty)
				}
				if v := get(in, "value"); v.Tag != "!!int" || v.Value != "0" {
					t.Errorf("NoInteractiveServices = %s (%s), want the integer 0: interactive services allowed", v.Value, v.Tag)
				}
			}
		}
	}
	if found != 1 {
		t.Errorf("NoInteractiveServices set %d times, want once", found)
	}
	if !service.ImageInstallOptions().Interactive {
		t.Errorf("NoInteractiveServices=0 exists for the interactive service; the image no longer installs one")
	}
}

func TestNoCredentialInAnyDocument(t *testing.T) {
	patterns := map[string]*regexp.Regexp{
		"password":          regexp.MustCompile(`(?i)passw(or)?d|\bpwd\b`),
		"secret":            regexp.MustCompile(`(?i)secret|aws_session_token|credential`),
		"access key id":     regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
		"40-char key":       regexp.MustCompile(`(^|[^A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}([^A-Za-z0-9/+=]|$)`),
		"private key":       regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
		"service account":   regexp.MustCompile(`--user\b`),
		"IPv4 address":      regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`),
		"bucket in the doc": regexp.MustCompile(`s3://[a-z0-9]`),
	}
	for _, d := range loadDocs(t) {
		for what, re := range patterns {
			if loc := re.FindStringIndex(d.Content); loc != nil {
				t.Errorf("%s: %s: %q", d.File, what, d.Content[loc[0]:loc[1]])
			}
		}
	}
	aspen := find(t, loadDocs(t), "foqus-aspen")
	if p, ok := aspen.params["AspenLicenseServer"]; !ok || p.Default != FromManifest {
		t.Errorf("the licence server must be a parameter read from the manifest by default")
	}
}

// TestRebootsAreIdempotent: a step that asks for a reboot (exit 3010) must
// have a way out before it (so its rerun after the reboot does nothing),
// and the reboot marker is consumed by the last component only.
func TestRebootsAreIdempotent(t *testing.T) {
	docs := loadDocs(t)
	for _, d := range docs {
		for _, s := range d.steps {
			if s.action == "Reboot" {
				t.Errorf("%s/%s: an unconditional Reboot step reboots on every run", d.Name, s.name)
			}
			txt := s.text()
			i := strings.Index(txt, "exit 3010")
			if i < 0 {
				continue
			}
			if !strings.Contains(txt[:i], "exit 0") {
				t.Errorf("%s/%s: exits 3010 with no earlier way out for the rerun", d.Name, s.name)
			}
			if strings.Contains(txt, RebootMarker) || strings.Contains(txt, "$marker") {
				if r := strings.Index(txt, "Remove-Item -LiteralPath $marker"); r < 0 || r > i {
					t.Errorf("%s/%s: must remove the marker before asking for the reboot", d.Name, s.name)
				}
			}
		}
	}
	last := docs[len(docs)-1]
	if last.Name != "foqus-worker-service" {
		t.Fatalf("the worker service must be the last component, got %s", last.Name)
	}
	final := last.steps[0]
	for _, s := range last.steps {
		if s.phase == "build" {
			final = s
		}
	}
	if final.name != "RebootIfPending" || !strings.Contains(final.text(), RebootMarker) {
		t.Errorf("the last build step must be the pending reboot, got %s", final.name)
	}
	for _, d := range docs[:len(docs)-1] {
		if strings.Contains(d.Content, RebootMarker) && strings.Contains(d.Content, "exit 3010") {
			t.Errorf("%s: only the last component consumes the reboot marker", d.Name)
		}
	}
	for _, name := range []string{"foqus-machine-path", "foqus-interactive-services"} {
		if !strings.Contains(find(t, docs, name).Content, RebootMarker) {
			t.Errorf("%s changes a boot-time setting but never asks for the reboot", name)
		}
	}
}

// versions pins each published version to its content: Image Builder
// components are immutable, so an edited document needs a new version.
// After editing a document: bump its version in ami.go and put the new hash here.
var versions = map[string]struct{ version, sha256 string }{
	"foqus-python":               {"1.0.2", "b2d1e00cb63bfba26dd77b3c4733f9cd5b2a851f8d6d3010a32e8176d29d7e4d"},
	"foqus-turbinelite":          {"1.0.1", "c3e9ca26bcdda2ba0dd62034b7d5ba75952746c281b1d242f7dd59411a86dd3c"},
	"foqus-aspen":                {"1.0.2", "752ba1c17529e5367304cbf592b952cfcd4c3d04e8937b22710637d92831cb68"},
	"foqus-machine-path":         {"1.0.0", "54fb14e31573983d5372f9aca16be75eb9646e3abbe66f51155391c29902ebc6"},
	"foqus-interactive-services": {"1.0.0", "33fa8e9aca5690eac3bd56b7491f79aebc28e8235f970d16b1720e23b0cd38c1"},
	"foqus-worker-service":       {"1.0.2", "b24c436273ae95c9e93937904be4d5a2106d5a9e5cd2459739e118251a5cadcd"},
}

func TestVersionsPinContent(t *testing.T) {
	cs, err := Components()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(versions) {
		t.Fatalf("%d components, %d pinned", len(cs), len(versions))
	}
	for _, c := range cs {
		sum := sha256.Sum256([]byte(c.Content))
		got := hex.EncodeToString(sum[:])
		pin, ok := versions[c.Name]
		if !ok || pin.version != c.Version || pin.sha256 != got {
			t.Errorf("%s %s has content %s; pinned %+v. An edited document needs a new version: bump it in ami.go and pin the new hash", c.Name, c.Version, got, pin)
		}
	}
}

func TestComponentsAPI(t *testing.T) {
	cs, err := Components()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
		if c.Platform != "Windows" || c.Content == "" || c.Description == "" {
			t.Errorf("%s: incomplete %+v", c.Name, c)
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(c.Content), &m); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		// The stack supplies the bucket; everything else has a default
		// (checksums and site settings: the manifest's).
		for _, r := range c.Required() {
			if r != "ArtifactsBucket" {
				t.Errorf("%s: required parameter %s: only ArtifactsBucket may be", c.Name, r)
			}
		}
	}
	want := []string{"foqus-python", "foqus-turbinelite", "foqus-aspen", "foqus-machine-path", "foqus-interactive-services", "foqus-worker-service"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("recipe order %v, want %v", names, want)
	}
	c, err := Lookup("foqus-worker-service")
	if err != nil || !reflect.DeepEqual(c.Required(), []string{"ArtifactsBucket"}) {
		t.Errorf("Lookup(foqus-worker-service) = %v, %v", c.Required(), err)
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup of an unknown name succeeded")
	}
}

// The bake's process handling (from the review of the Aspen bake): an
// installer is waited on by itself, from its own folder; archives are
// unpacked with tar.exe; pip is quiet about script locations; a step that
// runs native commands does not turn their stderr into failures.
func TestBakeProcessHandling(t *testing.T) {
	native := regexp.MustCompile(`(?m)^\s*(\$\w+ = )?& `)
	for _, d := range loadDocs(t) {
		for _, s := range d.steps {
			if s.action != "ExecutePowerShell" {
				continue
			}
			txt := s.text()
			where := d.Name + " " + s.name
			if strings.Contains(txt, "Start-Process") {
				if regexp.MustCompile(`Start-Process[^\n]*-Wait\b`).MatchString(txt) || !strings.Contains(txt, ".WaitForExit()") {
					t.Errorf("%s: Start-Process -Wait waits for every descendant; wait on the process with WaitForExit", where)
				}
				if !strings.Contains(txt, "-WorkingDirectory") {
					t.Errorf("%s: Start-Process without -WorkingDirectory", where)
				}
			}
			if strings.Contains(txt, "Expand-Archive") {
				t.Errorf("%s: unpack with tar.exe, not Expand-Archive", where)
			}
			if strings.Contains(txt, "pip install") && !strings.Contains(txt, "--no-warn-script-location") {
				t.Errorf("%s: pip install without --no-warn-script-location", where)
			}
			for _, loc := range native.FindAllStringIndex(txt, -1) {
				before := txt[:loc[0]]
				if strings.LastIndex(before, "$ErrorActionPreference = 'Continue'") < strings.LastIndex(before, "$ErrorActionPreference = 'Stop'") {
					t.Errorf("%s: a native command runs under ErrorActionPreference Stop: %s", where, strings.TrimSpace(txt[loc[0]:min(loc[1]+40, len(txt))]))
				}
			}
		}
	}
}
