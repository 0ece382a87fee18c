package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/functions/results"
	"github.com/foqus-cloud/stack/local/gateway"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// foqus replays requests as FOQUS desktop's client (turb_client on
// python-requests) writes them on the wire: the raw request line with the
// path as it was joined (doubled slashes kept), requests' default headers in
// its order, the Content-Type each call sets (none, empty, or
// "application/json; charset=utf-8"), Basic credentials.
type foqus struct {
	t    *testing.T
	addr string // host:port of the gateway
	base string // "/<stage>"
	auth string
}

const noType = "\x00" // no Content-Type header at all

func (c *foqus) do(method, target, contentType string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\n", method, c.base, target)
	fmt.Fprintf(&b, "Host: %s\r\nUser-Agent: python-requests/2.32.3\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: close\r\n", c.addr)
	if contentType != noType {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	if body != nil || method == http.MethodPost || method == http.MethodPut {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	fmt.Fprintf(&b, "Authorization: %s\r\n\r\n", c.auth)
	b.Write(body)
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write(b.Bytes()); err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp, out
}

// want requires status and returns the body.
func (c *foqus) want(status int, method, target, contentType string, body []byte) []byte {
	c.t.Helper()
	resp, out := c.do(method, target, contentType, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, target, resp.StatusCode, out, status)
	}
	return out
}

// generator is FOQUS's result-generator POST, polled again while the answer
// says the store was busy (results.RetryHeader), as FOQUS polls again on 0.
func (c *foqus) generator(target string) string {
	c.t.Helper()
	for range 60 {
		resp, out := c.do("POST", target, noType, nil)
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("POST %s: %d %s, want 200", target, resp.StatusCode, out)
		}
		if resp.Header.Get(results.RetryHeader) == "" {
			return string(out)
		}
		time.Sleep(time.Second)
	}
	c.t.Fatalf("POST %s: store still busy after 60 polls", target)
	return ""
}

// follow does what requests does with a 302: the same method for GET, and
// for a signed upload the PUT FOQUS makes to the Location.
func follow(t *testing.T, method, location, contentType string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, location, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, location, resp.StatusCode, out)
	}
	return out
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/foqus/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
}

