package awsconf_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/mototest"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// The counter sees every request of every client built from the config,
// by service and operation, failed ones included.
func TestCounterCountsPerOperation(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	cfg := st.Config.Copy()
	c := &awsconf.Counter{}
	c.Attach(&cfg)
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	for i := 0; i < 3; i++ {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(st.JobQueueURL), MessageBody: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
	}
	s3c := awsconf.NewS3(cfg)
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(st.SessionBucket)}); err != nil {
		t.Fatalf("path-style S3 against the emulator: %v", err)
	}
	_, _ = s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket")}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	got := map[string]int{}
	for _, oc := range c.Snapshot() {
		got[oc.Op] = oc.Count
	}
	if got["SQS.SendMessage"] != 3 || got["S3.HeadBucket"] != 2 || c.Total() != 5 {
		t.Fatalf("counted %v (total %d), want 3 SendMessage and 2 HeadBucket", got, c.Total())
	}
	c.Reset()
	if c.Total() != 0 || !strings.HasPrefix(srv.Endpoint(), "http://127.0.0.1:") {
		t.Fatal("reset did not zero the counts")
	}
}
