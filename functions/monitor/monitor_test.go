package monitor_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/connections"
	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/local/gateway"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

const password = "correct horse battery"

// env is a fresh stack in moto, the monitor's handlers and the update
// processor built on it, and the local gateway serving the WebSocket API and
// its Management API.
type env struct {
	t       *testing.T
	url     string
	ws      *gateway.WebSocket
	store   *sessionstore.Store
	conns   *connections.Store
	process registry.UpdatesFunc
	cfg     aws.Config
	vars    map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := srv.Stack(t)
	ws := &gateway.WebSocket{Stage: mototest.Stage, APIID: "local", Region: mototest.Region, Account: "000000000000", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	hs := httptest.NewServer(gateway.WithWebSocket(http.NotFoundHandler(), ws))
	t.Cleanup(hs.Close)
	st.MonitorEndpoint = hs.URL + "/" + mototest.Stage
	vars := st.Env()
	vars[resource.EnvFleetSource] = resource.FleetFromHeartbeats
	names := []string{api.FnMonitorAuthorizer, api.FnUpdateProcessor}
	for _, r := range api.MonitorRoutes {
		names = append(names, r.Function)
	}
	set, err := registry.New(st.Config, vars, names...)
	if err != nil {
		t.Fatal(err)
	}
	ws.Authorizer, ws.Routes = set.MonitorAuthorizer, map[string]monitor.RouteFunc{}
	for _, r := range api.MonitorRoutes {
		ws.Routes[r.Key] = set.Monitor[r.Function]
	}
	db := dynamodb.NewFromConfig(st.Config)
	users := user.NewStore(db, st.UsersTable)
	users.Cost = bcrypt.MinCost
	for _, u := range []string{"alice", "bob"} {
		if _, err := users.Create(context.Background(), u, password, user.Free); err != nil {
			t.Fatal(err)
		}
	}
	return &env{
		t: t, url: strings.Replace(hs.URL, "http://", "ws://", 1) + "/" + mototest.Stage, ws: ws,
		store: sessionstore.New(db, st.ResourcesTable), conns: connections.New(db, st.ConnectionsTable), process: set.Updates,
		cfg: st.Config, vars: vars,
	}
}

func basic(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }

// dial connects as FOQUS does: the Authorization header on the upgrade.
func (e *env) dial(auth string) (*websocket.Conn, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	c, resp, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			e.t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return c, http.StatusSwitchingProtocols
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message as raw JSON keys and decoded, or fails.
func read(t *testing.T, c *websocket.Conn, within time.Duration) (map[string]json.RawMessage, monitor.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("no message within %s: %v", within, err)
	}
	var raw map[string]json.RawMessage
	var m monitor.Message
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("message is not a JSON object: %s", data)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return raw, m
}

// status returns a function that runs one batch of job.status events to
// state s through the update processor, as the SQS event source delivers it.
func (e *env) status(keys ...job.Key) func(job.State) {
	return func(s job.State) {
		var ev events.SQSEvent
		for _, k := range keys {
			body, attrs, err := event.Encode(event.Status{User: k.User, Session: k.Session, Job: k.ID, State: s, Consumer: "c1", At: time.Now()})
			if err != nil {
				e.t.Error(err)
				return
			}
			ma := map[string]events.SQSMessageAttribute{}
			for n, v := range attrs {
				ma[n] = events.SQSMessageAttribute{StringValue: &v, DataType: "String"}
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: k.ID + string(s), Body: body, MessageAttributes: ma})
		}
		resp, err := e.process(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			e.t.Errorf("processor: %v %v", err, resp.BatchItemFailures)
		}
	}
}

func (e *env) session(u string, n int) []job.Key {
	e.t.Helper()
	sid := strings.Repeat("0", 8) + "-0000-4000-8000-" + map[string]string{"alice": "00000000000a", "bob": "00000000000b"}[u]
	reqs := make([]sessionstore.NewJob, n)
	for i := range reqs {
		reqs[i] = sessionstore.NewJob{Simulation: "sim", Input: []byte(`{"x":1}`)}
	}
	jobs, err := e.store.Append(context.Background(), u, sid, reqs)
	if err != nil {
		e.t.Fatal(err)
	}
	keys := make([]job.Key, n)
	for i, j := range jobs {
		keys[i] = job.Key{User: u, Session: sid, ID: j.ID}
	}
	return keys
}

