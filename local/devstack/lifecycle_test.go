package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/local/devstack"
)

// lifecycleWindow is the test's free result window, in place of the dev
// stage's ten minutes: long enough to read the live results first.
const lifecycleWindow = "6"

// TestArchiveAndThawOnTheLocalStack runs the result lifecycle through the
// local stack as deployed: a free user's session runs on the workers, the
// update processor hands it to the archive queue, the archiver writes it to
// the stage's storage class after the window, and the API answers the
// archived marker; an upgrade (as foqus-users does it) restores the archive,
// moto's restore completion reaches the thaw queue through the bucket
// notification the stack installs, and thaw brings back the outputs the
// worker wrote, byte for byte. SES records both e-mails.
func TestArchiveAndThawOnTheLocalStack(t *testing.T) {
	began := time.Now()
	st := startStackWith(t, func(o *devstack.Options) { o.Env = map[string]string{resource.EnvFreeWindow: lifecycleWindow} })
	ctx := context.Background()
	db, c := dynamodb.NewFromConfig(st.Config), awsconf.NewS3(st.Config)
	users := user.NewStore(db, st.Env[resource.EnvUsersTable])
	store := sessionstore.New(db, st.Env[resource.EnvResourcesTable])
	bucket := st.Env[resource.EnvSessionBucket]
	const addr = "alice@example.org"
	if err := users.SetEmail(ctx, st.User, addr); err != nil {
		t.Fatal(err)
	}
	alice := &client{t: t, base: st.BaseURL, user: st.User, pass: st.Password}
	alice.uploadSimulation("zzfoqus_life")
	sid, ids := alice.runSession("zzfoqus_life", inputs(3, nil))
	for id, r := range alice.results(sid, ids, 2*time.Minute) {
		var out map[string]any
		if r.State != "success" || json.Unmarshal(r.Output, &out) != nil || out[jobview.ArchivedKey] != nil {
			t.Fatalf("job %s before the window: %s %s", id, r.State, r.Output)
		}
	}
	written := map[string][]byte{} // what the workers wrote, by job
	for _, id := range ids {
		b, err := readObject(ctx, c, bucket, objectkey.JobOutput(st.User, sid, id))
		if err != nil {
			t.Fatalf("live output of job %s (read before the %ss window ended?): %v", id, lifecycleWindow, err)
		}
		written[id] = b
	}

	// Archived makes the archive object the truth; the live outputs go after
	// that (Dropped), so the test waits for both.
	sess := waitArchive(t, store, st.User, sid, sessionstore.Archived, 2*time.Minute, true)
	t.Logf("archived %.1fs after the stack started", time.Since(began).Seconds())
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &sess.ArchiveKey})
	if err != nil || string(head.StorageClass) != st.Env[resource.EnvArchiveClass] {
		t.Fatalf("archive object %s: %v, class %q, want the stage's %q", sess.ArchiveKey, err, head.StorageClass, st.Env[resource.EnvArchiveClass])
	}
	for _, id := range ids {
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(objectkey.JobOutput(st.User, sid, id))}); err == nil {
			t.Fatalf("live output of job %s still in the bucket", id)
		}
	}
	checkMarkers(t, alice, sid, ids, sessionstore.Archived, jobview.ArchivedMessage)
	if n := alice.states(sid); n["success"] != len(ids) {
		t.Fatalf("GET /session/%s of the archived session: %v, want every job success", sid, n)
	}
	// Upgrade, as foqus-users upgrade does it; moto holds the restore in
	// progress for three reads.
	setTransition(t, st, map[string]any{"progression": "manual", "times": 3})
	settings, err := archive.SettingsFromEnv(st.Env)
	if err != nil {
		t.Fatal(err)
	}
	svc := &archive.Service{Store: store, Users: users, S3: c, Bucket: bucket, Settings: settings}
	up, err := svc.Upgrade(ctx, st.User)
	if err != nil || len(up.Restoring) != 1 {
		t.Fatalf("upgrade: %+v, %v", up, err)
	}
	checkMarkers(t, alice, sid, ids, sessionstore.Restoring, jobview.RestoringMessage)
	// S3's clock: reads move the restore on; its completion goes to the thaw
	// queue through the stack's bucket notification, and thaw runs.
	for reads := 0; !strings.Contains(aws.ToString(head.Restore), `ongoing-request="false"`); reads++ {
		if reads == 20 {
			t.Fatalf("restore still %q after %d reads", aws.ToString(head.Restore), reads)
		}
		if head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &sess.ArchiveKey}); err != nil {
			t.Fatal(err)
		}
	}
	waitArchive(t, store, st.User, sid, "", time.Minute, false)
	for _, id := range ids {
		b, err := readObject(ctx, c, bucket, objectkey.JobOutput(st.User, sid, id))
		if err != nil || !bytes.Equal(b, written[id]) {
			t.Fatalf("thawed output of job %s: %q, %v; the worker wrote %q", id, b, err, written[id])
		}
	}
	for id, r := range alice.results(sid, ids, time.Minute) {
		var out map[string]any
		if json.Unmarshal(r.Output, &out) != nil || out[jobview.ArchivedKey] != nil || out["output"] == nil {
			t.Fatalf("thawed record of job %s: %s", id, r.Output)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &sess.ArchiveKey}); err == nil {
		t.Fatal("archive object left after thaw")
	}
	// The mails last: moto's state dump, where SentMails reads them, reads
	// every key's restore status, which puts a fresh archive object's restore
	// (not yet asked for) through to done and sends its one completion event
	// early; the upgrade's restore would then never complete.
	var mails []mototest.Mail
	for deadline := time.Now().Add(10 * time.Second); len(mails) < 2 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		mails = mailsTo(t, st, addr)
	}
	if len(mails) != 2 {
		t.Fatalf("%d mails to %s, want the completion and the restore notice: %+v", len(mails), addr, mails)
	}
	done, restored := mails[0], mails[1]
	if !strings.Contains(done.Subject, sid) || !strings.Contains(done.Body, fmt.Sprintf("success %d", len(ids))) || !strings.Contains(done.Body, lifecycleWindow+"s") {
		t.Fatalf("completion mail: %+v", done)
	}
	if !strings.Contains(restored.Subject, "restored") || !strings.Contains(restored.Body, sid) || !strings.Contains(restored.Body, fmt.Sprintf("success %d", len(ids))) {
		t.Fatalf("restore mail: %+v", restored)
	}
	t.Logf("archive and thaw on the local stack: %.1fs, stack start included", time.Since(began).Seconds())
}

