package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var stack = resource.WorkerConfig{
	Stage: "dev", Region: "us-east-1", JobQueueURL: "http://q/jobs", UpdateTopicARN: "arn:aws:sns:us-east-1:1:upd",
	ResourcesTable: "FOQUS_Resources-dev", SessionBucket: "sess", SimulationBucket: "sims",
	RetentionDays: 14, DrainHookSeconds: 600,
}

func TestParseFlagsOverEnvOverDefaults(t *testing.T) {
	t.Parallel()
	s, err := Parse([]string{"--lease", "30s", "--concurrency", "2", "--keep-work"}, env(map[string]string{
		resource.EnvJobQueueURL: "http://q/env", envPrefix + "LEASE": "1m", envPrefix + "EXTEND_EVERY": "5s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Lease != 30*time.Second || s.ExtendEvery != 5*time.Second || s.Concurrency != 2 || !s.KeepWork ||
		s.Stack.JobQueueURL != "http://q/env" || s.Wait != DefaultWait || s.JobTimeout != DefaultJobTimeout || !s.Metrics {
		t.Fatalf("settings %+v", s)
	}
	var ue *UsageError
	_, err = Parse([]string{"--lease", "soon", "extra"}, env(map[string]string{envPrefix + "CONCURRENCY": "many"}))
	if !errors.As(err, &ue) || len(ue.Problems) != 3 {
		t.Fatalf("bad settings: %v, want 3 problems", err)
	}
	if _, err := Parse([]string{"--help"}, env(nil)); !errors.Is(err, ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}

func TestValidateNamesEveryMissingStackSetting(t *testing.T) {
	t.Parallel()
	s, _ := Parse(nil, env(nil))
	s.Lease, s.ExtendEvery = time.Second, 2*time.Second
	var ue *UsageError
	if err := s.Validate(); !errors.As(err, &ue) || len(ue.Problems) != 7 {
		t.Fatalf("Validate = %v, want five missing names, the retention and the lease problem", err)
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	var s Settings
	for _, x := range settings(&s) {
		if !strings.Contains(b.String(), "--"+x.name+"  ["+x.env+"]") {
			t.Errorf("usage lacks --%s [%s]", x.name, x.env)
		}
	}
}

func TestResolveFromFileAndSSM(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	ctx := context.Background()
	raw, _ := json.Marshal(stack)
	path := filepath.Join(t.TempDir(), "worker.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := Parse([]string{"--session-bucket", "mine", "--retention-days", "3"}, env(nil))
	got, err := Resolve(ctx, "file:"+path, s, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := stack
	want.SessionBucket, want.RetentionDays = "mine", 3 // flags win over the source
	if got.Stack != want || got.IMDSPoll != 0 || got.Instance == "" {
		t.Fatalf("from file: %+v", got)
	}

	name := "/foqus/dev/worker/config"
	if _, err := ssm.NewFromConfig(st.Config).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(string(raw)), Type: "String", Overwrite: aws.Bool(true), // the server is shared by the package's tests
	}); err != nil {
		t.Fatal(err)
	}
	s, _ = Parse(nil, env(nil))
	if got, err = Resolve(ctx, "ssm:"+name, s, st.Config); err != nil || got.Stack != stack {
		t.Fatalf("from SSM: %+v, %v", got.Stack, err)
	}
	var se *SourceError
	if _, err := Resolve(ctx, "ssm:/foqus/none/worker/config", s, st.Config); !errors.As(err, &se) {
		t.Fatalf("missing parameter: %v, want a SourceError", err)
	}
}

// On EC2: instance id, region and stage tag from IMDSv2 (a local stand-in
// for the metadata service that insists on the session token), then the
// stage's SSM parameter from moto.
func TestResolveFromIMDS(t *testing.T) {
	st := srv.Stack(t)
	ctx := context.Background()
	raw, _ := json.Marshal(stack)
	if _, err := ssm.NewFromConfig(st.Config).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/foqus/dev/worker/config"), Value: aws.String(string(raw)), Type: "String", Overwrite: aws.Bool(true), // the server is shared by the package's tests
	}); err != nil {
		t.Fatal(err)
	}
	var untagged atomic.Bool // an image build/test instance: no stage tag
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			_, _ = w.Write([]byte("tok"))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		v, ok := map[string]string{
			"/latest/meta-data/instance-id": "i-0abc", "/latest/meta-data/placement/region": "us-east-1",
			"/latest/meta-data/tags/instance/" + resource.TagStage: "dev",
		}[r.URL.Path]
		if !ok || untagged.Load() && strings.HasSuffix(r.URL.Path, resource.TagStage) {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(v))
	}))
	defer meta.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", meta.URL) // read when the SDK config loads, as on EC2
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region = "" // IMDS tells the region
	s, _ := Parse(nil, env(nil))
	got, err := Resolve(ctx, "imds", s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != stack || got.Instance != "i-0abc" || got.IMDSPoll != DefaultIMDSPoll {
		t.Fatalf("from IMDS: %+v", got)
	}
	untagged.Store(true)
	if _, err := Resolve(ctx, "imds", s, cfg); !errors.Is(err, ErrNoStage) {
		t.Fatalf("untagged instance: %v, want ErrNoStage", err)
	}
}
