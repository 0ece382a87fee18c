package archive_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// BenchmarkArchiveRequests counts the AWS requests of archiving and of
// thawing one session, by its job count, and compares the archive object's
// size with the live data it replaces (output objects plus the inline
// copies in the job items). Run:
//
//	go test -run '^$' -bench ArchiveRequests -benchtime 1x ./core/archive
func BenchmarkArchiveRequests(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			for range b.N {
				e := newEnv(b, s3types.StorageClassGlacierIr) // readable: thaw needs no restore wait
				e.addUser("free", user.Free)
				sid, jobs := e.session("free", n)
				live := 0
				for i := range jobs {
					live += 2 * len(output(i)) // even jobs: object + inline copy; odd: object (see session)
					if i%2 == 1 {
						live -= len(output(i))
					}
				}
				cfg := e.stack.Config.Copy()
				var archiveReqs, thawReqs awsconf.Counter
				archiveReqs.Attach(&cfg)
				svc := *e.svc
				svc.S3, svc.Store = awsconf.NewS3(cfg), sessionstore.New(dynamodb.NewFromConfig(cfg), e.stack.ResourcesTable)
				svc.Users = user.NewStore(dynamodb.NewFromConfig(cfg), e.stack.UsersTable)
				b.ResetTimer()
				if _, err := svc.Archive(e.ctx, "free", sid); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				key := e.sessionOf("free", sid).ArchiveKey
				head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: &e.svc.Bucket, Key: aws.String(key)})
				if err != nil {
					b.Fatal(err)
				}
				cfg2 := e.stack.Config.Copy()
				thawReqs.Attach(&cfg2)
				svc.S3, svc.Store = awsconf.NewS3(cfg2), sessionstore.New(dynamodb.NewFromConfig(cfg2), e.stack.ResourcesTable)
				if _, err := svc.Thaw(e.ctx, key); err != nil {
					b.Fatal(err)
				}
				size := aws.ToInt64(head.ContentLength)
				b.ReportMetric(float64(archiveReqs.Total()), "archive-requests")
				b.ReportMetric(float64(thawReqs.Total()), "thaw-requests")
				b.ReportMetric(float64(size), "archive-bytes")
				b.ReportMetric(float64(live), "live-bytes")
				b.Logf("jobs=%d archive: %d requests (%s); thaw: %d requests (%s); archive %d B vs live %d B (ratio %.3f)",
					n, archiveReqs.Total(), ops(&archiveReqs), thawReqs.Total(), ops(&thawReqs), size, live, float64(size)/float64(live))
			}
		})
	}
}

func ops(c *awsconf.Counter) string {
	var parts []string
	for _, o := range c.Snapshot() {
		parts = append(parts, fmt.Sprintf("%s %d", o.Op, o.Count))
	}
	return strings.Join(parts, ", ")
}
