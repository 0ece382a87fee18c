package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// tierFlags name what upgrade and downgrade reach besides the users table:
// the stage's session store and bucket (make dev prints them), and the
// archive queue for sessions a downgrade makes due.
type tierFlags struct {
	resources, bucket, archiveQueue *string
}

func lifecycleFlags(fs *flag.FlagSet) tierFlags {
	return tierFlags{
		resources:    fs.String("resources-table", os.Getenv(resource.EnvResourcesTable), "sessions table, for upgrade and downgrade (default FOQUS_Resources-<stage>)"),
		bucket:       fs.String("session-bucket", os.Getenv(resource.EnvSessionBucket), "session bucket, for upgrade"),
		archiveQueue: fs.String("archive-queue", os.Getenv(resource.EnvArchiveQueueURL), "archive queue URL: downgrade schedules the user's finished sessions there"),
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
	if *f.resources == "" {
		stage := strings.TrimPrefix(users.Table(), resource.UsersTable+"-")
		*f.resources = resource.Name(resource.ResourcesTable, stage)
	}
	settings, err := archive.SettingsFromEnv(envOf(resource.EnvFreeWindow, resource.EnvArchiveClass, resource.EnvRestoreTier, resource.EnvFreeJobLimit))
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
	_, err = fmt.Fprintf(stdout, "upgraded %s (was %s): %d sessions restoring, %d thawed, %d archives in flight undone, %d left to the archiver to thaw\n",
		name, up.Previous, len(up.Restoring), len(up.Thawed), len(up.Undone), len(up.Pending))
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

func envOf(keys ...string) map[string]string {
	env := map[string]string{}
	for _, k := range keys {
		env[k] = os.Getenv(k)
	}
	return env
}
