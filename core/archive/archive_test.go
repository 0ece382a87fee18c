package archive_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

func TestFreeSessionIsArchivedInGlacierPremiumIsNot(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	e.addUser("paid", user.Premium)
	sid, jobs := e.session("free", 4)
	out, err := e.svc.Archive(e.ctx, "free", sid)
	if err != nil || out != archive.Done {
		t.Fatalf("archive: %q, %v", out, err)
	}
	e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)
	key := e.sessionOf("free", sid).ArchiveKey
	_, err = e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: &e.svc.Bucket, Key: &key})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidObjectState" {
		t.Fatalf("GET of a GLACIER archive before a restore: %v, want InvalidObjectState", err)
	}
	// Repeating the whole archive changes nothing.
	if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Done {
		t.Fatalf("second archive: %q, %v", out, err)
	}
	e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)

	psid, pjobs := e.session("paid", 3)
	if out, err := e.svc.Archive(e.ctx, "paid", psid); err != nil || out != archive.Premium {
		t.Fatalf("premium archive: %q, %v", out, err)
	}
	e.assertLive("paid", psid, pjobs)
}

func TestIncompleteSessionIsNotArchived(t *testing.T) {
	e := newEnv(t, s3types.StorageClassGlacier)
	e.addUser("free", user.Free)
	sid, jobs := e.session("free", 2)
	if _, err := e.svc.Store.Append(e.ctx, "free", sid, []sessionstore.NewJob{{Simulation: "sim", Input: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Incomplete {
		t.Fatalf("archive with a job left: %q, %v", out, err)
	}
	e.assertLive("free", sid, jobs)
}

func TestArchiverKilledAtEachStepLeavesOneArchive(t *testing.T) {
	for _, step := range []string{archive.StepWritten, archive.StepMarked} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacier)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			e.svc.SetCrash(killAt(step))
			if _, err := e.svc.Archive(e.ctx, "free", sid); !errors.Is(err, errKilled) {
				t.Fatalf("killed run: %v", err)
			}
			if n := len(e.archives("free", sid)); n != 1 {
				t.Fatalf("after the kill: %d archive objects", n)
			}
			e.svc.SetCrash(nil)
			e.redelivered()
			if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Done {
				t.Fatalf("rerun: %q, %v", out, err)
			}
			e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)
		})
	}
}

func TestUpgradeRacingAnArchiveEndsLive(t *testing.T) {
	t.Run("upgrade between write and mark", func(t *testing.T) {
		e := newEnv(t, s3types.StorageClassGlacier)
		e.addUser("free", user.Free)
		sid, jobs := e.session("free", 4)
		e.svc.SetCrash(func(step string) error {
			if step == archive.StepWritten { // the upgrade lands while the archive is in flight
				_, err := e.svc.Users.SetTier(e.ctx, "free", user.Premium)
				return err
			}
			return nil
		})
		if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Aborted {
			t.Fatalf("archive: %q, %v", out, err)
		}
		e.assertLive("free", sid, jobs)
	})
	t.Run("archiver died, then upgrade, then redelivery", func(t *testing.T) {
		e := newEnv(t, s3types.StorageClassGlacier)
		e.addUser("free", user.Free)
		sid, jobs := e.session("free", 4)
		e.svc.SetCrash(killAt(archive.StepWritten))
		if _, err := e.svc.Archive(e.ctx, "free", sid); !errors.Is(err, errKilled) {
			t.Fatal(err)
		}
		e.svc.SetCrash(nil)
		up, err := e.svc.Upgrade(e.ctx, "free")
		if err != nil || len(up.Undone) != 1 {
			t.Fatalf("upgrade: %+v, %v", up, err)
		}
		if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Premium {
			t.Fatalf("redelivered archive: %q, %v", out, err)
		}
		e.assertLive("free", sid, jobs)
	})
}

