// Package config holds the typed settings of one deployment stage, read from
// the "stages" object of cdk.json's context and selected with -c stage=<name>.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/foqus-cloud/stack/core/scaling"
)

// DefaultStage is deployed when no -c stage=<name> is given.
const DefaultStage = "dev"

// Removal policies a stage may ask for its stateful resources.
const (
	RemovalRetain  = "retain"
	RemovalDestroy = "destroy"
)

// Stage is what differs between dev, test and prod.
type Stage struct {
	Name               string     `json:"-"`
	Account            string     `json:"account,omitempty"` // optional: env-agnostic stacks when empty
	Region             string     `json:"region,omitempty"`
	WorkerInstanceType string     `json:"workerInstanceType"`
	MinWorkers         int        `json:"minWorkers"`
	MaxWorkers         int        `json:"maxWorkers"` // = Aspen licence seats: never more workers than seats
	LogRetentionDays   int        `json:"logRetentionDays"`
	RemovalPolicy      string     `json:"removalPolicy"`       // retain | destroy, for tables and buckets
	APIRateLimit       int        `json:"apiRateLimit"`        // steady requests/s per stage
	APIBurstLimit      int        `json:"apiBurstLimit"`       // burst requests
	JobLeaseMinutes    int        `json:"jobLeaseMinutes"`     // job queue visibility timeout; the worker extends it
	DataExpirationDays int        `json:"dataExpirationDays"`  // session objects expire after this many days
	Image              *Image     `json:"image,omitempty"`     // the worker image pipeline; none without it
	Lifecycle          *Lifecycle `json:"lifecycle,omitempty"` // tier settings of the result lifecycle (lifecycle.go)
	// Scaling overrides core/scaling's defaults; the simulator reads the same object.
	Scaling scaling.Overrides `json:"scaling,omitempty"`
}

// ScalingParams are the stage's fleet scaling numbers (validated by Validate).
func (s Stage) ScalingParams() scaling.Params {
	p, _ := s.Scaling.Resolve(s.MinWorkers, s.MaxWorkers)
	return p
}

// Image holds the recipe parameter values of the worker image's Image Builder
// components (ami/README.md): installer checksums, the Aspen unattended-install
// arguments and licence server. ArtifactsBucket is supplied by the stack.
type Image struct {
	Parameters    map[string]string `json:"parameters"`
	InstanceType  string            `json:"instanceType,omitempty"`  // build instance; the worker type when empty
	ParentVersion string            `json:"parentVersion,omitempty"` // of windows-server-2022-english-full-base-x86; x.x.x (latest) when empty
}

// Retain reports whether stateful resources survive stack deletion.
func (s Stage) Retain() bool { return s.RemovalPolicy == RemovalRetain }

// Validate rejects settings the stack cannot be built from.
func (s Stage) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("stage name is empty"))
	}
	if s.WorkerInstanceType == "" {
		errs = append(errs, errors.New("workerInstanceType is empty"))
	}
	if s.MinWorkers < 0 || s.MaxWorkers < 1 || s.MinWorkers > s.MaxWorkers {
		errs = append(errs, fmt.Errorf("need 0 <= minWorkers (%d) <= maxWorkers (%d) and maxWorkers >= 1", s.MinWorkers, s.MaxWorkers))
	}
	if _, ok := retentionNames[s.LogRetentionDays]; !ok {
		errs = append(errs, fmt.Errorf("logRetentionDays %d is not a CloudWatch Logs retention (one of %v)", s.LogRetentionDays, RetentionChoices()))
	}
	if s.RemovalPolicy != RemovalRetain && s.RemovalPolicy != RemovalDestroy {
		errs = append(errs, fmt.Errorf("removalPolicy %q: want %q or %q", s.RemovalPolicy, RemovalRetain, RemovalDestroy))
	}
	if s.APIRateLimit < 1 || s.APIBurstLimit < 1 {
		errs = append(errs, fmt.Errorf("apiRateLimit (%d) and apiBurstLimit (%d) must be >= 1", s.APIRateLimit, s.APIBurstLimit))
	}
	if s.JobLeaseMinutes < 1 || s.JobLeaseMinutes > 720 {
		errs = append(errs, fmt.Errorf("jobLeaseMinutes %d: SQS allows 1..720", s.JobLeaseMinutes))
	}
	if _, err := s.Scaling.Resolve(s.MinWorkers, s.MaxWorkers); err != nil {
		errs = append(errs, fmt.Errorf("scaling: %w", err))
	}
	if s.DataExpirationDays < 1 {
		errs = append(errs, fmt.Errorf("dataExpirationDays %d must be >= 1", s.DataExpirationDays))
	}
	if _, err := s.Settings(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stage %q: %w", s.Name, err)
	}
	return nil
}

// retentionNames maps the day counts CloudWatch Logs accepts to the names of
// awslogs.RetentionDays (a string enum in the Go bindings).
var retentionNames = map[int]string{
	1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
	30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
	150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
	545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
	2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
	3653: "TEN_YEARS",
}

// RetentionName is the awslogs.RetentionDays name of the stage's log retention.
func (s Stage) RetentionName() string { return retentionNames[s.LogRetentionDays] }

// RetentionChoices lists the accepted logRetentionDays values.
func RetentionChoices() []int {
	days := make([]int, 0, len(retentionNames))
	for d := range retentionNames {
		days = append(days, d)
	}
	sort.Ints(days)
	return days
}

// Parse picks stage name out of the raw "stages" context value (a JSON object
// or the map the CDK context hands back) and validates it.
func Parse(stages any, name string) (Stage, error) {
	if name == "" {
		name = DefaultStage
	}
	if stages == nil {
		return Stage{}, errors.New(`no "stages" in the CDK context: cdk.json needs context.stages.{dev,test,prod}`)
	}
	raw, err := json.Marshal(stages)
	if err != nil {
		return Stage{}, fmt.Errorf("stages context: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return Stage{}, fmt.Errorf("stages context is not an object: %w", err)
	}
	body, ok := all[name]
	if !ok {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		sort.Strings(names)
		return Stage{}, fmt.Errorf("stage %q is not in cdk.json context.stages (have %v)", name, names)
	}
	var s Stage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Stage{}, fmt.Errorf("stage %q: %w", name, err)
	}
	s.Name = name
	return s, s.Validate()
}

// FileContext reads the "context" object of a cdk.json. The CDK CLI passes that
// context to the app itself; a direct run of the app binary (make synth) does not,
// so the app falls back to the file.
func FileContext(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Context, nil
}

// FindCDKJSON walks up from dir to the first cdk.json.
func FindCDKJSON(dir string) (string, error) {
	for {
		p := filepath.Join(dir, "cdk.json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no cdk.json found above the working directory")
		}
		dir = parent
	}
}
