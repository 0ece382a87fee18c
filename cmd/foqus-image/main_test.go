package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/ami"
	"github.com/foqus-cloud/stack/core/mototest"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

var stages atomic.Int64

// deployed is a stage's service stack in moto: a real bucket and the
// outputs the CDK app declares (moto has no Image Builder: the pipeline ARN
// is the fake's).
type deployed struct {
	stage, bucket, pipeline string
	cfg                     aws.Config
	s3                      *s3.Client
	rec                     *recorder // when set, sees every request of the command
}

func deploy(t *testing.T) deployed {
	t.Helper()
	ctx := context.Background()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := deployed{stage: fmt.Sprintf("img%d", stages.Add(1)), cfg: cfg}
	d.bucket = "foqus-artifacts-" + d.stage
	d.pipeline = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/foqus-worker-" + d.stage
	tmpl := map[string]any{
		"Resources": map[string]any{"Artifacts": map[string]any{"Type": "AWS::S3::Bucket", "Properties": map[string]any{"BucketName": d.bucket}}},
		"Outputs": map[string]any{
			ami.OutputArtifactsBucket: map[string]any{"Value": map[string]any{"Ref": "Artifacts"}},
			ami.OutputPipelineARN:     map[string]any{"Value": d.pipeline},
		},
	}
	body, _ := json.Marshal(tmpl)
	cfn := cloudformation.NewFromConfig(cfg)
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(ami.ServiceStack(d.stage)), TemplateBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	d.s3 = newClients(cfg).S3
	return d
}

// imageBuilder is a wire-level Image Builder (REST-JSON, as the SDK speaks
// it): StartImagePipelineExecution and GetImage, with the image going
// through states; the real service's error shape for an unknown pipeline.
type imageBuilder struct {
	t        *testing.T
	pipeline string
	states   []map[string]any // GetImage answers in turn; the last repeats
	onStart  func()           // what the bake instance would see at start
	mu       sync.Mutex
	started  int
	gets     int
}

const buildARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/foqus-worker/1.0.1/1"

func (f *imageBuilder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "req-1")
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/StartImagePipelineExecution":
		var in struct{ ImagePipelineArn, ClientToken string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			f.t.Errorf("start body: %v", err)
		}
		if in.ImagePipelineArn != f.pipeline {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, `{"message":"The image pipeline %s does not exist."}`, in.ImagePipelineArn)
			return
		}
		if in.ClientToken == "" {
			f.t.Error("StartImagePipelineExecution without a client token")
		}
		f.started++
		if f.onStart != nil {
			f.onStart()
		}
		_, _ = fmt.Fprintf(w, `{"requestId":"req-1","clientToken":%q,"imageBuildVersionArn":%q}`, in.ClientToken, buildARN)
	case r.Method == http.MethodGet && r.URL.Path == "/GetImage":
		if got := r.URL.Query().Get("imageBuildVersionArn"); got != buildARN {
			f.t.Errorf("GetImage of %q", got)
		}
		st := f.states[min(f.gets, len(f.states)-1)]
		f.gets++
		_ = json.NewEncoder(w).Encode(map[string]any{"requestId": "req-1", "image": st})
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusBadRequest)
	}
}

func image(status, reason string, amis ...string) map[string]any {
	img := map[string]any{"arn": buildARN, "name": "foqus-worker", "state": map[string]any{"status": status, "reason": reason}}
	var out []map[string]any
	for _, a := range amis {
		out = append(out, map[string]any{"region": "us-east-1", "image": a, "accountId": "123456789012"})
	}
	if out != nil {
		img["outputResources"] = map[string]any{"amis": out}
	}
	return img
}

// recorder lists the S3 writes the command sends, in order.
type recorder struct {
	mu     sync.Mutex
	writes []string // "PUT key", "POST key?uploads", "PUT key?partNumber"
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut || req.Method == http.MethodPost {
		w := req.Method + " " + strings.TrimPrefix(req.URL.Path, "/")
		for _, q := range []string{"uploads", "partNumber", "uploadId"} {
			if req.URL.Query().Has(q) {
				w += "?" + q
				break
			}
		}
		r.mu.Lock()
		r.writes = append(r.writes, w)
		r.mu.Unlock()
	}
	return http.DefaultClient.Do(req)
}

// clientsFor: CloudFormation and S3 against moto, Image Builder against the fake.
func clientsFor(d deployed, ib *httptest.Server, called *atomic.Int32) func(context.Context, string) (Clients, error) {
	return func(context.Context, string) (Clients, error) {
		called.Add(1)
		cfg := d.cfg.Copy()
		if d.rec != nil {
			cfg.HTTPClient = d.rec
		}
		c := newClients(cfg)
		c.ImageBuilder = imagebuilder.NewFromConfig(d.cfg, func(o *imagebuilder.Options) { o.BaseEndpoint = aws.String(ib.URL) })
		return c, nil
	}
}

