package devstack_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/foqus-cloud/stack/functions/monitor"
)

// notificationURL is [Notification] url of the turbine.cfg the stack writes.
func notificationURL(t *testing.T, cfg string) string {
	t.Helper()
	_, sec, ok := strings.Cut(cfg, "[Notification]\n")
	if !ok {
		t.Fatalf("turbine.cfg has no [Notification] section:\n%s", cfg)
	}
	line, _, _ := strings.Cut(sec, "\n")
	u, ok := strings.CutPrefix(line, "url = ")
	if !ok || !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
		t.Fatalf("[Notification] %q is not a WebSocket URL", line)
	}
	return u
}

// monitorDial connects as FOQUS's WebSocketApp does: the Basic header on the upgrade.
func monitorDial(t *testing.T, url, user, pass string) (*websocket.Conn, int) {
	t.Helper()
	h := http.Header{}
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, http.StatusSwitchingProtocols
}

// watch reads messages until the session sid has every job final, failing on
// any session that is not the reader's own; it returns the last counts.
func watch(t *testing.T, c *websocket.Conn, own map[string]bool, sid string, timeout time.Duration) monitor.SessionCounts {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, data, err := c.Read(ctx)
		cancel()
		if err != nil {
			t.Errorf("no final counts of %s within %s: %v", sid, timeout, err)
			return monitor.SessionCounts{}
		}
		var m monitor.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("not a JSON object: %s", data)
			return monitor.SessionCounts{}
		}
		for _, s := range m.Sessions {
			if !own[s.ID] {
				t.Errorf("received session %s of another user", s.ID)
			}
			if s.ID == sid && s.Done() {
				return s
			}
		}
	}
}

func TestCloudMonitor(t *testing.T) {
	st := startStack(t)
	url := notificationURL(t, st.TurbineConfig())
	for _, c := range []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"a wrong password", st.User, "not-the-password", http.StatusForbidden},
	} {
		if _, got := monitorDial(t, url, c.user, c.pass); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	addUser(t, st, "bob", "bob-password-12")
	ca, _ := monitorDial(t, url, st.User, st.Password)
	cb, _ := monitorDial(t, url, "bob", "bob-password-12")
	if ca == nil || cb == nil {
		t.Fatal("valid credentials refused")
	}

	// FOQUS sends this on open and renders sqs, autoscale and ec2.
	if err := ca.Write(context.Background(), websocket.MessageText, []byte(`{"action":"status"}`)); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	for raw["sqs"] == nil { // the answer (or a fleet broadcast before it: the same shapes)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := ca.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("no status answer: %v", err)
		}
		raw = nil
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
	}
	var shape struct {
		SQS struct {
			Attributes map[string]string
		} `json:"sqs"`
		Autoscale struct {
			AutoScalingGroups []struct {
				AutoScalingGroupName              string
				MinSize, MaxSize, DesiredCapacity *int32
			}
		} `json:"autoscale"`
		EC2 struct {
			Reservations []struct {
				Instances []struct {
					Tags                   []struct{ Key, Value string }
					InstanceType, Platform string
					State                  struct{ Name string }
				}
			}
		} `json:"ec2"`
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatalf("status %s: %v", b, err)
	}
	if shape.SQS.Attributes["QueueArn"] == "" || len(shape.Autoscale.AutoScalingGroups) != 1 ||
		shape.Autoscale.AutoScalingGroups[0].AutoScalingGroupName == "" || shape.Autoscale.AutoScalingGroups[0].MinSize == nil ||
		shape.Autoscale.AutoScalingGroups[0].MaxSize == nil || shape.Autoscale.AutoScalingGroups[0].DesiredCapacity == nil || len(shape.EC2.Reservations) != 1 {
		t.Fatalf("status lacks FOQUS's keys: %s", b)
	}
	t.Logf("status: %d queue attributes, group %s, %d worker instances", len(shape.SQS.Attributes),
		shape.Autoscale.AutoScalingGroups[0].AutoScalingGroupName, len(shape.EC2.Reservations[0].Instances))

	alice := &client{t: t, base: st.BaseURL, user: st.User, pass: st.Password}
	bob := &client{t: t, base: st.BaseURL, user: "bob", pass: "bob-password-12"}
	alice.uploadSimulation("zzfoqus_monitor")
	bob.uploadSimulation("zzfoqus_monitor")
	sa, _ := alice.runSession("zzfoqus_monitor", inputs(10, nil))
	sb, _ := bob.runSession("zzfoqus_monitor", inputs(10, nil))
	done := make(chan monitor.SessionCounts, 2)
	go func() { done <- watch(t, ca, map[string]bool{sa: true}, sa, 2*time.Minute) }()
	go func() { done <- watch(t, cb, map[string]bool{sb: true}, sb, 2*time.Minute) }()
	for range 2 {
		if c := <-done; c.Jobs != 10 || c.Counts["success"] != 10 {
			t.Errorf("final counts %+v, want 10 jobs in success", c)
		}
	}

	// A client that goes away is removed: $disconnect ran, no push reaches it.
	_ = cb.Close(websocket.StatusNormalClosure, "bye")
	sb2, ids := bob.runSession("zzfoqus_monitor", inputs(2, nil))
	bob.results(sb2, ids, time.Minute) // the processor recorded every job despite the closed connection
}
