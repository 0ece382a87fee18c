package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// tierFlags name what upgrade and downgrade reach besides the users table:
// the stage's session store and bucket, and the archive queue for sessions a
// downgrade makes due. Unset, they and the tier settings are the stage's
// archiver function's own environment (stageEnv).
type tierFlags struct {
	resources, bucket, archiveQueue *string
	stage                           string
}

func lifecycleFlags(fs *flag.FlagSet) tierFlags {
	return tierFlags{
		resources:    fs.String("resources-table", os.Getenv(resource.EnvResourcesTable), "sessions table, for upgrade and downgrade (default: the stage's, from its archiver function)"),
		bucket:       fs.String("session-bucket", os.Getenv(resource.EnvSessionBucket), "session bucket, for upgrade (default: the stage's, from its archiver function)"),
		archiveQueue: fs.String("archive-queue", os.Getenv(resource.EnvArchiveQueueURL), "archive queue URL: downgrade schedules the user's finished sessions there (default: the stage's, from its archiver function)"),
	}
}

// lifecycle runs the tier and notice commands: args is the command and its operands.
func lifecycle(ctx context.Context, cfg aws.Config, users *user.Store, f tierFlags, args []string, stdout io.Writer) error {
	cmd := args[0]
	want := 2
	if cmd == "set-email" {
		want = 3
	}
	if len(args) != want {
		return fmt.Errorf("%s takes %s", cmd, map[int]string{2: "one user name", 3: "a user name and an address"}[want])
	}
	name := args[1]
	switch cmd {
	case "set-email":
		addr := args[2]
		if addr == "-" {
			addr = ""
		}
		if err := users.SetEmail(ctx, name, addr); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "e-mail of %s set to %q\n", name, addr)
		return err
	case "opt-out", "opt-in":
		if err := users.SetOptOut(ctx, name, cmd == "opt-out"); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: notices %s\n", name, map[bool]string{true: "off", false: "on"}[cmd == "opt-out"])
		return err
	}
	env, err := stageEnv(ctx, cfg, f.stage)
	if err != nil {
		return err
	}
	for flagValue, key := range map[*string]string{f.resources: resource.EnvResourcesTable, f.bucket: resource.EnvSessionBucket, f.archiveQueue: resource.EnvArchiveQueueURL} {
		if *flagValue == "" {
			*flagValue = env[key]
		}
	}
	if *f.resources == "" {
		*f.resources = resource.Name(resource.ResourcesTable, f.stage)
	}
	settings, err := archive.SettingsFromEnv(env)
	if err != nil {
		return err
	}
	store := sessionstore.New(dynamodb.NewFromConfig(cfg), *f.resources)
	if cmd == "downgrade" {
		return downgrade(ctx, cfg, users, store, *f.archiveQueue, name, stdout)
	}
	if *f.bucket == "" {
		return fmt.Errorf("upgrade needs the session bucket: --session-bucket or %s", resource.EnvSessionBucket)
	}
	svc := &archive.Service{Store: store, Users: users, S3: awsconf.NewS3(cfg), Bucket: *f.bucket, Settings: settings}
	up, err := svc.Upgrade(ctx, name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "upgraded %s (was %s): %d sessions restoring (tier %s), %d thawed, %d archives in flight undone, %d left to the archiver to thaw\n",
		name, up.Previous, len(up.Restoring), settings.RestoreTier, len(up.Thawed), len(up.Undone), len(up.Pending))
	return err
}

// downgrade makes the user free and, with an archive queue, schedules each
// of their finished live sessions for archive after the window from now.
func downgrade(ctx context.Context, cfg aws.Config, users *user.Store, store *sessionstore.Store, queueURL, name string, stdout io.Writer) error {
	old, err := users.SetTier(ctx, name, user.Free)
	if err != nil {
		return err
	}
	scheduled := 0
	if queueURL != "" {
		q := &archive.Queue{SQS: sqs.NewFromConfig(cfg), URL: queueURL}
		for sess, err := range store.Sessions(ctx, name) {
			if err != nil {
				return err
			}
			if sess.Complete() && sess.Archive == "" {
				if err := q.Send(ctx, archive.Notice{User: name, Session: sess.ID, Finished: time.Now().Unix()}, 0); err != nil {
					return err
				}
				scheduled++
			}
		}
	}
	_, err = fmt.Fprintf(stdout, "downgraded %s (was %s): %d finished sessions scheduled for archive\n", name, old, scheduled)
	return err
}

// stageEnv is the environment the stage's archiver function was deployed
// with (the names and tier settings the CDK app gave it, cdk.json's), under
// this process's own variables of the same names, which win. A stage
// without the function (or an emulator without Lambda) leaves only the
// process's variables.
func stageEnv(ctx context.Context, cfg aws.Config, stage string) (map[string]string, error) {
	env := map[string]string{}
	fn := resource.Name(api.FnArchiver, stage)
	c, err := lambda.NewFromConfig(cfg).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return nil, fmt.Errorf("read the stage's settings from function %s: %w", fn, err)
	case c.Environment != nil:
		maps.Copy(env, c.Environment.Variables)
	}
	keys, err := api.Env(api.FnArchiver)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	return env, nil
}