// GLACIER_IR needs no restore. An upgrade landing while the archive object
// is written but not yet verified undoes it, and the archiver sees so. One
// landing after the archived mark, while the archiver still drops the live
// outputs, leaves the thaw to the archiver once they are gone (a thaw then
// would re-home outputs the archiver deletes next). Either way the session
// ends live with no archive object, also when the archiver dies at the step
// and its message comes back after the upgrade.
func TestUpgradeRacingAGlacierIRArchiveEndsLive(t *testing.T) {
	for _, step := range []string{archive.StepWritten, archive.StepMarked, archive.StepDropped} {
		t.Run("upgrade after "+step, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacierIr)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			upgrader := *e.svc // another process: no crash hook
			var up archive.Upgraded
			e.svc.SetCrash(func(s string) error {
				if s != step {
					return nil
				}
				var err error
				up, err = upgrader.Upgrade(e.ctx, "free")
				return err
			})
			if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
				t.Fatalf("archive: %v", err)
			}
			if len(up.Undone)+len(up.Thawed)+len(up.Pending) != 1 || len(up.Restoring) != 0 {
				t.Fatalf("upgrade: %+v", up)
			}
			e.svc.SetCrash(nil)
			if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Premium {
				t.Fatalf("redelivered archive: %q, %v", out, err)
			}
			e.assertLive("free", sid, jobs)
			if n := len(e.archives("free", sid)); n != 0 {
				t.Fatalf("%d archive objects left", n)
			}
		})
		t.Run("archiver died after "+step+", then upgrade, then redelivery", func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacierIr)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			e.svc.SetCrash(killAt(step))
			if _, err := e.svc.Archive(e.ctx, "free", sid); !errors.Is(err, errKilled) {
				t.Fatalf("killed run: %v", err)
			}
			e.svc.SetCrash(nil)
			up, err := e.svc.Upgrade(e.ctx, "free")
			if err != nil || len(up.Undone)+len(up.Pending) != 1 {
				t.Fatalf("upgrade: %+v, %v", up, err)
			}
			// Undone: no archive; pending: the archive, until the archiver thaws.
			if n := len(e.archives("free", sid)); n != len(up.Pending) {
				t.Fatalf("after the upgrade %+v: %d archive objects", up, n)
			}
			e.redelivered()
			if _, err := e.svc.Archive(e.ctx, "free", sid); err != nil {
				t.Fatalf("redelivered archive: %v", err)
			}
			e.assertLive("free", sid, jobs)
			if n := len(e.archives("free", sid)); n != 0 {
				t.Fatalf("%d archive objects left", n)
			}
		})
	}
}

// On GLACIER the upgrade requests a restore at once; S3's restore-completed
// event may then arrive while the archiver still drops the live outputs. The
// event's thaw waits (ErrNotDropped: SQS retries it) and the archiver, seeing
// the restore, thaws when done; the retried event then finds nothing to do.
func TestUpgradeRacingAGlacierArchiveEndsLive(t *testing.T) {
	for _, step := range []string{archive.StepMarked, archive.StepDropped} {
		t.Run("upgrade and restore event after "+step, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacier)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			other := *e.svc // the upgrade and the thaw function: no crash hook
			var up archive.Upgraded
			var thawErr error
			var key string
			e.svc.SetCrash(func(s string) error {
				if s != step {
					return nil
				}
				var err error
				if up, err = other.Upgrade(e.ctx, "free"); err != nil {
					return err
				}
				key = e.sessionOf("free", sid).ArchiveKey
				_, thawErr = other.Restored(e.ctx, key)
				return nil
			})
			if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Aborted {
				t.Fatalf("archive: %q, %v", out, err)
			}
			if len(up.Restoring) != 1 {
				t.Fatalf("upgrade: %+v", up)
			}
			e.assertLive("free", sid, jobs)
			if n := len(e.archives("free", sid)); n != 0 {
				t.Fatalf("%d archive objects left", n)
			}
			if !errors.Is(thawErr, archive.ErrNotDropped) {
				t.Fatalf("restore event during the drop: %v, want ErrNotDropped", thawErr)
			}
			if th, err := e.svc.Restored(e.ctx, key); err != nil || th.Jobs != 0 {
				t.Fatalf("retried event: %+v, %v", th, err)
			}
		})
	}
}

// SQS may hand one archive notice to two runs at once. While the first
// holds the session's lease the second is refused with when to come back,
// at every step: otherwise the second could finish the drop and let an
// upgrade thaw while the first still drops, deleting the re-homed outputs.
func TestTwoDeliveriesOfOneNoticeDropOnce(t *testing.T) {
	for _, step := range []string{archive.StepWritten, archive.StepMarked, archive.StepDropped} {
		t.Run("second delivery after "+step, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacierIr)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			second := *e.svc // the other delivery's run, and the upgrade: no crash hook
			var secondErr error
			var up archive.Upgraded
			e.svc.SetCrash(func(s string) error {
				if s != step {
					return nil
				}
				_, secondErr = second.Archive(e.ctx, "free", sid)
				var err error
				up, err = second.Upgrade(e.ctx, "free")
				return err
			})
			_, firstErr := e.svc.Archive(e.ctx, "free", sid)
			e.assertLive("free", sid, jobs)
			if firstErr != nil {
				t.Fatalf("first run: %v", firstErr)
			}
			var le *sessionstore.LeaseError
			if !errors.As(secondErr, &le) || time.Until(le.Until) < archive.RunTimeout {
				t.Fatalf("second run: %v, want a LeaseError until after the first run's deadline", secondErr)
			}
			if len(up.Undone)+len(up.Pending) != 1 {
				t.Fatalf("upgrade: %+v", up)
			}
		})
	}
}

