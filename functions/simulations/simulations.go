// Package simulations serves the simulation routes (spec R1, R13-R18): a
// user's simulations are folders "<user>/<name>/" of the simulation bucket,
// always with the trailing slash (the original's prefix without it showed
// user bob the simulations of bobby), listed page by page.
package simulations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Service holds what the simulation routes use.
type Service struct {
	S3      *s3.Client
	Presign *s3.PresignClient
	Bucket  string
}

// Limits of file transfer through the API. Larger files go through signed
// URLs: a GET of a larger file answers 302 to one.
const (
	SignedURLExpiry = 120 * time.Second
	MaxInputBody    = 4 << 20 // under lambdaevent.MaxBody: API Gateway hands the body base64-encoded
	MaxInlineFile   = 4 << 20 // base64 makes it about 5.3 MB, under Lambda's 6 MB response
	Configuration   = "configuration"
)

// Application is one element of GET /application (R1).
type Application struct {
	Name   string   `json:"Name"`
	Inputs []string `json:"Inputs"`
}

// Applications are the original's three plus the two it ran without
// listing them. FOQUS checks a model's application against these names
// case-sensitively (turbineConfiguration.py uploadSimulation, error 308), so
// they are spelled as FOQUS spells them.
var Applications = []Application{
	{"foqus", []string{"flowsheet"}},
	{"AspenPlus", []string{"aspenfile"}},
	{"ACM", []string{"aspenfile"}},
	{"fake-job", []string{}},
	{"FOQUS-User-Plugin", []string{"plugin"}},
}

// ListApplications answers R1.
func ListApplications(context.Context, events.APIGatewayProxyRequest, string) (events.APIGatewayProxyResponse, error) {
	return httpx.JSON(http.StatusOK, Applications)
}

// StagedInput names one file of a simulation by its full key, as the original did.
type StagedInput struct {
	Name string `json:"Name"`
}

// Simulation is an element of R13 and the body of R14.
type Simulation struct {
	Name         string        `json:"Name"`
	Application  string        `json:"Application"`
	StagedInputs []StagedInput `json:"StagedInputs"`
}

// folder is what a listing found of one simulation.
type folder struct {
	marker string   // first marker found, in markers order
	keys   []string // every key but meta.json
	top    map[string]bool
}

func (f *folder) add(key, rel string) {
	if rel != MetaFile {
		f.keys = append(f.keys, key)
	}
	if !strings.Contains(rel, "/") {
		f.top[rel] = true
	}
}

func (f *folder) finish() {
	for _, m := range markers {
		if f.top[m.File] {
			f.marker = m.File
			return
		}
	}
}

// list reads every key under prefix, page by page.
func (s *Service) list(ctx context.Context, prefix string, visit func(key string)) error {
	p := s3.NewListObjectsV2Paginator(s.S3, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			visit(aws.ToString(o.Key))
		}
	}
	return nil
}

// simulation reads one simulation's folder; ErrNoSimulation when it has no marker.
func (s *Service) simulation(ctx context.Context, user, name string) (*folder, error) {
	if err := objectkey.Simulation(name); err != nil {
		return nil, err
	}
	prefix := objectkey.SimulationPrefix(user, name)
	f := &folder{top: map[string]bool{}}
	if err := s.list(ctx, prefix, func(key string) { f.add(key, strings.TrimPrefix(key, prefix)) }); err != nil {
		return nil, err
	}
	f.finish()
	if f.marker == "" {
		return nil, httpx.Errorf(http.StatusNotFound, "no simulation %s", name)
	}
	return f, nil
}

