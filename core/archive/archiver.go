package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/s3prefix"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
)

// Outcome says what one Archive call did.
type Outcome string

// The outcomes of Archive.
const (
	Done       Outcome = "archived"   // the session is archived (now or before) and its live outputs are gone
	Premium    Outcome = "premium"    // the user is premium: results stay live (an unfinished archive was undone)
	Incomplete Outcome = "incomplete" // jobs are left to run
	Aborted    Outcome = "aborted"    // the user upgraded during the archive: results stay live (or are live again)
	Restoring  Outcome = "restoring"  // the session is being restored: its thaw waits for S3
)

// MetaSHA256 and MetaJobs are the archive object's user metadata: the
// verification the archiver checks before it removes live data, and that
// thaw checks before it re-homes it.
const (
	MetaSHA256 = "foqus-sha256"
	MetaJobs   = "foqus-jobs"
)

// OutputReads is how many live outputs are read from the bucket at once.
const OutputReads = 16

// RunTimeout bounds one archive run where its caller gives no deadline (the
// archiver and thaw functions' Lambda timeout: a 1,000-job archive is a few
// thousand requests); LeaseMargin is how long the session's lease outlasts a
// run's deadline: requests already sent, and clocks that differ.
const (
	RunTimeout  = 300 * time.Second
	LeaseMargin = time.Minute
)

// Steps after which a run may die; Service.crash (tests) stops a run there.
const (
	StepRead     = "read"     // the session is read and due, not claimed yet
	StepClaimed  = "claimed"  // the session is claimed for the archive, no object written yet
	StepWritten  = "written"  // the archive object is written, the session still archiving
	StepMarked   = "marked"   // the session is archived, live outputs still there
	StepDropped  = "dropped"  // live outputs are gone, the session not yet marked so
	StepFound    = "found"    // thaw: the session refers to the archive, not read yet
	StepRehomed  = "rehomed"  // thaw: live outputs are back, the session still archived
	StepFlipped  = "flipped"  // thaw: the session is live, the archive object still there
	StepRestored = "restored" // upgrade: a restore was requested
)

// Service runs the lifecycle steps on the session store and bucket.
type Service struct {
	Store    *sessionstore.Store
	Users    *user.Store
	S3       *s3.Client
	Bucket   string
	Settings Settings
	Now      func() time.Time
	// Watches, when set, is the archive queue: each restore Upgrade asks
	// for is followed there (RestoreWatch).
	Watches *Queue

	crash func(step string) error // a test's stand-in for a process dying after step
}

