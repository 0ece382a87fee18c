package monitor_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/registry"
)

// TestPushLatencyAndRequests measures, locally (moto and the local gateway),
// the time from the update processor receiving an event to the owner's
// client reading the message, and the AWS requests the processor makes per
// pushed message (the event's own recording excluded).
func TestPushLatencyAndRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	e := newEnv(t)
	const n = 30
	var keys []job.Key
	for range n {
		keys = append(keys, e.session("alice", 1)...)
	}
	c, _ := e.dial(basic("alice", password))
	// A processor built apart, with its requests counted.
	counter := &awsconf.Counter{}
	cfg := e.cfg.Copy()
	counter.Attach(&cfg)
	set, err := registry.New(cfg, e.vars, "foqus-update-processor")
	if err != nil {
		t.Fatal(err)
	}
	e.process = set.Updates
	e.status(keys[0])(job.Submit) // warm: the first fleet read and broadcast
	for {                         // its fleet broadcast, then its counts
		if _, m := read(t, c, 5*time.Second); len(m.Sessions) == 1 && m.Sessions[0].ID == keys[0].Session {
			break
		}
	}
	base := counter.Total()
	var lat []time.Duration
	for _, k := range keys[1:] {
		began := time.Now()
		e.status(k)(job.Submit)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, data, err := c.Read(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(began))
		var m monitor.Message
		if json.Unmarshal(data, &m) != nil || len(m.Sessions) != 1 || m.Sessions[0].ID != k.Session {
			t.Fatalf("message %s, want session %s", data, k.Session)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	msgs := len(lat)
	total, record := counter.Total()-base, 0
	for _, op := range counter.Snapshot() {
		if op.Op == "DynamoDB.UpdateItem" { // recording a submit is one conditional UpdateItem
			record = op.Count - 1
		}
	}
	push := float64(total-record) / float64(msgs)
	t.Logf("event to message, %d pushes: p50 %s, p99 %s", msgs, p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond))
	t.Logf("AWS requests: %d for %d events, %d of them recording; %.2f per pushed message (one connection): %v", total, msgs, record, push, counter.Snapshot())
	if push < 2 {
		t.Errorf("%.2f requests per message: a push reads the connections and the counts and posts, at least 3", push)
	}
}
