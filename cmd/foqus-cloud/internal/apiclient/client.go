// Package apiclient speaks the FOQUS cloud API as a consumer: Basic auth on
// every call, the bodies and answers of core/api's routes decoded into the
// functions' own answer types, signed-URL uploads, and retries only where a
// retry cannot run a request twice.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/foqus-cloud/stack/core/backoff"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/simulations"
)

// Client calls one stage of the API.
type Client struct {
	Base     string // the API's base URL, stage included, without a trailing slash
	User     string
	Password string
	HTTP     *http.Client
	// Retries is how often a throttled (429) or unreachable call, or a failed
	// idempotent one (5xx), is tried again, after core/backoff's jittered
	// exponential wait from Backoff, capped at 16·Backoff.
	Retries int
	Backoff time.Duration
}

// Defaults of New.
const (
	DefaultRetries = 4
	DefaultBackoff = 500 * time.Millisecond
	DefaultTimeout = 60 * time.Second
)

// New returns a client of base. caFile, when set, is a PEM bundle trusted
// besides the system's roots (a local stack's CA, REQUESTS_CA_BUNDLE).
func New(base, user, password, caFile string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API URL %q is not an http:// or https:// URL", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{
		Base: strings.TrimRight(base, "/"), User: user, Password: password,
		HTTP: &http.Client{
			Transport: tr, Timeout: DefaultTimeout,
			// Signed URLs are followed explicitly: a redirect must not carry the
			// Basic credentials to S3, and an upload needs its own content type.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Retries: DefaultRetries, Backoff: DefaultBackoff,
	}, nil
}

// StatusError is an answer other than the one a call expects, in the API's
// own terms: the method, the path and the Message the API gave.
type StatusError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, msg)
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

type call struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	idempotent   bool // a 5xx may be retried: the call changes nothing twice
	want         int  // the expected status; 200 when 0
}

// do sends c and returns the answer's body and headers.
func (cl *Client) do(ctx context.Context, c call) ([]byte, http.Header, error) {
	if c.want == 0 {
		c.want = http.StatusOK
	}
	u := cl.Base + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		b, h, err := cl.once(ctx, c, u)
		if err == nil || attempt >= cl.Retries || !retryable(err, c.idempotent) {
			return b, h, err
		}
		if backoff.Sleep(ctx, backoff.Delay(attempt+1, cl.Backoff, 16*cl.Backoff)) != nil {
			return nil, nil, err
		}
	}
}

func retryable(err error, idempotent bool) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || idempotent && se.Status >= 500
	}
	var ne *netError
	return errors.As(err, &ne) && (idempotent || ne.beforeSend)
}

// netError is a call that got no answer; beforeSend when it never reached
// the server (connection refused), so even a non-idempotent call may retry.
type netError struct {
	err        error
	beforeSend bool
}

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func (cl *Client) once(ctx context.Context, c call, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, u, bytes.NewReader(c.body))
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(cl.User, cl.Password)
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		return nil, nil, &netError{err: fmt.Errorf("%s %s: %w", c.method, c.path, err), beforeSend: errors.Is(err, syscall.ECONNREFUSED)}
	}
	defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, &netError{err: fmt.Errorf("%s %s: reading the answer: %w", c.method, c.path, err)}
	}
	if resp.StatusCode != c.want {
		return nil, nil, &StatusError{Method: c.method, Path: c.path, Status: resp.StatusCode, Message: message(b)}
	}
	return b, resp.Header, nil
}

