package archive_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/archive"
)

// s3Error is S3's error body, as it answers RestoreObject.
func s3Error(code, msg string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>` + msg + `</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>`
}

// fakeS3 answers each RestoreObject with the next of answers (status, body)
// and records the tier each request asked for.
type fakeS3 struct {
	mu      sync.Mutex
	answers [][2]any
	tiers   []string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.URL.Query()["restore"]; !ok || r.Method != http.MethodPost {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	tier := string(b)
	if i := strings.Index(tier, "<Tier>"); i >= 0 {
		tier = tier[i+6 : i+6+strings.Index(tier[i+6:], "<")]
	}
	f.tiers = append(f.tiers, tier)
	a := f.answers[0]
	f.answers = f.answers[1:]
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(a[0].(int))
	_, _ = io.WriteString(w, a[1].(string))
}

func restoreService(t *testing.T, f *fakeS3, tier s3types.Tier) *archive.Service {
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		Retryer:     aws.NopRetryer{}, // each answer is seen once, as a retry would see it
	})
	set := archive.DefaultSettings()
	set.RestoreTier = tier
	return &archive.Service{S3: c, Bucket: "b", Settings: set}
}

func TestRestoreFallsBackFromExpeditedOn503(t *testing.T) {
	t.Parallel()
	f := &fakeS3{answers: [][2]any{
		{http.StatusServiceUnavailable, s3Error(archive.CodeExpeditedUnavailable, "Glacier expedited retrievals are currently not available, please try again later")},
		{http.StatusAccepted, ""},
	}}
	r, err := restoreService(t, f, s3types.TierExpedited).RequestRestore(context.Background(), "u/archive/s/a.ndjson.gz", s3types.StorageClassGlacier)
	if err != nil || r.Tier != s3types.TierStandard || !r.FellBack || r.InProgress {
		t.Fatalf("restore: %+v, %v", r, err)
	}
	if strings.Join(f.tiers, ",") != "Expedited,Standard" {
		t.Fatalf("tiers asked: %v", f.tiers)
	}
}

func TestRestoreAlreadyInProgressIsInProgress(t *testing.T) {
	t.Parallel()
	f := &fakeS3{answers: [][2]any{{http.StatusConflict, s3Error(archive.CodeRestoreInProgress, "Object restore is already in progress")}}}
	r, err := restoreService(t, f, s3types.TierStandard).RequestRestore(context.Background(), "u/archive/s/a.ndjson.gz", s3types.StorageClassGlacier)
	if err != nil || !r.InProgress || r.Tier != s3types.TierStandard {
		t.Fatalf("restore: %+v, %v", r, err)
	}
}

func TestRestoreOfDeepArchiveNeverAsksExpedited(t *testing.T) {
	t.Parallel()
	f := &fakeS3{answers: [][2]any{{http.StatusAccepted, ""}}}
	r, err := restoreService(t, f, s3types.TierExpedited).RequestRestore(context.Background(), "u/archive/s/a.ndjson.gz", s3types.StorageClassDeepArchive)
	if err != nil || r.Tier != s3types.TierStandard || f.tiers[0] != "Standard" {
		t.Fatalf("restore: %+v, %v, asked %v", r, err, f.tiers)
	}
}

func TestRestoreOtherErrorsFail(t *testing.T) {
	t.Parallel()
	f := &fakeS3{answers: [][2]any{{http.StatusForbidden, s3Error("InvalidObjectState", "Restore is not allowed for the object's current storage class")}}}
	_, err := restoreService(t, f, s3types.TierStandard).RequestRestore(context.Background(), "u/archive/s/a.ndjson.gz", s3types.StorageClassGlacier)
	if err == nil || !strings.Contains(err.Error(), "InvalidObjectState") {
		t.Fatalf("restore: %v", err)
	}
}

func TestDelayHopsAtMost900Seconds(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		due  time.Duration
		want int32
	}{{-time.Second, 0}, {0, 0}, {1500 * time.Millisecond, 2}, {10 * time.Minute, 600}, {15 * time.Minute, 900}, {3 * time.Hour, 900}} {
		if got := archive.Delay(now, now.Add(c.due)); got != c.want {
			t.Errorf("Delay(%s) = %d, want %d", c.due, got, c.want)
		}
	}
}

func TestNoticesAndKeysAreValidated(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`nope`, `{"user":"../x","session":"0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11","finished":1}`,
		`{"user":"a","session":"not-a-uuid","finished":1}`, `{"user":"a","session":"0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11"}`} {
		if _, err := archive.DecodeNotice(bad); err == nil {
			t.Errorf("DecodeNotice(%s) accepted", bad)
		}
	}
	k := archive.Key("alice", "0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11", "5d6f0e8a-7b3c-4d2e-9f1a-0c8b7a6e5d4c")
	if u, s, err := archive.ParseKey(k); err != nil || u != "alice" || s != "0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11" {
		t.Fatalf("ParseKey(%s) = %s %s %v", k, u, s, err)
	}
	for _, bad := range []string{"alice/session/x/job/y/output.json", "alice/archive/../x.ndjson.gz", "alice/archive/0b4c6f3e-6e1e-4c8e-9b7e-2f0a5c1d9e11/x.ndjson.gz"} {
		if _, _, err := archive.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%s) accepted", bad)
		}
	}
}

func TestSettingsRefuseWhatTheLifecycleCannotRun(t *testing.T) {
	t.Parallel()
	s, err := archive.SettingsFromEnv(map[string]string{})
	if err != nil || s != archive.DefaultSettings() {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	for _, env := range []map[string]string{
		{"FOQUS_ARCHIVE_STORAGE_CLASS": "STANDARD"}, {"FOQUS_RESTORE_TIER": "Fast"},
		{"FOQUS_FREE_WINDOW_SECONDS": "0"}, {"FOQUS_FREE_WINDOW_SECONDS": "ten"}, {"FOQUS_FREE_JOB_LIMIT": "0"},
	} {
		if _, err := archive.SettingsFromEnv(env); err == nil {
			t.Errorf("SettingsFromEnv(%v) accepted", env)
		}
	}
	back, err := archive.SettingsFromEnv(s.Env())
	if err != nil || back != s {
		t.Fatalf("Env round trip: %+v, %v", back, err)
	}
}
