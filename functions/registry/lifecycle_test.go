package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/syncbuf"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/local/eventsource"
)

// lifecycle is a stack with the archiver and thaw consuming their queues as
// their event source mappings would, and the session bucket sending
// ObjectRestore:Completed to the thaw queue as the CDK app configures it.
type lifecycle struct {
	*env
	s3  *s3.Client
	svc *archive.Service
}

func newLifecycle(t *testing.T) *lifecycle {
	l := quietLifecycle(t)
	e := l.env
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, q := range []struct {
		url string
		h   registry.UpdatesFunc
	}{{e.st.ArchiveQueueURL, e.set.Archiver}, {e.st.ThawQueueURL, e.set.Thaw}} {
		p := &eventsource.Poller{SQS: e.sqs, QueueURL: q.url, BatchSize: 10, ReportFailures: true, Handler: q.h,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), WaitSeconds: 1}
		go func() { _ = p.Run(ctx) }()
	}
	arn, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &e.st.ThawQueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &e.st.SessionBucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(arn.Attributes["QueueArn"]), Events: []s3types.Event{"s3:ObjectRestore:Completed"},
		}}},
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// quietLifecycle is a lifecycle stack with no event source running: the
// test hands the functions their messages.
func quietLifecycle(t *testing.T) *lifecycle {
	e := newEnv(t)
	set, err := archive.SettingsFromEnv(e.st.Env())
	if err != nil {
		t.Fatal(err)
	}
	c := awsconf.NewS3(e.st.Config)
	svc := &archive.Service{Store: e.store, Users: e.users, S3: c, Bucket: e.st.SessionBucket, Settings: set}
	return &lifecycle{env: e, s3: c, svc: svc}
}

// workerOutput is what the worker writes for job i: pretty-printed, so the
// byte-equal check after thaw would catch any re-encoding.
func workerOutput(i int) string {
	return fmt.Sprintf("{\n  \"graphError\": 0,\n  \"output\": {\"x\": %d.25}\n}\n", i)
}

// finishedSession appends n jobs for name, starts them and finishes each as
// a worker does: output written to the bucket first, then the success event
// through the update topic, recorded by the update processor.
func (l *lifecycle) finishedSession(name string, n int) (string, []string) {
	l.t.Helper()
	ctx := context.Background()
	sid, ids := l.newSession(name, n)
	l.ok("POST", "/session/"+sid+"/start", name, "", nil)
	l.drain(l.st.JobQueueURL, n, 2)
	pub := event.NewPublisher(sns.NewFromConfig(l.st.Config), l.st.UpdateTopicARN)
	var msgs []event.Message
	for i, id := range ids {
		key := objectkey.JobOutput(name, sid, id)
		if _, err := l.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &l.st.SessionBucket, Key: &key, Body: strings.NewReader(workerOutput(i))}); err != nil {
			l.t.Fatal(err)
		}
		msgs = append(msgs, event.Status{User: name, Session: sid, Job: id, State: job.Success, Output: []byte(workerOutput(i)), OutputKey: key, At: time.Now()})
	}
	if err := pub.PublishAll(ctx, msgs); err != nil {
		l.t.Fatal(err)
	}
	got := l.drain(l.st.UpdateQueueURL, n, 3)
	resp, err := l.set.Updates(ctx, sqsEvent(got))
	if err != nil || len(resp.BatchItemFailures) > 0 {
		l.t.Fatalf("update processor: %v, %v", resp.BatchItemFailures, err)
	}
	return sid, ids
}

// archiveWithin bounds the wait for an archive: the window and the archiver's
// run, with room for a loaded CI machine running every registry test at once
// under -race (one killed session took over 30 s there).
const archiveWithin = 2 * time.Minute

