package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/job"
)

const (
	sid = "6f1c2a8e-3b4d-4c5e-8f90-112233445566"
	jid = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
)

func samples() []Message {
	return []Message{
		Submit{User: "alice", Session: sid, Job: jid, Application: "fake-job", Simulation: "zzfoqus_demo", Input: json.RawMessage(`{"x":{"a":1}}`)},
		Status{User: "alice", Session: sid, Job: jid, State: job.Success, Consumer: jid, OutputKey: "alice/session/" + sid + "/job/" + jid + "/output.json", Output: json.RawMessage(`{"graphError":0}`), At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		Control{User: "alice", Session: sid, Action: ActionKill},
		Heartbeat{Consumer: jid, Instance: "i-0123", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range samples() {
		body, attrs, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		if attrs["event"] != m.Event() || attrs["version"] != "1" {
			t.Fatalf("%T attributes %v", m, attrs)
		}
		got, err := Decode(body, attrs)
		if err != nil {
			t.Fatalf("decode %T: %v", m, err)
		}
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Fatalf("round trip of %T:\n got %s\nwant %s", m, b, a)
		}
	}
}

func TestSubmitAttributesForFilters(t *testing.T) {
	_, attrs, err := Encode(samples()[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"event": "job.submit", "username": "alice", "session": sid, "job": jid, "application": "fake-job", "version": "1"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	good, attrs, _ := Encode(samples()[0])
	cases := []struct {
		name  string
		body  string
		attrs map[string]string
		kind  DecodeKind
	}{
		{"not json", "{", nil, Malformed},
		{"array", `[{"v":1}]`, nil, Malformed},
		{"trailing", good + "{}", nil, Malformed},
		{"old version", strings.Replace(good, `"v":1`, `"v":0`, 1), nil, WrongVersion},
		{"future version", strings.Replace(good, `"v":1`, `"v":2`, 1), nil, WrongVersion},
		{"unknown type", strings.Replace(good, `"job.submit"`, `"job.nope"`, 1), nil, UnknownType},
		{"msg not object", `{"v":1,"type":"job.submit","msg":[1]}`, nil, Malformed},
		{"bad session", strings.Replace(good, sid, "../x", 1), nil, Invalid},
		{"path in simulation", strings.Replace(good, "zzfoqus_demo", "../../etc", 1), nil, Invalid},
		{"input not object", strings.Replace(good, `{"x":{"a":1}}`, `[1]`, 1), nil, Invalid},
		{"wrong field type", `{"v":1,"type":"job.submit","msg":{"user":5}}`, nil, Invalid},
		{"attribute disagrees", good, map[string]string{"event": "job.status"}, Invalid},
		{"attribute missing", good, map[string]string{"username": "alice"}, Invalid},
	}
	for _, c := range cases {
		_, err := Decode(c.body, c.attrs)
		var de *DecodeError
		if !errors.As(err, &de) || de.Kind != c.kind {
			t.Errorf("%s: %v, want decode error of kind %d", c.name, err, c.kind)
		}
	}
	if _, err := Decode(good, attrs); err != nil {
		t.Fatalf("good message refused: %v", err)
	}
}

func TestStatusStatesAndOutputKey(t *testing.T) {
	st := samples()[1].(Status)
	st.State = job.Create
	if _, _, err := Encode(st); !IsDecodeError(err) {
		t.Fatalf("a worker reporting create was accepted: %v", err)
	}
	st = samples()[1].(Status)
	st.OutputKey = "bob/session/" + sid + "/job/" + jid + "/output.json"
	if _, _, err := Encode(st); !IsDecodeError(err) {
		t.Fatalf("an output key in another user's prefix was accepted: %v", err)
	}
}

func TestEncodeRefusesOversizedBody(t *testing.T) {
	st := samples()[1].(Status)
	st.Output = json.RawMessage(`"` + strings.Repeat("x", MaxBody) + `"`)
	if _, _, err := Encode(st); !IsDecodeError(err) {
		t.Fatalf("a %d-byte body was accepted: %v", MaxBody, err)
	}
}

// FuzzDecode: whatever arrives, Decode returns a message or a *DecodeError,
// never panics, and what it accepts encodes back to an equal message.
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		body, _, _ := Encode(m)
		f.Add(body, m.Event())
	}
	f.Add(`{"v":1,"type":"job.status","msg":{"state":"running"}}`, "job.running")
	f.Add(`{"v":1,"type":"session.control","msg":null}`, "")
	f.Add(`[]`, "")
	f.Add(`{"v":1e400}`, "")
	f.Fuzz(func(t *testing.T, body, ev string) {
		var attrs map[string]string
		if ev != "" {
			attrs = map[string]string{"event": ev}
		}
		m, err := Decode(body, attrs)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, a2, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		if _, err := Decode(again, a2); err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
	})
}
