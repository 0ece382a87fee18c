package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

func TestTierAndNoticeCommands(t *testing.T) {
	st := srv.Stack(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", mototest.Region)
	ctx := context.Background()
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		base := []string{"--endpoint", srv.Endpoint(), "--table", st.UsersTable, "--resources-table", st.ResourcesTable,
			"--session-bucket", st.SessionBucket, "--archive-queue", st.ArchiveQueueURL}
		err := run(ctx, append(base, args...), strings.NewReader(""), &out)
		return out.String(), err
	}
	db := dynamodb.NewFromConfig(st.Config)
	users := user.NewStore(db, st.UsersTable)
	if _, err := users.Create(ctx, "dora", "correct horse battery", user.Premium); err != nil {
		t.Fatal(err)
	}
	// A finished session of a premium user: downgrade schedules it.
	store := sessionstore.New(db, st.ResourcesTable)
	sid := uuid.NewString()
	jobs, err := store.Append(ctx, "dora", sid, []sessionstore.NewJob{{Simulation: "s", Input: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Finish(ctx, jobs[0].Key(), sessionstore.Finish{State: job.Error, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CountFinished(ctx, jobs[0].Key()); err != nil {
		t.Fatal(err)
	}
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