// message is the API's {"Message": ...} error text, or the body itself.
func message(b []byte) string {
	var m struct{ Message string }
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func (cl *Client) json(ctx context.Context, c call, out any) error {
	b, _, err := cl.do(ctx, c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", c.method, c.path, err)
	}
	return nil
}

func seg(s string) string { return url.PathEscape(s) }

// Applications lists the applications the API runs (GET /application).
func (cl *Client) Applications(ctx context.Context) ([]simulations.Application, error) {
	var out []simulations.Application
	return out, cl.json(ctx, call{method: "GET", path: "/application", idempotent: true}, &out)
}

// Simulations lists the user's simulations (GET /simulation).
func (cl *Client) Simulations(ctx context.Context) ([]simulations.Simulation, error) {
	var out []simulations.Simulation
	return out, cl.json(ctx, call{method: "GET", path: "/simulation", idempotent: true}, &out)
}

// Simulation reads one simulation with its staged inputs (GET /simulation/{name}).
func (cl *Client) Simulation(ctx context.Context, name string) (simulations.Simulation, error) {
	var out simulations.Simulation
	return out, cl.json(ctx, call{method: "GET", path: "/simulation/" + seg(name), idempotent: true}, &out)
}

// PutSimulation creates the simulation name of application app, or keeps it.
func (cl *Client) PutSimulation(ctx context.Context, name, app string) error {
	body, _ := json.Marshal(map[string]any{"Application": app, "StagedInputs": []string{}, "Name": name})
	_, _, err := cl.do(ctx, call{method: "PUT", path: "/simulation/" + seg(name), body: body, contentType: "application/json", idempotent: true})
	return err
}

// PutInput uploads a file of a simulation through the API, with an empty
// content type as FOQUS sends it; path "configuration" is the simulation's
// configuration.
func (cl *Client) PutInput(ctx context.Context, name, path string, body []byte) error {
	_, _, err := cl.do(ctx, call{method: "PUT", path: "/simulation/" + seg(name) + "/input/" + seg(path), body: body, idempotent: true})
	return err
}

// PutSigned uploads a file of a simulation to the signed URL the API
// answers (POST ?method=putObject, 302), for files too large for the API.
func (cl *Client) PutSigned(ctx context.Context, name, path string, body []byte) error {
	p := "/simulation/" + seg(name) + "/input/" + seg(path)
	_, h, err := cl.do(ctx, call{method: "POST", path: p, query: url.Values{"method": {"putObject"}}, want: http.StatusFound, idempotent: true})
	if err != nil {
		return err
	}
	loc := h.Get("Location")
	if loc == "" {
		return fmt.Errorf("POST %s: 302 without a Location", p)
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", loc, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json") // what the URL is signed for
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("upload of %s to its signed URL: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }() // the status is the answer
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("upload of %s to its signed URL: %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// DeleteSimulation deletes a simulation and its files (DELETE /simulation/{name}).
func (cl *Client) DeleteSimulation(ctx context.Context, name string) error {
	_, _, err := cl.do(ctx, call{method: "DELETE", path: "/simulation/" + seg(name), idempotent: true})
	return err
}

// Sessions lists the user's session ids (GET /session).
func (cl *Client) Sessions(ctx context.Context) ([]string, error) {
	var out []string
	return out, cl.json(ctx, call{method: "GET", path: "/session", idempotent: true}, &out)
}

// CreateSession answers a new session id (POST /session).
func (cl *Client) CreateSession(ctx context.Context) (string, error) {
	var id string
	return id, cl.json(ctx, call{method: "POST", path: "/session", idempotent: true}, &id)
}

// Job is one element of an append body.
type Job struct {
	Simulation  string          `json:"Simulation"`
	Application string          `json:"Application,omitempty"`
	Input       json.RawMessage `json:"Input"`
	Reset       bool            `json:"Reset"`
}

// Append stores jobs in session sid and answers their ids in order. It is
// never retried after the request was sent: the jobs might be stored twice.
func (cl *Client) Append(ctx context.Context, sid string, jobs []Job) ([]string, error) {
	body, err := json.Marshal(jobs)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := cl.json(ctx, call{method: "POST", path: "/session/" + seg(sid), body: body, contentType: "application/json"}, &ids); err != nil {
		return nil, err
	}
	if len(ids) != len(jobs) {
		return nil, fmt.Errorf("append to session %s: %d ids answered for %d jobs", sid, len(ids), len(jobs))
	}
	return ids, nil
}

// Start submits the session's pending jobs and answers the ids submitted.
func (cl *Client) Start(ctx context.Context, sid string) ([]string, error) {
	var ids []string
	return ids, cl.json(ctx, call{method: "POST", path: "/session/" + seg(sid) + "/start", idempotent: true}, &ids)
}

// Kill ends every unfinished job of the session as terminate.
func (cl *Client) Kill(ctx context.Context, sid string) error {
	_, _, err := cl.do(ctx, call{method: "POST", path: "/session/" + seg(sid) + "/kill", idempotent: true})
	return err
}

// Stop pauses the session's jobs no worker holds yet; Start resumes them.
func (cl *Client) Stop(ctx context.Context, sid string) error {
	_, _, err := cl.do(ctx, call{method: "POST", path: "/session/" + seg(sid) + "/stop", idempotent: true})
	return err
}

// DeleteSession deletes a session, its jobs and results (DELETE /session/{id}).
func (cl *Client) DeleteSession(ctx context.Context, sid string) error {
	_, _, err := cl.do(ctx, call{method: "DELETE", path: "/session/" + seg(sid), idempotent: true})
	return err
}

// Jobs answers the metadata of every job of the session, in append order.
func (cl *Client) Jobs(ctx context.Context, sid string) ([]jobview.Metadata, error) {
	var out []jobview.Metadata
	return out, cl.json(ctx, call{method: "GET", path: "/session/" + seg(sid), idempotent: true}, &out)
}

// NewGenerator answers a fresh result generator id of the session.
func (cl *Client) NewGenerator(ctx context.Context, sid string) (string, error) {
	var id string
	return id, cl.json(ctx, call{method: "POST", path: "/session/" + seg(sid) + "/result", idempotent: true}, &id)
}

// CreatePage puts the jobs finished since the generator's last page on a new
// page and answers the number of the generator's latest page (0: none yet).
func (cl *Client) CreatePage(ctx context.Context, sid, gen string) (int, error) {
	p := "/session/" + seg(sid) + "/result/" + seg(gen)
	b, _, err := cl.do(ctx, call{method: "POST", path: p, idempotent: true})
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("POST %s: answer %q is not a page number", p, b)
	}
	return n, nil
}

// Page answers page n of a generator: records of finished jobs with outputs.
func (cl *Client) Page(ctx context.Context, sid, gen string, n int) ([]jobview.Record, error) {
	var out []jobview.Record
	p := fmt.Sprintf("/session/%s/result/%s/%d", seg(sid), seg(gen), n)
	return out, cl.json(ctx, call{method: "GET", path: p, idempotent: true}, &out)
}
