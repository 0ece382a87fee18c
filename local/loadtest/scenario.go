// Package loadtest runs GAS's web-tier load scenario against the FOQUS API:
// users start at a fixed rate up to a ceiling (GAS: 300 users at 30/s), each
// looping over a FOQUS session as the desktop client drives it (create,
// append 20 jobs, start, poll the result generator and pages). Every request
// is timed per route; the run is bounded in users, sessions and duration.
package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of a run: it must stay a test, not a flood.
const (
	MaxUsers    = 1000
	MaxDuration = 10 * time.Minute
	MaxSessions = 10000
)

// Routes, labelled as the route model spells them.
const (
	RouteCreate = "POST /session"
	RouteAppend = "POST /session/{id}"
	RouteStart  = "POST /session/{id}/start"
	RouteResult = "POST /session/{id}/result/{generator}"
	RoutePage   = "GET /session/{id}/result/{generator}/{page}"
)

// Routes in session order.
var Routes = []string{RouteCreate, RouteAppend, RouteStart, RouteResult, RoutePage}

// generator is the result generator FOQUS desktop always uses.
const generator = "00000000-0000-0000-0000-000000000000"

// Scenario is one bounded run.
type Scenario struct {
	Users          int           // ceiling of concurrent users
	SpawnRate      float64       // users started per second
	Duration       time.Duration // from the first user's start
	MaxSessions    int           // sessions started over the run, all users together
	JobsPerSession int           // FOQUS appends at most 20 per request
	PollInterval   time.Duration // between result polls of one user
	SessionTimeout time.Duration // a user polls one session at most this long, then starts the next
	Application    string        // of the appended jobs
	Simulation     string
}

// GAS is GAS's web-tier scenario: ramp to 300 users at 30 users/s, each a
// FOQUS session loop, for the given duration.
func GAS(d time.Duration) Scenario {
	return Scenario{Users: 300, SpawnRate: 30, Duration: d, MaxSessions: 3000, JobsPerSession: 20,
		PollInterval: 2 * time.Second, SessionTimeout: 30 * time.Second, Application: "fake-job", Simulation: "zzfoqus_load"}
}

// Validate keeps a run bounded.
func (s Scenario) Validate() error {
	var errs []error
	if s.Users < 1 || s.Users > MaxUsers {
		errs = append(errs, fmt.Errorf("users %d: keep it in 1..%d", s.Users, MaxUsers))
	}
	if !(s.SpawnRate > 0) {
		errs = append(errs, fmt.Errorf("spawn rate %v must be > 0 users/s", s.SpawnRate))
	}
	if s.Duration <= 0 || s.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("duration %s: keep it in (0, %s]", s.Duration, MaxDuration))
	}
	if s.MaxSessions < 1 || s.MaxSessions > MaxSessions {
		errs = append(errs, fmt.Errorf("sessions %d: keep it in 1..%d", s.MaxSessions, MaxSessions))
	}
	if s.JobsPerSession < 1 || s.JobsPerSession > 20 {
		errs = append(errs, fmt.Errorf("jobs per session %d: FOQUS appends 1..20", s.JobsPerSession))
	}
	if s.PollInterval <= 0 || s.SessionTimeout <= 0 {
		errs = append(errs, errors.New("poll interval and session timeout must be > 0"))
	}
	return errors.Join(errs...)
}

// RampTime is when the last user has started.
func (s Scenario) RampTime() time.Duration {
	return time.Duration(float64(s.Users-1) / s.SpawnRate * float64(time.Second))
}

// Target is the API a run talks to.
type Target struct {
	BaseURL  string // the stage's base URL, no trailing slash
	User     string
	Password string
	Client   *http.Client
}

// Sample is one timed request.
type Sample struct {
	Route   string
	At      time.Duration // since the run started
	Latency time.Duration
	Status  int   // 0: no answer
	Err     error // transport error or unexpected status
	Users   int   // users running when it was sent
}

