package ami

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestInstallersAreTheDocumentsDownloads(t *testing.T) {
	ins, err := Installers()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, in := range ins {
		got[in.Key] = in.Component + " " + in.ChecksumParameter
	}
	want := map[string]string{
		"installers/Miniconda3-Windows-x86_64.exe": "foqus-python AnacondaInstallerSha256",
		"installers/SSCERuntime_x64-ENU.msi":       "foqus-turbinelite SqlCompactSha256",
		"installers/SimSinterInstaller.msi":        "foqus-turbinelite SimSinterSha256",
		"installers/TurbineLite.msi":               "foqus-turbinelite TurbineLiteSha256",
		"installers/aspenone-media.zip":            "foqus-aspen AspenMediaSha256",
		"worker/foqus-worker.exe":                  "foqus-worker-service WorkerSha256",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Installers() = %v, want %v", got, want)
	}
	settings, err := Settings()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(settings, []string{"AspenLicenseServer", "AspenSetupArguments"}) {
		t.Errorf("Settings() = %v", settings)
	}
}

func validManifest(t *testing.T) Manifest {
	t.Helper()
	ins, err := Installers()
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Files: map[string]string{}, Settings: map[string]string{"AspenLicenseServer": "slm.example.internal", "AspenSetupArguments": "/quiet"}}
	for _, in := range ins {
		m.Files[in.Key] = strings.Repeat("ab", 32)
	}
	return m
}

func TestManifestCheck(t *testing.T) {
	if err := validManifest(t).Check(); err != nil {
		t.Fatalf("a complete manifest: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(*Manifest)
		want []string
	}{
		"missing file": {func(m *Manifest) { delete(m.Files, "installers/TurbineLite.msi") }, []string{"no SHA-256 (64 hex digits) for installers/TurbineLite.msi"}},
		"short sum":    {func(m *Manifest) { m.Files["worker/foqus-worker.exe"] = "abc" }, []string{"for worker/foqus-worker.exe"}},
		"not hex":      {func(m *Manifest) { m.Files["worker/foqus-worker.exe"] = strings.Repeat("zz", 32) }, []string{"for worker/foqus-worker.exe"}},
		"no setting":   {func(m *Manifest) { m.Settings["AspenLicenseServer"] = " " }, []string{"setting AspenLicenseServer is missing"}},
		"unknown":      {func(m *Manifest) { m.Settings["AspenLicenceServer"] = "x" }, []string{`"AspenLicenceServer" is not a setting (known: AspenLicenseServer, AspenSetupArguments)`}},
		"no settings":  {func(m *Manifest) { m.Settings = nil }, []string{"AspenLicenseServer is missing", "AspenSetupArguments is missing"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := validManifest(t)
			tc.edit(&m)
			err := m.Check()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v, want %q", err, w)
				}
			}
		})
	}
}

// The JSON the bake reads: $manifest.files.<key> and $manifest.settings.<name>.
func TestManifestJSONIsWhatTheScriptsRead(t *testing.T) {
	b, err := json.Marshal(validManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["files"]["worker/foqus-worker.exe"] == "" || raw["settings"]["AspenSetupArguments"] != "/quiet" {
		t.Errorf("manifest JSON %s", b)
	}
	for _, d := range loadDocs(t) {
		for _, s := range d.steps {
			txt := s.text()
			for _, name := range []string{"AspenLicenseServer", "AspenSetupArguments"} {
				if strings.Contains(txt, "{{ "+name+" }}") && !strings.Contains(txt, ".settings."+name+")") {
					t.Errorf("%s/%s uses %s without the manifest's settings.%s", d.Name, s.name, name, name)
				}
			}
		}
	}
}
