package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// foqusAPI answers the session routes the scenario drives with the answers
// FOQUS desktop gets (../shared/spec/foqus-desktop-wire.md): this tests the
// load tester's requests and bookkeeping, the API itself is tested elsewhere.
type foqusAPI struct {
	t        *testing.T
	mu       sync.Mutex
	sessions map[string]int // results not yet paged
	calls    map[string]int
	failPage bool
}

func (a *foqusAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "POST" && r.URL.Path == "/session/": // FOQUS's trailing slash
		a.calls[RouteCreate]++
		id := fmt.Sprintf("s%d", len(a.sessions))
		a.sessions[id] = 0
		_ = json.NewEncoder(w).Encode(id)
	case r.Method == "POST" && len(parts) == 2:
		a.calls[RouteAppend]++
		var jobs []map[string]any
		if r.Header.Get("Content-Type") != "application/json; charset=utf-8" || json.NewDecoder(r.Body).Decode(&jobs) != nil || len(jobs) != 20 {
			a.t.Errorf("append: content type %q, %d jobs", r.Header.Get("Content-Type"), len(jobs))
		}
		a.sessions[parts[1]] = len(jobs)
		_, _ = w.Write([]byte(`[]`))
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "start":
		a.calls[RouteStart]++
		_, _ = w.Write([]byte(`[]`))
	case r.Method == "POST" && len(parts) == 4 && parts[3] == generator:
		a.calls[RouteResult]++
		if a.sessions[parts[1]] > 0 {
			_, _ = w.Write([]byte(`1`))
		} else {
			_, _ = w.Write([]byte(`0`))
		}
	case r.Method == "GET" && len(parts) == 5:
		a.calls[RoutePage]++
		if a.failPage {
			http.Error(w, `{"message":"Internal server error"}`, http.StatusInternalServerError)
			return
		}
		n := min(a.sessions[parts[1]], 10) // results arrive in two pages
		a.sessions[parts[1]] -= n
		_ = json.NewEncoder(w).Encode(make([]map[string]any, n))
	default:
		a.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func serve(t *testing.T, failPage bool) (*foqusAPI, Target) {
	a := &foqusAPI{t: t, sessions: map[string]int{}, calls: map[string]int{}, failPage: failPage}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, Target{BaseURL: srv.URL, User: "alice", Password: "pw"}
}

func small() Scenario {
	s := GAS(3 * time.Second)
	s.Users, s.SpawnRate, s.MaxSessions = 10, 20, 25
	s.PollInterval, s.SessionTimeout = 10*time.Millisecond, time.Second
	return s
}

func TestRunDrivesFOQUSSessionsWithinItsBounds(t *testing.T) {
	t.Parallel()
	a, tg := serve(t, false)
	s := small()
	s.SpawnRate, s.MaxSessions = 200, 200 // every user starts before the sessions run out
	start := time.Now()
	rep, err := Run(context.Background(), tg, s)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > s.Duration+time.Second {
		t.Errorf("ran %s, bounded at %s", el, s.Duration)
	}
	if rep.Sessions != s.MaxSessions || rep.Completed != s.MaxSessions || a.calls[RouteCreate] != s.MaxSessions {
		t.Errorf("%d sessions started, %d completed, %d created: want %d", rep.Sessions, rep.Completed, a.calls[RouteCreate], s.MaxSessions)
	}
	if a.calls[RoutePage] != 2*s.MaxSessions {
		t.Errorf("%d pages read, want 2 per session", a.calls[RoutePage])
	}
	if rep.PeakUsers() != s.Users {
		t.Errorf("peak %d users, want %d", rep.PeakUsers(), s.Users)
	}
	for i, st := range rep.Overall() {
		if st.Route != Routes[i] || st.Requests != a.calls[st.Route] || st.Errors != 0 || st.P50 <= 0 || st.P99 < st.P50 {
			t.Errorf("%+v (server saw %d)", st, a.calls[st.Route])
		}
	}
	var text, html bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range append([]string{"at the peak (10 users"}, Routes...) {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if !strings.Contains(html.String(), "<svg") {
		t.Error("HTML report has no latency plot")
	}
}

func TestRunCountsFailuresPerRoute(t *testing.T) {
	t.Parallel()
	_, tg := serve(t, true)
	s := small()
	s.MaxSessions = 5
	rep, err := Run(context.Background(), tg, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range rep.Overall() {
		if (st.Route == RoutePage) != (st.Errors > 0) {
			t.Errorf("%s: %d errors of %d", st.Route, st.Errors, st.Requests)
		}
	}
	if rep.Completed != 0 {
		t.Errorf("%d sessions completed with failing pages", rep.Completed)
	}
	if errs := rep.Errors(3); len(errs) != 1 || !strings.Contains(errs[0], "500") {
		t.Errorf("errors %q", errs)
	}
}

func TestRunRampsAtTheSpawnRate(t *testing.T) {
	t.Parallel()
	_, tg := serve(t, false)
	s := small()
	s.Users, s.SpawnRate, s.MaxSessions = 5, 10, 1000 // the last user starts at 0.4 s
	s.Duration = 1500 * time.Millisecond
	rep, err := Run(context.Background(), tg, s)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.RampTime(); got != 400*time.Millisecond {
		t.Errorf("ramp time %s", got)
	}
	for _, smp := range rep.Samples {
		if smp.At < 300*time.Millisecond && smp.Users >= s.Users {
			t.Fatalf("all %d users ran at %s, before the ramp could end", s.Users, smp.At)
		}
	}
}

func TestValidateKeepsRunsBounded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mod  func(*Scenario)
		want string
	}{
		{func(s *Scenario) { s.Users = MaxUsers + 1 }, "users 1001"},
		{func(s *Scenario) { s.Duration = time.Hour }, "duration 1h0m0s"},
		{func(s *Scenario) { s.MaxSessions = 0 }, "sessions 0"},
		{func(s *Scenario) { s.JobsPerSession = 21 }, "FOQUS appends 1..20"},
		{func(s *Scenario) { s.SpawnRate = 0 }, "spawn rate"},
	} {
		s := GAS(time.Minute)
		c.mod(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if err := GAS(time.Minute).Validate(); err != nil {
		t.Errorf("GAS scenario: %v", err)
	}
}

// A request the API never answers within the run is counted, not dropped.
func TestRunCountsUnansweredRequests(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	s := small()
	s.Users, s.SpawnRate, s.Duration = 3, 30, 500*time.Millisecond
	rep, err := Run(context.Background(), Target{BaseURL: srv.URL, User: "alice", Password: "pw"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 0 || rep.Unanswered[RouteCreate] != s.Users {
		t.Errorf("%d samples, unanswered %v: want %d creates unanswered", len(rep.Samples), rep.Unanswered, s.Users)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "3 unanswered at the end") {
		t.Errorf("%v %s", err, text.String())
	}
}
