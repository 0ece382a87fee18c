package devstack

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/foqus-cloud/stack/core/mototest"
)

// Every e-mail SES accepts is printed as it would arrive; one SES refuses
// (an unverified sender) is not.
func TestMailsSESAcceptsArePrinted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := mototest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	(&mailPrinter{w: &out}).attach(&cfg)
	ses := sesv2.NewFromConfig(cfg)
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("foqus-dev@example.org")}); err != nil {
		t.Fatal(err)
	}
	send := func(from string) error {
		_, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(from),
			Destination:      &sestypes.Destination{ToAddresses: []string{"alice@example.org"}},
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String("FOQUS session s1 finished")},
				Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("success 4, error 1\n")}},
			}},
		})
		return err
	}
	if err := send("foqus-dev@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := send("nobody@example.org"); err == nil {
		t.Fatal("moto accepted an unverified sender")
	}
	want := "--- e-mail sent through SES (moto: not delivered)\nFrom: foqus-dev@example.org\nTo: alice@example.org\nSubject: FOQUS session s1 finished\n\nsuccess 4, error 1\n---\n"
	if out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
}