var quotedID = regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$`)

// TestFOQUSDesktopWire replays every exchange of the wire page
// (shared/spec/foqus-desktop-wire.md), row by row, through the local gateway
// with the handlers and authorizer the stack deploys, and checks what FOQUS
// needs of each answer.
func TestFOQUSDesktopWire(t *testing.T) {
	st := srv.Stack(t)
	set, err := registry.New(st.Config, st.Env())
	if err != nil {
		t.Fatal(err)
	}
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.UsersTable)
	users.Cost = bcrypt.MinCost
	if _, err := users.Create(context.Background(), "alice", "alice-password-1", user.Free); err != nil {
		t.Fatal(err)
	}
	gw := &gateway.Gateway{Stage: mototest.Stage, APIID: "local", Region: st.Config.Region, Account: "123456789012",
		Handlers: set.HTTP, Authorizer: set.Authorizer, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	hs := httptest.NewServer(gw)
	t.Cleanup(hs.Close)
	c := &foqus{t: t, addr: strings.TrimPrefix(hs.URL, "http://"), base: "/" + mototest.Stage,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-password-1"))}
	store := sessionstore.New(dynamodb.NewFromConfig(st.Config), st.ResourcesTable)

	rows, passed := 0, 0
	row := func(step string, f func(t *testing.T)) {
		rows++
		ok := t.Run(step, func(t *testing.T) { c.t = t; f(t) })
		c.t = t
		if !ok {
			t.Fatalf("FOQUS desktop wire contract: row %d failed (%d of %d passed); later rows build on it", rows, passed, rows)
		}
		passed++
	}
	var sid string
	var jobIDs []string

	row("settings Test button: GET /application/", func(t *testing.T) {
		var apps []struct{ Name string }
		decode(t, c.want(200, "GET", "/application/", noType, nil), &apps)
		var names []string
		for _, a := range apps {
			names = append(names, a.Name)
		}
		for _, n := range []string{"foqus", "ACM", "AspenPlus", "FOQUS-User-Plugin"} {
			if !slices.Contains(names, n) {
				t.Errorf("application list %v lacks %q (FOQUS compares case-sensitively)", names, n)
			}
		}
		c.want(200, "GET", "/application", noType, nil) // and without the slash, same decision
	})
	row("create / update a simulation: PUT /simulation/<name>", func(t *testing.T) {
		for _, s := range []struct{ name, app string }{{"flow_sim", "foqus"}, {"acm_sim", "ACM"}, {"plugin_sim", "FOQUS-User-Plugin"}} {
			body := []byte(`{"Application":"` + s.app + `","StagedInputs":[],"Name":"` + s.name + `"}`)
			var echo map[string]any
			decode(t, c.want(200, "PUT", "/simulation/"+s.name, "application/json", body), &echo)
			if echo["Name"] != s.name {
				t.Errorf("echo %v", echo)
			}
		}
	})
	row("list simulations: GET /simulation/?SignedUrl=True", func(t *testing.T) {
		var sims []struct{ Name, Application string }
		decode(t, c.want(200, "GET", "/simulation/?SignedUrl=True", noType, nil), &sims)
		if len(sims) != 3 {
			t.Errorf("simulations %+v", sims)
		}
	})
	row("upload the flowsheet: PUT /simulation/<name>/input/configuration, empty Content-Type (NaN kept)", func(t *testing.T) {
		session := fixture(t, "session_nonfinite.foqus")
		if out := c.want(200, "PUT", "/simulation/flow_sim/input/configuration", "", session); len(out) != 0 {
			t.Errorf("answered %q, FOQUS expects ''", out)
		}
		if got := c.want(200, "GET", "/simulation/flow_sim/input/configuration", noType, nil); !bytes.Equal(got, session) {
			t.Errorf("read back %q, want %q", got, session)
		}
	})
	row("real sinter configs: top-level string Application, read back byte-equal", func(t *testing.T) {
		cfg := fixture(t, "sinter_acm.json")
		c.want(200, "PUT", "/simulation/acm_sim/input/configuration", "", cfg)
		if got := c.want(200, "GET", "/simulation/acm_sim/input/configuration", noType, nil); !bytes.Equal(got, cfg) {
			t.Errorf("read back %q", got)
		}
	})
	row("model file via signed URL: POST ...?method=putObject, 302, PUT to S3 (all 256 byte values)", func(t *testing.T) {
		model := make([]byte, 256*4)
		for i := range model {
			model[i] = byte(i)
		}
		resp, out := c.do("POST", "/simulation/acm_sim/input/BFB_model.acmf?method=putObject", "application/json", []byte{})
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") == "" {
			t.Fatalf("%d %s, want 302 with a Location", resp.StatusCode, out)
		}
		follow(t, "PUT", resp.Header.Get("Location"), "application/json", model)
		if got := c.want(200, "GET", "/simulation/acm_sim/input/BFB_model.acmf", noType, nil); !bytes.Equal(got, model) {
			t.Errorf("binary model read back as %d bytes, not identical", len(got))
		}
	})
	row("extra input with a space: POST /simulation/<name>/input/extra%20data.txt?method=putObject", func(t *testing.T) {
		for _, name := range []string{"extra%20data.txt", "run%20(2)%2Bfinal.csv", "Gr%C3%B6%C3%9Fe.txt"} {
			resp, out := c.do("POST", "/simulation/acm_sim/input/"+name+"?method=putObject", "application/json", []byte{})
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, out)
			}
			follow(t, "PUT", resp.Header.Get("Location"), "application/json", []byte("a,b\n"))
		}
	})
	row("user plugin: a sinter config naming FOQUS-User-Plugin", func(t *testing.T) {
		c.want(200, "PUT", "/simulation/plugin_sim/input/configuration", "", fixture(t, "sinter_plugin.json"))
		var sims []struct{ Name, Application string }
		decode(t, c.want(200, "GET", "/simulation/", noType, nil), &sims)
		if !slices.Contains(sims, struct{ Name, Application string }{"plugin_sim", "FOQUS-User-Plugin"}) {
			t.Errorf("simulations %+v", sims)
		}
	})
	row("read the configuration back: over 4 MB a 302 that requests follows (5 MB flowsheet)", func(t *testing.T) {
		big := []byte(`{"Type":"FOQUS_Session","pad":"` + strings.Repeat("x", 5<<20) + `","v":NaN}`)
		// A body this size cannot fit a 6 MB Lambda event once base64-encoded
		// (BinaryMediaTypes */*): the API refuses it in its own words, and the
		// file goes by signed URL, as FOQUS sends files with SignedUrl = True.
		if out := c.want(413, "PUT", "/simulation/flow_sim/input/big%20flowsheet.foqus", "", big); !bytes.Contains(out, []byte("over the limit")) {
			t.Errorf("direct 5 MB PUT answered %s", out)
		}
		resp, out := c.do("POST", "/simulation/flow_sim/input/big%20flowsheet.foqus?method=putObject", "application/json", []byte{})
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("signed URL: %d %s", resp.StatusCode, out)
		}
		follow(t, "PUT", resp.Header.Get("Location"), "application/json", big)
		resp, out = c.do("GET", "/simulation/flow_sim/input/big%20flowsheet.foqus", noType, nil)
		if resp.StatusCode == http.StatusFound {
			out = follow(t, "GET", resp.Header.Get("Location"), "", nil)
		}
		if !bytes.Equal(out, big) {
			t.Errorf("5 MB flowsheet read back as %d bytes (status %d), not identical", len(out), resp.StatusCode)
		}
	})
	row("list a simulation's inputs: GET /simulation//<name>/input?SignedUrl=True", func(t *testing.T) {
		var in []struct{ Name string }
		decode(t, c.want(200, "GET", "/simulation//acm_sim/input?SignedUrl=True", noType, nil), &in)
		var names []string
		for _, i := range in {
			names = append(names, i.Name)
		}
		if !slices.Contains(names, "alice/acm_sim/BFB_model.acmf") || !slices.Contains(names, "alice/acm_sim/extra data.txt") {
			t.Errorf("inputs %v", names)
		}
		c.want(404, "GET", "/simulation//no_such_sim/input?SignedUrl=True", noType, nil)
	})
	row("create a session: POST /session/ (no body)", func(t *testing.T) {
		out := c.want(200, "POST", "/session/", noType, nil)
		if !quotedID.Match(out) {
			t.Fatalf("answered %q, want a quoted id", out)
		}
		sid = strings.Trim(string(out), `"`)
	})
	row("append jobs: POST /session/<id>, application/json; charset=utf-8", func(t *testing.T) {
		var jobs []string
		for i := range 3 {
			jobs = append(jobs, `{"Simulation":"flow_sim","Input":{"x":`+strconv.Itoa(i)+`},"Reset":false}`)
		}
		decode(t, c.want(200, "POST", "/session/"+sid, "application/json; charset=utf-8", []byte("["+strings.Join(jobs, ",")+"]")), &jobIDs)
		if len(jobIDs) != 3 {
			t.Fatalf("ids %v", jobIDs)
		}
	})
	row("start after every append: POST /session/<id>/start", func(t *testing.T) {
		var started []string
		decode(t, c.want(200, "POST", "/session/"+sid+"/start", "application/json; charset=utf-8", []byte{}), &started)
		if !slices.Equal(started, jobIDs) {
			t.Errorf("started %v, want %v", started, jobIDs)
		}
		decode(t, c.want(200, "POST", "/session/"+sid+"/start/", "application/json; charset=utf-8", []byte{}), &started)
		if len(started) != 0 {
			t.Errorf("a repeat start answered %v, want []", started)
		}
	})
	gen := "00000000-0000-0000-0000-000000000000"
	row("result generator: POST /session/<id>/result/<zero generator>", func(t *testing.T) {
		if out := c.generator("/session/" + sid + "/result/" + gen); out != "0" {
			t.Errorf("before any job finished: %q, want 0", out)
		}
		res, err := store.FinishMany(context.Background(), "alice", sid, []sessionstore.Finish{{ID: jobIDs[0], State: job.Success, Output: []byte(`{"graphError":0}`)}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		if out := c.generator("/session/" + sid + "/result/" + gen); out != "1" {
			t.Errorf("after a job finished: %q, want 1", out)
		}
		// Unknown session: the original's 200 0, never an end of FOQUS's loop.
		if out := c.generator("/session/0d4c0b8e-3f51-4a36-9c1b-1f1e7a2f0a55/result/" + gen); out != "0" {
			t.Errorf("unknown session: %q, want 0", out)
		}
	})
	row("result page: GET /session/<id>/result/<gen>/<page>?rpp=2000", func(t *testing.T) {
		var recs []struct {
			Id, State string
			Output    map[string]any
		}
		decode(t, c.want(200, "GET", "/session/"+sid+"/result/"+gen+"/1?rpp=2000", noType, nil), &recs)
		if len(recs) != 1 || recs[0].Id != jobIDs[0] || recs[0].State != "success" || recs[0].Output["graphError"] != 0.0 {
			t.Errorf("page %+v", recs)
		}
	})
	row("Stop button: POST /session/<id>/kill, also with no job appended yet", func(t *testing.T) {
		if out := c.want(200, "POST", "/session/"+sid+"/kill", noType, nil); string(out) != `"`+sid+`"` {
			t.Errorf("kill answered %q", out)
		}
		fresh := strings.Trim(string(c.want(200, "POST", "/session/", noType, nil)), `"`)
		if out := c.want(200, "POST", "/session/"+fresh+"/kill", noType, nil); string(out) != `"`+fresh+`"` {
			t.Errorf("kill of a session without jobs answered %q", out)
		}
	})
	// A free user's session after its window: the archiver (as the archive
	// queue's notice runs it) writes its results away. FOQUS appends to a
	// session it made earlier when it resubmits a failed job
	// (solveListValTurbineReSub, foqus_lib/framework/graph/graph.py lines
	// 633-649 at b79c9e1: append [job], then start), e.g. after reconnecting
	// to an archived session whose records keep their graphError. Both get a
	// 409 that says why. turb_client reads the status in post_page
	// (turbine/commands/requests_base.py lines 197-198 at 33d60ba: `if
	// r.status_code != 200: raise HTTPStatusCode(r)`, "HTTP(409) - <our
	// body>"); FOQUS's createJobsInSession / startSession
	// (foqus_lib/framework/sim/turbineConfiguration.py lines 805-833) log it
	// and raise TurbineInterfaceEx ("Error creating Turbine jobs. Session id:
	// <id>"). graph.py calls both through retryFunction(5, 20, 2), which
	// retries any error, sleeping 20, 80, 180, 320 and 500 s: FOQUS raises
	// the error about 18 minutes later, our reason in its log, and retries
	// the 409 four times on the way (harmless: nothing is appended).
	row("append to / start an archived session: POST /session/<id>, .../start: 409 with the reason", func(t *testing.T) {
		settings, err := archive.SettingsFromEnv(st.Env())
		if err != nil {
			t.Fatal(err)
		}
		svc := &archive.Service{Store: store, Users: users, S3: awsconf.NewS3(st.Config), Bucket: st.SessionBucket, Settings: settings}
		if out, err := svc.Archive(context.Background(), "alice", sid); err != nil || out != archive.Done {
			t.Fatalf("archive of the killed session: %q, %v", out, err)
		}
		reason := "session " + sid + " is archived (results of the free plan are archived after their window); use a new session, or upgrade to premium to restore it"
		// json.dumps(jobsList) as turb_client's create_jobs sends it: Python's separators.
		appendBody := []byte(`[{"Simulation": "flow_sim", "Input": {"x": 3}, "Reset": false}]`)
		for _, r := range []struct {
			target, verb string
			body         []byte
		}{{"/session/" + sid, "append jobs", appendBody}, {"/session/" + sid + "/start", "start jobs", []byte{}}} {
			var m struct{ Message string }
			decode(t, c.want(409, "POST", r.target, "application/json; charset=utf-8", r.body), &m)
			if want := "Failed to " + r.verb + ": " + reason; m.Message != want {
				t.Errorf("POST %s: Message %q, want %q", r.target, m.Message, want)
			}
		}
		var jobs []struct{ Id, State string }
		decode(t, c.want(200, "GET", "/session/"+sid, noType, nil), &jobs)
		if len(jobs) != len(jobIDs) {
			t.Errorf("the archived session lists %d jobs after the refused append, want %d", len(jobs), len(jobIDs))
		}
	})
	row("list sessions: GET /session/", func(t *testing.T) {
		var ids []string
		decode(t, c.want(200, "GET", "/session/", noType, nil), &ids)
		if !slices.Contains(ids, sid) {
			t.Errorf("sessions %v lack %s", ids, sid)
		}
	})
	row("TurbineLite only: GET /job/<id>, POST /consumer/<id>/stop", func(t *testing.T) {
		c.want(403, "GET", "/job/"+jobIDs[0], noType, nil)
		c.want(403, "POST", "/consumer/"+jobIDs[0]+"/stop", noType, nil)
	})
	row("credentials FOQUS blanked (an http:// turbine.cfg): 401", func(t *testing.T) {
		saved := c.auth
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(":"))
		defer func() { c.auth = saved }()
		c.want(401, "GET", "/application/", noType, nil)
	})
	t.Logf("FOQUS desktop wire contract: %d rows replayed, %d passed", rows, passed)
}