// List answers the user's simulations (R13), their staged inputs only when
// the query has verbose.
func (s *Service) List(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	_, verbose := httpx.Query(req, "verbose")
	prefix := objectkey.UserPrefix(user)
	folders := map[string]*folder{}
	err := s.list(ctx, prefix, func(key string) {
		name, rel, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		if !ok || rel == "" {
			return
		}
		f := folders[name]
		if f == nil {
			f = &folder{top: map[string]bool{}}
			folders[name] = f
		}
		f.add(key, rel)
	})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	out := []Simulation{}
	for name, f := range folders {
		if f.finish(); f.marker == "" {
			continue
		}
		sim := Simulation{Name: name, Application: applicationOf(f.marker), StagedInputs: []StagedInput{}}
		if verbose {
			sim.StagedInputs = staged(f)
		}
		out = append(out, sim)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return httpx.JSON(http.StatusOK, out)
}

func staged(f *folder) []StagedInput {
	in := make([]StagedInput, len(f.keys))
	for i, k := range f.keys {
		in[i] = StagedInput{Name: k}
	}
	return in
}

// InputsResource is the route of a simulation's input list, served by the
// function of GET /simulation/{name} (same reads, same grants).
const InputsResource = "/simulation/{name}/input"

// Get answers one simulation with its staged inputs (R14), or on
// InputsResource the staged inputs alone.
func (s *Service) Get(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	if req.Resource == InputsResource {
		return s.ListInputs(ctx, req, user)
	}
	name := req.PathParameters["name"]
	f, err := s.simulation(ctx, user, name)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, Simulation{Name: name, Application: applicationOf(f.marker), StagedInputs: staged(f)})
}

// Put creates a simulation (R15): the body becomes meta.json, and the
// application's marker is written when the simulation has none. A
// simulation of another application is not changed (409). The answer echoes
// the body, as the client expects.
func (s *Service) Put(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	name := req.PathParameters["name"]
	if err := objectkey.Simulation(name); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	body, err := httpx.LimitedBody(req, MaxMetaBody)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	marker, err := ParseSimulation(body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	f, err := s.simulation(ctx, user, name)
	var he *httpx.Error
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		f = nil
	case err != nil:
		return events.APIGatewayProxyResponse{}, err
	case f.marker != marker:
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusConflict, "simulation %s exists with application %s", name, applicationOf(f.marker))
	}
	if err := s.put(ctx, objectkey.SimulationFile(user, name, MetaFile), body, "application/json"); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if f == nil {
		if err := s.put(ctx, objectkey.SimulationFile(user, name, marker), []byte("{}"), "application/json"); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
	}
	return httpx.Raw(http.StatusOK, "application/json", string(body)), nil
}

func (s *Service) put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := s.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, Body: bytes.NewReader(body), ContentType: &contentType})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// input validates {name} and {path} of an input route and returns the
// simulation's folder: inputs belong to an existing simulation. The
// simulation's own files (meta.json, the markers that hold the
// configuration) are reached only as "configuration", never by their names,
// in any case (Windows would stage "META.JSON" over meta.json).
func (s *Service) input(ctx context.Context, req events.APIGatewayProxyRequest, user string) (name, path string, f *folder, err error) {
	name, path = req.PathParameters["name"], req.PathParameters["path"]
	if path != Configuration {
		if err := objectkey.InputPath(path); err != nil {
			return "", "", nil, err
		}
		if reserved(path) {
			return "", "", nil, httpx.Errorf(http.StatusBadRequest, "%s is reserved for the simulation's own files; the configuration is input/configuration", path)
		}
	}
	f, err = s.simulation(ctx, user, name)
	return name, path, f, err
}

func reserved(path string) bool {
	if strings.EqualFold(path, MetaFile) {
		return true
	}
	for _, m := range markers {
		if strings.EqualFold(path, m.File) {
			return true
		}
	}
	return false
}

// caseTwin finds a staged file or folder whose path differs from path only
// by case: one file on the worker's Windows disk, so a second upload is
// refused rather than overwriting the first there.
func (f *folder) caseTwin(prefix, path string) (string, bool) {
	want := strings.Split(path, "/")
	for _, k := range f.keys {
		have := strings.Split(strings.TrimPrefix(k, prefix), "/")
		for i := 0; i < len(want) && i < len(have); i++ {
			if want[i] == have[i] {
				continue
			}
			if strings.EqualFold(want[i], have[i]) {
				return strings.Join(have[:i+1], "/"), true
			}
			break
		}
	}
	return "", false
}