func (s *Service) after(step string) error {
	if s.crash != nil {
		return s.crash(step)
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Archive writes the results of a free user's complete session as one
// archive object, verifies it, marks the session archived (in one
// transaction with a check that the user is still free) and only then
// removes the live outputs. Any step may be repeated: a run that died is
// finished by the next, which reuses its archive key. An upgrade that lands
// after the mark leaves the thaw to the archiver if the live outputs are not
// dropped yet (see finish). From the claim to the drop the run holds the
// session's lease: a run that finds it held answers a
// *sessionstore.LeaseError, to be tried again when the lease ends.
func (s *Service) Archive(ctx context.Context, name, sid string) (Outcome, error) {
	ctx, cancel, l := s.lease(ctx)
	defer cancel()
	u, err := s.Users.Get(ctx, name)
	if err != nil {
		return "", fmt.Errorf("archive session %s: %w", sid, err)
	}
	sess, err := s.Store.GetSession(ctx, name, sid)
	if err != nil {
		return "", err
	}
	switch {
	case sess.Archive == sessionstore.Archived || sess.Archive == sessionstore.Restoring:
		return s.finish(ctx, sess, nil, l)
	case u.Tier == user.Premium && sess.Archive == sessionstore.Archiving:
		if err := s.undo(ctx, sess); err != nil {
			return "", err
		}
		return Premium, s.sweep(ctx, name, sid, "")
	case u.Tier == user.Premium:
		return Premium, s.sweep(ctx, name, sid, "")
	}
	if !sess.Complete() {
		return Incomplete, nil
	}
	if err := s.after(StepRead); err != nil {
		return "", err
	}
	claimed, err := s.Store.ClaimArchive(ctx, name, sid, Key(name, sid, uuid.NewString()), string(s.Settings.StorageClass), l)
	if errors.Is(err, sessionstore.ErrArchiveState) {
		// Another run archived it since it was read: finish what that run left.
		now, gerr := s.Store.GetSession(ctx, name, sid)
		if gerr != nil {
			return "", gerr
		}
		if now.Archive == sessionstore.Archived || now.Archive == sessionstore.Restoring {
			return s.finish(ctx, now, nil, l)
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	sess = claimed
	if err := s.after(StepClaimed); err != nil {
		return "", err
	}
	jobs, err := s.Store.Jobs(ctx, name, sid)
	if err != nil {
		return "", err
	}
	objects, err := s.objects(ctx, jobs)
	if err != nil {
		return "", err
	}
	entries := make([]Entry, len(jobs))
	outputs := make([][]byte, len(jobs))
	for i, j := range jobs {
		entries[i] = NewEntry(j, objects[i])
		outputs[i] = entries[i].OutputBytes()
	}
	var buf bytes.Buffer
	sum, err := Encode(&buf, Header{User: name, Session: sid, Created: s.now().UTC()}, entries)
	if err != nil {
		return "", err
	}
	if err := s.write(ctx, sess, buf.Bytes(), sum, len(entries)); err != nil {
		return "", err
	}
	if err := s.after(StepWritten); err != nil {
		return "", err
	}
	if err := s.verify(ctx, sess, int64(buf.Len()), sum); err != nil {
		// An upgrade meanwhile undid the archive (its object is gone, the session live).
		if now, gerr := s.Store.GetSession(ctx, name, sid); gerr == nil && (now.Archive != sessionstore.Archiving || now.ArchiveKey != sess.ArchiveKey) {
			return Aborted, nil
		}
		return "", err
	}
	err = s.Store.MarkArchived(ctx, name, sid, sess.ArchiveKey, l.Run, s.Users.TierCondition(name, user.Free))
	if errors.Is(err, sessionstore.ErrTierChanged) {
		return Aborted, s.undo(ctx, sess)
	}
	if err != nil {
		return "", err
	}
	if err := s.after(StepMarked); err != nil {
		return "", err
	}
	sess.Archive = sessionstore.Archived
	return s.finish(ctx, sess, outputs, l)
}

// lease bounds a run: ctx's deadline (Lambda's invocation deadline, else
// RunTimeout from now) stops its requests, and the session lease it takes
// lasts LeaseMargin longer, so the lease never passes to another run while
// this one can still write.
func (s *Service) lease(ctx context.Context) (context.Context, context.CancelFunc, sessionstore.Lease) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, RunTimeout)
	}
	deadline, _ := ctx.Deadline()
	now := s.now()
	return ctx, cancel, sessionstore.Lease{Run: uuid.NewString(), Now: now, Until: now.Add(time.Until(deadline) + LeaseMargin)}
}

// finish drops the live outputs of a session archived or restoring, records
// that it did, and thaws when that write shows an upgrade came first: the
// upgrade's MarkRestoring and this MarkDropped each answer the session as
// their write left it, so whichever of the two writes comes second sees
// the other and thaws (both thawing, after a repeat, is harmless). The drop
// runs under l, the session's lease, so no second run drops while a thaw
// re-homes: a thaw waits for the drop mark, which ends the lease.
func (s *Service) finish(ctx context.Context, sess sessionstore.Session, outputs [][]byte, l sessionstore.Lease) (Outcome, error) {
	if !sess.Dropped && sess.LeaseRun != l.Run {
		now, err := s.Store.ClaimDrop(ctx, sess.User, sess.ID, sess.ArchiveKey, l)
		if errors.Is(err, sessionstore.ErrArchiveState) {
			return Aborted, nil // thawed meanwhile: the upgrade found it dropped
		}
		if err != nil {
			return "", err
		}
		sess = now
	}
	if !sess.Dropped {
		if err := s.dropLive(ctx, sess, outputs); err != nil {
			return "", err
		}
		if err := s.after(StepDropped); err != nil {
			return "", err
		}
		now, err := s.Store.MarkDropped(ctx, sess.User, sess.ID, sess.ArchiveKey, l.Run)
		if errors.Is(err, sessionstore.ErrArchiveState) {
			return "", fmt.Errorf("mark live outputs dropped: the run outlived its lease: %w", err)
		}
		if err != nil {
			return "", err
		}
		sess = now
		if err := s.sweep(ctx, sess.User, sess.ID, sess.ArchiveKey); err != nil {
			return "", err
		}
	}
	if sess.Archive != sessionstore.Restoring {
		return Done, nil
	}
	if s3types.StorageClass(sess.ArchiveClass) == s3types.StorageClassGlacierIr {
		_, err := s.Thaw(ctx, sess.ArchiveKey)
		return Aborted, err
	}
	_, err := s.Restored(ctx, sess.ArchiveKey)
	if errors.Is(err, ErrNotRestored) {
		return Restoring, nil // S3's restore-completed event drives the thaw
	}
	return Aborted, err
}

// objects reads each job's output object from the bucket, the bytes the
// worker wrote (nil when it has none, or its object is gone).
func (s *Service) objects(ctx context.Context, jobs []job.Job) ([][]byte, error) {
	out := make([][]byte, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(OutputReads)
	for i, j := range jobs {
		if j.OutputKey == "" {
			continue
		}
		g.Go(func() error {
			b, err := s.get(gctx, j.OutputKey)
			var nsk *s3types.NoSuchKey
			if errors.As(err, &nsk) {
				return nil
			}
			out[i] = b
			return err
		})
	}
	return out, g.Wait()
}

func (s *Service) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer func() { _ = obj.Body.Close() }() // a body read to its end has nothing to report on close
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// write puts the archive object, unless a run that died wrote the same one.
func (s *Service) write(ctx context.Context, sess sessionstore.Session, body []byte, sum [sha256.Size]byte, jobs int) error {
	if s.verify(ctx, sess, int64(len(body)), sum) == nil {
		return nil
	}
	_, err := s.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.Bucket, Key: aws.String(sess.ArchiveKey), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(ContentType),
		StorageClass: s3types.StorageClass(sess.ArchiveClass), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Metadata: map[string]string{MetaSHA256: hex.EncodeToString(sum[:]), MetaJobs: strconv.Itoa(jobs)},
	})
	if err != nil {
		return fmt.Errorf("write archive %s: %w", sess.ArchiveKey, err)
	}
	return nil
}

