package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/foqus-cloud/stack/ami"
)

// SettingsFile in the installers directory holds the site settings the
// manifest carries (ami.Settings: the Aspen setup arguments and licence
// server), as a JSON object of strings.
const SettingsFile = "settings.json"

// workerKeyParameter is the installer that is the worker itself: it comes
// from -worker, every other one from the installers directory.
const workerKeyParameter = "WorkerKey"

const manifestKey = ami.ManifestKey

// localFile is one upload: a local file and the object key the components
// download it from.
type localFile struct {
	Key, Path string
	Size      int64
}

// collect finds every installer the components download (in the directory,
// under its key's base name, e.g. installers/TurbineLite.msi ->
// DIR/TurbineLite.msi), the worker, and the site settings. Every problem is
// reported at once, and before anything is uploaded.
func collect(dir, worker string) ([]localFile, map[string]string, error) {
	ins, err := ami.Installers()
	if err != nil {
		return nil, nil, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("installers directory %s: not a directory", dir)
	}
	var files []localFile
	var missing []string
	var errs []error
	sawWorker := false
	for _, in := range ins {
		p := filepath.Join(dir, path.Base(in.Key))
		if in.KeyParameter == workerKeyParameter {
			p, sawWorker = worker, true
		}
		st, err := os.Stat(p)
		switch {
		case in.KeyParameter == workerKeyParameter && err != nil:
			errs = append(errs, fmt.Errorf("worker %s not found: make build builds it", worker))
		case err != nil:
			missing = append(missing, path.Base(in.Key))
		case !st.Mode().IsRegular() || st.Size() == 0:
			errs = append(errs, fmt.Errorf("%s: not a regular, non-empty file", p))
		default:
			files = append(files, localFile{Key: in.Key, Path: p, Size: st.Size()})
		}
	}
	if !sawWorker {
		return nil, nil, fmt.Errorf("no installer named by %s in the image components", workerKeyParameter)
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("installers missing from %s: %s (ami/README.md lists each)", dir, strings.Join(missing, ", "))}, errs...)
	}
	settings, err := readSettings(filepath.Join(dir, SettingsFile))
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("%w\nnothing was uploaded", err)
	}
	return files, settings, nil
}

func readSettings(file string) (map[string]string, error) {
	names, err := ami.Settings()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: it holds the site settings %s as a JSON object of strings", file, strings.Join(names, ", "))
	}
	if err != nil {
		return nil, err
	}
	var s map[string]string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of strings with %s", file, strings.Join(names, ", "))
	}
	if err := ami.CheckSettings(s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}