func (l *lifecycle) waitArchive(name, sid, want string, within time.Duration) sessionstore.Session {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := l.store.GetSession(context.Background(), name, sid)
		if err != nil {
			l.t.Fatal(err)
		}
		// An archived session's outputs are dropped after its mark: wait for that too.
		if s.Archive == want && (want != sessionstore.Archived || s.Dropped) {
			return s
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("session %s archive state %q after %s, want %q", sid, s.Archive, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outputsBack checks each job's output object is back, byte-equal to what
// the worker wrote.
func (l *lifecycle) outputsBack(name, sid string, ids []string) {
	l.t.Helper()
	for i, id := range ids {
		obj, err := l.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &l.st.SessionBucket, Key: aws.String(objectkey.JobOutput(name, sid, id))})
		if err != nil {
			l.t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Body)
		_ = obj.Body.Close()
		if string(b) != workerOutput(i) {
			l.t.Fatalf("job %d: re-homed output %q, want what the worker wrote %q", i, b, workerOutput(i))
		}
	}
}

// page reads the session's results as FOQUS does (generator, then page 1).
func (l *lifecycle) page(name, sid string) []jobview.Record {
	l.t.Helper()
	gen := "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	n, _ := strconv.Atoi(l.newPage(name, sid, gen))
	var recs []jobview.Record
	l.ok("GET", fmt.Sprintf("/session/%s/result/%s/%d", sid, gen, max(n, 1)), name, "", &recs)
	return recs
}

// foqusReads checks a record the way FOQUS's results loop (graph.py) reads
// it: State present, Output a dict, its graphError.
func foqusReads(t *testing.T, r jobview.Record) (graphError float64, out map[string]any) {
	t.Helper()
	if r.State == "" {
		t.Fatalf("record %s has no State", r.ID)
	}
	if err := json.Unmarshal(r.Output, &out); err != nil {
		t.Fatalf("record %s Output %s is not a JSON object: FOQUS calls .get on it", r.ID, r.Output)
	}
	ge, ok := out["graphError"].(float64)
	if !ok {
		t.Fatalf("record %s Output has no graphError: FOQUS would count it -2 and resubmit", r.ID)
	}
	return ge, out
}

func (l *lifecycle) mails() []mototest.Mail {
	l.t.Helper()
	m, err := mototest.SentMails(context.Background(), srv.Endpoint())
	if err != nil {
		l.t.Fatal(err)
	}
	return m
}

func (l *lifecycle) mailsTo(addr string) []mototest.Mail {
	var out []mototest.Mail
	for _, m := range l.mails() {
		if strings.Contains(fmt.Sprint(m.Destinations), addr) {
			out = append(out, m)
		}
	}
	return out
}

func (l *lifecycle) user(name string, tier user.Tier, email string, optOut bool) {
	l.t.Helper()
	ctx := context.Background()
	if _, err := l.users.Create(ctx, name, "correct horse battery", tier); err != nil {
		l.t.Fatal(err)
	}
	if err := l.users.SetEmail(ctx, name, email); err != nil {
		l.t.Fatal(err)
	}
	if err := l.users.SetOptOut(ctx, name, optOut); err != nil {
		l.t.Fatal(err)
	}
}

func setTransition(t *testing.T, tr map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model_name": "s3::keyrestore", "transition": tr})
	resp, err := http.Post(srv.Endpoint()+"/moto-api/state-manager/set-transition", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

// TestLifecycleEndToEnd follows a free user's results from the last job to
// the archive after the (10 s) window, through upgrade, restore and thaw back
// to live, byte-equal, with the e-mails on the way; a premium user's are
// never archived, an opted-out user gets no mail. Poison messages on both
// lifecycle queues land in their DLQs first, and the functions keep working.
func TestLifecycleEndToEnd(t *testing.T) {
	const poison = `{"user":"fran","session":"nope"`
	l := newLifecycle(t)
	ctx := context.Background()
	for _, q := range []string{l.st.ArchiveQueueURL, l.st.ThawQueueURL} {
		if _, err := l.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(poison)}); err != nil {
			t.Fatal(err)
		}
	}
	l.user("fran", user.Free, "fran@example.org", false)
	l.user("pete", user.Premium, "pete@example.org", false)
	l.user("otto", user.Free, "otto@example.org", true)
	fsid, fids := l.finishedSession("fran", 3)
	psid, _ := l.finishedSession("pete", 2)
	osid, _ := l.finishedSession("otto", 2)

	// Live first: the API answers the outputs.
	for _, r := range l.page("fran", fsid) {
		if _, out := foqusReads(t, r); out[jobview.ArchivedKey] != nil {
			t.Fatalf("archived before the window: %s", r.Output)
		}
	}
	sess := l.waitArchive("fran", fsid, sessionstore.Archived, archiveWithin)
	l.waitArchive("otto", osid, sessionstore.Archived, archiveWithin)
	head, err := l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.st.SessionBucket, Key: &sess.ArchiveKey})
	if err != nil || head.StorageClass != s3types.StorageClassGlacier {
		t.Fatalf("archive object: %v, class %q", err, head.StorageClass)
	}
	for _, id := range fids {
		if _, err := l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.st.SessionBucket, Key: aws.String(objectkey.JobOutput("fran", fsid, id))}); err == nil {
			t.Fatalf("live output of job %s still in the bucket", id)
		}
	}
	recs := l.page("fran", fsid)
	if len(recs) != 3 {
		t.Fatalf("%d records of an archived session, want every job", len(recs))
	}
	for _, r := range recs {
		ge, out := foqusReads(t, r)
		m, _ := out[jobview.ArchivedKey].(map[string]any)
		if ge != 0 || r.State != job.Success || m["state"] != sessionstore.Archived || m["message"] != jobview.ArchivedMessage {
			t.Fatalf("archived record: state %s, output %s", r.State, r.Output)
		}
	}
	var md []jobview.Metadata
	l.ok("GET", "/session/"+fsid, "fran", "", &md)
	if len(md) != 3 || md[0].State != job.Success {
		t.Fatalf("session GET of an archived session: %+v", md)
	}

	// The premium user's session stays live past the window.
	time.Sleep(3 * time.Second)
	if s, _ := l.store.GetSession(ctx, "pete", psid); s.Archive != "" {
		t.Fatalf("premium session archive state %q", s.Archive)
	}
	for _, r := range l.page("pete", psid) {
		if _, out := foqusReads(t, r); out[jobview.ArchivedKey] != nil || out["output"] == nil {
			t.Fatalf("premium output %s", r.Output)
		}
	}
	// Upgrade: the restore is held in progress (moto's manual progression).
	setTransition(t, map[string]any{"progression": "manual", "times": 3})
	t.Cleanup(func() { setTransition(t, map[string]any{"progression": "immediate"}) })
	up, err := l.svc.Upgrade(ctx, "fran")
	if err != nil || len(up.Restoring) != 1 {
		t.Fatalf("upgrade: %+v, %v", up, err)
	}
	for _, r := range l.page("fran", fsid) {
		_, out := foqusReads(t, r)
		if m, _ := out[jobview.ArchivedKey].(map[string]any); m["state"] != sessionstore.Restoring || m["message"] != jobview.RestoringMessage {
			t.Fatalf("record during the restore: %s", r.Output)
		}
	}
	head, err = l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.st.SessionBucket, Key: &sess.ArchiveKey})
	if err != nil || aws.ToString(head.Restore) != `ongoing-request="true"` {
		t.Fatalf("S3 during the restore: %v, x-amz-restore %q", err, aws.ToString(head.Restore))
	}
	// S3's clock: reads move moto's restore on, and moto sends its one
	// Restore:Completed to the thaw queue (through the bucket notification;
	// the deployed stack routes S3's EventBridge event there). moto spends
	// that event on the first read of the finished restore anywhere, a dump
	// of its state included, so when it is not delivered the test delivers
	// what AWS sends: the EventBridge event of the user guide, for this key.
	for reads := 0; !strings.Contains(aws.ToString(head.Restore), `ongoing-request="false"`); reads++ {
		if reads == 20 {
			t.Fatalf("restore still %q after %d reads", aws.ToString(head.Restore), reads)
		}
		if head, err = l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.st.SessionBucket, Key: &sess.ArchiveKey}); err != nil {
			t.Fatal(err)
		}
	}
	thawed := func(within time.Duration) bool {
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if s, err := l.store.GetSession(ctx, "fran", fsid); err != nil || s.Archive == "" {
				return err == nil
			}
		}
		return false
	}
	if !thawed(5 * time.Second) {
		t.Log("moto's Restore:Completed was not delivered: sending the event AWS sends")
		if _, err := l.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &l.st.ThawQueueURL, MessageBody: aws.String(restoreCompleted(t, l.st.SessionBucket, sess.ArchiveKey))}); err != nil {
			t.Fatal(err)
		}
		if !thawed(30 * time.Second) {
			s, _ := l.store.GetSession(ctx, "fran", fsid)
			t.Fatalf("not thawed within 30 s of the event: %+v", s.Lifecycle)
		}
	}
	l.outputsBack("fran", fsid, fids)
	for _, r := range l.page("fran", fsid) {
		if _, out := foqusReads(t, r); out[jobview.ArchivedKey] != nil || out["output"] == nil {
			t.Fatalf("thawed record output %s", r.Output)
		}
	}
	if _, err := l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.st.SessionBucket, Key: &sess.ArchiveKey}); err == nil {
		t.Fatal("archive object left after thaw")
	}
	finished := l.mailsTo("fran@example.org")
	if len(finished) < 1 || !strings.Contains(finished[0].Body, fsid) || !strings.Contains(finished[0].Body, "success 3") || !strings.Contains(finished[0].Body, mototest.LifecycleWindow+"s") {
		t.Fatalf("completion mail to fran: %+v", finished)
	}
	if m := l.mailsTo("pete@example.org"); len(m) != 1 || !strings.Contains(m[0].Body, "success 2") {
		t.Fatalf("completion mail to pete: %+v", m)
	}
	if m := l.mailsTo("otto@example.org"); len(m) != 0 {
		t.Fatalf("mail to an opted-out user: %+v", m)
	}

	deadline := time.Now().Add(10 * time.Second)
	for len(l.mailsTo("fran@example.org")) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if m := l.mailsTo("fran@example.org"); len(m) != 2 || !strings.Contains(m[1].Subject, "restored") || !strings.Contains(m[1].Body, "success 3") {
		t.Fatalf("restore mail: %+v", m)
	}

	// The poison messages sent first are in their DLQs.
	for _, dlq := range []string{l.st.ArchiveDLQURL, l.st.ThawDLQURL} {
		got := l.drain(dlq, 10, 3)
		if len(got) != 1 || aws.ToString(got[0].Body) != poison {
			t.Fatalf("DLQ %s holds %d messages, want only the poison message (a restore event nobody asked for is dropped)", dlq, len(got))
		}
	}
}