func (f *folder) refuseCaseTwin(user, name, path string) error {
	if twin, ok := f.caseTwin(objectkey.SimulationPrefix(user, name), path); ok {
		return httpx.Errorf(http.StatusConflict, "%s differs only by case from the staged %s (one file on Windows)", path, twin)
	}
	return nil
}

// ListInputs answers a simulation's staged inputs (GET
// /simulation/{name}/input, which FOQUS sends as /simulation//{name}/input).
func (s *Service) ListInputs(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	f, err := s.simulation(ctx, user, req.PathParameters["name"])
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, staged(f))
}

// PutInput stores an input (R17): the configuration under the marker its
// content names, any other path verbatim. Signed uploads go through POST.
func (s *Service) PutInput(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	if _, ok := httpx.Query(req, "SignedUrl"); ok {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusBadRequest, "signed uploads: POST with ?method=putObject")
	}
	name, path, f, err := s.input(ctx, req, user)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if path != Configuration {
		if err := f.refuseCaseTwin(user, name, path); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
	}
	body, err := httpx.LimitedBody(req, MaxInputBody)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	key, contentType := objectkey.SimulationFile(user, name, path), "application/octet-stream"
	if path == Configuration {
		marker, err := Classify(body)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		key, contentType = objectkey.SimulationFile(user, name, marker), "application/json"
	}
	if err := s.put(ctx, key, body, contentType); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.Raw(http.StatusOK, "application/octet-stream", ""), nil
}

// GetInput answers an input file (R16): its content, or with ?SignedUrl=true
// (and for files too large to answer) 302 to a signed GET. The
// configuration is the simulation's marker file, never signed (406).
func (s *Service) GetInput(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	name, path, f, err := s.input(ctx, req, user)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	signed, _ := httpx.Query(req, "SignedUrl")
	signed = strings.ToLower(signed)
	if path == Configuration {
		if signed == "true" {
			return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusNotAcceptable, "the configuration is not available through a signed URL")
		}
		path = f.marker
	}
	key := objectkey.SimulationFile(user, name, path)
	if signed == "true" {
		if !f.has(key) {
			return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusNotFound, "No such file: %s", path)
		}
		return s.redirect(ctx, key)
	}
	obj, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusNotFound, "No such file: %s", path)
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("get %s: %w", key, err)
	}
	defer func() { _ = obj.Body.Close() }() // a read body has nothing left to report on close
	if aws.ToInt64(obj.ContentLength) > MaxInlineFile {
		return s.redirect(ctx, key)
	}
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("get %s: %w", key, err)
	}
	return httpx.Binary(b), nil
}

func (f *folder) has(key string) bool {
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	return false
}

func (s *Service) redirect(ctx context.Context, key string) (events.APIGatewayProxyResponse, error) {
	u, err := s.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key}, s3.WithPresignExpires(SignedURLExpiry))
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("sign GET %s: %w", key, err)
	}
	return httpx.Redirect(u.URL), nil
}

// SignedURL answers 302 to a signed putObject or getObject URL of an input
// (R18), valid 120 s; uploads are signed for Content-Type application/json,
// as the client sends them. The configuration goes through PUT (it is
// classified), so it is not signed for upload.
func (s *Service) SignedURL(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	method, _ := httpx.Query(req, "method")
	if method != "putObject" && method != "getObject" {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusMethodNotAllowed, "unsupported s3 method")
	}
	name, path, f, err := s.input(ctx, req, user)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if path == Configuration {
		if method == "putObject" {
			return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusBadRequest, "upload the configuration with PUT")
		}
		path = f.marker
	}
	key := objectkey.SimulationFile(user, name, path)
	if method == "getObject" {
		return s.redirect(ctx, key)
	}
	if err := f.refuseCaseTwin(user, name, path); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	u, err := s.Presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, ContentType: aws.String("application/json")},
		s3.WithPresignExpires(SignedURLExpiry))
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("sign PUT %s: %w", key, err)
	}
	return httpx.Redirect(u.URL), nil
}