// Run runs the scenario and returns every request's sample.
func Run(ctx context.Context, t Target, s Scenario) (*Report, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if t.Client == nil {
		t.Client = &http.Client{Timeout: 60 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Duration)
	defer cancel()
	r := &runner{t: t, s: s, start: time.Now(), unanswered: map[string]int{}, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(t.User+":"+t.Password))}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.SpawnRate))
	defer tick.Stop()
spawn:
	for u := 0; u < s.Users; u++ {
		if u > 0 {
			select {
			case <-ctx.Done():
				break spawn
			case <-tick.C:
			}
		}
		r.mu.Lock()
		r.users++
		r.mu.Unlock()
		wg.Go(func() { r.user(ctx) })
	}
	wg.Wait()
	return &Report{Scenario: s, Samples: r.samples, Elapsed: time.Since(r.start), Sessions: r.sessions, Completed: r.completed, Unanswered: r.unanswered}, nil
}

type runner struct {
	t     Target
	s     Scenario
	start time.Time
	auth  string

	mu        sync.Mutex
	users     int
	sessions  int // started
	completed int // with every result read
	samples   []Sample
	// unanswered counts, per route, requests still waiting when the run ended.
	unanswered map[string]int
}

// claim reserves one of the run's sessions.
func (r *runner) claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions >= r.s.MaxSessions {
		return false
	}
	r.sessions++
	return true
}

func (r *runner) user(ctx context.Context) {
	for ctx.Err() == nil && r.claim() {
		if done := r.session(ctx); done {
			r.mu.Lock()
			r.completed++
			r.mu.Unlock()
		}
	}
}

// session drives one FOQUS session; it reports whether every result came back.
func (r *runner) session(ctx context.Context) bool {
	var sid string
	if !r.call(ctx, RouteCreate, "POST", "/session/", nil, &sid) {
		return false
	}
	jobs := make([]map[string]any, r.s.JobsPerSession)
	for i := range jobs {
		jobs[i] = map[string]any{"Simulation": r.s.Simulation, "Application": r.s.Application, "Input": map[string]any{"x": i}, "Reset": false}
	}
	body, _ := json.Marshal(jobs)
	if !r.call(ctx, RouteAppend, "POST", "/session/"+sid, body, nil) || !r.call(ctx, RouteStart, "POST", "/session/"+sid+"/start", nil, nil) {
		return false
	}
	deadline := time.Now().Add(r.s.SessionTimeout)
	seen := 0
	for seen < r.s.JobsPerSession && time.Now().Before(deadline) {
		var page json.RawMessage
		if !r.call(ctx, RouteResult, "POST", "/session/"+sid+"/result/"+generator, nil, &page) {
			return false
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(page))); err == nil && n > 0 {
			var records []json.RawMessage
			if !r.call(ctx, RoutePage, "GET", fmt.Sprintf("/session/%s/result/%s/%d?rpp=2000", sid, generator, n), nil, &records) {
				return false
			}
			seen += len(records)
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(r.s.PollInterval):
		}
	}
	return seen >= r.s.JobsPerSession
}

// call sends one request as FOQUS does and records its sample; out, when
// given, receives the JSON answer. It reports success (a 200 that decoded).
func (r *runner) call(ctx context.Context, route, method, path string, body []byte, out any) bool {
	req, err := http.NewRequestWithContext(ctx, method, r.t.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", r.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	r.mu.Lock()
	users := r.users
	r.mu.Unlock()
	sent := time.Now()
	resp, err := r.t.Client.Do(req)
	s := Sample{Route: route, At: sent.Sub(r.start), Users: users}
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close() // the body was read in full
		s.Status = resp.StatusCode
		switch {
		case err != nil:
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("%s: %d %s", route, resp.StatusCode, bytes.TrimSpace(b[:min(len(b), 200)]))
		case out != nil:
			if jerr := json.Unmarshal(b, out); jerr != nil {
				err = fmt.Errorf("%s: answer is not JSON: %w", route, jerr)
			}
		}
	}
	s.Latency = time.Since(sent)
	if ctx.Err() != nil && s.Status == 0 {
		r.mu.Lock()
		r.unanswered[route]++ // cut by the end of the run: counted, not a latency sample
		r.mu.Unlock()
		return false
	}
	s.Err = err
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
	return err == nil
}