func TestConnectNeedsValidCredentials(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, auth string
		want       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"malformed", "Bearer x", http.StatusUnauthorized},
		{"wrong password", basic("alice", "wrong password!"), http.StatusForbidden},
		{"unknown user", basic("mallory", password), http.StatusForbidden},
		{"valid", basic("alice", password), http.StatusSwitchingProtocols},
	} {
		if _, got := e.dial(c.auth); got != c.want {
			t.Errorf("%s credentials: %d, want %d", c.name, got, c.want)
		}
	}
	n := 0
	for _, err := range e.conns.OfUser(context.Background(), "alice") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("alice has %d recorded connections, want 1 (the refused ones recorded nothing)", n)
	}
}

func TestStatusHasFOQUSShapes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.Heartbeat(ctx, sessionstore.Consumer{ID: "00000000-0000-4000-8000-0000000000c1", Instance: "worker-1"}); err != nil {
		t.Fatal(err)
	}
	keys := e.session("alice", 3)
	c, _ := e.dial(basic("alice", password))
	send(t, c, `{"action":"status"}`)
	raw, m := read(t, c, 10*time.Second)
	// FOQUS indexes these without defaults (helpBrowser.py showStatus).
	var shape struct {
		SQS struct {
			Attributes map[string]string
		} `json:"sqs"`
		Autoscale struct {
			AutoScalingGroups []map[string]json.RawMessage
		} `json:"autoscale"`
		EC2 struct {
			Reservations []struct{ Instances []map[string]json.RawMessage }
		} `json:"ec2"`
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatalf("status %s: %v", b, err)
	}
	if _, ok := shape.SQS.Attributes["ApproximateNumberOfMessages"]; !ok {
		t.Errorf("sqs.Attributes lacks ApproximateNumberOfMessages: %v", shape.SQS.Attributes)
	}
	if len(shape.Autoscale.AutoScalingGroups) != 1 {
		t.Fatalf("autoscale: %s", raw["autoscale"])
	}
	for _, k := range []string{"AutoScalingGroupName", "MinSize", "MaxSize", "DesiredCapacity"} {
		if _, ok := shape.Autoscale.AutoScalingGroups[0][k]; !ok {
			t.Errorf("autoscale group lacks %s", k)
		}
	}
	if len(shape.EC2.Reservations) != 1 || len(shape.EC2.Reservations[0].Instances) != 1 {
		t.Fatalf("ec2: %s", raw["ec2"])
	}
	for _, k := range []string{"Tags", "InstanceType", "Platform", "State"} {
		if _, ok := shape.EC2.Reservations[0].Instances[0][k]; !ok {
			t.Errorf("instance lacks %s", k)
		}
	}
	if tags := m.EC2.Reservations[0].Instances[0].Tags; len(tags) != 1 || tags[0] != (monitor.Tag{Key: "Name", Value: "worker-1"}) {
		t.Errorf("instance tags %v, want Name=worker-1", tags)
	}
	if len(m.Sessions) != 1 || m.Sessions[0].ID != keys[0].Session || m.Sessions[0].Jobs != 3 || m.Sessions[0].Counts["create"] != 3 {
		t.Errorf("sessions %+v, want alice's one session with 3 jobs in create", m.Sessions)
	}

	send(t, c, `{"action":"sendmessage","data":"hi"}`)
	if _, m := read(t, c, 5*time.Second); !strings.Contains(m.Error, `unknown action "sendmessage"`) {
		t.Errorf("unknown action answered %+v", m)
	}
	send(t, c, `not json`)
	if _, m := read(t, c, 5*time.Second); !strings.Contains(m.Error, `{"action":"status"}`) {
		t.Errorf("a non-JSON message answered %+v", m)
	}
}

