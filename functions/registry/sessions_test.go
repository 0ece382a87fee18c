package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/sessions"
)

func TestEveryFunctionBuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, fn := range api.Functions() {
		switch fn {
		case api.FnAuthorizer:
			if e.set.Authorizer == nil {
				t.Error("no authorizer")
			}
		case api.FnUpdateProcessor:
			if e.set.Updates == nil {
				t.Error("no update processor")
			}
		case api.FnArchiver, api.FnThaw:
			if e.set.Archiver == nil || e.set.Thaw == nil {
				t.Error("no archiver or thaw")
			}
		case api.FnMonitorAuthorizer:
			if e.set.MonitorAuthorizer == nil {
				t.Error("no monitor authorizer")
			}
		case api.FnMonitorConnect, api.FnMonitorDisconnect, api.FnMonitorStatus, api.FnMonitorDefault:
			if e.set.Monitor[fn] == nil {
				t.Errorf("no monitor route function %s", fn)
			}
		default:
			if e.set.HTTP[fn] == nil {
				t.Errorf("no handler for %s", fn)
			}
		}
	}
}

// Every route answers 401 JSON without a principal (the original answered 200 []).
func TestEveryRouteNeedsAPrincipal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sid := "5e4b1d52-cf0b-4a4c-9a6d-2a3f0c6b9a11"
	for _, r := range api.Routes {
		path := strings.NewReplacer("{id}", sid, "{generator}", sid, "{page}", "1", "{name}", "sim", "{path+}", "a/b").Replace(r.Path)
		failed(t, e.call(r.Method, path, "", nil, ""), http.StatusUnauthorized)
	}
}

func TestSessionRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	// R3: a bare JSON string, as the client strips its quotes.
	resp := e.ok("POST", "/session", "alice", "", nil)
	if resp.Headers["Content-Type"] != "application/text" || !strings.HasPrefix(resp.Body, `"`) {
		t.Fatalf("create: %v %q", resp.Headers, resp.Body)
	}
	sid := strings.Trim(resp.Body, `"`)
	if objectkey.ID(sid) != nil {
		t.Fatalf("create: %q is not a uuid", sid)
	}
	var list []string
	if e.ok("GET", "/session", "alice", "", &list); len(list) != 0 || e.ok("GET", "/session", "alice", "", nil).Body != "[]" {
		t.Fatalf("list before append: %v", list)
	}
	failed(t, e.call("GET", "/session/"+sid, "alice", nil, ""), http.StatusNotFound)

	// R5: ids in input order; the body from the fixture, no JSON content type needed.
	var ids []string
	e.ok("POST", "/session/"+sid, "alice", jobsBody(0, 3, ""), &ids)
	var more []string
	e.ok("POST", "/session/"+sid, "alice", jobsBody(3, 2, "fake-job"), &more)
	ids = append(ids, more...)
	jobs, err := e.store.Jobs(ctx, "alice", sid)
	if err != nil || len(jobs) != 5 {
		t.Fatalf("stored %d jobs, %v", len(jobs), err)
	}
	for i, j := range jobs {
		var in struct{ Node struct{ X int } }
		_ = json.Unmarshal(j.Input, &in)
		if j.ID != ids[i] || in.Node.X != i || j.State != job.Create {
			t.Fatalf("job %d: %+v, want id %s input x=%d", i, j, ids[i], i)
		}
	}
	if jobs[0].Application != job.AppFOQUS || jobs[4].Application != job.AppFakeJob {
		t.Fatalf("applications %s %s", jobs[0].Application, jobs[4].Application)
	}
	if e.ok("GET", "/session", "alice", "", &list); !slices.Equal(list, []string{sid}) {
		t.Fatalf("list: %v", list)
	}

	// Append refusals.
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/session/" + sid, `{"Simulation":"s"}`, http.StatusBadRequest},
		{"/session/" + sid, `[{"Simulation":"s","Input":{}},{"Simulation":"../x","Input":{}}]`, http.StatusBadRequest},
		{"/session/not-a-uuid", `[]`, http.StatusBadRequest},
		{"/session/" + sid, "[" + strings.Repeat(" ", sessions.MaxAppendBody) + "]", http.StatusRequestEntityTooLarge},
	} {
		failed(t, e.call("POST", c.path, "alice", nil, c.body), c.status)
	}

	// R4: metadata in append order.
	var md []jobview.Metadata
	e.ok("GET", "/session/"+sid, "alice", "", &md)
	if len(md) != 5 || md[0].ID != ids[0] || md[0].State != job.Create || md[0].SessionID != sid || md[0].Create == "" || string(md[0].Input) != `{"graph":{},"node":{"x":0}}` {
		t.Fatalf("get: %+v", md)
	}

	// R6: start answers the submitted ids once the messages are on the queue.
	var started []string
	e.ok("POST", "/session/"+sid+"/start", "alice", "", &started)
	if !slices.Equal(started, ids) {
		t.Fatalf("start = %v, want %v", started, ids)
	}
	if e.ok("POST", "/session/"+sid+"/start", "alice", "", nil).Body != "[]" {
		t.Fatal("second start submitted again")
	}
	msgs := e.drain(e.st.JobQueueURL, 10, 2)
	if len(msgs) != 5 {
		t.Fatalf("%d messages on the job queue, want 5", len(msgs))
	}
	for _, m := range msgs {
		dec, err := event.Decode(*m.Body, event.SQSAttributes(m.MessageAttributes))
		if err != nil {
			t.Fatal(err)
		}
		s := dec.(event.Submit)
		if s.User != "alice" || s.Session != sid || !slices.Contains(ids, s.Job) || s.Simulation != "zzfoqus_flow" {
			t.Fatalf("message %+v", s)
		}
		if *m.MessageAttributes[resource.AttrUser].StringValue != "alice" {
			t.Fatalf("attributes %v", m.MessageAttributes)
		}
	}
	pending := 0
	for _, err := range e.store.Pending(ctx, "alice", sid) {
		if err != nil {
			t.Fatal(err)
		}
		pending++
	}
	if pending != 0 {
		t.Fatalf("%d jobs still pending after start", pending)
	}
	e.ok("GET", "/session/"+sid, "alice", "", &md)
	if md[0].State != job.Submit || md[0].Submit == "" {
		t.Fatalf("after start: %+v", md[0])
	}

	// Unknown or malformed sessions.
	other := "0d4c0b8e-3f51-4a36-9c1b-1f1e7a2f0a55"
	for _, p := range []string{"/start", "/kill", "/stop"} {
		if p == "/kill" { // nothing to kill: 200, as the original answered FOQUS's Stop button
			if r := e.ok("POST", "/session/"+other+p, "alice", "", nil); r.Body != `"`+other+`"` {
				t.Fatalf("kill of a session without jobs: %q", r.Body)
			}
		} else {
			failed(t, e.call("POST", "/session/"+other+p, "alice", nil, ""), http.StatusNotFound)
		}
		failed(t, e.call("POST", "/session/..%2F"+p, "alice", nil, ""), http.StatusBadRequest)
	}
	failed(t, e.call("GET", "/session/"+strings.ToUpper(sid), "alice", nil, ""), http.StatusBadRequest)

	// R7: kill ends every job before answering, as terminate with a message.
	running := jobs[0].Key()
	if _, err := e.store.Claim(ctx, running, "7f1f9a8e-2a53-4c0e-8f0a-0f6c1d2b3a4c", time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := e.ok("POST", "/session/"+sid+"/kill", "alice", "", nil); r.Body != `"`+sid+`"` {
		t.Fatalf("kill answered %q", r.Body)
	}
	e.ok("GET", "/session/"+sid, "alice", "", &md)
	for _, m := range md {
		if m.State != job.Terminate || m.Message != sessions.KillMessage || m.Finished == "" {
			t.Fatalf("after kill: %+v", m)
		}
	}
	if _, err := e.store.ExtendLease(ctx, running, "7f1f9a8e-2a53-4c0e-8f0a-0f6c1d2b3a4c", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("the running job's worker kept its lease after kill")
	}
	if s, _ := e.store.GetSession(ctx, "alice", sid); s.State != sessionstore.SessionKilled || s.Finished != 5 {
		t.Fatalf("session after kill: %+v", s)
	}
}

