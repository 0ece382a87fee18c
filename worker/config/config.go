// Package config holds the worker's settings: where the stack is
// (resource.WorkerConfig) and how the worker runs jobs. They come from flags,
// from environment variables (the resource.Env* names for the stack, and
// FOQUS_WORKER_* for the rest), and, per the --config source of
// worker/service, from a JSON file, an SSM parameter, or on EC2 from the
// instance's stage tag (IMDSv2) and that stage's SSM parameter.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/scaling"
)

// Named defaults.
const (
	DefaultConcurrency = 1 // one Aspen licence seat per machine
	DefaultWait        = 20 * time.Second
	DefaultLease       = 2 * time.Minute
	// DefaultExtendEvery is also the kill poll: a kill ends the run within
	// this plus the time to kill the process tree, under 15 s.
	DefaultExtendEvery = 10 * time.Second
	DefaultJobTimeout  = 4 * time.Hour
	// DefaultDrain lets a running job finish on stop; it stays below
	// service.DefaultStopGrace so the hand-back happens before the SCM gives up.
	DefaultDrain     = 4 * time.Minute
	DefaultHeartbeat = time.Minute
	// DefaultIMDSPoll is how often a worker on EC2 asks the instance metadata
	// for a termination (lifecycle hook) or a spot interruption notice.
	DefaultIMDSPoll = 5 * time.Second
	DefaultPython   = "python"
	// DefaultMaxAttempts bounds the runs of one job: a job whose runs keep
	// ending without a result (the worker crashed, was killed or stopped)
	// ends as error instead of looping until its message dead-letters.
	DefaultMaxAttempts = 3
	// LogFileName is the log file in the work directory of a worker on EC2.
	LogFileName = "foqus-worker.log"
	// MaxWait is SQS's longest long poll.
	MaxWait = 20 * time.Second
)

// Settings is everything a worker process needs.
type Settings struct {
	Stack resource.WorkerConfig

	Concurrency int           // jobs at once
	Wait        time.Duration // long poll of the job queue
	Lease       time.Duration // store lease and message visibility each extension grants
	ExtendEvery time.Duration // lease and visibility extension, and kill poll, while a job runs
	JobTimeout  time.Duration // a run longer than this ends as error
	MaxAttempts int           // claims of one job before it ends as error without another run
	Drain       time.Duration // on stop, how long running jobs may finish before they are handed back
	Heartbeat   time.Duration // consumer heartbeat (store record and CloudWatch metric)
	Metrics     bool          // publish the CloudWatch heartbeat metric
	IMDSPoll    time.Duration // 0: do not watch for termination notices (off EC2)
	WorkDir     string        // per-job work directories live here
	KeepWork    bool          // keep a job's work directory after it ends
	Python      string        // interpreter of the foqus runner (with foqus_lib)
	Instance    string        // instance id (EC2) or host name, reported in heartbeats and events
	LogFile     string        // the log also goes here (a service has no console)

	explicit map[string]bool // settings given by flag or environment
}

// setting is one flag with its environment variable.
type setting struct {
	name, env, help string
	value           flag.Value
}

type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}
func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (like 90s or 5m): %q", s)
	}
	*v.d = d
	return nil
}

type intValue struct{ n *int }

func (v intValue) String() string {
	if v.n == nil {
		return ""
	}
	return strconv.Itoa(*v.n)
}
func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*v.n = n
	return nil
}

type boolValue struct{ b *bool }

func (v boolValue) String() string   { return strconv.FormatBool(v.b != nil && *v.b) }
func (v boolValue) IsBoolFlag() bool { return true }
func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not a boolean: %q", s)
	}
	*v.b = b
	return nil
}

type stringValue struct{ s *string }

func (v stringValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}
func (v stringValue) Set(s string) error { *v.s = s; return nil }

const envPrefix = "FOQUS_WORKER_"