// checkMarkers reads every result record and the session's job list as
// FOQUS does: each record keeps its State and graphError, and its Output
// carries the marker of archive state state.
func checkMarkers(t *testing.T, c *client, sid string, ids []string, state, message string) {
	t.Helper()
	for id, r := range c.results(sid, ids, time.Minute) {
		var out struct {
			GraphError *float64          `json:"graphError"`
			Archived   *jobview.Archived `json:"archived"`
		}
		if err := json.Unmarshal(r.Output, &out); err != nil || r.State != "success" || out.GraphError == nil || *out.GraphError != 0 ||
			out.Archived == nil || out.Archived.State != state || out.Archived.Message != message {
			t.Fatalf("record of job %s, session %s: %s %s, want the %s marker", id, state, r.State, r.Output, state)
		}
	}
}

// waitArchive waits until the session is in archive state want, and with
// dropped until the archiver has removed its live outputs too.
func waitArchive(t *testing.T, store *sessionstore.Store, name, sid, want string, within time.Duration, dropped bool) sessionstore.Session {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := store.GetSession(context.Background(), name, sid)
		if err != nil {
			t.Fatal(err)
		}
		if s.Archive == want && (!dropped || s.Dropped) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s archive state %q (live outputs dropped: %v) after %s, want %q", sid, s.Archive, s.Dropped, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readObject(ctx context.Context, c *s3.Client, bucket, key string) ([]byte, error) {
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer func() { _ = obj.Body.Close() }()
	return io.ReadAll(obj.Body)
}

// mailsTo lists the e-mails moto's SES recorded to addr, oldest first.
func mailsTo(t *testing.T, st *devstack.Stack, addr string) []mototest.Mail {
	t.Helper()
	all, err := mototest.SentMails(context.Background(), st.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var out []mototest.Mail
	for _, m := range all {
		if strings.Contains(fmt.Sprint(m.Destinations), addr) {
			out = append(out, m)
		}
	}
	return out
}

// setTransition sets moto's progression of S3 restores (TOOLCHAIN.md).
func setTransition(t *testing.T, st *devstack.Stack, tr map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model_name": "s3::keyrestore", "transition": tr})
	resp, err := http.Post(st.Endpoint+"/moto-api/state-manager/set-transition", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("set-transition: %s", resp.Status)
	}
}
