package archive_test

import (
	"encoding/json"
	"testing"
	"time"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// The first look at a restore comes when its tier's SLA is due, in hops of
// at most SQS's 900 s, and reads back as the archive queue's message.
func TestFirstWatchIsDueAtTheRestoreSLA(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		class s3types.StorageClass
		tier  s3types.Tier
		delay int32
	}{
		{s3types.StorageClassGlacier, s3types.TierExpedited, 300},
		{s3types.StorageClassGlacier, s3types.TierStandard, 900},
		{s3types.StorageClassDeepArchive, s3types.TierBulk, 900},
	} {
		sess := sessionstore.Session{ID: "11111111-2222-3333-4444-555555555555", User: "ann"}
		sess.ArchiveKey, sess.ArchiveClass = archive.Key("ann", sess.ID, "66666666-7777-8888-9999-000000000000"), string(c.class)
		n, delay := archive.FirstWatch(now, sess, archive.Restore{Tier: c.tier})
		if delay != c.delay {
			t.Errorf("%s %s: first look after %d s, want %d", c.class, c.tier, delay, c.delay)
		}
		b, _ := json.Marshal(n)
		back, err := archive.DecodeNotice(string(b))
		if err != nil || back.Restore == nil || *back.Restore != (archive.RestoreWatch{Key: sess.ArchiveKey, Tier: string(c.tier), Requested: now.Unix()}) {
			t.Errorf("%s %s: notice %s reads back as %+v, %v", c.class, c.tier, b, back.Restore, err)
		}
	}
	for _, bad := range []string{
		`{"user":"ann","session":"11111111-2222-3333-4444-555555555555","restore":{"key":"bob/archive/11111111-2222-3333-4444-555555555555/66666666-7777-8888-9999-000000000000.ndjson.gz","tier":"Expedited","requested":1}}`,
		`{"user":"ann","session":"11111111-2222-3333-4444-555555555555","restore":{"key":"ann/archive/11111111-2222-3333-4444-555555555555/66666666-7777-8888-9999-000000000000.ndjson.gz","tier":"Fast","requested":1}}`,
		`{"user":"ann","session":"11111111-2222-3333-4444-555555555555","restore":{"key":"ann/archive/11111111-2222-3333-4444-555555555555/66666666-7777-8888-9999-000000000000.ndjson.gz","tier":"Bulk"}}`,
	} {
		if _, err := archive.DecodeNotice(bad); err == nil {
			t.Errorf("watch %s accepted", bad)
		}
	}
}

// upgradedWatched is a GLACIER-archived session of 3 jobs whose user
// upgraded, restores followed on the archive queue (the watch is sent,
// delayed); it returns the watch of its restore.
func upgradedWatched(t *testing.T, e *env, holdReads int) (string, []job.Job, archive.RestoreWatch) {
	t.Helper()
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 3)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	if holdReads > 0 {
		e.holdRestores(holdReads)
	}
	q := sqs.NewFromConfig(e.stack.Config)
	e.svc.Watches = &archive.Queue{SQS: q, URL: e.stack.ArchiveQueueURL}
	began := time.Now()
	if _, err := e.svc.Upgrade(e.ctx, "free"); err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: &e.stack.ArchiveQueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil || attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)] != "1" {
		t.Fatalf("archive queue %v, %v: want the restore's watch, delayed", attrs.Attributes, err)
	}
	return sid, jobs, archive.RestoreWatch{Key: e.sessionOf("free", sid).ArchiveKey, Tier: string(s3types.TierExpedited), Requested: began.Unix()}
}

func TestWatchOfARunningRestoreLooksAgainAtItsSLAThenReportsItOverdue(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	sid, _, w := upgradedWatched(t, e, 3) // two reads in progress: the two looks
	res, err := e.svc.WatchRestore(e.ctx, "free", sid, w)
	if err != nil || res.Outcome != archive.WatchWaiting || res.Next != w || res.Again < 290 || res.Again > 300 {
		t.Fatalf("look within the SLA: %+v, %v: want waiting, again in about 300 s", res, err)
	}
	late := time.Unix(w.Requested, 0).Add(archive.RestoreSLA(s3types.StorageClassGlacier, s3types.TierExpedited) + time.Second)
	e.svc.Now = func() time.Time { return late }
	res, err = e.svc.WatchRestore(e.ctx, "free", sid, w)
	if err != nil || res.Outcome != archive.WatchOverdue || res.Next != w || res.Again != int32(archive.MaxDelay/time.Second) {
		t.Fatalf("look past the SLA: %+v, %v: want overdue, again in 900 s", res, err)
	}
}

// S3's event never reached thaw: the watch thaws the finished restore, and
// once the session is live there is nothing more to follow.
func TestWatchThawsARestoreWhoseEventWasMissed(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	sid, jobs, w := upgradedWatched(t, e, 0) // moto restores at once
	res, err := e.svc.WatchRestore(e.ctx, "free", sid, w)
	if err != nil || res.Outcome != archive.WatchThawed || res.Thawed.Jobs != 3 || res.Thawed.Counts[job.Success] != 2 {
		t.Fatalf("look at a finished restore: %+v, %v", res, err)
	}
	e.assertLive("free", sid, jobs)
	if res, err := e.svc.WatchRestore(e.ctx, "free", sid, w); err != nil || res.Outcome != archive.WatchDone {
		t.Fatalf("look at a live session: %+v, %v", res, err)
	}
}

// A session restoring whose restore S3 has no record of (an upgrade that
// died between its mark and its request) is asked for again, and the watch
// starts anew from then.
func TestWatchAsksAgainForARestoreS3HasNoRecordOf(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 3)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	sess := e.sessionOf("free", sid)
	if _, err := e.svc.Store.MarkRestoring(e.ctx, "free", sid, sess.ArchiveKey); err != nil {
		t.Fatal(err)
	}
	e.holdRestores(1)
	w := archive.RestoreWatch{Key: sess.ArchiveKey, Tier: string(s3types.TierExpedited), Requested: time.Now().Add(-time.Hour).Unix()}
	now := time.Now()
	e.svc.Now = func() time.Time { return now }
	res, err := e.svc.WatchRestore(e.ctx, "free", sid, w)
	want := archive.RestoreWatch{Key: w.Key, Tier: string(s3types.TierExpedited), Requested: now.Unix()}
	if err != nil || res.Outcome != archive.WatchWaiting || res.Next != want || res.Again != 300 {
		t.Fatalf("look at a restore never asked for: %+v, %v: want it asked for, looked at again in 300 s", res, err)
	}
	e.setTransition(map[string]any{"progression": "immediate"})
	if res, err := e.svc.WatchRestore(e.ctx, "free", sid, res.Next); err != nil || res.Outcome != archive.WatchThawed {
		t.Fatalf("next look: %+v, %v", res, err)
	}
	e.assertLive("free", sid, jobs)
}