// settings binds every setting of s, with its defaults.
func settings(s *Settings) []setting {
	*s = Settings{
		Concurrency: DefaultConcurrency, Wait: DefaultWait, Lease: DefaultLease, ExtendEvery: DefaultExtendEvery,
		JobTimeout: DefaultJobTimeout, MaxAttempts: DefaultMaxAttempts, Drain: DefaultDrain, Heartbeat: DefaultHeartbeat, Metrics: true, IMDSPoll: DefaultIMDSPoll,
		WorkDir: defaultWorkDir(), Python: DefaultPython,
	}
	st := &s.Stack
	return []setting{
		{"stage", resource.EnvStage, "stage of the stack (heartbeat metric dimension, Auto Scaling group name)", stringValue{&st.Stage}},
		{"region", "AWS_REGION", "AWS region of the stack", stringValue{&st.Region}},
		{"job-queue-url", resource.EnvJobQueueURL, "URL of the job queue (FOQUS-Job-Queue-<stage>)", stringValue{&st.JobQueueURL}},
		{"update-topic-arn", resource.EnvUpdateTopicARN, "ARN of the update topic the job ends are published to", stringValue{&st.UpdateTopicARN}},
		{"resources-table", resource.EnvResourcesTable, "DynamoDB table of sessions and jobs (FOQUS_Resources-<stage>)", stringValue{&st.ResourcesTable}},
		{"session-bucket", resource.EnvSessionBucket, "S3 bucket job outputs are written to", stringValue{&st.SessionBucket}},
		{"simulation-bucket", resource.EnvSimulationBucket, "S3 bucket simulations are staged from", stringValue{&st.SimulationBucket}},
		{"retention-days", resource.EnvRetentionDays, "days the job items written stay after their last change (DynamoDB TTL; the stage's dataExpirationDays)", intValue{&st.RetentionDays}},
		{"drain-hook-seconds", envPrefix + "DRAIN_HOOK_SECONDS", "heartbeat timeout of the group's drain (termination) hook; a terminating worker heartbeats at a quarter of it (default: core/scaling's)", intValue{&st.DrainHookSeconds}},
		{"concurrency", envPrefix + "CONCURRENCY", "jobs run at once (one per Aspen licence seat)", intValue{&s.Concurrency}},
		{"wait", envPrefix + "WAIT", "long poll of the job queue (at most 20s)", durationValue{&s.Wait}},
		{"lease", envPrefix + "LEASE", "how long a claim and a message's invisibility last without extension; a crashed worker's job is retried after this", durationValue{&s.Lease}},
		{"extend-every", envPrefix + "EXTEND_EVERY", "while a job runs: extend its lease and visibility, and notice a kill, this often", durationValue{&s.ExtendEvery}},
		{"job-timeout", envPrefix + "JOB_TIMEOUT", "a run longer than this is killed and ends as error", durationValue{&s.JobTimeout}},
		{"max-attempts", envPrefix + "MAX_ATTEMPTS", "runs of one job that end without a result (worker crash, kill, stop) before the next delivery ends it as error instead", intValue{&s.MaxAttempts}},
		{"drain", envPrefix + "DRAIN", "on stop or instance termination, how long running jobs may finish before they are handed back to the queue", durationValue{&s.Drain}},
		{"heartbeat", envPrefix + "HEARTBEAT", "consumer heartbeat interval (store record and CloudWatch metric)", durationValue{&s.Heartbeat}},
		{"metrics", envPrefix + "METRICS", "publish the heartbeat metric " + resource.WorkerMetricNamespace + "/" + resource.WorkerHeartbeatMetric + " to CloudWatch", boolValue{&s.Metrics}},
		{"imds-poll", envPrefix + "IMDS_POLL", "how often to ask instance metadata (IMDSv2) for a termination or spot interruption notice; 0: never; used with --config imds, or elsewhere when given (AWS_EC2_METADATA_SERVICE_ENDPOINT moves the endpoint)", durationValue{&s.IMDSPoll}},
		{"work-dir", envPrefix + "WORK_DIR", "directory of the per-job work directories", stringValue{&s.WorkDir}},
		{"keep-work", envPrefix + "KEEP_WORK", "keep each job's work directory (inputs, staged files, logs, output) after it ends", boolValue{&s.KeepWork}},
		{"python", envPrefix + "PYTHON", "Python interpreter with FOQUS (foqus_lib) for the foqus runner", stringValue{&s.Python}},
		{"log-file", envPrefix + "LOG_FILE", "also append the log to this file (default with --config imds: " + LogFileName + " in --work-dir; a Windows service has no console)", stringValue{&s.LogFile}},
		{"instance", envPrefix + "INSTANCE", "name of this machine in heartbeats and events (default: the EC2 instance id, else the host name)", stringValue{&s.Instance}},
	}
}

