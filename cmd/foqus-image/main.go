// Command foqus-image bakes a stage's worker AMI: it uploads the worker and
// every installer of a directory to the stage's artifacts bucket (SHA-256s
// computed while uploading), writes the manifest the image components verify
// against (ami.ManifestKey) last, starts the stage's Image Builder pipeline,
// waits for the image with progress and prints its AMI id. The bucket and the
// pipeline are read from the service stack's outputs (ami.OutputArtifactsBucket,
// ami.OutputPipelineARN): the names the deployed stack really has.
//
//	foqus-image -stage dev -installers ./installers [-worker build/worker/foqus-worker.exe]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/term"

	"github.com/foqus-cloud/stack/core/awsconf"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a check, an upload, an AWS call or the image build failed
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, awsClients))
}

// Clients are the AWS APIs the command calls.
type Clients struct {
	CloudFormation *cloudformation.Client
	S3             *s3.Client
	ImageBuilder   *imagebuilder.Client
}

// awsClients loads the default credential chain (environment, profile, SSO,
// instance role); AWS_ENDPOINT_URL points it at an emulator.
func awsClients(ctx context.Context, region string) (Clients, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := awsconf.Load(ctx, opts...)
	if err != nil {
		return Clients{}, err
	}
	return newClients(cfg), nil
}

func newClients(cfg aws.Config) Clients {
	return Clients{cloudformation.NewFromConfig(cfg), awsconf.NewS3(cfg), imagebuilder.NewFromConfig(cfg)}
}

type options struct {
	stage, installers, worker, region string
	poll                              time.Duration
	noWait                            bool
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, clients func(context.Context, string) (Clients, error)) int {
	fs := flag.NewFlagSet("foqus-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.stage, "stage", "", "stage whose image to bake (required)")
	fs.StringVar(&o.installers, "installers", "", "directory with the installers and "+SettingsFile+" (required; see ami/README.md)")
	fs.StringVar(&o.worker, "worker", "build/worker/foqus-worker.exe", "the Windows worker (make build)")
	fs.StringVar(&o.region, "region", "", "AWS region (default: the SDK's, e.g. AWS_REGION)")
	fs.DurationVar(&o.poll, "poll", 30*time.Second, "how often to ask Image Builder for the image's state")
	fs.BoolVar(&o.noWait, "no-wait", false, "start the pipeline and print the image build version ARN without waiting")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: foqus-image -stage STAGE -installers DIR [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if o.stage == "" || o.installers == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	err := bake(ctx, o, stdout, stderr, clients)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "foqus-image:", err)
		return exitError
	}
	return exitOK
}

func bake(ctx context.Context, o options, stdout, stderr io.Writer, clients func(context.Context, string) (Clients, error)) error {
	// Everything local is checked before anything is uploaded.
	files, settings, err := collect(o.installers, o.worker)
	if err != nil {
		return err
	}
	c, err := clients(ctx, o.region)
	if err != nil {
		return err
	}
	t, err := findTargets(ctx, c.CloudFormation, o.stage)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stderr, "stage %s: bucket %s, pipeline %s\n", o.stage, t.Bucket, t.PipelineARN)
	p := newProgress(stderr, isTerminal(stderr))
	m, err := upload(ctx, c.S3, t.Bucket, files, settings, p)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stderr, "wrote s3://%s/%s (%d files)\n", t.Bucket, manifestKey, len(m.Files))
	arn, err := start(ctx, c.ImageBuilder, t.PipelineARN)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stderr, "started %s\n", arn)
	if o.noWait {
		_, _ = fmt.Fprintln(stdout, arn)
		return nil
	}
	amis, err := wait(ctx, c.ImageBuilder, arn, o.poll, p)
	if err != nil {
		return err
	}
	for _, a := range amis {
		_, _ = fmt.Fprintln(stdout, a)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