// Each user receives only their own sessions' counts, on every message, and
// the counts arrive until every job is final.
func TestPushesReachOnlyTheOwner(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.session("alice", 2), e.session("bob", 2)
	ca, _ := e.dial(basic("alice", password))
	cb, _ := e.dial(basic("bob", password))
	own := map[*websocket.Conn]string{ca: alice[0].Session, cb: bob[0].Session}
	done := map[*websocket.Conn]chan monitor.SessionCounts{ca: make(chan monitor.SessionCounts, 100), cb: make(chan monitor.SessionCounts, 100)}
	for c, sid := range own {
		go func() {
			defer close(done[c])
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, data, err := c.Read(ctx)
				cancel()
				if err != nil {
					return
				}
				var m monitor.Message
				if err := json.Unmarshal(data, &m); err != nil {
					t.Errorf("not JSON: %s", data)
					return
				}
				for _, s := range m.Sessions {
					if s.ID != sid {
						t.Errorf("a connection of the owner of %s received session %s", sid, s.ID)
					}
					done[c] <- s
					if s.Done() {
						return
					}
				}
			}
		}()
	}
	for _, s := range []job.State{job.Submit, job.Setup, job.Running, job.Success} {
		for _, k := range append(append([]job.Key{}, alice...), bob...) {
			e.status(k)(s)
		}
	}
	for c, ch := range done {
		var last monitor.SessionCounts
		n := 0
		for s := range ch {
			last, n = s, n+1
		}
		if n == 0 || !last.Done() || last.Counts["success"] != 2 {
			t.Errorf("%s: %d messages, last %+v: want counts until both jobs succeeded", own[c], n, last)
		}
	}
}

// A batch's events of one session make one message; later batches of it
// wait for the gap instead of being dropped, so the last counts arrive.
func TestPushesAreCoalescedPerSecond(t *testing.T) {
	e := newEnv(t)
	keys := e.session("alice", 6)
	c, _ := e.dial(basic("alice", password))
	go func() {
		e.status(keys...)(job.Submit) // one batch of six events
		for _, k := range keys {
			e.status(k)(job.Setup) // six batches
		}
	}()
	var stamps []time.Time
	var counts []monitor.SessionCounts
	for len(counts) == 0 || counts[len(counts)-1].Counts["setup"] != 6 {
		_, m := read(t, c, 10*time.Second)
		if len(m.Sessions) == 1 {
			stamps, counts = append(stamps, time.Now()), append(counts, m.Sessions[0])
		}
	}
	if counts[0].Counts["submit"] != 6 {
		t.Errorf("first message %+v: want the batch's six events in one message", counts[0].Counts)
	}
	for i := 1; i < len(stamps); i++ {
		if gap := stamps[i].Sub(stamps[i-1]); gap < 900*time.Millisecond {
			t.Errorf("messages %d and %d of one session %s apart, want at least %s", i-1, i, gap, monitor.DefaultGap)
		}
	}
}

func TestDisconnectAndGoneConnections(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keys := e.session("alice", 1)
	c, _ := e.dial(basic("alice", password))
	_ = c.Close(websocket.StatusNormalClosure, "bye")
	eventually.True(t, 5*time.Second, "a closed connection forgotten after $disconnect", func() bool { return e.count("alice") == 0 })
	// A connection API Gateway no longer has (its $disconnect never ran).
	if err := e.conns.Put(ctx, "alice", "gone-connection"); err != nil {
		t.Fatal(err)
	}
	e.status(keys[0])(job.Submit) // fails the test if the processor reports a failure
	if n := e.count("alice"); n != 0 {
		t.Fatalf("%d connections recorded after a push answered 410, want the gone one forgotten", n)
	}
	j, err := e.store.GetJob(ctx, keys[0])
	if err != nil || j.State != job.Submit {
		t.Fatalf("job %v %v: the event was not recorded", j.State, err)
	}
}

func (e *env) count(u string) int {
	n := 0
	for _, err := range e.conns.OfUser(context.Background(), u) {
		if err != nil && !errors.Is(err, context.Canceled) {
			e.t.Fatal(err)
		}
		n++
	}
	return n
}
