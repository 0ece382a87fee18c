// Package jobview renders jobs as the FOQUS client reads them: the job
// metadata of GET /session/{id} (spec R4) and the finished-job records of
// result pages (spec §4.5), with each job's output parsed from the job item
// or, when it was too large for the item, from the session bucket.
// Non-finite numbers are answered as the strings "NaN", "Infinity" and
// "-Infinity", which FOQUS's results loop reads back as floats.
package jobview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/pyjson"
)

// OutputReads is how many outputs are read from S3 at once.
const OutputReads = 16

// MissingOutput is the Message of a finished job whose output object is gone.
const MissingOutput = "output not found in the session bucket"

// Loader reads job outputs from the session bucket.
type Loader struct {
	S3     *s3.Client
	Bucket string
}

// Outputs returns each job's output (nil when it has none), reading the ones
// kept in S3 in parallel. An output object that does not exist yields nil
// and the job's Message says so; other S3 errors fail the call.
func (l *Loader) Outputs(ctx context.Context, jobs []job.Job) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(jobs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(OutputReads)
	for i := range jobs {
		j := &jobs[i]
		switch {
		case len(j.Output) > 0 && pyjson.Valid(j.Output):
			out[i], _, _ = pyjson.Standard(j.Output)
		case j.OutputKey != "":
			g.Go(func() error {
				b, err := l.read(ctx, j)
				var nsk *s3types.NoSuchKey
				if errors.As(err, &nsk) {
					if j.Message == "" {
						j.Message = MissingOutput
					}
					return nil
				}
				out[i] = b
				return err
			})
		}
	}
	return out, g.Wait()
}

func (l *Loader) read(ctx context.Context, j *job.Job) (json.RawMessage, error) {
	// A key outside the job's session could only come from a forged event;
	// the decoder refuses those, this keeps a stored one from leaking.
	if !strings.HasPrefix(j.OutputKey, objectkey.SessionPrefix(j.User, j.Session)) {
		return nil, fmt.Errorf("job %s: output key outside its session", j.ID)
	}
	obj, err := l.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &l.Bucket, Key: &j.OutputKey})
	if err != nil {
		return nil, fmt.Errorf("read output of job %s: %w", j.ID, err)
	}
	defer func() { _ = obj.Body.Close() }() // a read body has nothing left to report on close
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("read output of job %s: %w", j.ID, err)
	}
	// Python's NaN and Infinity are answered as strings (package pyjson).
	std, _, err := pyjson.Standard(b)
	if err != nil {
		return nil, fmt.Errorf("output of job %s is not JSON", j.ID)
	}
	return std, nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Metadata is one element of GET /session/{id} (spec R4). Outputs are read
// from result pages: with them, a large session would not fit one answer
// (the original never sent them either).
type Metadata struct {
	ID          string          `json:"Id"`
	Application string          `json:"Application"`
	SessionID   string          `json:"SessionId"`
	Initialize  bool            `json:"Initialize"`
	Input       json.RawMessage `json:"Input"`
	State       job.State       `json:"State"`
	Reset       bool            `json:"Reset"`
	Simulation  string          `json:"Simulation"`
	Create      string          `json:"Create"`
	Message     string          `json:"Message,omitempty"`
	Submit      string          `json:"Submit,omitempty"`
	Setup       string          `json:"Setup,omitempty"`
	Running     string          `json:"Running,omitempty"`
	Finished    string          `json:"Finished,omitempty"`
}

// NewMetadata renders j.
func NewMetadata(j job.Job) Metadata {
	return Metadata{
		ID: j.ID, Application: j.Application, SessionID: j.Session, Initialize: j.Initialize, Input: input(j),
		State: j.State, Reset: j.Reset, Simulation: j.Simulation, Create: ts(j.Created),
		Message: j.Message, Submit: ts(j.Submitted), Setup: ts(j.SetupAt), Running: ts(j.RunningAt), Finished: ts(j.Finished),
	}
}

// Record is one element of a result page (spec §4.5). Every record has
// State, and Message for jobs that did not succeed, so the client can account
// for every job it submitted. The lower-case timestamps are the original's.
type Record struct {
	ID          string          `json:"Id"`
	Type        string          `json:"Type"`
	State       job.State       `json:"State"`
	Message     string          `json:"Message,omitempty"`
	Output      json.RawMessage `json:"Output,omitempty"`
	Session     string          `json:"Session"`
	User        string          `json:"User"`
	Simulation  string          `json:"Simulation"`
	Application string          `json:"Application"`
	Input       json.RawMessage `json:"Input"`
	Reset       bool            `json:"Reset"`
	Initialize  bool            `json:"Initialize"`
	ConsumerID  string          `json:"ConsumerId,omitempty"`
	Create      string          `json:"Create"`
	Submit      string          `json:"submit,omitempty"`
	Setup       string          `json:"setup,omitempty"`
	Running     string          `json:"running,omitempty"`
	Finished    string          `json:"Finished"`
}

// NewRecord renders a finished job with its output.
func NewRecord(j job.Job, output json.RawMessage) Record {
	return Record{
		ID: j.ID, Type: "Job", State: j.State, Message: j.Message, Output: output, Session: j.Session, User: j.User,
		Simulation: j.Simulation, Application: j.Application, Input: input(j), Reset: j.Reset, Initialize: j.Initialize,
		ConsumerID: j.Consumer, Create: ts(j.Created), Submit: ts(j.Submitted), Setup: ts(j.SetupAt),
		Running: ts(j.RunningAt), Finished: ts(j.Finished),
	}
}

func input(j job.Job) json.RawMessage {
	if len(j.Input) == 0 || !json.Valid(j.Input) {
		return json.RawMessage("{}")
	}
	return j.Input
}
