package ami

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The manifest is how installers reach the bake without synth-time values:
// `make image` uploads every installer to the artifacts bucket, then writes
// ManifestKey last, listing each object key's SHA-256 and the site settings
// that have no safe default. Every component that downloads fetches it to
// ManifestPath and checks each file against its entry before using it.
const (
	ManifestKey  = "installers/manifest.json"
	ManifestPath = `C:\ProgramData\FOQUS\image\manifest.json`
	// FromManifest is the default of every checksum and site-setting
	// parameter: "take the manifest's value". A stage's image.parameters may
	// set a real value instead (an override).
	FromManifest = "manifest"
)

// Names of the artifacts bucket and the pipeline, as outputs of the service
// stack (the CDK app declares them; cmd/foqus-image reads them).
const (
	OutputArtifactsBucket = "ImageArtifactsBucket"
	OutputPipelineARN     = "ImagePipelineArn"
)

// ServiceStack is the stack holding the pipeline and those outputs (the
// infra tests hold infra/stacks.StackNames to it).
func ServiceStack(stage string) string { return "foqus-service-" + stage }

// Manifest is the JSON object at ManifestKey.
type Manifest struct {
	Files    map[string]string `json:"files"`              // object key -> SHA-256, lowercase hex
	Settings map[string]string `json:"settings,omitempty"` // site settings by parameter name (Settings)
}

// Installer is one file a component downloads from the artifacts bucket.
type Installer struct {
	Component         string
	KeyParameter      string // e.g. AnacondaInstallerKey
	Key               string // its default: the object key make image uploads to
	ChecksumParameter string // e.g. AnacondaInstallerSha256
}

// Installers lists every downloaded file, in recipe order: each parameter
// <X>Key whose component also declares <X>Sha256.
func Installers() ([]Installer, error) {
	comps, err := Components()
	if err != nil {
		return nil, err
	}
	var out []Installer
	for _, c := range comps {
		declared := map[string]bool{}
		for _, p := range c.Parameters {
			declared[p.Name] = true
		}
		for _, p := range c.Parameters {
			base, ok := strings.CutSuffix(p.Name, "Key")
			if !ok || !declared[base+"Sha256"] {
				continue
			}
			if !p.HasDefault || p.Default == "" {
				return nil, fmt.Errorf("ami: %s: %s needs a default object key", c.File, p.Name)
			}
			out = append(out, Installer{Component: c.Name, KeyParameter: p.Name, Key: p.Default, ChecksumParameter: base + "Sha256"})
		}
	}
	return out, nil
}

// Settings lists the site settings the manifest must carry (sorted): the
// parameters defaulting to FromManifest that are not checksums.
func Settings() ([]string, error) {
	comps, err := Components()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range comps {
		for _, p := range c.Parameters {
			if p.Default == FromManifest && !strings.HasSuffix(p.Name, "Sha256") && !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Check reports every way m would fail the bake: an installer without a
// well-formed SHA-256, or a site setting missing, empty or unknown. The
// errors name keys and settings, as the bake's messages do.
func (m Manifest) Check() error {
	ins, err := Installers()
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range ins {
		sum := m.Files[in.Key]
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("%s: no SHA-256 (64 hex digits) for %s", ManifestKey, in.Key))
		}
	}
	return errors.Join(append(errs, CheckSettings(m.Settings))...)
}

// CheckSettings reports each site setting that is missing or empty and each
// name that is not one (Settings).
func CheckSettings(given map[string]string) error {
	settings, err := Settings()
	if err != nil {
		return err
	}
	var errs []error
	known := map[string]bool{}
	for _, s := range settings {
		known[s] = true
		if strings.TrimSpace(given[s]) == "" {
			errs = append(errs, fmt.Errorf("%s: setting %s is missing", ManifestKey, s))
		}
	}
	var unknown []string
	for s := range given {
		if !known[s] {
			unknown = append(unknown, s)
		}
	}
	sort.Strings(unknown)
	for _, s := range unknown {
		errs = append(errs, fmt.Errorf("%s: %q is not a setting (known: %s)", ManifestKey, s, strings.Join(settings, ", ")))
	}
	return errors.Join(errs...)
}
