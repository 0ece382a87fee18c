package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/local/devstack"
	"github.com/foqus-cloud/stack/local/devstack/devstacktest"
)

// The end-to-end tests drive the whole local stack over HTTP, as the FOQUS
// desktop client does. They need the synthesized app and the built worker
// (make test does both; FOQUS_E2E=1 makes their absence a failure).

const generator = "00000000-0000-0000-0000-000000000000" // the FOQUS G2 client's fixed generator

func startStack(t *testing.T) *devstack.Stack {
	t.Helper()
	return startStackWith(t, nil)
}

// startStackWith starts a stack with the test's options, changed by edit;
// the stack's and the workers' logs go to the test's (with -v).
func startStackWith(t *testing.T, edit func(*devstack.Options)) *devstack.Stack {
	t.Helper()
	st := devstacktest.Start(t, func(o *devstack.Options) {
		o.WorkerLog, o.Log = testWriter{t}, slog.New(slog.NewTextHandler(testWriter{t}, nil))
		if edit != nil {
			edit(o)
		}
	})
	t.Cleanup(func() { checkCallsInTables(t, st) }) // runs before the stack's Close
	return st
}

// checkCallsInTables fails when a function sent a request whose action is
// not in its row of registry.IAMActions: the table (and so its role) would
// miss a call its code makes.
func checkCallsInTables(t *testing.T, st *devstack.Stack) {
	t.Helper()
	checked := 0
	defer func() { t.Logf("%d kinds of request by function checked against registry.IAMActions", checked) }()
	for fn, ops := range st.Calls() {
		row := registry.Actions(fn)
		for _, op := range ops {
			checked++
			service, name, _ := strings.Cut(op.Op, ".")
			actions, ok := registry.ActionsOf(service, name)
			if !ok {
				t.Errorf("%s called %s: registry.ActionsOf has no rule for %s", fn, op.Op, service)
			}
			for _, a := range actions {
				if _, ok := row[a]; !ok {
					t.Errorf("%s called %s (%d times): %s is not in its registry.IAMActions row", fn, op.Op, op.Count, a)
				}
			}
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// client speaks the API as turb_client does: Basic auth on every call, no
// JSON content type on bodies.
type client struct {
	t          testing.TB
	base       string
	user, pass string
}

func (c *client) do(method, path string, body []byte) (int, []byte, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (c *client) json(method, path string, body any, want int, out any) {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	status, b, _ := c.do(method, path, raw)
	if status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// uploadSimulation does what FOQUS's uploadSimulation does for a fake-job flowsheet.
func (c *client) uploadSimulation(name string) {
	c.t.Helper()
	var apps []map[string]any
	c.json("GET", "/application", nil, 200, &apps)
	c.json("PUT", "/simulation/"+name, map[string]any{"Application": "fake-job", "StagedInputs": []string{}, "Name": name}, 200, nil)
	status, b, _ := c.do("PUT", "/simulation/"+name+"/input/configuration", []byte(`{"Type":"FOQUS_Session","flowsheet":{}}`))
	if status != 200 {
		c.t.Fatalf("configuration upload: %d %s", status, b)
	}
	status, b, h := c.do("POST", "/simulation/"+name+"/input/model.bin?method=putObject", nil)
	if status != 302 || h.Get("Location") == "" {
		c.t.Fatalf("signed upload: %d %s, Location %q", status, b, h.Get("Location"))
	}
	req, _ := http.NewRequest("PUT", h.Get("Location"), bytes.NewReader([]byte{0, 1, 2, 0xff}))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("PUT to the signed URL: %d", resp.StatusCode)
	}
	var sims []struct{ Name, Application string }
	c.json("GET", "/simulation", nil, 200, &sims)
	found := false
	for _, s := range sims {
		found = found || s.Name == name && s.Application != "" // a FOQUS_Session configuration marks it foqus, as the original lists it
	}
	if !found {
		c.t.Fatalf("simulation %s not listed: %+v", name, sims)
	}
}

// runSession creates a session, appends jobs 20 at a time with a start after
// each chunk (as solveListValTurbine does) and returns the ids in order.
func (c *client) runSession(sim string, inputs []map[string]any) (string, []string) {
	c.t.Helper()
	var sid string
	c.json("POST", "/session", nil, 200, &sid)
	var ids []string
	for i := 0; i < len(inputs); i += 20 {
		chunk := []map[string]any{}
		for _, in := range inputs[i:min(i+20, len(inputs))] {
			chunk = append(chunk, map[string]any{"Simulation": sim, "Application": "fake-job", "Input": in, "Reset": false})
		}
		var got []string
		c.json("POST", "/session/"+sid, chunk, 200, &got)
		if len(got) != len(chunk) {
			c.t.Fatalf("append returned %d ids for %d jobs", len(got), len(chunk))
		}
		ids = append(ids, got...)
		c.json("POST", "/session/"+sid+"/start", nil, 200, nil)
	}
	return sid, ids
}

// states counts the session's jobs per state, as GET /session/<id> lists them.
func (c *client) states(sid string) map[string]int {
	c.t.Helper()
	var jobs []struct {
		State string `json:"State"`
	}
	c.json("GET", "/session/"+sid, nil, 200, &jobs)
	n := map[string]int{}
	for _, j := range jobs {
		n[j.State]++
	}
	return n
}

type record struct {
	ID      string          `json:"Id"`
	State   string          `json:"State"`
	Message string          `json:"Message"`
	Output  json.RawMessage `json:"Output"`
}

// results polls result pages as FOQUS does until every id has a record.
func (c *client) results(sid string, ids []string, timeout time.Duration) map[string]record {
	c.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := map[string]record{}
	read := 0
	deadline := time.Now().Add(timeout)
	for len(got) < len(ids) {
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s: %d of %d jobs have a record", timeout, len(got), len(ids))
		}
		status, b, _ := c.do("POST", "/session/"+sid+"/result/"+generator, nil)
		page, err := strconv.Atoi(string(b))
		if status != 200 || err != nil {
			c.t.Fatalf("result page creation: %d %s", status, b)
		}
		for ; read < page; read++ {
			var recs []record
			c.json("GET", fmt.Sprintf("/session/%s/result/%s/%d?rpp=2000", sid, generator, read+1), nil, 200, &recs)
			for _, r := range recs {
				if !want[r.ID] {
					c.t.Fatalf("record for a job not submitted: %+v", r)
				}
				if _, dup := got[r.ID]; dup {
					c.t.Fatalf("job %s has two records", r.ID)
				}
				if r.State == "" {
					c.t.Fatalf("record without State: %+v", r)
				}
				got[r.ID] = r
			}
		}
		if len(got) < len(ids) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return got
}

func inputs(n int, control map[string]any) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"x": map[string]any{"a": float64(i), "b": 2.0}, "graph": map[string]any{}}
		if control != nil {
			out[i]["control"] = control
		}
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	st := startStack(t)
	alice := &client{t: t, base: st.BaseURL, user: st.User, pass: st.Password}
	alice.uploadSimulation("zzfoqus_e2e")

	t.Run("200 jobs run and every output is right", func(t *testing.T) {
		alice.t = t
		began := time.Now()
		sid, ids := alice.runSession("zzfoqus_e2e", inputs(200, nil))
		recs := alice.results(sid, ids, 3*time.Minute)
		t.Logf("200 jobs, append to last result: %.1fs, %.1f jobs/s end to end", time.Since(began).Seconds(), 200/time.Since(began).Seconds())
		for i, id := range ids {
			r := recs[id]
			var out struct {
				GraphError int `json:"graphError"`
				Output     map[string]struct {
					Sum float64 `json:"sum"`
				} `json:"output"`
			}
			if r.State != "success" || json.Unmarshal(r.Output, &out) != nil || out.GraphError != 0 || out.Output["x"].Sum != float64(i)+2 {
				t.Fatalf("job %d: %s %q output %s", i, r.State, r.Message, r.Output)
			}
		}
	})

	t.Run("a second user sees none of the first user's data", func(t *testing.T) {
		alice.t = t
		var sids []string
		alice.json("GET", "/session", nil, 200, &sids)
		if len(sids) == 0 {
			t.Fatal("alice has no session")
		}
		stranger := &client{t: t, base: st.BaseURL, user: "bob", pass: "not-bobs-password"}
		if status, _, _ := stranger.do("GET", "/session", nil); status != 403 {
			t.Fatalf("unknown user bob: %d, want 403", status)
		}
		addUser(t, st, "bob", "bob-password-12")
		bob := &client{t: t, base: st.BaseURL, user: "bob", pass: "bob-password-12"}
		var bobs []string
		bob.json("GET", "/session", nil, 200, &bobs)
		var sims []map[string]any
		bob.json("GET", "/simulation", nil, 200, &sims)
		if len(bobs) != 0 || len(sims) != 0 {
			t.Fatalf("bob sees sessions %v and simulations %v", bobs, sims)
		}
		for _, p := range []string{"/session/" + sids[0], "/simulation/zzfoqus_e2e"} {
			if status, b, _ := bob.do("GET", p, nil); status != 404 {
				t.Fatalf("bob GET %s: %d %s, want 404", p, status, b)
			}
		}
		// The result generator answers an unknown session 200 0, as the
		// original (any other answer ends FOQUS's results loop).
		if status, b, _ := bob.do("POST", "/session/"+sids[0]+"/result/"+generator, nil); status != 200 || string(b) != "0" {
			t.Fatalf("bob pages alice's results: %d %s, want 200 0", status, b)
		}
	})

	t.Run("kill a session mid-run", func(t *testing.T) {
		alice.t = t
		sid, ids := alice.runSession("zzfoqus_e2e", inputs(20, map[string]any{"delay": 1.0}))
		eventually.True(t, time.Minute, "a job running", func() bool { return alice.states(sid)["running"] > 0 })
		var killed string
		alice.json("POST", "/session/"+sid+"/kill", nil, 200, &killed)
		recs := alice.results(sid, ids, time.Minute)
		states := map[string]int{}
		for _, r := range recs {
			states[r.State]++
			if r.State != "success" && r.State != "terminate" {
				t.Fatalf("after kill: %+v", r)
			}
		}
		if states["terminate"] == 0 {
			t.Fatalf("no job was terminated: %v", states)
		}
		t.Logf("after kill: %v", states)
	})

	t.Run("a worker killed mid-job: every job still finishes once", func(t *testing.T) {
		alice.t = t
		sid, ids := alice.runSession("zzfoqus_e2e", inputs(6, map[string]any{"delay": 2.0}))
		eventually.True(t, time.Minute, "both workers holding a job", func() bool { return alice.states(sid)["running"] >= 2 })
		victim := st.Workers()[0]
		if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		} // the stack restarts it
		recs := alice.results(sid, ids, 3*time.Minute)
		for _, r := range recs {
			if r.State != "success" {
				t.Fatalf("after a worker crash: %+v", r)
			}
		}
	})
}

var userMu sync.Mutex

func addUser(t *testing.T, st *devstack.Stack, name, pw string) {
	userMu.Lock()
	defer userMu.Unlock()
	if err := st.AddUser(context.Background(), name, pw); err != nil {
		t.Fatal(err)
	}
}
