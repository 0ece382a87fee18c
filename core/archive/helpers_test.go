package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

type env struct {
	t     testing.TB
	ctx   context.Context
	stack *mototest.Stack
	svc   *archive.Service
	s3    *s3.Client
}

func newEnv(t testing.TB, class s3types.StorageClass) *env {
	st := srv.Stack(t)
	db := dynamodb.NewFromConfig(st.Config)
	users := user.NewStore(db, st.UsersTable)
	users.Cost = bcrypt.MinCost
	set := archive.DefaultSettings()
	set.StorageClass = class
	c := awsconf.NewS3(st.Config)
	return &env{t: t, ctx: context.Background(), stack: st, s3: c, svc: &archive.Service{
		Store: sessionstore.New(db, st.ResourcesTable), Users: users, S3: c, Bucket: st.SessionBucket, Settings: set,
	}}
}

func (e *env) addUser(name string, tier user.Tier) {
	e.t.Helper()
	if _, err := e.svc.Users.Create(e.ctx, name, "correct horse battery", tier); err != nil {
		e.t.Fatal(err)
	}
}

// output is what a worker writes for job i: pretty-printed, as FOQUS does,
// so a byte-equal check catches any re-encoding.
func output(i int) []byte {
	return []byte(fmt.Sprintf("{\n  \"graphError\": %d,\n  \"output\": {\"x\": %d.5}\n}\n", i%2, i))
}

// session appends n jobs and finishes them as the update processor does:
// even jobs keep their output inline, odd ones in the bucket only (too large
// for the item), and every one is counted towards the session's Done.
func (e *env) session(name string, n int) (string, []job.Job) {
	e.t.Helper()
	sid := uuid.NewString()
	reqs := make([]sessionstore.NewJob, n)
	for i := range reqs {
		reqs[i] = sessionstore.NewJob{Simulation: "sim", Input: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	jobs, err := e.svc.Store.Append(e.ctx, name, sid, reqs)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := range jobs {
		if _, err := e.svc.Store.Transition(e.ctx, j.Key(), job.Submit, sessionstore.Change{}); err != nil {
			e.t.Fatal(err)
		}
		key := objectkey.JobOutput(name, sid, j.ID)
		if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: &e.svc.Bucket, Key: &key, Body: strings.NewReader(string(output(i)))}); err != nil {
			e.t.Fatal(err)
		}
		f := sessionstore.Finish{State: job.Success, OutputKey: key}
		if i%2 == 0 {
			f.Output = output(i)
		}
		if i == n-1 && n > 2 {
			f.State, f.Message = job.Error, "boom"
		}
		if _, err := e.svc.Store.Finish(e.ctx, j.Key(), f); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.svc.Store.CountFinished(e.ctx, j.Key()); err != nil {
			e.t.Fatal(err)
		}
	}
	return sid, jobs
}

func (e *env) sessionOf(name, sid string) sessionstore.Session {
	e.t.Helper()
	s, err := e.svc.Store.GetSession(e.ctx, name, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// archives lists the archive objects of a session.
func (e *env) archives(name, sid string) []s3types.Object {
	e.t.Helper()
	out, err := e.s3.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: &e.svc.Bucket, Prefix: aws.String(name + "/archive/" + sid + "/")})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Contents
}

// read returns an object's bytes, or nil when it does not exist.
func (e *env) read(key string) []byte {
	e.t.Helper()
	obj, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: &e.svc.Bucket, Key: &key})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = obj.Body.Close() }()
	b, _ := io.ReadAll(obj.Body)
	return b
}

// assertLive checks every output is back, byte-equal, and no archive is left.
func (e *env) assertLive(name, sid string, jobs []job.Job) {
	e.t.Helper()
	if s := e.sessionOf(name, sid); s.Archive != "" || s.ArchiveKey != "" {
		e.t.Fatalf("session not live: %+v", s.Lifecycle)
	}
	if a := e.archives(name, sid); len(a) != 0 {
		e.t.Fatalf("%d archive objects left", len(a))
	}
	for i, j := range jobs {
		if got := e.read(objectkey.JobOutput(name, sid, j.ID)); string(got) != string(output(i)) {
			e.t.Fatalf("job %d output object %q, want %q", i, got, output(i))
		}
		cur, err := e.svc.Store.GetJob(e.ctx, j.Key())
		if err != nil {
			e.t.Fatal(err)
		}
		wantInline := ""
		if i%2 == 0 {
			wantInline = string(output(i))
		}
		if string(cur.Output) != wantInline || cur.OutputKey != objectkey.JobOutput(name, sid, j.ID) {
			e.t.Fatalf("job %d item output %q key %q, want %q", i, cur.Output, cur.OutputKey, wantInline)
		}
	}
}

// assertArchived checks one archive in class exists and the live outputs are gone.
func (e *env) assertArchived(name, sid string, jobs []job.Job, class s3types.StorageClass) {
	e.t.Helper()
	s := e.sessionOf(name, sid)
	if s.Archive != sessionstore.Archived {
		e.t.Fatalf("session archive state %q, want archived", s.Archive)
	}
	objs := e.archives(name, sid)
	if len(objs) != 1 || aws.ToString(objs[0].Key) != s.ArchiveKey {
		e.t.Fatalf("archive objects %v, want exactly %s", objs, s.ArchiveKey)
	}
	head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: &e.svc.Bucket, Key: objs[0].Key})
	if err != nil {
		e.t.Fatal(err)
	}
	if head.StorageClass != class {
		e.t.Fatalf("archive storage class %q, want %q", head.StorageClass, class)
	}
	for i, j := range jobs {
		if b := e.read(objectkey.JobOutput(name, sid, j.ID)); b != nil {
			e.t.Fatalf("job %d output object still there", i)
		}
		cur, err := e.svc.Store.GetJob(e.ctx, j.Key())
		if err != nil {
			e.t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"graphError":%d}`, i%2); string(cur.Output) != want || cur.OutputKey != "" {
			e.t.Fatalf("job %d item keeps output %q key %q, want stub %s", i, cur.Output, cur.OutputKey, want)
		}
	}
}

var errKilled = errors.New("killed")

func killAt(step string) func(string) error {
	return func(s string) error {
		if s == step {
			return errKilled
		}
		return nil
	}
}

// redelivered moves the service's clock to when SQS hands a message back:
// after its visibility timeout, by which time the lease of a run that died
// has run out.
func (e *env) redelivered() {
	later := time.Now().Add(archive.RunTimeout + archive.LeaseMargin + time.Second)
	e.svc.Now = func() time.Time { return later }
}
