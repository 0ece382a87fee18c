// Command foqus-worker runs FOQUS cloud jobs from the job queue: as the
// Windows service FOQUS-Cloud-Service (install, remove, start, stop, debug,
// run) or in the console. `foqus-worker --help` lists every setting.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/worker/config"
	"github.com/foqus-cloud/stack/worker/consumer"
	"github.com/foqus-cloud/stack/worker/runner"
	"github.com/foqus-cloud/stack/worker/service"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == runner.FakeJobCommand { // the fake-job runner's child
		os.Exit(runner.FakeJobMain(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd, err := service.ParseCommand(args)
	var settings config.Settings
	if err == nil && (cmd.Verb == service.VerbRun || cmd.Verb == service.VerbDebug) {
		settings, err = config.Parse(cmd.Run.WorkerArgs, os.Getenv)
	}
	if errors.Is(err, service.ErrHelp) || errors.Is(err, config.ErrHelp) {
		service.Usage(os.Stdout)
		if err := config.Usage(os.Stdout); err != nil {
			return 1
		}
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "see foqus-worker --help")
		return 2
	}
	// Every sink gets every line: under the SCM stderr is no handle at all,
	// and io.MultiWriter would stop there, before the log file.
	out := service.NewFanout()
	out.Add("stderr", os.Stderr)
	if cmd.Run.Config == service.ConfigIMDS && settings.LogFile == "" {
		settings.LogFile = filepath.Join(settings.WorkDir, config.LogFileName)
	}
	if settings.LogFile != "" {
		f, err := openLog(settings.LogFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = f.Close() }()
		out.Add("file", f)
	}
	log := slog.New(slog.NewTextHandler(out, nil))
	work := func(ctx context.Context) error { return work(ctx, cmd.Run.Config, settings, log) }
	if err := service.Execute(cmd, work, log); err != nil {
		log.Error("foqus-worker failed", "err", err)
		return 1
	}
	return 0
}

// work builds the clients and runs the consumer until ctx ends. At exit it
// logs how many AWS requests the process sent, per operation.
func work(ctx context.Context, source string, s config.Settings, log *slog.Logger) error {
	cfg, err := awsconf.Load(ctx)
	if err != nil {
		return err
	}
	plain := cfg.Copy() // instance metadata calls are not AWS requests: not counted
	var counter awsconf.Counter
	counter.Attach(&cfg)
	defer func() {
		args := []any{"total", counter.Total()}
		for _, op := range counter.Snapshot() {
			args = append(args, op.Op, op.Count)
		}
		log.Info("aws requests", args...)
	}()
	s, err = config.Resolve(ctx, source, s, cfg)
	if errors.Is(err, config.ErrNoStage) {
		// An image build or test instance: idle until stopped, instead of an
		// exit the SCM would answer with restart after restart.
		log.Info("no stage tag: not a worker of any stage; idling until stopped", "reason", err)
		<-ctx.Done()
		return nil
	}
	if err != nil {
		return err
	}
	if s.Stack.Region != "" {
		cfg.Region = s.Stack.Region
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	s3c := awsconf.NewS3(cfg)
	// CloudWatch in the Query protocol it has always spoken, not the SDK's
	// default CBOR: emulators (moto) answer only Query, and so the metric
	// path the tests exercise is the one that runs in AWS.
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
	clients := consumer.Clients{
		SQS: sqs.NewFromConfig(cfg), S3: s3c, DynamoDB: dynamodb.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
		CloudWatch: cw, AutoScaling: autoscaling.NewFromConfig(cfg), IMDS: imds.NewFromConfig(plain),
	}
	runners := runner.Set{
		job.AppFakeJob: runner.FakeJob{Exe: exe},
		job.AppFOQUS:   runner.FOQUS{S3: s3c, Bucket: s.Stack.SimulationBucket, Python: s.Python},
	}
	return consumer.New(s, clients, runners, log).Run(ctx)
}

// openLog opens the log file for appending, creating its directory.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}