func TestFreeUserJobLimitIsAClear403(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	env := e.st.Env()
	env[resource.EnvFreeJobLimit] = "50"
	set, err := registry.New(e.st.Config, env, api.FnSessionAppend, api.FnSessionCreate)
	if err != nil {
		t.Fatal(err)
	}
	e.set = set
	if _, err := e.users.Create(ctx, "fran", "correct horse battery", user.Free); err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.Create(ctx, "pete", "correct horse battery", user.Premium); err != nil {
		t.Fatal(err)
	}
	var sid string
	e.ok("POST", "/session", "fran", "", &sid)
	e.ok("POST", "/session/"+sid, "fran", jobsBody(0, 40, "fake-job"), nil)
	msg := failed(t, e.call("POST", "/session/"+sid, "fran", nil, jobsBody(40, 11, "fake-job")), http.StatusForbidden)
	if msg != "Failed to append jobs: a session holds at most 50 jobs on the free plan; upgrade to premium for more" {
		t.Fatalf("message %q", msg)
	}
	e.ok("POST", "/session/"+sid, "fran", jobsBody(40, 10, "fake-job"), nil) // up to the limit is fine
	e.ok("POST", "/session/"+sid, "pete", jobsBody(0, 60, "fake-job"), nil)  // premium: no limit
}