// Stop pauses queued jobs; start resumes them and publishes them again.
func TestStopAndResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 4)
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
	e.drain(e.st.JobQueueURL, 4, 2)
	var more []string
	e.ok("POST", "/session/"+sid, "alice", jobsBody(4, 1, "fake-job"), &more)
	claimed := job.Key{User: "alice", Session: sid, ID: ids[0]}
	if _, err := e.store.Claim(ctx, claimed, "7f1f9a8e-2a53-4c0e-8f0a-0f6c1d2b3a4c", time.Minute); err != nil {
		t.Fatal(err)
	}

	if r := e.ok("POST", "/session/"+sid+"/stop", "alice", "", nil); r.Body != `"`+sid+`"` {
		t.Fatalf("stop answered %q", r.Body)
	}
	jobs, _ := e.store.Jobs(ctx, "alice", sid)
	for _, j := range jobs {
		want := job.Stop
		if j.ID == ids[0] {
			want = job.Setup // a worker holds it: stop leaves it be
		}
		if j.State != want {
			t.Fatalf("job %s is %s after stop, want %s", j.ID, j.State, want)
		}
	}
	if s, _ := e.store.GetSession(ctx, "alice", sid); s.State != sessionstore.SessionStopped {
		t.Fatalf("session %s after stop", s.State)
	}

	var resumed []string
	e.ok("POST", "/session/"+sid+"/start", "alice", "", &resumed)
	if want := append(slices.Clone(ids[1:]), more...); !slices.Equal(resumed, want) {
		t.Fatalf("resume submitted %v, want %v", resumed, want)
	}
	if got := e.drain(e.st.JobQueueURL, 10, 2); len(got) != 4 {
		t.Fatalf("%d messages after resume, want 4", len(got))
	}
	if s, _ := e.store.GetSession(ctx, "alice", sid); s.State != sessionstore.SessionActive {
		t.Fatalf("session %s after resume", s.State)
	}
}

// Stop waits for a start in progress, then answers 409 rather than race it.
func TestStopDuringStartConflicts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits sessions.StopWait")
	}
	e := newEnv(t)
	sid, _ := e.newSession("alice", 1)
	if err := e.store.AcquireStart(context.Background(), "alice", sid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if msg := failed(t, e.call("POST", "/session/"+sid+"/stop", "alice", nil, ""), http.StatusConflict); !strings.Contains(msg, "being started") {
		t.Fatalf("message %q", msg)
	}
	if e.ok("POST", "/session/"+sid+"/start", "alice", "", nil).Body != "[]" {
		t.Fatal("start published while another held the lease")
	}
}

// A job stored without today's validation is finished as invalid with the
// reason; the others are published.
func TestStartFinishesUnsubmittableJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 2)
	bad, err := e.store.Append(ctx, "alice", sid, []sessionstore.NewJob{{Application: "foqus", Simulation: "no spaces allowed", Input: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	var started []string
	e.ok("POST", "/session/"+sid+"/start", "alice", "", &started)
	if !slices.Equal(started, ids) {
		t.Fatalf("started %v, want %v", started, ids)
	}
	j, err := e.store.GetJob(ctx, bad[0].Key())
	if err != nil || j.State != job.Invalid || !strings.Contains(j.Message, "simulation") {
		t.Fatalf("unsubmittable job: %+v %v", j, err)
	}
	e.drain(e.st.JobQueueURL, 2, 2)
}
