package runner

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/objectkey"
)

// driver runs one job with FOQUS's session API; see foqus_driver.py.
//
//go:embed foqus_driver.py
var driver []byte

// Layout of a foqus run directory.
const (
	FOQUSSession = "session.foqus" // the flowsheet a foqus simulation must hold
	FOQUSSimDir  = "simulation"    // the staged simulation files
	FOQUSInput   = "input.json"
	FOQUSOutput  = "output.json"
	foqusDriver  = "foqus_driver.py"
	foqusLog     = "driver.log"
)

// StagingError: the simulation's files could not be staged.
type StagingError struct {
	Key    string
	Reason string
}

func (e *StagingError) Error() string { return fmt.Sprintf("stage %s: %s", e.Key, e.Reason) }

// FOQUS stages a simulation from the simulation bucket into the run directory
// and runs it with FOQUS through the embedded Python driver.
type FOQUS struct {
	S3     *s3.Client
	Bucket string // the simulation bucket
	Python string // the interpreter that imports foqus_lib
}

// Run implements Runner.
func (f FOQUS) Run(ctx context.Context, j Job) (Result, error) {
	staged, err := f.stage(ctx, j)
	if err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(filepath.Join(j.Dir, FOQUSInput), j.Input, 0o600); err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(filepath.Join(j.Dir, foqusDriver), driver, 0o600); err != nil {
		return Result{}, err
	}
	log, err := openLog(j.Dir, foqusLog)
	if err != nil {
		return Result{}, err
	}
	defer log.Close()
	cmd := exec.Command(f.Python, f.args(j, staged)...)
	cmd.Dir = j.Dir
	if err := runTree(ctx, cmd, log); err != nil {
		return Result{}, err
	}
	path := filepath.Join(j.Dir, FOQUSOutput)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Result{}, &OutputError{Path: path, Reason: err.Error()}
	}
	return ParseOutput(path, raw)
}

// args is the driver's command line for j; staged lists the staged files.
func (f FOQUS) args(j Job, staged []string) []string {
	sim := filepath.Join(j.Dir, FOQUSSimDir)
	a := []string{
		filepath.Join(j.Dir, foqusDriver),
		"--session", filepath.Join(sim, FOQUSSession),
		"--input", filepath.Join(j.Dir, FOQUSInput),
		"--output", filepath.Join(j.Dir, FOQUSOutput),
		"--simulation-dir", sim,
	}
	if j.Reset {
		a = append(a, "--reset")
	}
	if j.Initialize {
		a = append(a, "--initialize")
	}
	for _, s := range staged {
		if s == "acm_sinter.json" || s == "aspenplus_sinter.json" { // a Turbine simulation (ACM, Aspen Plus)
			a = append(a, "--register-turbine")
			break
		}
	}
	return a
}

// stage downloads every file of the job's simulation (page by page) into
// the run directory's simulation folder and returns their relative paths.
func (f FOQUS) stage(ctx context.Context, j Job) ([]string, error) {
	prefix := objectkey.SimulationPrefix(j.Key.User, j.Simulation)
	var staged []string
	p := s3.NewListObjectsV2Paginator(f.S3, &s3.ListObjectsV2Input{Bucket: &f.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, &StagingError{Key: prefix, Reason: err.Error()}
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(rel, "/") { // folder markers
				continue
			}
			if err := objectkey.InputPath(rel); err != nil {
				return nil, &StagingError{Key: key, Reason: err.Error()}
			}
			if err := f.download(ctx, key, filepath.Join(j.Dir, FOQUSSimDir, filepath.FromSlash(rel))); err != nil {
				return nil, err
			}
			staged = append(staged, rel)
		}
	}
	for _, s := range staged {
		if s == FOQUSSession {
			return staged, nil
		}
	}
	return nil, &StagingError{Key: prefix + FOQUSSession, Reason: "the simulation has no " + FOQUSSession}
}

func (f FOQUS) download(ctx context.Context, key, path string) error {
	out, err := f.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &f.Bucket, Key: &key})
	if err != nil {
		return &StagingError{Key: key, Reason: err.Error()}
	}
	defer out.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(file, out.Body); err != nil {
		file.Close()
		return &StagingError{Key: key, Reason: err.Error()}
	}
	return file.Close()
}