// restoreCompleted is the "Object Restore Completed" event of Amazon S3's
// user guide (functions/thaw/testdata) for key in bucket.
func restoreCompleted(t *testing.T, bucket, key string) string {
	t.Helper()
	b, err := os.ReadFile("../thaw/testdata/eventbridge-object-restore-completed.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	ev["resources"] = []string{"arn:aws:s3:::" + bucket}
	d := ev["detail"].(map[string]any)
	d["bucket"] = map[string]any{"name": bucket}
	d["object"].(map[string]any)["key"] = key
	out, _ := json.Marshal(ev)
	return string(out)
}

// A free user's session that a kill ended (no job left to run, none of them
// run) is archived like a finished one; an archived session then refuses
// appends and starts with a 409 that says why, and its jobs still list.
func TestKilledFreeSessionIsArchivedThenRefusesAppendAndStart(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	l.user("kim", user.Free, "kim@example.org", true)
	sid, ids := l.newSession("kim", 3)
	l.ok("POST", "/session/"+sid+"/start", "kim", "", nil)
	l.ok("POST", "/session/"+sid+"/kill", "kim", "", nil)
	sess := l.waitArchive("kim", sid, sessionstore.Archived, archiveWithin)
	if sess.Done != 3 || sess.ArchiveKey == "" {
		t.Fatalf("killed session archived: %+v", sess.Lifecycle)
	}
	recs := l.page("kim", sid)
	if len(recs) != len(ids) {
		t.Fatalf("%d records of the archived session, want %d", len(recs), len(ids))
	}
	for _, r := range recs {
		var out map[string]any // a killed job has no output, so no graphError: FOQUS reads its State
		if err := json.Unmarshal(r.Output, &out); err != nil || r.State != job.Terminate || out[jobview.ArchivedKey] == nil {
			t.Fatalf("archived killed record: state %s, output %s", r.State, r.Output)
		}
	}
	want := "session " + sid + " is archived (results of the free plan are archived after their window); use a new session, or upgrade to premium to restore it"
	if msg := failed(t, l.call("POST", "/session/"+sid, "kim", nil, jobsBody(3, 1, "fake-job")), http.StatusConflict); msg != "Failed to append jobs: "+want {
		t.Fatalf("append to an archived session: %q", msg)
	}
	if msg := failed(t, l.call("POST", "/session/"+sid+"/start", "kim", nil, ""), http.StatusConflict); msg != "Failed to start jobs: "+want {
		t.Fatalf("start of an archived session: %q", msg)
	}
	var md []jobview.Metadata
	l.ok("GET", "/session/"+sid, "kim", "", &md)
	if len(md) != 3 {
		t.Fatalf("session GET lists %d jobs after the refused append, want 3", len(md))
	}
}

// A copy of a due archive notice that finds another run archiving the
// session (SQS delivers at least once, so two copies may run at once) is
// neither failed nor archived: it is sent again, delayed until that run's
// lease ends, and the session is left to the run holding it.
func TestArchiveNoticeHeldByAnotherRunComesBackWhenItsLeaseEnds(t *testing.T) {
	t.Parallel()
	l := quietLifecycle(t)
	e := l.env
	l.user("lee", user.Free, "", false)
	sid, _ := l.finishedSession("lee", 2)
	ctx := context.Background()
	now := time.Now()
	lease := sessionstore.Lease{Run: "another-delivery", Now: now, Until: now.Add(archive.RunTimeout + archive.LeaseMargin)}
	if _, err := e.store.ClaimArchive(ctx, "lee", sid, archive.Key("lee", sid, "other"), "GLACIER", lease); err != nil {
		t.Fatal(err)
	}
	first := l.drain(e.st.ArchiveQueueURL, 1, 3) // the update processor's completion notice
	if len(first) != 1 {
		t.Fatalf("%d completion notices, want 1", len(first))
	}
	body, _ := json.Marshal(archive.Notice{User: "lee", Session: sid, Finished: now.Add(-time.Hour).Unix()}) // long due
	resp, err := e.set.Archiver(ctx, sqsEvent([]sqstypes.Message{{MessageId: aws.String("m1"), Body: aws.String(string(body))}}))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("archiver: %v, %v", resp.BatchItemFailures, err)
	}
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &e.st.ArchiveQueueURL, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if a := attrs.Attributes; a["ApproximateNumberOfMessagesDelayed"] != "1" || a["ApproximateNumberOfMessages"] != "0" {
		t.Fatalf("archive queue %v: want the notice sent again, delayed", a)
	}
	if s, err := e.store.GetSession(ctx, "lee", sid); err != nil || s.Archive != sessionstore.Archiving || s.LeaseRun != lease.Run {
		t.Fatalf("session %+v, %v: want it left to the run holding it", s.Lifecycle, err)
	}
}

