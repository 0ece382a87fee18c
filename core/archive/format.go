package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
)

// Format names the archive object format: gzip of JSON lines, a Header then
// one Entry per job in append order. One object per session, because
// Glacier bills a per-object overhead and a 90-day minimum (GAS archived
// every file apart).
const (
	Format        = "foqus-session-archive"
	FormatVersion = 1
	ContentType   = "application/x-ndjson"
	Encoding      = "gzip"
)

// Header is the first line of an archive.
type Header struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	User    string    `json:"user"`
	Session string    `json:"session"`
	Jobs    int       `json:"jobs"`
	Created time.Time `json:"created"`
}

// Entry is one job's record and output. Output holds the exact bytes the
// worker wrote: the bucket object under OutputKey when there was one, else
// the job item's copy (OutputB64 when they are not UTF-8 text, which JSON
// strings cannot carry byte-exact). Inline says the job item held a copy
// too; InlineOutput is that copy when it differs (the item's is compacted).
type Entry struct {
	ID           string    `json:"id"`
	Seq          int64     `json:"seq"`
	State        job.State `json:"state"`
	Message      string    `json:"message,omitempty"`
	Application  string    `json:"application"`
	Simulation   string    `json:"simulation"`
	Input        string    `json:"input"`
	Created      time.Time `json:"created"`
	Finished     time.Time `json:"finished"`
	FinishSeq    int64     `json:"finishSeq"`
	Consumer     string    `json:"consumer,omitempty"`
	Inline       bool      `json:"inline,omitempty"`
	OutputKey    string    `json:"outputKey,omitempty"`
	Output       string    `json:"output,omitempty"`
	OutputB64    []byte    `json:"outputB64,omitempty"`
	HasOutput    bool      `json:"hasOutput,omitempty"`
	InlineOutput string    `json:"inlineOutput,omitempty"`
}

// NewEntry records j with its output: object, the bytes of its bucket
// object (nil when it has none), and the job item's inline copy.
func NewEntry(j job.Job, object []byte) Entry {
	output := object
	if output == nil && len(j.Output) > 0 {
		output = j.Output
	}
	e := Entry{
		ID: j.ID, Seq: j.Seq, State: j.State, Message: j.Message, Application: j.Application, Simulation: j.Simulation,
		Input: string(j.Input), Created: j.Created, Finished: j.Finished, FinishSeq: j.FinishSeq, Consumer: j.Consumer,
		Inline: len(j.Output) > 0, OutputKey: j.OutputKey, HasOutput: output != nil,
	}
	if utf8.Valid(output) {
		e.Output = string(output)
	} else {
		e.OutputB64 = output
	}
	if e.Inline && !bytes.Equal(j.Output, output) {
		e.InlineOutput = string(j.Output)
	}
	return e
}

// InlineBytes is the job item's copy of the output; nil when it had none.
func (e Entry) InlineBytes() []byte {
	switch {
	case !e.Inline:
		return nil
	case e.InlineOutput != "":
		return []byte(e.InlineOutput)
	}
	return e.OutputBytes()
}

// OutputBytes is the output exactly as it was written; nil when there was none.
func (e Entry) OutputBytes() []byte {
	switch {
	case !e.HasOutput:
		return nil
	case e.OutputB64 != nil:
		return e.OutputB64
	}
	return []byte(e.Output)
}

// Key is where the archive of a session lives in the session bucket: in the
// user's own prefix, one key per archive run (id), so a late step of an old
// run never touches a newer archive.
func Key(user, sid, id string) string {
	return objectkey.UserPrefix(user) + Prefix + sid + "/" + id + Suffix
}

// Prefix follows a user's prefix in every archive key.
const Prefix = "archive/"

// Suffix ends every archive key (the restore rule matches on it).
const Suffix = ".ndjson.gz"

// DetailRestoreCompleted is the EventBridge detail type of S3's finished
// restore: the restore rule's pattern and what thaw parses.
const DetailRestoreCompleted = "Object Restore Completed"

// ErrNotArchiveKey is a key that is not an archive's.
var ErrNotArchiveKey = errors.New("not an archive key")

// ParseKey returns the user and session of an archive key, refusing keys
// that Key cannot have made.
func ParseKey(key string) (user, sid string, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[1] != "archive" || !strings.HasSuffix(parts[3], Suffix) {
		return "", "", fmt.Errorf("%q: %w", key, ErrNotArchiveKey)
	}
	user, sid = parts[0], parts[2]
	if objectkey.User(user) != nil || objectkey.ID(sid) != nil || objectkey.ID(strings.TrimSuffix(parts[3], Suffix)) != nil {
		return "", "", fmt.Errorf("%q: %w", key, ErrNotArchiveKey)
	}
	return user, sid, nil
}

// Encode writes the archive of h and entries to w and returns the SHA-256
// of the bytes written.
func Encode(w io.Writer, h Header, entries []Entry) ([sha256.Size]byte, error) {
	sum := sha256.New()
	zw, err := gzip.NewWriterLevel(io.MultiWriter(w, sum), gzip.BestCompression)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h.Format, h.Version, h.Jobs = Format, FormatVersion, len(entries)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return [sha256.Size]byte{}, err
	}
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return [sha256.Size]byte{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return [sha256.Size]byte{}, err
	}
	var out [sha256.Size]byte
	copy(out[:], sum.Sum(nil))
	return out, nil
}

// MaxLine bounds one line of an archive (a job's output is at most what the
// worker may write; 64 MiB leaves room for escaping).
const MaxLine = 64 << 20

// Decode reads an archive, checking its format and job count.
func Decode(r io.Reader) (Header, []Entry, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return Header{}, nil, fmt.Errorf("archive: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	var h Header
	if !sc.Scan() {
		return Header{}, nil, fmt.Errorf("archive: no header: %w", errors.Join(sc.Err(), io.ErrUnexpectedEOF))
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != Format || h.Version != FormatVersion {
		return Header{}, nil, fmt.Errorf("archive: header is not %s version %d", Format, FormatVersion)
	}
	entries := make([]Entry, 0, h.Jobs)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return Header{}, nil, fmt.Errorf("archive: entry %d: %w", len(entries), err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return Header{}, nil, fmt.Errorf("archive: %w", err)
	}
	if len(entries) != h.Jobs {
		return Header{}, nil, fmt.Errorf("archive: %d entries, header says %d", len(entries), h.Jobs)
	}
	return h, entries, nil
}
