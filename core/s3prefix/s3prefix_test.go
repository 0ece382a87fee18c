package s3prefix_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/s3prefix"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// put writes one small object under each key, 16 at a time.
func put(t *testing.T, c *s3.Client, bucket string, keys []string) {
	t.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("x")})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func keys(c *s3.Client, t *testing.T, bucket string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = true
		}
	}
	return out
}

func named(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d.json", prefix, i)
	}
	return out
}

func TestDeleteRemovesEveryPageOfAPrefixAndNothingElse(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	c := awsconf.NewS3(st.Config)
	const n = 1205 // two pages of at most a thousand
	put(t, c, st.SessionBucket, named("u/session/a/", n))
	others := []string{"u/session/ab/00000.json", "u/session/b/00000.json", "v/session/a/00000.json"}
	put(t, c, st.SessionBucket, others)

	cfg := st.Config.Copy()
	var calls awsconf.Counter
	calls.Attach(&cfg)
	got, err := s3prefix.Delete(context.Background(), awsconf.NewS3(cfg), st.SessionBucket, "u/session/a/")
	if err != nil || got != n {
		t.Fatalf("Delete: %d, %v; want %d", got, err, n)
	}
	left := keys(c, t, st.SessionBucket)
	if len(left) != len(others) {
		t.Fatalf("%d objects left, want only the %d outside the prefix", len(left), len(others))
	}
	for _, k := range others {
		if !left[k] {
			t.Fatalf("%s outside the prefix was deleted", k)
		}
	}
	for _, o := range calls.Snapshot() {
		if want := map[string]int{"S3.ListObjectsV2": 2, "S3.DeleteObjects": 2}[o.Op]; o.Count != want {
			t.Errorf("%s called %d times, want %d", o.Op, o.Count, want)
		}
	}
	if _, err := s3prefix.Delete(context.Background(), c, st.SessionBucket, ""); err == nil {
		t.Fatal("an empty prefix (the whole bucket) was accepted")
	}
}

func TestDeleteKeysChunksByAThousand(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	c := awsconf.NewS3(st.Config)
	ks := named("u/session/c/", 2001)
	put(t, c, st.SessionBucket, ks[:1100])
	put(t, c, st.SessionBucket, []string{"u/keep.json"})

	cfg := st.Config.Copy()
	var calls awsconf.Counter
	calls.Attach(&cfg)
	if err := s3prefix.DeleteKeys(context.Background(), awsconf.NewS3(cfg), st.SessionBucket, "outputs", ks); err != nil {
		t.Fatal(err) // 901 of the keys have no object: no error
	}
	if left := keys(c, t, st.SessionBucket); len(left) != 1 || !left["u/keep.json"] {
		t.Fatalf("left %d objects, want only u/keep.json", len(left))
	}
	if total := calls.Total(); total != 3 {
		t.Fatalf("%d requests for 2,001 keys, want 3 DeleteObjects", total)
	}
}

// S3 answers 200 with per-key errors; moto never refuses a delete.
func TestDeleteKeysReportsRefusedObjects(t *testing.T) {
	t.Parallel()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`+
			`<Error><Key>u/a.json</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`+
			`<Error><Key>u/b.json</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`)
	}))
	t.Cleanup(fake.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}})
	err := s3prefix.DeleteKeys(context.Background(), c, "b", "outputs of session s", []string{"u/a.json", "u/b.json", "u/c.json"})
	var de *s3prefix.DeleteError
	if !errors.As(err, &de) || de.Refused != 2 || de.Key != "u/a.json" || de.Code != "AccessDenied" {
		t.Fatalf("DeleteKeys: %v, want a DeleteError of 2 refused", err)
	}
	if !strings.Contains(err.Error(), "outputs of session s") {
		t.Fatalf("error %q does not say what was deleted", err)
	}
}

func TestDeleteExceptSparesOneKey(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	c := awsconf.NewS3(st.Config)
	all := named("u/archive/s/", 3)
	put(t, c, st.SessionBucket, all)
	got, err := s3prefix.DeleteExcept(context.Background(), c, st.SessionBucket, "u/archive/s/", all[1])
	if err != nil || got != 2 {
		t.Fatalf("DeleteExcept: %d, %v; want 2", got, err)
	}
	if left := keys(c, t, st.SessionBucket); len(left) != 1 || !left[all[1]] {
		t.Fatalf("left %v, want only %s", left, all[1])
	}
}
