package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// Thawed is what one Thaw did.
type Thawed struct {
	User, Session string
	Jobs          int               // jobs re-homed; 0 when there was nothing to do
	Counts        map[job.State]int // jobs per state, for the notice
}

// ErrNotRestored says the archive object cannot be read yet: its restore
// has not finished (S3 answers InvalidObjectState).
var ErrNotRestored = errors.New("archive not restored yet")

// Thaw re-homes the results of the archive under key as live data: every
// output back where it was (the bucket object byte-equal to what the worker
// wrote, the job item's inline copy), then the session live, then the archive
// object deleted. Repeating it after a crash at any point finishes the job; an
// archive no session refers to any more (a thaw that died before its delete)
// is deleted.
func (s *Service) Thaw(ctx context.Context, key string) (Thawed, error) {
	return s.thaw(ctx, key, false)
}

// ErrNotDropped says the archiver has not yet removed the live outputs of
// the session: a thaw now would re-home outputs it then removes. The archiver
// thaws when it is done; the restore-completed event is retried meanwhile.
var ErrNotDropped = errors.New("the archiver is still removing the live outputs")

// ErrNotRequested says a restore-completed event names the archive of a
// session nobody asked to restore (its user is still free): S3 reports
// restores it was not asked for only by mistake, and an emulator does so at
// will (moto on a dump of its state), so the event is dropped.
var ErrNotRequested = errors.New("no restore of this archive was requested")

// Restored is Thaw for S3's restore-completed event of key: it thaws a
// session being restored, and deletes an archive no session refers to any
// more; for an archived session whose restore was never requested it does
// nothing and answers ErrNotRequested.
func (s *Service) Restored(ctx context.Context, key string) (Thawed, error) {
	return s.thaw(ctx, key, true)
}

func (s *Service) thaw(ctx context.Context, key string, requested bool) (Thawed, error) {
	name, sid, err := ParseKey(key)
	if err != nil {
		return Thawed{}, err
	}
	sess, err := s.Store.GetSession(ctx, name, sid)
	if err != nil {
		return Thawed{}, err
	}
	out := Thawed{User: name, Session: sid}
	if sess.ArchiveKey != key {
		return out, s.deleteArchive(ctx, key)
	}
	switch {
	case sess.Archive != sessionstore.Archived && sess.Archive != sessionstore.Restoring:
		return out, nil // archiving: the archiver owns it
	case requested && sess.Archive == sessionstore.Archived:
		return out, fmt.Errorf("archive %s of session %s: %w", key, sid, ErrNotRequested)
	case !sess.Dropped:
		return out, fmt.Errorf("archive %s of session %s: %w", key, sid, ErrNotDropped)
	}
	if err := s.after(StepFound); err != nil {
		return Thawed{}, err
	}
	body, err := s.get(ctx, key)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidObjectState" {
		return Thawed{}, fmt.Errorf("%s: %w", key, ErrNotRestored)
	}
	var entries []Entry
	if err == nil {
		entries, err = s.check(ctx, key, body)
	}
	if err != nil {
		if s.thawedMeanwhile(ctx, name, sid, key) {
			return out, nil
		}
		return Thawed{}, err
	}
	if err := s.rehome(ctx, name, sid, entries); err != nil {
		return Thawed{}, err
	}
	if err := s.after(StepRehomed); err != nil {
		return Thawed{}, err
	}
	if err := s.Store.FinishThaw(ctx, name, sid, key); err != nil && !errors.Is(err, sessionstore.ErrArchiveState) {
		return Thawed{}, err
	}
	if err := s.after(StepFlipped); err != nil {
		return Thawed{}, err
	}
	out.Jobs, out.Counts = len(entries), map[job.State]int{}
	for _, e := range entries {
		out.Counts[e.State]++
	}
	return out, s.deleteArchive(ctx, key)
}

// thawedMeanwhile reports whether the session no longer refers to key: a
// thaw racing this one finished first and deleted the archive under it.
func (s *Service) thawedMeanwhile(ctx context.Context, name, sid, key string) bool {
	now, err := s.Store.GetSession(ctx, name, sid)
	return err == nil && now.ArchiveKey != key
}

// check decodes an archive and verifies it against the SHA-256 the
// archiver recorded.
func (s *Service) check(ctx context.Context, key string, body []byte) ([]Entry, error) {
	head, err := s.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", key, err)
	}
	sum := sha256.Sum256(body)
	if head.Metadata[MetaSHA256] != hex.EncodeToString(sum[:]) {
		return nil, &VerifyError{key, "SHA-256 of the restored object differs from the archive written"}
	}
	_, entries, err := Decode(bytes.NewReader(body))
	return entries, err
}

func (s *Service) rehome(ctx context.Context, name, sid string, entries []Entry) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sessionstore.WriteParallel)
	for _, e := range entries {
		if !e.HasOutput && e.OutputKey == "" {
			continue
		}
		g.Go(func() error {
			b := e.OutputBytes()
			if e.OutputKey != "" && b != nil {
				if _, err := s.S3.PutObject(gctx, &s3.PutObjectInput{
					Bucket: &s.Bucket, Key: aws.String(e.OutputKey), Body: bytes.NewReader(b),
					ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"),
				}); err != nil {
					return fmt.Errorf("re-home output of job %s: %w", e.ID, err)
				}
			}
			return s.Store.SetOutput(gctx, job.Key{User: name, Session: sid, ID: e.ID}, e.InlineBytes(), e.OutputKey)
		})
	}
	return g.Wait()
}

