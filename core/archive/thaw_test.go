package archive_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// holdRestores keeps every restore in progress for about reads HEAD/GETs of
// the key, moto's manual restore progression (TOOLCHAIN.md).
func (e *env) holdRestores(reads int) {
	e.t.Helper()
	e.setTransition(map[string]any{"progression": "manual", "times": reads})
	// The state manager outlives moto's reset: later tests restore at once again.
	e.t.Cleanup(func() { e.setTransition(map[string]any{"progression": "immediate"}) })
}

func (e *env) setTransition(tr map[string]any) {
	body, _ := json.Marshal(map[string]any{"model_name": "s3::keyrestore", "transition": tr})
	resp, err := http.Post(srv.Endpoint()+"/moto-api/state-manager/set-transition", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		e.t.Fatalf("set-transition: %s", resp.Status)
	}
}

func TestUpgradeRestoresThenThawReHomesByteEqual(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 5)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	key := e.sessionOf("free", sid).ArchiveKey
	e.holdRestores(3)
	up, err := e.svc.Upgrade(e.ctx, "free")
	if err != nil || len(up.Restoring) != 1 || up.Previous != user.Free {
		t.Fatalf("upgrade: %+v, %v", up, err)
	}
	if s := e.sessionOf("free", sid); s.Archive != sessionstore.Restoring {
		t.Fatalf("after upgrade: %q, want restoring", s.Archive)
	}
	// While S3 restores, thaw says so and changes nothing.
	if _, err := e.svc.Thaw(e.ctx, key); !errors.Is(err, archive.ErrNotRestored) {
		t.Fatalf("thaw during the restore: %v", err)
	}
	for i := 0; i < 5; i++ { // S3's clock: each read moves moto's restore on
		_, _ = e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: &e.svc.Bucket, Key: &key})
	}
	th, err := e.svc.Thaw(e.ctx, key)
	if err != nil || th.Jobs != 5 || th.Counts["success"] != 4 || th.Counts["error"] != 1 {
		t.Fatalf("thaw: %+v, %v", th, err)
	}
	e.assertLive("free", sid, jobs)
}

// upgraded is a free user's GLACIER-archived session of 4 jobs whose user
// has just upgraded (its restore requested); it returns the archive's key.
func upgraded(t *testing.T) (*env, string, []job.Job, string) {
	t.Helper()
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 4)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	key := e.sessionOf("free", sid).ArchiveKey
	if _, err := e.svc.Upgrade(e.ctx, "free"); err != nil {
		t.Fatal(err)
	}
	return e, sid, jobs, key
}

func TestThawKilledAtEachStepFinishesOnRerun(t *testing.T) {
	for _, step := range []string{archive.StepRehomed, archive.StepFlipped} {
		t.Run(step, func(t *testing.T) {
			e, sid, jobs, key := upgraded(t)
			e.svc.SetCrash(killAt(step))
			if _, err := e.svc.Thaw(e.ctx, key); !errors.Is(err, errKilled) {
				t.Fatalf("killed thaw: %v", err)
			}
			e.svc.SetCrash(nil)
			if _, err := e.svc.Thaw(e.ctx, key); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			e.assertLive("free", sid, jobs)
			// A late duplicate of the restore event finds nothing to do.
			if th, err := e.svc.Thaw(e.ctx, key); err != nil || th.Jobs != 0 {
				t.Fatalf("duplicate event: %+v, %v", th, err)
			}
		})
	}
}

func TestGlacierIRIsThawedAtUpgradeWithoutRestore(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacierIr)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 3)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	e.assertArchived("free", sid, jobs, s3types.StorageClassGlacierIr)
	up, err := e.svc.Upgrade(e.ctx, "free")
	if err != nil || len(up.Thawed) != 1 || len(up.Restoring) != 0 {
		t.Fatalf("upgrade: %+v, %v", up, err)
	}
	e.assertLive("free", sid, jobs)
}

func TestArchiveRoundTripsEveryJobRecord(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacierIr) // readable without a restore
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 3)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	body := e.read(e.sessionOf("free", sid).ArchiveKey)
	h, entries, err := archive.Decode(bytes.NewReader(body))
	if err != nil || h.User != "free" || h.Session != sid || len(entries) != 3 {
		t.Fatalf("decode: %+v, %d entries, %v", h, len(entries), err)
	}
	for i, en := range entries {
		if en.ID != jobs[i].ID || string(en.OutputBytes()) != string(output(i)) || en.Input != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("entry %d: %+v", i, en)
		}
	}
	if entries[2].State != "error" || entries[2].Message != "boom" {
		t.Fatalf("error job: %+v", entries[2])
	}
}

// An event S3 (or moto, on a dump of its state) sends for an archive whose
// user never upgraded changes nothing and says so; once the user upgraded,
// the same event thaws it.
func TestRestoredEventThawsOnlyARequestedRestore(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 3)
	if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
		t.Fatal(err)
	}
	key := e.sessionOf("free", sid).ArchiveKey
	if _, err := e.svc.Restored(e.ctx, key); !errors.Is(err, archive.ErrNotRequested) {
		t.Fatalf("event before the upgrade: %v, want ErrNotRequested", err)
	}
	e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)
	if _, err := e.svc.Upgrade(e.ctx, "free"); err != nil {
		t.Fatal(err)
	}
	th, err := e.svc.Restored(e.ctx, key)
	if err != nil || th.Jobs != 3 {
		t.Fatalf("event after the upgrade: %+v, %v", th, err)
	}
	e.assertLive("free", sid, jobs)
	// A late duplicate of the event, the session live: nothing to do, no error.
	if th, err := e.svc.Restored(e.ctx, key); err != nil || th.Jobs != 0 {
		t.Fatalf("duplicate event: %+v, %v", th, err)
	}
}

// Two thaws of one archive racing each other (a retried restore event and
// the archiver, or two deliveries) both end without error, the session live
// and the archive gone: one interleaving per step of the first, then both
// at once.
func TestThawsRacingEachOtherEndLive(t *testing.T) {
	check := func(t *testing.T, e *env, sid string, jobs []job.Job) {
		t.Helper()
		e.assertLive("free", sid, jobs)
		if n := len(e.archives("free", sid)); n != 0 {
			t.Fatalf("%d archive objects left", n)
		}
	}
	for _, step := range []string{archive.StepFound, archive.StepRehomed, archive.StepFlipped} {
		t.Run("second thaw after the first's "+step, func(t *testing.T) {
			e, sid, jobs, key := upgraded(t)
			second := *e.svc
			var secondErr error
			e.svc.SetCrash(func(s string) error {
				if s == step {
					_, secondErr = second.Restored(e.ctx, key)
				}
				return nil
			})
			if _, err := e.svc.Restored(e.ctx, key); err != nil || secondErr != nil {
				t.Fatalf("first thaw: %v, second: %v", err, secondErr)
			}
			check(t, e, sid, jobs)
		})
	}
	t.Run("both at once", func(t *testing.T) {
		e, sid, jobs, key := upgraded(t)
		var g errgroup.Group
		for range 2 {
			g.Go(func() error { _, err := e.svc.Restored(e.ctx, key); return err })
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		check(t, e, sid, jobs)
	})
}