// The archiver follows every restore an upgrade asks for: one still running
// past its tier's SLA is logged as overdue (the line the stage's
// restore-stuck alarm counts, functions' JSON log) and looked at again; one
// that finished while its event never reached thaw is thawed, and mailed.
// Not parallel: it holds moto's restores, which every test shares.
func TestArchiverFollowsRestores(t *testing.T) {
	l := quietLifecycle(t)
	ctx := context.Background()
	var logs syncbuf.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil))) // as registry.Serve logs in Lambda
	t.Cleanup(func() { slog.SetDefault(old) })
	l.user("wes", user.Free, "wes@example.org", false)
	sid, ids := l.finishedSession("wes", 2)
	if out, err := l.svc.Archive(ctx, "wes", sid); err != nil || out != archive.Done {
		t.Fatalf("archive: %q, %v", out, err)
	}
	l.drain(l.st.ArchiveQueueURL, 1, 2) // the completion notice, not handed on (no completion mail)
	store := l.svc.Store
	sess, err := store.GetSession(ctx, "wes", sid)
	if err != nil {
		t.Fatal(err)
	}
	setTransition(t, map[string]any{"progression": "manual", "times": 3})
	t.Cleanup(func() { setTransition(t, map[string]any{"progression": "immediate"}) })
	if up, err := l.svc.Upgrade(ctx, "wes"); err != nil || len(up.Restoring) != 1 {
		t.Fatalf("upgrade: %+v, %v", up, err)
	}
	look := func(requested time.Time) {
		t.Helper()
		body, _ := json.Marshal(archive.Notice{User: "wes", Session: sid, Restore: &archive.RestoreWatch{Key: sess.ArchiveKey, Tier: "Expedited", Requested: requested.Unix()}})
		resp, err := l.set.Archiver(ctx, sqsEvent([]sqstypes.Message{{MessageId: aws.String("w"), Body: aws.String(string(body))}}))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("archiver: %v, %v", resp.BatchItemFailures, err)
		}
	}
	look(time.Now().Add(-time.Hour))
	var line struct{ Level, Msg, Session, Key, Tier string }
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, sid) && json.Unmarshal([]byte(l), &line) == nil && line.Msg == archive.LogRestoreOverdue {
			break
		}
	}
	if line.Level != "ERROR" || line.Msg != archive.LogRestoreOverdue || line.Key != sess.ArchiveKey || line.Tier != "Expedited" {
		t.Fatalf("overdue restore logged as %+v; log:\n%s", line, logs.String())
	}
	attrs, err := l.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &l.st.ArchiveQueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil || attrs.Attributes["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Fatalf("archive queue %v, %v: want the watch sent on", attrs.Attributes, err)
	}
	setTransition(t, map[string]any{"progression": "immediate"})
	look(time.Now())
	if s, err := store.GetSession(ctx, "wes", sid); err != nil || s.Archive != "" {
		t.Fatalf("session after the look at a finished restore: %+v, %v", s.Lifecycle, err)
	}
	l.outputsBack("wes", sid, ids)
	if m := l.mailsTo("wes@example.org"); len(m) != 1 || !strings.Contains(m[0].Subject, "restored") || !strings.Contains(m[0].Body, "success 2") {
		t.Fatalf("mails to wes: %+v, want the restore notice with its counts", m)
	}
}