// VerifyError says the archive object is not the one this run wrote.
type VerifyError struct{ Key, Reason string }

func (e *VerifyError) Error() string { return fmt.Sprintf("archive %s: %s", e.Key, e.Reason) }

// verify checks that the stored object is the archive: its size, storage
// class and SHA-256 (S3 checked the body against the checksum at upload).
func (s *Service) verify(ctx context.Context, sess sessionstore.Session, size int64, sum [sha256.Size]byte) error {
	head, err := s.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: aws.String(sess.ArchiveKey), ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		return fmt.Errorf("verify archive %s: %w", sess.ArchiveKey, err)
	}
	switch {
	case aws.ToInt64(head.ContentLength) != size:
		return &VerifyError{sess.ArchiveKey, fmt.Sprintf("%d bytes stored, %d written", aws.ToInt64(head.ContentLength), size)}
	case string(head.StorageClass) != sess.ArchiveClass:
		return &VerifyError{sess.ArchiveKey, fmt.Sprintf("storage class %q, want %q", head.StorageClass, sess.ArchiveClass)}
	case head.Metadata[MetaSHA256] != hex.EncodeToString(sum[:]):
		return &VerifyError{sess.ArchiveKey, "SHA-256 differs from the archive written"}
	case head.ChecksumSHA256 != nil && *head.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum[:]):
		return &VerifyError{sess.ArchiveKey, "S3's checksum differs from the archive written"}
	}
	return nil
}

// undo ends an unfinished archive: the object goes, the session is live.
func (s *Service) undo(ctx context.Context, sess sessionstore.Session) error {
	if _, err := s.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: aws.String(sess.ArchiveKey)}); err != nil {
		return fmt.Errorf("delete unfinished archive %s: %w", sess.ArchiveKey, err)
	}
	err := s.Store.AbortArchive(ctx, sess.User, sess.ID, sess.ArchiveKey)
	if errors.Is(err, sessionstore.ErrArchiveState) {
		return nil // another run undid it first
	}
	return err
}

// sweep deletes the session's archive objects other than keep. A run that
// claimed the archive, lost the claim to an upgrade's undo before it wrote,
// then wrote anyway leaves an object no session refers to: when it died
// after the write, or the user was free again and a later run archived
// under a new key. Nothing else would delete it before the bucket's expiry,
// and Glacier bills it meanwhile. It sweeps where the session is live for
// a premium user, or archived under keep with its drop done. At worst it
// deletes the object of a run that claimed after a downgrade since the
// tier was read: that run's verify fails, and its retry writes it again
// (live outputs go only after a verified archive).
func (s *Service) sweep(ctx context.Context, name, sid, keep string) error {
	_, err := s3prefix.DeleteExcept(ctx, s.S3, s.Bucket, strings.TrimSuffix(Key(name, sid, ""), Suffix), keep)
	return err
}

// Stub is what a job item keeps of an archived output: its graphError, so
// that result pages still say which jobs succeeded (FOQUS counts by it).
func Stub(output []byte) []byte {
	var o struct {
		GraphError json.RawMessage `json:"graphError"`
	}
	if json.Unmarshal(output, &o) != nil || o.GraphError == nil {
		return []byte(`{}`)
	}
	b, _ := json.Marshal(map[string]json.RawMessage{"graphError": o.GraphError})
	return b
}

// dropLive replaces each job's live output by its stub and deletes the
// output objects, while the session stays archived. outputs, when known,
// spare reading the objects again; a resumed run reads what is left.
func (s *Service) dropLive(ctx context.Context, sess sessionstore.Session, outputs [][]byte) error {
	jobs, err := s.Store.Jobs(ctx, sess.User, sess.ID)
	if err != nil {
		return err
	}
	if outputs == nil {
		if outputs, err = s.objects(ctx, jobs); err != nil {
			return err
		}
		for i, j := range jobs {
			if outputs[i] == nil && len(j.Output) > 0 {
				outputs[i] = j.Output
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sessionstore.WriteParallel)
	var keys []string
	for i, j := range jobs {
		if j.OutputKey != "" {
			keys = append(keys, j.OutputKey)
		}
		if outputs[i] == nil && j.OutputKey == "" {
			continue
		}
		stub := Stub(outputs[i])
		if j.OutputKey == "" && bytes.Equal(j.Output, stub) {
			continue // stripped by an earlier run
		}
		g.Go(func() error { return s.Store.SetOutput(gctx, j.Key(), stub, "") })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s3prefix.DeleteKeys(ctx, s.S3, s.Bucket, "live outputs of session "+sess.ID, keys)
}
