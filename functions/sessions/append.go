package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Limits of one append request (see core/lambdaevent for what fits); a
// job's input must fit, with its envelope, in the 256 KB job.submit message.
const (
	MaxAppendBody = 4 << 20 // under lambdaevent.MaxBody: every body arrives base64-encoded (BinaryMediaTypes */*)
	MaxAppendJobs = 10000
	MaxJobInput   = event.MaxBody - 16<<10
)

// applications a job may name, by their lower-case spelling.
var applications = map[string]string{}

func init() {
	for _, a := range []string{job.AppFOQUS, job.AppFakeJob, job.AppACM, job.AppAspenPlus} {
		applications[strings.ToLower(a)] = a
	}
}

// jobRequest is one element of an append body (spec §4.1). Client ids and
// Visible are ignored.
type jobRequest struct {
	Simulation  *string         `json:"Simulation"`
	Input       json.RawMessage `json:"Input"`
	Application *string         `json:"Application"`
	Reset       *bool           `json:"Reset"`
	Initialize  *bool           `json:"Initialize"`
}

// ParseAppend parses an append body: a JSON array of job requests, each with
// a valid Simulation name and an Input object. Refusals are *httpx.Error
// (400, or 413 beyond the limits).
func ParseAppend(body []byte) ([]sessionstore.NewJob, error) {
	if len(body) > MaxAppendBody {
		return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", len(body), MaxAppendBody)
	}
	if !utf8.Valid(body) {
		return nil, httpx.Errorf(http.StatusBadRequest, "Failed to append jobs: body is not valid UTF-8 text")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || bytes.TrimSpace(body)[0] != '[' {
		return nil, &httpx.Error{Status: http.StatusBadRequest, Message: "Failed to append jobs: body is not a JSON array of jobs", Err: err}
	}
	if len(raw) > MaxAppendJobs {
		return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "%d jobs, over the limit of %d per request", len(raw), MaxAppendJobs)
	}
	out := make([]sessionstore.NewJob, len(raw))
	for i, el := range raw {
		var r jobRequest
		what := fmt.Sprintf("Failed to append jobs: job %d", i)
		if err := httpx.DecodeJSON(what, el, &r); err != nil {
			return nil, err
		}
		nj, err := r.newJob()
		if err != nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "%s: %s", what, err.Message)
		}
		if err := httpx.CheckJSONText(what+": Input", nj.Input); err != nil {
			return nil, err
		}
		if len(nj.Input) > MaxJobInput {
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "job %d: Input of %d bytes is over the limit of %d", i, len(nj.Input), MaxJobInput)
		}
		out[i] = nj
	}
	return out, nil
}

func (r jobRequest) newJob() (sessionstore.NewJob, *httpx.Error) {
	if r.Simulation == nil {
		return sessionstore.NewJob{}, httpx.Errorf(http.StatusBadRequest, "Simulation missing")
	}
	if err := objectkey.Simulation(*r.Simulation); err != nil {
		return sessionstore.NewJob{}, httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	in := bytes.TrimSpace(r.Input)
	if len(in) == 0 || in[0] != '{' {
		return sessionstore.NewJob{}, httpx.Errorf(http.StatusBadRequest, "Input must be a JSON object")
	}
	nj := sessionstore.NewJob{Application: job.AppFOQUS, Simulation: *r.Simulation, Input: compact(in)}
	if r.Application != nil && *r.Application != "" {
		app, ok := applications[strings.ToLower(*r.Application)]
		if !ok {
			return sessionstore.NewJob{}, httpx.Errorf(http.StatusBadRequest, "unknown Application %q", *r.Application)
		}
		nj.Application = app
	}
	nj.Reset = r.Reset != nil && *r.Reset
	nj.Initialize = r.Initialize != nil && *r.Initialize
	return nj, nil
}

// compact drops the client's whitespace from JSON that Unmarshal already
// checked: the input is stored and sent as is.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.Bytes()
}
