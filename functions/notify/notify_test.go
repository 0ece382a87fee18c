package notify_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/notify"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

func sentMails(t *testing.T) []mototest.Mail {
	t.Helper()
	m, err := mototest.SentMails(context.Background(), srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMailGoesToRegisteredNotOptedOutUsersWithCounts(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.UsersTable)
	users.Cost = bcrypt.MinCost
	ses := sesv2.NewFromConfig(st.Config)
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("foqus@example.org")}); err != nil {
		t.Fatal(err)
	}
	n := &notify.Notifier{SES: ses, From: "foqus@example.org", Users: users}
	for _, name := range []string{"ann", "ben", "cy"} {
		if _, err := users.Create(ctx, name, "correct horse battery", user.Free); err != nil {
			t.Fatal(err)
		}
	}
	_ = users.SetEmail(ctx, "ann", "ann@example.org")
	_ = users.SetEmail(ctx, "ben", "ben@example.org")
	_ = users.SetOptOut(ctx, "ben", true)
	m := notify.Finished("0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11", map[job.State]int{job.Success: 4, job.Error: 1}, user.Free, 10*time.Minute)
	for name, want := range map[string]bool{"ann": true, "ben": false, "cy": false} {
		sent, err := n.Send(ctx, name, m)
		if err != nil || sent != want {
			t.Fatalf("send to %s: %v, %v; want sent=%v", name, sent, err, want)
		}
	}
	mails := sentMails(t)
	if len(mails) != 1 {
		t.Fatalf("moto recorded %d mails, want 1: %+v", len(mails), mails)
	}
	body := mails[0].Body
	for _, want := range []string{"0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11", "success 4, error 1", "10m0s"} {
		if !strings.Contains(body, want) {
			t.Errorf("mail body lacks %q:\n%s", want, body)
		}
	}
}

func TestUnverifiedSenderIsAnError(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.UsersTable)
	users.Cost = bcrypt.MinCost
	if _, err := users.Create(ctx, "ann", "correct horse battery", user.Free); err != nil {
		t.Fatal(err)
	}
	_ = users.SetEmail(ctx, "ann", "ann@example.org")
	n := &notify.Notifier{SES: sesv2.NewFromConfig(st.Config), From: "nobody@example.org", Users: users}
	if _, err := n.Send(ctx, "ann", notify.Restored("s", nil)); err == nil || !strings.Contains(err.Error(), "MessageRejected") {
		t.Fatalf("unverified sender: %v", err)
	}
}