// installers writes every installer (one above the multipart part size),
// the worker and settings.json; it returns the directory, the worker and each
// key's SHA-256.
func installers(t *testing.T) (dir, worker string, sums map[string]string) {
	t.Helper()
	dir = t.TempDir()
	ins, err := ami.Installers()
	if err != nil {
		t.Fatal(err)
	}
	sums = map[string]string{}
	for i, in := range ins {
		size := 1000 + i
		if in.Key == "installers/aspenone-media.zip" {
			size = PartSize + 12345 // goes by multipart upload
		}
		b := make([]byte, size)
		_, _ = rand.Read(b)
		p := filepath.Join(dir, path.Base(in.Key))
		if in.KeyParameter == workerKeyParameter {
			p = filepath.Join(t.TempDir(), "foqus-worker.exe")
			worker = p
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		sums[in.Key] = hex.EncodeToString(s[:])
	}
	writeSettings(t, dir, `{"AspenSetupArguments": "/s /v\"/qn\"", "AspenLicenseServer": "slm.example.internal"}`)
	return dir, worker, sums
}

func writeSettings(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (d deployed) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := d.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer func() { _ = out.Body.Close() }()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (d deployed) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(d.s3, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// The whole path: every installer and the worker land under the keys the
// components download, the manifest (there when the pipeline starts) lists
// each one's SHA-256 and the settings, the build is followed state by state
// and the AMI id is the only thing on stdout.
func TestBakeUploadsVerifiesStartsAndPrintsTheAMI(t *testing.T) {
	t.Parallel()
	d := deploy(t)
	d.rec = &recorder{}
	dir, worker, sums := installers(t)
	var atStart ami.Manifest
	fake := &imageBuilder{t: t, pipeline: d.pipeline, states: []map[string]any{
		image("PENDING", ""), image("BUILDING", ""), image("BUILDING", ""), image("TESTING", ""), image("DISTRIBUTING", ""),
		image("AVAILABLE", "", "ami-0123456789abcdef0"),
	}}
	fake.onStart = func() {
		if err := json.Unmarshal(d.get(t, ami.ManifestKey), &atStart); err != nil {
			t.Errorf("manifest at start: %v", err)
		}
		for key, sum := range atStart.Files {
			got := sha256.Sum256(d.get(t, key))
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("%s in the bucket does not match the manifest", key)
			}
		}
	}
	ib := httptest.NewServer(fake)
	defer ib.Close()
	var called atomic.Int32
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-stage", d.stage, "-installers", dir, "-worker", worker, "-poll", "5ms"}, &stdout, &stderr, clientsFor(d, ib, &called))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if stdout.String() != "ami-0123456789abcdef0\n" {
		t.Errorf("stdout %q, want the AMI id alone", stdout.String())
	}
	if fake.started != 1 || fake.gets != 6 {
		t.Errorf("%d starts, %d GetImage calls; want 1 and 6", fake.started, fake.gets)
	}
	if len(atStart.Files) != len(sums) {
		t.Fatalf("manifest at start lists %d files, want %d", len(atStart.Files), len(sums))
	}
	for key, sum := range sums {
		if atStart.Files[key] != sum {
			t.Errorf("manifest %s = %s, want %s", key, atStart.Files[key], sum)
		}
		got := sha256.Sum256(d.get(t, key))
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("object %s differs from the local file", key)
		}
	}
	if atStart.Settings["AspenSetupArguments"] != `/s /v"/qn"` || atStart.Settings["AspenLicenseServer"] != "slm.example.internal" {
		t.Errorf("settings %v", atStart.Settings)
	}
	if err := atStart.Check(); err != nil {
		t.Errorf("the manifest would fail the bake: %v", err)
	}
	// Plain lines when not a terminal: each upload, each state once.
	log := stderr.String()
	for _, want := range []string{"uploaded installers/aspenone-media.zip (16789561 bytes, sha256 " + sums["installers/aspenone-media.zip"] + ")",
		"wrote s3://" + d.bucket + "/" + ami.ManifestKey + " (6 files)", "started " + buildARN,
		"image PENDING", "image BUILDING", "image TESTING", "image DISTRIBUTING", "image AVAILABLE"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	// The media went in parts; the manifest is the last write.
	media := d.bucket + "/installers/aspenone-media.zip"
	w := strings.Join(d.rec.writes, "\n")
	if !strings.Contains(w, "POST "+media+"?uploads") || strings.Count(w, "PUT "+media+"?partNumber") != 2 || !strings.Contains(w, "POST "+media+"?uploadId") {
		t.Errorf("the media was not a two-part multipart upload:\n%s", w)
	}
	if last := d.rec.writes[len(d.rec.writes)-1]; last != "PUT "+d.bucket+"/"+ami.ManifestKey {
		t.Errorf("last write %q, want the manifest:\n%s", last, w)
	}
	if n := strings.Count(w, "PUT "+d.bucket+"/"+ami.ManifestKey); n != 1 {
		t.Errorf("%d manifest writes", n)
	}
	if n := strings.Count(log, "image BUILDING"); n != 1 {
		t.Errorf("BUILDING shown %d times, want once per change", n)
	}
}

// A failed build: its reason on stderr, a non-zero exit, a *BuildError.
func TestFailedBuildPrintsItsReason(t *testing.T) {
	t.Parallel()
	d := deploy(t)
	dir, worker, _ := installers(t)
	reason := "Image Builder: component foqus-aspen step VerifyAspenMedia failed: SHA256 mismatch"
	fake := &imageBuilder{t: t, pipeline: d.pipeline, states: []map[string]any{image("BUILDING", ""), image("FAILED", reason)}}
	ib := httptest.NewServer(fake)
	defer ib.Close()
	var called atomic.Int32
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-stage", d.stage, "-installers", dir, "-worker", worker, "-poll", "5ms"}, &stdout, &stderr, clientsFor(d, ib, &called))
	if code != exitError || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q; want %d and nothing", code, stdout.String(), exitError)
	}
	if !strings.Contains(stderr.String(), "FAILED: "+reason) || !strings.Contains(stderr.String(), "image "+buildARN+" FAILED: "+reason) {
		t.Errorf("stderr lacks the reason:\n%s", stderr.String())
	}
	// The same build through bake: the error is typed.
	fake.gets = 0
	err := bake(context.Background(), options{stage: d.stage, installers: dir, worker: worker, poll: time.Millisecond}, io.Discard, io.Discard, clientsFor(d, ib, &called))
	var be *BuildError
	if !errors.As(err, &be) || be.Status != "FAILED" || be.Reason != reason || be.Image != buildARN {
		t.Errorf("bake: %v, want a *BuildError FAILED with the reason", err)
	}
}