// defaultWorkDir is %ProgramData%\FOQUS\worker on Windows (the service
// runs as LocalSystem, whose temp folder is the system's), else a temp folder.
func defaultWorkDir() string {
	if pd := os.Getenv("ProgramData"); runtime.GOOS == "windows" && pd != "" {
		return filepath.Join(pd, "FOQUS", "worker")
	}
	return filepath.Join(os.TempDir(), "foqus-worker")
}

// UsageError is a setting Parse or Validate refuses.
type UsageError struct{ Problems []string }

func (e *UsageError) Error() string { return "worker settings: " + strings.Join(e.Problems, "; ") }

// ErrHelp is returned by Parse for -h/--help.
var ErrHelp = flag.ErrHelp

// Parse reads the worker's settings from args (the worker arguments, after
// `--` on the foqus-worker command line) over the environment read through
// getenv over the defaults.
func Parse(args []string, getenv func(string) string) (Settings, error) {
	var s Settings
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var problems []string
	list := settings(&s)
	s.explicit = map[string]bool{}
	for _, b := range list {
		if v := getenv(b.env); v != "" {
			if err := b.value.Set(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", b.env, err))
			}
			s.explicit[b.name] = true
		}
		fs.Var(b.value, b.name, b.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Settings{}, ErrHelp
		}
		problems = append(problems, err.Error())
	}
	fs.Visit(func(f *flag.Flag) { s.explicit[f.Name] = true })
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if len(problems) > 0 {
		return Settings{}, &UsageError{Problems: problems}
	}
	return s, nil
}

// Validate checks the settings once every source has been read.
func (s Settings) Validate() error {
	var p []string
	st := s.Stack
	for _, f := range []struct{ name, v string }{
		{"job-queue-url", st.JobQueueURL}, {"update-topic-arn", st.UpdateTopicARN}, {"resources-table", st.ResourcesTable},
		{"session-bucket", st.SessionBucket}, {"simulation-bucket", st.SimulationBucket},
	} {
		if f.v == "" {
			p = append(p, "--"+f.name+" is not set")
		}
	}
	if st.RetentionDays < 1 {
		p = append(p, "--retention-days is not set (at least 1)")
	}
	if h := st.DrainHookSeconds; h != 0 && (h < scaling.HookMinSeconds || h > scaling.HookMaxSeconds) {
		p = append(p, fmt.Sprintf("--drain-hook-seconds %d: a lifecycle hook heartbeat is %d..%d s", h, scaling.HookMinSeconds, scaling.HookMaxSeconds))
	}
	if s.Concurrency < 1 || s.MaxAttempts < 1 {
		p = append(p, "--concurrency and --max-attempts must be at least 1")
	}
	if s.Wait < 0 || s.Wait > MaxWait {
		p = append(p, "--wait must lie between 0 and 20s")
	}
	if s.Lease < 2*time.Second || s.ExtendEvery <= 0 || s.ExtendEvery > s.Lease/2 {
		p = append(p, "need 0 < --extend-every <= --lease/2 (an extension may fail once) and --lease >= 2s")
	}
	if s.JobTimeout <= 0 || s.Heartbeat <= 0 || s.Drain < 0 || s.IMDSPoll < 0 {
		p = append(p, "--job-timeout and --heartbeat must be positive, --drain and --imds-poll not negative")
	}
	if s.WorkDir == "" {
		p = append(p, "--work-dir is empty")
	}
	if len(p) > 0 {
		return &UsageError{Problems: p}
	}
	return nil
}

// Usage writes every worker setting with its environment variable and default.
func Usage(w io.Writer) error {
	var s Settings
	var b strings.Builder
	b.WriteString("\nWorker settings (after --; each also from its environment variable; flags win):\n")
	for _, x := range settings(&s) {
		def := x.value.String()
		if def != "" && def != "false" && def != "0s" && def != "0" {
			def = " (default " + def + ")"
		} else {
			def = ""
		}
		fmt.Fprintf(&b, "    --%s  [%s]\n        %s%s\n", x.name, x.env, x.help, def)
	}
	b.WriteString("\nWith --config file:<path>, ssm:<name> or imds, the stack settings come from that JSON\n" +
		"(resource.WorkerConfig: stage, region, jobQueueUrl, updateTopicArn, resourcesTable, sessionBucket,\n" +
		"simulationBucket, retentionDays, drainHookSeconds) where flags and environment leave them empty.\n")
	_, err := io.WriteString(w, b.String())
	return err
}
