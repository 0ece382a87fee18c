package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

func TestTierAndNoticeCommands(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	cli := cliOf(t, "--table", st.UsersTable, "--resources-table", st.ResourcesTable,
		"--session-bucket", st.SessionBucket, "--archive-queue", st.ArchiveQueueURL)
	db := dynamodb.NewFromConfig(st.Config)
	users := user.NewStore(db, st.UsersTable)
	if _, err := users.Create(ctx, "dora", "correct horse battery", user.Premium); err != nil {
		t.Fatal(err)
	}
	// A finished session of a premium user: downgrade schedules it.
	store := sessionstore.New(db, st.ResourcesTable)
	sid := finishedSession(t, store, "dora")
	if out, err := cli("downgrade", "dora"); err != nil || !strings.Contains(out, "downgraded dora (was premium): 1 finished sessions scheduled") {
		t.Fatalf("downgrade: %q, %v", out, err)
	}
	msgs, err := sqs.NewFromConfig(st.Config).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.ArchiveQueueURL), WaitTimeSeconds: 1})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("archive queue: %v, %d messages", err, len(msgs.Messages))
	}
	var n archive.Notice
	if err := json.Unmarshal([]byte(aws.ToString(msgs.Messages[0].Body)), &n); err != nil || n.Session != sid || n.User != "dora" {
		t.Fatalf("notice %s: %v", aws.ToString(msgs.Messages[0].Body), err)
	}
	if out, err := cli("upgrade", "dora"); err != nil || !strings.Contains(out, "upgraded dora (was free)") {
		t.Fatalf("upgrade: %q, %v", out, err)
	}
	if out, err := cli("set-email", "dora", "dora@example.org"); err != nil || !strings.Contains(out, "dora@example.org") {
		t.Fatalf("set-email: %q, %v", out, err)
	}
	if _, err := cli("opt-out", "dora"); err != nil {
		t.Fatal(err)
	}
	u, _ := users.Get(ctx, "dora")
	if u.Tier != user.Premium || u.Email != "dora@example.org" || !u.OptOut {
		t.Fatalf("user after the commands: %+v", u)
	}
	if _, err := cli("set-email", "dora", "not an address"); err == nil {
		t.Fatal("a bad address was accepted")
	}
	if _, err := cli("upgrade", "nobody"); err == nil {
		t.Fatal("upgrade of an unknown user was accepted")
	}
	if _, err := cli("set-email", "dora"); err == nil || err.Error() != "set-email takes a user name and an address" {
		t.Fatalf("set-email without an address: %v", err)
	}
}

// Without names on the command line, upgrade and downgrade use the stage's
// deployed archiver function's environment: its session store, bucket,
// archive queue and tier settings (here a restore tier other than the
// default), as the CDK app deployed them from cdk.json.
func TestTierCommandsReadTheStageFromItsArchiverFunction(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	stage := "tiers" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	env := st.Env()
	env[resource.EnvRestoreTier] = string(s3types.TierStandard)
	fn := resource.Name(api.FnArchiver, stage)
	role, err := iam.NewFromConfig(st.Config).CreateRole(ctx, &iam.CreateRoleInput{ // Lambda refuses a role it cannot assume
		RoleName:                 aws.String(fn),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.NewFromConfig(st.Config)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Role: role.Role.Arn,
		Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, "bootstrap", "#!/bin/sh\n")}, Environment: &lambdatypes.Environment{Variables: env},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = lc.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)})
	})
	cli := cliOf(t, "--stage", stage, "--table", st.UsersTable)
	db := dynamodb.NewFromConfig(st.Config)
	users := user.NewStore(db, st.UsersTable)
	if _, err := users.Create(ctx, "fay", "correct horse battery", user.Premium); err != nil {
		t.Fatal(err)
	}
	store := sessionstore.New(db, st.ResourcesTable)
	sid := finishedSession(t, store, "fay")
	if out, err := cli("downgrade", "fay"); err != nil || !strings.Contains(out, "1 finished sessions scheduled") {
		t.Fatalf("downgrade: %q, %v", out, err)
	}
	settings, err := archive.SettingsFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	svc := &archive.Service{Store: store, Users: users, S3: awsconf.NewS3(st.Config), Bucket: st.SessionBucket, Settings: settings}
	if out, err := svc.Archive(ctx, "fay", sid); err != nil || out != archive.Done {
		t.Fatalf("archive: %q, %v", out, err)
	}
	if out, err := cli("upgrade", "fay"); err != nil || !strings.Contains(out, "1 sessions restoring (tier Standard)") {
		t.Fatalf("upgrade: %q, %v", out, err)
	}
}

// cliOf runs the command against the test server with flags before each
// command line, and answers what it printed.
func cliOf(t *testing.T, flags ...string) func(args ...string) (string, error) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", mototest.Region)
	base := append([]string{"--endpoint", srv.Endpoint()}, flags...)
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append(slices.Clone(base), args...), strings.NewReader(""), &out)
		return out.String(), err
	}
}

// finishedSession is a session of name with one job, ended and counted:
// nothing left to run.
func finishedSession(t *testing.T, store *sessionstore.Store, name string) string {
	t.Helper()
	ctx := context.Background()
	sid := uuid.NewString()
	jobs, err := store.Append(ctx, name, sid, []sessionstore.NewJob{{Simulation: "s", Input: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Finish(ctx, jobs[0].Key(), sessionstore.Finish{State: job.Error, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CountFinished(ctx, jobs[0].Key()); err != nil {
		t.Fatal(err)
	}
	return sid
}

// zipOf is a function package holding one file.
func zipOf(t *testing.T, name, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create(name)
	if err == nil {
		_, err = f.Write([]byte(body))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
