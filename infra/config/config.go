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
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
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
	RemovalPolicy      string     `json:"removalPolicy"`         // retain | destroy, for tables and buckets
	APIRateLimit       int        `json:"apiRateLimit"`          // steady requests/s per stage
	APIBurstLimit      int        `json:"apiBurstLimit"`         // burst requests
	JobLeaseMinutes    int        `json:"jobLeaseMinutes"`       // job queue visibility timeout; the worker extends it
	DataExpirationDays int        `json:"dataExpirationDays"`    // session objects expire after this many days
	Image              *Image     `json:"image,omitempty"`       // overrides of the worker image recipe
	AlarmEmails        []string   `json:"alarmEmails,omitempty"` // subscribed to the alert topic
	Lifecycle          *Lifecycle `json:"lifecycle,omitempty"`   // tier settings of the result lifecycle (lifecycle.go)
	Network            *Network   `json:"network,omitempty"`     // an existing VPC the workers join; the stack's own VPC without it
	// Scaling overrides core/scaling's defaults; the simulator reads the same object.
	Scaling scaling.Overrides `json:"scaling,omitempty"`
}

// ScalingParams are the stage's fleet scaling numbers (validated by Validate).
func (s Stage) ScalingParams() scaling.Params {
	p, _ := s.Scaling.Resolve(s.MinWorkers, s.MaxWorkers)
	return p
}

// Image overrides the worker image's recipe (ami/README.md). Every stage has
// the pipeline; the installer checksums and site settings come from the
// manifest make image uploads, and Parameters here replace a component
// parameter's value (ArtifactsBucket is supplied by the stack).
type Image struct {
	Parameters    map[string]string `json:"parameters"`
	InstanceType  string            `json:"instanceType,omitempty"`  // build instance; the worker type when empty
	ParentVersion string            `json:"parentVersion,omitempty"` // of windows-server-2022-english-full-base-x86; x.x.x (latest) when empty
}

// Network names an existing VPC and the subnets the workers (and the image
// builds) run in, e.g. one that reaches a licence server on a private
// network. The ids are taken as given: synth stays offline (no context
// lookup), so AvailabilityZones gives each subnet's zone, in order.
type Network struct {
	VpcID             string   `json:"vpcId"`
	SubnetIDs         []string `json:"subnetIds"`
	AvailabilityZones []string `json:"availabilityZones"`
}