// A drop no run will finish (its run died and the notice is gone, or it was
// archived before drops were marked) is finished by the upgrade, once the
// dead run's lease has run out: a thaw can then start. GLACIER_IR thaws at
// once; GLACIER has its restore requested, and its event's thaw may run.
func TestUpgradeFinishesADropNoRunWillFinish(t *testing.T) {
	for _, class := range []s3types.StorageClass{s3types.StorageClassGlacierIr, s3types.StorageClassGlacier} {
		t.Run(string(class), func(t *testing.T) {
			e := newEnv(t, class)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			e.svc.SetCrash(killAt(archive.StepMarked))
			if _, err := e.svc.Archive(e.ctx, "free", sid); !errors.Is(err, errKilled) {
				t.Fatalf("killed run: %v", err)
			}
			e.svc.SetCrash(nil)
			e.redelivered()
			up, err := e.svc.Upgrade(e.ctx, "free")
			if err != nil {
				t.Fatal(err)
			}
			if class == s3types.StorageClassGlacierIr {
				if len(up.Thawed) != 1 {
					t.Fatalf("upgrade: %+v, want the session thawed", up)
				}
				e.assertLive("free", sid, jobs)
				return
			}
			s := e.sessionOf("free", sid)
			if len(up.Restoring) != 1 || !s.Dropped || s.Archive != sessionstore.Restoring {
				t.Fatalf("upgrade: %+v, session %+v: want restoring with the drop done", up, s.Lifecycle)
			}
			if _, err := e.svc.Restored(e.ctx, s.ArchiveKey); err != nil {
				t.Fatalf("restore event: %v", err)
			}
			e.assertLive("free", sid, jobs)
		})
	}
}

// A run that read the session live, then found another run had archived it
// meanwhile, finishes what that run left (nothing, once it is done), and is
// sent away while the other still holds the session.
func TestARunThatReadTheSessionBeforeAnotherArchivedItFinishes(t *testing.T) {
	for _, other := range []string{"done", "dropping"} {
		t.Run("other run "+other, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacier)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			first := *e.svc
			if other == "dropping" {
				first.SetCrash(killAt(archive.StepMarked)) // it dies holding the lease
			}
			e.svc.SetCrash(func(s string) error {
				if s == archive.StepRead {
					_, _ = first.Archive(e.ctx, "free", sid)
				}
				return nil
			})
			out, err := e.svc.Archive(e.ctx, "free", sid)
			var le *sessionstore.LeaseError
			switch {
			case other == "done" && (err != nil || out != archive.Done):
				t.Fatalf("late run: %q, %v, want it done", out, err)
			case other == "dropping" && !errors.As(err, &le):
				t.Fatalf("late run: %q, %v, want a LeaseError", out, err)
			}
			if other == "dropping" {
				e.svc.SetCrash(nil)
				e.redelivered()
				if out, err := e.svc.Archive(e.ctx, "free", sid); err != nil || out != archive.Done {
					t.Fatalf("redelivery: %q, %v", out, err)
				}
			}
			e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)
		})
	}
}

// An upgrade that undoes a claim before the run writes its object (there is
// nothing to delete yet) leaves that object to nobody once the run writes
// it anyway and then dies, or loses its mark because the user is free again
// and a later run archives under a new key. The next run that finds the
// session live for a premium user, or archives it, sweeps it: the session
// ends with live results and no archive, or with exactly one.
func TestAnArchiveWrittenAfterAnUpgradeUndidItsClaimIsNotLeft(t *testing.T) {
	for _, c := range []struct {
		name           string
		downgrade, die bool
	}{
		{"run dies, user stays premium", false, true},
		{"run dies, user free again", true, true},
		{"mark refused, user free again", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, s3types.StorageClassGlacier)
			e.addUser("free", user.Free)
			sid, jobs := e.session("free", 4)
			e.svc.SetCrash(func(step string) error {
				switch {
				case step == archive.StepClaimed:
					if up, err := e.svc.Upgrade(e.ctx, "free"); err != nil || len(up.Undone) != 1 {
						t.Fatalf("upgrade: %+v, %v", up, err)
					}
					if c.downgrade {
						_, err := e.svc.Users.SetTier(e.ctx, "free", user.Free)
						return err
					}
				case step == archive.StepWritten && c.die:
					return errKilled
				}
				return nil
			})
			if out, err := e.svc.Archive(e.ctx, "free", sid); err == nil {
				t.Fatalf("first run: %q, want it killed or its mark refused", out)
			}
			if n := len(e.archives("free", sid)); n != 1 {
				t.Fatalf("after the first run: %d archive objects, want its stray one", n)
			}
			e.svc.SetCrash(nil)
			e.redelivered()
			out, err := e.svc.Archive(e.ctx, "free", sid)
			if c.downgrade {
				if err != nil || out != archive.Done {
					t.Fatalf("redelivery: %q, %v", out, err)
				}
				e.assertArchived("free", sid, jobs, s3types.StorageClassGlacier)
				return
			}
			if err != nil || out != archive.Premium {
				t.Fatalf("redelivery: %q, %v", out, err)
			}
			e.assertLive("free", sid, jobs)
		})
	}
}