func (s *Service) deleteArchive(ctx context.Context, key string) error {
	if _, err := s.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete archive %s: %w", key, err)
	}
	return nil
}

// Restore outcomes.
type Restore struct {
	Tier       s3types.Tier // the tier S3 accepted
	InProgress bool         // S3 already had a restore of the object running
	FellBack   bool         // Expedited had no capacity; Standard was asked
}

// S3 error codes of RestoreObject that moto never answers (tested at the
// SDK boundary).
const (
	CodeExpeditedUnavailable = "GlacierExpeditedRetrievalNotAvailable" // 503: no expedited capacity now
	CodeRestoreInProgress    = "RestoreAlreadyInProgress"              // 409: a restore is running
)

// RestoreDays is how long a restored copy stays readable; thaw copies it
// out at once.
const RestoreDays = 1

// RequestRestore asks S3 to restore the archive under key from class at
// the configured tier: Expedited falls back to Standard when S3 has no
// expedited capacity (503) and on DEEP_ARCHIVE, which has none; a restore
// already running (409) counts as requested.
func (s *Service) RequestRestore(ctx context.Context, key string, class s3types.StorageClass) (Restore, error) {
	tier := s.Settings.RestoreTier
	r := Restore{}
	if class == s3types.StorageClassDeepArchive && tier == s3types.TierExpedited {
		tier, r.FellBack = s3types.TierStandard, true
	}
	for {
		_, err := s.S3.RestoreObject(ctx, &s3.RestoreObjectInput{
			Bucket: &s.Bucket, Key: &key,
			RestoreRequest: &s3types.RestoreRequest{Days: aws.Int32(RestoreDays), GlacierJobParameters: &s3types.GlacierJobParameters{Tier: tier}},
		})
		var ae smithy.APIError
		switch {
		case err == nil:
			r.Tier = tier
			return r, nil
		case errors.As(err, &ae) && ae.ErrorCode() == CodeRestoreInProgress:
			r.Tier, r.InProgress = tier, true
			return r, nil
		case errors.As(err, &ae) && ae.ErrorCode() == CodeExpeditedUnavailable && tier == s3types.TierExpedited:
			tier, r.FellBack = s3types.TierStandard, true
			continue
		}
		return Restore{}, fmt.Errorf("restore %s at tier %s: %w", key, tier, err)
	}
}

// Upgraded is what Upgrade did to a user's sessions.
type Upgraded struct {
	Previous  user.Tier
	Restoring []string // sessions whose restore was requested
	Thawed    []string // sessions made live at once (GLACIER_IR archives, and archives already restored)
	Undone    []string // archives in flight, undone
	Pending   []string // GLACIER_IR archives the archiver thaws once it has dropped the live outputs
}

// Upgrade makes a user premium and brings back all their results: an
// archive in flight is undone (the archiver's own mark would fail on the
// tier anyway), a GLACIER_IR archive is thawed at once, any other has its
// restore requested; ObjectRestore:Completed then drives Thaw. An archive
// whose live outputs are not dropped yet is marked restoring and the drop
// finished here, unless an archiver run holds it: that run thaws when done
// (Service.finish). Repeating it repeats only what is left.
func (s *Service) Upgrade(ctx context.Context, name string) (Upgraded, error) {
	old, err := s.Users.SetTier(ctx, name, user.Premium)
	if err != nil {
		return Upgraded{}, err
	}
	up := Upgraded{Previous: old}
	for sess, err := range s.Store.Sessions(ctx, name) {
		if err != nil {
			return up, err
		}
		switch sess.Archive {
		case sessionstore.Archiving:
			if err := s.undo(ctx, sess); err != nil {
				return up, err
			}
			up.Undone = append(up.Undone, sess.ID)
		case sessionstore.Archived, sessionstore.Restoring:
			if err := s.bringBack(ctx, sess, &up); err != nil {
				return up, err
			}
		}
	}
	return up, nil
}

// bringBack marks an archived session restoring and thaws or restores it.
func (s *Service) bringBack(ctx context.Context, sess sessionstore.Session, up *Upgraded) error {
	now, err := s.Store.MarkRestoring(ctx, sess.User, sess.ID, sess.ArchiveKey)
	if errors.Is(err, sessionstore.ErrArchiveState) {
		return nil // thawed meanwhile (by the archiver, or a repeat of this)
	}
	if err != nil {
		return err
	}
	class := s3types.StorageClass(sess.ArchiveClass)
	if !now.Dropped {
		// An archiver run that died, or ran before drops were marked,
		// left the drop unfinished: no thaw can start before it is.
		lctx, cancel, l := s.lease(ctx)
		out, err := s.finish(lctx, now, nil, l)
		cancel()
		var le *sessionstore.LeaseError
		switch {
		case errors.As(err, &le) && class == s3types.StorageClassGlacierIr:
			up.Pending = append(up.Pending, sess.ID) // the run holding it thaws when done
			return nil
		case errors.As(err, &le): // its restore is requested still; the event's thaw waits for the drop
		case err != nil:
			return err
		case out == Aborted:
			up.Thawed = append(up.Thawed, sess.ID)
			return nil
		}
	}
	if class == s3types.StorageClassGlacierIr {
		if _, err := s.Thaw(ctx, sess.ArchiveKey); err != nil {
			return err
		}
		up.Thawed = append(up.Thawed, sess.ID)
		return nil
	}
	if _, err := s.RequestRestore(ctx, sess.ArchiveKey, class); err != nil {
		return err
	}
	if err := s.after(StepRestored); err != nil {
		return err
	}
	up.Restoring = append(up.Restoring, sess.ID)
	return nil
}