var (
	vpcID    = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	subnetID = regexp.MustCompile(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	zoneName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$`)
)

// Validate refuses ids EC2 would not recognise, before synthesis.
func (n Network) Validate() error {
	var errs []error
	if !vpcID.MatchString(n.VpcID) {
		errs = append(errs, fmt.Errorf("vpcId %q is not a VPC id (vpc- and 8 or 17 hex digits)", n.VpcID))
	}
	if len(n.SubnetIDs) == 0 {
		errs = append(errs, errors.New("subnetIds is empty: name the subnets the workers run in"))
	}
	seen := map[string]bool{}
	for _, id := range n.SubnetIDs {
		switch {
		case !subnetID.MatchString(id):
			errs = append(errs, fmt.Errorf("subnetIds: %q is not a subnet id (subnet- and 8 or 17 hex digits)", id))
		case seen[id]:
			errs = append(errs, fmt.Errorf("subnetIds: %q is named twice", id))
		}
		seen[id] = true
	}
	if len(n.AvailabilityZones) != len(n.SubnetIDs) {
		errs = append(errs, fmt.Errorf("availabilityZones has %d entries for %d subnets: give each subnet's zone, in order", len(n.AvailabilityZones), len(n.SubnetIDs)))
	}
	for _, z := range n.AvailabilityZones {
		if !zoneName.MatchString(z) {
			errs = append(errs, fmt.Errorf("availabilityZones: %q is not a zone name (like eu-west-1a)", z))
		}
	}
	return errors.Join(errs...)
}

// Retain reports whether stateful resources survive stack deletion.
func (s Stage) Retain() bool { return s.RemovalPolicy == RemovalRetain }

// Validate rejects settings the stack cannot be built from.
func (s Stage) Validate() error {
	var errs []error
	if err := ValidName(s.Name); err != nil {
		errs = append(errs, err)
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
	for _, e := range s.AlarmEmails {
		if at := strings.LastIndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t,;") {
			errs = append(errs, fmt.Errorf("alarmEmails: %q is not an e-mail address", e))
		}
	}
	if s.DataExpirationDays < 1 {
		errs = append(errs, fmt.Errorf("dataExpirationDays %d must be >= 1", s.DataExpirationDays))
	}
	if s.Network != nil {
		if err := s.Network.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("network: %w", err))
		}
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
func Parse(stages any, name string) (Stage, error) { return ParseDerived(stages, name, "", nil) }

// ParseDerived is Parse for any stage name: a name that is not in stages
// takes the settings of stage base (-c base=dev for -c stage=alice-dev), and
// overrides (settings key -> JSON value, or a plain string) replace single
// keys (-c stage.maxWorkers=1). Unknown keys are errors either way.
func ParseDerived(stages any, name, base string, overrides map[string]string) (Stage, error) {
	if name == "" {
		name = DefaultStage
	}
	if err := ValidName(name); err != nil {
		return Stage{}, err
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
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	body, ok := all[name]
	switch {
	case ok:
	case base == "":
		return Stage{}, fmt.Errorf("stage %q is not in cdk.json context.stages (have %v); name a base stage for it with -c base=<stage>", name, names)
	default:
		if body, ok = all[base]; !ok {
			return Stage{}, fmt.Errorf("base stage %q of stage %q is not in cdk.json context.stages (have %v)", base, name, names)
		}
	}
	if len(overrides) > 0 {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return Stage{}, fmt.Errorf("stage %q: %w", name, err)
		}
		for k, v := range overrides {
			if json.Valid([]byte(v)) {
				fields[k] = json.RawMessage(v)
			} else if fields[k], err = json.Marshal(v); err != nil {
				return Stage{}, err
			}
		}
		if body, err = json.Marshal(fields); err != nil {
			return Stage{}, err
		}
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

// Keys are the settings keys of a stage (what -c stage.<key>=value may override).
func Keys() []string {
	t := reflect.TypeOf(Stage{})
	var keys []string
	for i := range t.NumField() {
		if k := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
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

// Longest names AWS builds around a stage name: a bucket name holds the
// account id and region (resource.BucketName); "ap-southeast-2" is as long
// as region names get.
const (
	bucketNameMax   = 63 // S3
	functionNameMax = 64 // Lambda
	queueNameMax    = 80 // SQS
	longestRegion   = "ap-southeast-2"
)

var stageName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidName refuses a stage name S3, Lambda or SQS would refuse inside the
// names the stack builds from it (lower case letters, digits and inner
// hyphens; short enough for the longest bucket, function and queue name).
func ValidName(name string) error {
	if name == "" {
		return errors.New("stage name is empty")
	}
	if !stageName.MatchString(name) {
		return fmt.Errorf("stage name %q: use lower-case letters, digits and inner hyphens (S3 bucket names carry it)", name)
	}
	for _, b := range []string{resource.SessionBucket, resource.SimulationBkt, resource.AccessLogBucket, resource.ArtifactsBucket} {
		if n := resource.BucketName(b, name, "123456789012", longestRegion); len(n) > bucketNameMax {
			return fmt.Errorf("stage name %q is %d characters too long: bucket %s would have %d of S3's %d", name, len(n)-bucketNameMax, n, len(n), bucketNameMax)
		}
	}
	for _, fn := range api.Functions() {
		if n := resource.Name(fn, name); len(n) > functionNameMax {
			return fmt.Errorf("stage name %q is too long: function %s would have %d of Lambda's %d characters", name, n, len(n), functionNameMax)
		}
	}
	for _, q := range []string{resource.JobQueue, resource.UpdateQueue, resource.JobDLQ, resource.UpdateDLQ} {
		if n := resource.Name(q, name); len(n) > queueNameMax {
			return fmt.Errorf("stage name %q is too long: queue %s would have %d of SQS's %d characters", name, n, len(n), queueNameMax)
		}
	}
	return nil
}