// Missing installers, worker and settings are all named, before any AWS call
// and before anything is uploaded.
func TestMissingInstallersFailBeforeUploading(t *testing.T) {
	t.Parallel()
	d := deploy(t)
	dir, worker, _ := installers(t)
	for _, f := range []string{"TurbineLite.msi", "aspenone-media.zip", SettingsFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	fake := &imageBuilder{t: t, pipeline: d.pipeline, states: []map[string]any{image("AVAILABLE", "", "ami-1")}}
	ib := httptest.NewServer(fake)
	defer ib.Close()
	var called atomic.Int32
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-stage", d.stage, "-installers", dir, "-worker", worker + ".missing"}, &stdout, &stderr, clientsFor(d, ib, &called))
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	for _, want := range []string{"installers missing from " + dir + ": TurbineLite.msi, aspenone-media.zip",
		"worker " + worker + ".missing not found: make build builds it", SettingsFile + " not found", "AspenLicenseServer, AspenSetupArguments", "nothing was uploaded"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if called.Load() != 0 || fake.started != 0 {
		t.Errorf("AWS clients made %d times, pipeline started %d times", called.Load(), fake.started)
	}
	if keys := d.keys(t); len(keys) != 0 {
		t.Errorf("uploaded %v", keys)
	}
	// A settings file naming a setting that does not exist.
	writeSettings(t, dir, `{"AspenSetupArguments": "/s", "AspenLicenseServer": "slm", "AspenLicenceServer": "slm"}`)
	if _, _, err := collect(dir, worker); err == nil || !strings.Contains(err.Error(), `"AspenLicenceServer" is not a setting`) {
		t.Errorf("collect with an unknown setting: %v", err)
	}
}

// A stage that is not deployed, and a pipeline Image Builder does not know.
func TestUndeployedStageAndUnknownPipeline(t *testing.T) {
	t.Parallel()
	d := deploy(t)
	dir, worker, _ := installers(t)
	fake := &imageBuilder{t: t, pipeline: "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/other", states: []map[string]any{image("AVAILABLE", "", "ami-1")}}
	ib := httptest.NewServer(fake)
	defer ib.Close()
	var called atomic.Int32
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-stage", "nosuch", "-installers", dir, "-worker", worker}, io.Discard, &stderr, clientsFor(d, ib, &called)); code != exitError ||
		!strings.Contains(stderr.String(), "stage nosuch is not deployed here: no stack foqus-service-nosuch") || !strings.Contains(stderr.String(), "make deploy STAGE=nosuch") {
		t.Errorf("undeployed stage: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-stage", d.stage, "-installers", dir, "-worker", worker}, io.Discard, &stderr, clientsFor(d, ib, &called)); code != exitError ||
		!strings.Contains(stderr.String(), "start pipeline "+d.pipeline) || !strings.Contains(stderr.String(), "ResourceNotFoundException") || !strings.Contains(stderr.String(), "does not exist") {
		t.Errorf("unknown pipeline: exit %d\n%s", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"-stage", "dev"}, {"-installers", "x"}, {"-stage", "dev", "-installers", "x", "extra"}, {"-nosuch"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr, nil); code != exitUsage || !strings.Contains(stderr.String(), "usage: foqus-image") {
			t.Errorf("%q: exit %d\n%s", args, code, stderr.String())
		}
	}
}
